"""`courtbus blacklist list|show` over a read model: IDs masked unless --show-ids, filters by
court, region (province code or name, sharing group) and debtor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from courtbus.app.cli.main import app
from courtbus.store import ReadModelWriter
from tests.builders import FIRM_CODE, PERSON_ID
from tests.unit.cli_width import wide_console  # noqa: F401 - autouse fixture

runner = CliRunner()
T = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def _entry(eid: str, court: str, designation: str, number: str, kind: str) -> dict[str, Any]:
    return {
        "entry_id": eid,
        "status": "ACTIVE",
        "version": 1,
        "case_number": {
            "text": f"(2024){designation}执1号",
            "year": 2024,
            "court_id": court,
            "type_code": "执",
            "sequence": 1,
        },
        "listing_court": {"court_id": court, "designation": designation},
        "debtor": {
            "kind": kind,
            "name": "某某",
            "id_number": number,
            "id_type": None,
            "nationality": None,
        },
        "legal_representative": None,
        "legal_representative_id": None,
        "ground": "EVADED_EXECUTION",
        "serious": False,
        "period_months": 24,
        "listed_at": T,
        "expires_at": T + timedelta(days=730),
        "updated_at": T,
        "delisted_at": None,
        "reason": None,
        "obligation": "给付",
        "performance": "未履行",
        "conduct": "规避执行",
        "title_issuer": "某法院",
        "title_number": "(2023)某民初1号",
        "filed_at": T,
    }


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'read.db'}"
    model = ReadModelWriter(url)
    model.migrate()
    model.apply_blacklist_entry("bl-js", _entry("bl-js", "320583", "苏0583", PERSON_ID, "PERSON"))
    model.apply_blacklist_entry("bl-gd", _entry("bl-gd", "4408", "粤08", FIRM_CODE, "ORGANISATION"))
    model.close()
    return url


def _run(store: str, *args: str) -> str:
    result = runner.invoke(app, ["blacklist", *args, "--store", store], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_ids_are_masked_unless_asked(store: str) -> None:
    listed = _run(store, "list")
    assert "bl-js" in listed and "bl-gd" in listed and "2 entries" in listed
    assert PERSON_ID not in listed
    assert PERSON_ID in _run(store, "list", "--show-ids")
    shown = _run(store, "show", "bl-js")
    assert PERSON_ID not in shown and "规避执行" in shown and "北京时间" in shown
    assert PERSON_ID in _run(store, "show", "bl-js", "--show-ids")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--court", "4408"], {"bl-gd"}),
        (["--region", "32"], {"bl-js"}),
        (["--region", "广东省"], {"bl-gd"}),
        (["--region", "west-guangdong"], {"bl-gd"}),
        (["--debtor", PERSON_ID.lower()], {"bl-js"}),
        (["--status", "delisted"], set()),
    ],
)
def test_filters(store: str, args: list[str], expected: set[str]) -> None:
    output = _run(store, "list", *args)
    assert {e for e in ("bl-js", "bl-gd") if e in output} == expected


def test_an_unknown_region_is_one_clear_error(store: str) -> None:
    result = runner.invoke(app, ["blacklist", "list", "--region", "火星", "--store", store])
    assert result.exit_code != 0
    assert getattr(result.exception, "code", None) == "REGION_UNKNOWN"
