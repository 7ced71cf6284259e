"""Publish → inbox latency of delegation requests, beside Kafka's own EndToEndLatency.

On a private stack (one broker by default, memory registry), with the gateway, delegation and
projector services running (one worker each, as processes): court 320583 sends paced
``DelegationRequested`` records to court 6101 through the SDK (``CourtClient.request_delegations``
with the requests due by then: one at a time at 100/s; each send time is taken just before the
SDK call, so the SDK's own checks, encoding and acks=all count), and a separate process reads
``court.6101.inbox`` (read_committed) and notes when each request arrives there: outbox →
gateway → bus → delegation → inbox, two transactions. It also notes when each one reaches
``bus.delegation.events`` (the gateway's share). A warm-up of 30 s at 100/s is not counted:
a fresh broker's JIT compiler took most of a core for its first minutes, which showed as
seconds of latency at 100/s.

Offered loads: 100/s for 30 s, then 1,000/s for 20 s. Printed: p50/p95/p99/max, how many
arrived, the rate the pipeline delivered, the CPU each process used, beside Kafka's EndToEndLatency (acks=all,
same stack, same record size, run before the services start; it prints whole milliseconds
and only the 50th, 99th and 99.9th percentiles). Then the count of "NotEnoughReplicas" in
the services' logs, with the lines if there are any (the issue asks that the runtime's
clients produce none; a 1-broker stack cannot, so ``--nodes 3`` runs the same on a
3-broker stack with replication 3 and min.insync.replicas 2).

``python -m bench.latency [--nodes 3]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import re
import time
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from bench.common import (
    Bench,
    Service,
    cpu_seconds,
    kafka_tool,
    load,
    percentile,
    private_stack,
    say,
    service_env,
)
from courtbus.app.samples import one_per_flow
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.wire.client import make_envelope

SENDER, EXECUTING = "320583", "6101"
INBOX = f"court.{EXECUTING}.inbox"
EVENTS = "bus.delegation.events"
LOADS = ((100, 30.0), (1000, 20.0))  # (requests/s, seconds)
if os.environ.get("COURTBUS_BENCH_LOADS"):  # e.g. "100:10" for a quick look
    LOADS = tuple(
        (int(r), float(s))
        for r, s in (x.split(":") for x in os.environ["COURTBUS_BENCH_LOADS"].split(","))
    )
E2E_MESSAGES = 5000
PERSON_ID = "320583199303121234"  # valid checksum; the samples' fictitious debtor


def receive(bootstrap: str, started: Any, expected: Any, results: Any) -> None:
    """(Child process) note when each key first arrives on the inbox and on the bus.

    Runs until the parent sends the ids it expects (and a timeout) and all of them arrived,
    or the timeout passed; then returns ({id: inbox arrival}, {id: bus arrival}) on ``results``.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, fetch_max_wait_ms=10)  # fmt: skip
    parts = [TopicPartition(topic, p) for topic in (INBOX, EVENTS)
             for p in consumer.partitions_for_topic(topic) or ()]  # fmt: skip
    consumer.assign(parts)
    consumer.seek_to_end(*parts)
    for tp in parts:
        consumer.position(tp)
    started.set()
    arrived: dict[str, float] = {}
    on_bus: dict[str, float] = {}  # the first record with that key on the events: the forward
    wanted: set[str] | None = None
    deadline = float("inf")
    while True:
        for tp, records in consumer.poll(timeout_ms=50).items():
            now = time.time()
            seen = arrived if tp.topic == INBOX else on_bus
            for rec in records:
                if rec.key is not None:
                    seen.setdefault(rec.key.decode(), now)
        if wanted is None:
            try:
                ids, timeout_s = expected.get_nowait()
                wanted, deadline = set(ids), time.monotonic() + timeout_s
            except queue.Empty:
                continue
        if wanted <= arrived.keys() or time.monotonic() > deadline:
            break
    consumer.close()
    results.put((arrived, on_bus))


class Probe:
    """The inbox reader, in a process of its own (no GIL shared with the sender)."""

    def __init__(self, bootstrap: str) -> None:
        ctx = mp.get_context("spawn")
        self.started, self.expected, self.results = ctx.Event(), ctx.Queue(), ctx.Queue()
        self.proc = ctx.Process(target=receive, args=(bootstrap, self.started, self.expected,
                                                      self.results), daemon=True)  # fmt: skip
        self.proc.start()
        if not self.started.wait(60):
            raise RuntimeError("the inbox reader did not start")

    def finish(self, ids: list[str], timeout_s: float) -> tuple[dict[str, float], dict[str, float]]:
        """Arrival times in the inbox and on the bus, once all ``ids`` arrived in the inbox
        or ``timeout_s`` passed."""
        self.expected.put((ids, timeout_s))
        try:
            arrived: tuple[dict[str, float], dict[str, float]]
            arrived = self.results.get(timeout=timeout_s + 60)
        except queue.Empty as exc:
            raise RuntimeError("the inbox reader returned nothing") from exc
        self.proc.join(timeout=30)
        return arrived


@dataclass
class Result:
    """One offered load: what was sent, what arrived, and the latencies (ms, sorted)."""

    rate: int
    sent: int
    offered: float
    arrived: int
    delivered: float
    latencies_ms: list[float]
    gateway_ms: list[float]  # SDK call → bus.delegation.events (the gateway's part)
    load: str
    cores: dict[str, float] = field(default_factory=dict)  # CPU used per process, in cores


def request(i: int, tag: str) -> dict[str, Any]:
    """A valid request from court 320583 to court 6101 (a freeze of a bank deposit)."""
    return {
        "delegation_id": f"dlg-{tag}-{i:07d}",
        "case_number": "(2023)苏0583执1234号",
        "executing_court": EXECUTING,
        "matter": "FREEZE",
        "debtor": {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
        "asset_kind": "DEPOSIT",
        "asset_description": "西安某银行账户存款",
        "amount": "120000.00",
        "freeze_period_days": 365,
    }


def offer(
    conn: Connection,
    client: CourtClient,
    rate: int,
    seconds: float,
    tag: str,
    pids: dict[str, int],
) -> Result:
    """Send ``rate``/s for ``seconds``; wait for them in the inbox (120 s at most after).

    ``pids``: processes whose CPU use (in cores, from the first send to the last arrival) is
    reported.

    Open loop: each SDK call sends every request due by then (one at a time at 100/s; if a
    call took longer than the spacing, the next one catches up with several), so the offered
    rate holds as long as the SDK can send that many at all.
    """
    total = round(rate * seconds)
    probe = Probe(conn.bootstrap)
    sent_at: dict[str, float] = {}
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = time.monotonic()
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - began) * rate) + 1, i + 500)
        if due <= i:
            time.sleep(max(0.0, began + i / rate - time.monotonic()))
            continue
        batch = [request(j, tag) for j in range(i, due)]
        now = time.time()
        client.request_delegations(batch)
        for req in batch:
            sent_at[req["delegation_id"]] = now
        i = due
    send_s = time.monotonic() - began
    arrived, on_bus = probe.finish(list(sent_at), timeout_s=120)
    took = time.monotonic() - began
    cores = {name: (cpu_seconds(pid) - cpu[name]) / took for name, pid in pids.items()}
    got = {d: arrived[d] for d in sent_at if d in arrived}
    latencies = sorted((got[d] - sent_at[d]) * 1000 for d in got)
    gateway = sorted((on_bus[d] - sent_at[d]) * 1000 for d in sent_at if d in on_bus)
    span = (max(got.values()) - min(sent_at.values())) if got else float("inf")
    return Result(rate, total, total / send_s, len(got), len(got) / span, latencies, gateway,
                  load(), cores)  # fmt: skip


def end_to_end(bench: Bench, size: int, nodes: int) -> tuple[str, dict[str, float]]:
    """Kafka's EndToEndLatency (acks=all) on a topic of its own; its percentiles in ms."""
    admin = KafkaAdminClient(**bench.conn.kafka_settings())
    try:
        admin.create_topics([NewTopic("bench.e2e", 1, nodes,
                                      topic_configs={"min.insync.replicas": "2" if nodes >= 3 else "1"})])  # fmt: skip
    finally:
        admin.close()
    out = kafka_tool("org.apache.kafka.tools.EndToEndLatency", bench.conn.bootstrap, "bench.e2e",
                     str(E2E_MESSAGES), "all", str(size))  # fmt: skip
    avg = re.search(r"Avg latency: ([\d.]+) ms", out)
    pct = re.search(r"Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)", out)
    if not avg or not pct:
        raise RuntimeError(f"unexpected EndToEndLatency output:\n{out[-2000:]}")
    return load(), {"avg": float(avg.group(1)), "p50": float(pct.group(1)),
                    "p99": float(pct.group(2)), "p999": float(pct.group(3))}  # fmt: skip


def count_in_logs(services: dict[str, Service], pattern: str) -> tuple[int, list[str]]:
    """Lines of the services' logs matching ``pattern`` (case-insensitive): count, lines."""
    lines = [f"{name}: {line}" for name, svc in services.items()
             for line in svc.text().splitlines() if re.search(pattern, line, re.I)]  # fmt: skip
    return len(lines), lines


def main() -> None:
    """Kafka's EndToEndLatency, then the services under 100/s and 1,000/s; print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    args = parser.parse_args()
    with private_stack(args.nodes) as bench:
        envelope = make_envelope(bench.conn, bench.schemas)
        source, topic, record, payload = one_per_flow()[0]  # the same request, 320583 → 6101
        size = len(envelope.build(topic, record, payload, source).value)
        say(f"Kafka's EndToEndLatency: {E2E_MESSAGES} messages of {size} bytes, acks=all")
        e2e_load, e2e = end_to_end(bench, size, args.nodes)
        env = service_env(bench, bench.home / "state",
                          COURTBUS_STORE_URL=f"sqlite:///{bench.home / 'read.db'}",
                          COURTBUS_PROJECTOR_GROUP="projector-bench")  # fmt: skip
        groups = {"gateway": "courtbus-gateway", "delegation": "courtbus-delegation",
                  "projector": "projector-bench"}  # fmt: skip
        services = {name: Service(f"services.{name}", env, bench.home / f"{name}.log")
                    for name in groups}  # fmt: skip
        results: list[Result] = []
        try:
            for svc in services.values():
                svc.start()
            for name, svc in services.items():
                svc.wait_for(f"{groups[name]} restored")
            pids = {name: svc.pid for name, svc in services.items()}
            pids.update({f"broker {i}": b.pid for i, b in enumerate(bench.state.brokers, 1)})
            pids["sender (SDK)"] = os.getpid()
            say("services ready; warm-up: 100/s for 30 s (not counted)")
            with CourtClient(SENDER, bench.conn) as client:
                offer(bench.conn, client, 100, 30.0, "warm", {})
                for rate, seconds in LOADS:
                    say(f"offering {rate}/s for {seconds:.0f} s")
                    results.append(offer(bench.conn, client, rate, seconds, f"r{rate}", pids))
        finally:
            for svc in services.values():
                svc.stop()
        replicas, replica_lines = count_in_logs(services, "NotEnoughReplicas")
        warnings, _ = count_in_logs(services, r" (WARNING|ERROR) ")
    print(f"latency: SDK call in court {SENDER} → court.{EXECUTING}.inbox (read_committed), "
          f"gateway + delegation + projector (1 worker each), {args.nodes} broker(s), "
          f"{size}-byte requests")  # fmt: skip
    print(f"  Kafka EndToEndLatency (acks=all, {E2E_MESSAGES:,} × {size} B, same stack): "
          f"p50 {e2e['p50']:.0f} ms, p95 n/a (the tool prints only 50/99/99.9th, whole ms), "
          f"p99 {e2e['p99']:.0f} ms, p99.9 {e2e['p999']:.0f} ms, avg {e2e['avg']:.2f} ms "
          f"| {e2e_load}")  # fmt: skip
    for r in results:
        lat = r.latencies_ms
        p50, p95, p99 = (percentile(lat, q) for q in (0.50, 0.95, 0.99))
        vs = (f"p50 {p50 / e2e['p50']:.0f}×, p99 {p99 / e2e['p99']:.0f}× Kafka's"
              if e2e["p50"] and e2e["p99"] else "")  # fmt: skip
        print(f"  {r.rate:>5}/s offered ({r.offered:,.0f}/s achieved, {r.sent:,} sent): "
              f"p50 {p50:,.1f} ms, p95 {p95:,.1f} ms, p99 {p99:,.1f} ms, max "
              f"{(lat[-1] if lat else float('nan')):,.1f} ms; {r.arrived:,}/{r.sent:,} arrived, "
              f"delivered {r.delivered:,.0f}/s; {vs} | {r.load}")  # fmt: skip
        g50, g95, g99 = (percentile(r.gateway_ms, q) for q in (0.50, 0.95, 0.99))
        print(f"         of which SDK call → {EVENTS} (gateway): p50 {g50:,.1f} ms, "
              f"p95 {g95:,.1f} ms, p99 {g99:,.1f} ms; CPU used (cores, send → last arrival): "
              + ", ".join(f"{n} {c:.2f}" for n, c in r.cores.items()))  # fmt: skip
    print(f"  NotEnoughReplicas in the services' logs: {replicas} "
          f"({warnings} WARNING/ERROR lines in all)")  # fmt: skip
    for line in replica_lines[:40]:
        print(f"    {line}")


if __name__ == "__main__":
    main()
