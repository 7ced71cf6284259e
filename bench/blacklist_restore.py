"""Restart time and peak memory of a blacklist worker holding the national list (1 M or 8.6 M).

On a private stack (one broker), fills the blacklist service's changelogs as the service itself
stores them: ``bus.blacklist.entries.changelog`` (the JSON of
``services.blacklist.state.dump_kept``, keyed by entry id), ``bus.blacklist.timers.changelog``
(each entry with a period has its expiry timer) and ``bus.blacklist.debtors.changelog`` (one
open case per debtor, keyed by the debtor's hash), partitioned like ``bus.blacklist.events``.
One entry in five is ground (1) (no period, no timer). The per-court digest buckets
(``bus.blacklist.courts.changelog``) are left empty: the figure is for the entries.

Then Kafka's ConsumerPerformance over the entries changelog (the broker's read limit), and a
cold restore: ``python -m services.blacklist`` with an empty state folder, one worker owning
all 6 tasks. Printed: records and seconds the worker logs, records/s beside the broker's
limit, launch → restored, the worker's CPU seconds until then and per record (from ``/proc``:
the steadier figure on a loaded machine), peak RSS (``VmHWM``).

``python -m bench.blacklist_restore`` (1 M); ``--full`` (8.6 M, the 2023 national list);
``--entries N``; ``--json PATH`` writes the figures (``restore_8m_s`` with ``--full``).
"""

from __future__ import annotations

import argparse
import hashlib
import time
import uuid
from datetime import UTC, datetime
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
from courtbus.domain import blacklist as bl
from services.blacklist.state import Debtor, Kept, dump_debtor, dump_kept

ENTRIES = "bus.blacklist.entries.changelog"
TIMERS = "bus.blacklist.timers.changelog"
DEBTORS = "bus.blacklist.debtors.changelog"
RESTORED = (
    r"courtbus-blacklist restored (\d+) changelog records for (\d+) new task\(s\) in ([\d.]+)s"
)
PLACEHOLDER = "bl-00000000000000000000"


def template(ground: bl.Ground, now: datetime) -> tuple[bytes, int | None]:
    """A stored entry (``PLACEHOLDER`` as its id) and its expiry in ms (None: ground (1))."""
    period = None if ground is bl.Ground.REFUSED_WITH_ABILITY else bl.PERIOD_MONTHS
    listing = bl.Listing(
        debtor_kind="PERSON",
        debtor_id="320583199303121234",
        ground=ground,
        serious=False,
        period_months=period,
        listed_at=now,
        performance="全部未履行",
        conduct="规避执行",
        title_issuer="江苏省昆山市人民法院",
        title_number="(2023)苏0583民初100号",
        filed_at=now,
    )
    entry = bl.listed(PLACEHOLDER, "320583", listing)
    published = {
        "case_number": {
            "text": "(2024)苏0583执100号",
            "year": 2024,
            "court_id": "320583",
            "type_code": "执",
            "sequence": 100,
        },
        "listing_court": {"court_id": "320583", "designation": "苏0583"},
        "debtor": {
            "kind": "PERSON",
            "name": "张三",
            "id_number": "320583199303121234",
            "id_type": None,
            "nationality": None,
        },
        "legal_representative": None,
        "legal_representative_id": None,
        "obligation": "给付 100,000.00 元",
        "performance": "全部未履行",
        "conduct": "规避执行",
        "title_issuer": "江苏省昆山市人民法院",
        "title_number": "(2023)苏0583民初100号",
        "filed_at": now.isoformat(),
        "listed_at": now.isoformat(),
    }
    kept = Kept(entry, published, "ab" * 12, "(2024)苏0583执100号")
    expiry = int(entry.expires_at.timestamp() * 1000) if entry.expires_at else None
    return dump_kept(kept), expiry


def populate(bench: Bench, count: int) -> int:
    """Append ``count`` entries (and their timers and debtors); the average entry size."""
    now = datetime.now(UTC)
    # one in five ground (1), until performed; the rest 2 years, with an expiry timer
    shapes = [template(bl.Ground.REFUSED_WITH_ABILITY, now)]
    shapes += [template(bl.Ground.EVADED_EXECUTION, now)] * 4
    producer = KafkaProducer(
        **bench.conn.kafka_settings(), acks=1, linger_ms=50, batch_size=1024 * 1024
    )
    placeholder = PLACEHOLDER.encode()
    run = uuid.uuid4().hex[:6]
    total = 0
    began = time.monotonic()
    for i in range(count):
        eid = f"bl-{run}-{i:014d}".encode()
        value, expiry = shapes[i % len(shapes)]
        value = value.replace(placeholder, eid)
        producer.send(ENTRIES, key=eid, value=value)
        if expiry is not None:
            producer.send(TIMERS, key=eid, value=b"", headers=[("cb_t", str(expiry).encode())])
        debtor = hashlib.sha256(eid).hexdigest()[:24]
        producer.send(
            DEBTORS,
            key=debtor.encode(),
            value=dump_debtor(Debtor({f"(2024)苏0583执{i}号": eid.decode()})),
        )
        total += len(value)
        if (i + 1) % 500_000 == 0:
            say(f"  {i + 1:,} of {count:,} appended")
    producer.flush()
    producer.close()
    say(
        f"appended {count:,} entries ({total / count:.0f} bytes each) in "
        f"{time.monotonic() - began:.0f} s"
    )
    return round(total / count)


def restore(bench: Bench, state_dir: Path) -> dict[str, Any]:
    """Start a blacklist worker, wait for its restore line, read its peak RSS, stop it."""
    proc = Service("services.blacklist", service_env(bench, state_dir), bench.home / "cold.log")
    proc.start()
    try:
        match = proc.wait_for(RESTORED, timeout_s=3600)
        wall = time.perf_counter() - proc.started
        hwm, rss, cpu = proc.status("VmHWM"), proc.status("VmRSS"), proc.cpu_s()
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
        "cpu_s": cpu,
        "load": load(),
    }


def main() -> None:
    """Populate, measure the broker's read limit, restore cold, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="8.6 M entries (slow)")
    parser.add_argument("--entries", type=int, default=None, help="entries (default 1 M)")
    add_json_option(parser)
    args = parser.parse_args()
    entries = args.entries or (8_600_000 if args.full else 1_000_000)
    with private_stack() as bench:
        say(f"appending {entries:,} entries to {ENTRIES} (+ timers, debtors)")
        size = populate(bench, entries)
        say("broker read limit: ConsumerPerformance over the entries changelog")
        limit = consumer_performance(
            bench.conn.bootstrap, ENTRIES, entries, bench.home / "consumer.properties"
        )
        limit_load = load()
        say("cold restore: one blacklist worker, empty state folder")
        cold = restore(bench, bench.home / "state")
    records, seconds = int(cold["records"]), float(cold["seconds"])
    rate = records / seconds if seconds else float("inf")
    print(
        f"blacklist restore: {entries:,} entries ({size} bytes of JSON each), with their timers "
        f"and debtors, 1 blacklist worker owning all 6 tasks, 1 broker"
    )
    print(
        f"  broker read limit (ConsumerPerformance, entries changelog): {limit:>10,.0f} records/s"
        f" | {limit_load}"
    )
    print(
        f"  cold restore: {records:,} changelog records in {seconds:.2f} s = {rate:,.0f} records/s"
        f" = {rate / limit:.3f}× broker read limit; launch → restored {cold['wall']:.1f} s; "
        f"peak RSS (VmHWM) {cold['hwm_mib']:.0f} MiB, RSS after {cold['rss_mib']:.0f} MiB "
        f"| {cold['load']}"
    )
    cpu_us = cold["cpu_s"] / max(records, 1) * 1e6
    print(
        f"  worker CPU until restored: {cold['cpu_s']:.1f} s = {cpu_us:.1f} µs/record "
        f"(process start and group join included)"
    )
    if args.json is not None:
        figures: dict[str, Any] = {
            "restore_entries": entries,
            "restore_records": records,
            "restore_s": seconds,
            "restore_records_s": rate,
            "restore_cpu_us_per_record": cpu_us,
            "restore_peak_rss_mib": cold["hwm_mib"],
            "restore_consumer_perf_records_s": limit,
            "restore_launch_to_restored_s": cold["wall"],
            "load": cold["load"],
        }
        if entries == 8_600_000:
            figures["restore_8m_s"] = seconds
        write_json(args.json, figures)


if __name__ == "__main__":
    main()
