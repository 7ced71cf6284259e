"""The released schema history: from git (following the folder's move into the package), or
the copy shipped with the package, which must equal git's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from courtbus import resources
from courtbus.app.cli.main import app
from courtbus.errors import SchemaError
from courtbus.wire import history
from courtbus.wire.compat import check_against
from courtbus.wire.history import (
    as_released,
    git_checkout,
    git_versions,
    history_json,
    load_history,
    parse_history,
    released_history,
    with_current,
)
from courtbus.wire.schemas import SchemaSet

BASE = {"type": "record", "name": "A", "namespace": "t", "fields": [{"name": "x", "type": "int"}]}
V2 = {**BASE, "fields": [*BASE["fields"], {"name": "y", "type": ["null", "int"], "default": None}]}
DROPS_X = {**BASE, "fields": [{"name": "z", "type": "long", "default": 0}]}
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
runner = CliRunner()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    return tmp_path


def _commit(repo: Path, folder: str, schema: dict[str, object], message: str) -> None:
    (repo / folder).mkdir(parents=True, exist_ok=True)
    (repo / folder / "t.A.avsc").write_text(json.dumps(schema))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", message)


@needs_git
def test_git_history_is_every_distinct_committed_version(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _commit(repo, "schemas/avro", BASE, "v1")
    _commit(repo, "schemas/avro", V2, "v2")
    (repo / "README").write_text("unrelated")
    _commit(repo, "schemas/avro", V2, "same schema, other file")
    versions = git_versions(repo)
    assert [json.loads(v.text)["fields"][-1]["name"] for v in versions] == ["x", "y"]
    released = as_released(versions)
    # a version that drops x (no default) breaks both, and each problem names its version
    problems = check_against(SchemaSet.from_files([("t.A.avsc", json.dumps(DROPS_X))]), released)
    assert {p.against for p in problems} == {label for label, _ in released}
    assert all(p.against.startswith("git ") for p in problems)
    assert check_against(SchemaSet.load(repo / "schemas" / "avro"), released) == []


@needs_git
def test_git_history_follows_the_schemas_into_the_package(tmp_path: Path) -> None:
    """The versions committed under ``schemas/avro`` before the move still count."""
    repo = _repo(tmp_path)
    _commit(repo, "schemas/avro", BASE, "v1 at the top")
    (repo / "courtbus" / "data" / "schemas").mkdir(parents=True)
    _git(repo, "mv", "schemas/avro", "courtbus/data/schemas/avro")
    _git(repo, "commit", "-qm", "move")
    _commit(repo, "courtbus/data/schemas/avro", V2, "v2 in the package")
    versions = git_versions(repo)
    assert [v.text for v in versions] == [
        SchemaSet.from_files([("t.A.avsc", json.dumps(s))]).message("t.A").text for s in (BASE, V2)
    ]


def test_the_shipped_file_round_trips_and_labels_each_version() -> None:
    current = SchemaSet.from_files([("t.A.avsc", json.dumps(V2))])
    old = SchemaSet.from_files([("t.A.avsc", json.dumps(BASE))])
    versions = with_current([history.Version("t.A", old.message("t.A").text, "git 1")], current)
    parsed = parse_history(history_json(versions), "released.json")
    assert [(v.record, v.text) for v in parsed] == [(v.record, v.text) for v in versions]
    assert [v.label for v in parsed] == ["shipped version 1 of 2", "shipped version 2 of 2"]
    # the current version is added once, never twice
    assert with_current(versions, current) == versions


@pytest.mark.parametrize(
    "text", ["not json", "[]", '{"format": 99, "schemas": {}}', '{"format": 1}']
)
def test_a_broken_history_file_is_a_clear_error(text: str) -> None:
    with pytest.raises(SchemaError) as caught:
        parse_history(text, "released.json")
    assert caught.value.code == "SCHEMA_HISTORY_UNAVAILABLE"
    assert "released.json" in caught.value.reason


def test_outside_a_checkout_the_check_uses_the_shipped_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(history, "source_checkout", lambda: None)
    versions, where = released_history("auto")
    assert versions == load_history(resources.schema_history_path())
    assert "shipped with the package" in where and "installed package" in where
    for source, against in (("git", "HEAD"), ("auto", "HEAD~3")):
        with pytest.raises(SchemaError) as caught:
            released_history(source, against)
        assert caught.value.code == "SCHEMA_HISTORY_UNAVAILABLE"
    with pytest.raises(SchemaError):
        released_history("sometimes")
    assert released_history("none") == ([], "no history")


def test_schemas_check_says_which_history_it_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "source_checkout", lambda: None)
    result = runner.invoke(app, ["schemas", "check"])
    assert result.exit_code == 0, result.output
    assert "compatible" in result.output and "history shipped with the package" in result.output


@needs_git
def test_only_the_top_of_a_complete_work_tree_gives_the_git_history(tmp_path: Path) -> None:
    assert "not a git work tree" in str(git_checkout(tmp_path))
    repo = _repo(tmp_path)
    _commit(repo, "schemas/avro", BASE, "v1")
    assert git_checkout(repo) is None
    (repo / "venv" / "site-packages").mkdir(parents=True)  # a venv inside a checkout
    assert "inside the git work tree" in str(git_checkout(repo / "venv" / "site-packages"))
    shallow = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    assert "shallow clone" in str(git_checkout(shallow))


@needs_git
def test_the_shipped_history_is_the_git_history() -> None:
    """``courtbus/data/schemas/released.json`` holds every committed version (and the working
    tree's): a schema change without ``courtbus schemas history --write`` fails here."""
    checkout = resources.source_checkout()
    if checkout is None or (why_not := git_checkout(checkout)) is not None:
        pytest.skip(f"no complete git history here: {checkout or 'installed package'}: {why_not}")
    expected = history_json(with_current(git_versions(checkout), SchemaSet.load()))
    shipped = resources.schema_history_path().read_text(encoding="utf-8")
    assert shipped == expected, (
        f"{resources.schema_history_path()} is stale: run "
        "`courtbus schemas history --write` and commit it"
    )
