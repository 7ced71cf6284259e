"""A reader's region over the read model: the courts a coordination centre may see.

A region is every court (``Region()``, the SPC's), or the courts whose id starts with one of
``provinces`` (the 2-digit division codes of GB/T 2260: ``"32"`` is Jiangsu), and/or the
courts named in ``courts`` (a group of the directory). It filters in SQL, so a province's page of
an 8.6 M-entry list is read without loading the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.orm import InstrumentedAttribute


@dataclass(frozen=True, slots=True)
class Region:
    """Courts by province prefix and/or by id; both None: every court."""

    provinces: tuple[str, ...] | None = None
    courts: tuple[str, ...] | None = None

    @property
    def everywhere(self) -> bool:
        """True for the SPC's region: no filter."""
        return self.provinces is None and self.courts is None

    def contains(self, court: str | None) -> bool:
        """Whether ``court`` (a court id; None: no court) is in the region."""
        if self.everywhere:
            return True
        if court is None:
            return False
        return court in (self.courts or ()) or court.startswith(tuple(self.provinces or ()))

    def clause(self, *columns: InstrumentedAttribute[Any]) -> ColumnElement[bool] | None:
        """A SQL condition true when any of ``columns`` holds a court of the region (None:
        every court, no condition)."""
        if self.everywhere:
            return None
        terms: list[ColumnElement[bool]] = []
        for column in columns:
            terms += [column.like(f"{p}%") for p in self.provinces or ()]
            if self.courts:
                terms.append(column.in_(self.courts))
        return or_(*terms) if terms else false()

    def topic_clause(self, column: InstrumentedAttribute[str]) -> ColumnElement[bool] | None:
        """A SQL condition true when ``column`` names a region's court's topic
        (``court.<id>.…``); None: every topic."""
        if self.everywhere:
            return None
        terms = [column.like(f"court.{p}%") for p in self.provinces or ()]
        terms += [column.like(f"court.{c}.%") for c in self.courts or ()]
        return or_(*terms) if terms else false()
