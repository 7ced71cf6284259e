"""Periods counted as 民事诉讼法 第八十五条 counts them, on China's holiday calendar."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from courtbus.domain import calendar
from courtbus.domain.calendar import (
    CHINA,
    HolidayCalendar,
    YearSchedule,
    due_after,
    is_rest_day,
    last_day,
    period_end,
    provisional_at,
    reckon,
    reckon_working_days,
    uncovered_years,
)


def china(y: int, m: int, d: int, h: int = 9) -> datetime:
    """A moment in China time, as UTC (how the bus stores it)."""
    return datetime(y, m, d, h, tzinfo=CHINA).astimezone(UTC)


def midnight_after(day: date) -> datetime:
    """00:00 China time of the day after ``day``, as UTC: when a period ending on ``day`` ends."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA).astimezone(UTC) + timedelta(days=1)


def test_calendar_knows_2024_national_day_and_its_adjusted_working_days() -> None:
    assert all(is_rest_day(date(2024, 10, d)) for d in range(1, 8))  # 国庆 10-01..07
    assert not is_rest_day(date(2024, 9, 29))  # a Sunday worked (调休上班)
    assert not is_rest_day(date(2024, 10, 12))  # a Saturday worked (调休上班)
    assert not is_rest_day(date(2024, 10, 8))


def test_a_plain_weekday_period() -> None:
    """Delivered Friday 2024-03-01: day 1 is 03-02, day 4 is Tuesday 03-05, a working day."""
    start = china(2024, 3, 1)
    assert last_day(start, 4) == date(2024, 3, 5)
    assert period_end(start, 4) == midnight_after(date(2024, 3, 5))
    assert period_end(start, 4) == datetime(2024, 3, 5, 16, 0, tzinfo=UTC)


def test_the_delivery_day_is_not_counted_whatever_the_hour() -> None:
    """Delivered at 00:01 or 23:59 China time, the period ends at the same moment."""
    early = datetime(2024, 3, 5, 0, 1, tzinfo=CHINA)
    late = datetime(2024, 3, 5, 23, 59, tzinfo=CHINA)
    assert period_end(early, 1) == period_end(late, 1) == midnight_after(date(2024, 3, 6))


def test_days_are_counted_in_china_time_not_utc() -> None:
    """20:00 UTC on 03-01 is already 04:00 on 03-02 in China: the period counts from 03-02."""
    start = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
    assert last_day(start, 4) == date(2024, 3, 6)


def test_a_last_day_on_a_weekend_moves_to_monday() -> None:
    """15 days from Friday 2024-03-01 is Saturday 03-16: the period ends with Monday 03-18."""
    start = china(2024, 3, 1)
    assert last_day(start, 15) == date(2024, 3, 18)
    assert period_end(start, 15) == midnight_after(date(2024, 3, 18))


@pytest.mark.parametrize("delivered", [16, 17, 18, 19, 20, 21, 22])
def test_a_last_day_in_the_national_day_week_moves_past_it(delivered: int) -> None:
    """Delivered 2024-09-16..22: day 15 falls on 10-01..07 (国庆); the period ends with 10-08."""
    start = china(2024, 9, delivered)
    assert last_day(start, 15) == date(2024, 10, 8)
    assert period_end(start, 15) == datetime(2024, 10, 8, 16, 0, tzinfo=UTC)


def test_an_adjusted_working_weekend_day_is_a_last_day_like_any_working_day() -> None:
    assert last_day(china(2024, 9, 14), 15) == date(2024, 9, 29)  # Sunday, worked
    assert last_day(china(2024, 9, 27), 15) == date(2024, 10, 12)  # Saturday, worked


def test_a_period_ending_before_the_holiday_does_not_move() -> None:
    assert last_day(china(2024, 9, 15), 15) == date(2024, 9, 30)  # Monday before 国庆


def test_whole_days_are_counted_by_law_other_spans_are_offsets() -> None:
    start = china(2024, 9, 16)
    assert due_after(start, timedelta(days=15)) == period_end(start, 15)
    assert due_after(start, timedelta(seconds=8)) == start + timedelta(seconds=8)
    assert due_after(start, timedelta(hours=12)) == start + timedelta(hours=12)


def test_bad_periods_are_refused() -> None:
    with pytest.raises(ValueError):
        last_day(datetime(2024, 3, 1), 1)  # no time zone
    with pytest.raises(ValueError):
        last_day(china(2024, 3, 1), 0)


def test_past_the_calendar_weekends_only_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """2199 is past any release's coverage: no holidays known, weekends still rest days."""
    monkeypatch.setattr(calendar, "_warned", set())
    caplog.set_level(logging.WARNING, logger=calendar.__name__)
    # Thursday 2199-01-03 + 2 = Saturday 01-05 → Monday 01-07
    assert last_day(china(2199, 1, 3), 2) == date(2199, 1, 7)
    # Monday 2198-12-31 + 1 = 2199-01-01, New Year's Day, but unknown to the calendar: not moved
    assert last_day(china(2198, 12, 31), 1) == date(2199, 1, 1)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2199" in warnings[0].getMessage()


@pytest.fixture
def with_calendar() -> Iterator[Callable[[HolidayCalendar], None]]:
    """Install a calendar for one test; the package's own again afterwards."""
    yield calendar.install
    calendar.install(HolidayCalendar())


def test_a_day_period_ending_in_a_year_without_data_is_provisional() -> None:
    """No release knows 2199 (as chinesecalendar 1.11.0 does not know 2027): a deadline in it
    cannot know its holidays, and says so."""
    start = china(2198, 12, 6)
    due = reckon(start, timedelta(days=29))  # day 29 is Friday 2199-01-04
    assert due.at == midnight_after(date(2199, 1, 4))
    assert due.provisional == (
        "provisional: no holiday data for 2199, only weekends counted as rest days"
    )
    assert reckon(china(2026, 12, 6), timedelta(days=15)).provisional is None  # a known year
    assert reckon(china(2199, 3, 1), timedelta(seconds=45)).provisional is None  # plain offset


def test_working_days_into_an_unknown_year_are_provisional() -> None:
    assert reckon_working_days(china(2198, 12, 29), 3).provisional is not None
    assert reckon_working_days(china(2026, 12, 1), 3).provisional is None


def test_a_deadline_shown_later_says_whether_its_last_day_was_known() -> None:
    assert provisional_at(midnight_after(date(2199, 1, 5))) is not None
    # 00:00 on 2027-01-01 China time ends a last day of 2026-12-31: known
    assert provisional_at(midnight_after(date(2026, 12, 31))) is None


def test_an_installed_schedule_supplies_a_year_the_package_lacks(
    with_calendar: Callable[[HolidayCalendar], None],
) -> None:
    """Made-up days of a far year (2199), so no real schedule is invented here."""
    own = YearSchedule(
        2199,
        frozenset({date(2199, 1, 1), date(2199, 1, 2)}),
        frozenset({date(2199, 1, 5)}),
        "a test's schedule",
    )
    with_calendar(HolidayCalendar([own]))
    assert is_rest_day(date(2199, 1, 1))  # Tuesday, a holiday of the schedule
    assert not is_rest_day(date(2199, 1, 5))  # Saturday, worked
    # Monday 2198-12-31 + 1 = Tuesday 2199-01-01, a holiday → Thursday 01-03
    due = reckon(china(2198, 12, 31), timedelta(days=1))
    assert due.at == midnight_after(date(2199, 1, 3))
    assert due.provisional is None
    assert uncovered_years(date(2199, 12, 1)) == [2200]
    assert calendar.current().source(2199) == "a test's schedule"


def test_an_installed_year_replaces_the_packages(
    with_calendar: Callable[[HolidayCalendar], None],
) -> None:
    with_calendar(
        HolidayCalendar(
            [YearSchedule(2024, frozenset({date(2024, 3, 4)}), frozenset(), "a test's schedule")]
        )
    )
    assert is_rest_day(date(2024, 3, 4))
    assert not is_rest_day(date(2024, 10, 1))  # the package's 国庆 is not this year's


def test_coverage_ahead_names_the_missing_next_year() -> None:
    assert uncovered_years(date(2198, 12, 6)) == [2198, 2199]
    assert uncovered_years(date(2026, 6, 1)) == []
