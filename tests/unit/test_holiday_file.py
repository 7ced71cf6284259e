"""The operator's holiday file (COURTBUS_HOLIDAYS): its format, and each mistake's code."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from chinese_calendar import constants as package_data

from courtbus.catalogue.holidays import (
    EXAMPLE_PATH,
    calendar_from_env,
    coverage_warning,
    load_holidays,
    parse_holidays,
    start_report,
)
from courtbus.domain.calendar import HolidayCalendar
from courtbus.errors import ConfigError

# Days of a far year no release covers, made up for the test: no real schedule is invented.
GOOD: dict[str, Any] = {
    "schedules": [
        {
            "year": 2199,
            "source": "a test's schedule",
            "holidays": [date(2199, 1, 1), {"from": date(2199, 2, 1), "to": date(2199, 2, 3)}],
            "workdays": [date(2199, 1, 5)],
        }
    ]
}


def year(**changes: Any) -> dict[str, Any]:
    """GOOD with its one year changed."""
    return {"schedules": [GOOD["schedules"][0] | changes]}


def test_a_file_gives_its_years_days_off_and_worked_weekend_days() -> None:
    (s,) = parse_holidays(GOOD, "test")
    assert s.year == 2199 and s.source == "a test's schedule"
    assert s.holidays == {date(2199, 1, 1), date(2199, 2, 1), date(2199, 2, 2), date(2199, 2, 3)}
    assert s.workdays == {date(2199, 1, 5)}


def test_the_example_reproduces_the_packages_own_2026() -> None:
    """The shipped example is real data (chinesecalendar's 2026), not an invented year."""
    (s,) = load_holidays(EXAMPLE_PATH, allow_example=True).schedules.values()
    assert s.holidays == {d for d in package_data.holidays if d.year == 2026}
    assert s.workdays == {d for d in package_data.workdays if d.year == 2026}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"schedules": "2027"}, "HOLIDAYS_INVALID"),
        ({"years": []}, "HOLIDAYS_INVALID"),
        (year(holidays=["not a date"]), "HOLIDAYS_INVALID"),
        (year(holidays=[]), "HOLIDAYS_INVALID"),
        (year(holidays=[{"from": date(2199, 2, 3), "to": date(2199, 2, 1)}]), "HOLIDAYS_INVALID"),
        (year(workdays=[date(2199, 1, 7)]), "HOLIDAYS_INVALID"),  # a Monday
        (year(source=" "), "HOLIDAYS_SOURCE_MISSING"),
        (
            {"schedules": [{k: v for k, v in GOOD["schedules"][0].items() if k != "source"}]},
            "HOLIDAYS_INVALID",
        ),
        (year(holidays=[date(2198, 12, 31)]), "HOLIDAYS_WRONG_YEAR"),
        (year(workdays=[date(2199, 2, 2)]), "HOLIDAYS_CONFLICT"),  # Saturday, also a holiday
        ({"schedules": GOOD["schedules"] * 2}, "HOLIDAYS_DUPLICATE_YEAR"),
        (GOOD | {"example": True}, "HOLIDAYS_EXAMPLE"),
    ],
)
def test_each_mistake_has_its_code(raw: dict[str, Any], code: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_holidays(raw, "holidays.yaml")
    assert info.value.code == code
    assert str(info.value).startswith(f"{code}: holidays.yaml")
    assert "\n" not in str(info.value)


def test_the_environment_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "schedules:\n  - year: 2199\n    source: a test's schedule\n"
        "    holidays: [2199-01-01, {from: 2199-02-01, to: 2199-02-03}]\n"
        "    workdays: [2199-01-05]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("COURTBUS_HOLIDAYS", str(path))
    assert calendar_from_env().covers(2199)
    monkeypatch.setenv("COURTBUS_HOLIDAYS", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError) as info:
        calendar_from_env()
    assert info.value.code == "HOLIDAYS_FILE_MISSING"
    monkeypatch.delenv("COURTBUS_HOLIDAYS")
    assert not calendar_from_env().covers(2199)


def test_the_start_warning_says_how_to_fix_it() -> None:
    text = coverage_warning(HolidayCalendar(), [2027])
    assert "no data for 2027" in text
    assert "COURTBUS_HOLIDAYS" in text
    assert "国务院办公厅关于2027年部分节假日安排的通知" in text


def test_a_service_warns_at_start_when_the_coming_months_lack_holiday_data() -> None:
    """On 2198-12-06 (as on 2026-12-06 with chinesecalendar 1.11.0) January has no holidays."""
    level, text = start_report(HolidayCalendar(), date(2198, 12, 6))
    assert level == logging.WARNING
    assert "no data for 2198, 2199" in text and "COURTBUS_HOLIDAYS" in text
    level, text = start_report(HolidayCalendar(), date(2026, 6, 1))
    assert level == logging.INFO
    assert text.startswith("holiday calendar: chinesecalendar ")
