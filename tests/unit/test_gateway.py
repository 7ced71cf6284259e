"""Gateway decisions without a broker: each bad input is refused with its code (in-memory registry)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from courtbus.bus.refusals import dead_letter, rejection_notice
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import load_policies
from courtbus.errors import CourtbusError
from courtbus.gateway import Gateway
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.schemas import SchemaSet
from tests.builders import PERSON_ID
from tests.fakes import MemoryRegistry
from tests.gateway_cases import BAD_INPUTS, Raw, build

DIRECTORY = load_directory()

CASES = BAD_INPUTS


@pytest.fixture
def envelope() -> Envelope:
    return Envelope(AvroCodec(SchemaSet.load(), MemoryRegistry(), auto_register=True))


@pytest.fixture
def gateway(envelope: Envelope) -> Gateway:
    return Gateway(envelope, DIRECTORY, load_policies(DIRECTORY))


def test_a_valid_request_is_forwarded_unchanged_to_its_flow(
    gateway: Gateway, envelope: Envelope
) -> None:
    raw = build(envelope)
    fwd = gateway.check(raw)
    assert fwd.output.topic == "bus.delegation.events"
    assert (fwd.output.key, fwd.output.value) == (raw.key, raw.value)
    assert fwd.output.headers == raw.headers
    assert fwd.event.headers.source == "court:320583"


@pytest.mark.parametrize(("name", "make", "code", "notice"), CASES, ids=[b[0] for b in CASES])
def test_bad_inputs_are_refused_with_their_code(
    name: str,
    make: Callable[[Envelope], Raw],
    code: str,
    notice: bool,
    gateway: Gateway,
    envelope: Envelope,
) -> None:
    raw = make(envelope)
    with pytest.raises(CourtbusError) as info:
        gateway.check(raw)
    assert info.value.code == code, info.value
    dl = dead_letter(raw, info.value)
    assert dl.topic == "bus.deadletter" and dl.value == (raw.value or b"") and dl.key == raw.key
    extra = dict(dl.headers)
    assert extra["dlq_code"] == code.encode() and extra["dlq_topic"] == b"court.320583.outbox"
    assert PERSON_ID.encode() not in extra["dlq_reason"]


def test_records_on_unknown_outboxes_are_refused(gateway: Gateway, envelope: Envelope) -> None:
    raw = build(envelope, topic="court.999999.outbox", source="court:999999")
    with pytest.raises(CourtbusError) as info:
        gateway.check(raw)
    assert info.value.code == "PARTICIPANT_UNKNOWN"


def test_rejection_notice_names_the_refused_record(gateway: Gateway, envelope: Envelope) -> None:
    raw = build(envelope)
    raw.offset = 41
    error = CourtbusError("nope", code="SOURCE_SPOOFED")
    notice = rejection_notice(envelope, raw, error, "court", "320583")
    assert notice.topic == "court.320583.inbox"
    event = envelope.read(Raw(notice.topic, notice.key, notice.value, list(notice.headers)))
    assert event.payload["error_code"] == "SOURCE_SPOOFED"
    assert event.payload["source_offset"] == 41
    assert event.payload["rejected_event_id"] == dict(raw.headers)["ce_id"].decode()
    assert event.headers.causation_id == event.payload["rejected_event_id"]
    assert rejection_notice(envelope, raw, error, "agency", "nia").topic == "agency.nia.feed"
