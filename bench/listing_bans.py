"""Listing → ban initial load: a fresh restriction worker over an existing list (issue 17, item 6).

On a private stack (one broker, memory registry), writes ``N`` ACTIVE synthetic entries
(``courtbus.synth.kafka.write_entries``, seed 0, listed by the directory's courts so their
inboxes exist) to the list's view ``blacklist.entries``, then Kafka's ConsumerPerformance over
that topic (the broker's read limit, the figure beside ours). Then the gateway starts, and
after it a restriction worker with an empty state folder (one worker owning all 6 tasks):
its art. 1 para. 2 consumption ban for every entry is the load. Meanwhile court 320583 issues
live consumption bans through the SDK (``CourtClient.restriction.issue_consumption_ban``,
``--live-rate`` a second, default 5), outbox → gateway → ``bus.restriction.events`` →
restriction → ``restriction.controls``; a separate process reads one partition of
``restriction.controls`` (the live control ids are chosen to land there, so it need not read
every ban) and notes when each live ban arrives. The feed router does not run: the figure is
the restriction service's.

Done when the restriction group's committed offsets on ``blacklist.entries`` reach the
topic's end; then ``restriction.controls`` is counted (read_committed) and must hold at least
``N`` + the live bans. Printed and written (``--json PATH``): seconds and bans/s from the
worker's launch, CPU seconds and µs of CPU per ban of the worker process once its tasks were
open (from /proc: the main figure on a loaded machine; its start's CPU beside), its peak RSS,
the live bans' p50/p99/max latency and its two hops (the gateway's, the restriction
service's: from the record timestamps of ``bus.restriction.events`` and the ban), the 8.6 M
time extrapolated from the rate (not measured), the broker's read limit and the load average.

``python -m bench.listing_bans [--entries 100000] [--live-rate 5] [--json PATH]
[--profile FILE]`` (``--profile``: cProfile of the restriction worker into FILE, slower).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import queue
import threading
import time
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner import murmur2

from bench.common import (
    Service,
    consumer_performance,
    count_topic,
    load,
    percentile,
    private_stack,
    say,
    service_env,
)
from courtbus.app.samples import PERSON_ID
from courtbus.bus.topics import BLACKLIST_VIEW, RESTRICTION_VIEW
from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.synth.blacklist import NATIONAL_LIST_2023
from courtbus.synth.kafka import write_entries

VIEW = BLACKLIST_VIEW
CONTROLS = RESTRICTION_VIEW
EVENTS = "bus.restriction.events"
GROUP = "courtbus-restriction"
COURT = "320583"
CASE = "(2024)苏0583执1234号"
PERSON = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
PROBED = 0  # the partition of restriction.controls the live bans go to
GOAL_S = 600.0  # 8.6 M in 10 minutes
GOAL_P99_MS = 1000.0


def live_ids(partitions: int, count: int) -> list[str]:
    """``count`` live control ids whose records land in partition ``PROBED``."""
    found: list[str] = []
    i = 0
    while len(found) < count:
        cid = f"rc-live-{i:07d}"
        if (murmur2(cid.encode()) & 0x7FFFFFFF) % partitions == PROBED:
            found.append(cid)
        i += 1
    return found


def _probe(bootstrap: str, started: Any, stop: Any, results: Any) -> None:
    """(Child process) arrival time of each ``rc-live-`` key in partition ``PROBED`` of
    ``restriction.controls``, and the record timestamps (the producer's clock at the send)
    of its issue on ``bus.restriction.events`` (the gateway's) and of its ban (the
    restriction service's): where the time went."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    parts = [TopicPartition(EVENTS, p) for p in sorted(consumer.partitions_for_topic(EVENTS))]
    tp = TopicPartition(CONTROLS, PROBED)
    consumer.assign([tp, *parts])
    consumer.seek_to_end()
    for part in (tp, *parts):
        consumer.position(part)
    started.set()
    arrived: dict[str, float] = {}
    stamps: dict[str, dict[str, float]] = {}
    while not stop.is_set():
        for part, records in consumer.poll(timeout_ms=50).items():
            now = time.time()
            for rec in records:
                if rec.key is None or not rec.key.startswith(b"rc-live-"):
                    continue
                key = rec.key.decode()
                stamps.setdefault(key, {}).setdefault(part.topic, rec.timestamp / 1000)
                if part.topic == CONTROLS:
                    arrived.setdefault(key, now)
    consumer.close()
    results.put((arrived, stamps))


class LiveBans:
    """Court ``COURT`` issuing consumption bans at ``rate``/s in a thread until ``finish``,
    and a probe process noting their arrival in ``restriction.controls``."""

    def __init__(self, client: CourtClient, rate: float, partitions: int) -> None:
        self.client, self.rate = client, rate
        self.ids = live_ids(partitions, 100_000)
        self.sent_at: dict[str, float] = {}
        self.errors: list[str] = []
        ctx = mp.get_context("spawn")
        self.started, self.stop, self.results = ctx.Event(), ctx.Event(), ctx.Queue()
        self.proc = ctx.Process(
            target=_probe,
            args=(client.sender.conn.bootstrap, self.started, self.stop, self.results),
            daemon=True,
        )
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)

    def start(self) -> None:
        self.proc.start()
        if not self.started.wait(60):
            raise RuntimeError("the probe of restriction.controls did not start")
        self._thread.start()

    def _send(self) -> None:
        began = time.monotonic()
        for i, cid in enumerate(self.ids):
            wait = began + i / self.rate - time.monotonic()
            if self._done.wait(max(0.0, wait)):
                return
            self.sent_at[cid] = time.time()
            try:
                self.client.restriction.issue_consumption_ban(cid, CASE, PERSON)
            except Exception as exc:  # counted as not arrived; the run goes on
                self.errors.append(f"{type(exc).__name__}: {exc}")
                del self.sent_at[cid]

    def finish(self, settle_s: float = 30.0) -> list[float]:
        """Stop sending, wait for the last ones (``settle_s`` at most); latencies (ms, sorted)."""
        self._done.set()
        self._thread.join(timeout=30)
        time.sleep(min(settle_s, 5.0))
        self.stop.set()
        try:
            arrived, stamps = self.results.get(timeout=settle_s + 60)
        except queue.Empty as exc:
            raise RuntimeError("the probe returned nothing") from exc
        self.proc.join(timeout=30)
        self.arrived = arrived
        # the hops: sent -> the gateway's send of the issue -> the restriction's send of the ban
        self.gateway_ms = sorted(
            (stamps[k][EVENTS] - t) * 1000
            for k, t in self.sent_at.items()
            if EVENTS in stamps.get(k, {})
        )
        self.restrictions_ms = sorted(
            (s[CONTROLS] - s[EVENTS]) * 1000 for s in stamps.values() if len(s) == 2
        )
        return sorted((arrived[k] - t) * 1000 for k, t in self.sent_at.items() if k in arrived)


def lag(consumer: KafkaConsumer, parts: list[TopicPartition]) -> int:
    """Records of ``blacklist.entries`` the restriction group has not committed yet
    (``consumer``: of the group, never subscribed, so it only asks)."""
    ends = consumer.end_offsets(parts)
    return sum(max(0, end - (consumer.committed(tp) or 0)) for tp, end in ends.items())


def _fill_part(conn: Connection, count: int, start: int, courts: list[str]) -> int:
    return write_entries(conn, count, start=start, courts=courts)


def fill(conn: Connection, entries: int, courts: list[str], processes: int) -> int:
    """Write entries 0..``entries`` of seed 0 in ``processes`` slices at once (the fill is the
    bench's set-up, not its figure: one kafka-python process writes ~10k/s); the count."""
    processes = max(1, min(processes, entries))
    share = -(-entries // processes)
    parts = [(s, min(share, entries - s)) for s in range(0, entries, share)]
    with mp.get_context("spawn").Pool(len(parts)) as pool:
        done = pool.starmap(_fill_part, [(conn, n, s, courts) for s, n in parts])
    return sum(done)


def main() -> None:
    """Write the list, measure the broker's read limit, run the load with live bans; print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="ACTIVE entries (100 000)")
    parser.add_argument("--live-rate", type=float, default=5.0, help="live bans a second (5)")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    parser.add_argument("--profile", default=None, help="cProfile the restriction worker")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (s)")
    parser.add_argument(
        "--fill-processes",
        type=int,
        default=2,
        help="producer processes writing the list (2; not part of the figure)",
    )
    args = parser.parse_args()
    courts = [c.id for c in load_directory().courts]
    with private_stack() as bench:
        say(f"writing {args.entries:,} ACTIVE entries to {VIEW}")
        began = time.monotonic()
        written = fill(bench.conn, args.entries, courts, args.fill_processes)
        say(f"wrote {written:,} in {time.monotonic() - began:.0f} s; ConsumerPerformance")
        limit = consumer_performance(
            bench.conn.bootstrap, VIEW, written, bench.home / "consumer.properties"
        )
        limit_load = load()
        env = service_env(bench, bench.home / "state")
        gateway = Service("services.gateway", env, bench.home / "gateway.log")
        gateway.start()
        gateway.wait_for("courtbus-gateway restored")
        consumer = KafkaConsumer(
            **bench.conn.kafka_settings(), group_id=GROUP, enable_auto_commit=False
        )
        parts = [TopicPartition(VIEW, p) for p in sorted(consumer.partitions_for_topic(VIEW))]
        partitions = len(consumer.partitions_for_topic(CONTROLS) or ())
        restrictions = Service("services.restriction", env, bench.home / "restriction.log")
        with CourtClient(COURT, bench.conn) as client:
            live = LiveBans(client, args.live_rate, partitions)
            live.start()
            say("starting the restriction worker (empty state folder)")
            prefix = ("-m", "cProfile", "-o", args.profile) if args.profile else ()
            restrictions.start(prefix)
            # its CPU once its tasks are open (imports, schemas, the group's join): the load's
            # is what it uses after that
            restrictions.wait_for("courtbus-restriction restored", timeout_s=args.timeout)
            cpu0 = restrictions.cpu_s()
            marks = time.monotonic()
            while (behind := lag(consumer, parts)) > 0:
                if time.monotonic() - restrictions.started > args.timeout:
                    raise RuntimeError(f"not done in {args.timeout:.0f} s: {behind:,} behind")
                if restrictions.proc is not None and restrictions.proc.poll() is not None:
                    raise RuntimeError(
                        f"the restriction worker exited:\n{restrictions.text()[-3000:]}"
                    )
                if time.monotonic() - marks >= 15:
                    marks = time.monotonic()
                    say(f"  {written - behind:,} of {written:,} listings done | {load()}")
                time.sleep(0.5)
            took = time.perf_counter() - restrictions.started
            cpu_all = restrictions.cpu_s()
            cpu = cpu_all - cpu0
            hwm = restrictions.status("VmHWM") / 1024
            run_load = load()
            latencies = live.finish()
        restrictions.stop()
        gateway.stop()
        bans = count_topic(bench.conn, CONTROLS, timeout_s=600)
        consumer.close()
        progress = [ln for ln in restrictions.text().splitlines() if "listing load" in ln]
    rate = written / took
    figures: dict[str, Any] = {
        "listing_bans_entries": written,
        "listing_bans_s": round(took, 2),
        "listing_bans_per_s": round(rate, 1),
        "listing_bans_cpu_s": round(cpu, 2),
        "listing_bans_cpu_us_per_ban": round(cpu / written * 1e6, 1),
        "listing_bans_start_cpu_s": round(cpu0, 2),
        "listing_bans_peak_rss_mib": round(hwm, 1),
        "listing_bans_8m_s_extrapolated": round(NATIONAL_LIST_2023 / rate, 0),
        **({"listing_bans_8m_s": round(took, 1)} if written >= NATIONAL_LIST_2023 else {}),
        "listing_bans_controls_records": bans,
        "live_bans_sent": len(live.sent_at),
        "live_bans_arrived": len(latencies),
        "live_ban_p50_ms": round(percentile(latencies, 0.5), 1),
        "live_ban_p99_ms": round(percentile(latencies, 0.99), 1),
        "live_ban_max_ms": round(latencies[-1], 1) if latencies else None,
        "live_ban_gateway_p50_ms": round(percentile(live.gateway_ms, 0.5), 1),
        "live_ban_gateway_p99_ms": round(percentile(live.gateway_ms, 0.99), 1),
        "live_ban_restrictions_p50_ms": round(percentile(live.restrictions_ms, 0.5), 1),
        "live_ban_restrictions_p99_ms": round(percentile(live.restrictions_ms, 0.99), 1),
        "consumer_perf_entries_s": round(limit, 0),
        "load": run_load,
        "consumer_perf_load": limit_load,
    }
    ok = "OK" if bans >= written + len(latencies) else f"SHORT (expected ≥ {written:,} + live)"
    print(
        f"listing → ban initial load: {written:,} ACTIVE entries of {VIEW}, a fresh "
        f"restriction worker (empty state, 6 tasks), 1 broker; live bans at "
        f"{args.live_rate:g}/s through the gateway meanwhile"
    )
    print(
        f"  broker read limit (ConsumerPerformance, {VIEW}): {limit:>10,.0f} records/s"
        f" | {limit_load}"
    )
    print(
        f"  load: {written:,} bans in {took:.1f} s from launch = {rate:,.0f} bans/s "
        f"({rate / limit:.4f}× read limit) | {run_load}"
    )
    print(
        f"  CPU of the worker: {cpu:.1f} s = {cpu / written * 1e6:,.0f} µs per ban once its "
        f"tasks were open (+ {cpu0:.1f} s to start); peak RSS {hwm:.0f} MiB; {CONTROLS}: "
        f"{bans:,} records {ok}"
    )
    how = "measured" if written >= NATIONAL_LIST_2023 else "extrapolated at this rate, not measured"
    print(f"  8.6 M ({how}): {NATIONAL_LIST_2023 / rate:,.0f} s (goal ≤ {GOAL_S:.0f} s)")
    p99 = figures["live_ban_p99_ms"]
    print(
        f"  live bans: {len(latencies)} of {len(live.sent_at)} arrived; p50 "
        f"{figures['live_ban_p50_ms']:,} ms, p99 {p99:,} ms, max {figures['live_ban_max_ms']} ms "
        f"(goal p99 ≤ {GOAL_P99_MS:.0f} ms: {'meets' if p99 <= GOAL_P99_MS else 'misses'} it)"
    )
    print(
        f"    of which the gateway's hop (sent → its send of the issue) p50 "
        f"{figures['live_ban_gateway_p50_ms']:,} ms, p99 {figures['live_ban_gateway_p99_ms']:,}"
        f" ms; the restriction service's (→ its send of the ban) p50 "
        f"{figures['live_ban_restrictions_p50_ms']:,} ms, p99 "
        f"{figures['live_ban_restrictions_p99_ms']:,} ms (record timestamps)"
    )
    if live.errors:
        print(f"  live sends failed: {len(live.errors)}, first: {live.errors[0][:200]}")
    for line in progress[-3:]:
        print(f"    {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
