"""CloudEvents headers: written in binary mode, read back strictly, each fault with its code."""

from __future__ import annotations

import uuid

import pytest

from courtbus.errors import ValidationError
from courtbus.wire.events import EventHeaders, sender_court


def _headers() -> list[tuple[str, bytes]]:
    return EventHeaders.new(
        "court:320583", "cn.court.delegation.requested", "(2023)苏0583执1234号"
    ).to_kafka()


def test_round_trip_keeps_every_attribute() -> None:
    ev = EventHeaders.new(
        "agency:nia", "cn.court.restriction.acknowledged", "rc-1", causation_id=str(uuid.uuid4())
    )
    back = EventHeaders.from_kafka(ev.to_kafka())
    assert back.id == ev.id and back.source == ev.source and back.type == ev.type
    assert back.subject == "rc-1" and back.causation_id == ev.causation_id
    assert back.correlation_id == ev.id
    assert abs((back.time - ev.time).total_seconds()) < 1e-3
    assert (back.source_kind, back.source_id) == ("agency", "nia")


def test_binary_mode_header_names() -> None:
    names = [k for k, _ in _headers()]
    assert {
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "content-type",
    } <= set(names)
    assert dict(_headers())["content-type"] == b"application/avro"


def _replace(name: str, value: bytes | None) -> list[tuple[str, bytes | None]]:
    return [(k, value if k == name else v) for k, v in _headers()]


def _drop(name: str) -> list[tuple[str, bytes | None]]:
    return [(k, v) for k, v in _headers() if k != name]


BAD = [
    ("no headers", [], "HEADER_MISSING"),
    ("missing ce_id", _drop("ce_id"), "HEADER_MISSING"),
    ("missing ce_source", _drop("ce_source"), "HEADER_MISSING"),
    ("missing ce_type", _drop("ce_type"), "HEADER_MISSING"),
    ("spec 0.3", _replace("ce_specversion", b"0.3"), "HEADER_SPECVERSION"),
    ("id not a UUID", _replace("ce_id", b"12345"), "HEADER_BAD_ID"),
    ("source without kind", _replace("ce_source", b"320583"), "HEADER_BAD_SOURCE"),
    ("source of unknown kind", _replace("ce_source", b"bank:icbc"), "HEADER_BAD_SOURCE"),
    ("time not RFC 3339", _replace("ce_time", b"yesterday"), "HEADER_BAD_TIME"),
    ("time without offset", _replace("ce_time", b"2024-01-01T00:00:00"), "HEADER_BAD_TIME"),
    ("json content type", _replace("content-type", b"application/json"), "HEADER_CONTENT_TYPE"),
    ("non-UTF-8 header", _replace("ce_subject", b"\xff\xfe"), "HEADER_INVALID"),
    ("null header", _replace("ce_subject", None), "HEADER_INVALID"),
    ("oversized header", _replace("ce_subject", b"x" * 5000), "HEADER_INVALID"),
    ("duplicate header", [*_headers(), ("ce_source", b"court:3205")], "HEADER_DUPLICATE"),
]


@pytest.mark.parametrize(("name", "headers", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_headers(name: str, headers: list[tuple[str, bytes | None]], code: str) -> None:
    with pytest.raises(ValidationError) as info:
        EventHeaders.from_kafka(headers)
    assert info.value.code == code


def test_a_builder_makes_the_records_build_makes() -> None:
    """``Envelope.builder`` (many records of one type at once) gives what ``build`` gives:
    the same key, value and headers in the same order, each record its own id."""
    from datetime import UTC, datetime

    from courtbus.runtime.harness import memory_envelope
    from courtbus.wire import values as v

    envelope = memory_envelope()
    record = "cn.court.bus.restriction.RestrictionNotice"
    payloads = [
        {
            "control_id": f"rc-{i}",
            "issuing_court": v.court("320583"),
            "notice": "ACK_OVERDUE",
            "agency_id": "rail",
            "target": "ISSUE",
            "due_at": datetime(2024, 3, 1, tzinfo=UTC),
            "sent_at": datetime(2024, 3, 1, tzinfo=UTC),
            "detail": "d",
        }
        for i in range(3)
    ]
    builder = envelope.builder("court.320583.inbox", record, "bus:restriction")
    made = [builder.build(p) for p in payloads]
    for p, got in zip(payloads, made, strict=True):
        want = envelope.build("court.320583.inbox", record, p, "bus:restriction")
        assert (got.topic, got.key, got.value) == (want.topic, want.key, want.value)
        assert [k for k, _ in got.headers] == [k for k, _ in want.headers]
        assert got.headers == got.event.to_kafka()
        back = EventHeaders.from_kafka(got.headers)
        assert (back.source, back.type, back.subject) == (
            want.event.source,
            want.event.type,
            want.event.subject,
        )
    assert len({r.event.id for r in made}) == 3


@pytest.mark.parametrize(
    ("source", "court"),
    [
        ("court:6101", "6101"),
        ("bus:blacklist", None),
        ("agency:pbccrc", "agency:pbccrc"),
        ("court:", "court:"),
    ],
)
def test_the_sending_court_is_told_from_the_source(source: str, court: str | None) -> None:
    assert sender_court(source) == court
