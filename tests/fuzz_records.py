"""Hypothesis strategies for whole outbox records, valid and broken, to fuzz the gateway with.

A ``Case`` starts from one realistic message per flow (``courtbus.app.samples``), has some of
its payload's fields replaced with values drawn for each field's Avro type (adversarial text,
money edge cases, dates around leap days and Chinese holidays, ID numbers with wrong check
digits, case numbers that disagree with themselves), is encoded as a sender would, then
maybe broken on the wire (flipped, truncated or extended bytes, another magic byte or schema
id, a writer schema with another decimal type) and in its headers (missing, duplicated,
oversized, not UTF-8, null, wrong contents, a bogus signature). The budgets are here too:
``FUZZ`` (the ``make test`` run) or, with ``COURTBUS_FUZZ_PROFILE=soak``, the soak run.

Imports only the library and Hypothesis: used by unit and integration fuzz tests alike.
"""

from __future__ import annotations

import copy
import json
import os
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from courtbus.app.samples import FIRM_CODE, PERSON_ID, one_per_flow
from courtbus.bus.records import Output
from courtbus.bus.topics import DEADLETTER_TOPIC
from courtbus.catalogue.directory import load_directory
from courtbus.errors import CourtbusError
from courtbus.gateway.rules import SENDERS
from courtbus.wire.codec import frame
from courtbus.wire.envelope import Envelope
from courtbus.wire.messages import MESSAGE_TYPES
from courtbus.wire.schemas import SchemaSet
from tests.avro_strategies import strategy as avro_strategy
from tests.gateway_cases import Raw

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

# -- the seeds --------------------------------------------------------------------------------

SCHEMAS = SchemaSet.load()
SAMPLES = one_per_flow()  # (source, topic, record, payload): one per flow, each its own court
DIRECTORY = load_directory()
COURT_IDS = [c.id for c in DIRECTORY.courts]
DESIGNATIONS = [c.designation for c in DIRECTORY.courts]
DESIGNATION_OF = {c.id: c.designation for c in DIRECTORY.courts}
AGENCY_IDS = [a.id for a in DIRECTORY.agencies]
OUTBOXES = frozenset(
    [f"court.{c}.outbox" for c in COURT_IDS] + [f"agency.{a}.outbox" for a in AGENCY_IDS]
)
FLOW_TOPICS = frozenset(
    f"bus.{flow}.events"
    for flow in ("delegation", "blacklist", "restriction", "distribution", "casestatus")
)

# -- field values -----------------------------------------------------------------------------

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ODD = "\x00\x01\x07\t\n\r\x1b\x7f\x85\x9f\u00a0\u00ad\u034f\u200b\u200d\u2028\u2029\u3000\ufeff\ufffd\uf929"
_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_ALPHABET = st.one_of(
    st.characters(codec="utf-8"),  # anything encodable (no lone surrogates: see utf8_break)
    st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Mn", "Me", "Co", "Cn"]),
    st.sampled_from(BIDI + ODD),
    _CJK,
    st.characters(min_codepoint=0xF900, max_codepoint=0xFAFF),  # CJK compatibility: not NFC
    st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),  # full-width ASCII
)


def _long(n: int) -> str:
    return ("张" * n)[:n]


def texts() -> st.SearchStrategy[str]:
    """Strings a sender might put anywhere: every Unicode category, NFC and NFD, long ones."""
    base = st.text(_ALPHABET, max_size=24)
    return st.one_of(
        base,
        base.map(lambda s: unicodedata.normalize("NFD", s)),
        st.sampled_from(["", " ", "张三", "Zoe\u0308", "e\u0301", "\u00e9", "朗", "\uf929"]),
        st.sampled_from([127, 128, 129, 255, 256, 1024, 4096, 70_000]).map(_long),
    )


def _ric(region: str, born: date, seq: int, *, right: bool) -> str:
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    check = ric.calc_check_digit(body)
    if not right:
        check = "0123456789X"[("0123456789X".index(check) + 1) % 11]
    return body + check


LEAP_DAYS = [
    date(y, 2, d)
    for y in (1900, 1996, 2000, 2023, 2024, 2100)
    for d in (28, 29)
    if not (d == 29 and (y % 4 or (y % 100 == 0 and y % 400)))
]
# Spring Festival, National Day and 调休 working Sundays; the year turns
HOLIDAYS = [
    date(2024, 2, 10),
    date(2024, 2, 4),
    date(2024, 2, 18),
    date(2024, 10, 1),
    date(2024, 10, 7),
    date(2024, 10, 12),
    date(2023, 1, 22),
    date(2023, 1, 28),
    date(2025, 1, 26),
    date(2025, 2, 8),
    date(2024, 12, 31),
    date(2025, 1, 1),
    date(2024, 5, 1),
    date(2024, 4, 28),
    date(2024, 3, 1),
    date(2024, 2, 29),
]
EDGE_DATES = [
    date(1, 1, 1),
    date(1970, 1, 1),
    date(1969, 12, 31),
    date(2038, 1, 19),
    date(9999, 12, 31),
]


def dates(first: date = date.min, last: date = date.max) -> st.SearchStrategy[date]:
    """Dates from ``first`` to ``last`` around leap days, Chinese holidays and the ends of
    the calendar, or any."""
    near = st.sampled_from(LEAP_DAYS + HOLIDAYS)
    shifted = st.tuples(near, st.integers(-2, 2)).map(lambda p: p[0] + timedelta(days=p[1]))
    edges = st.sampled_from([d for d in EDGE_DATES if first <= d <= last])
    return st.one_of(shifted, edges, st.dates(first, last))


def times() -> st.SearchStrategy[datetime]:
    """UTC times (to the millisecond) on those dates, at midnight ± a millisecond or any time."""
    moment = st.sampled_from(
        [
            timedelta(0),
            timedelta(milliseconds=-1),
            timedelta(hours=16),
            timedelta(hours=23, minutes=59, seconds=59, milliseconds=999),
        ]
    )
    on_day = st.tuples(dates(date(2, 1, 1), date(9998, 12, 31)), moment).map(
        lambda p: datetime(p[0].year, p[0].month, p[0].day, tzinfo=UTC) + p[1]
    )
    return on_day


def id_numbers() -> st.SearchStrategy[str]:
    """Resident IDs (right and wrong check digits, leap-day births), credit codes, junk."""
    born = st.one_of(dates(date(1900, 1, 1)), st.just(date(1993, 3, 12)))
    region = st.sampled_from(["320583", "110101", "440802", "999999", "000000"])
    resident = st.builds(_ric, region, born, st.integers(0, 999), right=st.booleans())
    code_body = st.text("0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=17, max_size=17)
    credit = st.tuples(code_body, st.booleans()).map(
        lambda p: p[0] + (uscc.calc_check_digit(p[0]) if p[1] else "I")
    )
    return st.one_of(
        resident,
        credit,
        st.sampled_from(
            [
                PERSON_ID,
                PERSON_ID[:-1] + "9",
                PERSON_ID.lower(),
                PERSON_ID[:15],
                " " + PERSON_ID,
                "３２０５８３１９９３０３１２１２３４",
                "32058319930312123x",
                FIRM_CODE,
                FIRM_CODE[:-1] + "A",
                FIRM_CODE.lower(),
                "E12345678",
                "",
                "X" * 19,
            ]
        ),
        st.text("0123456789Xx", min_size=14, max_size=19),
    )


def case_texts() -> st.SearchStrategy[str]:
    """Case numbers: well formed, full-width, spaced, other courts, odd years and types."""
    year = st.sampled_from([1900, 1949, 2000, 2023, 2024, 2099, 10000])
    court = st.sampled_from(["苏0583", "苏05", "苏", "粤08", "最高法", "京01", "苏9999", ""])
    kind = st.sampled_from(["执", "执恢", "执保", "执异", "执复", "执监", "执协", "民初", "刑"])
    seq = st.sampled_from([0, 1, 1234, 99999999, 10**12])
    made = st.builds(lambda y, c, k, n: f"({y}){c}{k}{n}号", year, court, kind, seq)
    return st.one_of(
        made,
        made.map(lambda s: s.replace("(", "（").replace(")", "）")),
        made.map(lambda s: f"  {s} "),
        texts(),
    )


def money() -> st.SearchStrategy[Decimal]:
    """Amounts an 8-byte decimal(18,2) holds: 0, a fen, the limits either side, negatives."""
    edges = [0, 1, -1, 10**18 - 1, 10**18, -(10**18), 2**63 - 1, -(2**63), 99, 100]
    cents = st.one_of(st.sampled_from(edges), st.integers(-(2**63), 2**63 - 1))
    return cents.map(lambda n: Decimal(n).scaleb(-2))


def _ints(schema: str) -> st.SearchStrategy[int]:
    bits = 31 if schema == "int" else 63
    edges = [0, 1, -1, 366, 365 * 3 + 1, 2**bits - 1, -(2**bits), 10**6]
    return st.one_of(st.sampled_from(edges), st.integers(-(2**bits), 2**bits - 1))


def _by_name(name: str) -> st.SearchStrategy[Any] | None:
    if name in ("id_number", "legal_representative_id"):
        return id_numbers()
    if name == "court_id":
        return st.one_of(st.sampled_from([*COURT_IDS, "999999", "32 ", "", "３２"]), texts())
    if name == "designation":
        return st.one_of(st.sampled_from([*DESIGNATIONS, "苏O583", "苏 05"]), texts())
    if name == "nationality":
        return st.sampled_from([None, "USA", "US", "usa", "CHN", "XXX", "", "ÜSA"])
    return None


def value_for(schema: Any, name: str, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the Avro type ``schema`` (JSON form) for a field called ``name``: always
    encodable with that type, seldom valid for the bus."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        return st.one_of([value_for(branch, name, named) for branch in schema])
    special = _by_name(name)
    if isinstance(schema, str):
        if schema == "string":
            if name == "text":
                return case_texts()
            return special if special is not None else texts()
        if schema == "null":
            return st.none()
        if schema in ("int", "long"):
            return _ints(schema)
        if schema == "boolean":
            return st.booleans()
        if schema in ("float", "double"):
            return st.floats(allow_nan=False, width=32 if schema == "float" else 64)
        if schema == "bytes":
            return st.binary(max_size=32)
        raise ValueError(f"no strategy for {schema!r}")
    logical, kind = schema.get("logicalType"), schema["type"]
    if "name" in schema:
        named[schema["name"]] = schema
        named[schema["name"].rsplit(".", 1)[-1]] = schema
    if logical == "decimal":
        return money()
    if logical == "date":
        return dates()
    if logical in ("timestamp-millis", "timestamp-micros"):
        return times()
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        item = value_for(schema["items"], name, named)
        return st.one_of(st.lists(item, max_size=3), st.just([]))
    if kind == "map":
        return st.dictionaries(texts(), value_for(schema["values"], name, named), max_size=3)
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: value_for(f["type"], f["name"], named) for f in schema["fields"]}
        )
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    return value_for(kind, name, named)


def _leaves(
    schema: Any,
    value: Any,
    path: tuple[Any, ...],
    named: dict[str, Any],
    out: list[tuple[tuple[Any, ...], Any, str]],
) -> None:
    """Every field of ``value`` (its path, declared type and name), whole records included."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        for branch in schema:
            resolved = named.get(branch, branch) if isinstance(branch, str) else branch
            kind = resolved if isinstance(resolved, str) else resolved.get("type")
            if (
                (value is None and kind == "null")
                or (isinstance(value, dict) and kind == "record")
                or (isinstance(value, list) and kind == "array")
            ):
                _leaves(branch, value, path, named, out)
        return
    if isinstance(schema, dict):
        if "name" in schema:
            named[schema["name"]] = schema
            named[schema["name"].rsplit(".", 1)[-1]] = schema
        if schema.get("type") == "record" and isinstance(value, dict):
            for f in schema["fields"]:
                if f["name"] in value:
                    out.append(((*path, f["name"]), f["type"], f["name"]))
                    _leaves(f["type"], value[f["name"]], (*path, f["name"]), named, out)
        elif schema.get("type") == "array" and isinstance(value, list):
            for i, item in enumerate(value):
                out.append(((*path, i), schema["items"], str(path[-1]) if path else ""))
                _leaves(schema["items"], item, (*path, i), named, out)


def _set(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = payload
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


@st.composite
def payloads(
    draw: st.DrawFn, schema: dict[str, Any], payload: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    """``payload`` with 0–3 of its fields replaced by values drawn for their types (how many)."""
    named: dict[str, Any] = {}
    leaves: list[tuple[tuple[Any, ...], Any, str]] = []
    _leaves(schema, payload, (), named, leaves)
    changed = copy.deepcopy(payload)
    count = draw(st.sampled_from([0, 0, 1, 1, 1, 2, 3]))
    for _ in range(count):
        path, ftype, name = draw(st.sampled_from(leaves))
        try:
            _set(changed, path, draw(value_for(ftype, name, dict(named))))
        except (KeyError, IndexError, TypeError):  # an earlier change removed the parent
            continue
    return changed, count


@st.composite
def any_type(draw: st.DrawFn) -> tuple[str, str, str, dict[str, Any], dict[str, Any]]:
    """(source, outbox, record, payload, payload) of any message type, the bus's own ones
    too, its payload drawn from its schema (``tests.avro_strategies``), sent by a participant
    of the kind that may send it and named as the sender where the type names one."""
    mtype = draw(st.sampled_from(MESSAGE_TYPES))
    schema = SCHEMAS.message(mtype.record).json
    payload = draw(avro_strategy(schema))
    kind, field = SENDERS.get(mtype.record.rsplit(".", 1)[1], ("court", None))
    pid = draw(st.sampled_from(COURT_IDS if kind == "court" else AGENCY_IDS))
    if field is not None and field in payload and draw(st.integers(0, 4)) > 0:
        named = payload[field]
        payload[field] = (
            {"court_id": pid, "designation": DESIGNATION_OF[pid]}
            if isinstance(named, dict)
            else pid
        )
    return f"{kind}:{pid}", f"{kind}.{pid}.outbox", mtype.record, payload, payload


# -- records ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One generated record and what was done to it (``steps``; none: it must be forwarded)."""

    raw: Raw
    steps: tuple[str, ...]
    record: str

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
    import io

    import fastavro

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
def cases(draw: st.DrawFn, envelope: Envelope, *, writers: bool = True) -> Case:
    """One outbox record, maybe broken in its payload, value, headers, key or topic.

    ``writers``: sometimes register a writer schema with Money as another decimal type (not
    on a real registry, which would keep it: the live campaign passes False)."""
    if draw(st.integers(0, 4)) == 0:  # any message type, a payload drawn from its schema
        source, topic, record, seed, payload = draw(any_type())
        steps = [f"any type {record.rsplit('.', 1)[1]}"]
    else:
        source, topic, record, seed = draw(st.sampled_from(SAMPLES))
        schema = envelope.codec.schemas.message(record).json
        payload, changes = draw(payloads(schema, seed))
        steps = [f"payload fields {changes}"] if changes else []
    try:
        built = envelope.build(topic, record, payload, source)
    except CourtbusError as exc:  # a value the sender's own encoder refuses: sent raw anyway
        steps.append(f"unencodable {exc.code}")
        built = envelope.build(topic, record, seed, source)
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
    return Case(Raw(topic, key, value, hdrs), tuple(steps), record)


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
    import re
    from pathlib import Path

    import courtbus
    import services

    found: set[str] = set()
    for package in (courtbus, services):
        for path in Path(next(iter(package.__path__))).rglob("*.py"):
            found.update(re.findall(r"[\"']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)[\"']", path.read_text()))
    return frozenset(found)


def fresh_id() -> bytes:
    return str(uuid.uuid4()).encode()


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
