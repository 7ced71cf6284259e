"""The read model's upsert of a view record: the row replaced in place, its child rows
replaced whole. Shared by the writers of the blacklist, restriction and distribution views."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from courtbus.store.models import Base


def put_row(
    session: Session, model: type[Base], found: Base | None, values: Mapping[str, Any]
) -> None:
    """Add ``values`` as a new ``model`` row, or write them over ``found``."""
    if found is None:
        session.add(model(**values))
        return
    for name, value in values.items():
        setattr(found, name, value)


def clear_children(session: Session, tables: Iterable[type[Base]], column: str, key: str) -> None:
    """Delete the rows of ``tables`` whose ``column`` is ``key`` (before they are written anew)."""
    for table in tables:
        session.execute(delete(table).where(getattr(table, column) == key))
    session.flush()


def pick(item: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The fields ``names`` of a decoded record, for the columns of the same names."""
    return {name: item[name] for name in names}
