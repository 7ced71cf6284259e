"""Hypothesis strategies for whole outbox records, valid and broken, to fuzz the gateway with.

A ``Case`` starts from one realistic message per flow (``tests.builders``) with some
of its payload's fields replaced, or from any message type with a payload drawn from its
schema (``tests.fuzz_values``), is encoded as a sender would, then maybe broken on the wire (flipped, truncated or extended bytes, another magic byte or schema
id, a writer schema with another decimal type) and in its headers (missing, duplicated,
oversized, not UTF-8, null, wrong contents, a bogus signature). The budgets are here too:
``FUZZ`` (the ``make test`` run) or, with ``COURTBUS_FUZZ_PROFILE=soak``, the soak run.

``accounted`` checks what the gateway made of one record. Used by the unit and the
integration fuzz tests alike.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import courtbus
import services
from courtbus.bus.records import Output
from courtbus.bus.topics import DEADLETTER_TOPIC
from courtbus.errors import CourtbusError
from courtbus.security import keys as keyfile
from courtbus.security.signing import Signer, generate
from courtbus.wire.codec import frame
from courtbus.wire.envelope import Envelope, RecordSigner
from courtbus.wire.events import EventHeaders
from courtbus.wire.messages import by_ce_type
from tests.fuzz_values import FLOW_TOPICS, OUTBOXES, SAMPLES, any_type, payloads
from tests.gateway_cases import Raw

__all__ = [
    "FLOW_TOPICS",
    "OUTBOXES",
    "SAMPLES",
    "Case",
    "accounted",
    "cases",
    "draw_cases",
    "known_codes",
]

# -- budgets ----------------------------------------------------------------------------------

PROFILE_ENV = "COURTBUS_FUZZ_PROFILE"
PROFILE = os.environ.get(PROFILE_ENV, "test").strip().lower() or "test"
if PROFILE not in ("test", "soak"):
    raise RuntimeError(f"{PROFILE_ENV}={PROFILE!r}: write test or soak")
SOAK = PROFILE == "soak"
# examples per property (make test: fixed, derandomized, so that a run is repeatable; soak:
# 40x as many, random, so that each soak explores new inputs), records of the live campaign,
# runs of the stateful machine (25 steps each)
EXAMPLES = 20_000 if SOAK else 500
LIVE_RECORDS = 3000 if SOAK else 300
STATEFUL_RUNS = 1000 if SOAK else 40
DEADLINE_MS = 2000  # one record through the check core: far more than it ever takes; a hang fails

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(milliseconds=DEADLINE_MS),
    derandomize=not SOAK,
    database=None,  # failures are kept as explicit regression cases (tests/fuzz_regressions.py)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

# -- records ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One generated record and what was done to it (``steps``; none: it must be forwarded)."""

    raw: Raw
    steps: tuple[str, ...]
    record: str
    sent: Raw | None = None  # the record as its sender built (and maybe signed) it

    @property
    def clean(self) -> bool:
        return not self.steps

    @property
    def ce_id(self) -> bytes | None:
        ids = [v for k, v in self.raw.headers if k == "ce_id"]
        return ids[0] if len(ids) == 1 else None


def _money_writer(
    envelope: Envelope, record: str, precision: int, scale: int, as_bytes: bool
) -> int:
    """The id of ``record``'s schema registered with Money as another decimal type."""
    text = envelope.codec.schemas.message(record).text
    money_type = (
        {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
        if as_bytes
        else {
            "type": "fixed",
            "name": "cn.court.bus.Money",
            "size": 8,
            "logicalType": "decimal",
            "precision": precision,
            "scale": scale,
        }
    )
    schema = json.loads(text)
    first = [True]

    def swap(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("name") in ("Money", "cn.court.bus.Money") and node.get("type") == "fixed":
                if first[0]:
                    first[0] = False
                    return dict(money_type)
                return money_type if as_bytes else "cn.court.bus.Money"
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        if node in ("cn.court.bus.Money", "Money"):
            return dict(money_type) if as_bytes else node
        return node

    return envelope.codec.registry.register(record, json.dumps(swap(schema)))


def _replace_amounts(node: Any, amount: Callable[[], Decimal]) -> Any:
    """``node`` with every ``Decimal`` in it replaced by a new ``amount()``."""
    if isinstance(node, Decimal):
        return amount()
    if isinstance(node, dict):
        return {k: _replace_amounts(v, amount) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_amounts(v, amount) for v in node]
    return node


def _encode_with(schema_text: str, payload: dict[str, Any]) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(json.loads(schema_text)), payload)
    return body.getvalue()


HEADER_NAMES = [
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_correlationid",
    "content-type",
]
WRONG_CONTENTS: dict[str, list[bytes]] = {
    "ce_specversion": [b"0.3", b"1", b" 1.0", b"1.0\x00", b"2.0"],
    "ce_id": [
        b"not-a-uuid",
        b"12345",
        b"urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        b"{6BA7B810-9DAD-11D1-80B4-00C04FD430C8}",
        b"6ba7b8109dad11d180b400c04fd430c8",
        b"00000000-0000-0000-0000-000000000000",
        b"\xe4\xb8\x80" * 12,
    ],
    "ce_source": [
        b"court:3205",
        b"court:999999",
        b"agency:nia",
        b"bus:gateway",
        b"bus:delegation",
        b"court:",
        b"court:320583 ",
        b"COURT:320583",
        b"court:320583:x",
    ],
    "ce_type": [
        b"cn.court.delegation.cancelled",
        b"cn.court.blacklist.listed",
        b"unknown",
        b"cn.court.bus.message_rejected",
        b"cn.court.delegation.requested ",
    ],
    "ce_time": [
        b"1709283600",
        b"2024-02-30T00:00:00Z",
        b"2023-02-29T00:00:00Z",
        b"2024-03-01T09:00:00",
        b"2024-03-01T09:00:00+25:00",
        b"9999-12-31T23:59:59Z",
        b"0001-01-01T00:00:00Z",
        b"2024-13-01T00:00:00Z",
        b"yesterday",
    ],
    "content-type": [b"application/json", b"APPLICATION/AVRO", b"application/avro; charset=x"],
    "ce_dssematerial": [
        b"garbage",
        b"{}",
        b'{"payload":"","signatures":[]}',
        b"\x00" * 64,
        b'{"payloadType":"x","payload":"!!","signatures":[{"keyid":"k","sig":"?"}]}',
    ],
    "ce_subject": [b"", b"(2023)\xe8\x8b\x8f0583\xe6\x89\xa71234\xe5\x8f\xb7x"],
}


@st.composite
def headers(
    draw: st.DrawFn, given: list[tuple[str, bytes | None]]
) -> tuple[list[tuple[str, bytes | None]], list[str]]:
    """``given`` with 0–3 header faults (the headers, what was done)."""
    out = list(given)
    steps: list[str] = []
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 1, 2, 3]))):
        names = [k for k, _ in out] or HEADER_NAMES
        name = draw(st.sampled_from(sorted(set(names) | {"ce_dssematerial", "ce_extra"})))
        fault = draw(
            st.sampled_from(
                [
                    "drop",
                    "dup-same",
                    "dup-other",
                    "dup-case",
                    "oversized",
                    "not-utf8",
                    "null",
                    "empty",
                    "wrong",
                    "reorder",
                    "rename",
                ]
            )
        )
        value: bytes | None
        current = next((v for k, v in out if k == name), b"x") or b"x"
        if fault == "drop":
            out = [(k, v) for k, v in out if k != name]
        elif fault == "reorder":
            out = draw(st.permutations(out))
        elif fault == "rename":
            out = [
                (
                    draw(st.sampled_from([k.upper(), k + " ", "ce_ïd", k[:-1]]))
                    if k == name
                    else k,
                    v,
                )
                for k, v in out
            ]
        elif fault.startswith("dup"):
            other = {"dup-same": current, "dup-other": draw(st.binary(max_size=16))}.get(
                fault, current
            )
            label = name.upper() if fault == "dup-case" else name
            out.insert(draw(st.integers(0, len(out))), (label, other))
        else:
            if fault == "oversized":
                value = current * (1 + 1025 // max(1, len(current)))
                value = value[: draw(st.sampled_from([1024, 1025, 65_536]))]
            elif fault == "not-utf8":
                value = (
                    draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]))
                    + current
                )
            elif fault == "null":
                value = None
            elif fault == "empty":
                value = b""
            else:
                value = draw(st.sampled_from(WRONG_CONTENTS.get(name, [b"\x00", b"?"])))
            out = [(k, v) for k, v in out if k != name] + [(name, value)]
        steps.append(f"header {fault} {name}")
    return out, steps


def _utf8_break(value: bytes, payload: dict[str, Any]) -> bytes:
    """The first non-ASCII string of the payload found in ``value`` with its first byte made
    an invalid UTF-8 lead (a lone surrogate's 0xED), keeping the length."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str) and not node.isascii():
            found.append(node)
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(payload)
    for text in found:
        raw = text.encode()
        at = value.find(raw, 5)
        if at >= 5:
            return value[:at] + b"\xed\xa0\x80"[: len(raw)] + value[at + min(3, len(raw)) :]
    return value[:5] + b"\xff" + value[6:]


@st.composite
def wire(
    draw: st.DrawFn, envelope: Envelope, record: str, value: bytes, payload: dict[str, Any]
) -> tuple[bytes | None, list[str]]:
    """``value`` with 0–2 wire faults (the value, what was done)."""
    steps: list[str] = []
    out: bytes | None = value
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 1, 1, 2]))):
        data = out or b""
        fault = draw(
            st.sampled_from(
                [
                    "flip",
                    "truncate",
                    "extend",
                    "magic",
                    "schema-id",
                    "random",
                    "none",
                    "empty",
                    "oversized",
                    "utf8",
                    "other-record",
                ]
            )
        )
        if fault == "flip" and data:
            at = draw(st.integers(0, len(data) - 1))
            out = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif fault == "truncate":
            out = data[: draw(st.integers(0, max(0, len(data) - 1)))]
        elif fault == "extend":
            out = data + draw(st.binary(min_size=1, max_size=16))
        elif fault == "magic" and data:
            out = bytes([draw(st.integers(1, 255))]) + data[1:]
        elif fault == "schema-id":
            sid = draw(st.sampled_from([0, 2**31 - 1, 2**32 - 1, 7_777_777, 3, 5, 40, 41]))
            out = frame(sid, data[5:])
        elif fault == "other-record":
            other = draw(st.sampled_from([s[2] for s in SAMPLES if s[2] != record]))
            out = frame(envelope.codec.schema_id(other), data[5:])
        elif fault == "random":
            out = draw(st.binary(max_size=64))
        elif fault == "none":
            out = None
        elif fault == "empty":
            out = b""
        elif fault == "oversized":
            out = data + b"\x00" * (256 * 1024 + 1 - len(data))
        elif fault == "utf8":
            out = _utf8_break(data, payload)
        else:
            continue
        steps.append(f"value {fault}")
    return out, steps


@st.composite
def cases(
    draw: st.DrawFn,
    envelope: Envelope,
    *,
    writers: bool = True,
    signers: Mapping[str, RecordSigner] | None = None,
) -> Case:
    """One outbox record, maybe broken in its payload, value, headers, key or topic.

    ``writers``: sometimes register a writer schema with Money as another decimal type (not
    on a real registry, which would keep it: the live campaign passes False). ``signers``:
    ``ce_source`` -> the signer its records are signed with (before they are broken)."""
    if draw(st.integers(0, 4)) == 0:  # any message type, a payload drawn from its schema
        source, topic, record, seed, payload = draw(any_type())
        steps = [f"any type {record.rsplit('.', 1)[1]}"]
    else:
        source, topic, record, seed = draw(st.sampled_from(SAMPLES))
        schema = envelope.codec.schemas.message(record).json
        payload, changes = draw(payloads(schema, seed))
        steps = [f"payload fields {changes}"] if changes else []
    signer = (signers or {}).get(source)
    sender = envelope if signer is None else Envelope(envelope.codec, signer)
    try:
        built = sender.build(topic, record, payload, source)
    except CourtbusError as exc:  # a value the sender's own encoder refuses: sent raw anyway
        steps.append(f"unencodable {exc.code}")
        built = sender.build(topic, record, seed, source)
    value: bytes | None = built.value
    key: bytes | None = built.key
    if (
        writers and draw(st.integers(0, 9)) == 0
    ):  # a writer schema with Money as another decimal type
        precision, scale = draw(st.sampled_from([(18, 3), (18, 0), (18, 6), (18, 2), (9, 2)]))
        as_bytes = draw(st.integers(0, 3)) == 0  # the reader's fixed Money cannot read bytes
        units = st.one_of(
            st.sampled_from([1, -1, 5, 10**16, 10**18 - 1]), st.integers(-(2**63), 2**63 - 1)
        )
        amounts = units.map(lambda n: Decimal(n).scaleb(-scale))
        payload = _replace_amounts(payload, lambda: draw(amounts))
        try:
            sid = _money_writer(envelope, record, precision, scale, as_bytes)
            text = envelope.codec.registry.schema_by_id(sid)
            value = frame(sid, _encode_with(text, payload))
            steps.append(f"writer Money decimal({precision},{scale}){' bytes' if as_bytes else ''}")
        except (ValueError, TypeError, OverflowError, CourtbusError):
            pass  # this payload does not fit that writer schema: keep the usual encoding
    value, value_steps = (
        draw(wire(envelope, record, built.value, payload)) if value == built.value else (value, [])
    )
    steps += value_steps
    hdrs, header_steps = draw(headers(list(built.headers)))
    steps += header_steps
    fault = draw(st.sampled_from(["ok"] * 12 + ["none", "other", "not-utf8", "long"]))
    if fault != "ok":
        key = {
            "none": None,
            "other": b"some-other-key",
            "not-utf8": b"\xff" + (key or b""),
            "long": b"k" * 200,
        }[fault]
        steps.append(f"key {fault}")
    where = draw(st.sampled_from(["own"] * 14 + ["other", "agency", "unknown", "bus"]))
    if where != "own":
        topic = {
            "other": "court.3205.outbox" if topic != "court.3205.outbox" else "court.32.outbox",
            "agency": "agency.nia.outbox",
            "unknown": "court.999999.outbox",
            "bus": "bus.delegation.events",
        }[where]
        steps.append(f"topic {where}")
    sent = Raw(built.topic, built.key, built.value, list(built.headers))
    return Case(Raw(topic, key, value, hdrs), tuple(steps), record, sent)


# -- what the gateway may answer --------------------------------------------------------------


def accounted(case: Case, outputs: list[Output], known_codes: frozenset[str]) -> str:
    """Check that ``outputs`` (of one record fed to a fresh gateway) are exactly one forward or
    exactly one dead letter with a known code, besides the refusal's notice and alert; the
    verdict: ``"forwarded"`` or the dead letter's code.

    Raises:
        AssertionError: anything else.
    """
    raw = case.raw
    forwards = [o for o in outputs if o.topic in FLOW_TOPICS]
    letters = [o for o in outputs if o.topic == DEADLETTER_TOPIC]
    assert (len(forwards), len(letters)) in ((1, 0), (0, 1)), (case.steps, outputs)
    if forwards:
        [out] = forwards
        assert outputs == forwards, (case.steps, outputs)
        assert (out.key, out.value, list(out.headers)) == (raw.key, raw.value, raw.headers)
        flow = by_ce_type(EventHeaders.from_kafka(raw.headers).type).flow
        assert out.topic == f"bus.{flow}.events", (out.topic, flow)  # its own flow's topic
        return "forwarded"
    [letter] = letters
    dlq = {k: v for k, v in letter.headers if k.startswith("dlq_")}
    code = dlq["dlq_code"].decode()
    assert code != "INTERNAL_ERROR", (case.steps, dlq["dlq_reason"].decode())
    assert code in known_codes, (code, case.steps)
    assert dlq["dlq_topic"].decode() == raw.topic
    assert (int(dlq["dlq_partition"]), int(dlq["dlq_offset"])) == (raw.partition, raw.offset)
    assert (letter.key, letter.value) == (raw.key, raw.value or b"")
    others = [o.topic for o in outputs if o is not letter]
    assert all(t.endswith((".inbox", ".feed")) or t == "bus.alerts" for t in others), others
    return code


def known_codes() -> frozenset[str]:
    """Every error code the library and services can raise: the upper-case string literals
    of their sources (a code is a literal where it is raised or a constant naming it)."""
    found: set[str] = set()
    for package in (courtbus, services):
        for path in Path(next(iter(package.__path__))).rglob("*.py"):
            found.update(re.findall(r"[\"']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)[\"']", path.read_text()))
    return frozenset(found)


def draw_cases(strategy: st.SearchStrategy[Case], count: int) -> list[Case]:
    """``count`` cases drawn from ``strategy``: the same ones on every run of the ``make test``
    profile (derandomized), new ones on every soak."""
    drawn: list[Case] = []

    @settings(
        max_examples=count,
        derandomize=not SOAK,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Case) -> None:
        drawn.append(case)

    collect()
    return drawn


def participant_keys(now: datetime) -> tuple[dict[str, Signer], Path]:
    """A signing key for every participant (``ce_source`` -> its signer, valid from a day
    before ``now``) and the keys file listing their public halves, in a temporary folder
    removed at exit."""
    signers = {
        box.removesuffix(".outbox").replace(".", ":"): generate(box.removesuffix(".outbox"))
        for box in sorted(OUTBOXES)
    }
    folder = tempfile.mkdtemp(prefix="courtbus-fuzz-keys-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "public.yaml"
    start = now - timedelta(days=1)
    keyfile.write_keys(
        path, tuple(keyfile.public_of(s, start, keyfile.DEFAULT_LIFETIME) for s in signers.values())
    )
    return signers, path
