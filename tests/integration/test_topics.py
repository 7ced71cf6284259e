"""`topics apply` against a real broker: idempotent, and `plan` follows catalogue changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from courtbus.app import ops
from courtbus.catalogue.admin import Action, ActionKind
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.topics import DEFAULT_PATH, load_catalogue
from courtbus.config import Connection

pytestmark = pytest.mark.integration


def _cli(conn: Connection, *args: str) -> str:
    env = {**os.environ, "COURTBUS_BOOTSTRAP": conn.bootstrap}
    proc = subprocess.run(
        [sys.executable, "-m", "courtbus", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _changes(plan: ops.TopicPlan) -> list[Action]:
    """Differences in catalogue topics (other tests' scratch topics are 'not in catalogue')."""
    return [a for a in plan.actions if a.kind is not ActionKind.UNMANAGED]


def test_apply_twice_changes_nothing_the_second_time(conn: Connection) -> None:
    first = _cli(conn, "topics", "apply")
    assert "applied" in first
    second = _cli(conn, "topics", "apply")
    assert "applied 0 change(s)" in second
    assert "in sync" in _cli(conn, "topics", "plan")
    plan = ops.plan_topics(conn)
    assert _changes(plan) == []
    cat = load_catalogue()
    derived = cat.specs(load_directory(), cat.profile("single"))
    assert sorted(s.name for s in plan.specs) == sorted(s.name for s in derived)
    assert len(plan.specs) >= 50


def test_plan_shows_catalogue_changes_and_apply_makes_them(
    conn: Connection, tmp_path: Path
) -> None:
    ops.apply_topics(conn, ops.plan_topics(conn))
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw["overrides"]["court.3205.outbox"] = {"partitions": 5, "retention": "45d"}
    changed = tmp_path / "catalogue.yaml"
    changed.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

    plan = ops.plan_topics(conn, catalogue=changed)
    kinds = {(a.kind, a.topic, a.detail) for a in _changes(plan)}
    assert (ActionKind.ADD_PARTITIONS, "court.3205.outbox", "3 → 5") in kinds
    assert (
        ActionKind.ALTER_CONFIG,
        "court.3205.outbox",
        f"retention.ms: {30 * 86_400_000} → {45 * 86_400_000}",
    ) in kinds
    assert len(_changes(plan)) == 2
    text = _cli(conn, "topics", "plan", "--catalogue", str(changed))
    assert "add-partitions" in text and "court.3205.outbox" in text

    ops.apply_topics(conn, plan)
    assert _changes(ops.plan_topics(conn, catalogue=changed)) == []
    # going back is reported, never done: Kafka cannot remove partitions
    back = ops.plan_topics(conn)
    assert {a.kind for a in _changes(back)} == {ActionKind.CANNOT_SHRINK, ActionKind.ALTER_CONFIG}
    ops.apply_topics(conn, back)
    assert [a.kind for a in _changes(ops.plan_topics(conn))] == [ActionKind.CANNOT_SHRINK]
