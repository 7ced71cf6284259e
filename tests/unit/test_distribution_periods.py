"""The distribution service's periods from the environment (``COURTBUS_DISTRIBUTION_*_SECONDS``):
the law's by default, shortened where a variable says, refused (a ``ConfigError``) when not a
positive number."""

from __future__ import annotations

from datetime import timedelta

import pytest

from courtbus.domain import distribution_plan as dp
from courtbus.errors import ConfigError
from services.distribution.periods import periods_from_env


def test_the_law_s_periods_by_default() -> None:
    assert periods_from_env({}) == dp.PERIODS == dp.Periods()
    assert dp.PERIODS.handover_wait == timedelta(days=60)


def test_a_variable_shortens_its_period_only() -> None:
    periods = periods_from_env(
        {
            "COURTBUS_DISTRIBUTION_OBJECTION_SECONDS": "12",
            "COURTBUS_DISTRIBUTION_HANDOVER_WAIT_SECONDS": "0.5",
        }
    )
    assert periods.objection == timedelta(seconds=12)
    assert periods.handover_wait == timedelta(milliseconds=500)
    assert periods.opposition == timedelta(days=15) and periods.handover == timedelta(days=15)


@pytest.mark.parametrize("raw", ["0", "-3", "soon", "nan", "inf", "1e30", "0.0000001"])
def test_a_bad_value_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        periods_from_env({"COURTBUS_DISTRIBUTION_SUIT_SECONDS": raw})
    assert info.value.code == "DISTRIBUTION_PERIOD_INVALID"
