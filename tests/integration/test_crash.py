"""SIGKILL a service inside an open transaction, mid-stream, and restart it: exactly once.

The victim runs with ``COURTBUS_TEST_HOLD_OPEN_MS``, so each of its transactions stays open a
while after it logs "transaction open"; the test kills it inside one while requests are
flowing, restarts it, waits until every consumer group has processed all of its input, and
then counts every output for its delegations exactly. A lost record fails, and so does a
repeated one, including a replay the bus refused (a request forwarded twice is refused as
``DELEGATION_DUPLICATE`` into the dead letters), which at-least-once would produce.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest

from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.sdk.court import Sent
from courtbus.store import ReadModelQueries
from courtbus.wire.envelope import Envelope, Event
from tests.integration.conftest import StartServices
from tests.integration.helpers import (
    GroupProgress,
    ServiceProcess,
    Services,
    TopicReader,
    header,
    wait_until,
)

pytestmark = pytest.mark.integration
NS = "cn.court.bus.delegation."
EVENTS = "bus.delegation.events"
DEADLETTER = "bus.deadletter"
REQUESTER, EXECUTOR = "3205", "6104"
OUTBOX, RECEIPTS, DELIVERIES = (
    f"court.{REQUESTER}.outbox",
    f"court.{REQUESTER}.inbox",
    f"court.{EXECUTOR}.inbox",
)
PROJECTOR_INPUTS = (EVENTS, DEADLETTER, "bus.alerts")
# Every transaction stays open 200 ms after "transaction open" (every service's: so the victim
# needs no restart to hold them); a killed worker's partitions move after 6 s, the least the
# broker allows.
ENV = {"COURTBUS_TEST_HOLD_OPEN_MS": "200", "COURTBUS_SESSION_TIMEOUT_MS": "6000"}
FLOWING = 20  # requests sent before the victim may be killed
TAIL = 40  # requests sent after the kill
MOST = 1000  # a stream that never sees the kill stops here (and the test fails)


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    return start_services("crash", env=ENV)


class Stream:
    """Requests from 3205 to 6104, one after another, until ``TAIL`` after ``killed``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tag = uuid.uuid4().hex[:6]
        self.sent: dict[str, Sent] = {}
        self.killed = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with CourtClient(REQUESTER, self.conn) as court:
                tail = TAIL
                while tail > 0 and len(self.sent) < MOST:
                    did = f"dlg-crash-{self.tag}-{len(self.sent):04d}"
                    self.sent[did] = court.delegation.request_delegation(
                        delegation_id=did,
                        case_number="(2024)苏05执500号",
                        executing_court=EXECUTOR,
                        matter="SEARCH",
                        debtor={"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
                    )
                    if self.killed.is_set():
                        tail -= 1
        except BaseException as exc:  # reported by the test's thread
            self.error = exc


def _kill_inside_a_transaction(
    victim: ServiceProcess, group: str, outputs: bool, stream: Stream
) -> None:
    """Once the stream flows, SIGKILL the victim as soon as it logs a new open transaction
    (one with outputs if ``outputs``), then start it again."""
    opened = re.compile(
        rf"{re.escape(group)} transaction open: {'[1-9]' if outputs else ''}\d* outputs"
    )
    wait_until(lambda: len(stream.sent) >= FLOWING or stream.error, 60, "the stream to flow")
    assert stream.error is None, stream.error
    mark = victim.count(opened)
    wait_until(
        lambda: victim.count(opened) > mark, 60, f"{group} to open a transaction", interval_s=0.01
    )
    victim.kill()
    assert stream.thread.is_alive(), "the stream must still be flowing when the victim is killed"
    stream.killed.set()
    victim.start()


def _settled(
    services: Services,
    model: ReadModelQueries,
    progress: GroupProgress,
    ids: set[str],
    why: list[str],
) -> bool:
    """Every delegation in SQL, and every group's committed offsets at its inputs' ends."""
    rows = {r.delegation_id: r for r in model.delegations(court=EXECUTOR) if r.delegation_id in ids}
    why[:] = [f"{len(rows)} of {len(ids)} delegations in SQL"]
    if len(rows) < len(ids):
        return False
    why[:] = [
        *progress.lag(services.group("gateway"), [OUTBOX]),
        *progress.lag(services.group("delegation"), [EVENTS]),
        *progress.lag(services.group("projector"), PROJECTOR_INPUTS),
    ]
    return not why


def _problems(
    envelope: Envelope, records: list[Any], model: ReadModelQueries, sent: dict[str, Sent]
) -> list[str]:
    """Everything that differs from exactly once, for each of the stream's delegations."""
    ids, request_ids = set(sent), {s.event_id for s in sent.values()}
    by_key: dict[tuple[str, str], list[Event]] = defaultdict(list)
    problems = []
    for r in records:
        key = r.key.decode() if r.key else ""
        if r.topic == DEADLETTER:
            if key in ids or header(r, "ce_id") in request_ids:
                problems.append(f"dead letter {header(r, 'dlq_code')} for {key}")
        elif key in ids:
            by_key[(r.topic, key)].append(envelope.read(r))
        elif r.topic == RECEIPTS:  # a refusal's notice is keyed by the refused record's place
            notice = envelope.read(r)
            if notice.payload.get("rejected_event_id") in request_ids:
                problems.append(
                    f"{notice.headers.source} refused {notice.payload['rejected_event_id']}: {notice.payload['error_code']}"
                )
    for did, request in sent.items():
        events = by_key[(EVENTS, did)]
        kinds = Counter(e.record.removeprefix(NS) for e in events)
        want = {"DelegationRequested": 1, "DelegationDelivered": 1, "DelegationDecided": 2}
        if kinds != want:
            problems.append(f"{did} on {EVENTS}: {dict(kinds)}")
            continue
        got = {e.record.removeprefix(NS): e for e in events if not e.record.endswith("Decided")}
        forwarded, receipt = got["DelegationRequested"], got["DelegationDelivered"]
        if (forwarded.headers.id, forwarded.headers.source) != (
            request.event_id,
            f"court:{REQUESTER}",
        ):
            problems.append(f"{did}: the request forwarded is {forwarded.headers}")
        decided = sorted(
            (e.payload["step"], e.payload["decided_event_id"], e.payload["applied"])
            for e in events
            if e.record.endswith("Decided")
        )
        steps = [
            ("DelegationDelivered", receipt.headers.id, True),
            ("DelegationRequested", request.event_id, True),
        ]
        if decided != steps:
            problems.append(f"{did}: decisions {decided}")
        delivered = [(e.record.removeprefix(NS), e.headers.id) for e in by_key[(DELIVERIES, did)]]
        if delivered != [("DelegationRequested", request.event_id)]:
            problems.append(f"{did} in {DELIVERIES}: {delivered}")
        receipts = [(e.record.removeprefix(NS), e.headers.id) for e in by_key[(RECEIPTS, did)]]
        if receipts != [("DelegationDelivered", receipt.headers.id)]:
            problems.append(f"{did} in {RECEIPTS}: {receipts}")
        row = model.delegation(did)
        if row is None or (row.state, row.event_count) != ("DELIVERED", 2):
            problems.append(f"{did} in SQL: {row}")
        history = [(h.record, h.event_id, h.applied, h.error_code) for h in model.history(did)]
        if history != [
            ("DelegationRequested", request.event_id, True, None),
            ("DelegationDelivered", receipt.headers.id, True, None),
        ]:
            problems.append(f"{did} history in SQL: {history}")
    dead = [d for d in model.dead_letters() if d.key is not None and d.key.decode() in ids]
    problems += [f"dead letter in SQL: {d.code} for {d.key!r}" for d in dead]
    return problems


@pytest.mark.parametrize("victim", ["delegation", "gateway", "projector"])
def test_sigkill_inside_a_transaction_loses_nothing_and_repeats_nothing(
    victim: str, services: Services, conn: Connection, envelope: Envelope
) -> None:
    proc, group = services[victim], services.group(victim)
    reader = TopicReader(conn, EVENTS, DELIVERIES, RECEIPTS, DEADLETTER, from_end=True)
    model = ReadModelQueries(services.store_url)
    progress = GroupProgress(conn)
    stream = Stream(conn)
    try:
        stream.thread.start()
        _kill_inside_a_transaction(proc, group, victim != "projector", stream)
        stream.thread.join(timeout=120)
        assert not stream.thread.is_alive() and stream.error is None, stream.error
        ids, why = set(stream.sent), ["nothing yet"]
        wait_until(
            lambda: _settled(services, model, progress, ids, why),
            180,
            lambda: "; ".join(why),
            interval_s=0.5,
        )
        problems = _problems(envelope, reader.read_to_end(), model, stream.sent)
    finally:
        stream.killed.set()
        progress.close()
        model.close()
        reader.close()
    assert not problems, f"{len(problems)} problems with {len(ids)} delegations:\n" + "\n".join(
        problems[:30]
    )
