"""``courtbus acl plan|apply`` output, over a plan made without a cluster."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from courtbus.access import acl, acl_admin
from courtbus.access.acl import Binding, Operation, Pattern, Resource
from courtbus.app.cli.main import app
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.topics import load_catalogue
from courtbus.errors import ConfigError
from tests.unit.cli_width import wide_console  # noqa: F401 - autouse fixture

runner = CliRunner()
WANTED = acl.desired(load_directory(), load_catalogue())
FOREIGN = Binding("kafka-ui", Resource.TOPIC, "*", Pattern.LITERAL, Operation.READ)
EXTRA = Binding("court.32", Resource.TOPIC, "court.3205.inbox", Pattern.LITERAL, Operation.READ)


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> list[set[Binding]]:
    """The bindings a pretend cluster holds; ``acl_admin`` reads and changes them."""
    held: list[set[Binding]] = [set()]
    monkeypatch.setattr("courtbus.app.cli.common.cli_connection", lambda *a, **k: None)

    def plan(_conn: Any, directory: Any, catalogue: Any) -> acl.AclPlan:
        return acl.plan(acl.desired(directory, catalogue), held[0])

    def apply(_conn: Any, wanted: acl.AclPlan) -> acl_admin.Applied:
        held[0] = (held[0] - set(wanted.remove)) | set(wanted.add)
        return acl_admin.Applied(wanted.add, wanted.remove)

    monkeypatch.setattr(acl_admin, "plan", plan)
    monkeypatch.setattr(acl_admin, "apply", apply)
    return held


def test_plan_shows_changes_and_foreign(cluster: list[set[Binding]]) -> None:
    cluster[0] = (set(WANTED) - {min(WANTED)}) | {EXTRA, FOREIGN}
    result = runner.invoke(app, ["acl", "plan"])
    assert result.exit_code == 0, result.output
    assert "1 to add, 1 to remove" in result.output
    assert "court.3205.inbox" in result.output and "kafka-ui" in result.output
    assert "never removed" in result.output
    assert cluster[0] >= {EXTRA, FOREIGN}  # plan changes nothing


def test_apply_twice_then_plan_shows_no_change(cluster: list[set[Binding]]) -> None:
    cluster[0] = {EXTRA, FOREIGN}
    first = runner.invoke(app, ["acl", "apply"])
    assert first.exit_code == 0, first.output
    assert f"added {len(WANTED)}, removed 1 ACL(s)" in first.output
    assert cluster[0] == set(WANTED) | {FOREIGN}
    second = runner.invoke(app, ["acl", "apply"])
    assert "no change" in second.output and "added" not in second.output
    shown = runner.invoke(app, ["acl", "plan", "--json"])
    plan = json.loads(shown.output)
    assert plan["in_sync"] and plan["kept"] == len(WANTED)
    assert plan["foreign"] == [
        {
            "principal": "kafka-ui",
            "resource": "TOPIC",
            "name": "*",
            "pattern": "LITERAL",
            "operation": "READ",
            "allow": True,
            "host": "*",
        }
    ]


def test_a_bad_directory_is_refused_before_connecting(
    cluster: list[set[Binding]], tmp_path: Any
) -> None:
    bad = tmp_path / "d.yaml"
    bad.write_text("courts: []\n")
    result = runner.invoke(app, ["acl", "plan", "--directory", str(bad)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert result.exception.code == "DIRECTORY_INVALID"
