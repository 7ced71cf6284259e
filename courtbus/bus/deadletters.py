"""Read the dead-letter topic and replay a dead letter once its cause is fixed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from kafka import KafkaConsumer, TopicPartition

from courtbus.bus.topics import DEADLETTER_TOPIC
from courtbus.config import Connection
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import ValidationError
from courtbus.wire.client import make_producer, read_from_start

_DLQ_HEADERS = ("dlq_code", "dlq_reason", "dlq_topic", "dlq_partition", "dlq_offset", "dlq_time")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One refused record: where it came from, why, and its original bytes and headers."""

    partition: int
    offset: int
    code: str
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    time: datetime | None
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @property
    def ref(self) -> str:
        """``partition:offset`` in the dead-letter topic (what `dlq show/replay` take)."""
        return f"{self.partition}:{self.offset}"

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers as the sender wrote them."""
        return [(k, v) for k, v in self.headers if k not in _DLQ_HEADERS]

    def header(self, name: str) -> str | None:
        """One original header as text."""
        for k, v in self.original_headers:
            if k == name:
                return v.decode("utf-8", errors="replace")
        return None


def parse_dead_letter(rec: object) -> DeadLetter:
    """A dead letter from a consumed ``bus.deadletter`` record."""
    headers = [(k, bytes(v or b"")) for k, v in getattr(rec, "headers", None) or []]
    h = {k: v.decode("utf-8", errors="replace") for k, v in headers if k in _DLQ_HEADERS}
    when = h.get("dlq_time")
    return DeadLetter(
        partition=rec.partition,  # type: ignore[attr-defined]
        offset=rec.offset,  # type: ignore[attr-defined]
        code=h.get("dlq_code", "?"),
        reason=mask_ids_in_text(h.get("dlq_reason", "")),
        source_topic=h.get("dlq_topic", "?"),
        source_partition=int(h.get("dlq_partition", -1)),
        source_offset=int(h.get("dlq_offset", -1)),
        time=datetime.fromisoformat(when) if when else None,
        key=rec.key,  # type: ignore[attr-defined]
        value=rec.value or b"",  # type: ignore[attr-defined]
        headers=headers,
    )


def read_dead_letters(conn: Connection, timeout_s: float = 3.0) -> Iterator[DeadLetter]:
    """Every dead letter, oldest first within each partition."""
    for rec in read_from_start(conn, [DEADLETTER_TOPIC], timeout_s):
        yield parse_dead_letter(rec)


def parse_ref(ref: str) -> tuple[int, int]:
    """(partition, offset) of a dead-letter reference ``partition:offset`` (no Kafka needed).

    Raises:
        ValidationError: ``DLQ_REF_INVALID``.
    """
    try:
        partition, offset = (int(x) for x in ref.split(":"))
    except ValueError as exc:
        raise ValidationError(f"{ref!r} is not partition:offset", code="DLQ_REF_INVALID") from exc
    return partition, offset


def find(conn: Connection, ref: str) -> DeadLetter:
    """The dead letter at ``partition:offset``.

    Raises:
        ValidationError: ``DLQ_REF_INVALID`` or ``DLQ_NOT_FOUND``.
    """
    partition, offset = parse_ref(ref)
    consumer = KafkaConsumer(
        **conn.kafka_settings(),
        enable_auto_commit=False,
        isolation_level="read_committed",
        consumer_timeout_ms=3000,
    )
    try:
        tp = TopicPartition(DEADLETTER_TOPIC, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        for rec in consumer:
            if rec.offset == offset:
                return parse_dead_letter(rec)
            break
    finally:
        consumer.close()
    raise ValidationError(f"no dead letter at {ref}", code="DLQ_NOT_FOUND")


def replay(conn: Connection, letter: DeadLetter) -> tuple[int, int]:
    """Re-submit a dead letter's original record to its original outbox; returns (partition, offset).

    For refusals whose cause was fixed on the bus side (a schema registered, a court added to
    the directory, a policy corrected). A record that was wrong itself must be resent by its
    sender instead: replaying it would only be refused again.
    """
    producer = make_producer(conn)
    try:
        meta = producer.send(
            letter.source_topic, key=letter.key, value=letter.value, headers=letter.original_headers
        ).get(timeout=30)
    finally:
        producer.close()
    return int(meta.partition), int(meta.offset)
