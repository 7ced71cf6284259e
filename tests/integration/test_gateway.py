"""The gateway service against the real broker and registry.

Table-driven: every bad input lands in the dead-letter topic with its code and original bytes,
the sender gets a MessageRejected notice, and the gateway then still forwards a valid record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from courtbus import ops
from courtbus.config import Connection
from courtbus.wire.envelope import Envelope
from tests.gateway_cases import BAD_INPUTS, Raw, build, valid_payload
from tests.integration.helpers import ServiceProcess, TopicReader, header

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(
    conn: Connection, registered: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    ops.apply_topics(conn, ops.plan_topics(conn))
    service = ServiceProcess(
        "services.gateway",
        conn,
        tmp_path_factory.mktemp("gw") / "gateway.log",
        "courtbus-gateway consuming",
    )
    service.start()
    yield service
    service.stop()


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


@pytest.mark.parametrize(
    ("name", "make", "code", "notice"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_dead_lettered_notified_and_does_not_stop_the_gateway(
    name: str, make: Callable[[Envelope], Raw], code: str, notice: bool,
    gateway: ServiceProcess, producer: KafkaProducer, envelope: Envelope, conn: Connection,
) -> None:  # fmt: skip
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
    finally:
        reader.close()
    assert gateway.proc is not None and gateway.proc.poll() is None


def test_exact_duplicates_are_forwarded_once(
    gateway: ServiceProcess, producer: KafkaProducer, envelope: Envelope, conn: Connection
) -> None:
    good = _valid(envelope)
    _send(producer, good)
    _send(producer, good)  # a court resending after a timeout
    marker = _valid(envelope)
    _send(producer, marker)
    ce_id, marker_id = dict(good.headers)["ce_id"], dict(marker.headers)["ce_id"]
    reader = TopicReader(conn, "bus.delegation.events")
    try:
        reader.wait_for(lambda r: dict(r.headers).get("ce_id") == marker_id)
        assert len([r for r in reader.records if dict(r.headers).get("ce_id") == ce_id]) == 1
    finally:
        reader.close()


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
    _send(producer, good)
    ce_id = dict(good.headers)["ce_id"]
    reader = TopicReader(conn, "bus.delegation.events")
    try:
        reader.wait_for(lambda r: dict(r.headers).get("ce_id") == ce_id)
        gateway.kill()
        gateway.start()
        _send(producer, good)  # the court resends after the gateway came back
        marker = _valid(envelope)
        _send(producer, marker)
        marker_id = dict(marker.headers)["ce_id"]
        reader.wait_for(lambda r: dict(r.headers).get("ce_id") == marker_id)
        assert len([r for r in reader.records if dict(r.headers).get("ce_id") == ce_id]) == 1
    finally:
        reader.close()
