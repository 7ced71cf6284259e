"""The gateway service against the real broker and registry.

Table-driven: every bad input lands in the dead-letter topic with its code and original bytes,
the sender gets a MessageRejected notice, and the gateway then still forwards a valid record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from courtbus.config import Connection
from courtbus.wire import values as v
from courtbus.wire.envelope import Envelope
from tests.gateway_cases import BAD_INPUTS, Raw, build, valid_payload
from tests.integration.conftest import StartServices
from tests.integration.helpers import (
    GroupProgress,
    ServiceProcess,
    TopicReader,
    header,
    wait_until,
)
from tests.ports import free_block

pytestmark = pytest.mark.integration
GROUP = "courtbus-gateway"


METRICS_PORT = free_block(1)


@pytest.fixture(scope="module")
def gateway(start_services: StartServices) -> ServiceProcess:
    env = {"COURTBUS_METRICS_PORT": str(METRICS_PORT)}
    return start_services("gw", env=env, which=("gateway",))["gateway"]


@pytest.fixture(scope="module")
def producer(conn: Connection) -> Iterator[KafkaProducer]:
    p = KafkaProducer(**conn.kafka_settings(), acks="all")
    yield p
    p.close()


def _send(producer: KafkaProducer, raw: Raw) -> tuple[str, str]:
    """Produce a raw record; returns its (partition, offset) as the dead letter's headers say them."""
    headers = [(k, v if v is not None else b"") for k, v in raw.headers]
    meta = producer.send(raw.topic, key=raw.key, value=raw.value, headers=headers).get(timeout=10)
    return str(meta.partition), str(meta.offset)


def _is_dead_letter_of(topic: str, where: tuple[str, str]) -> Callable[[Any], bool]:
    def match(r: Any) -> bool:
        return (
            r.topic == "bus.deadletter"
            and header(r, "dlq_topic") == topic
            and (header(r, "dlq_partition"), header(r, "dlq_offset")) == where
        )

    return match


def _valid(envelope: Envelope) -> Raw:
    return build(envelope, valid_payload(delegation_id=f"dlg-320583-{uuid.uuid4().hex[:8]}"))


def _valid_from_xian(envelope: Envelope) -> Raw:
    """A valid delegation request of court 6101 (Xi'an) to 320583, on a case of its own."""
    payload = valid_payload(
        delegation_id=f"dlg-6101-{uuid.uuid4().hex[:8]}",
        requesting_court=v.court("6101"),
        executing_court=v.court("320583"),
        case_number=v.case_number(f"(2024)陕01执{uuid.uuid4().int % 90000 + 10000}号"),
    )
    return build(envelope, payload, topic="court.6101.outbox", source="court:6101")


@pytest.mark.parametrize(
    ("name", "make", "code", "notice"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_dead_lettered_notified_and_does_not_stop_the_gateway(
    name: str,
    make: Callable[[Envelope], Raw],
    code: str,
    notice: bool,
    gateway: ServiceProcess,
    producer: KafkaProducer,
    envelope: Envelope,
    conn: Connection,
) -> None:
    bad = make(envelope)
    where = _send(producer, bad)
    good = _valid(envelope)
    _send(producer, good)
    good_id = dict(good.headers)["ce_id"]

    reader = TopicReader(conn, "bus.deadletter", "court.320583.inbox", "bus.delegation.events")
    try:
        dead = reader.wait_for(_is_dead_letter_of(bad.topic, where))[0]
        assert header(dead, "dlq_code") == code
        assert dead.value == (bad.value or b"")  # the original bytes
        assert dead.key == bad.key
        assert header(dead, "dlq_reason")

        notices = reader.wait_for(
            lambda r: (
                r.topic == "court.320583.inbox"
                and r.key == f"{bad.topic}:{where[0]}:{where[1]}".encode()
            )
        )
        event = envelope.read(notices[0])
        assert event.record == "cn.court.bus.notice.MessageRejected"
        assert event.payload["error_code"] == code
        assert event.headers.source == "bus:gateway"

        forwarded = reader.wait_for(
            lambda r: r.topic == "bus.delegation.events" and dict(r.headers).get("ce_id") == good_id
        )
        assert forwarded[0].value == good.value
        reader.read_to_end()
        assert (
            len(
                [
                    r
                    for r in reader.records
                    if r.topic == "bus.delegation.events"
                    and dict(r.headers).get("ce_id") == good_id
                ]
            )
            == 1
        )
        assert len([r for r in reader.records if _is_dead_letter_of(bad.topic, where)(r)]) == 1
    finally:
        reader.close()
    assert gateway.proc is not None and gateway.proc.poll() is None


def _copies_once_processed(conn: Connection, raw: Raw, where: tuple[str, str]) -> int:
    """Copies of ``raw`` (by ``ce_id``) on the flow topic, once the gateway's committed offset
    on the outbox partition at ``where`` is past that record: it has been processed, and
    whatever it produced is committed with that offset."""
    tp, offset = TopicPartition(raw.topic, int(where[0])), int(where[1])
    with GroupProgress(conn) as progress:
        wait_until(
            lambda: progress.consumed_past(GROUP, tp, offset),
            60,
            f"{GROUP} to commit past {raw.topic}[{tp.partition}]@{offset}",
            interval_s=0.2,
        )
    ce_id = dict(raw.headers)["ce_id"]
    reader = TopicReader(conn, "bus.delegation.events")
    try:
        return sum(dict(r.headers).get("ce_id") == ce_id for r in reader.read_to_end())
    finally:
        reader.close()


def test_exact_duplicates_are_forwarded_once(
    gateway: ServiceProcess, producer: KafkaProducer, envelope: Envelope, conn: Connection
) -> None:
    good = _valid(envelope)
    first = _send(producer, good)
    duplicate = _send(producer, good)  # a court resending after a timeout
    assert duplicate[0] == first[0]  # one key, one partition: processed after the first
    assert _copies_once_processed(conn, good, duplicate) == 1


def test_a_new_participant_outbox_is_picked_up_without_restart(
    gateway: ServiceProcess,
    producer: KafkaProducer,
    envelope: Envelope,
    conn: Connection,
    tmp_path: Path,
) -> None:
    """A topic created after start is subscribed; its unknown owner is dead-lettered, not ignored."""
    topic = f"court.{uuid.uuid4().int % 10**6:06d}.outbox"
    admin = KafkaAdminClient(**conn.kafka_settings())
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    raw = build(envelope, topic=topic, source=f"court:{topic.split('.')[1]}")
    where = _send(producer, raw)
    reader = TopicReader(conn, "bus.deadletter")
    try:
        dead = reader.wait_for(_is_dead_letter_of(topic, where), timeout_s=60)
        assert header(dead[0], "dlq_code") == "PARTICIPANT_UNKNOWN"
    finally:
        reader.close()


def test_duplicates_are_still_dropped_after_a_gateway_restart(
    gateway: ServiceProcess, producer: KafkaProducer, envelope: Envelope, conn: Connection
) -> None:
    """The dedup store is restored from its changelog when the gateway starts again."""
    good = _valid(envelope)
    first = _send(producer, good)
    assert _copies_once_processed(conn, good, first) == 1
    gateway.kill()
    gateway.start()
    duplicate = _send(producer, good)  # the court resends after the gateway came back
    assert _copies_once_processed(conn, good, duplicate) == 1


def test_a_garbage_burst_gives_the_sender_summaries_not_a_notice_each(
    gateway: ServiceProcess, producer: KafkaProducer, envelope: Envelope, conn: Connection
) -> None:
    """Issue 21, item 8: 150 garbage records from one court, at once. Each is dead-lettered
    with its original bytes; the court gets its own notice for the first 20 (the default
    limit) and one summary per batch for the rest, and the notices tell every refused record
    exactly once; the court's valid requests sent just before and just after the burst are
    each forwarded exactly once (and told of in no notice)."""
    outbox, inbox, count = "court.6101.outbox", "court.6101.inbox", 150
    flow = "bus.delegation.events"
    reader = TopicReader(conn, "bus.deadletter", inbox, flow, from_end=True)
    valid = [_valid_from_xian(envelope) for _ in range(2)]
    try:
        before = _send(producer, valid[0])
        futures = [
            producer.send(outbox, key=f"junk-{i}".encode(), value=b"\x07 not avro")
            for i in range(count)
        ]
        metas = [f.get(timeout=10) for f in futures]
        after = _send(producer, valid[1])
        sent = {
            (str(m.partition), str(m.offset)): f"junk-{i}".encode() for i, m in enumerate(metas)
        }
        dead = reader.wait_for(
            lambda r: (
                r.topic == "bus.deadletter"
                and header(r, "dlq_topic") == outbox
                and (header(r, "dlq_partition"), header(r, "dlq_offset")) in sent
            ),
            count=count,
            timeout_s=120,
        )
        for d in dead:  # the original bytes, each under its own key
            assert d.value == b"\x07 not avro"
            assert d.key == sent[(header(d, "dlq_partition") or "", header(d, "dlq_offset") or "")]
        codes = {header(d, "dlq_code") for d in dead}
        assert len(codes) == 1  # one code: one budget
        ids = [dict(raw.headers)["ce_id"] for raw in valid]
        reader.wait_for(lambda r: r.topic == flow and dict(r.headers).get("ce_id") in ids, count=2)
        assert not [
            d
            for d in reader.records
            if d.topic == "bus.deadletter"
            and header(d, "dlq_topic") == outbox
            and (header(d, "dlq_partition"), header(d, "dlq_offset")) in (before, after)
        ]

        def told() -> int:
            notices = [envelope.read(r) for r in reader.records if r.topic == inbox]
            return sum(n.payload.get("refused_count") or 1 for n in notices)

        wait_until(lambda: (reader.poll(), told())[1] >= count, 60, "every refusal told")
        notices = [envelope.read(r) for r in reader.records if r.topic == inbox]
        single = [n for n in notices if n.payload.get("refused_count") is None]
        summaries = [n for n in notices if n.payload.get("refused_count") is not None]
        reader.read_to_end()
        forwarded = [dict(r.headers).get("ce_id") for r in reader.records if r.topic == flow]
        assert (
            len(
                [
                    r
                    for r in reader.records
                    if r.topic == "bus.deadletter"
                    and header(r, "dlq_topic") == outbox
                    and (header(r, "dlq_partition"), header(r, "dlq_offset")) in sent
                ]
            )
            == count
        )
    finally:
        reader.close()
    assert sorted(i for i in forwarded if i in ids) == sorted(ids)  # each exactly once
    assert told() == count  # exactly once each: none twice, none left out
    assert len(single) == 20 and summaries
    assert len(notices) < count // 2  # not a notice per record
    assert {n.payload["error_code"] for n in notices} == codes
    assert gateway.proc is not None and gateway.proc.poll() is None


def _metrics() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The gateway's /metrics, parsed: (name, labels) → value."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(
    m: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return m.get((name, frozenset({"flow": "gateway", **labels}.items())), 0.0)


def test_the_metrics_count_what_the_gateway_did(
    gateway: ServiceProcess, producer: KafkaProducer, envelope: Envelope, conn: Connection
) -> None:
    """Issue 19, item 3: scraped before and after 12 valid records and 5 of a bad kind, the
    counters moved by exactly those numbers (in, forwarded, dead-lettered by code)."""
    good = [_valid(envelope) for _ in range(12)]
    bad = [Raw("court.320583.outbox", b"k", b"\x07 not avro", []) for _ in range(5)]
    reader = TopicReader(conn, "bus.deadletter", "bus.delegation.events", from_end=True)
    before = _metrics()
    try:
        where = [_send(producer, raw) for raw in bad]
        for raw in good:
            _send(producer, raw)
        ids = {dict(raw.headers)["ce_id"] for raw in good}
        reader.wait_for(
            lambda r: r.topic == "bus.delegation.events" and dict(r.headers).get("ce_id") in ids,
            count=12,
        )
        dead = reader.wait_for(
            lambda r: (
                r.topic == "bus.deadletter"
                and header(r, "dlq_topic") == bad[0].topic
                and (header(r, "dlq_partition"), header(r, "dlq_offset")) in where
            ),
            count=5,
        )
    finally:
        reader.close()
    code = header(dead[0], "dlq_code") or ""
    wait_until(
        lambda: (
            _value(_metrics(), "courtbus_records_in_total")
            >= _value(before, "courtbus_records_in_total") + 17
        ),
        30,
        "the counters",
    )
    after = _metrics()

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("courtbus_records_in_total") == 17
    assert moved("courtbus_records_out_total", destination="bus.delegation.events") == 12
    assert moved("courtbus_dead_lettered_total", code=code) == 5
    assert moved("courtbus_records_out_total", destination="bus.deadletter") == 5
    assert moved("courtbus_records_out_total", destination="court.*.inbox") == 5  # notices
    assert moved("courtbus_transactions_total", outcome="committed") >= 1
    assert _value(after, "courtbus_tasks") > 0
    assert _value(after, "courtbus_state_cache_bytes") == 64 * 1024 * 1024  # its shared file
    # it lists itself for Prometheus's file_sd and `courtbus metrics targets`
    from courtbus.runtime.metrics import live_targets

    listed = live_targets(gateway.log.parent / "state")
    assert [(t.flow, t.address) for t in listed] == [("gateway", f"127.0.0.1:{METRICS_PORT}")]
    assert _value(after, "courtbus_batch_seconds_count") > _value(
        before, "courtbus_batch_seconds_count"
    )
