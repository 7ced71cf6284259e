"""kafka-python producer and consumer wiring for courtbus records.

Producers are idempotent with ``acks=all`` (nothing lost, no duplicates on retry). Never use
these inside a Faust agent: kafka-python blocks the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from courtbus.config import Connection
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import ClusterError, CourtbusError, ValidationError
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import (
    OUTBOX_MAX_VALUE_BYTES,
    Envelope,
    Event,
    OutgoingRecord,
    RecordSigner,
)
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet


def make_envelope(
    conn: Connection,
    schemas: SchemaSet | None = None,
    *,
    auto_register: bool = False,
    signer: RecordSigner | None = None,
) -> Envelope:
    """An ``Envelope`` over the connection's registry and the repository's schemas; with
    ``signer`` every record it builds is signed."""
    registry = RegistryClient.for_connection(conn)
    codec = AvroCodec(schemas or SchemaSet.load(), registry, auto_register=auto_register)
    return Envelope(codec, signer)


# The SDK clients' producers (CourtClient, AgencyClient; the REST API sends through them): each
# send_record waits for its record's acknowledgement, so a linger only delays it (5 ms a send,
# all of it: a waiting sender never fills the batch). Without one, records still batch while a
# request is in flight, and a bulk send (send_many) is as fast (bench.web_ingress, README).
SDK_LINGER_MS = 0


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


def check_size(out: OutgoingRecord, limit: int = OUTBOX_MAX_VALUE_BYTES) -> None:
    """Refuse a record the gateway would refuse for its size, before it is sent.

    Raises:
        ValidationError: ``RECORD_TOO_LARGE``.
    """
    size = len(out.value or b"")
    if size > limit:
        raise ValidationError(
            f"record value of {size:,} bytes exceeds the gateway limit of {limit:,} bytes "
            "(a long free text or too many items in one message?); nothing was sent",
            code="RECORD_TOO_LARGE",
        )


def send(producer: KafkaProducer, out: OutgoingRecord, timeout_s: float = 30.0) -> tuple[int, int]:
    """Send one record and wait for the broker's acknowledgement; returns (partition, offset).

    Raises:
        ValidationError: ``RECORD_TOO_LARGE`` (``check_size``): nothing was sent.
        ClusterError: ``PRODUCE_FAILED``.
    """
    check_size(out)
    try:
        meta = producer.send(out.topic, key=out.key, value=out.value, headers=out.headers).get(
            timeout=timeout_s
        )
    except KafkaError as exc:
        raise ClusterError(
            f"producing to {out.topic} failed: {exc}", code="PRODUCE_FAILED"
        ) from exc
    return meta.partition, meta.offset


class BulkSendError(ClusterError):
    """Some records of a bulk send were not acknowledged by the broker.

    ``acks`` has one entry per input record, in input order: ``(partition, offset)`` for a
    record the broker acknowledged, ``None`` for one it did not. ``failures`` lists
    ``(index, reason)`` for each record not acknowledged (reasons have ID numbers masked).
    """

    code = "BULK_SEND_FAILED"

    def __init__(
        self,
        message: str,
        *,
        acks: list[tuple[int, int] | None],
        failures: list[tuple[int, str]],
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.acks = acks
        self.failures = failures

    @property
    def acknowledged(self) -> int:
        """How many records the broker acknowledged."""
        return sum(1 for a in self.acks if a is not None)


def describe_failures(failures: Sequence[tuple[str, str]], limit: int = 10) -> str:
    """``label: reason; ...`` for the first ``limit`` failures, then how many more."""
    shown = "; ".join(f"{label}: {reason}" for label, reason in failures[:limit])
    more = len(failures) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def send_many(
    producer: KafkaProducer,
    records: Sequence[OutgoingRecord],
    *,
    timeout_s: float | None = None,
    on_done: Callable[[bool], None] | None = None,
) -> list[tuple[int, int]]:
    """Send records without waiting for each, then flush once; (partition, offset) per record.

    Every record is handed to the producer (which batches them), then one ``flush`` waits for
    the broker's acknowledgement of all of them (``timeout_s`` None: until each record is
    acknowledged or has failed, which the producer's ``delivery_timeout_ms`` bounds, 2 minutes
    by default). Results are in input order. ``on_done`` is called once per record as it
    completes (True: acknowledged), from the producer's network thread, e.g. to advance a
    progress bar. If the producer refuses a record outright (no metadata, buffer full for too
    long), the records after it are not sent at all.

    Raises:
        ValidationError: ``RECORD_TOO_LARGE`` for the first record over the gateway's limit
            (``check_size``), naming its index: nothing was sent.
        BulkSendError: ``BULK_SEND_FAILED`` if any record was not acknowledged; it names how
            many were and which were not, and carries the acknowledged positions.
    """
    for index, out in enumerate(records):
        try:
            check_size(out)
        except ValidationError as exc:
            raise ValidationError(f"record #{index}: {exc.reason}", code=exc.code) from exc
    futures: list[Any] = []
    refused: tuple[int, str] | None = None
    for index, out in enumerate(records):
        try:
            future = producer.send(out.topic, key=out.key, value=out.value, headers=out.headers)
        except KafkaError as exc:
            refused = (index, f"producer refused it: {exc}")
            break
        if on_done is not None:
            future.add_callback(lambda _meta: on_done(True))
            future.add_errback(lambda _exc: on_done(False))
        futures.append(future)
    flush_error = ""
    try:
        producer.flush(timeout=timeout_s)
    except KafkaError as exc:
        flush_error = f"not acknowledged within {timeout_s}s ({exc}); may still arrive"
    acks: list[tuple[int, int] | None] = []
    failures: list[tuple[int, str]] = []
    for index, future in enumerate(futures):
        if future.succeeded():
            acks.append((int(future.value.partition), int(future.value.offset)))
            continue
        acks.append(None)
        reason = str(future.exception) if future.failed() else flush_error or "not acknowledged"
        failures.append((index, mask_ids_in_text(reason)))
    if refused is not None:
        failures.append((refused[0], mask_ids_in_text(refused[1])))
        unsent = len(records) - refused[0] - 1
        acks.append(None)
        acks.extend([None] * unsent)
        failures.extend((i, "not sent") for i in range(refused[0] + 1, len(records)))
    if failures:
        sent = sum(1 for a in acks if a is not None)
        topics = ", ".join(sorted({r.topic for r in records}))
        detail = describe_failures([(f"#{i}", reason) for i, reason in failures])
        raise BulkSendError(
            f"bulk send to {topics}: {sent} of {len(records)} records acknowledged, "
            f"{len(failures)} failed: {detail}",
            acks=acks,
            failures=failures,
        )
    return [a for a in acks if a is not None]


def read_from_start(
    conn: Connection, topics: list[str], timeout_s: float | None = 3.0
) -> Iterator[Any]:
    """Every committed record of ``topics``, all partitions from the start, no consumer group.

    Stops after ``timeout_s`` seconds without a new record (None: waits for ever).
    """
    consumer = KafkaConsumer(
        **conn.kafka_settings(),
        enable_auto_commit=False,
        isolation_level="read_committed",
        consumer_timeout_ms=int(timeout_s * 1000) if timeout_s is not None else float("inf"),
    )
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


def read_page(
    conn: Connection,
    topic: str,
    *,
    limit: int,
    after: dict[int, int] | None = None,
    since_ms: int | None = None,
    timeout_s: float = 5.0,
) -> tuple[list[Any], dict[int, int]]:
    """A page of ``topic``'s committed records and where the next page starts.

    Each partition is read from ``after[partition]`` (the next offset to read, as the last page
    returned it), else from the first record at or after ``since_ms`` (epoch milliseconds), else
    from its start, up to the end it had when called; at most ``limit`` records, by timestamp.
    The second value is ``after`` advanced past the records returned (a partition none was
    returned from keeps its start), so a page that stopped at ``limit`` loses nothing.

    Raises:
        ClusterError: ``CLUSTER_UNREACHABLE`` if the cluster cannot be reached.
    """
    try:
        consumer = KafkaConsumer(
            **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
        )
    except KafkaError as exc:
        raise ClusterError(
            f"cannot reach Kafka at {conn.bootstrap}: {exc}", code="CLUSTER_UNREACHABLE"
        ) from exc
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not parts:
            return [], dict(after or {})
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        starts = consumer.beginning_offsets(parts)
        found = consumer.offsets_for_times({tp: since_ms for tp in parts}) if since_ms else {}
        nexts: dict[int, int] = {}
        for tp in parts:
            stamp = found.get(tp)
            if after is not None and tp.partition in after:
                start = after[tp.partition]
            elif since_ms:
                start = stamp.offset if stamp is not None else ends[tp]
            else:
                start = starts[tp]
            nexts[tp.partition] = max(start, starts[tp])
            consumer.seek(tp, nexts[tp.partition])
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(consumer.position(tp) < ends[tp] for tp in parts):
            for batch in consumer.poll(timeout_ms=200).values():
                records += [r for r in batch if r.offset < ends[TopicPartition(topic, r.partition)]]
            if len(records) >= limit:
                break
        records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        # Cut at ``limit``; a partition's records past the cut are read again next time, so
        # only the offsets below its first one cut off are returned (a prefix per partition).
        cut: dict[int, int] = {}
        for r in records[limit:]:
            cut[r.partition] = min(cut.get(r.partition, r.offset), r.offset)
        page = [r for r in records[:limit] if r.offset < cut.get(r.partition, r.offset + 1)]
        for r in page:
            nexts[r.partition] = max(nexts[r.partition], r.offset + 1)
        for tp in parts:  # read to its end, nothing cut: the next page starts at that end
            if tp.partition not in cut and consumer.position(tp) >= ends[tp]:
                nexts[tp.partition] = max(nexts[tp.partition], ends[tp])
        return page, nexts
    except KafkaError as exc:
        raise ClusterError(f"cannot read {topic}: {exc}", code="CLUSTER_UNREACHABLE") from exc
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
