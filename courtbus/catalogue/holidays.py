"""Load the operator's holiday schedules (``COURTBUS_HOLIDAYS``) into the domain's calendar.

``chinesecalendar`` knows the years up to its release; the State Council publishes the next
year's schedule (国务院办公厅关于XXXX年部分节假日安排的通知) around November. Until a package
release has it, an operator copies that notice into a YAML file::

    schedules:
      - year: 2027
        source: 国务院办公厅关于2027年部分节假日安排的通知  # the document, as published
        holidays:                        # every day off, weekend days of a holiday included
          - 2027-01-01                   # one day
          - {from: 2027-01-30, to: 2027-02-05}   # a run of days, both ends included
        workdays: [2027-01-24]           # weekend days worked in exchange (调休上班)

Each year named replaces the package's data for that year. ``courtbus/data/policies/holidays.example.yaml``
shows the format with the package's own 2026 (marked ``example: true``; never loaded unless
named, and then refused). Imports only the domain and the catalogue's file reader.
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pydantic

from courtbus import resources
from courtbus.domain.calendar import HolidayCalendar, YearSchedule, install, uncovered_years
from courtbus.errors import ConfigError
from courtbus.yaml_files import read_yaml

ENV = "COURTBUS_HOLIDAYS"
EXAMPLE_PATH = resources.holiday_example_path()
log = logging.getLogger("courtbus.holidays")


class _Span(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    first: date = pydantic.Field(alias="from")
    last: date = pydantic.Field(alias="to")


class _Year(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    year: int
    source: str
    holidays: list[date | _Span]
    workdays: list[date] = []


class _File(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    example: bool = False
    schedules: list[_Year]


def _days(items: list[date | _Span], where: str) -> list[date]:
    days: list[date] = []
    for item in items:
        if isinstance(item, date):
            days.append(item)
            continue
        if item.last < item.first:
            raise ConfigError(
                f"{where}: the run {item.first}..{item.last} ends before it starts",
                code="HOLIDAYS_INVALID",
            )
        days += [item.first + timedelta(n) for n in range((item.last - item.first).days + 1)]
    return days


def _schedule(raw: _Year, where: str) -> YearSchedule:
    where = f"{where}: {raw.year}"
    if not raw.source.strip():
        raise ConfigError(
            f"{where}: name the document the schedule comes from (source), e.g. "
            f"国务院办公厅关于{raw.year}年部分节假日安排的通知",
            code="HOLIDAYS_SOURCE_MISSING",
        )
    holidays = _days(raw.holidays, where)
    for day in [*holidays, *raw.workdays]:
        if day.year != raw.year:
            raise ConfigError(f"{where}: {day} is not in {raw.year}", code="HOLIDAYS_WRONG_YEAR")
    both = sorted(set(holidays) & set(raw.workdays))
    if both:
        raise ConfigError(
            f"{where}: {both[0]} is both a holiday and a working day", code="HOLIDAYS_CONFLICT"
        )
    weekdays = sorted(d for d in raw.workdays if d.weekday() < 5)
    if weekdays:
        raise ConfigError(
            f"{where}: {weekdays[0]} is a weekday; workdays lists only the weekend days worked "
            "in exchange for a holiday (调休上班)",
            code="HOLIDAYS_INVALID",
        )
    if not holidays:
        raise ConfigError(f"{where}: no holidays listed", code="HOLIDAYS_INVALID")
    return YearSchedule(raw.year, frozenset(holidays), frozenset(raw.workdays), raw.source.strip())


def _first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def parse_holidays(raw: Any, where: str, *, allow_example: bool = False) -> list[YearSchedule]:
    """The schedules of a parsed holiday file.

    Raises:
        ConfigError: ``HOLIDAYS_INVALID`` (shape, a weekday as a 调休 working day, a run that
            ends before it starts, no holidays), ``HOLIDAYS_SOURCE_MISSING``,
            ``HOLIDAYS_WRONG_YEAR``, ``HOLIDAYS_CONFLICT``, ``HOLIDAYS_DUPLICATE_YEAR``, or
            ``HOLIDAYS_EXAMPLE`` for a file marked ``example: true``.
    """
    try:
        parsed = _File.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise ConfigError(f"{where}: {_first_error(exc)}", code="HOLIDAYS_INVALID") from exc
    if parsed.example and not allow_example:
        raise ConfigError(
            f"{where}: an example file (example: true), not a schedule to count deadlines on",
            code="HOLIDAYS_EXAMPLE",
        )
    schedules: dict[int, YearSchedule] = {}
    for item in parsed.schedules:
        if item.year in schedules:
            raise ConfigError(f"{where}: {item.year} twice", code="HOLIDAYS_DUPLICATE_YEAR")
        schedules[item.year] = _schedule(item, where)
    return list(schedules.values())


def load_holidays(path: Path, *, allow_example: bool = False) -> HolidayCalendar:
    """The calendar of ``chinesecalendar`` with the schedules of ``path`` over it.

    Raises:
        ConfigError: ``HOLIDAYS_FILE_MISSING``, ``CONFIG_UNREADABLE``, or as ``parse_holidays``.
    """
    if not path.is_file():
        raise ConfigError(f"{ENV}: no file {path}", code="HOLIDAYS_FILE_MISSING")
    return HolidayCalendar(parse_holidays(read_yaml(path), str(path), allow_example=allow_example))


def calendar_from_env() -> HolidayCalendar:
    """The calendar ``COURTBUS_HOLIDAYS`` asks for (unset: the package's data alone).

    Raises:
        ConfigError: as ``load_holidays``.
    """
    named = os.environ.get(ENV, "").strip()
    return load_holidays(Path(named)) if named else HolidayCalendar()


def install_from_env() -> HolidayCalendar:
    """Install the calendar of ``COURTBUS_HOLIDAYS`` for this process and return it.

    Raises:
        ConfigError: as ``load_holidays``.
    """
    calendar = calendar_from_env()
    install(calendar)
    return calendar


def start_report(calendar: HolidayCalendar, today: date) -> tuple[int, str]:
    """What a service logs once at start about its calendar: a log level and the line.

    A warning when today's year or one within the next 90 days has no holiday data (on
    2026-12-06, January 2027), else the coverage at INFO.
    """
    missing = uncovered_years(today, calendar=calendar)
    if missing:
        return logging.WARNING, coverage_warning(calendar, missing)
    return logging.INFO, f"holiday calendar: {calendar.describe()}"


def coverage_warning(calendar: HolidayCalendar, missing: list[int]) -> str:
    """What a service logs at start when the coming months have no holiday data."""
    years = ", ".join(str(y) for y in missing)
    return (
        f"holiday calendar has no data for {years} ({calendar.describe()}): deadlines whose "
        f"last days fall there count only weekends as rest days and are marked provisional; "
        f"copy the State Council's schedule (国务院办公厅关于{missing[0]}年部分节假日安排的通知) "
        f"into a file and name it in {ENV} (format: README, Holiday calendar), or upgrade "
        f"chinesecalendar once a release has it"
    )
