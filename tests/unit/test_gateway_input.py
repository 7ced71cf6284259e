"""Bad input that used to get through the gateway: reused ce_ids, unclean text, bad amounts.

Through ``GatewayFlow`` and ``FlowHarness`` (the engine's refusal path: dead letter, notice,
alert), on the in-memory registry.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from courtbus.bus.records import Output
from courtbus.domain.money import amount_ok, check_amount
from courtbus.domain.text import check_text, normalize_payload, normalize_text, text_ok
from courtbus.errors import ValidationError
from courtbus.gateway import EVENT_ID_CONFLICT, record_digest
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire import values as v
from courtbus.wire.codec import frame
from courtbus.wire.envelope import Envelope
from services.gateway.flow import SEEN, GatewayFlow
from tests.builders import FIRM_CODE, PERSON_ID, one_per_flow
from tests.gateway_cases import RECORD, Raw, build, valid_payload

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
DELEGATION_TOPIC = "bus.delegation.events"
OPENED = one_per_flow()[3]  # court:50, DistributionOpened: carries money (proceeds)
FILED = one_per_flow()[4]  # court:3174, CaseFiled: debtors is an array
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e"]
BIDI += ["\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]


@pytest.fixture
def harness() -> FlowHarness:
    return FlowHarness(GatewayFlow(memory_envelope()), start=START)


def feed(h: FlowHarness, raw: Raw) -> list[Output]:
    return h.feed_raw(raw.topic, raw.key, raw.value, raw.headers)


def refused(outputs: list[Output]) -> tuple[str, str]:
    """(code, reason) of the one dead letter among ``outputs``."""
    letters = [o for o in outputs if o.topic == "bus.deadletter"]
    assert len(letters) == 1, outputs
    headers = dict(letters[0].headers)
    return headers["dlq_code"].decode(), headers["dlq_reason"].decode()


def forwarded(outputs: list[Output]) -> bool:
    return [o.topic for o in outputs] == [DELEGATION_TOPIC]


def with_value_of(raw: Raw, other: Raw) -> Raw:
    """``raw``'s headers (so its ce_id) on ``other``'s key and value."""
    return Raw(raw.topic, other.key, other.value, list(raw.headers))


def with_header(raw: Raw, name: str, value: bytes) -> Raw:
    headers = [(k, h) for k, h in raw.headers if k != name] + [(name, value)]
    return Raw(raw.topic, raw.key, raw.value, headers)


def ce_id(raw: Raw) -> str:
    return dict(raw.headers)["ce_id"].decode() if raw.headers else ""


# -- the same ce_id with other content ------------------------------------------------------


def test_an_exact_duplicate_is_dropped_silently(harness: FlowHarness) -> None:
    raw = build(harness.envelope)
    assert forwarded(feed(harness, raw))
    assert feed(harness, raw) == []
    resent = with_header(raw, "traceparent", b"00-abc-def-01")  # transport metadata only
    assert feed(harness, resent) == []
    assert harness.count("seen") == 1


def test_a_reused_ce_id_with_another_value_is_refused_with_an_alert(
    harness: FlowHarness,
) -> None:
    genuine = build(harness.envelope)
    tampered = with_value_of(genuine, build(harness.envelope, valid_payload(note="另付十万")))
    assert forwarded(feed(harness, genuine))
    outputs = feed(harness, tampered)
    code, reason = refused(outputs)
    assert code == EVENT_ID_CONFLICT and ce_id(genuine) in reason
    assert "court.320583.outbox:0:0" in reason  # where the kept copy came in
    [notice] = harness.on("court.320583.inbox", outputs)
    assert notice.payload["error_code"] == EVENT_ID_CONFLICT
    [alert] = harness.on("bus.alerts", outputs)
    assert alert.record == "cn.court.bus.notice.ServiceAlert"
    assert alert.payload["code"] == EVENT_ID_CONFLICT
    assert alert.payload["service"] == "bus:gateway"
    assert alert.payload["event_id"] == ce_id(genuine)
    assert (alert.payload["source_topic"], alert.payload["source_offset"]) == (genuine.topic, 1)
    assert not any(o.topic == DELEGATION_TOPIC for o in outputs)
    # the kept copy's exact duplicate is still dropped; the other copy is refused every time
    assert feed(harness, genuine) == []
    assert refused(feed(harness, tampered))[0] == EVENT_ID_CONFLICT


def test_when_the_tampered_copy_came_first_the_genuine_one_is_refused(
    harness: FlowHarness,
) -> None:
    genuine = build(harness.envelope)
    tampered = with_value_of(genuine, build(harness.envelope, valid_payload(amount=v.money(1))))
    assert forwarded(feed(harness, tampered))  # the gateway cannot tell which one is genuine
    outputs = feed(harness, genuine)
    assert refused(outputs)[0] == EVENT_ID_CONFLICT
    assert [a.payload["code"] for a in harness.on("bus.alerts", outputs)] == [EVENT_ID_CONFLICT]
    assert feed(harness, tampered) == []


def test_a_reused_ce_id_with_another_key_is_refused_whatever_came_first(
    harness: FlowHarness,
) -> None:
    """Issue 21 item 2: record B reuses record A's ce_id for another delegation (a key that
    hashes to another outbox partition, whose task never saw A): refused, with an alert."""
    first = build(harness.envelope)
    other = build(harness.envelope, valid_payload(delegation_id="dlg-320583-2024-other-01"))
    assert other.key != first.key
    reused = with_header(other, "ce_id", dict(first.headers)["ce_id"])
    fresh = FlowHarness(GatewayFlow(harness.envelope), start=START)  # another task: no memory
    for h in (harness, fresh):
        if h is harness:
            assert forwarded(feed(h, first))
        outputs = feed(h, reused)
        code, reason = refused(outputs)
        assert code == EVENT_ID_CONFLICT and "another record key" in reason
        assert [a.payload["code"] for a in h.on("bus.alerts", outputs)] == [EVENT_ID_CONFLICT]
        assert not any(o.topic == DELEGATION_TOPIC for o in outputs)
    assert forwarded(feed(fresh, other))  # its own ce_id, bound to its key, goes through


def test_a_ce_id_not_bound_to_its_key_is_refused_unless_allowed() -> None:
    envelope = memory_envelope()
    raw = with_header(build(envelope), "ce_id", b"1c459bd1-4eab-400f-9e8d-a832278dd4b0")
    strict = FlowHarness(GatewayFlow(envelope), start=START)
    assert refused(feed(strict, raw))[0] == "EVENT_ID_UNBOUND"
    migrating = FlowHarness(GatewayFlow(envelope, bound_ids=False), start=START)
    assert forwarded(feed(migrating, raw))


@pytest.mark.parametrize(
    ("name", "value"),
    [("ce_time", b"2024-03-01T09:00:00Z"), ("ce_subject", b"other"), ("ce_extra", b"x")],
)
def test_a_reused_ce_id_with_other_ce_headers_is_a_conflict(
    harness: FlowHarness, name: str, value: bytes
) -> None:
    raw = build(harness.envelope)
    assert forwarded(feed(harness, raw))
    assert refused(feed(harness, with_header(raw, name, value)))[0] == EVENT_ID_CONFLICT


def test_a_reused_ce_id_with_another_key_is_a_conflict(harness: FlowHarness) -> None:
    raw = build(harness.envelope)
    other = build(harness.envelope, valid_payload(delegation_id="dlg-320583-2023-1234-02"))
    assert forwarded(feed(harness, raw))
    assert refused(feed(harness, with_value_of(raw, other)))[0] == EVENT_ID_CONFLICT


def test_a_seen_entry_in_the_old_format_counts_as_an_exact_duplicate(
    harness: FlowHarness,
) -> None:
    genuine = build(harness.envelope)
    state = harness.state(0)
    state.table(SEEN).put(ce_id(genuine), "court.320583.outbox:0:7")  # no digest
    state.commit_record()
    state.committed({})
    tampered = with_value_of(genuine, build(harness.envelope, valid_payload(note="x")))
    assert feed(harness, genuine) == []
    assert feed(harness, tampered) == []
    assert state.table(SEEN).get(ce_id(genuine)) == "court.320583.outbox:0:7"


def test_the_digest_ignores_header_order_case_and_non_ce_headers() -> None:
    raw = build(memory_envelope())
    digest = record_digest(raw)
    assert len(digest) == 64
    reordered = Raw(raw.topic, raw.key, raw.value, [(k.upper(), h) for k, h in raw.headers[::-1]])
    assert record_digest(reordered) == digest
    assert record_digest(with_header(raw, "content-type", b"application/avro")) == digest
    assert record_digest(Raw(raw.topic, raw.key + b"x", raw.value, raw.headers)) != digest
    assert record_digest(Raw(raw.topic, None, raw.value, raw.headers)) != digest


def test_the_digest_is_the_stored_format() -> None:
    """Digests are kept in ``seen`` for the dedup retention: what is hashed must not change."""
    raw = Raw(
        "court.320583.outbox",
        b"k",
        b"v",
        [("ce_id", b"1"), ("CE_Type", b"t"), ("traceparent", b"x")],
    )
    framed = b"".join(
        len(p).to_bytes(4, "big") + p for p in (b"k", b"v", b"ce_id", b"1", b"ce_type", b"t")
    )
    assert record_digest(raw) == hashlib.sha256(framed).hexdigest()
    no_key = Raw(raw.topic, None, b"v", [])
    assert (
        record_digest(no_key)
        == hashlib.sha256(b"\xff\xff\xff\xff" + b"\x00\x00\x00\x01v").hexdigest()
    )


def reference_digest(key: bytes | None, value: bytes | None, headers: list[Any]) -> str:
    """The stored format written out plainly: length-prefixed key and value, then the ``ce_*``
    headers lower-cased and sorted by (name, value)."""

    def part(b: bytes | None) -> bytes:
        return b"\xff\xff\xff\xff" if b is None else len(b).to_bytes(4, "big") + b

    ce = sorted((k.lower(), h) for k, h in headers if k[:3].lower() == "ce_")
    return hashlib.sha256(
        part(key) + part(value) + b"".join(part(k.encode()) + part(h) for k, h in ce)
    ).hexdigest()


_NAMES = st.sampled_from(["ce_id", "CE_ID", "ce_type", "Ce_Time", "ce_z", "content-type", "x"])


@settings(max_examples=300, deadline=None)
@given(
    key=st.none() | st.binary(max_size=8),
    value=st.none() | st.binary(max_size=8),
    headers=st.lists(st.tuples(_NAMES, st.binary(max_size=4)), max_size=6),
)
def test_the_digest_of_any_layout_is_the_stored_format(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    """A header layout's plan is worked out once and reused (``_digest_plan``): the first
    record of a layout and the next one hash as the stored format does, repeated names too."""
    expected = reference_digest(key, value, headers)
    assert record_digest(Raw("court.320583.outbox", key, value, headers)) == expected
    assert record_digest(Raw("court.320583.outbox", key, value, list(headers))) == expected


# -- free text ------------------------------------------------------------------------------


def person(name: str) -> dict[str, Any]:
    return {"kind": "PERSON", "name": name, "id_number": PERSON_ID}


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"debtor": person("张\x00三")}, "TEXT_CONTROL_CHARACTER", "debtor.name"),
        ({"debtor": person("张三\x85")}, "TEXT_CONTROL_CHARACTER", "debtor.name"),  # C1 NEL
        ({"debtor": person("张三\x7f")}, "TEXT_CONTROL_CHARACTER", "debtor.name"),
        ({"debtor": person("张\n三")}, "TEXT_CONTROL_CHARACTER", "debtor.name"),
        ({"debtor": person("张\t三")}, "TEXT_CONTROL_CHARACTER", "debtor.name"),
        ({"debtor": person("张\u2028三")}, "TEXT_CONTROL_CHARACTER", "debtor.name"),
        ({"note": "第一行\r\n第二行"}, "TEXT_CONTROL_CHARACTER", "note"),
        ({"note": "付款\x1b[31m"}, "TEXT_CONTROL_CHARACTER", "note"),
        ({"asset_description": "账户\u202e123"}, "TEXT_BIDI_CONTROL", "asset_description"),
        ({"debtor": person("Zoe\u0308")}, "TEXT_NOT_NFC", "debtor.name"),
        ({"debtor": person("\uf929三")}, "TEXT_NOT_NFC", "debtor.name"),  # compatibility 朗
        ({"delegation_id": "dlg-\u202e10-"}, "TEXT_BIDI_CONTROL", "delegation_id"),
    ],
)
def test_unclean_text_is_refused_naming_the_field(
    harness: FlowHarness, changes: dict[str, Any], code: str, field: str
) -> None:
    outputs = feed(harness, build(harness.envelope, valid_payload(**changes)))
    got, reason = refused(outputs)
    assert got == code, reason
    assert reason.startswith(field + " ") or reason.startswith(field + ":"), reason
    assert PERSON_ID not in reason and "张" not in reason  # the text itself is never quoted
    assert [n.payload["error_code"] for n in harness.on("court.320583.inbox", outputs)] == [code]


@pytest.mark.parametrize("char", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_every_bidirectional_formatting_character_is_refused_in_a_name(
    harness: FlowHarness, char: str
) -> None:
    raw = build(harness.envelope, valid_payload(debtor=person(f"张{char}三")))
    code, reason = refused(feed(harness, raw))
    assert code == "TEXT_BIDI_CONTROL"
    assert f"debtor.name holds U+{ord(char):04X} at character 1" in reason


def test_free_text_may_hold_newlines_and_tabs(harness: FlowHarness) -> None:
    note = "第一行\n\t第二行"
    assert forwarded(feed(harness, build(harness.envelope, valid_payload(note=note))))


def test_the_path_names_the_array_element(harness: FlowHarness) -> None:
    source, topic, record, payload = FILED
    debtors = [v.debtor("ORGANISATION", "湛江某\u200f贸易有限公司", FIRM_CODE)]
    raw = build(
        harness.envelope, {**payload, "debtors": debtors}, topic=topic, source=source, record=record
    )
    code, reason = refused(feed(harness, raw))
    assert code == "TEXT_BIDI_CONTROL" and reason.startswith("debtors[0].name holds U+200F")


# -- passports ------------------------------------------------------------------------------


def passport(nationality: str | None = "USA", number: str = "E12345678") -> dict[str, Any]:
    return {
        "kind": "PERSON",
        "name": "John Smith",
        "id_number": number,
        "id_type": "PASSPORT",
        "nationality": nationality,
    }


def test_a_debtor_named_by_passport_is_forwarded(harness: FlowHarness) -> None:
    outputs = feed(harness, build(harness.envelope, valid_payload(debtor=passport())))
    assert forwarded(outputs), outputs
    debtor = harness.envelope.codec.decode(outputs[0].value).payload["debtor"]
    assert (debtor["id_type"], debtor["nationality"]) == ("PASSPORT", "USA")


@pytest.mark.parametrize(
    ("debtor", "code"),
    [
        (passport(None), "PASSPORT_INVALID"),  # no issuing state
        (passport("US"), "PASSPORT_INVALID"),  # alpha-2
        (passport("usa"), "ID_NOT_CANONICAL"),  # the SDK upper-cases it
        ({**passport(), "kind": "ORGANISATION"}, "ID_TYPE_MISMATCH"),
        ({**person("张三"), "nationality": "USA"}, "ID_TYPE_MISMATCH"),  # not a passport
        ({**person("张三"), "id_type": "HMT_RESIDENCE_PERMIT"}, "ID_TYPE_MISMATCH"),
        ({**passport(), "id_type": None}, "ID_TYPE_MISMATCH"),  # nationality, type unsaid
        ({**passport(None), "id_type": None}, "RESIDENT_ID_INVALID"),  # never guessed
    ],
)
def test_a_bad_passport_debtor_is_refused(
    harness: FlowHarness, debtor: dict[str, Any], code: str
) -> None:
    outputs = feed(harness, build(harness.envelope, valid_payload(debtor=debtor)))
    got, reason = refused(outputs)
    assert got == code, reason
    assert "E12345678" not in reason
    assert [n.payload["error_code"] for n in harness.on("court.320583.inbox", outputs)] == [code]


def test_a_debtor_written_before_id_type_existed_is_forwarded(harness: FlowHarness) -> None:
    """FULL_TRANSITIVE: a producer on the old Debtor schema (no id_type, no nationality)."""
    raw = build(harness.envelope)
    schema = json.loads(harness.envelope.codec.schemas.message(RECORD).text)
    debtor = next(f for f in schema["fields"] if f["name"] == "debtor")["type"]
    debtor["fields"] = [f for f in debtor["fields"] if f["name"] not in ("id_type", "nationality")]
    schema_id = harness.envelope.codec.registry.register(RECORD, json.dumps(schema))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), valid_payload())
    outputs = feed(harness, Raw(raw.topic, raw.key, frame(schema_id, body.getvalue()), raw.headers))
    assert forwarded(outputs), outputs


def test_text_rules_and_the_normaliser() -> None:
    assert text_ok("张三 (2023)苏0583执1234号") and text_ok("a\nb\tc", free_text=True)
    assert not text_ok("a\nb") and not text_ok("e\u0301") and not text_ok("a\u2066b")
    with pytest.raises(ValidationError) as info:
        check_text("a\rb", "reason", free_text=True)
    assert info.value.code == "TEXT_CONTROL_CHARACTER" and "U+000D" in info.value.reason
    assert normalize_text("Zoe\u0308\r\nx\ry") == "Zoë\nx\ny"
    assert normalize_text("\uf929") == "\u6717"
    assert text_ok(normalize_text("e\u0301"))
    payload = {"debtor": {"name": "e\u0301"}, "tags": ["a\r\nb"], "n": 1, "none": None}
    assert normalize_payload(payload) == {
        "debtor": {"name": "\xe9"},
        "tags": ["a\nb"],
        "n": 1,
        "none": None,
    }


# -- money on every message type ------------------------------------------------------------


def opened(envelope: Envelope, proceeds: Decimal) -> Raw:
    source, topic, record, payload = OPENED
    return build(
        envelope, {**payload, "proceeds": proceeds}, topic=topic, source=source, record=record
    )


def written_with_money(envelope: Envelope, proceeds: Decimal, precision: int, scale: int) -> Raw:
    """A DistributionOpened encoded with a writer schema whose Money has another decimal type.

    The registry holds whatever a producer registered; the reader still gets a Decimal.
    """
    raw = opened(envelope, Decimal("1.00"))
    _source, topic, record, payload = OPENED
    schema = json.loads(envelope.codec.schemas.message(record).text)
    money = next(f for f in schema["fields"] if f["name"] == "proceeds")["type"]
    money.update(precision=precision, scale=scale)
    text = json.dumps(schema)
    schema_id = envelope.codec.registry.register(record, text)
    body = io.BytesIO()
    fastavro.schemaless_writer(
        body, fastavro.parse_schema(schema), {**payload, "proceeds": proceeds}
    )
    return Raw(topic, raw.key, frame(schema_id, body.getvalue()), raw.headers)


def test_a_valid_amount_on_another_message_type_is_forwarded(harness: FlowHarness) -> None:
    outputs = feed(harness, opened(harness.envelope, Decimal("3500000.00")))
    assert [o.topic for o in outputs] == ["bus.distribution.events"]


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda env: opened(env, Decimal("-1.00")), "MONEY_OUT_OF_RANGE", "negative"),
        (
            lambda env: written_with_money(env, Decimal("1.005"), 18, 3),
            "MONEY_INVALID",
            "more than two decimal places",
        ),
        (
            lambda env: written_with_money(env, Decimal("10000000000000000"), 18, 0),
            "MONEY_OUT_OF_RANGE",
            "more than decimal(18,2) holds",
        ),
    ],
    ids=["negative", "three decimals", "too large"],
)
def test_bad_money_is_refused_on_a_distribution(
    harness: FlowHarness, make: Any, code: str, words: str
) -> None:
    outputs = feed(harness, make(harness.envelope))
    got, reason = refused(outputs)
    assert got == code and reason.startswith("proceeds is ") and words in reason, reason
    [notice] = harness.on("court.50.inbox", outputs)
    assert notice.payload["error_code"] == code


def test_bad_money_is_refused_in_an_array_element() -> None:
    from courtbus.gateway.rules import check_values

    plan = {
        "allocations": [
            {"claim_id": "c1", "admitted": Decimal("5.00"), "allocated": Decimal("-0.01")}
        ]
    }
    with pytest.raises(ValidationError) as info:
        check_values(plan)
    assert info.value.code == "MONEY_OUT_OF_RANGE"
    assert info.value.reason.startswith("allocations[0].allocated is negative")


def test_check_amount() -> None:
    for good in ("0.00", "9999999999999999.99", "1.230", "7"):  # 1.230: exact to the fen
        check_amount(Decimal(good), "x")
        assert amount_ok(Decimal(good))
    for amount, code in [
        (Decimal("-0.01"), "MONEY_OUT_OF_RANGE"),
        (Decimal("10000000000000000"), "MONEY_OUT_OF_RANGE"),
        (Decimal("0.001"), "MONEY_INVALID"),
        (Decimal("NaN"), "MONEY_INVALID"),
        (Decimal("-Infinity"), "MONEY_INVALID"),
    ]:
        with pytest.raises(ValidationError) as info:
            check_amount(amount, "amount")
        assert info.value.code == code, amount
        assert not amount_ok(amount)
