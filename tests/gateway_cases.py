"""Bad inputs for the gateway, one per refusal code: shared by the unit and integration tables."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from courtbus.wire import values as v
from courtbus.wire.codec import frame
from courtbus.wire.envelope import Envelope
from tests.builders import PERSON_ID, one_per_flow

DELEGATION = one_per_flow()[0]  # court:320583 → court.320583.outbox, DelegationRequested
RECORD = DELEGATION[2]


@dataclass
class Raw:
    """A record as a consumer hands it over (what the gateway reads)."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    partition: int = 0
    offset: int = 0


def valid_payload(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(DELEGATION[3])
    payload.update(changes)
    return payload


def build(
    envelope: Envelope,
    payload: dict[str, Any] | None = None,
    *,
    topic: str = "court.320583.outbox",
    source: str = "court:320583",
    record: str = RECORD,
) -> Raw:
    out = envelope.build(topic, record, payload if payload is not None else valid_payload(), source)
    return Raw(topic, out.key, out.value, list(out.headers))


def _headers_without(name: str) -> Callable[[Envelope], Raw]:
    def make(env: Envelope) -> Raw:
        raw = build(env)
        raw.headers = [(k, h) for k, h in raw.headers if k != name]
        return raw

    return make


def _value(change: Callable[[bytes], bytes]) -> Callable[[Envelope], Raw]:
    def make(env: Envelope) -> Raw:
        raw = build(env)
        raw.value = change(raw.value or b"")
        return raw

    return make


def _court(court_id: str, designation: str) -> dict[str, str]:
    return {"court_id": court_id, "designation": designation}


# (name, how to make the record, expected dead-letter code, does the sender get a notice)
BAD_INPUTS: list[tuple[str, Callable[[Envelope], Raw], str, bool]] = [
    ("garbage bytes", _value(lambda b: b"\xde\xad\xbe\xef garbage"), "WIRE_BAD_MAGIC", True),
    ("empty value", _value(lambda b: b""), "WIRE_EMPTY", True),
    ("truncated Avro", _value(lambda b: b[:-9]), "AVRO_DECODE_FAILED", True),
    (
        "unknown schema id",
        _value(lambda b: frame(7_777_777, b[5:])),
        "WIRE_UNKNOWN_SCHEMA_ID",
        True,
    ),
    (
        "missing headers",
        lambda env: Raw("court.320583.outbox", b"k", build(env).value, []),
        "HEADER_MISSING",
        True,
    ),
    ("missing ce_id", _headers_without("ce_id"), "HEADER_MISSING", True),
    ("spoofed source", lambda env: build(env, source="court:3205"), "SOURCE_SPOOFED", True),
    (
        "court speaking for another court",
        lambda env: build(env, valid_payload(requesting_court=_court("3205", "苏05"))),
        "SOURCE_NOT_PARTY",
        True,
    ),
    (
        "invalid resident ID",
        lambda env: build(
            env,
            valid_payload(
                debtor={"kind": "PERSON", "name": "张三", "id_number": PERSON_ID[:-1] + "9"}
            ),
        ),
        "RESIDENT_ID_INVALID",
        True,
    ),
    (
        "case number parts disagree",
        lambda env: build(
            env,
            valid_payload(case_number={**v.case_number("(2023)苏0583执1234号"), "sequence": 99}),
        ),
        "CASE_NUMBER_INCONSISTENT",
        True,
    ),
    (
        "an enforcement number as the enforced suit",
        lambda env: build(env, valid_payload(enforced_suit="(2023)苏0583执1234号")),
        "SUIT_NUMBER_INVALID",
        True,
    ),
    (
        "a freeze delegated as a whole case (法释〔2011〕11号 第二条第二款)",
        lambda env: build(env, valid_payload(kind="CASE")),
        "DELEGATION_KIND_NOT_ALLOWED",
        True,
    ),
    (
        "unknown executing court",
        lambda env: build(env, valid_payload(executing_court=_court("1101", "京01"))),
        "COURT_UNKNOWN",
        True,
    ),
    ("oversized record", _value(lambda b: b + b"\x00" * (300 * 1024)), "RECORD_TOO_LARGE", True),
    (
        "bus-only message type",
        lambda env: build(
            env,
            {
                "delegation_id": "dlg-320583-2023-1234-01",
                "executing_court": _court("6101", "陕01"),
                "delivered_at": v.now(),
            },
            record="cn.court.bus.delegation.DelegationDelivered",
        ),
        "TYPE_NOT_ALLOWED",
        True,
    ),
    (
        # policies/regional.yaml cq-housing-fund-freeze-period, report:796-798
        "regional policy: housing-fund freeze over Chongqing's year",
        lambda env: build(
            env,
            valid_payload(
                executing_court=v.court("50"), asset_kind="HOUSING_FUND", freeze_period_days=366
            ),
        ),
        "POLICY_FREEZE_TOO_LONG",
        True,
    ),
    (
        "freeze period over the legal maximum",
        lambda env: build(env, valid_payload(freeze_period_days=400)),
        "POLICY_FREEZE_TOO_LONG",
        True,
    ),
    (
        # issue 21 item 1: court 320583 asks for a delegation on Zhanjiang's case
        "a court acts on another court's case number",
        lambda env: build(env, valid_payload(case_number=v.case_number("(2024)粤08执77号"))),
        "CASE_NOT_SENDERS",
        True,
    ),
    ("key is not the entity id", lambda env: _rekey(build(env)), "KEY_MISMATCH", True),
    (
        "empty entity id",
        lambda env: build(env, valid_payload(delegation_id="")),
        "KEY_INVALID",
        True,
    ),
]


def _rekey(raw: Raw) -> Raw:
    raw.key = b"some-other-key"
    return raw
