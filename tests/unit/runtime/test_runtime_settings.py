"""The runtime's settings from the environment (``RuntimeSettings``): defaults, blanks, and a
readable refusal naming each wrong variable instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from courtbus.config import Connection
from courtbus.errors import ConfigError
from courtbus.runtime.config import RuntimeSettings, WorkerConfig

CONN = Connection("localhost:9092", None)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RuntimeSettings.model_fields:
        monkeypatch.delenv(f"COURTBUS_{name.upper()}", raising=False)


def test_the_defaults_are_the_dataclass_defaults(tmp_path: Path) -> None:
    config = WorkerConfig.from_settings(CONN, RuntimeSettings.load(), state_dir=tmp_path)
    plain = WorkerConfig(CONN, tmp_path)
    assert config == plain


def test_variables_set_the_settings_and_blank_ones_count_as_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COURTBUS_MAX_RECORDS", "500")
    monkeypatch.setenv("COURTBUS_TICK_SECONDS", "0.5")
    monkeypatch.setenv("COURTBUS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("COURTBUS_INSTANCE", "")
    monkeypatch.setenv("COURTBUS_GROUP", "")
    config = WorkerConfig.from_settings(CONN, RuntimeSettings.load())
    assert (config.max_records, config.tick_s, config.state_dir) == (500, 0.5, tmp_path)
    assert config.instance is None and config.group_id is None


def test_wrong_values_are_one_config_error_naming_each_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COURTBUS_MAX_RECORDS", "lots")
    monkeypatch.setenv("COURTBUS_TICK_SECONDS", "-1")
    with pytest.raises(ConfigError) as info:
        WorkerConfig.from_settings(CONN, RuntimeSettings.load())
    assert info.value.code == "RUNTIME_CONFIG_INVALID"
    assert "COURTBUS_MAX_RECORDS" in info.value.reason
    assert "COURTBUS_TICK_SECONDS" in info.value.reason


def test_the_settings_are_frozen() -> None:
    settings = RuntimeSettings.load()
    with pytest.raises(ValueError, match="frozen"):
        settings.max_records = 1  # type: ignore[misc]
