"""Bootstrap speed of a partner's SQLite mirror of the national list (1 M or 8.6 M entries).

On a private stack (one broker), writes ``N`` synthetic entries (``courtbus.synth.blacklist``,
seed 0) to icbc's feed ``agency.icbc.blacklist`` as the feed router writes them: the router's
own route for icbc (``services.feeds.flow.feed_routes``: its projected schema, registered
under ``cn.court.bus.feed.icbc.BlacklistEntry``, and ``FeedRoute.project``), the view's
CloudEvents headers with the router's derived ``ce_id``, keyed by entry id. The records are
produced straight to the feed topic (two producer processes, ``courtbus.synth.kafka``'s fast
settings, no compression like the router); the router service itself does not run.

Then Kafka's ConsumerPerformance over the feed (the broker's read limit) and, in a fresh
process, ``AgencyClient("icbc", conn).sync("blacklist", "sqlite:///…", follow=False)``.
Printed: entries/s and seconds of the bootstrap (``SyncResult.bootstrap_s``), the ratio to the
broker's limit, the CPU per entry of the syncing process and its bootstrap workers together
(user + system, process starts included: the steadier figure on a loaded machine), peak RSS
(``VmHWM``) of the syncing process and of its largest bootstrap worker process, and the
mirror's row count, which must equal ``N``.

``python -m bench.blacklist_bootstrap`` (1 M); ``--full`` (8.6 M, the 2023 national list);
``--entries N``; ``--profile FILE`` (cProfile of the sync into FILE, slower); ``--json PATH``
writes the figures (``bootstrap_entries_s``, ``bootstrap_peak_rss_mib``, the largest worker's
``bootstrap_worker_peak_rss_mib``, ConsumerPerformance's ``consumer_perf_entries_s``, and
``bootstrap_8m_s`` with ``--full``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import add_json_option, consumer_performance, load, private_stack, say, write_json
from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.synth.blacklist import NATIONAL_LIST_2023, entry_payloads
from courtbus.synth.kafka import FAST_PRODUCER
from courtbus.wire.client import make_envelope, make_producer
from courtbus.wire.events import EventHeaders
from courtbus.wire.messages import by_record
from services.feeds.flow import _headers, feed_routes

AGENCY = "icbc"
TOPIC = f"agency.{AGENCY}.blacklist"
ENTRY = "cn.court.bus.blacklist.BlacklistEntry"
VIEW_SOURCE = "bus:blacklist"  # the view's headers, as the blacklist service wrote them
WRITERS = 2


def _write_slice(bootstrap: str, registry_url: str, start: int, count: int) -> tuple[int, int]:
    """Produce entries ``start`` … ``start + count`` to icbc's feed; (records, value bytes)."""
    conn = Connection(bootstrap, registry_url)
    envelope = make_envelope(conn)
    codec = envelope.codec
    route = next(
        r
        for r in feed_routes(load_directory(), codec.schemas)
        if r.agency == AGENCY and r.flow == "blacklist"
    )
    mtype = by_record(ENTRY)
    settings = dict(FAST_PRODUCER)
    producer = make_producer(conn, **settings)
    written = size = 0
    try:
        for payload in entry_payloads(count, start=start):
            if not route.wants(payload):
                continue
            event = EventHeaders.new(VIEW_SOURCE, mtype.ce_type, mtype.subject(payload))
            value = codec.encode_with(route.schema, route.project(payload))
            headers = _headers(event.to_kafka(), event.id, route.agency)
            producer.send(TOPIC, key=mtype.key(payload).encode(), value=value, headers=headers)
            written += 1
            size += len(value)
        producer.flush()
    finally:
        producer.close()
        envelope.codec.registry.close()  # type: ignore[attr-defined]
    return written, size


def populate(conn: Connection, count: int) -> tuple[int, float]:
    """Write ``count`` projected entries with ``WRITERS`` processes; (written, avg bytes)."""
    registry = conn.require_registry()
    share = -(-count // WRITERS)
    slices = [(i * share, min(share, count - i * share)) for i in range(WRITERS)]
    began = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
        done = pool.starmap(
            _write_slice, [(conn.bootstrap, registry, s, n) for s, n in slices if n > 0]
        )
    written = sum(w for w, _ in done)
    size = sum(b for _, b in done) / max(1, written)
    say(
        f"wrote {written:,} entries ({size:.0f} bytes of Avro each) to {TOPIC} in "
        f"{time.monotonic() - began:.0f} s"
    )
    return written, size


def _status(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def _sync(bootstrap: str, registry_url: str, url: str, profile: str | None) -> dict[str, Any]:
    """In a fresh process: sync icbc's blacklist into ``url``; the figures."""
    from courtbus.sdk import AgencyClient

    conn = Connection(bootstrap, registry_url)
    marks = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - marks[-1] >= 10:
            marks.append(time.monotonic())
            say(f"  synced {done:,} of {total:,}")

    before = _status("VmRSS")
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = own.ru_utime + own.ru_stime
    started = time.monotonic()
    with AgencyClient(AGENCY, conn) as client:
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(
                client.sync, "blacklist", url, follow=False, progress=progress
            )
            profiler.dump_stats(profile)
        else:
            result = client.sync("blacklist", url, follow=False, progress=progress)
    wall = time.monotonic() - started
    # the bootstrap's worker processes (courtbus.sdk.feed_reader._Sync._parallel) are children
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = kids.ru_maxrss / 1024
    me = resource.getrusage(resource.RUSAGE_SELF)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - cpu_before
    return {
        "read": result.read,
        "written": result.written,
        "rows": result.rows,
        "seconds": result.bootstrap_s,
        "wall": wall,
        "hwm_mib": _status("VmHWM") / 1024,
        "rss_before_mib": before / 1024,
        "children_mib": children,
        "cpu_s": cpu,
        "load": load(),
    }


def sync(conn: Connection, url: str, profile: str | None) -> dict[str, Any]:
    """Run ``_sync`` in a spawned process (its peak RSS is the sync's alone)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        figures: dict[str, Any] = pool.apply(
            _sync, (conn.bootstrap, conn.require_registry(), url, profile)
        )
    return figures


def main() -> None:
    """Write the feed, measure the broker's read limit, bootstrap a mirror, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="8.6 M entries (slow)")
    parser.add_argument("--entries", type=int, default=None, help="entries (default 1 M)")
    parser.add_argument("--profile", default=None, help="cProfile the sync into this file")
    add_json_option(parser)
    args = parser.parse_args()
    entries = args.entries or (NATIONAL_LIST_2023 if args.full else 1_000_000)
    with private_stack() as bench, tempfile.TemporaryDirectory(prefix="courtbus-mirror-") as db:
        say(
            f"writing {entries:,} projected entries to {TOPIC} (router's projection, "
            "produced directly: the feed router service does not run)"
        )
        written, size = populate(bench.conn, entries)
        say("broker read limit: ConsumerPerformance over the feed")
        limit = consumer_performance(
            bench.conn.bootstrap, TOPIC, written, bench.home / "consumer.properties"
        )
        limit_load = load()
        url = f"sqlite:///{Path(db) / 'icbc.db'}"
        say(f"bootstrap: AgencyClient({AGENCY!r}).sync('blacklist', {url}, follow=False)")
        run = sync(bench.conn, url, args.profile)
        db_mib = sum(p.stat().st_size for p in Path(db).iterdir()) / 2**20
    seconds = float(run["seconds"])
    rate = run["read"] / seconds if seconds else float("inf")
    ok = "OK" if run["rows"] == written else f"MISMATCH (expected {written:,})"
    goal = NATIONAL_LIST_2023 / 90
    print(
        f"blacklist bootstrap: {written:,} entries of icbc's feed {TOPIC} ({size:.0f} bytes "
        f"of Avro each, 6 partitions, produced directly with the feed router's projection), "
        f"into SQLite, 1 broker"
    )
    print(
        f"  broker read limit (ConsumerPerformance, the feed): {limit:>10,.0f} records/s"
        f" | {limit_load}"
    )
    print(
        f"  bootstrap: {run['read']:,} records in {seconds:.2f} s = {rate:,.0f} entries/s = "
        f"{rate / limit:.3f}× broker read limit (goal {goal:,.0f}/s: 8.6 M in 90 s); "
        f"sync() wall {run['wall']:.1f} s; peak RSS (VmHWM) {run['hwm_mib']:.0f} MiB, of "
        f"the largest worker process {run['children_mib']:.0f} MiB "
        f"| {run['load']}"
    )
    cpu_us = run["cpu_s"] / max(1, run["read"]) * 1e6
    print(
        f"  CPU (syncing process and its workers, user + system): {run['cpu_s']:.1f} s = "
        f"{cpu_us:.1f} µs/entry; on 2 free cores at most {2e6 / cpu_us:,.0f} entries/s"
    )
    print(
        f"  mirror: {run['rows']:,} rows {ok}; SQLite files {db_mib:,.0f} MiB; 8.6 M at "
        f"this speed: {NATIONAL_LIST_2023 / rate:,.0f} s"
    )
    if args.profile:
        print(f"  profile of the sync: {args.profile}")
    write_json(
        args.json,
        {
            "bootstrap_entries": written,
            "bootstrap_entry_bytes": size,
            "bootstrap_s": seconds,
            "bootstrap_entries_s": rate,
            "bootstrap_wall_s": run["wall"],
            "bootstrap_cpu_us_per_entry": cpu_us,
            "bootstrap_peak_rss_mib": run["hwm_mib"],
            "bootstrap_worker_peak_rss_mib": run["children_mib"],
            "bootstrap_rows": run["rows"],
            "bootstrap_rows_ok": run["rows"] == written,
            "consumer_perf_entries_s": limit,
            "consumer_perf_load": limit_load,
            "load": run["load"],
            **({"bootstrap_8m_s": seconds} if entries == NATIONAL_LIST_2023 else {}),
        },
    )


if __name__ == "__main__":
    main()
