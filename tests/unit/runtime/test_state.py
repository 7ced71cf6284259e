"""A task's state: record and batch layers over a backend, tables, timers, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from courtbus.bus.records import KeptRecord
from courtbus.errors import CourtbusError
from courtbus.runtime.flow import TIMERS, Incoming, Inputs, json_store
from courtbus.runtime.sqlite import SqliteBackend
from courtbus.runtime.state import Due, Entry, MemoryBackend, State, from_ms, to_ms

T0 = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
ITEMS = json_store("items")
OTHER = json_store("other")


def make() -> State:
    return State("task-0", MemoryBackend(), (ITEMS, OTHER))


def committed(state: State, key: str = "k") -> Entry | None:
    return state.backend.read(ITEMS.name, key.encode())


def test_a_put_is_visible_at_once_and_reaches_the_backend_only_on_commit() -> None:
    state = make()
    items = state.table(ITEMS)
    items.put("k", {"n": 1})
    assert items.get("k") == {"n": 1}
    assert "k" in items
    assert committed(state) is None
    state.commit_record()
    assert committed(state) is None  # in the batch, not yet in the backend
    assert state.changes() == {(ITEMS.name, b"k"): Entry(b'{"n":1}', None)}
    state.committed({ITEMS.name: 7})
    assert committed(state) == Entry(b'{"n":1}', None)
    assert state.backend.checkpoint(ITEMS.name) == 7
    assert state.changes() == {}
    assert items.get("k") == {"n": 1}


def test_rolling_back_a_record_keeps_the_batch() -> None:
    state = make()
    items = state.table(ITEMS)
    items.put("kept", 1)
    state.commit_record()
    items.put("dropped", 2)
    items.put("kept", 99)  # overwrites in the record layer
    items.delete("kept")
    assert items.get("kept") is None
    state.rollback_record()
    assert items.get("kept") == 1
    assert items.get("dropped") is None
    assert "dropped" not in items
    assert set(state.changes()) == {(ITEMS.name, b"kept")}


def test_rolling_back_the_batch_forgets_everything_since_the_last_commit() -> None:
    state = make()
    items = state.table(ITEMS)
    items.put("old", 1)
    state.commit_record()
    state.committed({})
    items.put("old", 2)
    items.put("new", 3)
    state.commit_record()
    items.delete("old")
    state.rollback()
    assert items.get("old") == 1
    assert items.get("new") is None
    assert state.changes() == {}
    state.committed({})
    assert state.backend.count(ITEMS.name) == 1


def test_a_delete_hides_the_backend_value_until_committed() -> None:
    state = make()
    items = state.table(ITEMS)
    items.put("k", "v")
    state.commit_record()
    state.committed({})
    items.delete("k")
    assert items.get("k") is None
    assert "k" not in items
    assert committed(state) is not None
    state.commit_record()
    assert state.changes() == {(ITEMS.name, b"k"): Entry(None)}  # a tombstone for the changelog
    state.committed({})
    assert committed(state) is None
    assert state.backend.count(ITEMS.name) == 0


def test_stores_are_separate() -> None:
    state = make()
    state.table(ITEMS).put("k", 1)
    state.table(OTHER).put("k", 2)
    assert (state.table(ITEMS).get("k"), state.table(OTHER).get("k")) == (1, 2)


def test_timers_are_due_in_time_order() -> None:
    state = make()
    state.timers.schedule("c", T0 + timedelta(hours=3))
    state.timers.schedule("a", T0 + timedelta(hours=1))
    state.timers.schedule("b", T0 + timedelta(hours=2))
    state.timers.schedule("late", T0 + timedelta(days=1))
    state.commit_record()
    state.committed({})
    state.timers.schedule("b2", T0 + timedelta(hours=2))  # same time: ordered by key
    state.timers.schedule("z", T0)  # pending in the record layer, earliest
    now = T0 + timedelta(hours=3)
    assert state.timers.due(now) == [
        ("z", T0),
        ("a", T0 + timedelta(hours=1)),
        ("b", T0 + timedelta(hours=2)),
        ("b2", T0 + timedelta(hours=2)),
        ("c", T0 + timedelta(hours=3)),
    ]
    assert [k for k, _ in state.timers.due(now, limit=2)] == ["z", "a"]
    assert state.timers.due(T0 - timedelta(seconds=1)) == []


def test_due_entries_cancel_the_gone_and_tombstone_what_is_due() -> None:
    state = make()
    items = state.table(ITEMS)
    items.put("live", {"n": 1})
    items.put("leaving", {"n": 2, "tomb": to_ms(T0)})
    items.put("later", {"n": 3, "tomb": to_ms(T0 + timedelta(days=1))})
    for key in ("gone", "later", "leaving", "live"):
        state.timers.schedule(key, T0)
    due = list(
        state.timers.due_entries(
            items, T0, tombstone_at=lambda v: from_ms(v["tomb"]) if "tomb" in v else None
        )
    )
    assert due == [
        Due("later", {"n": 3, "tomb": to_ms(T0 + timedelta(days=1))}),
        Due("leaving", {"n": 2, "tomb": to_ms(T0)}, tombstoned=True),
        Due("live", {"n": 1}),
    ]
    assert state.timers.get("gone") is None and state.timers.get("leaving") is None
    assert items.get("leaving") is None and "later" in items
    assert state.timers.get("live") == T0  # kept: the flow reschedules or cancels it
    assert [d.key for d in state.timers.due_entries(items, T0)] == ["later", "live"]


def test_pending_changes_overlay_committed_timers() -> None:
    state = make()
    for key, hours in (("a", 1), ("b", 2), ("c", 3)):
        state.timers.schedule(key, T0 + timedelta(hours=hours))
    state.commit_record()
    state.committed({})
    state.timers.schedule("a", T0 + timedelta(days=2))  # rescheduled after now
    state.timers.cancel("b")
    state.commit_record()
    state.timers.schedule("c", T0 + timedelta(minutes=30))  # brought forward
    now = T0 + timedelta(hours=4)
    assert state.timers.due(now) == [("c", T0 + timedelta(minutes=30))]
    assert state.timers.get("a") == T0 + timedelta(days=2)
    assert state.timers.get("b") is None
    state.rollback_record()
    assert state.timers.due(now) == [("c", T0 + timedelta(hours=3))]
    state.rollback()
    assert [k for k, _ in state.timers.due(now)] == ["a", "b", "c"]


def test_timers_stay_until_cancelled() -> None:
    state = make()
    state.timers.schedule("a", T0)
    assert state.timers.due(T0 + timedelta(days=1)) == [("a", T0)]
    assert state.timers.due(T0 + timedelta(days=2)) == [("a", T0)]
    state.timers.cancel("a")
    assert state.timers.due(T0 + timedelta(days=2)) == []


def test_cancelling_an_unknown_timer_writes_nothing() -> None:
    state = make()
    state.timers.cancel("nothing")
    state.commit_record()
    assert state.changes() == {}


def test_timers_are_kept_in_their_own_store() -> None:
    state = make()
    state.timers.schedule("a", T0)
    state.commit_record()
    state.committed({})
    assert state.backend.count(TIMERS) == 1
    assert state.backend.read(TIMERS, b"a") == Entry(b"", to_ms(T0))
    assert list(state.expired(T0 + timedelta(days=1))) == []  # timers never expire as entries


def test_expired_lists_entries_whose_retention_ran_out() -> None:
    state = make()
    items = state.table(ITEMS)
    items.put("soon", 1, expires=T0 + timedelta(hours=1))
    items.put("later", 2, expires=T0 + timedelta(days=1))
    items.put("forever", 3)
    state.table(OTHER).put("soon", 4, expires=T0)
    state.commit_record()
    state.committed({})
    assert sorted(state.expired(T0 + timedelta(hours=1))) == [("items", "soon"), ("other", "soon")]
    items.put("soon", 1)  # kept again, with no expiry: pending change wins
    assert list(state.expired(T0 + timedelta(hours=1))) == [("other", "soon")]


def test_time_conversions_round_trip_to_the_millisecond() -> None:
    t = T0 + timedelta(milliseconds=123)
    assert from_ms(to_ms(t)) == t
    assert to_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0


def test_json_store_round_trips() -> None:
    value = {"a": [1, 2.5, "三"], "b": None}
    assert ITEMS.load(ITEMS.dump(value)) == value


def test_inputs_need_topics_or_a_pattern_not_both() -> None:
    with pytest.raises(CourtbusError) as info:
        Inputs()
    assert info.value.code == "FLOW_INPUTS_INVALID"
    with pytest.raises(CourtbusError):
        Inputs(topics=("a",), pattern="b")
    assert Inputs(pattern="x").pattern == "x"


def test_a_raw_incoming_has_no_decoded_event() -> None:
    raw = KeptRecord("t", 0, 0, b"k", b"v")
    with pytest.raises(CourtbusError) as info:
        _ = Incoming(raw, None).decoded
    assert info.value.code == "FLOW_RAW_INPUT"


def test_due_with_a_limit_skips_over_entries_the_batch_moved() -> None:
    state = make()
    state.timers.schedule("a", T0)
    state.timers.schedule("b", T0 + timedelta(minutes=1))
    state.commit_record()
    state.committed({})
    state.timers.schedule("a", T0 + timedelta(days=1))  # handled: re-aimed at tomorrow
    assert state.timers.due(T0 + timedelta(hours=1), limit=1) == [("b", T0 + timedelta(minutes=1))]


class _CountingBackend(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.bulk_reads = 0

    def read(self, store: str, key: bytes) -> Entry | None:
        self.reads += 1
        return super().read(store, key)

    def read_many(self, store: str, keys: list[bytes]) -> dict[bytes, Entry]:
        self.bulk_reads += 1
        return super().read_many(store, keys)


def test_prefetched_keys_are_read_once_and_the_batch_still_comes_first() -> None:
    backend = _CountingBackend()
    state = State("task-0", backend, (ITEMS, OTHER))
    items = state.table(ITEMS)
    items.put("a", {"n": 1})
    state.commit_record()
    state.committed({})
    items.prefetch(["a", "b", "c"])
    assert backend.bulk_reads == 1
    assert items.get("a") == {"n": 1} and items.get("b") is None and "c" not in items
    assert backend.reads == 0  # all three answered from the lookup ahead
    items.put("b", {"n": 2})  # a write of the batch hides what was read ahead
    assert items.get("b") == {"n": 2}
    assert items.get("d") is None and backend.reads == 1  # not read ahead: read now
    state.commit_record()
    state.committed({})
    items.put("c", {"n": 3})
    state.commit_record()
    state.committed({})  # the backend changed: what was read ahead is forgotten
    assert items.get("c") == {"n": 3} and items.get("b") == {"n": 2}


def test_a_rolled_back_batch_forgets_what_was_read_ahead() -> None:
    state = make()
    items = state.table(ITEMS)
    items.prefetch(["k"])
    state.backend.write({(ITEMS.name, b"k"): Entry(b'{"n":1}')}, {})  # e.g. a restore
    state.rollback()
    assert items.get("k") == {"n": 1}


def test_sqlite_reads_many_keys_in_chunks(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "t.sqlite", [ITEMS.name])
    stored = {(ITEMS.name, f"k{i}".encode()): Entry(b"v%d" % i, i) for i in range(0, 1200, 2)}
    backend.write(stored, {})
    found = backend.read_many(ITEMS.name, [f"k{i}".encode() for i in range(1200)])  # 3 chunks
    assert found == {key: entry for (_store, key), entry in stored.items()}
    backend.close()
