"""The REST API (FastAPI): a court's system posts what its SDK can send and reads its inbox.

Routes (OpenAPI at ``/docs``):

* ``GET /v1/whoami``: the principal the token stands for;
* ``POST /v1/courts/{court_id}/outbox``: ``{"type": <Avro full name>, "id": <ce_id, optional>,
  "payload": {...}}`` is checked and sent through the court SDK's own path
  (``CourtClient.send_record``: normalised, checked as the gateway will, signed with the
  court's key when the service holds one) into the court's outbox (JSON values as JSON has
  them: RFC 3339 times, ISO dates, amounts as decimal strings); the answer is ``201`` with
  the ``ce_id``, key, partition and offset. **Idempotent on ``id``**: a retried POST with the
  same id and body answers ``200`` with the first answer and sends nothing; the same id with
  another body is ``409 EVENT_ID_CONFLICT``. (The ids this process has accepted are kept in its
  memory: a retry after a restart is sent again, and the gateway drops it only if
  byte-identical, else refuses it with ``EVENT_ID_CONFLICT``.)
* ``GET /v1/courts/{court_id}/inbox?limit=100``: the inbox's records, oldest first;
* ``POST /v1/agencies/{agency_id}/outbox`` (as a court's) and
  ``GET /v1/agencies/{agency_id}/feeds/{flow}`` (a granted feed, or ``feed``: its notices);
* ``GET /v1/coordination/delegations?state=&court=&overdue=&limit=&offset=``: for a
  coordination centre (``coordinator.spc``, ``coordinator.<province>``,
  ``coordinator.group.<name>``), its region's delegations from the read model, paged; also
  ``/v1/coordination/dead-letters?code=`` (never a record's bytes) and
  ``/v1/coordination/watchdog-alerts``.

Authentication: ``Authorization: Bearer <token>`` (``courtbus.web.tokens``), else ``401
AUTH_REQUIRED``; a court may use only its own routes (``403 NOT_YOURS``). A bad body is ``422``
with the bus's error code (``REQUEST_INVALID`` for a body that is not the shape above, the
SDK's code, e.g. ``AVRO_ENCODE_FAILED`` or ``TEXT_NOT_NFC``, for a payload the bus would
refuse); the cluster or registry away is ``503``. ID numbers are masked in every message.
"""

import hashlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from courtbus.catalogue.directory import Directory, load_directory
from courtbus.config import Connection
from courtbus.domain.delegation import END_STATES
from courtbus.domain.identity import mask_ids_in_text
from courtbus.errors import ClusterError, CourtbusError, RegistryError, TransientError
from courtbus.sdk import AgencyClient, CourtClient
from courtbus.security.principals import agency_principal, court_principal
from courtbus.store.queries import ReadModelQueries
from courtbus.web.dashboard import mount_dashboard
from courtbus.web.tokens import TokenStore
from courtbus.wire.client import read_from_start
from courtbus.wire.jsonvalues import from_json


class Outgoing(BaseModel):
    """A record to send: its type, optionally its ``ce_id``, and its payload."""

    type: str = Field(
        description="Avro full name, e.g. cn.court.bus.delegation.DelegationRequested"
    )
    id: uuid.UUID | None = Field(default=None, description="the ce_id (idempotency): a UUID")
    payload: dict[str, Any]


class Accepted(BaseModel):
    """What the broker acknowledged."""

    id: str
    key: str
    partition: int
    offset: int


class ApiError(Exception):
    """An answer other than success: HTTP status, the bus's code, a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, mask_ids_in_text(message)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": mask_ids_in_text(message)}, status_code=status)


def _status_of(exc: CourtbusError) -> int:
    return 503 if isinstance(exc, ClusterError | RegistryError | TransientError) else 422


def region_of(principal: str, directory: Directory) -> Callable[[str], bool] | None:
    """Which courts a coordinator sees: ``coordinator.spc`` all (最高人民法院);
    ``coordinator.<province code>`` (``coordinator.32``) the courts whose id starts with it;
    ``coordinator.group.<name>`` a directory group's members. None: not a coordinator."""
    kind, _, rest = principal.partition(".")
    if kind != "coordinator" or not rest:
        return None
    if rest == "spc":
        return lambda _court: True
    if rest.startswith("group."):
        members = frozenset(directory.groups.get(rest.removeprefix("group."), ()))
        return lambda court: court in members
    if rest.isdigit() and len(rest) == 2:
        return lambda court: court.startswith(rest)
    return None


def _plain(value: Any) -> Any:
    """A row's value as JSON has it (times RFC 3339, amounts as decimal strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _page(rows: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """``limit`` (1–1,000) of ``rows`` from ``offset``, as JSON values, with the total."""
    start = max(offset, 0)
    page = rows[start : start + max(1, min(limit, 1000))]
    items = [{k: _plain(v) for k, v in (r if isinstance(r, dict) else asdict(r)).items()}
             for r in page]  # fmt: skip
    return {"total": len(rows), "offset": start, "items": items}


def create_app(
    conn: Connection,
    tokens: TokenStore,
    *,
    court_client: Callable[[str], CourtClient] | None = None,
    agency_client: Callable[[str], AgencyClient] | None = None,
    store_url: str | None = None,
    directory: Directory | None = None,
) -> FastAPI:
    """The API over ``conn``; ``court_client(court_id)`` makes a court's SDK client (default:
    ``CourtClient(court_id, conn)``, one per court, kept); ``store_url``: the read model the
    coordinators' queries read (None: those routes answer 503)."""
    directory = directory or load_directory()
    queries = ReadModelQueries(store_url) if store_url else None
    clients: dict[str, Any] = {}  # principal → its CourtClient or AgencyClient

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for client in clients.values():  # flush and close the courts' producers
            client.close()

    app = FastAPI(title="courtbus", version="1", description=__doc__, lifespan=lifespan)
    accepted: dict[tuple[str, str], tuple[str, Accepted]] = {}
    lock = threading.Lock()
    make = court_client or (lambda court_id: CourtClient(court_id, conn))
    make_agency = agency_client or (lambda agency_id: AgencyClient(agency_id, conn))

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return _error(422, "REQUEST_INVALID", f"the request is not valid: {where}")

    def principal(authorization: Annotated[str | None, Header()] = None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "AUTH_REQUIRED", "send Authorization: Bearer <token>")
        found = tokens.principal(token.strip())
        if found is None:
            raise ApiError(401, "AUTH_REQUIRED", "the token is not known")
        return found

    Principal = Annotated[str, Depends(principal)]
    mount_dashboard(app, queries=queries, directory=directory, region_of=region_of,
                    principal=principal)  # fmt: skip

    def own(who: str, principal: str) -> None:
        if who != principal:
            raise ApiError(403, "NOT_YOURS", f"{who} may not act as {principal}")

    def client_of(principal: str) -> Any:
        """The SDK client of ``court.<id>`` or ``agency.<id>``, made once."""
        with lock:
            if principal not in clients:
                kind, _, ident = principal.partition(".")
                try:
                    clients[principal] = make(ident) if kind == "court" else make_agency(ident)
                except CourtbusError as exc:
                    raise ApiError(_status_of(exc), exc.code, exc.reason) from exc
            return clients[principal]

    def send(who: str, body: Outgoing) -> Any:
        """``body`` sent by ``who``'s SDK client, idempotent on its ``id``."""
        digest = hashlib.sha256(
            json.dumps([body.type, body.payload], sort_keys=True, default=str).encode()
        ).hexdigest()
        event_id = str(body.id) if body.id is not None else None
        if event_id is not None:
            with lock:
                seen = accepted.get((who, event_id))
            if seen is not None:
                if seen[0] != digest:
                    raise ApiError(409, "EVENT_ID_CONFLICT",
                                   f"id {event_id} was sent before with another body")  # fmt: skip
                return JSONResponse(seen[1].model_dump(), status_code=200)
        client = client_of(who)
        try:
            schema = client.envelope.codec.schemas.message(body.type).parsed
            payload = from_json(schema, body.payload)  # RFC 3339 times, decimal strings
            sent = client.send_record(body.type, payload, event_id=event_id)
        except CourtbusError as exc:
            raise ApiError(_status_of(exc), exc.code, exc.reason) from exc
        answer = Accepted(id=sent.event_id, key=sent.key, partition=sent.partition,
                          offset=sent.offset)  # fmt: skip
        if event_id is not None:
            with lock:
                accepted[(who, event_id)] = (digest, answer)
        return answer

    def records(
        client: Any, topic: str, limit: int, *, projected: bool = False
    ) -> list[dict[str, Any]]:
        """``topic``'s records from the start, decoded by ``client`` (``projected``: a feed's
        records, by the agency client's feed decoding), at most ``limit``."""
        found: list[dict[str, Any]] = []
        try:
            for raw in read_from_start(conn, [topic], 1.0):
                event = client.decode(raw) if projected else client.envelope.read(raw)
                if event.headers is None:  # a feed's tombstone: the entry left the feed
                    found.append({"partition": raw.partition, "offset": raw.offset,
                                  "key": (raw.key or b"").decode(), "tombstone": True})  # fmt: skip
                else:
                    found.append({
                        "id": event.headers.id, "type": event.record,
                        "source": event.headers.source, "partition": event.partition,
                        "offset": event.offset, "key": event.key,
                        "payload": json.loads(json.dumps(event.payload, default=str)),
                    })  # fmt: skip
                if len(found) >= max(1, min(limit, 1000)):
                    break
        except CourtbusError as exc:
            raise ApiError(_status_of(exc), exc.code, exc.reason) from exc
        return found

    @app.get("/v1/whoami")
    def whoami(who: Principal) -> dict[str, str]:
        """The principal the token stands for."""
        return {"principal": who}

    @app.post("/v1/courts/{court_id}/outbox", status_code=201, response_model=Accepted)
    def post_outbox(court_id: str, body: Outgoing, who: Principal) -> Any:
        """Send a record from the court's system, as its SDK would (idempotent on ``id``)."""
        own(who, court_principal(court_id))
        return send(who, body)

    @app.post("/v1/agencies/{agency_id}/outbox", status_code=201, response_model=Accepted)
    def post_agency_outbox(agency_id: str, body: Outgoing, who: Principal) -> Any:
        """Send an agency's answer (an acknowledgement, an interception...), as its SDK would."""
        own(who, agency_principal(agency_id))
        return send(who, body)

    @app.get("/v1/agencies/{agency_id}/feeds/{flow}")
    def get_feed(agency_id: str, flow: str, who: Principal, limit: int = 100) -> Any:
        """A feed the directory grants the agency (``restriction``, ``blacklist``...), or its
        notices (``feed``), oldest first: projected fields only, a retraction as a tombstone."""
        own(who, agency_principal(agency_id))
        client = client_of(who)
        if flow == "feed":
            return records(client, f"agency.{agency_id}.feed", limit)
        try:
            topic = client.topic(flow)
        except CourtbusError as exc:  # FEED_NOT_GRANTED
            raise ApiError(403, exc.code, exc.reason) from exc
        return records(client, topic, limit, projected=True)

    def coordinator(who: str) -> tuple[Callable[[str], bool], Callable[[Any], Any]]:
        """(which courts ``who`` sees, a reader of the read model), or 403/503."""
        sees = region_of(who, directory)
        if sees is None:
            raise ApiError(403, "NOT_A_COORDINATOR", f"{who} is not a coordination centre")
        if queries is None:
            raise ApiError(503, "STORE_NOT_CONFIGURED", "no read model (COURTBUS_STORE_URL)")

        def read(query: Callable[[ReadModelQueries], Any]) -> Any:
            try:
                return query(queries)
            except CourtbusError as exc:
                raise ApiError(503, exc.code, exc.reason) from exc

        return sees, read

    @app.get("/v1/coordination/delegations")
    def coordination_delegations(
        who: Principal,
        state: str | None = None,
        court: str | None = None,
        overdue: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Delegations of the coordinator's region (a delegation is in a region if its
        requesting or executing court is), oldest request first, ``limit`` from ``offset``;
        ``overdue``: a start or report deadline passed and the delegation has not ended."""
        sees, read = coordinator(who)
        found = read(lambda q: q.delegations(court=court, state=state))
        now = datetime.now(UTC)
        mine = [r for r in found if sees(r.requesting_court) or sees(r.executing_court)]
        if overdue:
            mine = [r for r in mine if r.state not in END_STATES and any(
                due is not None and due < now for due in (r.start_due, r.report_due))]  # fmt: skip
        return _page(mine, limit, offset)

    @app.get("/v1/coordination/dead-letters")
    def coordination_dead_letters(
        who: Principal, code: str | None = None, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        """Refused records of the region's courts (by their outbox), oldest first: where each
        came from, its code and (masked) reason, when; never the record's bytes."""
        sees, read = coordinator(who)
        found = read(lambda q: q.dead_letters(code=code))

        def court_of(topic: str) -> str | None:
            kind, _, rest = topic.partition(".")
            return rest.partition(".")[0] if kind == "court" else None

        mine = [
            {"id": r.id, "source_topic": r.source_topic, "source_partition": r.source_partition,
             "source_offset": r.source_offset, "code": r.code, "reason": r.reason,
             "dead_at": r.dead_at}
            for r in found
            if ((c := court_of(r.source_topic)) is not None and sees(c)) or who == "coordinator.spc"
        ]  # fmt: skip
        return _page(mine, limit, offset)

    @app.get("/v1/coordination/watchdog-alerts")
    def coordination_watchdog_alerts(
        who: Principal, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        """The watchdog's alerts (restrictions still in force after a case ended) to the
        region's courts, oldest first."""
        sees, read = coordinator(who)
        found = read(lambda q: q.watchdog_alerts())
        return _page([r for r in found if sees(r.court_id)], limit, offset)

    @app.get("/v1/courts/{court_id}/inbox")
    def get_inbox(court_id: str, who: Principal, limit: int = 100) -> list[dict[str, Any]]:
        """The court's inbox, oldest first (at most ``limit`` records)."""
        own(who, court_principal(court_id))
        client = client_of(who)
        return records(client, client.inbox_topic, limit)

    return app
