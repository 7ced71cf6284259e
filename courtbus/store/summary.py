"""Grouped counts over the read model for the coordination centres' dashboard: small tables of
(court, …, count) computed in SQL, which the web layer scopes to a region and shapes.

Read-only. Every method takes an optional ``Region`` (``courtbus.store.region``: the
coordinator's courts) that cuts the rows SQL has to group; the caller still tests the courts
each row names against it (``Region.contains``). Times are bucketed in SQL
(minute, hour, day or month, UTC) so a national list is never read row by row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from courtbus.store.database import OnDatabase
from courtbus.store.models import (
    AlertRecord,
    BlacklistRecord,
    DeadLetterRecord,
    DelegationRecord,
    DistributionClaimRecord,
    DistributionRecord,
    HistoryRecord,
    InterceptionRecord,
    RestrictionAckRecord,
    RestrictionRecord,
    WatchdogAlertRecord,
)
from courtbus.store.region import Region

if TYPE_CHECKING:  # (SQLAlchemy 2.1 types a select's columns; 2.0 would not take this)
    AnySelect = Select[*tuple[Any, ...]]

# The length of an SQLite UTC timestamp text ("YYYY-MM-DD HH:MM:SS") cut to each bucket, and
# the PostgreSQL to_char pattern of the same bucket.
BUCKETS: dict[str, tuple[int, str]] = {
    "minute": (16, "YYYY-MM-DD HH24:MI"),
    "hour": (13, "YYYY-MM-DD HH24"),
    "day": (10, "YYYY-MM-DD"),
    "month": (7, "YYYY-MM"),
}
ESCALATION_STEPS = ("DelegationEscalated", "DelegationEscalationAnswered")
EVERYWHERE = Region()


@dataclass(frozen=True, slots=True)
class OpenDelegation:
    """A delegation that has not ended: what the dashboard shows of it (no debtor)."""

    delegation_id: str
    case_number: str | None
    requesting_court: str
    executing_court: str
    matter: str
    state: str
    requested_at: datetime
    start_due: datetime | None
    report_due: datetime | None


@dataclass(frozen=True, slots=True)
class LiveDistribution:
    """A distribution not yet paid out or transferred, with the courts of its claims."""

    distribution_id: str
    case_number: str
    presiding_court: str
    state: str
    updated_at: datetime
    claim_courts: tuple[str, ...]


def _where(query: AnySelect, cut: ColumnElement[bool] | None) -> AnySelect:
    return query if cut is None else query.where(cut)


class SummaryQueries(OnDatabase):
    """The dashboard's grouped reads (``SummaryQueries(url)`` or a shared ``Database``).

    Every method raises ``StoreError`` ``STORE_UNAVAILABLE`` when the database fails.
    """

    def bucket(self, column: InstrumentedAttribute[Any], size: str) -> ColumnElement[str]:
        """``column`` (a UTC timestamp) as the text of its ``size`` bucket (``BUCKETS``)."""
        length, pattern = BUCKETS[size]
        if self._db.dialect == "postgresql":
            return func.to_char(func.timezone("UTC", column), pattern)
        return func.substr(column, 1, length)

    def _rows(self, query: AnySelect) -> list[tuple[Any, ...]]:
        with self._db.guard(), self._db.sessions() as session:
            return [tuple(r) for r in session.execute(query)]

    # -- delegations ----------------------------------------------------------------------

    def delegation_pairs(self, region: Region = EVERYWHERE) -> list[tuple[str, str, str, int]]:
        """(requesting court, executing court, state, count) of every delegation."""
        d = DelegationRecord
        query = select(d.requesting_court, d.executing_court, d.state, func.count())
        query = _where(query, region.clause(d.requesting_court, d.executing_court))
        return self._rows(query.group_by(d.requesting_court, d.executing_court, d.state))

    def open_delegations(
        self, ended: Iterable[str], region: Region = EVERYWHERE
    ) -> list[OpenDelegation]:
        """Delegations whose state is not in ``ended``, oldest request first (the store does
        not know the state machine: the caller names the end states)."""
        d = DelegationRecord
        query = select(
            d.delegation_id,
            d.case_number,
            d.requesting_court,
            d.executing_court,
            d.matter,
            d.state,
            d.requested_at,
            d.start_due,
            d.report_due,
        )
        query = query.where(d.state.not_in(sorted(ended)))
        query = _where(query, region.clause(d.requesting_court, d.executing_court))
        query = query.order_by(d.requested_at, d.delegation_id)
        return [OpenDelegation(*r) for r in self._rows(query)]

    def escalation_steps(
        self, region: Region = EVERYWHERE
    ) -> list[tuple[str, str, str, str, str, datetime]]:
        """(delegation id, requesting court, executing court, state, step, time) of every
        applied escalation and answer to one (``ESCALATION_STEPS``), oldest first."""
        d, h = DelegationRecord, HistoryRecord
        query = (
            select(
                d.delegation_id, d.requesting_court, d.executing_court, d.state, h.record, h.time
            )
            .join(h, h.delegation_id == d.delegation_id)
            .where(h.applied.is_(True), h.record.in_(ESCALATION_STEPS))
        )
        query = _where(query, region.clause(d.requesting_court, d.executing_court))
        return self._rows(query.order_by(h.time, h.id))

    def alert_counts(self, region: Region = EVERYWHERE) -> list[tuple[str, str | None, int]]:
        """(kind, court, count) of the bus's alerts (``bus.alerts``: deadlines passed)."""
        a = AlertRecord
        query = _where(select(a.kind, a.court_id, func.count()), region.clause(a.court_id))
        return self._rows(query.group_by(a.kind, a.court_id))

    # -- blacklist ------------------------------------------------------------------------

    def blacklist_by_court(self, region: Region = EVERYWHERE) -> list[tuple[str, str, int]]:
        """(listing court, status, count) of the dishonest-debtor list."""
        b = BlacklistRecord
        query = select(b.listing_court, b.status, func.count())
        query = _where(query, region.clause(b.listing_court))
        return self._rows(query.group_by(b.listing_court, b.status))

    def blacklist_first(self, region: Region = EVERYWHERE) -> datetime | None:
        """When the earliest entry was listed (None: the list is empty)."""
        b = BlacklistRecord
        query = _where(select(func.min(b.listed_at)), region.clause(b.listing_court))
        with self._db.guard(), self._db.sessions() as session:
            first = session.execute(query).scalar()
        return _aware(first)

    def blacklist_timeline(
        self, size: str, region: Region = EVERYWHERE
    ) -> list[tuple[str, str, str, int]]:
        """(listing court, ``listed`` or ``delisted``, bucket, count): listings and delistings
        per ``size`` bucket."""
        b = BlacklistRecord
        found: list[tuple[str, str, str, int]] = []
        for what, column in (("listed", b.listed_at), ("delisted", b.delisted_at)):
            bucket = self.bucket(column, size)
            query = select(b.listing_court, bucket, func.count()).where(column.is_not(None))
            query = _where(query, region.clause(b.listing_court))
            found += [
                (c, what, k, n) for c, k, n in self._rows(query.group_by(b.listing_court, bucket))
            ]
        return found

    # -- restrictions and the watchdog ----------------------------------------------------

    def restriction_counts(self, region: Region = EVERYWHERE) -> list[tuple[str, str, str, int]]:
        """(issuing court, kind, status, count) of the exit and consumption bans."""
        r = RestrictionRecord
        query = select(r.issuing_court, r.kind, r.status, func.count())
        query = _where(query, region.clause(r.issuing_court))
        return self._rows(query.group_by(r.issuing_court, r.kind, r.status))

    def pending_acks(self, region: Region = EVERYWHERE) -> list[tuple[str, str, str, str, int]]:
        """(issuing court, agency, target, state, count) of the agencies' answers still
        awaited (``PENDING``, or ``OVERDUE``: past their due time)."""
        r, a = RestrictionRecord, RestrictionAckRecord
        query = (
            select(r.issuing_court, a.agency_id, a.target, a.state, func.count())
            .join(a, a.control_id == r.control_id)
            .where(a.state.in_(("PENDING", "OVERDUE")))
        )
        query = _where(query, region.clause(r.issuing_court))
        return self._rows(query.group_by(r.issuing_court, a.agency_id, a.target, a.state))

    def interceptions(
        self, region: Region = EVERYWHERE, limit: int = 200
    ) -> list[tuple[str, str, str, str, str, str, datetime]]:
        """(issuing court, case number, kind, agency, channel, location, time) of the
        interceptions reported, newest first, at most ``limit`` (no person, no ID)."""
        r, i = RestrictionRecord, InterceptionRecord
        query = select(
            r.issuing_court,
            r.case_number,
            r.kind,
            i.agency_id,
            i.channel,
            i.location,
            i.intercepted_at,
        ).join(i, i.control_id == r.control_id)
        query = _where(query, region.clause(r.issuing_court))
        return self._rows(query.order_by(i.intercepted_at.desc(), i.event_id).limit(limit))

    def interception_counts(self, region: Region = EVERYWHERE) -> list[tuple[str, str, int]]:
        """(issuing court, agency, count) of every interception reported."""
        r, i = RestrictionRecord, InterceptionRecord
        query = select(r.issuing_court, i.agency_id, func.count()).join(
            i, i.control_id == r.control_id
        )
        query = _where(query, region.clause(r.issuing_court))
        return self._rows(query.group_by(r.issuing_court, i.agency_id))

    def watchdog_counts(self, region: Region = EVERYWHERE) -> list[tuple[str, str, int, datetime]]:
        """(court, case number, alerts, latest alert time) per case the watchdog alerted on."""
        w = WatchdogAlertRecord
        query = select(w.court_id, w.case_number, func.count(), func.max(w.time))
        query = _where(query, region.clause(w.court_id))
        rows = self._rows(query.group_by(w.court_id, w.case_number))
        return [(c, k, n, _aware(t) or t) for c, k, n, t in rows]

    # -- distributions --------------------------------------------------------------------

    def live_distributions(
        self, ended: Iterable[str], region: Region = EVERYWHERE
    ) -> list[LiveDistribution]:
        """Distributions whose state is not in ``ended``, newest change first, each with the
        courts of its claims (a distribution is a court's if it presides or claims)."""
        d, c = DistributionRecord, DistributionClaimRecord
        query = select(
            d.distribution_id, d.case_number, d.presiding_court, d.state, d.updated_at
        ).where(d.state.not_in(sorted(ended)))
        cut = region.clause(d.presiding_court)
        claim_cut = region.clause(c.court_id)
        if cut is not None and claim_cut is not None:
            claiming = select(c.distribution_id).where(claim_cut)
            query = query.where(or_(cut, d.distribution_id.in_(claiming)))
        query = query.order_by(d.updated_at.desc(), d.distribution_id)
        with self._db.guard(), self._db.sessions() as session:
            heads = [(i, k, p, s, t) for i, k, p, s, t in session.execute(query)]
            courts: dict[str, list[str]] = {}
            ids = [h[0] for h in heads]
            for did, court in session.execute(
                select(c.distribution_id, c.court_id).where(c.distribution_id.in_(ids))
            ):
                courts.setdefault(did, []).append(court)
        return [
            LiveDistribution(i, k, p, s, t, tuple(courts.get(i, ()))) for i, k, p, s, t in heads
        ]

    def distribution_states(self, region: Region = EVERYWHERE) -> list[tuple[str, str, int]]:
        """(presiding court, state, count) of every distribution."""
        d = DistributionRecord
        query = select(d.presiding_court, d.state, func.count())
        query = _where(query, region.clause(d.presiding_court))
        return self._rows(query.group_by(d.presiding_court, d.state))

    # -- dead letters ---------------------------------------------------------------------

    def dead_letter_first(self) -> datetime | None:
        """When the earliest dead letter was stored (None: none)."""
        with self._db.guard(), self._db.sessions() as session:
            return _aware(session.execute(select(func.min(DeadLetterRecord.dead_at))).scalar())

    def dead_letter_timeline(self, size: str) -> list[tuple[str, str, str, int]]:
        """(source topic, code, bucket, count) of the dead letters per ``size`` bucket (the
        source topic names the participant: ``court.<id>.outbox``)."""
        dl = DeadLetterRecord
        bucket = self.bucket(dl.dead_at, size)
        query = select(dl.source_topic, dl.code, bucket, func.count())
        return self._rows(query.group_by(dl.source_topic, dl.code, bucket))


def _aware(value: Any) -> datetime | None:
    """A min/max over a UTC column comes back as the driver gives it: naive on SQLite, maybe
    text; make it an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC) if isinstance(value, datetime) else None
