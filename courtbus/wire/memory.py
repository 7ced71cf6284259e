"""An in-memory schema source: for the flow harness and pure unit tests, never for services."""

from __future__ import annotations

from courtbus.errors import SchemaError


class MemoryRegistry:
    """A schema source that hands out ids from a dict, like a registry would."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.ids: dict[tuple[str, str], int] = {}

    def register(self, subject: str, schema: str) -> int:
        key = (subject, schema)
        if key not in self.ids:
            self.ids[key] = len(self.ids) + 1
            self.by_id[self.ids[key]] = schema
        return self.ids[key]

    def lookup(self, subject: str, schema: str) -> int:
        if (subject, schema) not in self.ids:
            raise SchemaError(f"{subject} not registered", code="SCHEMA_NOT_REGISTERED")
        return self.ids[(subject, schema)]

    def schema_by_id(self, schema_id: int) -> str:
        if schema_id not in self.by_id:
            raise SchemaError(f"no schema with id {schema_id}", code="SCHEMA_ID_UNKNOWN")
        return self.by_id[schema_id]
