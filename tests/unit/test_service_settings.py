"""Each service's settings from the environment (``courtbus.settings``, ``services/*/settings``):
the default when a variable is unset or blank, the value otherwise, a bad value refused as one
``ConfigError`` naming the variable and the value with the service's code, every variable
named in its class's docstring, and no flow reading the environment itself."""

from __future__ import annotations

import ast
import importlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from courtbus.config import Connection
from courtbus.domain import distribution_plan as dp
from courtbus.errors import ConfigError
from courtbus.runtime.config import RuntimeSettings, WorkerConfig
from courtbus.settings import Days, EnvSettings, Seconds, SecondsOrZero
from services.blacklist.flow import DEFAULT_GRACE as BLACKLIST_GRACE
from services.blacklist.settings import BlacklistSettings
from services.delegation.settings import DelegationSettings
from services.distribution.settings import DistributionSettings
from services.gateway.settings import GatewaySettings
from services.projector.settings import ProjectorSettings
from services.restriction.settings import RestrictionSettings
from services.settings import ServiceSettings
from services.watchdog.settings import WatchdogSettings
from services.web.settings import WebSettings

SERVICES = Path(__file__).resolve().parents[2] / "services"
ALL: list[type[EnvSettings]] = [
    ServiceSettings,
    GatewaySettings,
    DelegationSettings,
    BlacklistSettings,
    RestrictionSettings,
    WatchdogSettings,
    DistributionSettings,
    ProjectorSettings,
    WebSettings,
]
DEFAULT = timedelta(hours=1)


class Spans(EnvSettings):
    x_seconds: Seconds = DEFAULT
    z_seconds: SecondsOrZero = DEFAULT
    d_days: Days = DEFAULT


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """No COURTBUS_ variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("COURTBUS_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", DEFAULT),
        ("  ", DEFAULT),
        ("12", timedelta(seconds=12)),
        ("0.5", timedelta(milliseconds=500)),
        ("1e3", timedelta(seconds=1000)),
    ],
)
def test_a_span_or_the_default(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: timedelta
) -> None:
    monkeypatch.setenv("COURTBUS_X_SECONDS", raw)
    assert Spans.load().x_seconds == expected


@pytest.mark.parametrize("raw", ["0", "-3", "soon", "nan", "inf", "-inf", "1e30", "0.0000001"])
def test_a_bad_span_is_a_config_error_naming_the_variable_and_the_value(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("COURTBUS_X_SECONDS", raw)
    with pytest.raises(ConfigError) as info:
        Spans.load()
    assert info.value.code == "CONFIG_INVALID"
    assert info.value.reason == f"COURTBUS_X_SECONDS={raw!r}: must be a positive number of seconds"


def test_days_and_zero_where_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTBUS_D_DAYS", "1.5")
    monkeypatch.setenv("COURTBUS_Z_SECONDS", "0")
    spans = Spans.load()
    assert spans.d_days == timedelta(hours=36) and spans.z_seconds == timedelta(0)
    monkeypatch.setenv("COURTBUS_Z_SECONDS", "-1")
    monkeypatch.setenv("COURTBUS_D_DAYS", "x")
    with pytest.raises(ConfigError) as info:
        Spans.load()
    assert info.value.reason == (  # in the order of the fields
        "COURTBUS_Z_SECONDS='-1': must be a number ≥ 0 of seconds; "
        "COURTBUS_D_DAYS='x': must be a positive number of days"
    )


def test_settings_are_frozen() -> None:
    settings = BlacklistSettings.load()
    with pytest.raises(ValueError, match="frozen"):
        settings.blacklist_grace_seconds = timedelta(0)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settings", "variable", "code"),
    [
        (RestrictionSettings, "COURTBUS_RESTRICTION_ACK_SECONDS", "RESTRICTION_CONFIG_INVALID"),
        (
            RestrictionSettings,
            "COURTBUS_RESTRICTION_PROGRESS_SECONDS",
            "RESTRICTION_CONFIG_INVALID",
        ),
        (WatchdogSettings, "COURTBUS_WATCHDOG_REPEAT_SECONDS", "WATCHDOG_GRACE_INVALID"),
        (DistributionSettings, "COURTBUS_DISTRIBUTION_SUIT_SECONDS", "DISTRIBUTION_PERIOD_INVALID"),
        (GatewaySettings, "COURTBUS_DEDUP_DAYS", "CONFIG_INVALID"),
        (GatewaySettings, "COURTBUS_RETRY_WINDOW_S", "SIGNATURES_INVALID"),
        (GatewaySettings, "COURTBUS_SIGNATURES", "SIGNATURES_INVALID"),
        (GatewaySettings, "COURTBUS_SIGNATURE_MAX_AGE_H", "SIGNATURES_INVALID"),
        (GatewaySettings, "COURTBUS_SIGNATURE_HELPERS", "SIGNATURES_INVALID"),
        (GatewaySettings, "COURTBUS_EVENT_IDS", "CONFIG_INVALID"),
        (DelegationSettings, "COURTBUS_DELEGATION_RETENTION_DAYS", "CONFIG_INVALID"),
        (BlacklistSettings, "COURTBUS_BLACKLIST_GRACE_SECONDS", "CONFIG_INVALID"),
        (BlacklistSettings, "COURTBUS_CONNECT_WAIT_S", "CONNECT_WAIT_INVALID"),
        (BlacklistSettings, "COURTBUS_METRICS_PORT", "METRICS_PORT_INVALID"),
        (BlacklistSettings, "COURTBUS_TICK_SECONDS", "RUNTIME_CONFIG_INVALID"),
        (WatchdogSettings, "COURTBUS_MAX_RECORDS", "RUNTIME_CONFIG_INVALID"),
        (WebSettings, "COURTBUS_WEB_PORT", "WEB_PORT_INVALID"),
    ],
)
def test_each_service_refuses_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, settings: type[EnvSettings], variable: str, code: str
) -> None:
    monkeypatch.setenv(variable, "soon")
    with pytest.raises(ConfigError) as info:
        settings.load()
    assert info.value.code == code
    assert info.value.reason.startswith(f"{variable}='soon': ")


@pytest.mark.parametrize("settings", ALL, ids=lambda c: c.__name__)
def test_every_variable_is_named_in_its_class_docstring(settings: type[EnvSettings]) -> None:
    docs = " ".join(k.__doc__ or "" for k in settings.__mro__ if issubclass(k, EnvSettings))
    missing = [
        settings.variable(n) for n in settings.model_fields if settings.variable(n) not in docs
    ]
    assert not missing


def test_the_defaults_are_the_flows_and_the_law_s() -> None:
    assert BlacklistSettings.load().blacklist_grace_seconds == BLACKLIST_GRACE
    assert DistributionSettings.load().periods() == dp.PERIODS
    gateway = GatewaySettings.load()
    assert gateway.signature_policy(secure=True).required
    assert not gateway.signature_policy(secure=False).required
    assert gateway.event_ids == "bound" and gateway.signature_helpers == 1
    restriction = RestrictionSettings.load()
    assert restriction.restriction_from_listings and restriction.restriction_ack_seconds == (
        timedelta(hours=12)
    )
    service = ServiceSettings.load()
    assert service.connect_wait_s == 60 and service.metrics_port is None
    assert not service.exits_with_parent


def test_a_variable_sets_its_value_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTBUS_DISTRIBUTION_OBJECTION_SECONDS", "12")
    monkeypatch.setenv("COURTBUS_DISTRIBUTION_HANDOVER_WAIT_SECONDS", "0.5")
    periods = DistributionSettings.load().periods()
    assert periods.objection == timedelta(seconds=12)
    assert periods.handover_wait == timedelta(milliseconds=500)
    assert periods.opposition == timedelta(days=15) and periods.handover == timedelta(days=15)
    monkeypatch.setenv("COURTBUS_SIGNATURES", " Optional ")
    monkeypatch.setenv("COURTBUS_EVENT_IDS", "ANY")
    gateway = GatewaySettings.load()
    assert not gateway.signature_policy(secure=True).required and gateway.event_ids == "any"
    monkeypatch.setenv("COURTBUS_RESTRICTION_FROM_LISTINGS", "0")
    monkeypatch.setenv("COURTBUS_EXIT_WITH_PARENT", "1")
    assert not RestrictionSettings.load().restriction_from_listings
    assert RestrictionSettings.load().exits_with_parent
    monkeypatch.setenv("COURTBUS_CONNECT_WAIT_S", "inf")
    assert ServiceSettings.load().connect_wait_s == float("inf")


def test_a_service_s_settings_carry_the_runtime_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTBUS_MAX_RECORDS", "17")
    settings = GatewaySettings.load()
    assert isinstance(settings, RuntimeSettings)
    config = WorkerConfig.from_settings(Connection("127.0.0.1:9", None), settings)
    assert config.max_records == 17 and config.tick_s == 5.0  # unset: WorkerConfig's default


def _reads_environment(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("environ", "getenv")
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ]


def test_no_flow_reads_the_environment() -> None:
    """Only the entry points (``main.py``, each ``__main__``) and the settings classes may."""
    allowed = {"__main__.py", "settings.py", "main.py"}
    found = {
        str(path.relative_to(SERVICES)): lines
        for path in SERVICES.rglob("*.py")
        if path.name not in allowed and (lines := _reads_environment(path))
    }
    assert not found


def test_every_service_package_with_its_own_variables_has_a_settings_class() -> None:
    for package in sorted(p.parent.name for p in SERVICES.glob("*/__main__.py")):
        main = (SERVICES / package / "__main__.py").read_text(encoding="utf-8")
        assert "Settings" in main, package
        if (SERVICES / package / "settings.py").exists():
            importlib.import_module(f"services.{package}.settings")
