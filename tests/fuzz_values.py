"""Hypothesis strategies for the payloads of outbox records, field by field, to fuzz the gateway.

Values are drawn for each field's Avro type and name: text of every Unicode category (controls,
bidi, separators, combining marks, unassigned, CJK compatibility), NFD, lengths at and over the
limits; amounts at 0, a fen, negative and past what decimal(18,2) holds; dates around leap days
and Chinese holidays (Spring Festival, National Day, 调休 working Sundays) and the ends of the
calendar; resident IDs with right and wrong GB 11643 check digits (python-stdnum), credit codes,
junk; case numbers in odd spellings. ``payloads`` replaces some fields of a realistic message;
``any_type`` draws a whole payload of any message type. Records are ``tests.fuzz_records``.
"""

from __future__ import annotations

import copy
import unicodedata
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from courtbus.catalogue.directory import load_directory
from courtbus.gateway.rules import SENDERS
from courtbus.wire.messages import MESSAGE_TYPES
from courtbus.wire.schemas import SchemaSet
from tests.avro_strategies import strategy as avro_strategy
from tests.builders import FIRM_CODE, PERSON_ID, one_per_flow

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
