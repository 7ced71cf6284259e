"""Periods counted as the law counts them, on China's calendar of holidays and working days.

Pure: no I/O. The operator's schedules (``courtbus.catalogue.holidays`` reads them from the
file ``COURTBUS_HOLIDAYS`` names) are handed in with :func:`install` at start-up.

民事诉讼法 (2023 修正) 第八十五条: 期间以时、日、月、年计算。期间开始的时和日，不计算在期间内。
期间届满的最后一日是法定休假日的，以法定休假日后的第一日为期间届满的日期。
民法典 (2020) 第二百零三条 says the same of every period: 期间的最后一日是法定休假日的，以法定休假日结束的
次日为期间的最后一日。期间的最后一日的截止时间为二十四时。

So a period of ``n`` days from a moment ``t`` starts on the day after ``t`` (China time) and
its last day is ``t``'s China date plus ``n`` days; if that day is a rest day (a weekend or a
public holiday, but not a 调休 working weekend day) the last day moves to the next working day.

The deadline (``Deadline.due``) is the first instant after the last day: 00:00 China time of
the following day, in UTC. A step taken at any moment of the last day is in time, and a check
``now >= due`` is overdue only once the whole last day has passed.

Holidays and adjusted working days come from ``chinese_calendar`` (PyPI ``chinesecalendar``),
which covers the years up to its release, and from the schedules the operator installed, which
replace the package's data for the years they name. A year neither covers (the State Council
publishes the next year's schedule around November) counts only weekends as rest days: a
deadline that needed a day of it is *provisional*, and :func:`reckon` and
:func:`reckon_working_days` say so (``Due.provisional``) instead of pretending.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar import constants as package_data

CHINA = ZoneInfo("Asia/Shanghai")
DAY = timedelta(days=1)
PACKAGE = "chinesecalendar"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's public holidays as the State Council set them, from the document named.

    ``holidays``: every day off for a holiday (法定休假日 and the days added around it, weekend
    days included); ``workdays``: the weekend days worked in exchange (调休上班); ``source``: the
    document, e.g. 国务院办公厅关于2027年部分节假日安排的通知.
    """

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str


@dataclass(frozen=True, slots=True)
class Due:
    """A deadline and, when it is provisional, why (``None``: counted on a known calendar)."""

    at: datetime
    provisional: str | None = None


def provisional_reason(years: Iterable[int]) -> str:
    """What a provisional deadline says: which years had no holiday data."""
    listed = ", ".join(str(y) for y in sorted(set(years)))
    return f"provisional: no holiday data for {listed}, only weekends counted as rest days"


class HolidayCalendar:
    """Rest days and working days: the package's data, with installed schedules over it."""

    def __init__(self, schedules: Iterable[YearSchedule] = ()) -> None:
        self.schedules: dict[int, YearSchedule] = {}
        for s in schedules:
            self.schedules[s.year] = s
        years = [d.year for d in package_data.holidays]
        self.package_years = range(min(years), max(years) + 1) if years else range(0)
        self.package_version = str(getattr(chinese_calendar, "__version__", "?"))

    def covers(self, year: int) -> bool:
        """True when the holidays of ``year`` are known (the package's or an installed year)."""
        return year in self.schedules or year in self.package_years

    def source(self, year: int) -> str | None:
        """Where ``year``'s holidays come from (None: nowhere)."""
        if year in self.schedules:
            return self.schedules[year].source
        if year in self.package_years:
            return f"{PACKAGE} {self.package_version}"
        return None

    def is_rest_day(self, day: date) -> bool:
        """True for a weekend or public holiday, False for a working day (调休上班 included).

        A year not covered: weekends only (see :meth:`covers`).
        """
        own = self.schedules.get(day.year)
        if own is not None:
            if day in own.workdays:
                return False
            return day in own.holidays or day.weekday() >= 5
        if day.year in self.package_years:
            if day in package_data.workdays:
                return False
            return day in package_data.holidays or day.weekday() >= 5
        return day.weekday() >= 5

    def describe(self) -> str:
        """One line: which years are covered, from where."""
        own = ", ".join(f"{y} ({s.source})" for y, s in sorted(self.schedules.items()))
        first, last = self.package_years[0], self.package_years[-1]
        text = f"{PACKAGE} {self.package_version} covers {first}-{last}"
        return text + (f"; the operator's schedules add {own}" if own else "")


_calendar = HolidayCalendar()
_warned: set[int] = set()


def install(calendar: HolidayCalendar) -> None:
    """Make ``calendar`` the one every period is counted on (a process does this at start-up)."""
    global _calendar
    _calendar = calendar
    _warned.clear()


def current() -> HolidayCalendar:
    """The calendar periods are counted on."""
    return _calendar


def uncovered_years(
    today: date, ahead: timedelta = timedelta(days=90), calendar: HolidayCalendar | None = None
) -> list[int]:
    """Years from ``today`` to ``today + ahead`` whose holidays ``calendar`` (default: the
    installed one) does not know: what a service warns of at start (a 30-day period started in
    December ends in January)."""
    cal = calendar or _calendar
    return [y for y in range(today.year, (today + ahead).year + 1) if not cal.covers(y)]


def _note_gap(day: date, gaps: set[int]) -> None:
    if _calendar.covers(day.year):
        return
    gaps.add(day.year)
    if day.year not in _warned:
        _warned.add(day.year)
        log.warning(
            "holiday calendar has no data for %d: deadlines needing a day of it count only "
            "weekends as rest days and are marked provisional; set COURTBUS_HOLIDAYS to a file "
            "with the State Council's %d schedule",
            day.year,
            day.year,
        )


def is_rest_day(day: date) -> bool:
    """True for a weekend or public holiday (法定休假日), False for a working day, including a
    weekend day that is worked in exchange for a holiday (调休上班).

    Past the calendar's coverage: weekends only, with a warning logged once per year.
    """
    _note_gap(day, set())
    return _calendar.is_rest_day(day)


def _last_day(start: datetime, days: int, gaps: set[int]) -> date:
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    if days < 1:
        raise ValueError(f"a period of {days} days")
    day = start.astimezone(CHINA).date() + timedelta(days=days)
    _note_gap(day, gaps)
    while _calendar.is_rest_day(day):
        day += DAY
        _note_gap(day, gaps)
    return day


def _midnight_after(day: date, tz: tzinfo | None) -> datetime:
    return datetime.combine(day + DAY, time(0), CHINA).astimezone(tz)


def last_day(start: datetime, days: int) -> date:
    """The last day (China date) of a period of ``days`` days from ``start``: the start day is
    not counted; a last day that is a rest day moves to the next working day.

    Raises:
        ValueError: ``start`` has no time zone, or ``days`` is below 1.
    """
    return _last_day(start, days, set())


def reckon_days(start: datetime, days: int) -> Due:
    """When a period of ``days`` days from ``start`` has run out (UTC), provisional or not:
    00:00 China time of the day after its ``last_day``.

    Raises:
        ValueError: as ``last_day``.
    """
    gaps: set[int] = set()
    end = _midnight_after(_last_day(start, days, gaps), start.tzinfo)
    return Due(end, provisional_reason(gaps) if gaps else None)


def period_end(start: datetime, days: int) -> datetime:
    """When a period of ``days`` days from ``start`` has run out (UTC): 00:00 China time of the
    day after its ``last_day``.

    Raises:
        ValueError: as ``last_day``.
    """
    return reckon_days(start, days).at


def reckon(start: datetime, span: timedelta) -> Due:
    """The end of a period of ``span`` from ``start``, provisional or not.

    A span of whole days is counted in days as the law counts them (``reckon_days``); any other
    span (12h, 30m, 45s: the demo's and the integration tests' shortened deadlines) is a plain
    offset from ``start``, never provisional.
    """
    if span > timedelta(0) and span % DAY == timedelta(0):
        return reckon_days(start, span // DAY)
    return Due(start + span)


def due_after(start: datetime, span: timedelta) -> datetime:
    """The end of a period of ``span`` from ``start`` (``reckon`` without the flag)."""
    return reckon(start, span).at


def reckon_working_days(start: datetime, days: int) -> Due:
    """When ``days`` working days from ``start`` have run out (UTC), provisional or not: the
    start day is not counted; 00:00 China time of the day after the ``days``-th working day.

    What "within three working days" (三个工作日内) means in the SPC's provisions on the
    dishonest-debtor list (删除、更正失信信息); rest days as :func:`is_rest_day`.

    Raises:
        ValueError: ``start`` has no time zone, or ``days`` is below 1.
    """
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    if days < 1:
        raise ValueError(f"{days} working days")
    day = start.astimezone(CHINA).date()
    counted = 0
    gaps: set[int] = set()
    while counted < days:
        day += DAY
        _note_gap(day, gaps)
        if not _calendar.is_rest_day(day):
            counted += 1
    return Due(_midnight_after(day, start.tzinfo), provisional_reason(gaps) if gaps else None)


def working_days_end(start: datetime, days: int) -> datetime:
    """When ``days`` working days from ``start`` have run out (``reckon_working_days``'s time).

    Raises:
        ValueError: as ``reckon_working_days``.
    """
    return reckon_working_days(start, days).at


def provisional_at(due: datetime) -> str | None:
    """Whether a deadline counted in whole days or working days and ending at ``due`` had to
    guess: its last day (the China date before ``due``) lies in a year without holiday data.

    For a deadline shown later than it was counted (a read model's row, an overdue notice),
    on the calendar installed now.
    """
    year = (due.astimezone(CHINA) - timedelta(microseconds=1)).year
    return None if _calendar.covers(year) else provisional_reason([year])


def months_end(start: datetime, months: int) -> datetime:
    """When a period of ``months`` months from ``start`` has run out (UTC).

    民法典 (2020) 第二百零一条 (the start day is not counted), 第二百零二条 (the last day is the
    corresponding day of the last month, or that month's last day when it has none). The end is
    00:00 China time of the day after. The holiday rule is 第二百零三条 (期间的最后一日是法定休假日
    的，以法定休假日结束的次日为期间的最后一日), which :func:`due_after` applies; it is not applied
    here: the period is a time something lasts (a listing), not a time limit to act within. That
    reading of 第二百零三条 is the bus's, not a text's.

    Raises:
        ValueError: ``start`` has no time zone, or ``months`` is below 1.
    """
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    if months < 1:
        raise ValueError(f"a period of {months} months")
    first = start.astimezone(CHINA).date()
    month_index = first.month - 1 + months
    year, month = first.year + month_index // 12, month_index % 12 + 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last = min(first.day, (next_month - DAY).day)
    return datetime.combine(date(year, month, last) + DAY, time(0), CHINA).astimezone(start.tzinfo)
