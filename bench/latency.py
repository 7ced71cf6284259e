"""Publish → inbox latency of delegation requests, beside Kafka's own EndToEndLatency.

On a private stack (one broker by default, memory registry), with the gateway, delegation and
projector services running (one worker each, as processes): court 320583 sends paced
``DelegationRequested`` records to court 6101 through the SDK
(``CourtClient.delegation.request_delegations`` with the requests due by then: one at a time
at 100/s; each send time is taken just before the SDK call, so the SDK's own checks, encoding
and acks=all count), and a separate process reads ``court.6101.inbox`` (read_committed) and
notes when each request arrives there: outbox → gateway → bus → delegation → inbox, two
transactions. It also notes when each one reaches
``bus.delegation.events`` (the gateway's share). A warm-up of 30 s at 100/s (``--warmup``)
is not counted: a fresh broker's JIT compiler took most of a core for its first minutes,
which showed as seconds of latency at 100/s.

Offered loads: 100/s for 30 s, then 1,000/s for 20 s (``--loads``). Printed: p50/p95/p99/max,
how many arrived, the rate the pipeline delivered, the CPU each process used, beside Kafka's
EndToEndLatency (acks=all, same stack, same record size, run before the services start; it
prints whole milliseconds and only the 50th, 99th and 99.9th percentiles). Then the count of
"NotEnoughReplicas" in the services' logs, with the lines if there are any (the issue asks
that the runtime's clients produce none; a 1-broker stack cannot, so ``--nodes 3`` runs the
same on a 3-broker stack with replication 3 and min.insync.replicas 2).

``--json PATH`` writes the figures (``bench.common.write_json``): per offered rate R,
``delegation_p99_ms_R`` (and p50, p95, max), ``delegation_delivered_per_s_R``,
``delegation_undelivered_R`` and the rest of ``run_figures``; ``kafka_e2e_p99_ms`` (and p50,
p99.9, avg) is Kafka's EndToEndLatency in the same run.

``python -m bench.latency [--nodes 3] [--loads 100:30,1000:20] [--warmup 30] [--json PATH]``
(``COURTBUS_BENCH_LOADS`` is the default of ``--loads``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from bench.common import (
    E2E_MESSAGES,
    Run,
    add_json_option,
    count_in_logs,
    e2e_figures,
    e2e_line,
    end_to_end,
    measured_pids,
    offer_paced,
    private_stack,
    run_figures,
    run_lines,
    running,
    say,
    service_env,
    write_json,
)
from courtbus.app.samples import one_per_flow
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.wire.client import make_envelope

SENDER, EXECUTING = "320583", "6101"
INBOX = f"court.{EXECUTING}.inbox"
EVENTS = "bus.delegation.events"
LOADS = os.environ.get("COURTBUS_BENCH_LOADS") or "100:30,1000:20"  # requests/s:seconds,...
PERSON_ID = "320583199303121234"  # valid checksum; the samples' fictitious debtor


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
) -> Run:
    """Send ``rate``/s for ``seconds``; wait for them in the inbox (120 s at most after).

    ``pids``: processes whose CPU use (in cores, from the first send to the last arrival) is
    reported.

    Open loop: each SDK call sends every request due by then (one at a time at 100/s; if a
    call took longer than the spacing, the next one catches up with several), so the offered
    rate holds as long as the SDK can send that many at all.
    """

    def send(i: int, j: int) -> list[str]:
        batch = [request(k, tag) for k in range(i, j)]
        client.delegation.request_delegations(batch)
        return [req["delegation_id"] for req in batch]

    return offer_paced(conn.bootstrap, INBOX, EVENTS, rate, seconds, send, pids)


def main() -> None:
    """Kafka's EndToEndLatency, then the services under 100/s and 1,000/s; print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    parser.add_argument("--loads", default=LOADS, help=f"rate:seconds,... (default {LOADS})")
    parser.add_argument("--warmup", type=float, default=30.0, help="s at 100/s, not counted")
    add_json_option(parser)
    args = parser.parse_args()
    loads = [(int(r), float(s)) for r, s in (x.split(":") for x in args.loads.split(","))]
    with private_stack(args.nodes) as bench:
        envelope = make_envelope(bench.conn, bench.schemas)
        source, topic, record, payload = one_per_flow()[0]  # the same request, 320583 → 6101
        size = len(envelope.build(topic, record, payload, source).value)
        say(f"Kafka's EndToEndLatency: {E2E_MESSAGES} messages of {size} bytes, acks=all")
        e2e_load, e2e = end_to_end(bench, size, args.nodes)
        env = service_env(
            bench,
            bench.home / "state",
            COURTBUS_STORE_URL=f"sqlite:///{bench.home / 'read.db'}",
            COURTBUS_PROJECTOR_GROUP="projector-bench",
        )
        groups = {
            "gateway": "courtbus-gateway",
            "delegation": "courtbus-delegation",
            "projector": "projector-bench",
        }
        results: list[Run] = []
        with running(bench, groups, env) as services:
            pids = measured_pids(bench, services)
            with CourtClient(SENDER, bench.conn) as client:
                if args.warmup > 0:
                    say(f"services ready; warm-up: 100/s for {args.warmup:.0f} s (not counted)")
                    offer(bench.conn, client, 100, args.warmup, "warm", {})
                for rate, seconds in loads:
                    say(f"offering {rate}/s for {seconds:.0f} s")
                    results.append(offer(bench.conn, client, rate, seconds, f"r{rate}", pids))
        replicas, replica_lines = count_in_logs(services, "NotEnoughReplicas")
        warnings, _ = count_in_logs(services, r" (WARNING|ERROR) ")
    print(
        f"latency: SDK call in court {SENDER} → court.{EXECUTING}.inbox (read_committed), "
        f"gateway + delegation + projector (1 worker each), {args.nodes} broker(s), "
        f"{size}-byte requests"
    )
    print(e2e_line(e2e, size, e2e_load))
    for r in results:
        print("\n".join(run_lines(r, e2e, f"{EVENTS} (gateway)")))
    print(
        f"  NotEnoughReplicas in the services' logs: {replicas} "
        f"({warnings} WARNING/ERROR lines in all)"
    )
    for line in replica_lines[:40]:
        print(f"    {line}")
    figures: dict[str, Any] = {
        **e2e_figures("kafka_e2e", e2e, e2e_load),
        "delegation_record_bytes": size,
        "delegation_nodes": args.nodes,
        "delegation_not_enough_replicas": replicas,
    }
    for r in results:
        figures.update(run_figures("delegation", r))
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
