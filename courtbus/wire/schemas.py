"""The schema set: every ``.avsc`` of a folder (``courtbus/data/schemas/avro/`` ships with the
package), resolved into self-contained schemas.

One file per named type, named ``<fullname>.avsc``; a file refers to another file's type by its
full name. Each message schema is *inlined* (a named type is defined at its first use and
referred to by name after), which is what a registry, fastavro and ``avro`` all accept.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from courtbus.errors import SchemaError
from courtbus.resources import schema_dir

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
DEFAULT_DIR = schema_dir()
JSON = Any  # a JSON value read from an .avsc file


def _fullname(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


@dataclass(frozen=True, slots=True)
class MessageSchema:
    """One message type's schema: inlined JSON text, parsed fastavro form, full name."""

    name: str
    text: str
    parsed: Any  # fastavro's parsed schema

    @property
    def json(self) -> JSON:
        """The inlined schema as JSON data."""
        return json.loads(self.text)


class SchemaSet:
    """All named types of one schema folder, and the message (top-level record) schemas."""

    def __init__(self, definitions: Mapping[str, JSON], source: str = "<memory>") -> None:
        self.source = source
        self.definitions = dict(definitions)
        self._messages: dict[str, MessageSchema] = {}
        referenced = set()
        for definition in self.definitions.values():
            referenced |= self._references(definition, definition.get("namespace"))
        for name, definition in sorted(self.definitions.items()):
            if definition.get("type") == "record" and name not in referenced:
                self._messages[name] = self._build(name)

    @classmethod
    def load(cls, folder: Path = DEFAULT_DIR) -> SchemaSet:
        """Read every ``*.avsc`` of ``folder``.

        Raises:
            SchemaError: ``SCHEMA_FILE_INVALID`` naming the file (bad JSON, name mismatch),
                ``SCHEMA_UNKNOWN_TYPE`` or ``SCHEMA_INVALID``.
        """
        return cls.from_files(
            ((p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.avsc"))),
            source=str(folder),
        )

    @classmethod
    def from_files(cls, files: Iterable[tuple[str, str]], source: str = "<memory>") -> SchemaSet:
        """Build a set from ``(file name, text)`` pairs (a folder, or a git revision's files)."""
        definitions: dict[str, JSON] = {}
        for filename, text in files:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SchemaError(
                    f"{source}/{filename}: not JSON: {exc}", code="SCHEMA_FILE_INVALID"
                ) from exc
            if not isinstance(data, dict) or "name" not in data:
                raise SchemaError(
                    f"{source}/{filename}: must hold one named type", code="SCHEMA_FILE_INVALID"
                )
            name = _fullname(data["name"], data.get("namespace"))
            if filename != f"{name}.avsc":
                raise SchemaError(
                    f"{source}/{filename}: defines {name}; the file must be named {name}.avsc",
                    code="SCHEMA_FILE_INVALID",
                )
            definitions[name] = data
        return cls(definitions, source)

    @classmethod
    def from_messages(cls, messages: Mapping[str, str], source: str = "<memory>") -> SchemaSet:
        """A set of already-inlined message schemas (e.g. versions fetched from a registry).

        Raises:
            SchemaError: ``SCHEMA_INVALID`` if one does not parse.
        """
        made = cls({}, source)
        for name, text in messages.items():
            try:
                parsed = fastavro.parse_schema(json.loads(text))
            except Exception as exc:  # fastavro and json raise several types
                raise SchemaError(f"{source}: {name}: {exc}", code="SCHEMA_INVALID") from exc
            made._messages[name] = MessageSchema(name, text, parsed)
        return made

    @property
    def messages(self) -> dict[str, MessageSchema]:
        """Top-level records (not used inside another type), by full name."""
        return dict(self._messages)

    def message(self, name: str) -> MessageSchema:
        """One message schema by full name.

        Raises:
            SchemaError: ``SCHEMA_UNKNOWN_TYPE``.
        """
        try:
            return self._messages[name]
        except KeyError:
            raise SchemaError(
                f"no message schema {name!r} in {self.source}", code="SCHEMA_UNKNOWN_TYPE"
            ) from None

    def _references(self, node: JSON, namespace: str | None) -> set[str]:
        """Full names of the named types a definition refers to by name."""
        found: set[str] = set()
        if isinstance(node, str):
            if node not in PRIMITIVES:
                found.add(_fullname(node, namespace))
        elif isinstance(node, list):
            for item in node:
                found |= self._references(item, namespace)
        elif isinstance(node, dict):
            inner_ns = node.get("namespace", namespace)
            if "name" in node and "." in node["name"]:
                inner_ns = node["name"].rsplit(".", 1)[0]
            kind = node.get("type")
            if kind == "record":
                for fld in node.get("fields", []):
                    found |= self._references(fld["type"], inner_ns)
            elif kind == "array":
                found |= self._references(node["items"], namespace)
            elif kind == "map":
                found |= self._references(node["values"], namespace)
            elif kind not in ("enum", "fixed") and kind is not None:
                found |= self._references(kind, namespace)
        return found

    def _build(self, name: str) -> MessageSchema:
        defined: set[str] = set()
        inlined = self._inline(name, None, defined, source_name=name)
        text = json.dumps(inlined, ensure_ascii=False, separators=(",", ":"))
        try:
            parsed = fastavro.parse_schema(json.loads(text))
        except Exception as exc:  # fastavro raises several types for bad schemas
            raise SchemaError(f"{self.source}: {name}: {exc}", code="SCHEMA_INVALID") from exc
        return MessageSchema(name, text, parsed)

    def _inline(
        self, node: JSON, namespace: str | None, defined: set[str], source_name: str
    ) -> JSON:
        if isinstance(node, str):
            if node in PRIMITIVES:
                return node
            full = _fullname(node, namespace)
            if full in defined:
                return full
            if full not in self.definitions:
                raise SchemaError(
                    f"{self.source}: {source_name} refers to unknown type {full!r}",
                    code="SCHEMA_UNKNOWN_TYPE",
                )
            definition = copy.deepcopy(self.definitions[full])
            return self._inline_named(definition, defined, source_name)
        if isinstance(node, list):
            return [self._inline(item, namespace, defined, source_name) for item in node]
        if isinstance(node, dict):
            kind = node.get("type")
            if kind in ("record", "enum", "fixed"):
                node = copy.deepcopy(node)
                if namespace:
                    node.setdefault("namespace", namespace)
                return self._inline_named(node, defined, source_name)
            node = dict(node)
            if kind == "array":
                node["items"] = self._inline(node["items"], namespace, defined, source_name)
            elif kind == "map":
                node["values"] = self._inline(node["values"], namespace, defined, source_name)
            elif isinstance(kind, str | list | dict) and kind not in PRIMITIVES:
                node["type"] = self._inline(kind, namespace, defined, source_name)
            return node
        raise SchemaError(f"{self.source}: {source_name}: bad type {node!r}", code="SCHEMA_INVALID")

    def _inline_named(self, node: dict[str, JSON], defined: set[str], source_name: str) -> JSON:
        full = _fullname(node["name"], node.pop("namespace", None))
        defined.add(full)
        node["name"] = full
        namespace = full.rsplit(".", 1)[0] if "." in full else None
        if node["type"] == "record":
            node["fields"] = [
                {**fld, "type": self._inline(fld["type"], namespace, defined, source_name)}
                for fld in node["fields"]
            ]
        return node
