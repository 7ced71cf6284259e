"""Shared by the benchmarks: a private stack, services as processes, Kafka's own tools, load,
and for the latency benchmarks a paced sender, an arrival reader and Kafka's EndToEndLatency.

Every benchmark starts its own stack (memory registry, free ports from ``tests.ports``) in a
temporary folder, so it never touches a developer's running stack, and stops it at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing as mp
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from courtbus.app import ops
from courtbus.config import Connection
from courtbus.stack import Stack, StackConfig, StackState, artifacts
from courtbus.wire.schemas import SchemaSet
from tests.ports import free_block

REPO = Path(__file__).resolve().parents[1]


def load() -> str:
    """The machine's load average now, and its core count (the figures depend on both)."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min), {os.cpu_count()} cores"


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json PATH``: where the bench writes its figures (``write_json``)."""
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the figures to this JSON file",
    )


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no such numbers), nested."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_json(
    path: Path | str | None, figures: Mapping[str, Any], *, add_load: bool = True
) -> None:
    """Write a bench's figures to ``path`` (nothing when None): one JSON object, keys sorted.

    Adds ``load`` (the load average now) unless the bench gave it or ``add_load`` is false;
    NaN and infinities become null. Written to a temporary file first and renamed, so a
    reader (``python -m bench``) never sees half a file.
    """
    if path is None:
        return
    target = Path(path)
    data = {**({"load": load()} if add_load else {}), **_finite(dict(figures))}
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)


def say(message: str) -> None:
    """Progress on stderr, so stdout keeps only the figures."""
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Bench:
    """A running private stack with the catalogue's topics and the schemas registered."""

    home: Path
    stack: Stack
    state: StackState
    conn: Connection
    schemas: SchemaSet

    def admin(self) -> KafkaAdminClient:
        """An admin client of this stack (close it)."""
        return KafkaAdminClient(**self.conn.kafka_settings())


@contextmanager
def private_stack(
    nodes: int = 1, keep: bool = False, broker_heap: str | None = None
) -> Iterator[Bench]:
    """Start a stack on free ports, apply the topic catalogue, register the schemas.

    Its folder (logs, state) is deleted afterwards unless ``keep`` or ``BENCH_KEEP=1``.
    ``broker_heap`` (e.g. ``2g``) replaces the stack's default broker heap.
    """
    home = Path(tempfile.mkdtemp(prefix="courtbus-bench-"))
    base = free_block(2 * nodes + 2)
    config = StackConfig(
        home,
        nodes=nodes,
        port_base=base,
        registry_port=base + 2 * nodes,
        registry_storage="memory",
    )
    if broker_heap:
        config = dataclasses.replace(config, broker_heap=broker_heap)
    stack = Stack(config)
    say(f"starting a {nodes}-broker stack in {home}")
    try:
        state = stack.up()
        conn = Connection(state.bootstrap, state.registry_url)
        ops.apply_topics(conn, ops.plan_topics(conn))
        schemas = SchemaSet.load()
        ops.register_schemas(conn.require_registry(), schemas)
        yield Bench(home, stack, state, conn, schemas)
    finally:
        stack.down()
        if keep or os.environ.get("BENCH_KEEP"):
            say(f"kept {home} (logs, state)")
        else:
            shutil.rmtree(home, ignore_errors=True)


def kafka_tool(main_class: str, *args: str, heap: str = "512m", timeout_s: float = 600) -> str:
    """Run one of Kafka's own tools (``org.apache.kafka.tools.*``) and return its stdout."""
    kafka_dir = artifacts.ensure_kafka(artifacts.default_cache_dir())
    cmd = ["java", f"-Xmx{heap}", "-cp", f"{kafka_dir}/*", main_class, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"{main_class} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def consumer_performance(bootstrap: str, topic: str, messages: int, props: Path) -> float:
    """records/s of Kafka's ConsumerPerformance reading ``messages`` records of ``topic``.

    The fetch rate (``fetch.nMsg.sec``: time spent fetching, group join excluded), which is
    what a restore does: read a partition range as fast as the broker hands it out.
    """
    props.write_text("isolation.level=read_committed\nauto.offset.reset=earliest\n")
    out = kafka_tool(
        "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--messages",
        str(messages),
        "--timeout",
        "60000",
        "--consumer.config",
        str(props),
    )
    lines = [ln for ln in out.splitlines() if ln.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    values = [x.strip() for x in lines[-1].split(",")]
    row = dict(zip(header, values, strict=False))
    return float(row["fetch.nMsg.sec"])


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used so far, with the
    processes it started (alive, e.g. the gateway's signature helper; or ended and waited
    for), unless ``pid`` is this process (the bench: its children are the measured services,
    each counted on its own)."""
    ticks = 0
    parents: dict[int, list[int]] = {}
    if pid != os.getpid():
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                after = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended meanwhile
                continue
            parents.setdefault(int(after[1]), []).append(int(stat.parent.name))
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and for another process cutime, cstime (its ended children)
        ticks += sum(int(f) for f in fields[11 : 13 if current == os.getpid() else 15])
        todo += parents.get(current, [])
    return ticks / os.sysconf("SC_CLK_TCK")


class Service:
    """``python -m <module>`` (or a wrapper command) with its log in a file."""

    def __init__(self, module: str, env: dict[str, str], log: Path) -> None:
        self.module, self.env, self.log = module, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self, prefix: Iterable[str] = ()) -> None:
        """Launch; ``prefix`` goes before ``-m <module>`` (e.g. ``-m cProfile -o file``)."""
        self.started = time.perf_counter()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *prefix, "-m", self.module],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, pattern: str, count: int = 1, timeout_s: float = 180) -> re.Match[str]:
        """The ``count``-th match of ``pattern`` in the log (fails if the process ends)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = list(re.finditer(pattern, self.text()))
            if len(found) >= count:
                return found[count - 1]
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.module}: no {pattern!r} in {timeout_s}s:\n{self.text()[-3000:]}"
                )
            time.sleep(0.05)

    def status(self, field: str) -> int:
        """A ``/proc/<pid>/status`` figure in KiB (``VmHWM``: peak RSS, ``VmRSS``: now)."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
        assert match, text
        return int(match.group(1))

    def cpu_s(self) -> float:
        """CPU seconds (user + system, all threads) the process has used so far."""
        return cpu_seconds(self.pid)

    def stop(self, timeout_s: float = 60) -> None:
        """SIGTERM (the worker finishes its batch, leaves its group), SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def service_env(bench: Bench, state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a service process on this stack."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(REPO),
        "COURTBUS_BOOTSTRAP": bench.conn.bootstrap,
        "COURTBUS_REGISTRY_URL": bench.conn.registry_url or "",
        "COURTBUS_STATE_DIR": str(state_dir),
        "COURTBUS_STACK_HOME": str(bench.home),
        **extra,
    }


def count_topic(conn: Connection, topic: str, timeout_s: float = 60) -> int:
    """Records of ``topic`` a read_committed consumer reads up to its current end."""
    consumer = KafkaConsumer(
        **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        seen = 0
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            seen += sum(len(v) for v in consumer.poll(timeout_ms=200).values())
            if time.monotonic() > deadline:
                raise RuntimeError(f"{topic}: not read to its end in {timeout_s}s")
        return seen
    finally:
        consumer.close()


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q * len(sorted_values))))
    return sorted_values[rank - 1]


# -- latency: a paced sender, an arrival reader, Kafka's EndToEndLatency ------------------------

E2E_MESSAGES = 5000


@contextmanager
def running(
    bench: Bench, groups: Mapping[str, str], env: dict[str, str]
) -> Iterator[dict[str, Service]]:
    """``python -m services.<name>`` for each name of ``groups`` (name → consumer group), ready
    once each logged its group restored; stopped (SIGTERM) on leaving. Logs in the stack's home."""
    services = {
        name: Service(f"services.{name}", env, bench.home / f"{name}.log") for name in groups
    }
    try:
        for svc in services.values():
            svc.start()
        for name, svc in services.items():
            svc.wait_for(f"{groups[name]} restored")
        yield services
    finally:
        for svc in services.values():
            svc.stop()


def count_in_logs(services: Mapping[str, Service], pattern: str) -> tuple[int, list[str]]:
    """Lines of the services' logs matching ``pattern`` (case-insensitive): count, lines."""
    lines = [
        f"{name}: {line}"
        for name, svc in services.items()
        for line in svc.text().splitlines()
        if re.search(pattern, line, re.I)
    ]
    return len(lines), lines


def paced(
    rate: int, seconds: float, send: Callable[[int, int], Iterable[str]], most: int = 500
) -> tuple[dict[str, float], float]:
    """Offer ``rate``/s for ``seconds``, open loop: ``send(i, j)`` sends items ``i`` to ``j - 1``
    (every one due by then, at most ``most``; one at a time when the sender keeps up, several
    when a call took longer than the spacing) and returns their keys.

    Returns ({key: wall-clock time just before the call that sent it}, seconds the sending took).
    """
    total = round(rate * seconds)
    sent_at: dict[str, float] = {}
    began = time.monotonic()
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - began) * rate) + 1, i + most)
        if due <= i:
            time.sleep(max(0.0, began + i / rate - time.monotonic()))
            continue
        now = time.time()
        for key in send(i, due):
            sent_at[key] = now
        i = due
    return sent_at, time.monotonic() - began


def _note_arrivals(
    bootstrap: str, topics: tuple[str, ...], started: Any, expected: Any, results: Any
) -> None:
    """(Child process) note when each key first arrives on each of ``topics``.

    Runs until the parent sends the keys it expects (and a timeout) and all of them arrived on
    the first topic, or the timeout passed; then returns {topic: {key: arrival}} on ``results``.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    parts = [
        TopicPartition(topic, p)
        for topic in topics
        for p in consumer.partitions_for_topic(topic) or ()
    ]
    consumer.assign(parts)
    consumer.seek_to_end(*parts)
    for tp in parts:
        consumer.position(tp)
    started.set()
    arrived: dict[str, dict[str, float]] = {topic: {} for topic in topics}
    wanted: set[str] | None = None
    deadline = float("inf")
    while True:
        for tp, records in consumer.poll(timeout_ms=50).items():
            now = time.time()
            seen = arrived[tp.topic]
            for rec in records:
                if rec.key is not None:
                    seen.setdefault(rec.key.decode(), now)
        if wanted is None:
            try:
                keys, timeout_s = expected.get_nowait()
                wanted, deadline = set(keys), time.monotonic() + timeout_s
            except queue.Empty:
                continue
        if wanted <= arrived[topics[0]].keys() or time.monotonic() > deadline:
            break
    consumer.close()
    results.put(arrived)


class Arrivals:
    """A reader of ``topics`` (read_committed, from their end when made) in a process of its
    own (no GIL shared with the sender), noting when each key first arrives on each."""

    def __init__(self, bootstrap: str, topics: tuple[str, ...]) -> None:
        ctx = mp.get_context("spawn")
        self.started, self.expected, self.results = ctx.Event(), ctx.Queue(), ctx.Queue()
        self.proc = ctx.Process(
            target=_note_arrivals,
            args=(bootstrap, topics, self.started, self.expected, self.results),
            daemon=True,
        )
        self.proc.start()
        if not self.started.wait(60):
            raise RuntimeError(f"the reader of {', '.join(topics)} did not start")

    def finish(self, keys: list[str], timeout_s: float) -> dict[str, dict[str, float]]:
        """{topic: {key: arrival}}, once all ``keys`` arrived on the first topic or
        ``timeout_s`` passed."""
        self.expected.put((keys, timeout_s))
        try:
            arrived: dict[str, dict[str, float]] = self.results.get(timeout=timeout_s + 60)
        except queue.Empty as exc:
            raise RuntimeError("the arrival reader returned nothing") from exc
        self.proc.join(timeout=30)
        return arrived


def latencies_ms(sent_at: Mapping[str, float], arrived: Mapping[str, float]) -> list[float]:
    """Sorted send → arrival times (ms) of the keys that arrived."""
    return sorted((arrived[k] - sent_at[k]) * 1000 for k in sent_at if k in arrived)


@dataclass
class Run:
    """One offered load: what was sent, what arrived, and the latencies (ms, sorted)."""

    rate: int
    sent: int
    offered: float
    arrived: int
    delivered: float  # arrivals a second, first send → last arrival
    latencies_ms: list[float]
    hop_ms: list[float]  # send → a topic on the way (e.g. the gateway's part)
    load: str
    cores: dict[str, float] = field(default_factory=dict)  # CPU used per process, in cores


def offer_paced(
    bootstrap: str,
    target: str,
    hop: str,
    rate: int,
    seconds: float,
    send: Callable[[int, int], Iterable[str]],
    pids: Mapping[str, int],
) -> Run:
    """``paced(rate, seconds, send)``, noting when each key arrives on ``target`` and on
    ``hop``; waits for all on ``target`` (120 s at most after). ``pids``: processes whose CPU
    use (in cores, from the first send to the last arrival) is reported."""
    probe = Arrivals(bootstrap, (target, hop))
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = time.monotonic()
    sent_at, send_s = paced(rate, seconds, send)
    arrived = probe.finish(list(sent_at), timeout_s=120)
    took = time.monotonic() - began
    cores = {name: (cpu_seconds(pid) - cpu[name]) / took for name, pid in pids.items()}
    got = [arrived[target][k] for k in sent_at if k in arrived[target]]
    delivered = len(got) / (max(got) - min(sent_at.values())) if got else 0.0
    return Run(
        rate,
        len(sent_at),
        len(sent_at) / send_s,
        len(got),
        delivered,
        latencies_ms(sent_at, arrived[target]),
        latencies_ms(sent_at, arrived[hop]),
        load(),
        cores,
    )


def measured_pids(bench: Bench, services: Mapping[str, Service]) -> dict[str, int]:
    """The processes whose CPU a run reports: the services, the brokers, this sender."""
    pids = {name: svc.pid for name, svc in services.items()}
    pids.update({f"broker {i}": b.pid for i, b in enumerate(bench.state.brokers, 1)})
    pids["sender (SDK)"] = os.getpid()
    return pids


def end_to_end(bench: Bench, size: int, nodes: int) -> tuple[str, dict[str, float]]:
    """Kafka's EndToEndLatency (acks=all, ``E2E_MESSAGES`` records of ``size`` bytes) on a topic
    of its own: the load during it, and its avg/p50/p99/p999 in ms."""
    admin = bench.admin()
    try:
        admin.create_topics(
            [
                NewTopic(
                    "bench.e2e",
                    1,
                    nodes,
                    topic_configs={"min.insync.replicas": "2" if nodes >= 3 else "1"},
                )
            ]
        )
    finally:
        admin.close()
    # the tool creates its topic if its metadata does not show it yet, and fails if the topic
    # then exists (a broker that had not propagated ours): a fresh try sees it
    for attempt in range(3):
        try:
            out = kafka_tool(
                "org.apache.kafka.tools.EndToEndLatency",
                bench.conn.bootstrap,
                "bench.e2e",
                str(E2E_MESSAGES),
                "all",
                str(size),
            )
            break
        except RuntimeError as exc:
            if "TopicExistsException" not in str(exc) or attempt == 2:
                raise
            time.sleep(1.0)
    avg = re.search(r"Avg latency: ([\d.]+) ms", out)
    pct = re.search(r"Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)", out)
    if not avg or not pct:
        raise RuntimeError(f"unexpected EndToEndLatency output:\n{out[-2000:]}")
    return load(), {
        "avg": float(avg.group(1)),
        "p50": float(pct.group(1)),
        "p99": float(pct.group(2)),
        "p999": float(pct.group(3)),
    }


def e2e_line(e2e: Mapping[str, float], size: int, during: str) -> str:
    """How the figures of ``end_to_end`` are printed."""
    return (
        f"  Kafka EndToEndLatency (acks=all, {E2E_MESSAGES:,} × {size} B, same stack): "
        f"p50 {e2e['p50']:.0f} ms, p95 n/a (the tool prints only 50/99/99.9th, whole ms), "
        f"p99 {e2e['p99']:.0f} ms, p99.9 {e2e['p999']:.0f} ms, avg {e2e['avg']:.2f} ms "
        f"| {during}"
    )


def spread(latencies: list[float], e2e: Mapping[str, float]) -> tuple[str, str]:
    """``p50 …, p95 …, p99 …, max …`` of sorted latencies (ms), and their p50 and p99 as
    multiples of Kafka's (empty when Kafka's is 0 ms)."""
    p50, p95, p99 = (percentile(latencies, q) for q in (0.50, 0.95, 0.99))
    top = latencies[-1] if latencies else float("nan")
    figures = f"p50 {p50:,.1f} ms, p95 {p95:,.1f} ms, p99 {p99:,.1f} ms, max {top:,.1f} ms"
    vs = (
        f"p50 {p50 / e2e['p50']:.0f}×, p99 {p99 / e2e['p99']:.0f}× Kafka's"
        if e2e["p50"] and e2e["p99"]
        else ""
    )
    return figures, vs


def run_figures(prefix: str, r: Run) -> dict[str, Any]:
    """A ``Run``'s figures for ``write_json``, keyed ``<prefix>_<figure>_<rate>``: p50/p95/p99/
    max in ms, sent, arrived, undelivered, offered and delivered a second, the hop's p50/p99,
    the cores each measured process used and the load average."""
    at = r.rate
    figures: dict[str, Any] = {
        f"{prefix}_{name}_ms_{at}": percentile(r.latencies_ms, q)
        for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
    }
    figures.update(
        {
            f"{prefix}_max_ms_{at}": r.latencies_ms[-1] if r.latencies_ms else None,
            f"{prefix}_sent_{at}": r.sent,
            f"{prefix}_arrived_{at}": r.arrived,
            f"{prefix}_undelivered_{at}": r.sent - r.arrived,
            f"{prefix}_offered_per_s_{at}": r.offered,
            f"{prefix}_delivered_per_s_{at}": r.delivered,
            f"{prefix}_hop_p50_ms_{at}": percentile(r.hop_ms, 0.50),
            f"{prefix}_hop_p99_ms_{at}": percentile(r.hop_ms, 0.99),
            f"{prefix}_cores_{at}": dict(r.cores),
            f"{prefix}_load_{at}": r.load,
        }
    )
    return figures


def e2e_figures(prefix: str, e2e: Mapping[str, float], during: str) -> dict[str, Any]:
    """``end_to_end``'s figures for ``write_json``: ``<prefix>_p50_ms`` … ``<prefix>_avg_ms``."""
    return {
        **{f"{prefix}_{name}_ms": e2e[name] for name in ("p50", "p99", "p999", "avg")},
        f"{prefix}_load": during,
    }


def run_lines(r: Run, e2e: Mapping[str, float], hop: str) -> list[str]:
    """How a ``Run`` is printed beside Kafka's figures; ``hop`` names its ``hop_ms``."""
    figures, vs = spread(r.latencies_ms, e2e)
    h50, h95, h99 = (percentile(r.hop_ms, q) for q in (0.50, 0.95, 0.99))
    return [
        f"  {r.rate:>5}/s offered ({r.offered:,.0f}/s achieved, {r.sent:,} sent): {figures}; "
        f"{r.arrived:,}/{r.sent:,} arrived, delivered {r.delivered:,.0f}/s; {vs} | {r.load}",
        f"         of which SDK call → {hop}: p50 {h50:,.1f} ms, p95 {h95:,.1f} ms, "
        f"p99 {h99:,.1f} ms; CPU used (cores, send → last arrival): "
        + ", ".join(f"{n} {c:.2f}" for n, c in r.cores.items()),
    ]
