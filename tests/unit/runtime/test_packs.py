"""Packed stores: a batch's puts are one changelog record, a restore unpacks it, expiry evicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import TopicPartition

from courtbus.config import Connection
from courtbus.errors import StateError
from courtbus.runtime.changelogs import Changelogs
from courtbus.runtime.config import WorkerConfig
from courtbus.runtime.engine import Engine
from courtbus.runtime.flow import Flow, Incoming, Inputs, StoreSpec
from courtbus.runtime.packs import PACK, pack_all, unpack
from courtbus.runtime.sqlite import SqliteBackend
from courtbus.runtime.state import Changes, MemoryBackend, State

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SEEN: StoreSpec[str] = StoreSpec("seen", str.encode, bytes.decode, packed=True)
PLAIN: StoreSpec[str] = StoreSpec("plain", str.encode, bytes.decode)


class Packed(Flow):
    name = "packed"
    source = "bus:packed"
    inputs = Inputs(pattern=r"court\..*\.outbox")
    stores = (SEEN, PLAIN)

    def on_event(self, record: Incoming, state: State) -> list[Any]:
        return []


def batch(state: State, keys: list[str], expires: datetime) -> None:
    for key in keys:
        state.table(SEEN).put(key, f"at {key}", expires=expires)
        state.commit_record()


def test_a_batch_of_puts_is_one_changelog_record_beside_the_other_stores_changes() -> None:
    state = State("t", MemoryBackend(), Packed.stores)
    batch(state, [f"id-{i}" for i in range(500)], T0 + timedelta(days=7))
    state.table(PLAIN).put("p", "v")
    state.commit_record()
    changes = state.changes()
    assert changes is state.changes()  # asked twice (a tick, then its commit): the same packs
    packs = [(k, e) for (s, k), e in changes.items() if s == "seen"]
    assert len(packs) == 1 and packs[0][0].startswith(PACK)
    assert ("plain", b"p") in changes
    items = unpack(packs[0][1].value or b"")
    assert [k for k, _, _ in items] == [f"id-{i}".encode() for i in range(500)]
    assert packs[0][1].t == int((T0 + timedelta(days=7)).timestamp() * 1000)


def test_a_large_batch_is_split_into_packs_under_the_limit() -> None:
    items = [(f"k{i}".encode(), b"x" * 100, 1) for i in range(100)]
    packs = pack_all(items, limit=1000)
    assert len(packs) > 1 and all(len(p) <= 1000 for p in packs)
    assert [i for p in packs for i in unpack(p)] == items


def test_a_corrupt_pack_is_a_state_error() -> None:
    with pytest.raises(StateError) as caught:
        unpack(pack_all([(b"k", b"value", None)])[0][:-2])
    assert caught.value.code == "PACK_CORRUPT"


def test_entries_of_a_packed_store_leave_by_expiry_only() -> None:
    state = State("t", MemoryBackend(), Packed.stores)
    with pytest.raises(StateError) as caught:
        state.table(SEEN).delete("x")
    assert caught.value.code == "STORE_PACKED"


@dataclass
class Rec:
    offset: int
    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class FakeLog:
    """A changelog partition and the part of a consumer ``Changelogs._read`` uses."""

    def __init__(self) -> None:
        self.records: list[Rec] = []
        self.at = 0

    def append(self, changelogs: Changelogs, task: Any, changes: Changes) -> None:
        for (store, key), entry in changes.items():
            _, record_key, headers = changelogs.record(task, store, key, entry)
            if store == "seen":
                self.records.append(Rec(len(self.records), record_key, entry.value, headers))

    def assign(self, tps: list[TopicPartition]) -> None:
        pass

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at = offset

    def position(self, tp: TopicPartition) -> int:
        return self.at

    def poll(self, timeout_ms: int, max_records: int) -> dict[Any, list[Rec]]:
        got = self.records[self.at : self.at + max_records]
        self.at += len(got)
        return {self.tp: got} if got else {}

    def unsubscribe(self) -> None:
        pass

    tp = TopicPartition("bus.packed.seen.changelog", 0)


def test_a_restore_unpacks_the_batches_and_an_expired_pack_is_tombstoned(tmp_path: Path) -> None:
    config = WorkerConfig(Connection(bootstrap="localhost:1", registry_url=None), tmp_path)
    changelogs = Changelogs(Packed(envelope=None), config)  # type: ignore[arg-type]  # unused
    task = changelogs.task_of(TopicPartition("court.3205.outbox", 0))
    log = FakeLog()
    state = State("t", MemoryBackend(), Packed.stores)
    batch(state, ["a", "b"], T0 + timedelta(days=7))
    log.append(changelogs, task, state.changes())
    state.committed({})
    batch(state, ["c"], T0 + timedelta(days=8))
    log.append(changelogs, task, state.changes())
    state.committed({})
    assert len(log.records) == 2  # one record per batch, not one per entry

    def restored() -> State:
        from tests.unit.runtime.test_restore import Msg, Scripted

        backend = SqliteBackend(tmp_path / f"r{len(log.records)}.sqlite", changelogs.stores)
        partition, _ = changelogs.place(task)
        msgs = [Msg(r.offset, r.key, r.value, r.headers) for r in log.records]
        changelogs._restorer = Scripted({partition: msgs})  # type: ignore[assignment]
        from courtbus.runtime.changelogs import changelog_topic

        bounds = {
            TopicPartition(changelog_topic(Packed.name, st), partition): (0, 0)
            for st in changelogs.stores
        }
        bounds[TopicPartition(log.tp.topic, partition)] = (0, len(log.records))
        changelogs.restore(task, backend, bounds)
        return State("t", backend, Packed.stores)

    again = restored()
    assert [again.table(SEEN).get(k) for k in "abc"] == ["at a", "at b", "at c"]
    # the first batch's entries expire: evicted here, and the first pack's tombstone logged
    engine = Engine(Packed(envelope=None))  # type: ignore[arg-type]  # unused
    engine.tick(T0 + timedelta(days=7, seconds=1), state)
    assert state.table(SEEN).get("a") is None and state.table(SEEN).get("c") == "at c"
    tombstones = state.changes()
    assert [(s, k[: len(PACK)], e.value) for (s, k), e in tombstones.items()] == [
        ("seen", PACK, None)
    ]
    log.append(changelogs, task, tombstones)
    state.committed({})
    later = restored()  # a restart now: the remaining pack still holds c; a, b are gone
    engine.tick(T0 + timedelta(days=7, seconds=1), later)
    assert [later.table(SEEN).get(k) for k in "abc"] == [None, None, "at c"]
