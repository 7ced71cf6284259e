"""The distribution service's periods from the environment: the law's by default, shortened for
a demo or a test by ``COURTBUS_DISTRIBUTION_<PERIOD>_SECONDS``. Imports only the domain and the
environment's parser (``courtbus.config.positive_seconds``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

from courtbus.config import positive_seconds
from courtbus.domain import distribution_plan as dp

# Periods field -> what it is (for the variable's documentation)
NAMES = {
    "objection": "15 days to object to the plan (民诉法解释 (2022 修正) 第五百零九条)",
    "opposition": "15 days to oppose an objection (第五百一十条)",
    "suit": "15 days to sue after an opposition (第五百一十条)",
    "bankruptcy_answer": "30 days for the bankruptcy court's answer (第五百一十二条)",
    "handover_wait": "60 days from the first seal before a hand-over may be asked (法释〔2016〕6号)",
    "handover": "15 days to hand the disposal over (法释〔2016〕6号 (version unverified) 第二条)",
}


def variable(name: str) -> str:
    """The environment variable of a ``Periods`` field."""
    return f"COURTBUS_DISTRIBUTION_{name.upper()}_SECONDS"


def periods_from_env(env: Mapping[str, str] | None = None) -> dp.Periods:
    """``dp.PERIODS`` with each period a variable sets replaced (seconds; a span that is not a
    whole number of days is a plain offset, not counted as the law counts days).

    Raises:
        ConfigError: ``DISTRIBUTION_PERIOD_INVALID`` for a value that is not a positive
            number.
    """
    found = {
        f.name: positive_seconds(
            variable(f.name),
            getattr(dp.PERIODS, f.name),
            code="DISTRIBUTION_PERIOD_INVALID",
            env=env,
        )
        for f in fields(dp.Periods)
    }
    return dp.Periods(**found)
