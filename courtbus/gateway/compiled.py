"""The gateway's fast payload test compiled per message type from its Avro schema.

``rules.payload_ok`` walks a decoded payload generically: every dict and list visited, every
value's type asked, every string searched on its own. The shape of a payload is fixed by its
schema, so the walk can be written out once per message type: only the fields that can hold
text, money, a case number, a court or a debtor are read, all strings of a payload are joined
(a space between them) and searched and NFC-tested once, per kind of field.

The compiled test accepts exactly what ``rules.payload_ok`` accepts:

* records are recognised by their field names, as the generic walk recognises dicts by their
  keys (a decoded record's dict has exactly its schema's fields);
* enum symbols (Avro names, ASCII letters, digits and ``_``) are always clean text, so they
  are not searched; numbers, booleans, bytes and timestamps are not looked at by either;
* joining with a space changes neither test: a space is not a forbidden character, and it is a
  starter that composes with nothing on either side, so NFC treats the parts on its two sides
  independently (the string is NFC exactly when every part is);
* maps, unions of more than one non-null branch, and any record met again inside itself are
  handed to the generic walk at that point.

A payload the compiled test doubts (or that is not shaped like its schema: a ``KeyError`` or
``TypeError`` while reading it) gets the full checks, which name the field, as before.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from courtbus.domain.money import amount_ok
from courtbus.domain.text import _FORBIDDEN, _FORBIDDEN_FREE, FREE_TEXT_FIELDS
from courtbus.gateway.rules import (
    _CASE_FIELDS,
    _COURT_FIELDS,
    _DEBTOR_FIELDS,
    _DEBTOR_REQUIRED,
    Memo,
    _payload_ok,
)

Check = Callable[[dict[str, Any], Mapping[str, str], Memo], bool]
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


def _strings_ok(texts: list[str], free: bool) -> bool:
    joined = " ".join(texts)
    forbidden = _FORBIDDEN_FREE if free else _FORBIDDEN
    return forbidden.search(joined) is None and unicodedata.is_normalized("NFC", joined)


def _any(
    value: Any,
    free: bool,
    designations: Mapping[str, str],
    memo: Memo,
    texts: list[str],
    free_texts: list[str],
) -> bool:
    """One value of a shape the compiler left open, as the generic walk treats an item."""
    if isinstance(value, str):
        (free_texts if free else texts).append(value)
    elif isinstance(value, Decimal):
        return amount_ok(value)
    elif isinstance(value, (dict, list)):
        return _payload_ok(value, free, designations, memo)
    return True


class _Compiler:
    """Writes one message type's test as Python source (see the module's docstring)."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}
        self.lines: list[str] = []
        self._n = 0

    def var(self) -> str:
        self._n += 1
        return f"v{self._n}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def collect(self, schema: Any) -> None:
        """Note every named type defined anywhere in ``schema`` (fastavro defines each once,
        where it first appears, and names it elsewhere)."""
        if isinstance(schema, list):
            for branch in schema:
                self.collect(branch)
        elif isinstance(schema, dict):
            if schema.get("type") in ("record", "enum", "fixed"):
                self.named.setdefault(str(schema["name"]), schema)
            for field in schema.get("fields", ()):
                self.collect(field["type"])
            for part in ("items", "values"):
                if part in schema:
                    self.collect(schema[part])

    def resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            if schema not in self.named:
                raise ValueError(f"named type {schema} is not defined in the schema")
            return self.named[schema]
        return schema

    def inert(self, schema: Any, seen: frozenset[str]) -> bool:
        """True if nothing of this type is looked at by the generic walk."""
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return all(self.inert(s, seen) for s in schema)
        if isinstance(schema, str):
            return schema != "string"
        kind = schema.get("type")
        if kind == "string":
            return False
        if kind in ("bytes", "fixed"):
            return bool(schema.get("logicalType") != "decimal")
        if kind == "enum":
            return True
        if kind == "array":
            return self.inert(schema["items"], seen)
        if kind == "record":
            name = str(schema["name"])
            if name in seen:
                return False
            names = frozenset(str(f["name"]) for f in schema["fields"])
            if _special(names):
                return False
            return all(self.inert(f["type"], seen | {name}) for f in schema["fields"])
        if kind in ("map",):
            return False
        return isinstance(kind, str) and kind in _PRIMITIVES and kind != "string"

    def node(self, schema: Any, expr: str, free: bool, depth: int, seen: frozenset[str]) -> None:
        """Emit the test of the value in variable ``expr``."""
        schema = self.resolve(schema)
        if self.inert(schema, seen):
            return
        texts = "free_texts" if free else "texts"
        if isinstance(schema, list):
            branches = [s for s in schema if s != "null"]
            if len(branches) == 1:
                self.emit(depth, f"if {expr} is not None:")
                self.node(branches[0], expr, free, depth + 1, seen)
            else:
                self.generic(expr, free, depth)
            return
        kind = schema if isinstance(schema, str) else schema.get("type")
        if kind == "string":
            if isinstance(schema, dict) and schema.get("logicalType"):
                self.generic(expr, free, depth)  # a logical string may decode to another type
            else:
                self.emit(depth, f"{texts}.append({expr})")
        elif kind in ("bytes", "fixed"):  # a decimal: the only kind not inert
            self.emit(depth, f"if not amount_ok({expr}):")
            self.emit(depth + 1, "return False")
        elif kind == "array":
            items = self.resolve(schema["items"])
            if items == "string" or (
                isinstance(items, dict)
                and items.get("type") == "string"
                and not items.get("logicalType")
            ):
                self.emit(depth, f"{texts}.extend({expr})")
            else:
                item = self.var()
                self.emit(depth, f"for {item} in {expr}:")
                self.node(items, item, free, depth + 1, seen)
        elif kind == "record":
            self.record(schema, expr, free, depth, seen)
        else:  # a map, or a shape this compiler does not write out
            self.generic(expr, free, depth)

    def generic(self, expr: str, free: bool, depth: int) -> None:
        self.emit(depth, f"if not _any({expr}, {free}, designations, memo, texts, free_texts):")
        self.emit(depth + 1, "return False")

    def record(self, schema: Any, expr: str, free: bool, depth: int, seen: frozenset[str]) -> None:
        name = str(schema["name"])
        if name in seen:  # a recursive type: the generic walk from here
            self.generic(expr, free, depth)
            return
        fields = [(str(f["name"]), f["type"]) for f in schema["fields"]]
        names = frozenset(n for n, _ in fields)
        if names == _CASE_FIELDS:
            parts = ", ".join(
                f"{expr}[{k!r}]" for k in ("year", "court_id", "type_code", "sequence")
            )
            self.emit(depth, f"parts = memo.case_parts({expr}['text'])")
            self.emit(depth, f"if parts is None or parts != ({parts}):")
            self.emit(depth + 1, "return False")
        elif names == _COURT_FIELDS:
            self.emit(depth, f"designation = designations.get(str({expr}['court_id']))")
            self.emit(depth, f"if designation is None or designation != {expr}['designation']:")
            self.emit(depth + 1, "return False")
        elif _DEBTOR_REQUIRED <= names <= _DEBTOR_FIELDS:
            self.emit(depth, f"if not str({expr}['name']).strip() or not memo.debtor_ok({expr}):")
            self.emit(depth + 1, "return False")
        for field, ftype in fields:
            if self.inert(ftype, seen | {name}):
                continue
            value = self.var()
            self.emit(depth, f"{value} = {expr}[{field!r}]")
            self.node(ftype, value, free or field in FREE_TEXT_FIELDS, depth, seen | {name})


def _special(names: frozenset[str]) -> bool:
    return names in (_CASE_FIELDS, _COURT_FIELDS) or _DEBTOR_REQUIRED <= names <= _DEBTOR_FIELDS


def compile_payload_check(schema: Any) -> Check:
    """The fast test for payloads of one record schema (fastavro's parsed form).

    The returned function takes ``(payload, designations, memo)`` like ``rules.payload_ok``
    and returns the same answer; it returns False (the full checks then run) for a payload
    not shaped like the schema.
    """
    compiler = _Compiler()
    compiler.collect(schema)
    compiler.emit(0, "def check(p, designations, memo):")
    compiler.emit(1, "texts = []")
    compiler.emit(1, "free_texts = []")
    compiler.emit(1, "try:")
    compiler.record(compiler.resolve(schema), "p", False, 2, frozenset())
    compiler.emit(1, "except (KeyError, TypeError, AttributeError):")
    compiler.emit(2, "return False")
    compiler.emit(1, "return (not texts or _strings_ok(texts, False)) and (")
    compiler.emit(2, "not free_texts or _strings_ok(free_texts, True))")
    source = "\n".join(compiler.lines)
    scope: dict[str, Any] = {"amount_ok": amount_ok, "_any": _any, "_strings_ok": _strings_ok}
    exec(compile(source, f"<payload check {schema.get('name')}>", "exec"), scope)
    check: Check = scope["check"]
    check.__doc__ = source  # what was compiled, for a reader in a debugger
    return check
