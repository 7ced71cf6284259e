"""Restore time and peak memory of a delegation worker holding 1 M (or 8.6 M) delegations.

On a private stack (one broker, memory registry), fills ``bus.delegation.delegations.changelog``
(6 partitions, compacted) with M delegations as the delegation service stores them: the JSON
of ``services.delegation.state.dump``, keyed by delegation id and partitioned like
``bus.delegation.events`` (by key); 70 % open (accepted, with their deadlines), 30 % finished
(with the ``cb_t`` expiry header the runtime writes). Then:

1. **the broker's read limit**: Kafka's ConsumerPerformance over the same changelog
   (``fetch.nMsg.sec``: fetch time only, read_committed);
2. **cold restore**: ``python -m services.delegation`` with an empty state folder, so the one
   worker owns all 6 tasks and reads every changelog record into SQLite;
3. **warm restart**: 10,000 more entries are appended while it is stopped, and it is started
   again on its kept state folder: only the tail after its checkpoints is read.

For each restore: the records and seconds the worker logs ("restored N changelog records ...
in S s"), records/s beside ConsumerPerformance, the time from launching the process to that
line, and peak RSS (``VmHWM`` in ``/proc/<pid>/status``, read when the restore is logged).

``python -m bench.restore`` (1 M entries, a few minutes); ``python -m bench.restore --full``
(8.6 M: expect 15-30 minutes on 2 cores, most of it appending the entries, and ~6 GB of disk
each for the broker's log and the state folder); ``--entries N`` for any other count.
``--json PATH`` writes the figures (``bench.common.write_json``): ``delegation_restore_…`` for
the cold restore (records, seconds, records/s, peak RSS, ConsumerPerformance's rate) and
``delegation_warm_restore_…`` for the warm restart.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from bench.common import (
    Bench,
    Service,
    add_json_option,
    consumer_performance,
    load,
    private_stack,
    say,
    service_env,
    write_json,
)
from courtbus.catalogue.policies import DEADLINES_PATH, load_deadlines
from courtbus.domain import delegation as dm
from services.delegation.state import Tracked, dump

CHANGELOG = "bus.delegation.delegations.changelog"
RESTORED = (
    r"courtbus-delegation restored (\d+) changelog records for (\d+) new task\(s\) in ([\d.]+)s"
)
TAIL = 10_000
PLACEHOLDER = "dlg-0000000000000000"


def templates() -> list[tuple[bytes, bytes | None]]:
    """Stored values of typical delegations (with ``PLACEHOLDER`` as the id) and their cb_t."""
    rules = load_deadlines(DEADLINES_PATH)
    now = datetime.now(UTC)
    out: list[tuple[bytes, bytes | None]] = []
    for matter, requesting, executing, finished in (
        ("FREEZE", "320583", "6101", False),
        ("SEARCH", "3205", "4408", False),
        ("DEDUCT", "4408", "6104", False),
        ("SERVE", "50", "3174", True),
    ):
        rule = rules.for_matter(matter)
        d = dm.request(PLACEHOLDER, requesting, executing, matter, now - timedelta(days=3))
        d = dm.apply(d, dm.Step.DELIVERED, None, now - timedelta(days=3), rule)
        d = dm.apply(d, dm.Step.ACCEPTED, executing, now - timedelta(days=2), rule)
        caps: tuple[str, ...] = ()
        if matter == "DEDUCT":  # a cap reservation, as out-of-region deductions carry
            caps = (f"example-housing-fund-deduction-cap:{'ab' * 12}:{now.year}",)
        if finished:
            d = dm.apply(d, dm.Step.COMPLETED, executing, now, rule)
        tracked = Tracked(
            d, caps, 5_000_000 if caps else 0, f"{'ab' * 12}:{now.year}" if caps else None
        )
        expiry = str(int((now + timedelta(days=90)).timestamp() * 1000)).encode()
        out.append((dump(tracked), expiry if finished else None))
    # 70 % open, 30 % finished: three open shapes, then the finished one weighted to 30 %
    return [out[0], out[1], out[2], out[0], out[1], out[2], out[0], out[3], out[3], out[3]]


def populate(bench: Bench, count: int, start: int = 0) -> int:
    """Append ``count`` delegations to the changelog; the average value size."""
    shapes = templates()
    producer = KafkaProducer(
        **bench.conn.kafka_settings(), acks=1, linger_ms=50, batch_size=1024 * 1024
    )
    placeholder = PLACEHOLDER.encode()
    run = uuid.uuid4().hex[:4]
    total = 0
    began = time.monotonic()
    for i in range(start, start + count):
        key = f"dlg-{run}{i:012d}".encode()
        value, expiry = shapes[i % len(shapes)]
        value = value.replace(placeholder, key)
        headers = [("cb_t", expiry)] if expiry else []
        producer.send(CHANGELOG, key=key, value=value, headers=headers)
        total += len(value)
        if (i - start + 1) % 500_000 == 0:
            say(f"  {i - start + 1:,} of {count:,} appended")
    producer.flush()
    producer.close()
    say(
        f"appended {count:,} delegations ({total / count:.0f} bytes each) in "
        f"{time.monotonic() - began:.0f} s"
    )
    return round(total / count)


def restore(bench: Bench, state_dir: Path, name: str) -> dict[str, Any]:
    """Start a delegation worker, wait for its restore line, read its peak RSS, stop it."""
    proc = Service("services.delegation", service_env(bench, state_dir), bench.home / f"{name}.log")
    proc.start()
    try:
        match = proc.wait_for(RESTORED, timeout_s=3600)
        wall = time.perf_counter() - proc.started
        hwm, rss = proc.status("VmHWM"), proc.status("VmRSS")
    finally:
        proc.stop()
    records, tasks, seconds = match.groups()
    return {
        "records": int(records),
        "tasks": int(tasks),
        "seconds": float(seconds),
        "wall": wall,
        "hwm_mib": hwm / 1024,
        "rss_mib": rss / 1024,
        "load": load(),
    }


def du_mib(path: Path) -> float:
    """Size of a folder's files in MiB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    """Populate, measure the broker's read limit, restore cold and warm, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="8.6 M entries (slow)")
    parser.add_argument("--entries", type=int, default=None, help="entries (default 1 M)")
    add_json_option(parser)
    args = parser.parse_args()
    entries = args.entries or (8_600_000 if args.full else 1_000_000)
    with private_stack() as bench:
        say(f"appending {entries:,} delegations to {CHANGELOG}")
        size = populate(bench, entries)
        say("broker read limit: ConsumerPerformance over the changelog")
        limit = consumer_performance(
            bench.conn.bootstrap, CHANGELOG, entries, bench.home / "consumer.properties"
        )
        limit_load = load()
        state_dir = bench.home / "state"
        say("cold restore: one delegation worker, empty state folder")
        cold = restore(bench, state_dir, "cold")
        disk = du_mib(state_dir)
        say(f"warm restart after {TAIL:,} more entries")
        populate(bench, TAIL, start=entries)
        warm = restore(bench, state_dir, "warm")
    print(
        f"restore: {entries:,} delegations ({size} bytes of JSON each) in {CHANGELOG} "
        f"(6 partitions), 1 delegation worker owning all 6 tasks, 1 broker"
    )
    print(
        f"  broker read limit (ConsumerPerformance, fetch rate): {limit:>10,.0f} records/s"
        f" | {limit_load}"
    )
    for name, r, note in (
        ("cold restore (empty state folder)", cold, "full read"),
        ("warm restart (state folder kept)", warm, f"tail only, {TAIL:,} appended"),
    ):
        records, seconds = int(r["records"]), float(r["seconds"])
        rate = records / seconds if seconds else float("inf")
        print(
            f"  {name}: {records:,} records ({note}) in {seconds:.2f} s = {rate:,.0f} records/s "
            f"= {rate / limit:.3f}× broker read limit; launch → restored {r['wall']:.1f} s; "
            f"peak RSS (VmHWM) {r['hwm_mib']:.0f} MiB, RSS after {r['rss_mib']:.0f} MiB | {r['load']}"
        )
    print(f"  state folder after the cold restore: {disk:,.0f} MiB of SQLite")
    figures: dict[str, Any] = {
        "delegation_restore_entries": entries,
        "delegation_restore_record_bytes": size,
        "delegation_restore_consumer_perf_records_s": limit,
        "delegation_restore_state_mib": disk,
    }
    for name, r in (("delegation_restore", cold), ("delegation_warm_restore", warm)):
        seconds = float(r["seconds"])
        figures.update(
            {
                f"{name}_records": r["records"],
                f"{name}_s": seconds,
                f"{name}_records_s": r["records"] / seconds if seconds else None,
                f"{name}_launch_to_restored_s": r["wall"],
                f"{name}_peak_rss_mib": r["hwm_mib"],
                f"{name}_load": r["load"],
            }
        )
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
