"""Spans of time from the environment (``courtbus.config.positive_seconds``): the default when
unset or blank, the span otherwise, and a bad value refused as a ``ConfigError`` that names the
variable and the value, for each service that reads one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from courtbus.catalogue.directory import load_directory
from courtbus.config import positive_seconds
from courtbus.errors import ConfigError
from courtbus.runtime.harness import memory_envelope
from services.blacklist.flow import BlacklistFlow
from services.distribution.periods import periods_from_env
from services.gateway.flow import GatewayFlow
from services.restriction.flow import ack_deadline_from_env, progress_from_env
from services.watchdog.flow import graces_from_env
from tests.unit.flows.delegation_kit import make_harness

DEFAULT = timedelta(hours=1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, DEFAULT),
        ("", DEFAULT),
        ("  ", DEFAULT),
        ("12", timedelta(seconds=12)),
        ("0.5", timedelta(milliseconds=500)),
        ("1e3", timedelta(seconds=1000)),
    ],
)
def test_a_span_or_the_default(raw: str | None, expected: timedelta) -> None:
    env = {} if raw is None else {"X_SECONDS": raw}
    assert positive_seconds("X_SECONDS", DEFAULT, env=env) == expected


@pytest.mark.parametrize("raw", ["0", "-3", "soon", "nan", "inf", "-inf", "1e30", "0.0000001"])
def test_a_bad_value_is_a_config_error_naming_the_variable_and_the_value(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        positive_seconds("X_SECONDS", DEFAULT, code="X_INVALID", env={"X_SECONDS": raw})
    assert info.value.code == "X_INVALID"
    assert info.value.reason == f"X_SECONDS must be a positive number of seconds, not {raw!r}"


def test_days_and_zero_where_allowed() -> None:
    env = {"D_DAYS": "1.5", "Z": "0", "N": "-1"}
    assert positive_seconds("D_DAYS", DEFAULT, unit="days", env=env) == timedelta(hours=36)
    assert positive_seconds("Z", DEFAULT, zero=True, env=env) == timedelta(0)
    with pytest.raises(ConfigError) as info:
        positive_seconds("N", DEFAULT, zero=True, env=env)
    assert info.value.code == "CONFIG_INVALID"
    assert info.value.reason == "N must be a number ≥ 0 of seconds, not '-1'"


def _gateway() -> object:
    return GatewayFlow(memory_envelope())


def _blacklist() -> object:
    return BlacklistFlow(memory_envelope(), load_directory())


@pytest.mark.parametrize(
    ("variable", "code", "read"),
    [
        ("COURTBUS_RESTRICTION_ACK_SECONDS", "RESTRICTION_CONFIG_INVALID", ack_deadline_from_env),
        ("COURTBUS_RESTRICTION_PROGRESS_SECONDS", "RESTRICTION_CONFIG_INVALID", progress_from_env),
        ("COURTBUS_WATCHDOG_REPEAT_SECONDS", "WATCHDOG_GRACE_INVALID", graces_from_env),
        ("COURTBUS_DISTRIBUTION_SUIT_SECONDS", "DISTRIBUTION_PERIOD_INVALID", periods_from_env),
        ("COURTBUS_DEDUP_DAYS", "CONFIG_INVALID", _gateway),
        ("COURTBUS_RETRY_WINDOW_S", "SIGNATURES_INVALID", _gateway),
        ("COURTBUS_DELEGATION_RETENTION_DAYS", "CONFIG_INVALID", make_harness),
        ("COURTBUS_BLACKLIST_GRACE_SECONDS", "CONFIG_INVALID", _blacklist),
    ],
)
def test_each_service_refuses_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, code: str, read: Callable[[], object]
) -> None:
    monkeypatch.setenv(variable, "soon")
    with pytest.raises(ConfigError) as info:
        read()
    assert (
        info.value.code == code and variable in info.value.reason and "'soon'" in info.value.reason
    )
