"""A task's state on local disk: one SQLite file per task, with its changelog checkpoints.

Why SQLite: it is in the standard library (no native wheel to build or pin), a page cache of
a few MiB keeps memory flat however many entities a task holds, an index on the time column
makes timers and eviction a range scan, and the checkpoint is written in the same SQLite
transaction as the data it describes, so the two can never disagree after a crash.
"""

from __future__ import annotations

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


class SqliteBackend:
    """The committed state of one task in ``path``."""

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
            self.db.execute("PRAGMA cache_size=-8192")  # 8 MiB page cache per task
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
                self.db.execute("PRAGMA cache_size=-8192")
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
