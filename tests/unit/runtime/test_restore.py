"""Restoring tasks from their changelogs, on a scripted consumer (no broker)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError as RdKafkaError
from kafka import TopicPartition

from courtbus.config import Connection
from courtbus.runtime.changelogs import SEP, Changelogs, TaskId, changelog_topic
from courtbus.runtime.config import WorkerConfig
from courtbus.runtime.flow import Flow, Incoming, Inputs, json_store
from courtbus.runtime.sqlite import SqliteBackend
from courtbus.runtime.state import State

SEEN = json_store("seen")
TOPIC = changelog_topic("pattern", "seen")


class PatternFlow(Flow):
    name = "pattern"
    source = "bus:pattern"
    inputs = Inputs(pattern=r"court\..*\.outbox")
    stores = (SEEN,)

    def on_event(self, record: Incoming, state: State) -> list[Any]:
        return []


class TopicFlow(PatternFlow):
    inputs = Inputs(topics=("bus.x.events",))


@dataclass
class Msg:
    """What the restore reads of a confluent-kafka message."""

    at: int
    k: bytes | None = None
    v: bytes | None = None
    h: list[tuple[str, bytes]] | None = None
    eof: bool = False

    def error(self) -> RdKafkaError | None:
        return RdKafkaError(RdKafkaError._PARTITION_EOF) if self.eof else None

    def offset(self) -> int:
        return self.at

    def key(self) -> bytes | None:
        return self.k

    def value(self) -> bytes | None:
        return self.v

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self.h


class Scripted:
    """A consumer that hands out one partition's log from the assigned offset."""

    def __init__(self, log: dict[int, list[Msg]]) -> None:
        self.log = log
        self.queue: list[Msg] = []
        self.assigned: list[tuple[int, int]] = []
        self.consumed = 0

    def assign(self, parts: list[Any]) -> None:
        (tp,) = parts
        self.assigned.append((tp.partition, tp.offset))
        self.queue = [m for m in self.log[tp.partition] if m.at >= tp.offset]
        end = max((m.at + 1 for m in self.log[tp.partition]), default=tp.offset)
        self.queue.append(Msg(end, eof=True))

    def consume(self, num: int, timeout: float) -> list[Msg]:
        out, self.queue = self.queue[:3], self.queue[3:]  # small batches: several calls
        self.consumed += len(out)
        return out

    def unassign(self) -> None:
        self.queue = []

    def close(self) -> None:
        pass


def changelogs(tmp_path: Path, flow: Flow, log: dict[int, list[Msg]]) -> Changelogs:
    config = WorkerConfig(Connection(bootstrap="localhost:1", registry_url=None), tmp_path)
    logs = Changelogs(flow, config)
    logs._restorer = Scripted(log)  # type: ignore[assignment]  # the scripted consumer
    return logs


def backend(tmp_path: Path, task: TaskId) -> SqliteBackend:
    return SqliteBackend(tmp_path / f"{task.name}.sqlite", ["seen"])


def keyed(task: TaskId, key: bytes) -> bytes:
    return f"{task.topic}:{task.partition}".encode() + SEP + key


def test_tasks_sharing_a_partition_read_it_once_each_from_its_own_checkpoint(
    tmp_path: Path,
) -> None:
    a, b = TaskId(0, "court.1.outbox"), TaskId(0, "court.2.outbox")
    part = 3  # placement is by hash: both are put on partition 3 below
    log = [
        Msg(0, keyed(a, b"x"), b"1"),
        Msg(1, keyed(b, b"y"), b"1"),
        Msg(2, keyed(a, b"x"), b"2", [("cb_t", b"99")]),
        Msg(3, b"court.9.outbox:0" + SEP + b"z", b"other worker's task"),
        Msg(4, keyed(b, b"y"), None),  # a tombstone
        # 5: a transaction marker (never handed out)
        Msg(7, keyed(a, b"late"), b"after the bounds"),
    ]
    logs = changelogs(tmp_path, PatternFlow(envelope=None), {part: log})  # type: ignore[arg-type]
    logs.place = lambda task: (part, keyed(task, b""))  # type: ignore[method-assign]
    backends = {a: backend(tmp_path, a), b: backend(tmp_path, b)}
    backends[b].load("seen", {b"y": (b"1", None)}, 2)  # b is warm: complete before offset 2
    tp = TopicPartition(TOPIC, part)
    read = logs.restore_all(backends, {tp: (0, 6)})
    consumer: Scripted = logs._restorer  # type: ignore[assignment]
    assert consumer.assigned == [(part, 0)], "one read of the shared range"
    assert read == 3  # a's two changes, b's tombstone; b's offset 1 was already in its state
    assert backends[a].read("seen", b"x") is not None
    assert backends[a].read("seen", b"x").t == 99  # type: ignore[union-attr]
    assert backends[a].read("seen", b"late") is None, "past the end taken at the start"
    assert backends[b].read("seen", b"y") is None
    assert backends[a].checkpoint("seen") == backends[b].checkpoint("seen") == 6


def test_a_tail_of_transaction_markers_ends_at_the_partition_end(tmp_path: Path) -> None:
    task = TaskId(2)
    logs = changelogs(tmp_path, TopicFlow(envelope=None), {2: [Msg(0, b"k", b"v")]})  # type: ignore[arg-type]
    store = backend(tmp_path, task)
    store.load("seen", {b"k": (b"v", None)}, 1)  # the marker at offset 1 is not in the state
    started = time.monotonic()
    assert logs.restore(task, store, {TopicPartition(TOPIC, 2): (0, 2)}) == 0
    assert time.monotonic() - started < 1, "finished by the end-of-partition event"
    assert store.checkpoint("seen") == 2, "past the marker: the next restart reads nothing"


def test_a_caught_up_task_reads_nothing_and_keeps_a_young_checkpoint(tmp_path: Path) -> None:
    task = TaskId(1)
    logs = changelogs(tmp_path, TopicFlow(envelope=None), {1: []})  # type: ignore[arg-type]
    store = backend(tmp_path, task)
    store.load("seen", {}, 5)
    written = store.db.execute("SELECT written FROM checkpoints").fetchone()[0]
    assert logs.restore(task, store, {TopicPartition(TOPIC, 1): (0, 5)}) == 0
    consumer: Scripted = logs._restorer  # type: ignore[assignment]
    assert consumer.assigned == []
    assert store.db.execute("SELECT written FROM checkpoints").fetchone()[0] == written
    # an ageing checkpoint is refreshed, so an idle task does not fall back to a full read
    store.db.execute("UPDATE checkpoints SET written = ?", (time.time() - 4 * 3600,))
    assert logs.restore(task, store, {TopicPartition(TOPIC, 1): (0, 5)}) == 0
    assert store.checkpoint_age("seen") is not None
    assert store.checkpoint_age("seen") < 60  # type: ignore[operator]


def test_a_checkpoint_outside_the_topic_restores_in_full(tmp_path: Path) -> None:
    task = TaskId(0)
    log = {0: [Msg(i, f"k{i % 4}".encode(), f"v{i}".encode()) for i in range(10)]}
    logs = changelogs(tmp_path, TopicFlow(envelope=None), log)  # type: ignore[arg-type]
    store = backend(tmp_path, task)
    store.load("seen", {b"stale": (b"x", None)}, 50)  # the topic was recreated: 50 > end
    assert logs.restore(task, store, {TopicPartition(TOPIC, 0): (0, 10)}) == 10
    assert store.read("seen", b"stale") is None
    assert store.count("seen") == 4
    assert store.read("seen", b"k1").value == b"v9"  # type: ignore[union-attr]
    assert store.checkpoint("seen") == 10
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1, "NORMAL again"
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_state_file_has_pages_that_hold_a_national_list_entry(tmp_path: Path) -> None:
    store = backend(tmp_path, TaskId(0))
    store.load("seen", {b"e": (b"x" * 1400, None)}, 1)
    assert store.db.execute("PRAGMA page_size").fetchone()[0] == 8192
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    again = backend(tmp_path, TaskId(0))  # reopened: the same file, the same pages
    assert again.read("seen", b"e") is not None
    assert again.checkpoint("seen") == 1


def test_a_restore_tells_the_offsets_it_has_left_down_to_zero(tmp_path: Path) -> None:
    """``courtbus_restore_remaining_offsets``: the whole range at the start, less after each
    fetch (the scripted consumer hands out three records a call), none at the end."""
    task = TaskId(0)
    log = {0: [Msg(i, f"k{i}".encode(), b"v") for i in range(10)]}
    logs = changelogs(tmp_path, TopicFlow(envelope=None), log)  # type: ignore[arg-type]
    left: list[int] = []
    read = logs.restore_all(
        {task: backend(tmp_path, task)}, {TopicPartition(TOPIC, 0): (0, 10)}, left.append
    )
    assert read == 10
    assert left[0] == 10 and left[-1] == 0
    assert left == sorted(left, reverse=True), "never up"
    assert 7 in left and 1 in left, "told as the fetches go: after 3, after 9 records"


def test_a_restore_with_nothing_to_read_tells_zero_once(tmp_path: Path) -> None:
    task = TaskId(1)
    logs = changelogs(tmp_path, TopicFlow(envelope=None), {1: []})  # type: ignore[arg-type]
    store = backend(tmp_path, task)
    store.load("seen", {}, 5)
    left: list[int] = []
    assert logs.restore_all({task: store}, {TopicPartition(TOPIC, 1): (0, 5)}, left.append) == 0
    assert left == [0]
