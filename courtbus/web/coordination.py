"""The coordination centres' queries over the read model (执行指挥中心), each scoped to a region.

A centre's principal names its region: ``coordinator.spc`` (最高人民法院) sees every court,
``coordinator.<province code>`` (``coordinator.32``, 江苏) the courts whose id starts with it,
``coordinator.group.<name>`` a directory group's members. Every list is paged (``limit`` 1–1,000
from ``offset``, with the ``total``) and filtered in SQL; asking for a court outside the region
is ``403 NOT_IN_REGION``, and a record outside it is ``404`` as if it did not exist. ID numbers
are masked in every answer.

Routes (``/v1/coordination/…``):

* ``delegations?state=&court=&province=&overdue=&older_than_days=`` and ``delegations/{id}``
  (with its history): a delegation is in a region if its requesting or executing court is;
  ``overdue``: the start deadline passed unstarted, or the report deadline passed unended;
* ``listings?status=&court=&province=&older_than_days=`` and ``listings/{entry_id}``: the
  dishonest-debtor list by listing court;
* ``restrictions?status=&kind=&court=&province=&awaiting_ack=&older_than_days=`` and ``restrictions/{id}``: exit
  and consumption bans by issuing court, each with its agencies' answers and interceptions;
  ``awaiting_ack``: an agency's answer still PENDING or OVERDUE;
* ``distributions?state=&court=&province=&older_than_days=`` (``state`` repeatable) and
  ``distributions/{id}``: by presiding or claimant's court;
* ``dead-letters?code=`` (refused from the region's courts' outboxes; never the bytes) and
  ``watchdog-alerts?court=``.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query

from courtbus.catalogue.directory import Directory
from courtbus.errors import CourtbusError
from courtbus.store.queries import ReadModelQueries
from courtbus.store.region import Region
from courtbus.web.common import ApiError, bounded, page, plain

Province = Annotated[
    str | None, Query(pattern=r"^\d{2}$", description="a 2-digit province code, e.g. 32")
]
Court = Annotated[str | None, Query(pattern=r"^\d{2,12}$", description="a court id")]
Days = Annotated[int | None, Query(ge=0, le=36500, description="older than this many days")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


def region_scope(principal: str, directory: Directory) -> Region | None:
    """The region a coordinator's principal names (None: not a coordinator)."""
    kind, _, rest = principal.partition(".")
    if kind != "coordinator" or not rest:
        return None
    if rest == "spc":
        return Region()
    if rest.startswith("group."):
        return Region(courts=tuple(directory.groups.get(rest.removeprefix("group."), ())))
    if rest.isdigit() and len(rest) == 2:
        return Region(provinces=(rest,))
    return None


def region_of(principal: str, directory: Directory) -> Callable[[str], bool] | None:
    """Which courts a coordinator sees, as a test of a court id (None: not a coordinator)."""
    region = region_scope(principal, directory)
    return None if region is None else region.contains


def narrowed(region: Region, court: str | None, province: str | None) -> Region:
    """``region`` cut down to ``province`` (and checked against ``court``).

    Raises:
        ApiError: 403 ``NOT_IN_REGION`` for a court or province outside the region.
    """
    if court is not None and not region.contains(court):
        raise ApiError(403, "NOT_IN_REGION", f"court {court} is not in your region")
    if province is None:
        return region
    if region.everywhere:
        return Region(provinces=(province,))
    provinces = tuple(
        p if p.startswith(province) else province
        for p in region.provinces or ()
        if p.startswith(province) or province.startswith(p)
    )
    courts = tuple(c for c in region.courts or () if c.startswith(province))
    if not provinces and not courts:
        raise ApiError(403, "NOT_IN_REGION", f"province {province} is not in your region")
    return Region(provinces=provinces or None, courts=courts or None)


def mount_coordination(
    app: FastAPI,
    principal: Callable[..., str],
    directory: Directory,
    queries: ReadModelQueries | None,
) -> None:
    """Add the coordinators' routes to ``app``; ``principal``: the app's authentication
    dependency; ``queries``: the read model (None: the routes answer 503)."""
    Principal = Annotated[str, Depends(principal)]

    def scope(who: str) -> tuple[Region, ReadModelQueries]:
        region = region_scope(who, directory)
        if region is None:
            raise ApiError(403, "NOT_A_COORDINATOR", f"{who} is not a coordination centre")
        if queries is None:
            raise ApiError(503, "STORE_NOT_CONFIGURED", "no read model (COURTBUS_STORE_URL)")
        return region, queries

    def read(query: Callable[[], Any]) -> Any:
        try:
            return query()
        except CourtbusError as exc:
            raise ApiError(503, exc.code, exc.reason) from exc

    def ago(days: int | None) -> datetime | None:
        return None if days is None else datetime.now(UTC) - timedelta(days=days)

    def missing(what: str, ident: str) -> ApiError:
        return ApiError(404, "NOT_FOUND", f"no {what} {ident} in your region")

    @app.get("/v1/coordination/delegations", tags=["coordination"])
    def delegations(
        who: Principal,
        state: str | None = None,
        court: Court = None,
        province: Province = None,
        overdue: bool = False,
        older_than_days: Days = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Delegations of the region, oldest request first (a delegation is in a region if its
        requesting or executing court is); ``overdue``: the start deadline passed unstarted or
        the report deadline passed unended; ``older_than_days``: requested that long ago."""
        region, q = scope(who)
        where: dict[str, Any] = {
            "court": court,
            "state": state,
            "region": narrowed(region, court, province),
            "overdue_at": datetime.now(UTC) if overdue else None,
            "requested_before": ago(older_than_days),
        }
        rows = read(lambda: q.delegations(**where, limit=bounded(limit), offset=offset))
        return page(rows, read(lambda: q.delegation_count(**where)), offset)

    @app.get("/v1/coordination/delegations/{delegation_id}", tags=["coordination"])
    def delegation(delegation_id: str, who: Principal) -> dict[str, Any]:
        """One delegation of the region with every step decided on (its history)."""
        region, q = scope(who)
        row = read(lambda: q.delegation(delegation_id))
        if row is None or not (
            region.contains(row.requesting_court) or region.contains(row.executing_court)
        ):
            raise missing("delegation", delegation_id)
        found: dict[str, Any] = plain(row)
        found["history"] = plain(read(lambda: q.history(delegation_id)))
        return found

    @app.get("/v1/coordination/listings", tags=["coordination"])
    def listings(
        who: Principal,
        status: str | None = None,
        court: Court = None,
        province: Province = None,
        older_than_days: Days = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """The dishonest-debtor list (失信被执行人名单) by the region's listing courts, newest
        listing first; ``status`` ACTIVE or DELISTED…; ``older_than_days``: listed that long
        ago."""
        region, q = scope(who)
        where: dict[str, Any] = {
            "court": court,
            "status": status,
            "region": narrowed(region, court, province),
            "listed_before": ago(older_than_days),
        }
        rows = read(lambda: q.blacklist_entries(**where, limit=bounded(limit), offset=offset))
        return page(rows, read(lambda: q.blacklist_count(**where)), offset)

    @app.get("/v1/coordination/listings/{entry_id}", tags=["coordination"])
    def listing(entry_id: str, who: Principal) -> Any:
        """One entry of the list, if a court of the region listed it."""
        region, q = scope(who)
        row = read(lambda: q.blacklist_entry(entry_id))
        if row is None or not region.contains(row.listing_court):
            raise missing("listing", entry_id)
        return plain(row)

    @app.get("/v1/coordination/restrictions", tags=["coordination"])
    def restrictions(
        who: Principal,
        status: str | None = None,
        kind: str | None = None,
        court: Court = None,
        province: Province = None,
        awaiting_ack: bool = False,
        older_than_days: Days = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Exit and consumption bans (限制出境, 限制高消费) issued by the region's courts, newest
        first, with the agencies' answers; ``awaiting_ack``: an agency has not answered yet."""
        region, q = scope(who)
        where: dict[str, Any] = {
            "court": court,
            "status": status,
            "kind": kind,
            "region": narrowed(region, court, province),
            "awaiting_ack": awaiting_ack,
            "issued_before": ago(older_than_days),
        }
        rows = read(lambda: q.restrictions(**where, limit=bounded(limit), offset=offset))
        return page(rows, read(lambda: q.restriction_count(**where)), offset)

    @app.get("/v1/coordination/restrictions/{control_id}", tags=["coordination"])
    def restriction(control_id: str, who: Principal) -> Any:
        """One control, if a court of the region issued it."""
        region, q = scope(who)
        row = read(lambda: q.restriction(control_id))
        if row is None or not region.contains(row.issuing_court):
            raise missing("restriction", control_id)
        return plain(row)

    @app.get("/v1/coordination/distributions", tags=["coordination"])
    def distributions(
        who: Principal,
        state: Annotated[list[str] | None, Query()] = None,
        court: Court = None,
        province: Province = None,
        older_than_days: Days = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Distributions (参与分配) presided over or claimed in by the region's courts, newest
        change first; ``state`` (repeatable), e.g. ``OBJECTION_WINDOW``."""
        region, q = scope(who)
        where: dict[str, Any] = {
            "court": court,
            "region": narrowed(region, court, province),
            "states": tuple(state) if state else None,
            "started_before": ago(older_than_days),
        }
        rows = read(lambda: q.distributions(**where, limit=bounded(limit), offset=offset))
        return page(rows, read(lambda: q.distribution_count(**where)), offset)

    @app.get("/v1/coordination/distributions/{distribution_id}", tags=["coordination"])
    def distribution(distribution_id: str, who: Principal) -> Any:
        """One distribution with its claims, plans and objections, if a court of the region
        presides or claims in it."""
        region, q = scope(who)
        row = read(lambda: q.distribution(distribution_id))
        if row is None or not (
            region.contains(row.presiding_court)
            or any(region.contains(c.court_id) for c in row.claims)
        ):
            raise missing("distribution", distribution_id)
        return plain(row)

    @app.get("/v1/coordination/dead-letters", tags=["coordination"])
    def dead_letters(
        who: Principal, code: str | None = None, limit: Limit = 100, offset: Offset = 0
    ) -> dict[str, Any]:
        """Records refused from the region's courts' outboxes (the SPC: every topic's), oldest
        first: where each came from, its code and (masked) reason, when; never its bytes."""
        region, q = scope(who)
        rows = read(
            lambda: q.dead_letters(code=code, region=region, limit=bounded(limit), offset=offset)
        )
        items = [
            {
                "id": r.id,
                "source_topic": r.source_topic,
                "source_partition": r.source_partition,
                "source_offset": r.source_offset,
                "code": r.code,
                "reason": r.reason,
                "dead_at": r.dead_at,
            }
            for r in rows
        ]
        return page(items, read(lambda: q.dead_letter_count(code=code, region=region)), offset)

    @app.get("/v1/coordination/watchdog-alerts", tags=["coordination"])
    def watchdog_alerts(
        who: Principal, court: Court = None, limit: Limit = 100, offset: Offset = 0
    ) -> dict[str, Any]:
        """The watchdog's alerts (a restriction or listing still in force after the case
        ended) to the region's courts, oldest first."""
        region, q = scope(who)
        narrowed(region, court, None)
        rows = read(lambda: q.watchdog_alerts(court=court, region=region))
        return page(rows[offset : offset + bounded(limit)], len(rows), offset)
