"""A payload as JSON carries it (RFC 3339 times, ISO dates, decimal strings) turned into the
values the Avro codec takes, by the message's schema: for systems that post JSON (the REST
API). Values of the wrong kind are left as they are, for the codec to refuse with its code.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def from_json(schema: Any, value: Any, names: dict[str, Any] | None = None) -> Any:
    """``value`` (parsed JSON) as the Avro ``schema`` (fastavro-parsed) wants it."""
    names = {} if names is None else names
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return value
        return from_json(names.get(schema, "string"), value, names)
    if isinstance(schema, list):  # a union: null for None, else the first branch that fits
        if value is None:
            return None
        for branch in schema:
            if branch == "null":
                continue
            converted = from_json(branch, value, names)
            if _fits(branch, converted, names):
                return converted
        return value
    kind = schema.get("type")
    if kind in ("record", "error", "enum", "fixed"):
        names[schema["name"]] = schema
    if kind == "record" and isinstance(value, dict):
        fields = {f["name"]: f["type"] for f in schema["fields"]}
        return {k: from_json(fields[k], v, names) if k in fields else v for k, v in value.items()}
    if kind == "array" and isinstance(value, list):
        return [from_json(schema["items"], v, names) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: from_json(schema["values"], v, names) for k, v in value.items()}
    return _logical(schema.get("logicalType"), value)


def _logical(logical: Any, value: Any) -> Any:
    try:
        if logical in ("timestamp-millis", "timestamp-micros") and isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        if logical == "date" and isinstance(value, str):
            return date.fromisoformat(value)
        if logical == "decimal" and isinstance(value, str | int | float):
            return Decimal(str(value))
    except (ValueError, InvalidOperation):
        return value
    return value


def _fits(schema: Any, value: Any, names: dict[str, Any]) -> bool:
    """A rough check that ``value`` belongs to a union's branch (to pick among branches)."""
    if isinstance(schema, str):
        if schema in names:
            return _fits(names[schema], value, names)
        return {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "long": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float),
            "double": isinstance(value, int | float),
            "bytes": isinstance(value, bytes | str),
        }.get(schema, True)
    kind = schema.get("type")
    logical = schema.get("logicalType")
    if logical in ("timestamp-millis", "timestamp-micros"):
        return isinstance(value, datetime | int)
    if logical == "date":
        return isinstance(value, date | int)
    if logical == "decimal":
        return isinstance(value, Decimal)
    if kind == "record":
        return isinstance(value, dict)
    if kind == "enum":
        return isinstance(value, str) and value in schema.get("symbols", ())
    if kind == "array":
        return isinstance(value, list)
    if kind == "map":
        return isinstance(value, dict)
    return _fits(kind, value, names) if isinstance(kind, str) else True
