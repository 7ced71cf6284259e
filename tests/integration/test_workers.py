"""Several delegation workers share ``bus.delegation.events`` exactly once (KIP-447 fencing).

One gateway and one projector, and 1–3 workers of the delegation service in one consumer
group (``courtbus-delegation``), each with its own state slot under one state folder. While
300 requests (court 3205 → 6104) flow, workers are added, SIGKILLed inside an open
transaction and restarted, stopped with SIGTERM, or SIGSTOPped past their session timeout and
resumed as zombies. Afterwards every count is exact: each request delivered once, one receipt,
one ``DelegationDelivered`` and two ``DelegationDecided`` on the bus, no dead letter, and the
read model has the two applied steps once each.

"Settled" means: every expected record has arrived, and the group's committed offsets cover
every data record of ``bus.delegation.events`` (read with read_committed, up to its end
offsets); only then are records counted, so a late duplicate would be seen.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kafka import KafkaAdminClient, TopicPartition

from courtbus.app import ops
from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.store import ReadModelQueries
from courtbus.wire.envelope import Envelope
from courtbus.wire.messages import MESSAGE_TYPES
from tests.integration.helpers import ServiceProcess, TopicReader, header, wait_until

pytestmark = pytest.mark.integration
N = 300
GROUP = "courtbus-delegation"
EVENTS = "bus.delegation.events"
EXEC_INBOX = "court.6104.inbox"
REQ_INBOX = "court.3205.inbox"
DEADLETTER = "bus.deadletter"
HOLD_OPEN = {"COURTBUS_TEST_HOLD_OPEN_MS": "200"}
INTERVAL_S = 0.05  # between two requests: about 15 a second with the broker's acknowledgement
CE = {m.record.rsplit(".", 1)[1]: m.ce_type for m in MESSAGE_TYPES}
TXN_OPEN = re.compile(rf"{GROUP} transaction open: (\d+) outputs")
RESTORED = re.compile(rf"{GROUP} restored \d+ changelog records for (\d+) new task\(s\)")
REJOIN = re.compile(rf"{GROUP}: .*; rejoining the group")
T = TypeVar("T")


def _wait(cond: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``cond`` until it is truthy (tiny sleeps) or fail after ``timeout_s``; its value."""
    return wait_until(cond, timeout_s, what, interval_s=0.02)  # type: ignore[return-value]


# -- the services ------------------------------------------------------------------------------


@dataclass
class Bench:
    conn: Connection
    home: Path
    read_db: str
    started: list[Member] = field(default_factory=list)


@pytest.fixture(scope="module")
def bench(
    conn: Connection, registered: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bench]:
    """One gateway and one projector (fresh database, fresh group) for the whole module."""
    ops.apply_topics(conn, ops.plan_topics(conn))
    home = tmp_path_factory.mktemp("workers")
    read_db = f"sqlite:///{home / 'read.db'}"
    env = {
        "COURTBUS_STORE_URL": read_db,
        "COURTBUS_PROJECTOR_GROUP": f"projector-{uuid.uuid4().hex[:6]}",
    }
    procs = [
        ServiceProcess("services.projector", conn, home / "projector.log", "consuming", env),
        ServiceProcess(
            "services.gateway", conn, home / "gateway.log", "courtbus-gateway consuming"
        ),
    ]
    for p in procs:
        p.start()
    yield Bench(conn, home, read_db)
    for p in procs:
        p.stop()


class Member:
    """One delegation worker process and its own log (all logs share one state folder)."""

    def __init__(self, bench: Bench, env: dict[str, str]) -> None:
        self.name = f"delegation-{len(bench.started)}"
        self.log = bench.home / f"{self.name}.log"
        self.proc = ServiceProcess(
            "services.delegation", bench.conn, self.log, f"{GROUP} consuming", env
        )

    def start(self) -> None:
        self.proc.start()

    def mark(self) -> int:
        """Where the log ends now: later waits only look at lines written after it."""
        return self.log.stat().st_size if self.log.exists() else 0

    def since(self, mark: int) -> str:
        with self.log.open("rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", errors="replace")

    def wait_for(
        self, pattern: re.Pattern[str], mark: int, timeout_s: float, what: str = ""
    ) -> re.Match[str]:
        """The first match of ``pattern`` in the log written after ``mark`` (or fail)."""

        def found() -> re.Match[str] | None:
            return next(pattern.finditer(self.since(mark)), None)

        return _wait(found, timeout_s, f"{what or pattern.pattern!r} in {self.name}.log")

    def wait_open_transaction(self, timeout_s: float = 60) -> int:
        """Wait for a NEW transaction with outputs to be open in this worker; its output count."""
        mark = self.mark()

        def open_with_outputs() -> int | None:
            counts = [int(m.group(1)) for m in TXN_OPEN.finditer(self.since(mark))]
            return next((c for c in counts if c > 0), None)

        return _wait(open_with_outputs, timeout_s, f"an open transaction in {self.name}")

    @property
    def pid(self) -> int:
        assert self.proc.proc is not None
        return self.proc.proc.pid

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)


@pytest.fixture
def workers(bench: Bench) -> Iterator[Callable[..., Member]]:
    """Start delegation workers; every one started by the test is stopped after it."""
    mine: list[Member] = []

    def start(env: dict[str, str] | None = None) -> Member:
        member = Member(bench, env or {})
        bench.started.append(member)
        mine.append(member)
        mark = member.mark()
        member.start()
        member.wait_for(RESTORED, mark, 90, "its first assignment")
        return member

    yield start
    for member in mine:
        if member.proc.proc is not None and member.proc.proc.poll() is None:
            member.signal(signal.SIGCONT)  # a test that failed may have left one stopped
        member.proc.stop()


# -- the stream of requests --------------------------------------------------------------------


class Stream(threading.Thread):
    """Sends ``ids`` steadily from court 3205 to 6104; waits at ``gates`` (index → event) so
    the scenario's steps happen while the stream still flows."""

    def __init__(self, conn: Connection, ids: list[str], gates: dict[int, threading.Event]):
        super().__init__(daemon=True)
        self.conn, self.ids, self.gates = conn, ids, gates
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with CourtClient("3205", self.conn) as court:
                for i, did in enumerate(self.ids):
                    gate = self.gates.get(i)
                    if gate is not None and not gate.wait(timeout=180):
                        raise AssertionError(f"gate at request {i} never opened")
                    time.sleep(INTERVAL_S)
                    court.delegation.request_delegation(
                        delegation_id=did,
                        case_number="(2024)苏05执500号",
                        executing_court="6104",
                        matter="SEARCH",
                        debtor={"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
                    )
                    self.sent = i + 1
        except BaseException as exc:  # reported by the test
            self.error = exc

    def reached(self, count: int, timeout_s: float = 120) -> None:
        def ok() -> bool:
            if self.error is not None:
                raise AssertionError(f"the stream failed: {self.error!r}")
            return self.sent >= count

        _wait(ok, timeout_s, f"{count} requests sent")

    def finish(self, timeout_s: float = 180) -> None:
        self.join(timeout=timeout_s)
        assert not self.is_alive(), f"the stream is stuck at {self.sent} of {len(self.ids)}"
        assert self.error is None, f"the stream failed: {self.error!r}"
        assert self.sent == len(self.ids)


def _ids(kind: str) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"dlg-{kind}-{tag}-{i:03d}" for i in range(N)]


# -- counting, once settled ---------------------------------------------------------------------


@dataclass
class Counts:
    exec_inbox: Counter[tuple[str, str]] = field(default_factory=Counter)  # (id, ce_type)
    req_inbox: Counter[tuple[str, str]] = field(default_factory=Counter)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    decided: Counter[tuple[str, str, bool]] = field(default_factory=Counter)  # (id, step, ok)
    dead: Counter[str] = field(default_factory=Counter)


class Tally:
    """Reads the inboxes, the flow topic and the dead letters, counting records of ``ids``."""

    def __init__(self, conn: Connection, envelope: Envelope, ids: list[str]) -> None:
        self.conn = conn
        self.ids = set(ids)
        self.envelope = envelope
        self.reader = TopicReader(conn, EXEC_INBOX, REQ_INBOX, EVENTS, DEADLETTER)
        self.counts = Counts()
        self.last: dict[TopicPartition, list[int]] = {}  # flow topic: data offsets read
        self._seen = 0

    def poll(self) -> Counts:
        self.reader.poll()
        new = self.reader.records[self._seen :]
        self._seen = len(self.reader.records)
        c = self.counts
        for rec in new:
            if rec.topic == EVENTS:
                self.last.setdefault(TopicPartition(EVENTS, rec.partition), []).append(rec.offset)
            did = bytes(rec.key or b"").decode()
            if did not in self.ids:
                continue
            ce_type = header(rec, "ce_type") or ""
            if rec.topic == EXEC_INBOX:
                c.exec_inbox[(did, ce_type)] += 1
            elif rec.topic == REQ_INBOX:
                c.req_inbox[(did, ce_type)] += 1
            elif rec.topic == DEADLETTER:
                c.dead[did] += 1
            else:
                c.events[(did, ce_type)] += 1
                if ce_type == CE["DelegationDecided"]:
                    payload = self.envelope.read(rec).payload
                    c.decided[(did, str(payload["step"]), bool(payload["applied"]))] += 1
        return c

    def complete(self) -> bool:
        c = self.poll()
        return all(
            c.exec_inbox[(d, CE["DelegationRequested"])]
            and c.req_inbox[(d, CE["DelegationDelivered"])]
            and c.events[(d, CE["DelegationDelivered"])]
            and c.decided[(d, "DelegationRequested", True)]
            and c.decided[(d, "DelegationDelivered", True)]
            for d in self.ids
        )

    def read_to_end(self) -> dict[TopicPartition, int]:
        """Poll until the reader has every record committed now; the end offsets."""
        consumer = self.reader.consumer
        parts = list(consumer.assignment())
        ends: dict[TopicPartition, int] = consumer.end_offsets(parts)

        def there() -> bool:
            self.poll()
            return all(consumer.position(tp) >= ends[tp] for tp in parts)

        _wait(there, 60, "the reader to reach the end offsets")
        return ends

    def group_settled(self, admin: KafkaAdminClient, report: dict[str, Any]) -> bool:
        """The group's committed offsets cover every data record of the flow topic.

        The worker commits (last record + 1), and a transaction's commit marker may follow:
        a committed offset short of the end offset by control records only is settled.
        """
        committed = admin.list_group_offsets({GROUP: None})[GROUP]
        ends = self.read_to_end()
        gaps = {}
        for tp, end in ends.items():
            if tp.topic != EVENTS:
                continue
            at = committed[tp].offset if tp in committed else 0
            if at > end or any(at <= o < end for o in self.last.get(tp, ())):
                return False
            gaps[tp.partition] = end - at
        report["end minus committed"] = gaps
        return True

    def settle(self, timeout_s: float = 180) -> Counts:
        _wait(self.complete, timeout_s, "every expected record")
        admin = KafkaAdminClient(**self.conn.kafka_settings())
        try:
            report: dict[str, Any] = {}
            _wait(lambda: self.group_settled(admin, report), 120, f"{GROUP} to commit it all")
            print(f"\nsettled: {report}")
        finally:
            admin.close()
        self.read_to_end()  # anything a late transaction committed is in by now
        return self.counts

    def close(self) -> None:
        self.reader.close()


def _check_exact(conn: Connection, envelope: Envelope, bench: Bench, ids: list[str]) -> None:
    """Each id: delivered once, one receipt, one DelegationDelivered and two decisions on the
    bus, no dead letter; in SQL state DELIVERED with the two applied steps once each."""
    tally = Tally(conn, envelope, ids)
    try:
        c = tally.settle()
    finally:
        tally.close()
    requested, delivered, decided = (
        CE["DelegationRequested"],
        CE["DelegationDelivered"],
        CE["DelegationDecided"],
    )
    want = set(ids)
    assert Counter(c.exec_inbox) == Counter({(d, requested): 1 for d in want}), (
        "court 6104 got each request exactly once, and nothing else for these ids: "
        f"{_odd(c.exec_inbox)}"
    )
    assert Counter(c.req_inbox) == Counter({(d, delivered): 1 for d in want}), (
        f"court 3205 got exactly one receipt per request: {_odd(c.req_inbox)}"
    )
    expected_events = Counter(
        {(d, t): n for d in want for t, n in ((requested, 1), (delivered, 1), (decided, 2))}
    )
    assert Counter(c.events) == expected_events, (
        f"{EVENTS}: one request, one receipt, two decisions per id: {_odd(c.events, expected_events)}"
    )
    expected_decided = Counter(
        {
            (d, step, True): 1
            for d in want
            for step in ("DelegationRequested", "DelegationDelivered")
        }
    )
    assert Counter(c.decided) == expected_decided, _odd(c.decided, expected_decided)
    assert not c.dead, f"dead letters for these ids: {dict(c.dead)}"

    model = ReadModelQueries(bench.read_db)
    try:

        def projected() -> bool:
            rows = [model.delegation(d) for d in ids]
            return all(r is not None and r.state == "DELIVERED" for r in rows) and all(
                len(model.history(d)) >= 2 for d in ids
            )

        _wait(projected, 120, "the read model to have every delegation DELIVERED")
        for did in ids:
            row = model.delegation(did)
            assert row is not None and row.state == "DELIVERED", (did, row)
            steps = [(h.record, h.state_after, h.applied) for h in model.history(did)]
            assert steps == [
                ("DelegationRequested", "REQUESTED", True),
                ("DelegationDelivered", "DELIVERED", True),
            ], (did, steps)
    finally:
        model.close()


def _odd(counts: Counter[Any], expected: Counter[Any] | None = None) -> str:
    """What differs from one each (or ``expected``), briefly."""
    wrong: dict[Any, Any]
    if expected is None:
        wrong = {k: n for k, n in counts.items() if n != 1}
    else:
        keys = set(counts) | set(expected)
        wrong = {
            k: (counts.get(k, 0), expected.get(k, 0))
            for k in keys
            if counts.get(k, 0) != expected.get(k, 0)
        }
    return f"{len(wrong)} differ, e.g. {list(wrong.items())[:5]}"


# -- the scenarios ------------------------------------------------------------------------------


@pytest.mark.timeout(420)
def test_two_then_three_workers_and_a_sigkill_inside_a_transaction(
    bench: Bench, workers: Callable[..., Member], conn: Connection, envelope: Envelope
) -> None:
    started = time.monotonic()
    a = workers(HOLD_OPEN)
    b = workers(HOLD_OPEN)
    ids = _ids("two3")
    third_added, killed = threading.Event(), threading.Event()
    stream = Stream(conn, ids, {150: third_added, 230: killed})
    stream.start()

    stream.reached(60)
    c = workers(HOLD_OPEN)  # joins mid-stream: a rebalance to 2 + 2 + 2
    third_added.set()

    stream.reached(150)
    outputs = b.wait_open_transaction()
    b.proc.kill()  # SIGKILL inside an open transaction (it holds `outputs` outputs)
    killed.set()
    assert stream.is_alive(), "the stream must still flow when the worker is killed"
    mark = b.mark()
    b.start()  # takes its slot back, with its transactional id: the open one is aborted
    b.wait_for(RESTORED, mark, 90, "the restarted worker's assignment")

    stream.finish()
    _check_exact(conn, envelope, bench, ids)
    assert a.proc.proc is not None and a.proc.proc.poll() is None
    assert c.proc.proc is not None and c.proc.proc.poll() is None
    print(f"killed inside a transaction of {outputs} outputs; {time.monotonic() - started:.0f}s")


@pytest.mark.timeout(420)
def test_scale_one_to_three_to_one_mid_stream(
    bench: Bench, workers: Callable[..., Member], conn: Connection, envelope: Envelope
) -> None:
    started = time.monotonic()
    a = workers()
    ids = _ids("scale")
    scaled_up, scaled_down = threading.Event(), threading.Event()
    stream = Stream(conn, ids, {150: scaled_up, 230: scaled_down})
    stream.start()

    stream.reached(60)
    b = workers()
    c = workers()
    scaled_up.set()

    stream.reached(150)
    mark = a.mark()
    marks = [m.mark() for m in (b, c)]
    for m in (b, c):
        m.signal(signal.SIGTERM)  # finish the batch, leave the group
    for m, m_mark in zip((b, c), marks, strict=True):
        assert m.proc.proc is not None
        try:  # one SIGTERM only: a second one during interpreter shutdown would kill it
            code = m.proc.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0, f"{m.name} did not stop cleanly ({code}):\n{m.since(m_mark)[-3000:]}"
    _wait(
        lambda: any(int(n) == 6 for n in RESTORED.findall(a.since(mark))),
        90,
        "the remaining worker to own all 6 tasks",
    )
    scaled_down.set()
    assert stream.is_alive(), "the stream must still flow when the workers leave"

    stream.finish()
    _check_exact(conn, envelope, bench, ids)
    print(f"1 -> 3 -> 1 in {time.monotonic() - started:.0f}s")


@pytest.mark.timeout(420)
def test_a_stopped_worker_cannot_commit_after_its_partitions_moved(
    bench: Bench, workers: Callable[..., Member], conn: Connection, envelope: Envelope
) -> None:
    started = time.monotonic()
    a = workers(HOLD_OPEN)
    b = workers(HOLD_OPEN)
    ids = _ids("zombie")
    taken_over, resumed = threading.Event(), threading.Event()
    stream = Stream(conn, ids, {200: taken_over, 260: resumed})
    stream.start()

    stream.reached(60)
    outputs = a.wait_open_transaction()
    b_mark = b.mark()
    a.signal(signal.SIGSTOP)  # a zombie holding an open transaction with outputs and offsets
    stopped_at = time.monotonic()
    _wait(
        lambda: any(int(n) == 6 for n in RESTORED.findall(b.since(b_mark))),
        120,
        "the other worker to own all 6 tasks",
    )
    took_over = time.monotonic() - stopped_at
    taken_over.set()
    assert stream.is_alive(), "records still flow"
    stream.reached(stream.sent + 20)  # the other worker goes on alone for a while

    a_mark = a.mark()
    a.signal(signal.SIGCONT)
    resumed.set()
    rejoined = a.wait_for(
        re.compile(f"{REJOIN.pattern}|{RESTORED.pattern}"), a_mark, 120, "the zombie to rejoin"
    )
    stream.finish()
    _check_exact(conn, envelope, bench, ids)
    after = a.since(a_mark)
    print(
        f"zombie held {outputs} outputs; taken over after {took_over:.1f}s; "
        f"its first word after SIGCONT: {rejoined.group(0)!r}; "
        f"{time.monotonic() - started:.0f}s\n--- zombie log after SIGCONT ---\n{after[:3000]}"
    )
