"""Fuzzing a live gateway: a few hundred generated records (``tests.fuzz_records``, the same
ones on every ``make test`` run) produced raw into the participants' outboxes, the real gateway
service running, then every input counted.

Each input offset is accounted for exactly once: forwarded (its ``ce_id`` on its flow's
topic, once, byte for byte) or dead-lettered (a dead letter naming its topic, partition and
offset, once), never both, none missing, and with the verdict the check core gives it in
process (the same code). ``COURTBUS_FUZZ_PROFILE=soak`` sends ten times as many, new ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaProducer, TopicPartition

from courtbus.bus.topics import DEADLETTER_TOPIC
from courtbus.config import Connection
from courtbus.runtime.harness import FlowHarness
from courtbus.wire.envelope import Envelope
from services.gateway.flow import GatewayFlow
from tests.fuzz_records import (
    FLOW_TOPICS,
    LIVE_RECORDS,
    OUTBOXES,
    Case,
    accounted,
    cases,
    draw_cases,
    known_codes,
)
from tests.gateway_cases import Raw
from tests.integration.conftest import StartServices
from tests.integration.helpers import GroupProgress, ServiceProcess, TopicReader, header, wait_until

pytestmark = pytest.mark.integration
GROUP = "courtbus-gateway"
# what the broker has (every participant's outbox): records for a missing outbox or a bus
# topic never reach the gateway
LIVE_TOPICS = OUTBOXES


@pytest.fixture(scope="module")
def gateway(start_services: StartServices) -> ServiceProcess:
    return start_services("fuzz-gw", which=("gateway",))["gateway"]


@pytest.fixture(scope="module")
def producer(conn: Connection) -> Iterator[KafkaProducer]:
    p = KafkaProducer(
        **conn.kafka_settings(), acks="all", linger_ms=5, max_request_size=2 * 1024 * 1024
    )
    yield p
    p.close()


def _sendable(case: Case) -> Case:
    """The record as a Kafka producer sends it: a null header value goes as empty bytes."""
    raw = case.raw
    headers: list[tuple[str, bytes | None]] = [
        (k, v if v is not None else b"") for k, v in raw.headers
    ]
    return Case(Raw(raw.topic, raw.key, raw.value, headers), case.steps, case.record)


def _campaign(envelope: Envelope) -> list[tuple[Case, str]]:
    """The inputs and each one's verdict from the check core in process (a fresh gateway flow
    each, so no input is a duplicate of another): ``forwarded`` or the dead letter's code."""
    codes = known_codes()
    chosen: list[tuple[Case, str]] = []
    ids: set[bytes] = set()
    for case in draw_cases(cases(envelope, writers=False), LIVE_RECORDS):
        case = _sendable(case)
        if case.raw.topic not in LIVE_TOPICS:
            continue
        if case.raw.key is None and case.raw.value is None:
            continue  # kafka-python sends no record without both (the unit fuzz has them)
        ce_id = case.ce_id
        if (
            ce_id is not None and ce_id.lower() in ids
        ):  # one ce_id, one input: dedup is tested apart
            continue
        if ce_id is not None:
            ids.add(ce_id.lower())
        raw = case.raw
        harness = FlowHarness(GatewayFlow(envelope), start=datetime.now(UTC))
        verdict = accounted(
            case, harness.feed_raw(raw.topic, raw.key, raw.value, raw.headers), codes
        )
        chosen.append((case, verdict))
    return chosen


def test_every_fuzzed_record_is_forwarded_or_dead_lettered_exactly_once(
    gateway: ServiceProcess, producer: KafkaProducer, envelope: Envelope, conn: Connection
) -> None:
    campaign = _campaign(envelope)
    verdicts = Counter(v for _, v in campaign)
    assert len(campaign) >= LIVE_RECORDS * 0.8 and verdicts["forwarded"] >= 20, verdicts
    assert len(verdicts) >= 15, verdicts  # the campaign reaches many refusals, not one

    futures = [
        producer.send(c.raw.topic, key=c.raw.key, value=c.raw.value, headers=list(c.raw.headers))
        for c, _ in campaign
    ]
    producer.flush(60)
    where = [(m.topic, m.partition, m.offset) for m in (f.get(timeout=30) for f in futures)]
    last: dict[TopicPartition, int] = {}
    for topic, partition, offset in where:
        tp = TopicPartition(topic, partition)
        last[tp] = max(last.get(tp, -1), offset)
    with GroupProgress(conn) as progress:
        wait_until(
            lambda: all(progress.consumed_past(GROUP, tp, off) for tp, off in last.items()),
            120,
            lambda: (
                f"{GROUP} to commit past {sorted((t.topic, t.partition, o) for t, o in last.items())}"
            ),
            interval_s=0.2,
        )

    reader = TopicReader(conn, DEADLETTER_TOPIC, *sorted(FLOW_TOPICS))
    try:
        records = reader.read_to_end(60)
    finally:
        reader.close()
    inputs = {w: case for w, (case, _) in zip(where, campaign, strict=True)}
    by_id = {c.ce_id: w for w, (c, v) in zip(where, campaign, strict=True) if v == "forwarded"}
    letters: Counter[tuple[str, int, int]] = Counter()
    codes: dict[tuple[str, int, int], str | None] = {}
    forwards: Counter[tuple[str, int, int]] = Counter()
    for rec in records:
        if rec.topic == DEADLETTER_TOPIC:
            spot = (
                header(rec, "dlq_topic") or "",
                int(header(rec, "dlq_partition") or -1),
                int(header(rec, "dlq_offset") or -1),
            )
            if spot in inputs:
                letters[spot] += 1
                codes[spot] = header(rec, "dlq_code")
                assert rec.value == (inputs[spot].raw.value or b"")
        else:
            ce = [bytes(v) for k, v in rec.headers if k == "ce_id"]
            spot_or_none = by_id.get(ce[0]) if len(ce) == 1 else None
            if spot_or_none is not None:
                forwards[spot_or_none] += 1
                assert rec.value == inputs[spot_or_none].raw.value

    wrong: list[Any] = []
    for spot, (case, expected) in zip(where, campaign, strict=True):
        got = (forwards[spot], letters[spot], codes.get(spot))
        want = (1, 0, None) if expected == "forwarded" else (0, 1, expected)
        if got != want:
            wrong.append((spot, case.steps, "got", got, "want", want))
    assert not wrong, f"{len(wrong)} of {len(campaign)} inputs not accounted for: {wrong[:10]}"
    assert gateway.alive
