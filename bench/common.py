"""Shared by the benchmarks: a private stack, services as processes, Kafka's own tools, load.

Every benchmark starts its own stack (memory registry, free ports from ``tests.ports``) in a
temporary folder, so it never touches a developer's running stack, and stops it at the end.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

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
def private_stack(nodes: int = 1, keep: bool = False) -> Iterator[Bench]:
    """Start a stack on free ports, apply the topic catalogue, register the schemas.

    Its folder (logs, state) is deleted afterwards unless ``keep`` or ``BENCH_KEEP=1``.
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
        "--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(messages),
        "--timeout", "60000", "--consumer.config", str(props),
    )  # fmt: skip
    lines = [ln for ln in out.splitlines() if ln.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    values = [x.strip() for x in lines[-1].split(",")]
    row = dict(zip(header, values, strict=False))
    return float(row["fetch.nMsg.sec"])


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
                raise RuntimeError(f"{self.module}: no {pattern!r} in {timeout_s}s:\n"
                                   f"{self.text()[-3000:]}")  # fmt: skip
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
    consumer = KafkaConsumer(**conn.kafka_settings(), enable_auto_commit=False,
                             isolation_level="read_committed")  # fmt: skip
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
