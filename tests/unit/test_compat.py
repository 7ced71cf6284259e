"""FULL_TRANSITIVE checks with the avro checker, against sets and against git history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from courtbus.wire.compat import check_against, check_full, git_released
from courtbus.wire.schemas import SchemaSet

BASE = {"type": "record", "name": "A", "namespace": "t", "fields": [{"name": "x", "type": "int"}]}


def _with(*fields: dict[str, object]) -> str:
    return json.dumps({**BASE, "fields": [*BASE["fields"], *fields]})  # type: ignore[list-item]


def test_adding_an_optional_field_with_default_is_fully_compatible() -> None:
    assert (
        check_full(
            "t.A",
            _with({"name": "y", "type": ["null", "string"], "default": None}),
            json.dumps(BASE),
            "v1",
        )
        == []
    )


def test_adding_a_required_field_breaks_backward_compatibility() -> None:
    problems = check_full("t.A", _with({"name": "y", "type": "string"}), json.dumps(BASE), "v1")
    assert [p.direction for p in problems] == ["backward"]
    assert "reader_field_missing_default_value" in problems[0].detail


def test_removing_a_field_without_default_breaks_forward_compatibility() -> None:
    old = _with({"name": "y", "type": "string"})
    problems = check_full("t.A", json.dumps(BASE), old, "v1")
    assert [p.direction for p in problems] == ["forward"]


def test_removed_message_type_is_reported() -> None:
    old = SchemaSet.from_files([("t.A.avsc", json.dumps(BASE))])
    now = SchemaSet.from_files([])
    assert "removed" in str(check_against(now, [("v1", old)])[0])


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_history_is_every_committed_version(tmp_path: Path) -> None:
    folder = tmp_path / "schemas" / "avro"
    folder.mkdir(parents=True)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    (folder / "t.A.avsc").write_text(json.dumps(BASE))
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "v1")
    (folder / "t.A.avsc").write_text(_with({"name": "y", "type": ["null", "int"], "default": None}))
    _git(tmp_path, "commit", "-qam", "v2")
    released = git_released(tmp_path)
    assert len(released) == 2
    # a third version that drops x (no default) breaks v1 and v2, both directions checked
    current = SchemaSet.from_files(
        [
            (
                "t.A.avsc",
                json.dumps({**BASE, "fields": [{"name": "z", "type": "long", "default": 0}]}),
            )
        ]
    )
    problems = check_against(current, released)
    assert {p.against for p in problems} == {label for label, _ in released}
    # the committed head itself is compatible with its history
    head = SchemaSet.load(folder)
    assert check_against(head, released) == []
