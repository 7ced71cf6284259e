"""The record a bus service produces, and how to make one from a record read or built."""

from __future__ import annotations

from dataclasses import dataclass

from courtbus.wire.envelope import OutgoingRecord, RawRecord


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
