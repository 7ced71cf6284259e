"""A sustained load over the flows (issue 20, item 4): ``--rate`` records/s for ``--minutes``,
with every service's memory, every group's lag and the delegation latency sampled; it fails
(exit code 1) unless memory stays flat and lag stays bounded. ``make soak`` runs it for 10
minutes at 1,000/s (``make soak-load`` alone).

On a private stack (one broker, memory registry), the gateway, delegation, blacklist,
restriction and projector services (one worker each, as processes). Offered, open loop:
80% delegation requests (court 320583 → court 6101,
``CourtClient.delegation.request_delegations`` with every request due by then), 10% listings
of a person (court 4408, each also bringing the listing's consumption ban) and 10% consumption
bans (court 3205), each stream paced on its own thread. A reader in a process of its own
notes when each request reaches ``court.6101.inbox`` (read_committed). Every ``--sample``
seconds: each service's RSS (``VmRSS``) and each group's lag (the end offsets of its input partitions less its committed offsets).

Verdict, after a drain of at most ``--drain`` seconds:

* **memory flat**: each service's RSS at the end is at most 1.25× (+ 32 MiB) its RSS after the
  first ``--warmup`` seconds (imports and librdkafka's queues filled by then), plus the
  capacity of its SQLite page caches (``courtbus_state_cache_bytes`` from its ``/metrics``: 64
  MiB for the gateway's shared state file, 8 MiB per task elsewhere), which fill as the state
  grows and then stay: growth beyond that is a leak;
* **lag bounded**: no group's lag growing: its largest lag over the second half of the run at
  most 1.5× (+ 1,000 records) its largest over the first half after the warm-up (a service
  that keeps up has a lag that comes and goes with its batches; one that falls behind has a
  lag that grows with time), none above ``--lag-bound`` records if given, and every group at
  most 100 behind after the drain. A group's lag counts its input records: the projector reads
  every flow's topics, so its lag is several times the offered records;
* **delivered**: every offered request in the inbox after the drain.

Printed: the offered and achieved rates, per minute the delegation p50/p99 and the largest lag,
each service's RSS first and last, the verdict. ``--json PATH`` writes them
(``sustained_*`` keys).

``python -m bench.sustained [--rate 1000] [--minutes 10] [--sample 10] [--warmup 60]
[--drain 180] [--lag-bound N] [--json PATH]``
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from bench.common import (
    Arrivals,
    Bench,
    Service,
    add_json_option,
    load,
    paced,
    percentile,
    private_stack,
    running,
    say,
    service_env,
    write_json,
)
from bench.latency import request
from courtbus.runtime.metrics import live_targets
from courtbus.sdk import CourtClient
from courtbus.web.service_metrics import metric_sum
from courtbus.wire import values as v

SENDER, EXECUTING = "320583", "6101"
LISTER, BANNER = "4408", "3205"
INBOX = f"court.{EXECUTING}.inbox"
PERSON = {"kind": "PERSON", "name": "张三", "id_number": "320583199303121234"}
GROUPS = {
    "gateway": "courtbus-gateway",
    "delegation": "courtbus-delegation",
    "blacklist": "courtbus-blacklist",
    "restriction": "courtbus-restriction",
    "projector": "projector-sustained",
}
SHARES = (("delegation", 0.8), ("listing", 0.1), ("ban", 0.1))
MIB = 1024


def group_lags(bench: Bench, groups: Iterable[str]) -> dict[str, int]:
    """Each group's lag: the end offsets of the partitions it has committed less its offsets."""
    admin = bench.admin()
    consumer = KafkaConsumer(**bench.conn.kafka_settings(), enable_auto_commit=False)
    try:
        lags = {}
        for group, offsets in admin.list_group_offsets(list(groups)).items():
            parts = [tp for tp, meta in offsets.items() if meta.offset >= 0]
            for topic in {tp.topic for tp in parts}:  # its metadata first (end_offsets needs it)
                consumer.partitions_for_topic(topic)
            ends = consumer.end_offsets(parts) if parts else {}
            lags[group] = sum(max(0, ends[tp] - offsets[tp].offset) for tp in parts)
        return lags
    finally:
        consumer.close()
        admin.close()


class Sampler:
    """Every ``every`` seconds, on its own thread: (seconds since start, RSS in KiB by
    service, lag by group)."""

    def __init__(self, bench: Bench, services: Mapping[str, Service], every: float) -> None:
        self.bench, self.services, self.every = bench, services, every
        self.samples: list[tuple[float, dict[str, int], dict[str, int]]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.began = time.monotonic()
        self.thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self.thread.start()

    def take(self) -> tuple[float, dict[str, int], dict[str, int]]:
        """One sample now."""
        rss = {name: svc.status("VmRSS") for name, svc in self.services.items()}
        lags = group_lags(self.bench, GROUPS.values())
        return time.monotonic() - self.began, rss, lags

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                self.samples.append(self.take())
            except Exception as exc:  # a sample missed, said at the end
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def cache_kib(state_dir: Path, services: Mapping[str, Service]) -> dict[str, int]:
    """Each service's SQLite page-cache capacity in KiB, from its ``/metrics``
    (``courtbus_state_cache_bytes``; 0 where it cannot be read, so nothing is allowed)."""
    by_pid = {t.pid: t for t in live_targets(state_dir)}
    found = {}
    for name, svc in services.items():
        target = by_pid.get(svc.pid)
        value = 0.0
        if target is not None:
            try:
                with urllib.request.urlopen(f"http://{target.address}/metrics", timeout=5) as r:
                    text = r.read().decode()
                value = metric_sum(text, "courtbus_state_cache_bytes")
            except (OSError, ValueError):
                value = 0.0
        found[name] = int(value // 1024)
    return found


def _stream(
    rate: float, seconds: float, send: Callable[[int, int], Iterable[str]], out: dict[str, Any]
) -> threading.Thread:
    def run() -> None:
        try:
            out["sent_at"], out["send_s"] = paced(max(1, round(rate)), seconds, send)
        except Exception as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _senders(bench: Bench, tag: str) -> tuple[list[CourtClient], dict[str, Callable[..., Any]]]:
    requester, lister, banner = (CourtClient(c, bench.conn) for c in (SENDER, LISTER, BANNER))

    def delegations(i: int, j: int) -> list[str]:
        batch = [request(k, tag) for k in range(i, j)]
        requester.delegation.request_delegations(batch)
        return [r["delegation_id"] for r in batch]

    def listings(i: int, j: int) -> list[str]:
        ids = []
        for k in range(i, j):
            eid = f"bl-{tag}-{k:07d}"
            lister.blacklist.list_debtor(
                eid,
                f"(2024)粤08执{k % 9000 + 1000}号",
                PERSON,
                "REFUSED_WITH_ABILITY",
                obligation="支付货款 86,000.00 元",
                performance="全部未履行",
                conduct="有履行能力而拒不履行",
                title_issuer="广东省湛江市中级人民法院",
                title_number=f"(2023)粤08民初{k}号",
                filed_at=v.now() - timedelta(days=90),
            )
            ids.append(eid)
        return ids

    def bans(i: int, j: int) -> list[str]:
        ids = []
        for k in range(i, j):
            cid = f"rc-{tag}-{k:07d}"
            banner.restriction.issue_consumption_ban(
                cid, f"(2024)苏05执{k % 9000 + 1000}号", PERSON
            )
            ids.append(cid)
        return ids

    return [requester, lister, banner], {
        "delegation": delegations,
        "listing": listings,
        "ban": bans,
    }


def _per_minute(sent_at: Mapping[str, float], arrived: Mapping[str, float]) -> list[str]:
    if not sent_at:
        return []
    start = min(sent_at.values())
    minutes: dict[int, list[float]] = {}
    for key, at in sent_at.items():
        if key in arrived:
            minutes.setdefault(int((at - start) // 60), []).append((arrived[key] - at) * 1000)
    lines = []
    for m in sorted(minutes):
        lat = sorted(minutes[m])
        lines.append(
            f"minute {m + 1}: {len(lat)} delivered, p50 {percentile(lat, 0.5):.0f} ms, "
            f"p99 {percentile(lat, 0.99):.0f} ms, max {lat[-1]:.0f} ms"
        )
    return lines


def main() -> None:
    """Run the load, sample, judge; exit code 1 if memory grew or lag ran away."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="records/s over all flows")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="s before the RSS baseline")
    parser.add_argument("--drain", type=float, default=180.0, help="s to wait for the tail")
    parser.add_argument("--lag-bound", type=int, default=None, help="records, for any group")
    add_json_option(parser)
    args = parser.parse_args()
    seconds = args.minutes * 60
    bound = args.lag_bound
    tag = uuid.uuid4().hex[:6]
    with private_stack(1) as bench:
        env = service_env(
            bench,
            bench.home / "state",
            COURTBUS_STORE_URL=f"sqlite:///{bench.home / 'read.db'}",
            COURTBUS_PROJECTOR_GROUP=GROUPS["projector"],
            COURTBUS_METRICS_PORT="0",
        )
        with running(bench, GROUPS, env) as services:
            clients, senders = _senders(bench, tag)
            probe = Arrivals(bench.conn.bootstrap, (INBOX, "bus.delegation.events"))
            say(
                f"offering {args.rate:.0f} records/s for {args.minutes:g} min "
                f"({', '.join(f'{n} {s:.0%}' for n, s in SHARES)})"
            )
            sampler = Sampler(bench, services, args.sample)
            streams: dict[str, dict[str, Any]] = {name: {} for name, _ in SHARES}
            threads = [
                _stream(args.rate * share, seconds, senders[name], streams[name])
                for name, share in SHARES
            ]
            for t in threads:
                t.join()
            sent_at = streams["delegation"].get("sent_at", {})
            say(f"sent; waiting up to {args.drain:.0f} s for the tail")
            arrived = probe.finish(list(sent_at), timeout_s=args.drain)[INBOX]
            drained = time.monotonic() + args.drain
            while time.monotonic() < drained:  # every group caught up, or the drain is over
                if max(group_lags(bench, GROUPS.values()).values()) <= 100:
                    break
                time.sleep(2)
            last = sampler.take()
            caches = cache_kib(bench.home / "state", services)
            sampler.close()
            for c in clients:
                c.close()
    samples = sampler.samples
    report(args, streams, sent_at, arrived, samples, last, bound, sampler.errors, caches)


def report(
    args: argparse.Namespace,
    streams: Mapping[str, Mapping[str, Any]],
    sent_at: Mapping[str, float],
    arrived: Mapping[str, float],
    samples: list[tuple[float, dict[str, int], dict[str, int]]],
    last: tuple[float, dict[str, int], dict[str, int]],
    bound: int | None,
    errors: list[str],
    caches: Mapping[str, int],
) -> None:
    """Print the figures and the verdict; exit 1 on a failed check (``caches``: each
    service's page-cache capacity in KiB, allowed on top of the RSS limit)."""
    failures = [f"{n}: {s['error']}" for n, s in streams.items() if "error" in s]
    offered = {n: len(s.get("sent_at", {})) for n, s in streams.items()}
    rates = {n: offered[n] / s["send_s"] for n, s in streams.items() if s.get("send_s")}
    print(f"sustained load: {args.rate:.0f}/s offered for {args.minutes:g} min [load {load()}]")
    for name in offered:
        print(f"  {name}: {offered[name]} sent, {rates.get(name, 0):.0f}/s achieved")
    lines = _per_minute(sent_at, arrived)
    print("  delegation publish → inbox:")
    for line in lines:
        print(f"    {line}")
    missing = len(sent_at) - sum(1 for k in sent_at if k in arrived)
    base = [s for s in samples if s[0] >= args.warmup] or samples
    flat = {}
    if base:
        first = base[0][1]
        for name, kib in last[1].items():
            cache = caches.get(name, 0)
            limit = first[name] * 1.25 + 32 * MIB + cache
            flat[name] = kib <= limit
            print(
                f"  {name}: RSS {first[name] / MIB:.0f} MiB after warm-up → "
                f"{kib / MIB:.0f} MiB at the end (limit {limit / MIB:.0f}, of which page "
                f"caches {cache / MIB:.0f}): {'flat' if flat[name] else 'GREW'}"
            )
    loaded = [s for s in samples if args.warmup <= s[0] <= args.minutes * 60]
    half = args.warmup + (args.minutes * 60 - args.warmup) / 2
    peak = {g: max((s[2].get(g, 0) for s in samples), default=0) for g in GROUPS.values()}
    growing: dict[str, bool] = {}
    for group, lag in peak.items():
        early = max((s[2].get(group, 0) for s in loaded if s[0] < half), default=0)
        late = max((s[2].get(group, 0) for s in loaded if s[0] >= half), default=0)
        growing[group] = late > 1.5 * early + 1000 or (bound is not None and lag > bound)
        print(
            f"  {group}: lag at most {early} records in the first half, {late} in the second"
            f"{'' if bound is None else f' (bound {bound})'}, {last[2].get(group, 0)} after "
            f"the drain: {'GROWING' if growing[group] else 'bounded'}"
        )
    lag_ok = bool(loaded) and not any(growing.values()) and max(last[2].values()) <= 100
    verdict = {
        "memory flat": bool(flat) and all(flat.values()),
        "lag bounded": lag_ok,
        "delivered": missing == 0 and bool(sent_at),
        "senders ran": not failures,
    }
    for what, ok in verdict.items():
        print(f"  {what}: {'yes' if ok else 'NO'}")
    for line in failures + errors[:5]:
        print(f"  ! {line}")
    write_json(
        args.json,
        {
            "sustained_rate": args.rate,
            "sustained_minutes": args.minutes,
            "sustained_offered": offered,
            "sustained_achieved_per_s": rates,
            "sustained_undelivered": missing,
            "sustained_minutes_latency": lines,
            "sustained_rss_end_mib": {n: k / MIB for n, k in last[1].items()},
            "sustained_cache_mib": {n: k / MIB for n, k in caches.items()},
            "sustained_lag_peak": peak,
            "sustained_lag_end": last[2],
            "sustained_verdict": verdict,
        },
    )
    if not all(verdict.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
