"""Periods counted as the law counts them, on China's calendar of holidays and working days.

民事诉讼法 (2023 修正) 第八十五条: 期间以时、日、月、年计算。期间开始的时和日，不计算在期间内。
期间届满的最后一日是法定休假日的，以法定休假日后的第一日为期间届满的日期。

So a period of ``n`` days from a moment ``t`` starts on the day after ``t`` (China time) and
its last day is ``t``'s China date plus ``n`` days; if that day is a rest day (a weekend or a
public holiday, but not a 调休 working weekend day) the last day moves to the next working day.

The deadline (``Deadline.due``) is the first instant after the last day: 00:00 China time of
the following day, in UTC. A step taken at any moment of the last day is in time, and a check
``now >= due`` is overdue only once the whole last day has passed.

Holidays and adjusted working days come from ``chinese_calendar`` (PyPI ``chinesecalendar``),
which covers the years up to its release. A date past its coverage falls back to weekends
only (a holiday that year is not known), with a warning logged once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

CHINA = ZoneInfo("Asia/Shanghai")
DAY = timedelta(days=1)

log = logging.getLogger(__name__)
_warned = False


def _uncovered(day: date, exc: NotImplementedError) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "holiday calendar has no data for %d (%s): deadlines that year count only weekends "
            "as rest days; upgrade chinesecalendar",
            day.year,
            exc,
        )


def is_rest_day(day: date) -> bool:
    """True for a weekend or public holiday (法定休假日), False for a working day, including a
    weekend day that is worked in exchange for a holiday (调休上班).

    Past the calendar's coverage: weekends only, with a warning logged once.
    """
    try:
        return bool(chinese_calendar.is_holiday(day))
    except NotImplementedError as exc:
        _uncovered(day, exc)
        return day.weekday() >= 5


def last_day(start: datetime, days: int) -> date:
    """The last day (China date) of a period of ``days`` days from ``start``: the start day is
    not counted; a last day that is a rest day moves to the next working day.

    Raises:
        ValueError: ``start`` has no time zone, or ``days`` is below 1.
    """
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    if days < 1:
        raise ValueError(f"a period of {days} days")
    day = start.astimezone(CHINA).date() + timedelta(days=days)
    while is_rest_day(day):
        day += DAY
    return day


def period_end(start: datetime, days: int) -> datetime:
    """When a period of ``days`` days from ``start`` has run out (UTC): 00:00 China time of the
    day after its ``last_day``.

    Raises:
        ValueError: as ``last_day``.
    """
    after = last_day(start, days) + DAY
    return datetime.combine(after, time(0), CHINA).astimezone(start.tzinfo)


def due_after(start: datetime, span: timedelta) -> datetime:
    """The end of a period of ``span`` from ``start``.

    A span of whole days is counted in days as the law counts them (``period_end``); any other
    span (12h, 30m, 45s: the demo's and the integration tests' shortened deadlines) is a plain
    offset from ``start``.
    """
    if span > timedelta(0) and span % DAY == timedelta(0):
        return period_end(start, span // DAY)
    return start + span


def working_days_end(start: datetime, days: int) -> datetime:
    """When ``days`` working days from ``start`` have run out (UTC): the start day is not
    counted; 00:00 China time of the day after the ``days``-th working day after it.

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
    while counted < days:
        day += DAY
        if not is_rest_day(day):
            counted += 1
    return datetime.combine(day + DAY, time(0), CHINA).astimezone(start.tzinfo)


def months_end(start: datetime, months: int) -> datetime:
    """When a period of ``months`` months from ``start`` has run out (UTC).

    民法典 第二百零一条、第二百零二条: the start day is not counted; the last day is the
    corresponding day of the last month, or that month's last day when it has none. The end is
    00:00 China time of the day after. No move past a rest day: the period is a time something
    lasts (a listing), not a time limit to act within.

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
