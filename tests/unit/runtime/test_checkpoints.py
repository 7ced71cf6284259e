"""Checkpoints of pattern tasks that share a changelog partition move past the others' writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from courtbus.config import Connection
from courtbus.runtime.changelogs import TaskId
from courtbus.runtime.config import WorkerConfig
from courtbus.runtime.flow import Flow, Incoming, Inputs, json_store
from courtbus.runtime.sqlite import SqliteBackend
from courtbus.runtime.state import State
from courtbus.runtime.worker import Task, Worker

SEEN = json_store("seen")


class PatternFlow(Flow):
    name = "pattern"
    source = "bus:pattern"
    inputs = Inputs(pattern=r"court\..*\.outbox")
    stores = (SEEN,)

    def on_event(self, record: Incoming, state: State) -> list[Any]:
        return []


def task(worker: Worker, tmp_path: Path, topic: str, checkpoint: int) -> Task:
    tid = TaskId(topic, 0)
    backend = SqliteBackend(tmp_path / f"{tid.name}.sqlite", worker.changelogs.stores)
    backend.write({}, {"seen": checkpoint})
    return Task(tid, State(tid.name, backend, PatternFlow.stores), backend)


def test_an_idle_task_skips_what_the_worker_wrote_for_others_and_a_busy_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    config = WorkerConfig(Connection(bootstrap="localhost:1", registry_url=None), tmp_path)
    worker = Worker(PatternFlow(envelope=None), config)  # type: ignore[arg-type]  # unused
    idle = task(worker, tmp_path, "court.1.outbox", 10)
    ahead = task(worker, tmp_path, "court.2.outbox", 500)
    for t in (idle, ahead):
        worker._written[("seen", worker.changelogs.place(t.id)[0])] = 120
    worker._advance_checkpoints([idle, ahead])
    assert idle.backend.checkpoint("seen") == 120
    assert ahead.backend.checkpoint("seen") == 500  # never moved back
    other = task(worker, tmp_path, "court.3.outbox", 7)
    worker._written.clear()
    worker._advance_checkpoints([other])  # nothing written here: unchanged
    assert other.backend.checkpoint("seen") == 7
