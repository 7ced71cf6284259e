"""The REST API (FastAPI): a court's system posts what its SDK can send and reads its inbox.

Routes (OpenAPI at ``/docs``):

* ``GET /v1/whoami``: the principal the token stands for;
* ``POST /v1/courts/{court_id}/outbox``: ``{"type": <Avro full name>, "id": <ce_id, optional>,
  "payload": {...}}`` is checked and sent through the court SDK's own path
  (``CourtClient.send_record``: normalised, checked as the gateway will, signed with the
  court's key when the service holds one) into the court's outbox (JSON values as JSON has
  them: RFC 3339 times, ISO dates, amounts as decimal strings); the answer is ``201`` with
  the ``ce_id``, key, partition and offset. The ``ce_id`` is made from ``id`` and bound to the
  record's key (``courtbus.wire.event_ids``: one id can never name two entities' events), so
  it differs from ``id`` unless ``id`` is already such an id. **Idempotent on ``id``**: a retried POST with the
  same id and body answers ``200`` with the first answer and sends nothing; the same id with
  another body is ``409 EVENT_ID_CONFLICT``. (The ids this process has accepted are kept in its
  memory: a retry after a restart is sent again, and the gateway drops it only if
  byte-identical, else refuses it with ``EVENT_ID_CONFLICT``.)
* ``GET /v1/courts/{court_id}/inbox?limit=100&after=&since=``: the inbox a page at a time:
  ``{"items": [...], "next": "0:12,1:40"}``; ``after=<next>`` reads on from the last page
  (nothing read twice, nothing skipped), ``since=<RFC 3339 time>`` from a time, neither from
  the start; ``422 CURSOR_INVALID`` for an ``after`` that is not a page's ``next``;
* ``POST /v1/agencies/{agency_id}/outbox`` (as a court's) and
  ``GET /v1/agencies/{agency_id}/feeds/{flow}`` (a granted feed, or ``feed``: its notices;
  paged as the inbox);
* ``/v1/coordination/…``: a coordination centre's queries over the read model, each scoped to
  its region (``courtbus.web.coordination``): delegations, listings, restrictions,
  distributions (lists and one record each), dead letters, watchdog alerts.

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
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from courtbus.catalogue.directory import Directory, load_directory
from courtbus.config import Connection
from courtbus.errors import CourtbusError
from courtbus.sdk import AgencyClient, CourtClient
from courtbus.security.principals import agency_principal, court_principal
from courtbus.store.queries import ReadModelQueries
from courtbus.web.common import ApiError, error_response, status_of
from courtbus.web.coordination import mount_coordination, region_scope
from courtbus.web.coordination import region_of as region_of  # the routes' scope, re-exported
from courtbus.web.dashboard import mount_dashboard
from courtbus.web.tokens import TokenStore
from courtbus.wire.client import read_page
from courtbus.wire.envelope import Envelope, RawRecord
from courtbus.wire.jsonvalues import from_json


class Outgoing(BaseModel):
    """A record to send: its type, optionally its ``ce_id``, and its payload."""

    type: str = Field(
        description="Avro full name, e.g. cn.court.bus.delegation.DelegationRequested"
    )
    id: uuid.UUID | None = Field(
        default=None,
        description="your idempotency id (a UUID): the same id and body are sent once; the "
        "bus's ce_id is made from it, bound to the record's key (the answer's id)",
    )
    payload: dict[str, Any]


class Accepted(BaseModel):
    """What the broker acknowledged (``id``: the record's ce_id, made from the caller's id and
    bound to its key, as the inbox readers will see it)."""

    id: str
    key: str
    partition: int
    offset: int


def create_app(
    conn: Connection,
    tokens: TokenStore,
    *,
    court_client: Callable[[str], CourtClient] | None = None,
    agency_client: Callable[[str], AgencyClient] | None = None,
    store_url: str | None = None,
    directory: Directory | None = None,
    state_dir: Path | None = None,
) -> FastAPI:
    """The API over ``conn``; ``court_client(court_id)`` makes a court's SDK client (default:
    ``CourtClient(court_id, conn)``, one per court, kept); ``store_url``: the read model the
    coordinators' queries read (None: those routes answer 503); ``state_dir``: where the
    services list their metrics for the dashboard (default ``$COURTBUS_STATE_DIR``)."""
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
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return error_response(422, "REQUEST_INVALID", f"the request is not valid: {where}")

    def principal(authorization: Annotated[str | None, Header()] = None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "AUTH_REQUIRED", "send Authorization: Bearer <token>")
        found = tokens.principal(token.strip())
        if found is None:
            raise ApiError(401, "AUTH_REQUIRED", "the token is not known")
        return found

    Principal = Annotated[str, Depends(principal)]
    mount_dashboard(
        app,
        queries=queries,
        directory=directory,
        region_scope=region_scope,
        principal=principal,
        state_dir=state_dir,
    )

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
                    raise ApiError(status_of(exc), exc.code, exc.reason) from exc
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
                    raise ApiError(
                        409, "EVENT_ID_CONFLICT", f"id {event_id} was sent before with another body"
                    )
                return JSONResponse(seen[1].model_dump(), status_code=200)
        client = client_of(who)
        try:
            schema = envelope_of(client).codec.schemas.message(body.type).parsed
            payload = from_json(schema, body.payload)  # RFC 3339 times, decimal strings
            sent = client.send_record(body.type, payload, event_id=event_id)
        except CourtbusError as exc:
            raise ApiError(status_of(exc), exc.code, exc.reason) from exc
        answer = Accepted(
            id=sent.event_id, key=sent.key, partition=sent.partition, offset=sent.offset
        )
        if event_id is not None:
            with lock:
                accepted[(who, event_id)] = (digest, answer)
        return answer

    def records(
        read: Callable[[RawRecord], Any],
        topic: str,
        limit: int,
        after: str | None,
        since: datetime | None,
    ) -> dict[str, Any]:
        """A page of ``topic``'s records decoded by ``read`` (an envelope's, or for a feed the
        agency client's feed decoding), from the cursor ``after`` (the last page's ``next``) or
        the time ``since``, else from the start; ``next`` reads on from there."""
        found: list[dict[str, Any]] = []
        try:
            page, nexts = read_page(
                conn,
                topic,
                limit=max(1, min(limit, 1000)),
                after=parse_cursor(after),
                since_ms=int(since.timestamp() * 1000) if since is not None else None,
            )
            for raw in page:
                event = read(raw)
                if event.headers is None:  # a feed's tombstone: the entry left the feed
                    found.append(
                        {
                            "partition": raw.partition,
                            "offset": raw.offset,
                            "key": (raw.key or b"").decode(),
                            "tombstone": True,
                        }
                    )
                else:
                    found.append(
                        {
                            "id": event.headers.id,
                            "type": event.record,
                            "source": event.headers.source,
                            "partition": event.partition,
                            "offset": event.offset,
                            "key": event.key,
                            "payload": json.loads(json.dumps(event.payload, default=str)),
                        }
                    )
        except CourtbusError as exc:
            raise ApiError(status_of(exc), exc.code, exc.reason) from exc
        return {"items": found, "next": format_cursor(nexts)}

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
    def get_feed(
        agency_id: str,
        flow: str,
        who: Principal,
        limit: int = 100,
        after: str | None = None,
        since: datetime | None = None,
    ) -> Any:
        """A feed the directory grants the agency (``restriction``, ``blacklist``...), or its
        notices (``feed``), a page at a time (``after``: the last page's ``next``; ``since``:
        from a time): projected fields only, a retraction as a tombstone."""
        own(who, agency_principal(agency_id))
        client = client_of(who)
        if flow == "feed":
            return records(client.envelope.read, f"agency.{agency_id}.feed", limit, after, since)
        try:
            topic = client.topic(flow)
        except CourtbusError as exc:  # FEED_NOT_GRANTED
            raise ApiError(403, exc.code, exc.reason) from exc
        return records(client.decode, topic, limit, after, since)

    mount_coordination(app, principal, directory, queries)

    @app.get("/v1/courts/{court_id}/inbox")
    def get_inbox(
        court_id: str,
        who: Principal,
        limit: int = 100,
        after: str | None = None,
        since: datetime | None = None,
    ) -> dict[str, Any]:
        """The court's inbox, a page at a time, oldest first (``after``: the last page's
        ``next``; ``since``: from a time; neither: from the start)."""
        own(who, court_principal(court_id))
        client = client_of(who)
        inbox = client.sender
        return records(inbox.envelope.read, inbox.inbox_topic, limit, after, since)

    return app


def envelope_of(client: CourtClient | AgencyClient) -> Envelope:
    """The envelope a participant's client encodes and reads with (a court's: its sender's)."""
    return client.sender.envelope if isinstance(client, CourtClient) else client.envelope


def parse_cursor(text: str | None) -> dict[int, int] | None:
    """``"0:12,1:40"`` (partition:next offset, a page's ``next``) as a dict; None for None.

    Raises:
        ApiError: 422 ``CURSOR_INVALID``.
    """
    if text is None:
        return None
    try:
        pairs = [part.split(":") for part in text.split(",") if part]
        cursor = {int(p): int(o) for p, o in pairs}
    except ValueError:
        cursor = {-1: -1}
    if any(p < 0 or o < 0 for p, o in cursor.items()):
        raise ApiError(422, "CURSOR_INVALID", f"after={text!r} is not a page's next")
    return cursor


def format_cursor(nexts: dict[int, int]) -> str:
    """A page's ``next``: where each partition's next page starts."""
    return ",".join(f"{p}:{o}" for p, o in sorted(nexts.items()))
