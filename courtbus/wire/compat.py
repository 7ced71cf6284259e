"""Schema evolution checks: FULL_TRANSITIVE compatibility with every released version.

Uses the ``avro`` package's ``ReaderWriterCompatibilityChecker`` (not ``avro-python3``, which is
deprecated). A "released version" is every committed version of a schema (from git, or the
history shipped with the package: ``courtbus.wire.history``), and every version a registry holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from courtbus.errors import SchemaError
from courtbus.wire.schemas import SchemaSet


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One way a new schema breaks an old one."""

    record: str
    against: str  # e.g. "git 1a2b3c4" or "registry version 2"
    direction: str  # "backward" (new reads old) or "forward" (old reads new)
    detail: str

    def __str__(self) -> str:
        return f"{self.record}: not {self.direction}-compatible with {self.against}: {self.detail}"


def _parse(text: str, what: str) -> avro.schema.Schema:
    try:
        return avro.schema.parse(text)
    except (avro.errors.AvroException, ValueError) as exc:
        raise SchemaError(f"{what}: {exc}", code="SCHEMA_INVALID") from exc


def check_full(record: str, new: str, old: str, against: str) -> list[Incompatibility]:
    """Both directions between one new and one old version of a schema."""
    new_s, old_s = _parse(new, f"{record} (current)"), _parse(old, f"{record} ({against})")
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]  # avro ships no annotations here
    problems = []
    for direction, reader, writer in (("backward", new_s, old_s), ("forward", old_s, new_s)):
        result = checker.get_compatibility(reader, writer)
        if result.compatibility is not SchemaCompatibilityType.compatible:
            kinds = ", ".join(sorted(i.value for i in result.incompatibilities))
            where = ", ".join(sorted(result.locations))
            problems.append(Incompatibility(record, against, direction, f"{kinds} at {where}"))
    return problems


def check_against(
    current: SchemaSet, released: Iterable[tuple[str, SchemaSet]]
) -> list[Incompatibility]:
    """Check every current message schema against the same message in each released set."""
    problems: list[Incompatibility] = []
    for label, old in released:
        for name, old_schema in old.messages.items():
            if name not in current.messages:
                problems.append(
                    Incompatibility(name, label, "backward", "message type was removed")
                )
                continue
            problems += check_full(name, current.messages[name].text, old_schema.text, label)
    return problems
