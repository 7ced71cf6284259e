"""The gateway's compiled payload test answers as the generic walk does, for every message type.

Payloads are drawn from each schema (hypothesis), with values mixed from valid ones (the
directory's courts, valid case numbers and debtor IDs, clean text, fen amounts) and bad ones
(control and bidirectional characters, text not in NFC, a case number whose parts disagree, a
designation of another court, a bad ID, an amount out of range), so both answers come up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courtbus.catalogue.directory import DEFAULT_PATH, load_directory
from courtbus.gateway.compiled import compile_payload_check
from courtbus.gateway.rules import Memo, payload_ok
from courtbus.wire import values as v
from courtbus.wire.schemas import SchemaSet
from tests.builders import FIRM_CODE, PERSON_ID, one_per_flow

SCHEMAS = SchemaSet.load()
DIRECTORY = load_directory(DEFAULT_PATH)
DESIGNATIONS = {c.id: c.designation for c in DIRECTORY.courts}

TEXT = st.one_of(
    st.sampled_from(["张三", "西安某银行账户存款", "dlg-1", "", " ", "USA", "第一行\n第二行"]),
    st.text(alphabet="ab张\n\t\x00\x1f\x7f\x85\u200e\u202e\u2028e\u0301é", max_size=6),
)
CASES = [
    v.case_number("(2023)苏0583执1234号"),
    v.case_number("(2024)陕01执恢7号"),
    {**v.case_number("(2023)苏0583执1234号"), "sequence": 1235},  # parts disagree
    {**v.case_number("(2023)苏0583执1234号"), "text": "(2023)苏0583执1234号\u202e"},
]
COURTS = [v.court("320583"), v.court("6101"), {"court_id": "320583", "designation": "陕01"}]
DEBTORS = [
    {**v.debtor("PERSON", "张三", PERSON_ID), "id_type": None, "nationality": None},
    {
        **v.debtor("ORGANISATION", "湛江某贸易有限公司", FIRM_CODE),
        "id_type": None,
        "nationality": None,
    },
    {
        "kind": "PERSON",
        "name": "张三",
        "id_number": "320583199303121235",
        "id_type": None,
        "nationality": None,
    },
    {**v.debtor("PERSON", " ", PERSON_ID), "id_type": None, "nationality": None},
]
AMOUNTS = st.sampled_from(
    [Decimal("0.01"), Decimal("120000.00"), Decimal("-5.00"), Decimal("1E+17"), Decimal("NaN")]
)


class _Strategies:
    def __init__(self, schema: Any) -> None:
        self.named: dict[str, Any] = {}
        self._collect(schema)

    def _collect(self, node: Any) -> None:
        if isinstance(node, list):
            for branch in node:
                self._collect(branch)
        elif isinstance(node, dict):
            if node.get("type") in ("record", "enum", "fixed"):
                self.named.setdefault(node["name"], node)
            for f in node.get("fields", ()):
                self._collect(f["type"])
            for part in ("items", "values"):
                if part in node:
                    self._collect(node[part])

    def of(self, node: Any) -> st.SearchStrategy[Any]:
        if isinstance(node, str):
            node = self.named.get(node, {"type": node})
        if isinstance(node, list):
            return st.one_of([self.of(b) for b in node])
        kind = node["type"]
        logical = node.get("logicalType")
        if kind == "null":
            return st.none()
        if kind == "string":
            return TEXT
        if kind in ("int", "long"):
            if logical == "date":
                return st.just(date(2024, 1, 2))
            if logical and logical.startswith("timestamp"):
                return st.just(datetime(2024, 1, 2, tzinfo=UTC))
            return st.integers(-5, 5)
        if kind == "boolean":
            return st.booleans()
        if kind in ("float", "double"):
            return st.just(1.5)
        if kind in ("bytes", "fixed"):
            return AMOUNTS if logical == "decimal" else st.just(b"\x00")
        if kind == "enum":
            return st.sampled_from(node["symbols"])
        if kind == "array":
            return st.lists(self.of(node["items"]), max_size=3)
        if kind == "map":
            return st.dictionaries(TEXT, self.of(node["values"]), max_size=2)
        assert kind == "record", node
        names = {f["name"] for f in node["fields"]}
        fields = {f["name"]: self.of(f["type"]) for f in node["fields"]}
        if names == {"text", "year", "court_id", "type_code", "sequence"}:
            return st.sampled_from(CASES)
        if names == {"court_id", "designation"}:
            return st.sampled_from(COURTS)
        if names == {"kind", "name", "id_number", "id_type", "nationality"}:
            return st.one_of(st.sampled_from(DEBTORS), st.fixed_dictionaries(fields))
        return st.fixed_dictionaries(fields)


MESSAGES = sorted(SCHEMAS.messages)


@pytest.mark.parametrize("name", MESSAGES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_test_agrees_with_the_generic_walk(name: str, data: st.DataObject) -> None:
    schema = SCHEMAS.messages[name].parsed
    check = _compiled(name)
    payload = data.draw(_Strategies(schema).of(schema))
    memo = Memo()
    assert check(payload, DESIGNATIONS, memo) == payload_ok(payload, DESIGNATIONS, Memo())


_CACHE: dict[str, Callable[..., bool]] = {}


def _compiled(name: str) -> Callable[..., bool]:
    if name not in _CACHE:
        _CACHE[name] = compile_payload_check(SCHEMAS.messages[name].parsed)
    return _CACHE[name]


@pytest.mark.parametrize("sample", one_per_flow(), ids=lambda s: s[2].rsplit(".", 1)[1])
def test_samples_pass_and_a_bidi_control_in_any_string_fails(sample: tuple[Any, ...]) -> None:
    """Not vacuous: the valid samples pass, and each of their strings can make them fail."""
    _source, _topic, record, payload = sample
    check = _compiled(record)
    assert check(payload, DESIGNATIONS, Memo()) is True
    paths = list(_string_paths(payload))
    assert paths
    for path in paths:
        bad = _replace(payload, path, lambda s: s + "\u202e")
        assert check(bad, DESIGNATIONS, Memo()) is False, path
        assert payload_ok(bad, DESIGNATIONS, Memo()) is False, path


def test_a_payload_not_shaped_like_its_schema_is_doubted() -> None:
    record, payload = one_per_flow()[0][2], dict(one_per_flow()[0][3])
    del payload["debtor"]
    assert _compiled(record)(payload, DESIGNATIONS, Memo()) is False


def _string_paths(node: Any, path: tuple[Any, ...] = ()) -> Any:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, str) and not value.isupper():  # enum symbols are not text
            yield (*path, key)
        elif isinstance(value, (dict, list)):
            yield from _string_paths(value, (*path, key))


def _replace(node: Any, path: tuple[Any, ...], change: Callable[[str], str]) -> Any:
    if not path:
        return change(node)
    copy: Any = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], change)
    return copy
