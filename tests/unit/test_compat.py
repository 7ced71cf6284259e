"""FULL_TRANSITIVE checks with the avro checker, against sets (the history: test_schema_history)."""

from __future__ import annotations

import json

from courtbus.wire.compat import check_against, check_full
from courtbus.wire.schemas import SchemaSet

BASE = {"type": "record", "name": "A", "namespace": "t", "fields": [{"name": "x", "type": "int"}]}


def _with(*fields: dict[str, object]) -> str:
    return json.dumps({**BASE, "fields": [*BASE["fields"], *fields]})  # type: ignore[list-item]


def test_adding_an_optional_field_with_default_is_fully_compatible() -> None:
    assert (
        check_full(
            "t.A",
            _with({"name": "y", "type": ["null", "string"], "default": None}),
            json.dumps(BASE),
            "v1",
        )
        == []
    )


def test_adding_a_required_field_breaks_backward_compatibility() -> None:
    problems = check_full("t.A", _with({"name": "y", "type": "string"}), json.dumps(BASE), "v1")
    assert [p.direction for p in problems] == ["backward"]
    assert "reader_field_missing_default_value" in problems[0].detail


def test_removing_a_field_without_default_breaks_forward_compatibility() -> None:
    old = _with({"name": "y", "type": "string"})
    problems = check_full("t.A", json.dumps(BASE), old, "v1")
    assert [p.direction for p in problems] == ["forward"]


def test_removed_message_type_is_reported() -> None:
    old = SchemaSet.from_files([("t.A.avsc", json.dumps(BASE))])
    now = SchemaSet.from_files([])
    assert "removed" in str(check_against(now, [("v1", old)])[0])
