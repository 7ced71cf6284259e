"""`courtbus restrictions list|show` and `courtbus watchdog alerts` over a read model filled with
the restriction flow's own view records: IDs and document numbers masked unless --show-ids,
filters by court, person, status and kind, answers and interceptions shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from courtbus.app.cli.main import app
from courtbus.store import ReadModelWriter
from tests.builders import PERSON_ID
from tests.unit.cli_width import wide_console  # noqa: F401 - autouse fixture
from tests.unit.flows.test_restriction_flow import (
    REP_ID,
    ack,
    consumption_ban,
    exit_ban,
    harness,
    issue,
    lift,
    send,
    view,
)

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> str:
    h = harness()
    views: list[dict[str, Any]] = []
    views += view(h, issue(h, exit_ban()))
    views += view(h, issue(h, consumption_ban()))
    views += view(h, ack(h, "rc-1", "nia", ref="NIA-7"))
    report = {
        "control_id": "rc-1",
        "agency_id": "nia",
        "intercepted_at": h.now,
        "channel": "BORDER_PORT",
        "location": "罗湖口岸",
        "description": None,
        "outcome": "PREVENTED",
    }
    views += view(h, send(h, "InterceptionReported", report, "agency:nia"))
    views += view(h, lift(h, "rc-2"))
    url = f"sqlite:///{tmp_path / 'read.db'}"
    model = ReadModelWriter(url)
    model.migrate()
    for payload in views:
        model.apply_restriction_control(payload)
    item = {
        "item_id": "restriction:rc-1",
        "kind": "RESTRICTION",
        "label": "EXIT_BAN",
        "court_id": "3205",
        "since": h.now,
        "due_at": h.now,
    }
    alert = {
        "case_number": {"text": "(2024)苏05执100号"},
        "court": {"court_id": "3205"},
        "alert_number": 1,
        "items": [item],
        "sent_at": h.now,
    }
    model.apply_watchdog_alert("wd-1", alert)
    model.close()
    return url


def _run(store: str, *args: str) -> str:
    result = runner.invoke(app, [*args, "--store", store], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_ids_and_documents_are_masked_unless_asked(store: str) -> None:
    listed = _run(store, "restrictions", "list", "--court", "3205")
    assert "rc-1" in listed and "rc-2" in listed and "2 controls" in listed
    assert REP_ID not in listed and PERSON_ID not in listed
    assert REP_ID in _run(store, "restrictions", "list", "--show-ids")
    shown = _run(store, "restrictions", "show", "rc-1")
    assert REP_ID not in shown and "C12345678" not in shown
    assert "NIA-7" in shown and "罗湖口岸" in shown and "PREVENTED" in shown
    full = _run(store, "restrictions", "show", "rc-1", "--show-ids")
    assert REP_ID in full and "C12345678" in full


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--court", "6101"], set()),
        (["--person", REP_ID], {"rc-1"}),
        (["--person", PERSON_ID.lower()], {"rc-2"}),
        (["--status", "lifted"], {"rc-2"}),
        (["--status", "ACTIVE"], {"rc-1"}),
        (["--kind", "exit"], {"rc-1"}),
        (["--kind", "CONSUMPTION_BAN"], {"rc-2"}),
    ],
)
def test_filters(store: str, args: list[str], expected: set[str]) -> None:
    output = _run(store, "restrictions", "list", *args)
    assert {c for c in ("rc-1", "rc-2") if c in output} == expected


def test_an_unknown_status_is_one_clear_error(store: str) -> None:
    result = runner.invoke(app, ["restrictions", "list", "--status", "gone", "--store", store])
    assert result.exit_code != 0
    assert getattr(result.exception, "code", None) == "CLI_OPTION_INVALID"


def test_an_unknown_control_exits_non_zero(store: str) -> None:
    result = runner.invoke(app, ["restrictions", "show", "rc-none", "--store", store])
    assert result.exit_code == 1 and "no control rc-none" in result.output


def test_watchdog_alerts_by_court(store: str) -> None:
    shown = _run(store, "watchdog", "alerts", "--court", "3205")
    assert "restriction:rc-1" in shown and "(2024)苏05执100号" in shown and "1 alert" in shown
    assert "0 alerts" in _run(store, "watchdog", "alerts", "--court", "6101")
