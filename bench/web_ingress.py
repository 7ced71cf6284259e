"""REST ingress: POSTs/s and latency of the web API, beside the SDK path it calls and Kafka's
ProducerPerformance, in one run (issue 19). Imports no web framework: the clients are stdlib
``http.client``, the API runs as its own process (``python -m services.web``).

On a private stack (one broker, memory registry): Kafka's ProducerPerformance first (acks=all,
idempotent, the records' size: the broker's limit), then the API on a free port below 32768
with a tokens file of its own (one token per court), then for each client count of
``--clients`` (default ``1,8``):

1. **REST**: that many threads, each with one keep-alive connection, POST ``--records``
   ``DelegationRequested`` records between them to ``/v1/courts/{court}/outbox`` (courts
   320583, 3205, 4408, 4409, each record its own ``id`` and ``delegation_id``; JSON values as
   the tests post them). Latency per POST: request written → answer read; the rate: records
   ÷ first request → last answer.
2. **SDK**: the same records (new ids) sent by ``CourtClient.send_record`` directly, one
   client per court shared by the threads, as the API holds them: the same count of threads,
   each send timed.

Not counted: a warm-up of each (``--warmup``). After the measured phases: ``--retries``
records already posted are POSTed again with the same id and body (each must answer ``200``
with the first answer's partition and offset); Kafka's ProducerPerformance again, paced at
the REST rate of the largest client count with the SDK clients' linger, for its per-record
latency at that load; with py-spy installed (``pip install py-spy``; ``--no-profile``: not)
one more REST phase at the largest client count under ``py-spy record --gil`` of the API
process (samples of whichever thread holds the GIL: where its Python CPU goes; a phase of its
own, so the profiler's cost is in no figure), its top functions printed. Last, every outbox
is read back (read_committed): its ``ce_id``s must be exactly the ids posted and sent, each
once (none lost, none twice, a retry not sent again).

Printed: per phase posts/s, p50/p95/p99/max, the CPU the API process, this process (the
clients, or the SDK) and the broker used per record, the ratio REST ÷ SDK; Kafka's figures; the
load average. ``--json PATH`` (``bench.common.write_json``): ``web_rest_rec_s_<c>``,
``web_rest_p50_ms_<c>``/``p99``, ``web_sdk_rec_s_<c>``, ``web_sdk_p50_ms_<c>``/``p99``,
``web_rest_sdk_ratio_<c>``, ``web_rest_cpu_us_per_post_<c>`` (the API process),
``web_producer_perf_rec_s`` and its latencies, ``web_missing``, ``web_duplicates``, …

``python -m bench.web_ingress [--records 4000] [--clients 1,8] [--retries 50] [--no-profile]
[--json PATH]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from bench.common import (
    Bench,
    Service,
    add_json_option,
    cpu_seconds,
    kafka_tool,
    load,
    percentile,
    private_stack,
    say,
    service_env,
    write_json,
)
from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.web import tokens as web_tokens
from courtbus.wire import values as v
from courtbus.wire.client import SDK_LINGER_MS
from courtbus.wire.event_ids import bound_event_id
from tests.ports import free_block

RECORD = "cn.court.bus.delegation.DelegationRequested"
COURTS = ("320583", "3205", "4408", "4409")  # senders; each asks court 6101 (西安) to freeze
EXECUTING = "6101"
PP_RECORDS = 200_000  # ProducerPerformance at full speed


@dataclass(frozen=True)
class Item:
    """One record to send: its court, ``ce_id`` and payload (Python values, as the SDK takes
    them); ``body()`` is the POST body (JSON values, as a court's system would send them)."""

    court: str
    event_id: str
    payload: dict[str, Any]

    def body(self) -> bytes:
        values = json.loads(json.dumps(self.payload, default=str))
        return json.dumps({"type": RECORD, "id": self.event_id, "payload": values}).encode()


def items(count: int, tag: str, courts: Sequence[str] = COURTS) -> list[Item]:
    """``count`` delegation requests, round-robin over ``courts``, each its own id."""
    now = v.now()
    found = []
    for i in range(count):
        court = courts[i % len(courts)]
        designation = v.court(court)["designation"]
        payload = {
            "delegation_id": f"dlg-{court}-{tag}-{i:07d}",
            "case_number": v.case_number(f"(2024){designation}执{1000 + i % 9000}号"),
            "requesting_court": v.court(court),
            "executing_court": v.court(EXECUTING),
            "matter": "FREEZE",
            "debtor": v.debtor("PERSON", "张三", PERSON_ID),
            "asset_kind": "DEPOSIT",
            "asset_description": "西安某银行账户存款",
            "amount": v.money("120000.00"),
            "freeze_period_days": 365,
            "requested_at": now,
            "note": None,
        }
        # a ce_id bound to the record's key (the delegation id), which the API and the SDK
        # keep as it is: what the outbox holds is the id sent (an unbound one is re-made)
        found.append(Item(court, bound_event_id(str(payload["delegation_id"]).encode()), payload))
    return found


# -- pure: what a phase measured, the outbox audit, Kafka's and py-spy's output -----------------


@dataclass
class Phase:
    """One measured phase: who sent, how many, how long, each record's latency (ms)."""

    name: str  # "REST" or "SDK"
    clients: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    answers: dict[str, tuple[int, int]] = field(default_factory=dict)  # id → partition, offset
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0  # REST: a connection the server closed, the POST retried on a new one
    cpu_s: dict[str, float] = field(default_factory=dict)  # process → CPU seconds it used
    load: str = ""

    @property
    def rate(self) -> float:
        """Records acknowledged a second, first send → last answer."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """The ``q``-quantile of the latencies (ms)."""
        return percentile(sorted(self.latencies_ms), q)

    def cpu_us(self, process: str) -> float:
        """µs of ``process``'s CPU per record."""
        done = len(self.latencies_ms)
        return self.cpu_s.get(process, 0.0) / done * 1e6 if done else float("nan")


@dataclass(frozen=True)
class Audit:
    """What an outbox holds against what was sent: ids missing, ids not sent, ids twice."""

    expected: int
    found: int
    missing: list[str]
    unexpected: list[str]
    duplicates: dict[str, int]

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicates)


def audit(expected: Iterable[str], seen: Iterable[str]) -> Audit:
    """Compare the ``ce_id``s read back with those sent (each must be there exactly once)."""
    want = set(expected)
    counts = Counter(seen)
    return Audit(
        expected=len(want),
        found=sum(counts.values()),
        missing=sorted(want - counts.keys()),
        unexpected=sorted(counts.keys() - want),
        duplicates={k: n for k, n in sorted(counts.items()) if n > 1},
    )


_PP = re.compile(
    r"(?P<records>\d+) records sent, (?P<rate>[\d.]+) records/sec \([\d.]+ MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
    r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99.9th"
)


def parse_producer_performance(text: str) -> dict[str, float]:
    """ProducerPerformance's summary line (its last): records, rate, avg, max, p50 … p999 (ms).

    Raises:
        ValueError: no summary line in ``text``.
    """
    found = list(_PP.finditer(text))
    if not found:
        raise ValueError(f"no ProducerPerformance summary in:\n{text[-2000:]}")
    return {k: float(x) for k, x in found[-1].groupdict().items()}


THREAD_KINDS = (
    ("Sender.run", "kafka-python's sender threads"),
    ("WorkerThread.run", "anyio's worker threads (the sync endpoint)"),
    ("", "the event loop (uvicorn, FastAPI, pydantic)"),
)


def by_thread(raw: str) -> dict[str, float]:
    """py-spy's raw output: the share of samples in each kind of thread of ``THREAD_KINDS``
    (the first whose frame is on the stack)."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            kind = next(k for frame, k in THREAD_KINDS if frame in stack)
            counts[kind] += int(count)
    total = sum(counts.values())
    return {kind: counts[kind] / total for _, kind in THREAD_KINDS} if total else {}


def top_frames(
    raw: str, n: int = 12, *, only: str = "", by_top: bool = False
) -> tuple[int, list[tuple[str, float, float]]]:
    """py-spy's raw output (``frame;frame;… count`` per line, root first): the samples, and
    the ``n`` functions with the largest share of them, each (function, share of samples with
    it on the stack, share with it at the top), by the first share (``by_top``: the second);
    ``only``: functions whose frame names this text (e.g. ``courtbus/``)."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    if not total:
        return 0, []
    first, second = (own, inclusive) if by_top else (inclusive, own)
    ranked = sorted((f for f in inclusive if only in f), key=lambda f: (-first[f], -second[f], f))[
        :n
    ]
    return total, [(f, inclusive[f] / total, own[f] / total) for f in ranked]


# -- the phases ---------------------------------------------------------------------------------


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def _timed(
    phase: Phase,
    work: Sequence[Item],
    threads: int,
    one: Callable[[Any, Item], tuple[int, int]],
    open_: Callable[[], Any],
    close: Callable[[Any], None],
    pids: dict[str, int],
) -> Phase:
    """Run ``one(conn, item)`` over ``work`` in ``threads`` threads (each its share, each its
    ``open_()`` connection), timing each call; the CPU ``pids`` used meanwhile."""
    start = threading.Barrier(threads + 1)
    lock = threading.Lock()
    spans: list[tuple[float, float]] = []

    def worker(share: Sequence[Item]) -> None:
        conn = open_()
        mine: list[tuple[str, float, tuple[int, int]]] = []
        errors: list[str] = []
        start.wait()
        first = last = time.perf_counter()
        for item in share:
            began = time.perf_counter()
            try:
                ack = one(conn, item)
            except Exception as exc:  # counted and printed: the run goes on
                errors.append(f"{item.event_id}: {exc}")
                continue
            last = time.perf_counter()
            mine.append((item.event_id, (last - began) * 1000, ack))
        close(conn)
        with lock:
            spans.append((first, last))
            phase.errors.extend(errors)
            for event_id, ms, ack in mine:
                phase.latencies_ms.append(ms)
                phase.answers[event_id] = ack

    pool = [
        threading.Thread(target=worker, args=(work[k::threads],), daemon=True)
        for k in range(threads)
    ]
    for t in pool:
        t.start()
    before = _cpu(pids)
    start.wait()
    for t in pool:
        t.join()
    after = _cpu(pids)
    phase.seconds = max(e for _, e in spans) - min(s for s, _ in spans)
    phase.cpu_s = {name: after[name] - before[name] for name in pids}
    phase.load = load()
    return phase


class Poster:
    """POSTs to the API: one keep-alive connection per thread, a token per court."""

    def __init__(self, port: int, tokens: dict[str, str]) -> None:
        self.port, self.tokens = port, tokens
        self.reconnects = 0

    def open(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def post(self, conn: http.client.HTTPConnection, item: Item) -> tuple[int, dict[str, Any]]:
        """POST ``item``: (status, answer). A connection the server closed is reopened and
        the POST sent again, with the same id (the API's idempotency)."""
        headers = {
            "Authorization": f"Bearer {self.tokens[item.court]}",
            "Content-Type": "application/json",
        }
        body = item.body()
        for attempt in range(3):
            try:
                conn.request("POST", f"/v1/courts/{item.court}/outbox", body, headers)
                answer = conn.getresponse()
                return answer.status, json.loads(answer.read() or b"{}")
            except (http.client.HTTPException, ConnectionError):
                if attempt == 2:
                    raise
                self.reconnects += 1
                conn.close()
                conn.connect()
        raise AssertionError("unreachable")

    def send(self, conn: http.client.HTTPConnection, item: Item) -> tuple[int, int]:
        status, answer = self.post(conn, item)
        if status != 201:
            raise RuntimeError(f"{status} {answer}")
        return int(answer["partition"]), int(answer["offset"])


def rest_phase(poster: Poster, work: Sequence[Item], threads: int, pids: dict[str, int]) -> Phase:
    """``work`` POSTed by ``threads`` clients."""
    before = poster.reconnects
    phase = _timed(
        Phase("REST", threads), work, threads, poster.send, poster.open, lambda c: c.close(), pids
    )
    phase.reconnects = poster.reconnects - before
    return phase


def sdk_phase(
    clients: dict[str, CourtClient], work: Sequence[Item], threads: int, pids: dict[str, int]
) -> Phase:
    """``work`` sent by ``CourtClient.send_record`` from ``threads`` threads."""

    def one(_conn: None, item: Item) -> tuple[int, int]:
        sent = clients[item.court].send_record(RECORD, item.payload, event_id=item.event_id)
        return sent.partition, sent.offset

    return _timed(Phase("SDK", threads), work, threads, one, lambda: None, lambda _c: None, pids)


def outbox_ids(conn: Connection, topics: Sequence[str], timeout_s: float = 120) -> list[str]:
    """The ``ce_id`` of every record of ``topics`` (read_committed, up to their ends now)."""
    consumer = KafkaConsumer(
        **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        parts = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        found: list[str] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=200).values():
                found.extend((dict(r.headers).get("ce_id") or b"").decode() for r in records)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{', '.join(topics)}: not read to their ends in {timeout_s}s")
        return found
    finally:
        consumer.close()


def producer_performance(
    bootstrap: str, topic: str, records: int, size: int, throughput: int = -1, linger_ms: int = 5
) -> dict[str, float]:
    """Kafka's ProducerPerformance, acks=all, idempotent: at full speed (``throughput`` -1)
    with Kafka's default linger of 5 ms, the broker's limit; paced with the SDK clients' linger
    (``SDK_LINGER_MS``), its latency at that rate."""
    out = kafka_tool(
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(size),
        "--throughput",
        str(throughput),
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        f"linger.ms={linger_ms}",
    )
    return parse_producer_performance(out)


def py_spy() -> str | None:
    """py-spy beside this Python, or on PATH, if installed."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile_rest(
    spy: str, web: Service, poster: Poster, work: Sequence[Item], threads: int, out: Path
) -> tuple[Phase, str]:
    """``work`` POSTed under ``py-spy record --gil`` of the API process (samples of the thread
    holding the GIL, 100 a second): the phase, the raw samples."""
    cmd = [
        spy,
        "record",
        "-p",
        str(web.pid),
        "-f",
        "raw",
        "-F",
        "--gil",
        "-r",
        "100",
        "-o",
        str(out),
    ]
    with (out.parent / "py-spy.log").open("wb") as log:
        spy_proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(1.0)  # attached
        phase = rest_phase(poster, work, threads, {})
        spy_proc.send_signal(signal.SIGINT)
        spy_proc.wait(timeout=60)
    return phase, out.read_text() if out.exists() else ""


# -- the run ------------------------------------------------------------------------------------


def start_web(bench: Bench) -> tuple[Service, Poster]:
    """The API as its own process on a free port, with a tokens file of its own."""
    path = bench.home / "web" / "tokens.yaml"
    tokens = {court: web_tokens.issue(f"court.{court}", path) for court in COURTS}
    port = free_block(1)
    env = service_env(
        bench, bench.home / "state", COURTBUS_WEB_PORT=str(port), COURTBUS_WEB_TOKENS=str(path)
    )
    web = Service("services.web", env, bench.home / "web.log")
    web.start()
    web.wait_for(r"web API on http")
    deadline = time.monotonic() + 60
    while True:  # uvicorn binds after the log line
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(
                "GET", "/v1/whoami", headers={"Authorization": f"Bearer {tokens[COURTS[0]]}"}
            )
            if conn.getresponse().status == 200:
                conn.close()
                break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the API did not answer on {port}:\n{web.text()[-2000:]}"
                ) from None
            time.sleep(0.2)
    say(f"API up on 127.0.0.1:{port} (pid {web.pid})")
    return web, Poster(port, tokens)


def phase_line(p: Phase, procs: Sequence[str]) -> str:
    """How a phase is printed."""
    cpu = ", ".join(f"{name} {p.cpu_us(name):,.0f}" for name in procs if name in p.cpu_s)
    errs = f"; {len(p.errors)} ERRORS" if p.errors else ""
    again = f"; {p.reconnects} reconnects" if p.reconnects else ""
    return (
        f"  {p.name:<4} {p.clients:>2} clients: {p.rate:>7,.0f} records/s "
        f"({len(p.latencies_ms):,} in {p.seconds:.1f} s); p50 {p.pct(0.5):,.1f} ms, "
        f"p95 {p.pct(0.95):,.1f} ms, p99 {p.pct(0.99):,.1f} ms, max {p.pct(1.0):,.1f} ms; "
        f"CPU µs/record: {cpu}{errs}{again} | {p.load}"
    )


def retry(poster: Poster, work: Sequence[Item], answers: dict[str, tuple[int, int]]) -> list[str]:
    """POST ``work`` again (same ids, same bodies): each must answer ``200`` with the
    partition and offset of its first answer. What did not."""
    conn = poster.open()
    wrong = []
    try:
        for item in work:
            status, answer = poster.post(conn, item)
            got = (answer.get("partition"), answer.get("offset"))
            if status != 200 or got != answers[item.event_id]:
                wrong.append(
                    f"{item.event_id}: {status} {answer} (first: {answers[item.event_id]})"
                )
    finally:
        conn.close()
    return wrong


@dataclass
class Measured:
    """Everything one run measured."""

    size: int
    pp: dict[str, float]
    pp_paced: dict[str, float] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    retried: int = 0
    retry_errors: list[str] = field(default_factory=list)
    found: Audit | None = None
    profile: Phase | None = None
    samples: str = ""


def measure(bench: Bench, args: argparse.Namespace, counts: Sequence[int]) -> Measured:
    """Kafka's limit; the API; warm-up, REST and SDK at each client count; retries; Kafka
    paced; the profiled phase; the outboxes read back."""
    outboxes = [f"court.{c}.outbox" for c in COURTS]
    with CourtClient(COURTS[0], bench.conn) as probe:
        sample = items(1, "size")[0]
        size = len(
            probe.sender.envelope.build(
                outboxes[0], RECORD, sample.payload, f"court:{COURTS[0]}"
            ).value
            or b""
        )
    admin = bench.admin()
    try:
        parts = len(admin.describe_topics([outboxes[0]])[0]["partitions"])
        admin.create_topics([NewTopic("bench.web.raw", parts, 1)])
    finally:
        admin.close()
    say(f"ProducerPerformance: {PP_RECORDS:,} records of {size} bytes, acks=all, idempotent")
    m = Measured(
        size, producer_performance(bench.conn.bootstrap, "bench.web.raw", PP_RECORDS, size)
    )
    sent: list[str] = []
    web, poster = start_web(bench)
    clients = {court: CourtClient(court, bench.conn) for court in COURTS}
    try:
        pids = {
            "API": web.pid,
            "bench": os.getpid(),
            **{f"broker{i}": b.pid for i, b in enumerate(bench.state.brokers, 1)},
        }
        say(f"warm-up: {args.warmup} records by REST, {args.warmup} by the SDK (not counted)")
        sent += rest_phase(poster, items(args.warmup, "warm-rest"), 4, {}).answers
        sent += sdk_phase(clients, items(args.warmup, "warm-sdk"), 4, {}).answers
        first: tuple[list[Item], Phase] | None = None
        for c in counts:
            say(f"REST: {args.records:,} records, {c} clients")
            work = items(args.records, f"rest{c}")
            phase = rest_phase(poster, work, c, pids)
            first = first or (work, phase)
            m.phases.append(phase)
            say(f"SDK: {args.records:,} records, {c} threads")
            m.phases.append(sdk_phase(clients, items(args.records, f"sdk{c}"), c, pids))
        for phase in m.phases:
            sent += phase.answers
        assert first is not None  # counts is never empty
        redo = [i for i in first[0] if i.event_id in first[1].answers][: args.retries]
        say(f"retrying {len(redo)} POSTs with their ids and bodies")
        m.retried, m.retry_errors = len(redo), retry(poster, redo, first[1].answers)
        biggest = max(counts)
        at = max(
            1, round(next(p.rate for p in m.phases if p.name == "REST" and p.clients == biggest))
        )
        say(f"ProducerPerformance paced at {at:,}/s (REST's rate at {biggest} clients)")
        m.pp_paced = producer_performance(
            bench.conn.bootstrap, "bench.web.raw", max(at * 10, 1000), size, at, SDK_LINGER_MS
        )
        spy = py_spy()
        if spy and not args.no_profile:
            say(f"profiling the API (py-spy) over {args.records:,} POSTs, {biggest} clients")
            m.profile, m.samples = profile_rest(
                spy, web, poster, items(args.records, "prof"), biggest, bench.home / "web.pyspy.raw"
            )
            sent += m.profile.answers
        elif not spy:
            say("py-spy is not installed (pip install py-spy): no profile")
        say("reading the outboxes back")
        m.found = audit(sent, outbox_ids(bench.conn, outboxes))
    finally:
        for client in clients.values():
            client.close()
        web.stop()
    return m


def report(m: Measured, counts: Sequence[int], records: int) -> dict[str, Any]:
    """Print the figures; the figures for ``write_json``."""
    pp, paced = m.pp, m.pp_paced
    print(
        f"web ingress: POST /v1/courts/{{court}}/outbox (DelegationRequested, {m.size}-byte "
        f"Avro value, {len(COURTS)} courts, JSON body) beside CourtClient.send_record, the "
        f"path the API calls; {records:,} records per phase; 1 broker, acks=all"
    )
    print(
        f"  Kafka ProducerPerformance (acks=all, idempotent, linger 5 ms, same size, same "
        f"stack): {pp['rate']:,.0f} records/s, p50 {pp['p50']:.0f} ms, p99 {pp['p99']:.0f} ms"
    )
    if paced:
        print(
            f"  Kafka ProducerPerformance paced at {paced['rate']:,.0f}/s, linger "
            f"{SDK_LINGER_MS} ms as the SDK's: p50 "
            f"{paced['p50']:.0f} ms, p99 {paced['p99']:.0f} ms, avg {paced['avg']:.1f} ms"
        )
    figures: dict[str, Any] = {
        "web_records": records,
        "web_record_bytes": m.size,
        "web_courts": len(COURTS),
        **{f"web_producer_perf_{k}": x for k, x in pp.items()},
        **{f"web_producer_perf_paced_{k}": x for k, x in paced.items()},
    }
    figures["web_producer_perf_rec_s"] = pp["rate"]
    procs = ["API", "bench", "broker1"]
    for c in counts:
        rest, sdk = (
            next(p for p in m.phases if p.name == n and p.clients == c) for n in ("REST", "SDK")
        )
        print(phase_line(rest, procs))
        print(phase_line(sdk, procs))
        ratio = rest.rate / sdk.rate if sdk.rate else float("nan")
        print(
            f"       REST ÷ SDK at {c} clients: {ratio:.2f}× the rate, p99 "
            f"{rest.pct(0.99) / sdk.pct(0.99):.1f}× ; REST ÷ ProducerPerformance "
            f"{rest.rate / pp['rate']:.4f}×"
        )
        for p in (rest, sdk):
            key = f"web_{p.name.lower()}"
            figures.update(
                {
                    f"{key}_rec_s_{c}": p.rate,
                    f"{key}_p50_ms_{c}": p.pct(0.5),
                    f"{key}_p95_ms_{c}": p.pct(0.95),
                    f"{key}_p99_ms_{c}": p.pct(0.99),
                    f"{key}_max_ms_{c}": p.pct(1.0),
                    f"{key}_errors_{c}": len(p.errors),
                    f"{key}_load_{c}": p.load,
                    **{f"{key}_cpu_us_{n.replace(' ', '')}_{c}": p.cpu_us(n) for n in p.cpu_s},
                }
            )
        figures[f"web_rest_sdk_ratio_{c}"] = ratio
        figures[f"web_rest_cpu_us_per_post_{c}"] = rest.cpu_us("API")
        for err in (rest.errors + sdk.errors)[:10]:
            print(f"    error: {err}")
    biggest = max(counts)
    figures["web_rest_rec_s"] = figures[f"web_rest_rec_s_{biggest}"]
    figures["web_rest_p99_ms"] = figures[f"web_rest_p99_ms_{biggest}"]
    figures["web_sdk_rec_s"] = figures[f"web_sdk_rec_s_{biggest}"]
    figures["web_sdk_p99_ms"] = figures[f"web_sdk_p99_ms_{biggest}"]
    figures["web_rest_sdk_ratio"] = figures[f"web_rest_sdk_ratio_{biggest}"]
    figures["web_rest_cpu_us_per_post"] = figures[f"web_rest_cpu_us_per_post_{biggest}"]
    figures["web_clients"] = biggest
    print(
        f"  retried POSTs (same id, same body): {m.retried}, "
        f"{m.retried - len(m.retry_errors)} answered 200 with the first answer"
    )
    for err in m.retry_errors[:10]:
        print(f"    wrong: {err}")
    found = m.found
    assert found is not None
    print(
        f"  outboxes read back: {found.found:,} records for {found.expected:,} ids sent "
        f"(warm-up and profile included): {len(found.missing)} missing, "
        f"{len(found.duplicates)} twice, {len(found.unexpected)} not sent — "
        f"{'exact' if found.exact else 'NOT EXACT'}"
    )
    figures.update(
        {
            "web_sent_ids": found.expected,
            "web_outbox_records": found.found,
            "web_missing": len(found.missing),
            "web_duplicates": len(found.duplicates),
            "web_unexpected": len(found.unexpected),
            "web_retried": m.retried,
            "web_retry_errors": len(m.retry_errors),
            "web_not_exact": len(found.missing)
            + len(found.duplicates)
            + len(found.unexpected)
            + len(m.retry_errors),
        }
    )
    if m.profile is not None:
        total, top = top_frames(m.samples, 15, by_top=True)
        _, ours = top_frames(m.samples, 15, only="courtbus/")
        print(
            f"  py-spy --gil of the API process (the thread holding the GIL, 100 Hz) while "
            f"{biggest} clients POSTed {len(m.profile.latencies_ms):,} records at {m.profile.rate:,.0f}"
            f"/s under the profiler; {total:,} samples"
        )
        threads = by_thread(m.samples)
        print("    by thread: " + ", ".join(f"{k} {x:.0%}" for k, x in threads.items()))
        print("    on the stack / at its top, by the second:")
        for frame, on_stack, at_top in top:
            print(f"    {on_stack:6.1%} {at_top:6.1%}  {frame[:110]}")
        print("    courtbus's own functions, by the first:")
        for frame, on_stack, at_top in ours:
            print(f"    {on_stack:6.1%} {at_top:6.1%}  {frame[:110]}")
        figures["web_profile_threads"] = threads
        figures["web_profile_top"] = [[f, round(a, 4), round(b, 4)] for f, a, b in top]
        figures["web_profile_courtbus"] = [[f, round(a, 4), round(b, 4)] for f, a, b in ours]
    return figures


def main() -> None:
    """Measure, print, write the figures; exit 1 if a record was lost, twice, or refused."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4000, help="records per phase (4,000)")
    parser.add_argument("--clients", default="1,8", help="client counts (default 1,8)")
    parser.add_argument("--warmup", type=int, default=400, help="records before, not counted")
    parser.add_argument("--retries", type=int, default=50, help="POSTs retried with their id")
    parser.add_argument("--no-profile", action="store_true", help="no py-spy phase")
    add_json_option(parser)
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    with private_stack() as bench:
        m = measure(bench, args, counts)
    write_json(args.json, report(m, counts, args.records))
    assert m.found is not None
    if not m.found.exact or m.retry_errors or any(p.errors for p in m.phases):
        sys.exit(1)


if __name__ == "__main__":
    main()
