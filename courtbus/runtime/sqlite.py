"""A task's state on local disk, with its changelog checkpoints: one SQLite file per task
(``SqliteBackend``), or one per worker holding all its tasks (``StateFile``, for pattern inputs,
whose tasks are every topic-partition matched: thousands).

Why SQLite: it is in the standard library (no native wheel to build or pin), a page cache of
a few MiB keeps memory flat however many entities a task holds, an index on the time column
makes timers and eviction a range scan, and the checkpoint is written in the same SQLite
transaction as the data it describes, so the two can never disagree after a crash.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from courtbus.errors import StateError
from courtbus.runtime.state import Entry

_READ_CHUNK = 500  # keys per lookup (SQLite allows 32,766 parameters; short queries plan fast)


def _table(store: str) -> str:
    if not store.replace("_", "").isalnum():
        raise StateError(f"store name {store!r} must be letters, digits and _", code="STORE_NAME")
    return f"s_{store}"


# The page cache of a task's own file (``SqliteBackend``), and of a pattern worker's shared
# file (``StateFile``): a worker's RSS grows by up to these as its state is read and written.
TASK_CACHE_MIB = 8
FILE_CACHE_MIB = 64


class SqliteBackend:
    """The committed state of one task in ``path``."""

    cache_bytes = TASK_CACHE_MIB * 1024 * 1024  # its page cache's capacity

    def __init__(self, path: Path, stores: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # A new file's page size (an existing file keeps its own): a row of a WITHOUT ROWID
            # table larger than about a quarter of a page spills into overflow pages, and a
            # national-list entry (~1.3 KB) cost 4.5 KB and 17 µs to store with 4 KiB pages,
            # 1.3 KB and 5 µs with 8 KiB.
            self.db.execute("PRAGMA page_size=8192")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # a lost tail is replayed from Kafka
            self.db.execute(f"PRAGMA cache_size=-{TASK_CACHE_MIB * 1024}")  # per task
            for store in stores:
                t = _table(store)
                self.db.execute(
                    f'CREATE TABLE IF NOT EXISTS "{t}" '
                    "(k BLOB PRIMARY KEY, v BLOB NOT NULL, t INTEGER) WITHOUT ROWID"
                )
                self.db.execute(
                    f'CREATE INDEX IF NOT EXISTS "{t}_t" ON "{t}"(t, k) WHERE t IS NOT NULL'
                )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS checkpoints "
                "(store TEXT PRIMARY KEY, next_offset INTEGER NOT NULL, written REAL NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state file {path}: {exc}", code="STATE_OPEN") from exc
        self.path = path

    def read(self, store: str, key: bytes) -> Entry | None:
        """The committed entry, or None."""
        row = self.db.execute(f'SELECT v, t FROM "{_table(store)}" WHERE k = ?', (key,)).fetchone()
        return None if row is None else Entry(row[0], row[1])

    def read_many(self, store: str, keys: list[bytes]) -> dict[bytes, Entry]:
        """The committed entries of those ``keys`` that have one: one query per 500 keys."""
        found: dict[bytes, Entry] = {}
        table = _table(store)
        for at in range(0, len(keys), _READ_CHUNK):
            chunk = keys[at : at + _READ_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f'SELECT k, v, t FROM "{table}" WHERE k IN ({marks})', chunk
            ).fetchall()
            for k, v, t in rows:
                found[k] = Entry(v, t)
        return found

    def upto(self, store: str, t_ms: int, limit: int) -> list[tuple[bytes, Entry]]:
        """Entries whose time column is at or before ``t_ms``, earliest first."""
        rows = self.db.execute(
            f'SELECT k, v, t FROM "{_table(store)}" WHERE t IS NOT NULL AND t <= ? '
            "ORDER BY t, k LIMIT ?",
            (t_ms, limit),
        ).fetchall()
        return [(k, Entry(v, t)) for k, v, t in rows]

    def write(
        self, changes: Mapping[tuple[str, bytes], Entry], checkpoints: Mapping[str, int]
    ) -> None:
        """Apply changes and changelog checkpoints in one SQLite transaction."""
        by_store: dict[str, tuple[list[tuple[bytes, bytes, int | None]], list[tuple[bytes]]]] = {}
        for (store, key), entry in changes.items():
            puts, deletes = by_store.setdefault(store, ([], []))
            if entry.value is None:
                deletes.append((key,))
            else:
                puts.append((key, entry.value, entry.t))
        now = time.time()
        try:
            self.db.execute("BEGIN")
            for store, (puts, deletes) in by_store.items():
                t = _table(store)
                if deletes:
                    self.db.executemany(f'DELETE FROM "{t}" WHERE k = ?', deletes)
                if puts:
                    self.db.executemany(f'INSERT OR REPLACE INTO "{t}" VALUES (?, ?, ?)', puts)
            self.db.executemany(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
                [(store, offset, now) for store, offset in checkpoints.items()],
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self.db.execute("ROLLBACK")
            raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc

    def load(
        self, store: str, rows: Mapping[bytes, tuple[bytes | None, int | None]], next_offset: int
    ) -> None:
        """Apply restored changelog records (value None: a tombstone) and the store's checkpoint.

        The restore's fast path: one SQLite transaction, no ``Entry`` per record.

        Raises:
            StateError: ``STATE_WRITE``.
        """
        t = _table(store)
        puts = [(k, v, at) for k, (v, at) in rows.items() if v is not None]
        deletes = [(k,) for k, (v, _) in rows.items() if v is None]
        try:
            self.db.execute("BEGIN")
            if deletes:
                self.db.executemany(f'DELETE FROM "{t}" WHERE k = ?', deletes)
            if puts:
                self.db.executemany(f'INSERT OR REPLACE INTO "{t}" VALUES (?, ?, ?)', puts)
            self.db.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
                (store, next_offset, time.time()),
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self.db.execute("ROLLBACK")
            raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Writes without fsync, without the WAL and with a bigger cache, for a full restore.

        The state is a copy of the changelog, so durability can wait until the end: a rollback
        journal (``TRUNCATE``: a fresh store's new pages need no journal, where the WAL wrote
        every page twice) and ``synchronous=OFF``. A crash of the process keeps the file whole
        and the checkpoint written with the last batch says where to go on; an OS crash or a
        power loss meanwhile may not, as with any unsynced write. Afterwards the file is back
        in WAL mode with ``synchronous=NORMAL`` (which syncs it once).

        Raises:
            StateError: ``STATE_WRITE``.
        """
        try:
            self.db.execute("PRAGMA journal_mode=TRUNCATE")
            self.db.execute("PRAGMA synchronous=OFF")
            self.db.execute("PRAGMA cache_size=-65536")  # 64 MiB while loading
        except sqlite3.Error as exc:
            raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc
        try:
            yield
        finally:
            try:
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute(f"PRAGMA cache_size=-{TASK_CACHE_MIB * 1024}")
                self.db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error as exc:
                raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc

    def checkpoint(self, store: str) -> int | None:
        """The changelog offset the store is complete up to (exclusive), or None."""
        row = self.db.execute(
            "SELECT next_offset FROM checkpoints WHERE store = ?", (store,)
        ).fetchone()
        return None if row is None else int(row[0])

    def checkpoint_age(self, store: str) -> float | None:
        """Seconds since the store's checkpoint was written, or None."""
        row = self.db.execute(
            "SELECT written FROM checkpoints WHERE store = ?", (store,)
        ).fetchone()
        return None if row is None else time.time() - float(row[0])

    def count(self, store: str) -> int:
        """How many entries a store holds."""
        return int(self.db.execute(f'SELECT count(*) FROM "{_table(store)}"').fetchone()[0])

    def clear(self, store: str) -> None:
        """Drop a store's entries and checkpoint (before a full restore)."""
        self.db.execute("BEGIN")
        self.db.execute(f'DELETE FROM "{_table(store)}"')
        self.db.execute("DELETE FROM checkpoints WHERE store = ?", (store,))
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Close the file."""
        self.db.close()


class StateFile:
    """The committed state of many tasks in one SQLite file: a pattern flow's worker.

    A pattern input makes each topic-partition a task: the gateway over a national directory
    has one per outbox partition, about 10,700. A file per task (``SqliteBackend``) cost three
    descriptors each (the database, its WAL, its shared-memory index: 32,000, more than the
    process may open), a page cache each, ~44 ms each to create at the first assignment, and
    one SQLite commit per task and batch, when records are spread over thousands of outboxes.
    Here the task is a column of every table: ``task(name)`` is free, a batch's writes of all
    its tasks are one SQLite transaction (``transaction``), and the checkpoints are read once
    when the file opens and kept in memory (only this process writes them).
    """

    def __init__(self, path: Path, stores: list[str], cache_mib: int = FILE_CACHE_MIB) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.cache_bytes = cache_mib * 1024 * 1024  # its page cache's capacity
        self.stores = stores
        self._cache_mib = cache_mib
        self._depth = 0  # open transaction levels (``transaction``)
        self._bulk = 0  # open ``bulk`` levels
        # (task, store) -> (next offset, when written); ``_pending``: this transaction's
        self._checkpoints: dict[tuple[str, str], tuple[int, float]] = {}
        self._pending: dict[tuple[str, str], tuple[int, float] | None] = {}
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA page_size=8192")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # a lost tail is replayed from Kafka
            self.db.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")
            for store in stores:
                t = _table(store)
                self.db.execute(
                    f'CREATE TABLE IF NOT EXISTS "{t}" (task TEXT NOT NULL, k BLOB NOT NULL, '
                    "v BLOB NOT NULL, t INTEGER, PRIMARY KEY (task, k)) WITHOUT ROWID"
                )
                self.db.execute(
                    f'CREATE INDEX IF NOT EXISTS "{t}_t" ON "{t}"(task, t, k) WHERE t IS NOT NULL'
                )
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS checkpoints (task TEXT NOT NULL, store TEXT NOT NULL, "
                "next_offset INTEGER NOT NULL, written REAL NOT NULL, PRIMARY KEY (task, store)) "
                "WITHOUT ROWID"
            )
            rows = self.db.execute("SELECT task, store, next_offset, written FROM checkpoints")
            self._checkpoints = {(task, s): (int(n), float(w)) for task, s, n, w in rows}
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state file {path}: {exc}", code="STATE_OPEN") from exc

    def task(self, name: str) -> TaskSlice:
        """The backend of task ``name`` (nothing is opened)."""
        return TaskSlice(self, name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction for every write inside (nested: the outermost commits).

        Raises:
            StateError: ``STATE_WRITE``; nothing of the transaction is kept.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            self.db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc
        self._depth = 1
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException as exc:
            self._pending.clear()
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc
            raise
        finally:
            self._depth = 0
        for key, value in self._pending.items():
            if value is None:
                self._checkpoints.pop(key, None)
            else:
                self._checkpoints[key] = value
        self._pending.clear()

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """``SqliteBackend.bulk`` for the whole file, for as long as any task's restore wants
        it (the restore enters it once per task being read in full).

        Raises:
            StateError: ``STATE_WRITE``.
        """
        if self._bulk == 0:
            try:
                self.db.execute("PRAGMA journal_mode=TRUNCATE")
                self.db.execute("PRAGMA synchronous=OFF")
                self.db.execute(f"PRAGMA cache_size=-{max(self._cache_mib, 64) * 1024}")
            except sqlite3.Error as exc:
                raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc
        self._bulk += 1
        try:
            yield
        finally:
            self._bulk -= 1
            if self._bulk == 0:
                try:
                    self.db.execute("PRAGMA synchronous=NORMAL")
                    self.db.execute(f"PRAGMA cache_size=-{self._cache_mib * 1024}")
                    self.db.execute("PRAGMA journal_mode=WAL")
                except sqlite3.Error as exc:
                    raise StateError(
                        f"cannot write {self.path}: {exc}", code="STATE_WRITE"
                    ) from exc

    def tasks(self) -> list[str]:
        """The tasks with a checkpoint in this file."""
        return sorted({task for task, _ in self._checkpoints})

    def close(self) -> None:
        """Close the file."""
        self.db.close()


class TaskSlice:
    """One task's committed state in a ``StateFile``: what ``SqliteBackend`` is for a file of
    its own, with the same methods (the restore uses both alike)."""

    def __init__(self, file: StateFile, task: str) -> None:
        self.file = file
        self.task = task
        self.path = file.path

    def read(self, store: str, key: bytes) -> Entry | None:
        """The committed entry, or None."""
        row = self.file.db.execute(
            f'SELECT v, t FROM "{_table(store)}" WHERE task = ? AND k = ?', (self.task, key)
        ).fetchone()
        return None if row is None else Entry(row[0], row[1])

    def read_many(self, store: str, keys: list[bytes]) -> dict[bytes, Entry]:
        """The committed entries of those ``keys`` that have one: one query per 500 keys."""
        found: dict[bytes, Entry] = {}
        table = _table(store)
        for at in range(0, len(keys), _READ_CHUNK):
            chunk = keys[at : at + _READ_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.file.db.execute(
                f'SELECT k, v, t FROM "{table}" WHERE task = ? AND k IN ({marks})',
                [self.task, *chunk],
            ).fetchall()
            for k, v, t in rows:
                found[k] = Entry(v, t)
        return found

    def upto(self, store: str, t_ms: int, limit: int) -> list[tuple[bytes, Entry]]:
        """Entries whose time column is at or before ``t_ms``, earliest first."""
        rows = self.file.db.execute(
            f'SELECT k, v, t FROM "{_table(store)}" WHERE task = ? AND t IS NOT NULL AND t <= ? '
            "ORDER BY t, k LIMIT ?",
            (self.task, t_ms, limit),
        ).fetchall()
        return [(k, Entry(v, t)) for k, v, t in rows]

    def _checkpoint_rows(self, checkpoints: Mapping[str, int]) -> None:
        now = time.time()
        self.file.db.executemany(
            "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
            [(self.task, store, offset, now) for store, offset in checkpoints.items()],
        )
        self.file._pending.update(
            {(self.task, store): (offset, now) for store, offset in checkpoints.items()}
        )

    def write(
        self, changes: Mapping[tuple[str, bytes], Entry], checkpoints: Mapping[str, int]
    ) -> None:
        """Apply changes and changelog checkpoints in one SQLite transaction (the file's open
        one, if any: see ``StateFile.transaction``).

        Raises:
            StateError: ``STATE_WRITE``.
        """
        by_store: dict[
            str, tuple[list[tuple[str, bytes, bytes, int | None]], list[tuple[str, bytes]]]
        ] = {}
        for (store, key), entry in changes.items():
            puts, deletes = by_store.setdefault(store, ([], []))
            if entry.value is None:
                deletes.append((self.task, key))
            else:
                puts.append((self.task, key, entry.value, entry.t))
        db = self.file.db
        try:
            with self.file.transaction():
                for store, (puts, deletes) in by_store.items():
                    t = _table(store)
                    if deletes:
                        db.executemany(f'DELETE FROM "{t}" WHERE task = ? AND k = ?', deletes)
                    if puts:
                        db.executemany(f'INSERT OR REPLACE INTO "{t}" VALUES (?, ?, ?, ?)', puts)
                if checkpoints:
                    self._checkpoint_rows(checkpoints)
        except sqlite3.Error as exc:
            raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc

    def load(
        self, store: str, rows: Mapping[bytes, tuple[bytes | None, int | None]], next_offset: int
    ) -> None:
        """Apply restored changelog records (value None: a tombstone) and the store's checkpoint.

        Raises:
            StateError: ``STATE_WRITE``.
        """
        t = _table(store)
        puts = [(self.task, k, v, at) for k, (v, at) in rows.items() if v is not None]
        deletes = [(self.task, k) for k, (v, _) in rows.items() if v is None]
        db = self.file.db
        try:
            with self.file.transaction():
                if deletes:
                    db.executemany(f'DELETE FROM "{t}" WHERE task = ? AND k = ?', deletes)
                if puts:
                    db.executemany(f'INSERT OR REPLACE INTO "{t}" VALUES (?, ?, ?, ?)', puts)
                self._checkpoint_rows({store: next_offset})
        except sqlite3.Error as exc:
            raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc

    def bulk(self) -> contextlib.AbstractContextManager[None]:
        """The file's ``bulk`` mode (see ``StateFile.bulk``)."""
        return self.file.bulk()

    def checkpoint(self, store: str) -> int | None:
        """The changelog offset the store is complete up to (exclusive), or None."""
        found = self.file._checkpoints.get((self.task, store))
        return None if found is None else found[0]

    def checkpoint_age(self, store: str) -> float | None:
        """Seconds since the store's checkpoint was written, or None."""
        found = self.file._checkpoints.get((self.task, store))
        return None if found is None else time.time() - found[1]

    def count(self, store: str) -> int:
        """How many entries a store holds."""
        row = self.file.db.execute(
            f'SELECT count(*) FROM "{_table(store)}" WHERE task = ?', (self.task,)
        ).fetchone()
        return int(row[0])

    def clear(self, store: str) -> None:
        """Drop a store's entries and checkpoint (before a full restore).

        Raises:
            StateError: ``STATE_WRITE``.
        """
        db = self.file.db
        try:
            with self.file.transaction():
                db.execute(f'DELETE FROM "{_table(store)}" WHERE task = ?', (self.task,))
                db.execute(
                    "DELETE FROM checkpoints WHERE task = ? AND store = ?", (self.task, store)
                )
                self.file._pending[(self.task, store)] = None
        except sqlite3.Error as exc:
            raise StateError(f"cannot write {self.path}: {exc}", code="STATE_WRITE") from exc

    def close(self) -> None:
        """Nothing to release: the file stays open for the worker's other tasks."""


LocalBackend = SqliteBackend | TaskSlice  # what a restore writes to
