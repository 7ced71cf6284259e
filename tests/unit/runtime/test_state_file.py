"""One SQLite file for all tasks of a pattern input: tasks apart, one commit for many, restore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kafka import TopicPartition

from courtbus.config import Connection
from courtbus.errors import StateError
from courtbus.runtime.changelogs import TaskId
from courtbus.runtime.config import WorkerConfig, claim_slot
from courtbus.runtime.sqlite import StateFile
from courtbus.runtime.state import Entry, State
from courtbus.runtime.worker import Task, Worker
from tests.unit.runtime.test_restore import TOPIC, Msg, PatternFlow, Scripted, changelogs, keyed


def test_tasks_in_one_file_keep_their_entries_and_checkpoints_apart(tmp_path: Path) -> None:
    file = StateFile(tmp_path / "tasks.sqlite", ["seen"])
    a, b = file.task("court.1.outbox-0"), file.task("court.2.outbox-0")
    a.write({("seen", b"k"): Entry(b"a", 10)}, {"seen": 3})
    b.write({("seen", b"k"): Entry(b"b", 20), ("seen", b"j"): Entry(b"b2")}, {"seen": 7})
    assert a.read("seen", b"k") == Entry(b"a", 10) and b.read("seen", b"k") == Entry(b"b", 20)
    assert b.read_many("seen", [b"k", b"j", b"none"]) == {b"k": Entry(b"b", 20), b"j": Entry(b"b2")}
    assert a.read_many("seen", [b"j"]) == {}
    assert (a.count("seen"), b.count("seen")) == (1, 2)
    assert a.upto("seen", 15, 10) == [(b"k", Entry(b"a", 10))] and b.upto("seen", 15, 10) == []
    assert (a.checkpoint("seen"), b.checkpoint("seen")) == (3, 7)
    a.clear("seen")
    assert a.read("seen", b"k") is None and a.checkpoint("seen") is None
    assert b.read("seen", b"k") == Entry(b"b", 20), "another task's entries stay"
    file.close()
    again = StateFile(tmp_path / "tasks.sqlite", ["seen"])
    assert again.task("court.2.outbox-0").checkpoint("seen") == 7, "read back when opened"
    assert again.task("court.1.outbox-0").checkpoint("seen") is None
    assert again.tasks() == ["court.2.outbox-0"]
    again.close()


def test_writes_of_many_tasks_commit_together_or_not_at_all(tmp_path: Path) -> None:
    file = StateFile(tmp_path / "tasks.sqlite", ["seen"])
    a, b = file.task("a"), file.task("b")
    with file.transaction():
        a.write({("seen", b"x"): Entry(b"1")}, {"seen": 1})
        b.write({("seen", b"y"): Entry(b"1")}, {"seen": 1})
        assert file.db.in_transaction, "the writes wait for the outer commit"
    assert a.checkpoint("seen") == b.checkpoint("seen") == 1
    with pytest.raises(RuntimeError), file.transaction():
        a.write({("seen", b"x"): Entry(b"2")}, {"seen": 2})
        b.write({("seen", b"y"): Entry(b"2")}, {"seen": 2})
        raise RuntimeError("the batch fails before its commit")
    assert a.read("seen", b"x") == Entry(b"1") and b.read("seen", b"y") == Entry(b"1")
    assert a.checkpoint("seen") == b.checkpoint("seen") == 1, "checkpoints rolled back too"
    file.db.execute("DROP TABLE s_seen")  # a write that fails in SQLite
    with pytest.raises(StateError) as failed, file.transaction():
        a.write({}, {"seen": 5})
        b.write({("seen", b"y"): Entry(b"3")}, {"seen": 5})
    assert failed.value.code == "STATE_WRITE"
    assert a.checkpoint("seen") == 1 and not file.db.in_transaction
    file.close()


def test_tasks_in_one_file_restore_a_shared_partition_in_one_read(tmp_path: Path) -> None:
    a, b = TaskId(0, "court.1.outbox"), TaskId(0, "court.2.outbox")
    part = 3
    log = [
        Msg(0, keyed(a, b"x"), b"1"),
        Msg(1, keyed(b, b"y"), b"1"),
        Msg(2, keyed(a, b"x"), b"2", [("cb_t", b"99")]),
        Msg(3, b"court.9.outbox:0\x1fz", b"another worker's task"),
        Msg(4, keyed(b, b"y"), None),
    ]
    logs = changelogs(tmp_path, PatternFlow(envelope=None), {part: log})  # type: ignore[arg-type]
    logs.place = lambda task: (part, keyed(task, b""))  # type: ignore[method-assign]
    file = StateFile(tmp_path / "tasks.sqlite", ["seen"])
    backends = {a: file.task(a.name), b: file.task(b.name)}
    backends[b].load("seen", {b"y": (b"1", None)}, 2)  # b is warm: complete before offset 2
    read = logs.restore_all(backends, {TopicPartition(TOPIC, part): (0, 5)})
    consumer: Scripted = logs._restorer  # type: ignore[assignment]
    assert consumer.assigned == [(part, 0)], "one read of the shared range"
    assert read == 3
    assert backends[a].read("seen", b"x") == Entry(b"2", 99)
    assert backends[b].read("seen", b"y") is None
    assert backends[a].checkpoint("seen") == backends[b].checkpoint("seen") == 5
    assert file.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "bulk mode left"
    file.close()


def _worker(tmp_path: Path) -> Worker:
    config = WorkerConfig(Connection(bootstrap="localhost:1", registry_url=None), tmp_path)
    worker = Worker(PatternFlow(envelope=None), config)  # type: ignore[arg-type]  # unused
    worker._slot = claim_slot(tmp_path / worker.group)
    worker._file = StateFile(worker._slot.path / "tasks.sqlite", worker.changelogs.stores)
    worker.changelogs._restorer = Scripted({p: [] for p in range(6)})  # type: ignore[assignment]
    bounds: Any = lambda tasks: {  # noqa: E731 - every changelog partition empty
        TopicPartition(TOPIC, p): (0, 0) for p in range(6)
    }
    worker.changelogs.bounds = bounds  # type: ignore[method-assign]
    return worker


def test_a_pattern_worker_opens_its_tasks_in_one_file_once_per_assignment(
    tmp_path: Path,
) -> None:
    worker = _worker(tmp_path)
    assert worker._slot is not None and worker._file is not None
    parts = {TopicPartition(f"court.{c}.outbox", p) for c in range(300) for p in range(3)}
    worker.on_partitions_assigned(parts)
    worker._sync_tasks()
    assert len(worker.tasks) == 900
    assert not (worker._slot.path / "tasks").exists(), "no file per task"
    first = dict(worker.tasks)
    worker._sync_tasks()  # the next poll, same assignment: nothing is done again
    assert all(worker.tasks[t] is first[t] for t in first)
    assert len(worker._file.tasks()) == 900, "every task complete to its (empty) changelog"
    worker.on_partitions_revoked(parts)
    assert worker.tasks == {}
    worker.on_partitions_assigned({TopicPartition("court.1.outbox", 0)})
    worker._sync_tasks()
    assert list(worker.tasks) == [TaskId(0, "court.1.outbox")]
    worker._file.close()
    worker._slot.release()


def test_idle_tasks_in_one_file_move_past_the_workers_writes_in_one_commit(
    tmp_path: Path,
) -> None:
    worker = _worker(tmp_path)
    assert worker._file is not None and worker._slot is not None
    tasks = []
    for i, checkpoint in enumerate((10, 500)):
        tid = TaskId(0, f"court.{i}.outbox")
        backend = worker._file.task(tid.name)
        backend.write({}, {"seen": checkpoint})
        tasks.append(Task(tid, State(tid.name, backend, PatternFlow.stores), backend))
        worker._written[("seen", worker.changelogs.place(tid)[0])] = 120
    changes = worker._file.db.total_changes
    worker._advance_checkpoints(tasks)
    assert [t.backend.checkpoint("seen") for t in tasks] == [120, 500]
    assert worker._file.db.total_changes == changes + 1, "one row written, one commit"
    worker._file.close()
    worker._slot.release()
