"""Counts a user can trust: an inbox in time order, a first sync whose numbers add up, proper
plurals, and no rate for a run too short to measure one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from rich.progress import Progress
from typer.testing import CliRunner

from courtbus.app.cli import bus
from courtbus.app.cli.blacklist_sync import sync_summary
from courtbus.app.cli.common import RateColumn, plural, rate
from courtbus.app.cli.main import app
from courtbus.sdk.agency import SyncResult
from tests.unit.cli_width import wide_console  # noqa: F401 - autouse fixture

runner = CliRunner()
T = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def _event(minute: int, partition: int, offset: int, key: str) -> Any:
    return SimpleNamespace(
        partition=partition,
        offset=offset,
        key=key,
        record="cn.court.bus.delegation.X",
        headers=SimpleNamespace(time=T + timedelta(minutes=minute)),
        payload={},
    )


class FakeInbox:
    def __init__(self, court: str) -> None:
        self.court = court

    def __enter__(self) -> FakeInbox:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def inbox(self, **_kw: Any) -> Any:
        # partition by partition, as a reader of several partitions hands them over
        return iter(
            [
                _event(5, 0, 0, "d-p0-late"),
                _event(1, 1, 0, "d-p1-first"),
                _event(3, 2, 0, "d-p2-middle"),
                _event(1, 2, 1, "d-p2-same-time"),
            ]
        )


def test_the_inbox_is_printed_in_time_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus, "court_client", FakeInbox)
    result = runner.invoke(app, ["inbox", "4408"])
    assert result.exit_code == 0, result.output
    keys = [line.split()[3] for line in result.output.splitlines() if line.startswith("2024")]
    assert keys == ["d-p1-first", "d-p2-same-time", "d-p2-middle", "d-p0-late"]
    assert result.output.splitlines()[-1] == "4 messages"


def test_plurals_and_counts() -> None:
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(0, "entry", "entries") == "0 entries"
    assert plural(30_003, "entry", "entries") == "30,003 entries"
    assert plural(2, "message") == "2 messages"


def test_no_rate_for_a_run_too_short_to_measure() -> None:
    assert rate(3, 0.01, "records") == ""
    assert rate(0, 5.0, "records") == ""
    assert rate(3000, 2.0, "records") == ", 1,500 records/s"
    with Progress(RateColumn("entries"), auto_refresh=False) as progress:
        task = progress.add_task("x", total=10)
        progress.advance(task)
        shown = RateColumn("entries").render(progress.tasks[0])
    assert "/s" not in shown.plain  # rich has no speed yet: nothing, not "0 entries/s"


def test_the_sync_summary_adds_up() -> None:
    line = sync_summary(SyncResult(read=7, written=1, deleted=2, rows=1, bootstrap_s=0.1))
    assert "1 entry in partner_blacklist" in line
    assert "read 7 records; wrote 1 entry, retracted 2" in line
    assert "4 replaced by a later record" in line and "(ies)" not in line
    even = sync_summary(SyncResult(read=2, written=2, deleted=0, rows=2, bootstrap_s=0.1))
    assert "replaced" not in even and "2 entries in partner_blacklist" in even


class FakeAgency:
    def __init__(self, agency: str, _conn: Any, **_kw: Any) -> None:
        self.agency = agency

    def __enter__(self) -> FakeAgency:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def topic(self, flow: str) -> str:
        return f"agency.{self.agency}.{flow}"

    def sync(self, _flow: str, _db: str, **kw: Any) -> SyncResult:
        kw["progress"](13, 13)  # offsets: compaction and transaction markers count too
        kw["bootstrapped"](SyncResult(7, 1, 2, 1, 0.1))
        return SyncResult(7, 1, 2, 1, 0.1)


def test_the_first_sync_reports_records_read_not_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("courtbus.sdk.agency.AgencyClient", FakeAgency)
    monkeypatch.setattr("courtbus.config.Connection.probe", lambda self, timeout_s: None)
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", "127.0.0.1:1")
    result = runner.invoke(app, ["blacklist", "sync", "icbc", "--db", "sqlite://", "--once"])
    assert result.exit_code == 0, result.output
    assert "bootstrapped agency.icbc.blacklist: read 7 records, 1 entry in the mirror" in (
        result.output
    )
    assert "13" not in result.output.split("bootstrapped", 1)[1]
    assert "(ies)" not in result.output and "(s)" not in result.output
    assert "0 offsets/s" not in result.output
