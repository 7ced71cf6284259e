"""Court publish → agency feed latency of restriction controls, beside Kafka's EndToEndLatency.

On a private stack (one broker by default, memory registry), with the gateway, restriction
and feeds services running (one worker each, as processes), court 320583 issues paced
consumption bans (限制高消费) through the SDK, 1,000 a second by default (``--rate``) for 30 s
(``--seconds``), and a separate process reads caac's feed ``agency.caac.restriction``
(read_committed, positioned at its end before the run) and notes when each control arrives
there: outbox → gateway → ``bus.restriction.events`` → restriction → ``restriction.controls``
→ feeds → caac's projected feed, three transactions. It also notes when each one reaches
``bus.restriction.events`` (the gateway's share). Every control is both load and probe: its
latency is from just before the SDK call that sent it to its arrival in the feed.

Each ban goes through ``CourtClient.restriction.issue_consumption_ban`` (the SDK's checks of the
person, role and kinds, text normalisation, Avro encoding, CloudEvents headers); only the
sending is batched: the bans due by then are handed to the producer together and one flush waits
for the broker's acks=all, as ``request_delegations`` sends delegations
(``issue_consumption_ban`` alone waits for each acknowledgement, a few ms, which one process
cannot do 1,000 times a second). A warm-up at 100/s (``--warmup`` s, default 20) is not counted.
Each service gathers records for its commit interval (``COURTBUS_COMMIT_INTERVAL_MS``, the
runtime's default unless ``--commit-interval-ms``) before a transaction, on each of the three
hops.

Printed: p50/p95/p99/max, how many arrived, the rate achieved by the sender and delivered by
the pipeline, CPU per process, the load average, each against Kafka's EndToEndLatency
(acks=all, same stack, same record size, run before the services start; it prints whole
milliseconds and only the 50th, 99th and 99.9th percentiles), and whether p99 meets the goal
of 100 ms. Then the WARNING/ERROR lines in the services' logs.

``--json PATH`` writes the figures (``bench.common.write_json``): ``restriction_p99_ms_R`` at
the offered rate R (and p50, p95, max, delivered a second, undelivered: ``run_figures``) and
``restriction_kafka_e2e_p99_ms`` (and p50, p99.9, avg), Kafka's EndToEndLatency in the same
run.

``python -m bench.restriction_latency [--rate 1000] [--seconds 30] [--warmup 20] [--nodes 3]
[--commit-interval-ms N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
from contextlib import closing
from dataclasses import fields

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
    percentile,
    private_stack,
    run_figures,
    run_lines,
    running,
    say,
    service_env,
    write_json,
)
from bench.report import GOALS
from courtbus.app.samples import PERSON_ID
from courtbus.bus.topics import flow_topic
from courtbus.config import Connection
from courtbus.runtime.config import WorkerConfig
from courtbus.sdk.restriction import RestrictionClient
from courtbus.sdk.sender import CourtSender
from courtbus.sdk.sent import Sent
from courtbus.wire.client import send_many
from courtbus.wire.envelope import OutgoingRecord
from services.feeds.flow import feed_topic

COURT = "320583"
FEED = feed_topic("caac", "restriction")
EVENTS = flow_topic("restriction")
GOAL_P99_MS = GOALS["restriction_p99_ms_1000"].target
CASE = "(2024)苏0583执1234号"
PERSON = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
GROUPS = {
    "gateway": "courtbus-gateway",
    "restriction": "courtbus-restriction",
    "feeds": "courtbus-feeds",
}


class QueuedSender(CourtSender):
    """A court's sender whose records are checked, normalised and encoded as ``CourtSender``
    does, then queued until ``send_queued`` hands them to the producer together and flushes
    once."""

    def __init__(self, court_id: str, conn: Connection) -> None:
        super().__init__(court_id, conn)
        self.queued: list[OutgoingRecord] = []

    def send(self, out: OutgoingRecord, key: str | None = None) -> Sent:
        """Queue the record (partition and offset -1: not sent yet)."""
        self.queued.append(out)
        return Sent(out.event.id, key if key is not None else (out.key or b"").decode(), -1, -1)

    def send_queued(self) -> None:
        """Send what is queued and wait for the broker's acknowledgement of all of it.

        Raises:
            BulkSendError: ``BULK_SEND_FAILED``.
        """
        records, self.queued = self.queued, []
        send_many(self._producer, records)


def ban(court: RestrictionClient, i: int, tag: str) -> str:
    """Queue consumption ban ``i`` (all the kinds of art. 3: caac's and rail's); its control id."""
    control_id = f"rc-{tag}-{i:07d}"
    court.issue_consumption_ban(control_id, CASE, PERSON)
    return control_id


def offer(
    court: RestrictionClient,
    sender: QueuedSender,
    rate: int,
    seconds: float,
    tag: str,
    pids: dict[str, int],
) -> Run:
    """Issue ``rate`` bans a second for ``seconds`` through ``court`` (over ``sender``); wait
    for them in caac's feed (120 s at most after). ``pids``: processes whose CPU use (in
    cores, first send → last arrival) is reported."""

    def send(i: int, j: int) -> list[str]:
        ids = [ban(court, k, tag) for k in range(i, j)]
        sender.send_queued()
        return ids

    return offer_paced(sender.conn.bootstrap, FEED, EVENTS, rate, seconds, send, pids)


def main() -> None:
    """Kafka's EndToEndLatency, then the services under ``--rate`` bans a second; print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="bans a second (default 1000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured run (default 30)")
    parser.add_argument("--warmup", type=float, default=20.0, help="s at 100/s, not counted")
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    parser.add_argument(
        "--commit-interval-ms",
        type=int,
        default=None,
        help="the services' COURTBUS_COMMIT_INTERVAL_MS (default: the runtime's)",
    )
    add_json_option(parser)
    args = parser.parse_args()
    extra = (
        {}
        if args.commit_interval_ms is None
        else {"COURTBUS_COMMIT_INTERVAL_MS": str(args.commit_interval_ms)}
    )
    interval = args.commit_interval_ms
    if interval is None:
        interval = next(f.default for f in fields(WorkerConfig) if f.name == "commit_interval_ms")
    with private_stack(args.nodes) as bench, closing(QueuedSender(COURT, bench.conn)) as sender:
        court = RestrictionClient(sender)
        ban(court, 0, "size")
        size = len(sender.queued.pop().value or b"")
        say(f"Kafka's EndToEndLatency: {E2E_MESSAGES} messages of {size} bytes, acks=all")
        e2e_load, e2e = end_to_end(bench, size, args.nodes)
        with running(bench, GROUPS, service_env(bench, bench.home / "state", **extra)) as services:
            pids = measured_pids(bench, services)
            if args.warmup > 0:
                say(f"services ready; warm-up: 100/s for {args.warmup:.0f} s (not counted)")
                offer(court, sender, 100, args.warmup, "warm", {})
            say(f"issuing {args.rate}/s for {args.seconds:.0f} s")
            r = offer(court, sender, args.rate, args.seconds, "run", pids)
        warnings, warning_lines = count_in_logs(services, r" (WARNING|ERROR) ")
        stalls, _ = count_in_logs(services, r"WARNING kafka\.net\.selector: .* ran for")
    print(
        f"restriction latency: issue_consumption_ban in court {COURT} → {FEED} "
        f"(read_committed), gateway + restriction + feeds (1 worker each, commit interval "
        f"{interval} ms), {args.nodes} broker(s), {size}-byte RestrictionIssued records"
    )
    print(e2e_line(e2e, size, e2e_load))
    print("\n".join(run_lines(r, e2e, f"{EVENTS} (gateway)")))
    p99 = percentile(r.latencies_ms, 0.99)
    verdict = "meets" if p99 <= GOAL_P99_MS else "misses"
    print(f"  goal p99 <= {GOAL_P99_MS:.0f} ms: {verdict} it (p99 {p99:,.1f} ms)")
    print(
        f"  WARNING/ERROR lines in the services' logs: {warnings}, of which {stalls} "
        f"kafka-python's 'Task ... ran for' (its network loop held > 100 ms: CPU starved)"
    )
    others = [ln for ln in warning_lines if "kafka.net.selector" not in ln]
    for line in others[:20]:
        print(f"    {line}")
    write_json(
        args.json,
        {
            **run_figures("restriction", r),
            **e2e_figures("restriction_kafka_e2e", e2e, e2e_load),
            "restriction_commit_interval_ms": interval,
            "restriction_record_bytes": size,
            "restriction_nodes": args.nodes,
            "restriction_warnings": warnings,
        },
    )


if __name__ == "__main__":
    main()
