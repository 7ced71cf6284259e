"""kafka-python producer and consumer wiring for courtbus records.

Producers are idempotent with ``acks=all`` (nothing lost, no duplicates on retry). Never use
these inside a Faust agent: kafka-python blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from courtbus.config import Connection
from courtbus.errors import ClusterError, CourtbusError
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope, Event, OutgoingRecord
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet


def make_envelope(
    conn: Connection, schemas: SchemaSet | None = None, *, auto_register: bool = False
) -> Envelope:
    """An ``Envelope`` over the connection's registry and the repository's schemas."""
    registry = RegistryClient(conn.require_registry())
    return Envelope(AvroCodec(schemas or SchemaSet.load(), registry, auto_register=auto_register))


def make_producer(conn: Connection, **overrides: Any) -> KafkaProducer:
    """An idempotent, ``acks=all`` producer.

    Raises:
        ClusterError: ``CLUSTER_UNREACHABLE``.
    """
    settings: dict[str, Any] = {
        **conn.kafka_settings(),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "compression_type": None,
        **overrides,
    }
    try:
        return KafkaProducer(**settings)
    except KafkaError as exc:
        raise ClusterError(
            f"cannot reach Kafka at {conn.bootstrap}: {exc}", code="CLUSTER_UNREACHABLE"
        ) from exc


def send(producer: KafkaProducer, out: OutgoingRecord, timeout_s: float = 30.0) -> tuple[int, int]:
    """Send one record and wait for the broker's acknowledgement; returns (partition, offset).

    Raises:
        ClusterError: ``PRODUCE_FAILED``.
    """
    try:
        meta = producer.send(out.topic, key=out.key, value=out.value, headers=out.headers).get(
            timeout=timeout_s
        )
    except KafkaError as exc:
        raise ClusterError(
            f"producing to {out.topic} failed: {exc}", code="PRODUCE_FAILED"
        ) from exc
    return meta.partition, meta.offset


def read_from_start(
    conn: Connection, topics: list[str], timeout_s: float | None = 3.0
) -> Iterator[Any]:
    """Every committed record of ``topics``, all partitions from the start, no consumer group.

    Stops after ``timeout_s`` seconds without a new record (None: waits for ever).
    """
    consumer = KafkaConsumer(
        **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed",
        consumer_timeout_ms=int(timeout_s * 1000) if timeout_s is not None else float("inf"),
    )  # fmt: skip
    try:
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        yield from consumer
    finally:
        consumer.close()


def read_events(
    conn: Connection,
    envelope: Envelope,
    topics: list[str],
    *,
    max_records: int,
    timeout_s: float = 20.0,
) -> Iterator[Event | tuple[Any, CourtbusError]]:
    """Read up to ``max_records`` from the start of ``topics``; yields events, or (raw, error)."""
    for count, raw in enumerate(read_from_start(conn, topics, timeout_s), start=1):
        try:
            yield envelope.read(raw)
        except CourtbusError as exc:
            yield raw, exc
        if count >= max_records:
            return
