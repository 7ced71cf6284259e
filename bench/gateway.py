"""Gateway throughput through the real service, 1 and 2 workers, beside the broker's limit.

For each worker count, on a fresh private stack (one broker, memory registry): pre-load N valid
``DelegationRequested`` records over four court outboxes, start that many
``python -m services.gateway`` processes (one consumer group), and time until every record is
forwarded to ``bus.delegation.events``. A batch's forwards and its input offsets commit in one
transaction, so "forwarded" is read from the group's committed offsets reaching the outboxes'
ends (then checked: a read_committed count of ``bus.delegation.events`` must be N).

* **steady**: records forwarded after the group became stable with every worker holding its
  tasks, per second of that window (start-up and the join rebalance excluded);
* **incl. start-up**: N over the time from launching the processes;
* **CPU/record**: the workers' CPU time (all threads, from ``/proc``) in the steady window per
  record, and how busy they were (cores): on a loaded 2-core machine the rate follows the CPU
  the workers get, the CPU per record does not.

The gateway's tasks are per outbox topic-partition and the range assignor splits each topic
on its own (3 partitions over 2 workers: [0, 1] and [2]), so the records go to partitions
that split evenly: all 6 of ``court.320583.outbox`` and partitions 0 and 2 of the 3-partition
outboxes. The output prints each worker's share.

Beside each figure: Kafka's own ProducerPerformance (acks=all, idempotent, same record size)
on the same stack, and the machine's load average. The 1-worker stack then restarts its worker
(warm: the state folder kept) and prints what its restore read. If one worker misses the
issue's goal of 20,000 records/s, it is run once more on a fresh stack under cProfile and the
top functions are printed (``--no-profile``: not).

``--json PATH`` writes the figures (``bench.common.write_json``): ``gateway_rec_s`` and
``gateway_cpu_us_per_record`` (1 worker, steady), ``broker_rec_s`` (ProducerPerformance on
that stack), the same for 2 workers as ``gateway_2w_…`` and ``broker_2w_rec_s``, and
``gateway_warm_restart_s`` (the restore the warm restart logs; ``bench.warm_restart`` times
three of them).

``--signed``: one more 1-worker run on a fresh stack with every record signed by its court's
Ed25519 key and the gateway requiring and verifying signatures (``gateway_signed_rec_s``,
``gateway_signed_cpu_us_per_record``, and ``gateway_signed_vs_plain``: its steady rate over
the unsigned 1-worker run's, the issue's ≥ 85% goal).

``python -m bench.gateway [N] [--workers 1,2] [--signed] [--no-warm-restart] [--no-profile]
[--json PATH]`` (N default 40,000).
"""

from __future__ import annotations

import argparse
import pstats
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from bench.common import (
    Bench,
    Service,
    add_json_option,
    count_topic,
    load,
    private_stack,
    say,
    service_env,
    write_json,
)
from bench.produce import broker_limit
from bench.report import GOALS
from courtbus.app.samples import one_per_flow
from courtbus.security import keys as keyfile
from courtbus.security.signing import PublicKey, Signer
from courtbus.wire import values as v
from courtbus.wire.client import make_envelope
from courtbus.wire.envelope import Envelope, OutgoingRecord

N = 40_000  # records, unless given
PROFILE_N = 20_000
GOAL = GOALS["gateway_rec_s"].target  # records/s per gateway worker
GROUP = "courtbus-gateway"
OUTPUT = "bus.delegation.events"
# the worker's own chores, shown whatever their rank: topic discovery, task restore, ticks
RUNTIME = ("_follow_pattern", "_sync_tasks", "restore", "_tick", "_commit", "_process")
RESTORED = r"restored (\d+) changelog records for (\d+) new task\(s\) in ([\d.]+)s"
# (court id, outbox partitions to load, a case number of that court)
COURTS = [
    ("320583", (0, 1, 2, 3, 4, 5), "(2023)苏0583执1234号"),
    ("3205", (0, 2), "(2023)苏05执88号"),
    ("4408", (0, 2), "(2024)粤08执77号"),
    ("50", (0, 2), "(2024)渝执5号"),
]


def _debtors(count: int) -> list[str]:
    """``count`` distinct valid resident IDs (Kunshan, born 1993, varying sequence numbers)."""
    from stdnum.cn import ric

    ids = []
    for seq in range(count):
        body = f"32058319930312{seq:03d}"
        ids.append(body + ric.calc_check_digit(body + "0"))
    return ids


def requests(envelope: Envelope, count: int, tag: str) -> Iterator[tuple[int, OutgoingRecord]]:
    """``count`` valid requests round-robin over the bench's outbox partitions, as
    (partition, record): 1,000 debtors over them, a realistic repetition."""
    _, _, record, payload = one_per_flow()[0]
    debtors = _debtors(1000)
    slots = [(court, p, case) for court, parts, case in COURTS for p in parts]
    for i in range(count):
        court, partition, case = slots[i % len(slots)]
        changed = {
            **payload,
            "delegation_id": f"dlg-{tag}-{i}",
            "case_number": v.case_number(case),
            "requesting_court": v.court(court),
            "debtor": {**payload["debtor"], "id_number": debtors[i % len(debtors)]},
        }
        topic = f"court.{court}.outbox"
        yield partition, envelope.build(topic, record, changed, f"court:{court}")


def court_keys(folder: Path) -> tuple[Path, dict[str, Signer]]:
    """A keys file with a key for each of the bench's courts, and their signers by outbox."""
    keys: tuple[PublicKey, ...] = ()
    signers = {}
    for court, _, _ in COURTS:
        start = datetime.now(UTC) - timedelta(hours=1)
        keys, signer = keyfile.add_key(keys, f"court.{court}", start)
        signers[f"court.{court}.outbox"] = signer
    path = folder / "public.yaml"
    keyfile.write_keys(path, keys)
    return path, signers


def preload(
    bench: Bench, count: int, tag: str, signers: dict[str, Signer] | None = None
) -> tuple[dict[TopicPartition, int], int]:
    """Send ``count`` valid requests round-robin over the chosen partitions (each signed by
    its court's key with ``signers``, by outbox).

    Returns the partitions' end offsets and the record size.
    """
    envelope = make_envelope(bench.conn, bench.schemas)
    slots = [(court, p, case) for court, parts, case in COURTS for p in parts]
    producer = KafkaProducer(
        **bench.conn.kafka_settings(), acks="all", linger_ms=20, batch_size=512 * 1024
    )
    size = 0
    for partition, out in requests(envelope, count, tag):
        headers = out.headers if signers is None else signers[out.topic](out.headers, out.value)
        producer.send(out.topic, key=out.key, value=out.value, headers=headers, partition=partition)
        size = len(out.value)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(**bench.conn.kafka_settings())
    try:
        parts = [TopicPartition(f"court.{c}.outbox", p) for c, p, _ in slots]
        ends = dict(consumer.end_offsets(parts))
    finally:
        consumer.close()
    say(f"pre-loaded {count} requests ({size} bytes each) into {len(slots)} outbox partitions")
    return ends, size


def committed(
    admin: KafkaAdminClient, parts: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The gateway group's committed offsets (0 where none)."""
    deadline = time.monotonic() + 60
    while True:
        try:  # before any group exists, the offsets topic is created on the first ask
            found = admin.list_group_offsets({GROUP: list(parts)}).get(GROUP, {})
            break
        except KafkaError as exc:  # coordinator not there yet, loading, or moved: ask again
            if not exc.retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    return {tp: max(meta.offset, 0) for tp, meta in found.items()}


def members(admin: KafkaAdminClient) -> list[set[TopicPartition]] | None:
    """Each member's assignment if the group is stable, else None."""
    group: dict[str, Any] = admin.describe_groups([GROUP]).get(GROUP) or {}
    if group.get("group_state") != "Stable":
        return None
    result = []
    for member in group.get("members", []):
        assignment = member.get("member_assignment") or {}
        parts: set[TopicPartition] = set()
        for item in assignment.get("assigned_partitions", []):
            parts.update(TopicPartition(item["topic"], p) for p in item["partitions"])
        result.append(parts)
    return result


def run_workers(
    bench: Bench,
    workers: int,
    ends: dict[TopicPartition, int],
    state_dir: Path,
    prefix: Iterable[str] = (),
    timeout_s: float = 900,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Start ``workers`` gateway processes, wait until every record is forwarded, stop them."""
    admin = bench.admin()
    base = committed(admin, ends)
    todo = sum(ends.values()) - sum(base.values())
    env = service_env(bench, state_dir, **(extra_env or {}))
    tag = "prof" if prefix else f"{workers}w"
    procs = [
        Service("services.gateway", env, bench.home / f"gateway-{tag}-{i}.log")
        for i in range(workers)
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start(prefix)
    stable_at: float | None = None
    done_at_stable = 0
    cpu_at_stable = 0.0
    shares: list[int] = []
    try:
        while True:
            now = time.perf_counter()
            offsets = committed(admin, ends)
            done = sum(offsets.values()) - sum(base.values())
            if stable_at is None:
                assigned = members(admin)
                if assigned and len(assigned) == workers and all(assigned):
                    stable_at, done_at_stable = now, done
                    cpu_at_stable = sum(p.cpu_s() for p in procs)
                    shares = [
                        sum(ends[tp] - base.get(tp, 0) for tp in a if tp in ends) for a in assigned
                    ]
            if all(offsets.get(tp, 0) >= end for tp, end in ends.items()):
                finished = time.perf_counter()
                cpu = sum(p.cpu_s() for p in procs) - cpu_at_stable
                break
            for proc in procs:
                if proc.proc is not None and proc.proc.poll() is not None:
                    raise RuntimeError(f"a gateway worker exited:\n{proc.text()[-3000:]}")
            if now - started > timeout_s:
                raise RuntimeError(f"only {done} of {todo} forwarded in {timeout_s:.0f} s")
            time.sleep(0.1 if stable_at is None else 0.2)
    finally:
        for proc in procs:
            proc.stop()
        admin.close()
    assert stable_at is not None
    steady_n = todo - done_at_stable
    return {
        "todo": todo,
        "steady": steady_n / (finished - stable_at),
        "with_startup": todo / (finished - started),
        "before_stable": done_at_stable,
        "cpu_per_record_us": cpu / max(steady_n, 1) * 1e6,
        "cores_busy": cpu / (finished - stable_at),
        "shares": shares,
        "load": load(),
    }


def behind(bench: Bench, state_dir: Path) -> tuple[int, int]:
    """(tasks, changelog records) a restore on this state folder reads past the checkpoints.

    A pattern task's changes go to changelog partition crc32("topic:partition") % 6 (see
    ``Changelogs.place``), shared with other tasks; restoring a task reads its partition from
    the task's checkpoint to the end, skipping the other tasks' keys.
    """
    changelog = "bus.gateway.seen.changelog"
    consumer = KafkaConsumer(**bench.conn.kafka_settings(), isolation_level="read_committed")
    try:
        parts = [TopicPartition(changelog, p) for p in range(6)]
        ends = {tp.partition: end for tp, end in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()
    tasks = total = 0
    # every task of a worker in its one file (courtbus.runtime.sqlite.StateFile)
    for path in sorted((state_dir / GROUP).glob("worker-*/tasks.sqlite")):
        db = sqlite3.connect(path)
        try:
            rows = db.execute(
                "SELECT task, next_offset FROM checkpoints WHERE store = 'seen'"
            ).fetchall()
        finally:
            db.close()
        for task, offset in rows:
            topic, _, partition = str(task).rpartition("-")
            place = zlib.crc32(f"{topic}:{partition}".encode()) % 6
            tasks += 1
            total += ends[place] - offset
    return tasks, total


def warm_restart(bench: Bench, state_dir: Path, n: int = N) -> tuple[str, dict[str, Any]]:
    """Restart one worker on its kept state folder (``n`` records were forwarded before); what
    its restore read, and how long: the line printed and its figures."""
    tasks, to_read = behind(bench, state_dir)
    proc = Service("services.gateway", service_env(bench, state_dir), bench.home / "warm.log")
    proc.start()
    try:
        match = proc.wait_for(RESTORED)
    finally:
        proc.stop()
    records, opened, seconds = match.groups()
    figures = {
        "gateway_warm_restart_s": float(seconds),
        "gateway_warm_restart_records": int(records),
        "gateway_warm_restart_tasks": int(opened),
        "gateway_warm_restart_behind": to_read,
    }
    return (
        f"warm restart of 1 worker (state folder kept, {n:,} entries in "
        f"bus.gateway.seen.changelog): restored {int(records):,} records for {opened} tasks "
        f"in {seconds} s; the {tasks} tasks' checkpoints were {to_read:,} changelog records "
        f"behind the ends of their (shared) partitions, which the restore reads and skips "
        f"| {load()}"
    ), figures


def profile_one() -> list[str]:
    """One worker under cProfile on PROFILE_N records, on a fresh stack: the top functions."""
    with private_stack() as bench:
        ends, _ = preload(bench, PROFILE_N, "prof")
        out = bench.home / "gateway.prof"
        say(f"profiling one worker over {PROFILE_N} records (cProfile)")
        prefix = ("-m", "cProfile", "-o", str(out))
        result = run_workers(bench, 1, ends, bench.home / "state", prefix=prefix)
        stats = pstats.Stats(str(out))
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in stats.stats.values())  # type: ignore[attr-defined]
    lines = [
        f"profile of one gateway worker (cProfile, fresh stack, {PROFILE_N:,} records, "
        f"{result['steady']:,.0f} records/s under the profiler, {total:.1f} s in the "
        f"main thread; kafka-python's I/O thread is not profiled; {result['load']})"
    ]

    def row(path: str, line: int, func: str, nc: int, tt: float, ct: float) -> str:
        where = f"{Path(path).parent.name}/{Path(path).name}:{line}" if path != "~" else ""
        return f"  {nc:>8} {tt:7.2f} {ct:7.2f} {ct / total * 100:5.1f}%  {where}({func})"

    items = stats.stats.items()  # type: ignore[attr-defined]
    for column, top in ((3, 28), (2, 18)):
        name = "cumulative" if column == 3 else "own (tottime)"
        lines.append(f"-- top {top} by {name} time: calls, own s, cumulative s, % of main thread")
        entries = sorted(items, key=lambda kv: kv[1][column], reverse=True)
        # skip the wrappers around the worker loop (runpy, run_service, run, _session, _loop)
        shown = [(k, v) for k, v in entries if column == 2 or v[3] <= 0.9 * total][:top]
        for (path, line, func), (_cc, nc, tt, ct, _callers) in shown:
            lines.append(row(path, line, func, nc, tt, ct))
    lines.append(
        "-- the runtime's work besides records: calls, own s, cumulative s, % of main thread"
    )
    for (path, line, func), (_cc, nc, tt, ct, _callers) in items:
        if path.endswith(("runtime/worker.py", "runtime/changelogs.py")) and func in RUNTIME:
            lines.append(row(path, line, func, nc, tt, ct))
    return lines


def phase(
    workers: int, n: int, warm: bool, *, signed: bool = False
) -> tuple[dict[str, Any], float, int, tuple[str, dict[str, Any]] | None]:
    """One fresh stack: broker limit, pre-load ``n`` records, run ``workers`` workers (then a
    warm restart of one worker if ``warm``); ``signed``: the records signed, the gateway
    requiring signatures."""
    with private_stack() as bench:
        signers, env = None, {}
        if signed:
            keys_file, signers = court_keys(bench.home)
            env = {"COURTBUS_KEYS": str(keys_file), "COURTBUS_SIGNATURES": "required"}
        ends, size = preload(bench, n, f"{workers}w{'s' if signed else ''}", signers)
        say("broker limit: ProducerPerformance")
        limit = broker_limit(bench.conn.bootstrap, "bus.alerts", max(n, 300_000), size)
        say(f"running {workers} gateway worker(s) over {n} {'signed ' if signed else ''}records")
        result = run_workers(bench, workers, ends, bench.home / "state", extra_env=env)
        forwarded = count_topic(bench.conn, OUTPUT)
        if forwarded != n:
            raise RuntimeError(f"{forwarded} records on {OUTPUT}, expected {n}")
        restart = warm_restart(bench, bench.home / "state", n) if warm else None
    return result, limit, size, restart


def main() -> None:
    """Run each worker count (and the profile) and print them beside the broker's limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=N, help=f"records (default {N:,})")
    parser.add_argument("--workers", default="1,2", help="worker counts to run (default 1,2)")
    parser.add_argument(
        "--signed", action="store_true", help="one more 1-worker run with signed records, verified"
    )
    parser.add_argument(
        "--no-warm-restart", action="store_true", help="no warm restart after the 1-worker run"
    )
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="no profiled run, even if 1 worker misses the goal",
    )
    add_json_option(parser)
    args = parser.parse_args()
    n = args.n
    counts = [int(w) for w in args.workers.split(",")]
    rows = []
    notes = []
    figures: dict[str, Any] = {"gateway_records": n}
    size = 0
    for workers in counts:
        result, limit, size, warm = phase(workers, n, workers == 1 and not args.no_warm_restart)
        rows.append((workers, result, limit))
        tag = "" if workers == 1 else f"_{workers}w"
        figures.update(
            {
                f"gateway{tag}_rec_s": result["steady"],
                f"gateway{tag}_cpu_us_per_record": result["cpu_per_record_us"],
                f"gateway{tag}_cores_busy": result["cores_busy"],
                f"gateway{tag}_with_startup_rec_s": result["with_startup"],
                f"gateway{tag}_load": result["load"],
                f"broker{tag}_rec_s": limit,
            }
        )
        if warm:
            notes.append(warm[0])
            figures.update(warm[1])
    figures["gateway_record_bytes"] = size
    one = next((r for w, r, _ in rows if w == 1), None)
    signed_row = None
    if args.signed:
        signed_row, signed_limit, signed_size, _ = phase(1, n, False, signed=True)
        figures.update(
            {
                "gateway_signed_rec_s": signed_row["steady"],
                "gateway_signed_cpu_us_per_record": signed_row["cpu_per_record_us"],
                "gateway_signed_load": signed_row["load"],
                "broker_signed_rec_s": signed_limit,
                "gateway_signed_record_bytes": signed_size,
            }
        )
        if one:
            figures["gateway_signed_vs_plain"] = round(signed_row["steady"] / one["steady"], 3)
    profile = profile_one() if one and one["steady"] < GOAL and not args.no_profile else []
    print(
        f"gateway: {n:,} DelegationRequested ({size} bytes) from 4 court outboxes → "
        f"{OUTPUT}, 1 broker, transactions, read_committed"
    )
    for workers, r, limit in rows:
        per = r["steady"] / workers
        shares = "/".join(f"{s / max(sum(r['shares']), 1):.0%}" for s in r["shares"])
        print(
            f"  {workers} worker(s): steady {r['steady']:>7,.0f} records/s = {per:,.0f}/worker "
            f"({per / GOAL:.2f}× the {GOAL:,.0f}/s goal) = {r['steady'] / limit:.3f}× broker limit "
            f"| broker limit (ProducerPerformance, acks=all, same stack) {limit:,.0f} records/s"
        )
        print(
            f"      incl. start-up {r['with_startup']:,.0f}/s; {r['before_stable']} forwarded "
            f"before the group was stable; work split {shares}; worker CPU "
            f"{r['cpu_per_record_us']:,.0f} µs/record, {r['cores_busy']:.2f} cores busy "
            f"(≤ {1e6 / r['cpu_per_record_us']:,.0f} records/s per fully used core) | {r['load']}"
        )
    if signed_row is not None:
        versus = f" = {figures['gateway_signed_vs_plain']:.0%} of unsigned" if one else ""
        print(
            f"  1 worker, signed records verified: steady {signed_row['steady']:,.0f} "
            f"records/s{versus} (goal ≥ 85%), worker CPU "
            f"{signed_row['cpu_per_record_us']:,.0f} µs/record | {signed_row['load']}"
        )
    by_count = {w: r for w, r, _ in rows}
    if 1 in by_count and 2 in by_count:
        scale = by_count[2]["steady"] / by_count[1]["steady"]
        figures["gateway_2w_vs_1w"] = scale
        print(f"  2 workers / 1 worker: {scale:.2f}×")
    for line in notes + profile:
        print(line)
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
