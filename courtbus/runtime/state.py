"""One task's state as a flow sees it: typed tables and timers over a backend, with undo.

Writes go to a per-record layer, then a per-batch layer, and reach the backend (SQLite on
disk, or memory in the harness) only after the batch's Kafka transaction commits; a refused
record or an aborted batch is undone by dropping its layer. ``changes()`` is what the batch
must write to the changelogs (for a packed store, its puts as one record: see
``courtbus.runtime.packs``). No Kafka client here.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from courtbus.errors import StateError
from courtbus.runtime.flow import TIMERS, StoreSpec
from courtbus.runtime.packs import PACK, pack_all

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored value and its time column: expiry for tables, due time for timers (ms)."""

    value: bytes | None  # None: deleted
    t: int | None = None


Changes = dict[tuple[str, bytes], Entry]
EVICTED = -1  # time column of an eviction in a packed store: applied here, not logged


class Backend(Protocol):
    """Where one task's committed state lives (``SqliteBackend``, ``MemoryBackend``)."""

    def read(self, store: str, key: bytes) -> Entry | None:
        """The committed entry, or None."""
        ...

    def read_many(self, store: str, keys: list[bytes]) -> dict[bytes, Entry]:
        """The committed entries of those ``keys`` that have one (a batch's lookups at once)."""
        ...

    def upto(self, store: str, t_ms: int, limit: int) -> list[tuple[bytes, Entry]]:
        """Entries whose time column is at or before ``t_ms``, earliest first."""
        ...

    def write(
        self, changes: Mapping[tuple[str, bytes], Entry], checkpoints: Mapping[str, int]
    ) -> None:
        """Apply changes and changelog checkpoints atomically."""
        ...

    def checkpoint(self, store: str) -> int | None:
        """The changelog offset the store is complete up to (exclusive), or None."""
        ...

    def count(self, store: str) -> int:
        """How many entries a store holds."""
        ...

    def clear(self, store: str) -> None:
        """Drop a store's entries and checkpoint (before a full restore)."""
        ...

    def close(self) -> None:
        """Release the backend."""
        ...


def to_ms(when: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return int(when.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """An aware UTC datetime from epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class State:
    """The state of one task: what ``Flow.on_event`` and ``Flow.on_tick`` read and change."""

    def __init__(self, task: str, backend: Backend, specs: tuple[StoreSpec[Any], ...]) -> None:
        self.task = task
        self.backend = backend
        self.specs = {s.name: s for s in specs}
        self._packed = frozenset(s.name for s in specs if s.packed)
        self._batch: Changes = {}
        self._record: Changes = {}
        self._logged: Changes | None = None  # changes() of a batch with packed stores
        self._markers: Changes = {}  # the packs' markers, written with the batch
        # committed entries read ahead for the batch (None: none); emptied when it commits
        self._read: dict[tuple[str, bytes], Entry | None] = {}
        self.timers = Timers(self)
        self.now = datetime.now(UTC)  # the time of the batch or tick being processed

    # -- layers ---------------------------------------------------------------------------

    def _get(self, store: str, key: bytes) -> Entry | None:
        found = self._record.get((store, key)) or self._batch.get((store, key))
        if found is None:
            ahead = self._read.get((store, key), self)
            found = self.backend.read(store, key) if ahead is self else ahead  # type: ignore[assignment]
        return None if found is None or found.value is None else found

    def prefetch(self, store: str, keys: list[bytes]) -> None:
        """Read the committed entries of ``keys`` in one lookup, for the records to come.

        An optimisation only: a key not read ahead is read when it is asked for. What the
        batch writes still comes first; the entries read ahead are forgotten when the batch
        commits or is rolled back (the backend changes then).
        """
        wanted = [k for k in keys if (store, k) not in self._read]
        if not wanted:
            return
        found = self.backend.read_many(store, wanted)
        for key in wanted:
            self._read[(store, key)] = found.get(key)

    def _set(self, store: str, key: bytes, entry: Entry) -> None:
        self._record[(store, key)] = entry

    def commit_record(self) -> None:
        """Keep what the current record changed (it was applied)."""
        if self._record:
            self._batch.update(self._record)
            self._record.clear()
            self._logged = None

    def rollback_record(self) -> None:
        """Forget what the current record changed (it was refused or failed)."""
        self._record.clear()

    def rollback(self) -> None:
        """Forget the whole batch (its transaction was aborted)."""
        self._record.clear()
        self._batch.clear()
        self._logged = None
        self._markers = {}
        self._read = {}

    def changes(self) -> Changes:
        """What the batch changed, for the changelogs (the same until the batch changes)."""
        if not self._packed:
            return self._batch
        if self._logged is None:
            self._logged, self._markers = self._pack()
        return self._logged

    def _pack(self) -> tuple[Changes, Changes]:
        logged: Changes = {}
        puts: dict[str, list[tuple[bytes, bytes, int | None]]] = {}
        for (store, key), entry in self._batch.items():
            if store not in self._packed or key.startswith(PACK):
                logged[(store, key)] = entry  # a pack's tombstone, or another store's change
            elif entry.value is not None:
                puts.setdefault(store, []).append((key, entry.value, entry.t))
            elif entry.t != EVICTED:
                raise StateError(
                    f"{store} is packed: its entries leave by expiry only", code="STORE_PACKED"
                )
        markers: Changes = {}
        for store, items in puts.items():
            times = [t for _, _, t in items]  # a pack lives until all its entries expired
            t = None if None in times else max(t for t in times if t is not None)
            for value in pack_all(items):
                key = PACK + os.urandom(12).hex().encode()
                logged[(store, key)] = Entry(value, t)
                markers[(store, key)] = Entry(b"", t)
        return logged, markers

    def committed(self, checkpoints: Mapping[str, int]) -> None:
        """The batch's transaction committed: write it to the backend with its checkpoints."""
        if self._packed:
            self.changes()  # the packs' markers, if the changelog records were not asked for
        self.backend.write({**self._batch, **self._markers}, checkpoints)
        self._batch = {}
        self._read = {}
        self._logged = None
        self._markers = {}

    def _upto(self, store: str, t_ms: int, limit: int) -> list[tuple[bytes, Entry]]:
        pending = {**self._batch, **self._record}
        moved = sum(1 for name, _ in pending if name == store)  # may hide committed entries
        found = {
            key: entry
            for key, entry in self.backend.upto(store, t_ms, limit + moved)
            if (store, key) not in pending
        }
        for (name, key), entry in pending.items():
            if (
                name == store
                and entry.value is not None
                and entry.t is not None
                and entry.t <= t_ms
            ):
                found[key] = entry
        return heapq.nsmallest(limit, found.items(), key=lambda kv: (kv[1].t or 0, kv[0]))

    # -- what flows use -------------------------------------------------------------------

    def table(self, spec: StoreSpec[V]) -> Table[V]:
        """The typed view of one of the flow's stores."""
        return Table(self, spec)

    def expired(self, now: datetime, limit: int = 10_000) -> Iterator[tuple[str, str]]:
        """(store, key) of table entries whose retention ran out at ``now``."""
        for store in self.specs:
            for key, _ in self._upto(store, to_ms(now), limit):
                yield store, key.decode()

    def evict(self, store: str, key: str) -> None:
        """Remove an entry whose retention ran out (a packed store's stays out of the log)."""
        raw = key.encode()
        local = store in self._packed and not raw.startswith(PACK)
        self._set(store, raw, Entry(None, EVICTED if local else None))


class Table(Generic[V]):
    """One store of one task, with typed values."""

    def __init__(self, state: State, spec: StoreSpec[V]) -> None:
        self._state = state
        self._spec = spec

    def get(self, key: str) -> V | None:
        """The value under ``key``, or None."""
        entry = self._state._get(self._spec.name, key.encode())
        return None if entry is None or entry.value is None else self._spec.load(entry.value)

    def __contains__(self, key: str) -> bool:
        return self._state._get(self._spec.name, key.encode()) is not None

    def prefetch(self, keys: list[str]) -> None:
        """Look ``keys`` up at once ahead of the records that will ask (``State.prefetch``)."""
        self._state.prefetch(self._spec.name, [k.encode() for k in keys])

    def put(self, key: str, value: V, *, expires: datetime | None = None) -> None:
        """Store ``value``; with ``expires`` the runtime deletes it then (eviction)."""
        t = to_ms(expires) if expires is not None else None
        self._state._set(self._spec.name, key.encode(), Entry(self._spec.dump(value), t))

    def delete(self, key: str) -> None:
        """Remove ``key`` (a tombstone in the changelog).

        Raises:
            StateError: ``STORE_PACKED``: a packed store's entries leave by expiry only.
        """
        if self._spec.packed:
            raise StateError(
                f"{self._spec.name} is packed: its entries leave by expiry only",
                code="STORE_PACKED",
            )
        self._state._set(self._spec.name, key.encode(), Entry(None))


class Timers:
    """A task's timers, indexed by due time: never a scan of every entity."""

    def __init__(self, state: State) -> None:
        self._state = state

    def schedule(self, key: str, due: datetime) -> None:
        """Fire ``key`` at ``due`` (replaces an earlier schedule of the same key)."""
        self._state._set(TIMERS, key.encode(), Entry(b"", to_ms(due)))

    def cancel(self, key: str) -> None:
        """Forget the timer ``key`` (nothing happens if there is none)."""
        if self._state._get(TIMERS, key.encode()) is not None:
            self._state._set(TIMERS, key.encode(), Entry(None))

    def get(self, key: str) -> datetime | None:
        """When ``key`` fires, or None."""
        entry = self._state._get(TIMERS, key.encode())
        return None if entry is None or entry.t is None else from_ms(entry.t)

    def due(self, now: datetime, limit: int = 10_000) -> list[tuple[str, datetime]]:
        """Timers due at ``now``, earliest first (they stay until cancelled or rescheduled)."""
        return [
            (key.decode(), from_ms(entry.t or 0))
            for key, entry in self._state._upto(TIMERS, to_ms(now), limit)
        ]

    def due_entries(
        self,
        table: Table[V],
        now: datetime,
        *,
        tombstone_at: Callable[[V], datetime | None] | None = None,
        limit: int = 10_000,
    ) -> Iterator[Due[V]]:
        """The timers due at ``now`` that are keyed like ``table``, each with its entry,
        earliest first: the loop every flow's ``on_tick`` runs (see ``entry``).

        A generator: each timer's entry is read when the caller asks for the next, after what
        the caller did with the one before.

        Raises:
            StateError: ``STORE_PACKED`` (a tombstone due in a packed store).
        """
        for key, _due in self.due(now, limit):
            found = self.entry(table, key, now, tombstone_at=tombstone_at)
            if found is not None:
                yield found

    def entry(
        self,
        table: Table[V],
        key: str,
        now: datetime,
        *,
        tombstone_at: Callable[[V], datetime | None] | None = None,
    ) -> Due[V] | None:
        """The entry of the due timer ``key`` in ``table`` (one step of ``due_entries``, for a
        flow with timers of its own besides the table's).

        None if the entry is gone: its timer is cancelled. With ``tombstone_at`` (when an
        entry's tombstone falls due, or None), an entry whose tombstone time has come is
        deleted and its timer cancelled, and comes back ``tombstoned``: the caller writes the
        tombstone to its view. Any other entry keeps its timer: the caller reschedules or
        cancels it.

        Raises:
            StateError: ``STORE_PACKED`` (a tombstone due in a packed store).
        """
        value = table.get(key)
        if value is None:
            self.cancel(key)
            return None
        at = tombstone_at(value) if tombstone_at is not None else None
        if at is not None and now >= at:
            table.delete(key)
            self.cancel(key)
            return Due(key, value, tombstoned=True)
        return Due(key, value)


@dataclass(frozen=True, slots=True)
class Due(Generic[V]):
    """A due timer and its table entry (``Timers.due_entries``).

    ``tombstoned``: the entry's tombstone time had come; it is deleted and its timer
    cancelled (``value`` is what it held), and the flow writes the tombstone to its view.
    """

    key: str
    value: V
    tombstoned: bool = False


class MemoryBackend:
    """A task's committed state in memory: for the harness and unit tests."""

    def __init__(self) -> None:
        self.data: dict[str, dict[bytes, Entry]] = {}
        self.checkpoints: dict[str, int] = {}

    def read(self, store: str, key: bytes) -> Entry | None:
        """The committed entry, or None."""
        return self.data.get(store, {}).get(key)

    def read_many(self, store: str, keys: list[bytes]) -> dict[bytes, Entry]:
        """The committed entries of those ``keys`` that have one."""
        data = self.data.get(store, {})
        return {k: data[k] for k in keys if k in data}

    def upto(self, store: str, t_ms: int, limit: int) -> list[tuple[bytes, Entry]]:
        """Entries due at or before ``t_ms``, earliest first."""
        found = [
            (k, e) for k, e in self.data.get(store, {}).items() if e.t is not None and e.t <= t_ms
        ]
        return sorted(found, key=lambda kv: (kv[1].t or 0, kv[0]))[:limit]

    def write(
        self, changes: Mapping[tuple[str, bytes], Entry], checkpoints: Mapping[str, int]
    ) -> None:
        """Apply changes and checkpoints."""
        for (store, key), entry in changes.items():
            if entry.value is None:
                self.data.get(store, {}).pop(key, None)
            else:
                self.data.setdefault(store, {})[key] = entry
        self.checkpoints.update(checkpoints)

    def checkpoint(self, store: str) -> int | None:
        """The store's checkpoint, or None."""
        return self.checkpoints.get(store)

    def count(self, store: str) -> int:
        """How many entries a store holds."""
        return len(self.data.get(store, {}))

    def clear(self, store: str) -> None:
        """Drop a store."""
        self.data.pop(store, None)
        self.checkpoints.pop(store, None)

    def close(self) -> None:
        """Nothing to release."""
