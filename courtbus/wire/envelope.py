"""Records as they travel: CloudEvents headers + Kafka key + Avro value, in and out.

No Kafka client here: ``build`` gives what a producer sends, ``read`` takes what a consumer got.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from courtbus.errors import SerializationError, ValidationError
from courtbus.wire.codec import AvroCodec
from courtbus.wire.event_ids import bound_event_id, bound_to
from courtbus.wire.events import CONTENT_TYPE, SPECVERSION, EventHeaders, Headers
from courtbus.wire.messages import by_ce_type, by_record

MAX_VALUE_BYTES = 1024 * 1024
# The largest value the gateway forwards from an outbox (its RECORD_TOO_LARGE): the SDKs check
# it before sending, so the bus never has to refuse it and a producer never sees a record the
# broker would refuse (after one MessageSizeTooLargeError kafka-python 3.0's producer failed
# every later send)
OUTBOX_MAX_VALUE_BYTES = 256 * 1024


def bind_event_id(key: bytes, event_id: str | None) -> str:
    """The ``ce_id`` to send with a record keyed ``key``: ``event_id`` if it is already bound
    to the key, else a bound id made from it (or a new one if None).

    Raises:
        ValidationError: ``HEADER_BAD_ID``: ``event_id`` is not a UUID.
    """
    if event_id is None:
        return bound_event_id(key)
    try:
        canonical = str(uuid.UUID(event_id))
    except ValueError as exc:
        raise ValidationError(f"ce_id {event_id!r} is not a UUID", code="HEADER_BAD_ID") from exc
    return canonical if bound_to(canonical, key) else bound_event_id(key, canonical)


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """What to hand a producer."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    event: EventHeaders


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded record: where it came from, its CloudEvents attributes and its payload."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: EventHeaders
    record: str
    payload: dict[str, Any]
    # the bytes as they came, so a receiver can verify the sender's signature later
    value: bytes | None = field(default=None, repr=False, compare=False)
    raw_headers: tuple[tuple[str, bytes | None], ...] = field(default=(), repr=False, compare=False)


class RawRecord(Protocol):
    """The fields of a consumed Kafka record we read (kafka-python's ConsumerRecord has them)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers


# (headers, value) -> the headers with a signature added: ``courtbus.security.signing.Signer``
RecordSigner = Callable[[list[tuple[str, bytes]], bytes], list[tuple[str, bytes]]]


class Envelope:
    """Build outgoing records and read incoming ones with one codec.

    ``signer``: every record built is signed with it (``ce_dssematerial``), e.g. a
    ``courtbus.security.signing.Signer``; None builds unsigned records.
    """

    def __init__(self, codec: AvroCodec, signer: RecordSigner | None = None) -> None:
        self.codec = codec
        self.signer = signer

    def build(
        self,
        topic: str,
        record: str,
        payload: dict[str, Any],
        source: str,
        *,
        causation_id: str | None = None,
        correlation_id: str | None = None,
        key: str | None = None,
        event_id: str | None = None,
    ) -> OutgoingRecord:
        """Encode a payload with fresh CloudEvents headers; key and subject from the catalogue.

        ``key`` overrides the catalogue's key (e.g. a notice keyed by the refused record).
        The ``ce_id`` is bound to the key (``courtbus.wire.event_ids``): new, or made from
        ``event_id``, the UUID the sender chose (kept as it is if already bound to the key).

        Raises:
            ValidationError: ``HEADER_BAD_ID``: ``event_id`` is not a UUID.
            SchemaError, SerializationError, RegistryError: see ``AvroCodec.encode``.
        """
        mtype = by_record(record)
        record_key = (key if key is not None else mtype.key(payload)).encode()
        event = EventHeaders.new(
            source,
            mtype.ce_type,
            mtype.subject(payload),
            correlation_id=correlation_id,
            causation_id=causation_id,
            event_id=bind_event_id(record_key, event_id),
        )
        value = self.codec.encode(record, payload)
        headers = event.to_kafka()
        if self.signer is not None:
            headers = self.signer(headers, value)
        return OutgoingRecord(topic, record_key, value, headers, event)

    def builder(self, topic: str, record: str, source: str) -> Builder:
        """A ``Builder`` of many ``record`` payloads for ``topic`` from ``source`` (a batch).

        Raises:
            SchemaError, RegistryError: see ``AvroCodec.encode``.
        """
        return Builder(self, topic, record, source)

    def read(self, raw: RawRecord, headers: EventHeaders | None = None) -> Event:
        """Check headers, decode the value and check it is the type the headers say.

        ``headers``: already parsed from ``raw`` by the caller (saves parsing them twice).

        Raises:
            ValidationError: bad headers (``HEADER_*``), ``EVENT_TYPE_MISMATCH``,
                ``RECORD_TOO_LARGE``.
            SchemaError: ``EVENT_TYPE_UNKNOWN``.
            SerializationError: bad value (``WIRE_*``, ``AVRO_*``).
            RegistryError: the registry is unreachable (transient).
        """
        headers = headers or EventHeaders.from_kafka(raw.headers)
        mtype = by_ce_type(headers.type)
        if raw.value is None:
            raise SerializationError("record has no value (tombstone)", code="WIRE_EMPTY")
        if len(raw.value) > MAX_VALUE_BYTES:
            raise ValidationError(
                f"record value of {len(raw.value)} bytes exceeds {MAX_VALUE_BYTES}",
                code="RECORD_TOO_LARGE",
            )
        decoded = self.codec.decode(raw.value)
        if decoded.record != mtype.record:
            raise ValidationError(
                f"ce_type {headers.type} expects {mtype.record}, value is {decoded.record}",
                code="EVENT_TYPE_MISMATCH",
            )
        key = raw.key.decode("utf-8", errors="replace") if raw.key is not None else None
        return Event(
            raw.topic,
            raw.partition,
            raw.offset,
            key,
            headers,
            decoded.record,
            decoded.payload,
            raw.value,
            tuple(raw.headers or ()),
        )


class Builder:
    """``Envelope.build`` for many payloads of one type, topic and source (e.g. a batch's
    view records): the type, its schema and its registry id are looked up once, the records
    share one ``ce_time`` (when the builder was made) and each gets its own ``ce_id`` (which
    is also its correlation id, as ``build`` gives a record without one). The same records
    as ``build``, field for field and header for header (signed too, if the envelope signs).
    """

    def __init__(self, envelope: Envelope, topic: str, record: str, source: str) -> None:
        self.codec = envelope.codec
        self.signer = envelope.signer
        self.topic, self.record, self.source = topic, record, source
        self._type = by_record(record)
        self._parsed = self.codec.schemas.message(record).parsed
        self._schema_id = self.codec.schema_id(record)
        self.time = datetime.now(UTC)
        stamp = self.time.isoformat().replace("+00:00", "Z")
        self._before_id = ("ce_specversion", SPECVERSION.encode())
        self._after_id = [
            ("ce_source", source.encode()),
            ("ce_type", self._type.ce_type.encode()),
            ("ce_time", stamp.encode()),
        ]
        self._last = ("content-type", CONTENT_TYPE.encode())

    def build(self, payload: dict[str, Any]) -> OutgoingRecord:
        """One record, as ``Envelope.build(topic, record, payload, source)`` makes it.

        Raises:
            SerializationError: ``AVRO_ENCODE_FAILED``.
        """
        value = self.codec.encode_parsed(self.record, self._parsed, self._schema_id, payload)
        key = self._type.key(payload).encode()
        event_id = bound_event_id(key)
        subject = self._type.subject(payload)
        event = EventHeaders(
            id=event_id,
            source=self.source,
            type=self._type.ce_type,
            time=self.time,
            subject=subject,
            correlation_id=event_id,
        )
        ident = event_id.encode()
        headers = [
            self._before_id,
            ("ce_id", ident),
            *self._after_id,
            ("ce_subject", subject.encode()),
            ("ce_correlationid", ident),
            self._last,
        ]
        if self.signer is not None:
            headers = self.signer(headers, value)
        return OutgoingRecord(self.topic, key, value, headers, event)
