"""Hypothesis strategies that generate valid payloads for any Avro schema (JSON form)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _millis() -> st.SearchStrategy[datetime]:
    return st.integers(0, 4_102_444_800_000).map(lambda ms: _EPOCH + timedelta(milliseconds=ms))


def _decimal(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    bound = 10**precision - 1
    return st.integers(-bound, bound).map(lambda n: Decimal(n).scaleb(-scale))


def strategy(schema: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """A strategy for values of ``schema`` (inlined JSON as ``SchemaSet`` produces)."""
    named = {} if named is None else named
    if isinstance(schema, str):
        primitive = {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1),
            "float": st.floats(width=32, allow_nan=False),
            "double": st.floats(allow_nan=False),
            "bytes": st.binary(max_size=64),
            "string": st.text(max_size=40),
        }
        if schema in primitive:
            return primitive[schema]
        return st.deferred(lambda: strategy(named[schema], named))
    if isinstance(schema, list):
        return st.one_of([strategy(branch, named) for branch in schema])
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        return _millis()
    if logical == "date":
        return st.dates(date(1970, 1, 1), date(2100, 12, 31))
    if logical == "decimal":
        if kind == "fixed":
            named[schema["name"]] = schema
        return _decimal(schema["precision"], schema.get("scale", 0))
    if kind == "record":
        named[schema["name"]] = schema
        fields = {f["name"]: strategy(f["type"], named) for f in schema["fields"]}
        return st.fixed_dictionaries(fields)
    if kind == "enum":
        named[schema["name"]] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "fixed":
        named[schema["name"]] = schema
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "array":
        return st.lists(strategy(schema["items"], named), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), strategy(schema["values"], named), max_size=4)
    return strategy(kind, named)
