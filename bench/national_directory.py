"""The gateway over a national directory (~3,500 courts, ~10,700 outbox partitions) beside the
shipped one (16 courts), in one run on one private stack.

Phase ``small``: the stack's catalogue topics (the shipped directory), N valid requests spread
over every court outbox partition; one gateway worker is started, then a second one joins.
Then the outboxes of a national directory (``courtbus.synth.directory``, seed ``--seed``) are
created (timed), and phase ``national`` does the same with ``COURTBUS_DIRECTORY`` pointing at
it and the N requests spread over every court outbox partition of the nation (a few each).
Both phases use one consumer group and state folder (the national phase is the small one's
gateway given the national directory).

Figures of each phase: launch → every outbox partition assigned and its task restored (start),
the records/s and worker CPU µs/record from then until the last record is on
``bus.delegation.events`` (read by a counter of the output, so the end is exact), a second
worker's launch → both workers' tasks restored after the rebalance (rebalance), each worker's
peak RSS (``VmHWM``) and most open files (``/proc/PID/fd``), and the broker's. The rate is noisy
on a shared machine; the CPU per record is the steadier figure, and the load average is printed
beside both. Goal (issue 17): start + rebalance ≤ 30 s, RSS ≤ 1 GiB per worker, national rec/s
≥ 80% of the small directory's.

``python -m bench.national_directory [--records N] [--courts N] [--seed S] [--broker-heap 2g]
[--json PATH]``
"""

from __future__ import annotations

import argparse
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import confluent_kafka as ck
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from bench.common import (
    Bench,
    Service,
    cpu_seconds,
    load,
    private_stack,
    say,
    service_env,
    write_json,
)
from bench.report import GOALS
from courtbus.app.samples import one_per_flow
from courtbus.bus.topics import OUTBOX
from courtbus.catalogue.directory import Directory, load_directory
from courtbus.catalogue.topics import TopicSpec, load_catalogue
from courtbus.domain.courts import designation_from_court_id
from courtbus.resources import data_dir
from courtbus.synth.directory import Sizes, write_directory
from courtbus.wire import values as v
from courtbus.wire.client import make_envelope
from courtbus.wire.envelope import OutgoingRecord

OUTPUT = "bus.delegation.events"
RESTORED = re.compile(r"restored (\d+) changelog records for (\d+) new task\(s\) in ([\d.]+)s")
GOAL_START_REBALANCE_S = GOALS["national_start_rebalance_s"].target
GOAL_RSS_MIB = GOALS["national_rss_mib"].target
GOAL_RATIO = GOALS["national_rec_ratio"].target
IDLE_S = 5  # seconds at rest measured after the rebalance


def _debtor_ids(count: int) -> list[str]:
    """``count`` distinct valid resident IDs."""
    from stdnum.cn import ric

    ids = []
    for seq in range(count):
        body = f"32058319930312{seq:03d}"
        ids.append(body + ric.calc_check_digit(body + "0"))
    return ids


def requests(
    envelope: Any, slots: list[tuple[str, int]], count: int, tag: str
) -> Iterator[tuple[int, OutgoingRecord]]:
    """``count`` valid DelegationRequested round-robin over ``slots`` (court id, partition)."""
    _, _, record, payload = one_per_flow()[0]
    debtors = _debtor_ids(1000)
    for i in range(count):
        court, partition = slots[i % len(slots)]
        case = f"(2024){designation_from_court_id(court)}执{i % 99_999 + 1}号"
        changed = {
            **payload,
            "delegation_id": f"dlg-{tag}-{i}",
            "case_number": v.case_number(case),
            "requesting_court": v.court(court),
            "executing_court": v.court("6101" if court != "6101" else "3205"),
            "debtor": {**payload["debtor"], "id_number": debtors[i % len(debtors)]},
        }
        yield partition, envelope.build(f"court.{court}.outbox", record, changed, f"court:{court}")


def outbox_specs(directory: Directory) -> list[TopicSpec]:
    """The catalogue's outbox topics for ``directory`` (single-broker profile)."""
    catalogue = load_catalogue()
    specs = catalogue.specs(directory, catalogue.profile("single"))
    return [s for s in specs if OUTBOX.match(s.name)]


def court_slots(specs: list[TopicSpec]) -> list[tuple[str, int]]:
    """(court id, partition) of every court outbox partition, interleaved over courts."""
    courts = [(s.name.split(".")[1], s.partitions) for s in specs if s.name.startswith("court.")]
    most = max(p for _, p in courts)
    return [(c, p) for p in range(most) for c, n in courts if p < n]


def create_topics(admin: KafkaAdminClient, specs: list[TopicSpec], chunk: int = 250) -> float:
    """Create the topics of ``specs`` that are missing; the seconds until all are listed."""
    started = time.perf_counter()
    have = set(admin.list_topics())
    todo = [s for s in specs if s.name not in have]
    for i in range(0, len(todo), chunk):
        new = [
            NewTopic(s.name, s.partitions, s.replication, topic_configs=dict(s.configs))
            for s in todo[i : i + chunk]
        ]
        result = admin.create_topics(new, timeout_ms=120_000, raise_errors=False)
        bad = [t for t in result["topics"] if t["error_code"] not in (0, 36)]
        if bad:
            raise RuntimeError(f"creating topics: {bad[:3]}")
    wanted = {s.name for s in specs}
    while not wanted <= set(admin.list_topics()):
        time.sleep(0.2)
    return time.perf_counter() - started


def outbox_partitions(admin: KafkaAdminClient) -> int:
    """Partitions of the cluster's topics that match the gateway's pattern."""
    names = [t for t in admin.list_topics() if OUTBOX.match(t)]
    return sum(len(d["partitions"]) for d in admin.describe_topics(names))


def preload(bench: Bench, slots: list[tuple[str, int]], count: int, tag: str) -> int:
    """Send ``count`` requests over ``slots``; the record size.

    confluent-kafka: kafka-python's producer holds a ``batch_size`` buffer per partition, and
    with thousands of partitions it waited for memory most of the time.
    """
    envelope = make_envelope(bench.conn, bench.schemas)
    producer = ck.Producer(
        {
            **bench.conn.librdkafka_settings(),
            "acks": "all",
            "linger.ms": 20,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    size = 0
    for partition, out in requests(envelope, slots, count, tag):
        while True:
            try:
                producer.produce(
                    out.topic,
                    key=out.key,
                    value=out.value,
                    headers=list(out.headers),
                    partition=partition,
                )
                break
            except BufferError:
                producer.poll(0.1)
        size = len(out.value or b"")
    if producer.flush(120) != 0:
        raise RuntimeError("pre-load: records left unsent")
    say(
        f"pre-loaded {count:,} requests ({size} bytes) over {min(count, len(slots)):,} "
        "outbox partitions"
    )
    return size


class OutputCounter:
    """Counts records arriving on ``OUTPUT`` (read_committed, from its end when made) on a
    thread, and notes when the ``target``-th arrived."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = ck.Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "bench-count",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 10,
            }
        )
        meta = self.consumer.list_topics(OUTPUT, timeout=30).topics[OUTPUT]
        parts = []
        for p in meta.partitions:
            _low, high = self.consumer.get_watermark_offsets(
                ck.TopicPartition(OUTPUT, p), timeout=30
            )
            parts.append(ck.TopicPartition(OUTPUT, p, high))
        self.consumer.assign(parts)
        self.count = 0
        self.target: int | None = None
        self.reached = threading.Event()
        self.reached_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for m in self.consumer.consume(10_000, 0.05):
                if m.error() is None:
                    self.count += 1
            if self.target is not None and self.count >= self.target and not self.reached.is_set():
                self.reached_at = time.perf_counter()
                self.reached.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.consumer.close()


@dataclass
class Watched:
    """A gateway worker and what was seen of it."""

    svc: Service
    peak_fds: int = 0
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # t, rss KiB, fds

    def sample(self) -> None:
        try:
            fds = len(os.listdir(f"/proc/{self.svc.pid}/fd"))
            rss = self.svc.status("VmRSS")
        except (FileNotFoundError, ProcessLookupError):
            return
        self.peak_fds = max(self.peak_fds, fds)
        self.samples.append((time.perf_counter(), rss, fds))

    def restored(self) -> list[tuple[int, int, float]]:
        """(records, tasks, seconds) of each restore line logged so far."""
        return [(int(a), int(b), float(c)) for a, b, c in RESTORED.findall(self.svc.text())]

    def peak_rss_mib(self) -> float:
        try:
            return self.svc.status("VmHWM") / 1024
        except (FileNotFoundError, ProcessLookupError):
            return max((r for _, r, _ in self.samples), default=0) / 1024

    def check_alive(self) -> None:
        if self.svc.proc is not None and self.svc.proc.poll() is not None:
            raise RuntimeError(f"a gateway worker exited:\n{self.svc.text()[-3000:]}")


def _wait(cond: Any, workers: list[Watched], timeout_s: float, what: str) -> float:
    """Sample the workers every 0.1 s until ``cond()``; the time it became true."""
    deadline = time.perf_counter() + timeout_s
    while True:
        for w in workers:
            w.sample()
            w.check_alive()
        if cond():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            tail = "\n".join(w.svc.text()[-1500:] for w in workers)
            raise RuntimeError(f"{what}: not within {timeout_s:.0f} s\n{tail}")
        time.sleep(0.1)


def broker_figures(bench: Bench) -> tuple[float, int]:
    """(RSS MiB, open files) of the stack's broker now."""
    pid = bench.state.brokers[0].pid
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return (int(match.group(1)) / 1024 if match else 0.0), len(os.listdir(f"/proc/{pid}/fd"))


def phase(
    bench: Bench,
    name: str,
    directory_path: Path,
    slots: list[tuple[str, int]],
    count: int,
    timeout_s: float,
) -> dict[str, Any]:
    """One directory: pre-load, one worker to the end, then a second worker joining."""
    admin = bench.admin()
    try:
        partitions = outbox_partitions(admin)
    finally:
        admin.close()
    preload(bench, slots, count, name)
    # one group and state folder for both phases: the national phase is the small one's
    # gateway given the national directory (a fresh group would read the small phase's records
    # again and drop them as duplicates, the dedup state being keyed by outbox partition)
    env = service_env(bench, bench.home / "state", COURTBUS_DIRECTORY=str(directory_path))
    counter = OutputCounter(bench.conn.bootstrap)
    counter.target = count
    first = Watched(Service("services.gateway", env, bench.home / f"gateway-{name}-0.log"))
    second = Watched(Service("services.gateway", env, bench.home / f"gateway-{name}-1.log"))
    try:
        say(f"{name}: one gateway worker over {partitions:,} outbox partitions")
        first.svc.start()
        ready_at = _wait(
            lambda: sum(t for _, t, _ in first.restored()) >= partitions,
            [first],
            timeout_s,
            f"{name}: first worker's tasks restored",
        )
        start_s = ready_at - first.svc.started
        cpu_ready = first.svc.cpu_s()
        done_ready = counter.count
        _wait(counter.reached.is_set, [first], timeout_s, f"{name}: {count:,} forwarded")
        cpu = first.svc.cpu_s() - cpu_ready
        steady = count - done_ready
        rec_s = steady / (counter.reached_at - ready_at)
        say(
            f"{name}: {rec_s:,.0f} records/s, {cpu / max(steady, 1) * 1e6:,.0f} µs CPU/record; "
            "a second worker joins"
        )
        lines_before = len(first.restored())
        second.svc.start()

        def rebalanced() -> bool:
            after = first.restored()[lines_before:]
            return bool(after) and (
                sum(t for _, t, _ in after) + sum(t for _, t, _ in second.restored()) >= partitions
            )

        rebalanced_at = _wait(rebalanced, [first, second], timeout_s, f"{name}: rebalance")
        rebalance_s = rebalanced_at - second.svc.started
        # at rest after the rebalance: a few samples, and what idling costs (ticks, fetches of
        # every partition) the workers and the broker
        broker_pid = bench.state.brokers[0].pid
        cpu_before = [w.svc.cpu_s() for w in (first, second)] + [cpu_seconds(broker_pid)]
        idle_from = time.perf_counter()
        for _ in range(IDLE_S * 5):
            for w in (first, second):
                w.sample()
            time.sleep(0.2)
        idle = time.perf_counter() - idle_from
        cpu_after = [w.svc.cpu_s() for w in (first, second)] + [cpu_seconds(broker_pid)]
        idle_cores = [(b - a) / idle for a, b in zip(cpu_before, cpu_after, strict=True)]
        broker_rss, broker_fds = broker_figures(bench)
        shares = [
            sum(t for _, t, _ in first.restored()[lines_before:]),
            sum(t for _, t, _ in second.restored()),
        ]
        result = {
            "partitions": partitions,
            "records": count,
            "start_s": start_s,
            "first_restore_s": sum(s for _, _, s in first.restored()[:lines_before]),
            "rec_s": rec_s,
            "cpu_us_per_record": cpu / max(steady, 1) * 1e6,
            "before_ready": done_ready,
            "rebalance_s": rebalance_s,
            "shares": shares,
            "rss_mib": max(first.peak_rss_mib(), second.peak_rss_mib()),
            "rss_mib_each": [first.peak_rss_mib(), second.peak_rss_mib()],
            "open_files": max(first.peak_fds, second.peak_fds),
            "open_files_each": [first.peak_fds, second.peak_fds],
            "broker_rss_mib": broker_rss,
            "broker_open_files": broker_fds,
            "idle_worker_cores": idle_cores[:2],
            "idle_broker_cores": idle_cores[2],
            "load": load(),
        }
    finally:
        for w in (second, first):
            w.svc.stop()
        counter.stop()
    return result


def main() -> None:
    """Both phases on one stack; print (and write) the figures beside the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000, help="requests per phase")
    parser.add_argument("--courts", type=int, default=3_500, help="courts of the national one")
    parser.add_argument("--seed", type=int, default=0, help="the generated directory's seed")
    parser.add_argument("--broker-heap", default="1g", help="the broker's JVM heap")
    parser.add_argument("--timeout", type=float, default=900, help="longest wait of a step (s)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    with private_stack(broker_heap=args.broker_heap) as bench:
        small_path = data_dir() / "topics" / "directory.yaml"  # the shipped one
        shipped = load_directory(small_path)
        small = phase(
            bench,
            "small",
            small_path,
            court_slots(outbox_specs(shipped)),
            args.records,
            args.timeout,
        )
        path = bench.home / "directory-national.yaml"
        national_dir = write_directory(path, args.seed, Sizes(courts=args.courts))
        specs = outbox_specs(national_dir)
        say(f"creating {len(specs):,} outboxes ({sum(s.partitions for s in specs):,} partitions)")
        admin = bench.admin()
        try:
            create_s = create_topics(admin, specs)
        finally:
            admin.close()
        broker_rss, broker_fds = broker_figures(bench)
        say(
            f"created in {create_s:.1f} s; broker RSS {broker_rss:,.0f} MiB, {broker_fds:,} "
            "open files"
        )
        national = phase(bench, "national", path, court_slots(specs), args.records, args.timeout)
    ratio = national["rec_s"] / small["rec_s"]
    cpu_ratio = small["cpu_us_per_record"] / national["cpu_us_per_record"]
    print(
        f"gateway over a national directory ({len(national_dir.courts):,} courts, "
        f"{len(national_dir.agencies)} agencies, seed {args.seed}) beside the shipped one "
        f"({len(shipped.courts)} courts); {args.records:,} DelegationRequested per phase, "
        "1 broker, transactions"
    )
    for name, r in (("small", small), ("national", national)):
        print(
            f"  {name:8} {r['partitions']:>6,} outbox partitions: start {r['start_s']:6.1f} s "
            f"(restores {r['first_restore_s']:.1f} s), 2nd worker rebalance "
            f"{r['rebalance_s']:6.1f} s (split {r['shares'][0]:,}/{r['shares'][1]:,}); "
            f"{r['rec_s']:>7,.0f} records/s, {r['cpu_us_per_record']:5.0f} µs CPU/record; "
            f"peak RSS {r['rss_mib']:,.0f} MiB, {r['open_files']:,} open files per worker "
            f"(most); broker {r['broker_rss_mib']:,.0f} MiB, {r['broker_open_files']:,} files; "
            f"at rest: workers {'/'.join(f'{c:.2f}' for c in r['idle_worker_cores'])} cores, "
            f"broker {r['idle_broker_cores']:.2f} | {r['load']}"
        )
    total = national["start_s"] + national["rebalance_s"]
    print(
        f"  national: start + rebalance {total:.1f} s (goal ≤ {GOAL_START_REBALANCE_S:g}); "
        f"RSS {national['rss_mib']:,.0f} MiB (goal ≤ {GOAL_RSS_MIB:,.0f}); records/s "
        f"{ratio:.2f}× the small directory's (goal ≥ {GOAL_RATIO}), CPU/record "
        f"{1 / cpu_ratio:.2f}×; outboxes created in {create_s:.1f} s"
    )
    if args.json is not None:
        figures = {
            "national_start_rebalance_s": total,
            "national_start_s": national["start_s"],
            "national_rebalance_s": national["rebalance_s"],
            "national_rss_mib": national["rss_mib"],
            "national_open_files": national["open_files"],
            "national_rec_s": national["rec_s"],
            "national_cpu_us_per_record": national["cpu_us_per_record"],
            "national_rec_ratio": ratio,
            "national_cpu_ratio": cpu_ratio,
            "national_partitions": national["partitions"],
            "national_courts": len(national_dir.courts),
            "national_topics_create_s": create_s,
            "national_idle_worker_cores": max(national["idle_worker_cores"]),
            "national_idle_broker_cores": national["idle_broker_cores"],
            "small_idle_broker_cores": small["idle_broker_cores"],
            "small_start_s": small["start_s"],
            "small_rebalance_s": small["rebalance_s"],
            "small_rss_mib": small["rss_mib"],
            "small_open_files": small["open_files"],
            "small_rec_s": small["rec_s"],
            "small_cpu_us_per_record": small["cpu_us_per_record"],
            "phases": {"small": small, "national": national},
        }
        write_json(args.json, figures)


if __name__ == "__main__":
    main()
