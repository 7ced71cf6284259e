"""The record a bus service produces, and how to make one from a record read or built."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from courtbus.errors import ValidationError
from courtbus.wire.envelope import OutgoingRecord, RawRecord
from courtbus.wire.events import Headers


@dataclass(frozen=True, slots=True)
class Output:
    """A record to produce: topic, key, value (None is a tombstone) and headers."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def forward(raw: RawRecord, topic: str) -> Output:
    """The record ``raw`` as it came (key, value and headers untouched), for ``topic``."""
    return Output(topic, raw.key, raw.value or b"", [(k, v or b"") for k, v in raw.headers or ()])


def output_of(record: OutgoingRecord, topic: str | None = None) -> Output:
    """An encoded record from ``Envelope.build``, for its own topic or ``topic``."""
    return Output(topic or record.topic, record.key, record.value, record.headers)


@dataclass
class KeptRecord:
    """A consumed record kept (e.g. in a flow's state) and read back as the record it was."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)
    # when it was written (ms since the epoch; the producer's create time unless the topic
    # keeps log-append time), as the consumer read it; None if unknown. Metrics only: not kept
    # in ``to_json`` and not compared.
    timestamp_ms: int | None = field(default=None, compare=False)

    @classmethod
    def of(cls, raw: RawRecord) -> KeptRecord:
        """A copy of ``raw``."""
        return cls(
            raw.topic, raw.partition, raw.offset, raw.key, raw.value, list(raw.headers or ())
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (bytes as base64)."""
        b64 = base64.b64encode
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": None if self.key is None else b64(self.key).decode(),
            "value": None if self.value is None else b64(self.value).decode(),
            "headers": [[k, b64(bytes(v or b"")).decode()] for k, v in self.headers or ()],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> KeptRecord:
        """Read back ``to_json``."""
        key, value = d["key"], d["value"]
        return cls(
            d["topic"],
            int(d["partition"]),
            int(d["offset"]),
            None if key is None else base64.b64decode(key),
            None if value is None else base64.b64decode(value),
            [(k, base64.b64decode(v)) for k, v in d["headers"]],
        )


def internal_record(topic: str, key: str, kind: str, body: dict[str, Any]) -> Output:
    """A service's own JSON record on its internal topic, its kind in the ``cb_kind`` header."""
    return Output(topic, key.encode(), json.dumps(body).encode(), [("cb_kind", kind.encode())])


def read_internal(raw: RawRecord, kinds: tuple[str, ...], code: str) -> tuple[str, dict[str, Any]]:
    """(kind, body) of an internal JSON record.

    Raises:
        ValidationError: ``code`` if it is not JSON or its kind is not one of ``kinds``.
    """
    kind = next((bytes(v).decode() for k, v in raw.headers or () if k == "cb_kind" and v), "")
    try:
        body: dict[str, Any] = json.loads(raw.value or b"")
    except ValueError as exc:
        raise ValidationError(f"internal record is not JSON: {exc}", code=code) from exc
    if kind not in kinds:
        raise ValidationError(f"unknown internal record kind {kind!r}", code=code)
    return kind, body
