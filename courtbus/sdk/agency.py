"""``AgencyClient``: a partner agency reads its feeds and keeps a mirror of the list in SQL.

An agency's feed ``agency.<id>.<flow>`` (written by the feed router, ``services/feeds``) is a
compacted view keyed by entry id, carrying only the fields the directory grants the agency.
``sync`` bootstraps the whole current set into the agency's own database (the table
``partner_<flow>``, e.g. ``partner_blacklist``: ``entry_id`` plus one column per granted
field, JSON for nested records) and then follows changes. Rows and the consumed offsets (the
table ``partner_offsets``) commit in one transaction per batch, so a restart resumes exactly
where the last committed batch ended and applies nothing twice; a DELISTED entry or a
tombstone deletes the row. Blocking (call it from an ordinary thread): the feed and the answers use
kafka-python, the mirror's reader confluent-kafka (``courtbus.sdk.feed_reader``), the mirror
SQLAlchemy 2 Core.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    inspect,
    tuple_,
)
from sqlalchemy.engine import Connection as SqlConnection
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.types import TypeEngine

from courtbus.catalogue.directory import Directory, Feed, load_directory
from courtbus.config import Connection
from courtbus.errors import StoreError, ValidationError
from courtbus.sdk.mirror_drift import MirrorCheck
from courtbus.sdk.sent import Sent
from courtbus.sdk.verify import verify_record
from courtbus.security.keys import signer_for
from courtbus.security.principals import agency_principal, service_principal
from courtbus.security.signing import KeyRing, Signer, Verified
from courtbus.wire.client import make_envelope, read_from_start
from courtbus.wire.codec import AvroCodec
from courtbus.wire.events import EventHeaders
from courtbus.wire.schemas import PRIMITIVES, SchemaSet

log = logging.getLogger("courtbus.sdk.agency")
# The view each mirrored flow's feed is projected from (the feed router's VIEW_RECORDS).
VIEW_RECORDS = {"blacklist": "cn.court.bus.blacklist.BlacklistEntry"}
COURT_FIELDS = {"blacklist": "listing_court"}
OFFSETS_TABLE = "partner_offsets"
ANSWERS = "cn.court.bus.restriction."  # what an agency answers a control with
BATCH_ROWS = 5000  # rows per transaction
# A bootstrap of at least this many records reads and decodes in WORKERS processes.
PARALLEL_FROM = 200_000
WORKERS = 2
_PRIMITIVE_COLUMNS: dict[str, Callable[[], TypeEngine[Any]]] = {
    "string": Text,
    "int": Integer,
    "long": BigInteger,
    "boolean": Boolean,
    "float": Float,
    "double": Float,
    "bytes": LargeBinary,
}


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One record of a feed: where it is, its CloudEvents headers and payload (both None for
    a tombstone: the entry left the feed)."""

    topic: str
    partition: int
    offset: int
    key: str
    headers: EventHeaders | None
    record: str | None
    payload: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Change:
    """What one feed record asks of the mirror: the row's values, or None to delete it."""

    topic: str
    partition: int
    offset: int
    key: str
    payload: Mapping[str, Any] | None


def is_removed(payload: Mapping[str, Any] | None) -> bool:
    """A tombstone or a delisted entry: not on the mirror."""
    if payload is None:
        return True
    return payload.get("status") == "DELISTED" or payload.get("delisted_at") is not None


def region_matcher(directory: Directory, region: str) -> Callable[[str], bool]:
    """Which listing courts a region keeps: a province code (``32``) or name (``江苏省``)
    matches court ids starting with the code; a directory group (``west-guangdong``) matches
    its members.

    Raises:
        ValidationError: ``REGION_UNKNOWN``.
    """
    from courtbus.domain.regions import BY_CODE, BY_NAME

    if region in directory.groups:
        members = frozenset(directory.groups[region])
        return lambda court: court in members
    province = BY_CODE.get(region) or BY_NAME.get(region)
    if province is not None:
        code = province.code
        return lambda court: court.startswith(code)
    raise ValidationError(
        f"unknown region {region!r}: a province code (32), a province name (江苏省) or a group "
        f"({', '.join(sorted(directory.groups))})",
        code="REGION_UNKNOWN",
    )


def _column_type(node: Any, named: dict[str, Any]) -> tuple[TypeEngine[Any], bool]:
    """The column type of an Avro field type, and whether it may be null."""
    nullable = False
    if isinstance(node, list):
        nullable = "null" in node
        rest = [n for n in node if n != "null"]
        node = rest[0] if len(rest) == 1 else {"type": "union"}
    if isinstance(node, str) and node not in PRIMITIVES:
        node = named.get(node, {"type": "record"})
    if isinstance(node, str):
        return _PRIMITIVE_COLUMNS[node](), nullable
    kind = node.get("type")
    if node.get("logicalType", "").startswith("timestamp"):
        return DateTime(timezone=True), nullable
    if kind == "enum":
        return String(64), nullable
    if isinstance(kind, str) and kind in _PRIMITIVE_COLUMNS:
        return _PRIMITIVE_COLUMNS[kind](), nullable
    return JSON(), nullable  # records, arrays, maps, unions of several types


def _named_types(node: Any, found: dict[str, Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _named_types(item, found)
    elif isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed"):
            found[str(node["name"])] = node
        for fld in node.get("fields", []):
            _named_types(fld["type"], found)
        for inner in ("items", "values"):
            _named_types(node.get(inner), found)


def mirror_table(metadata: MetaData, flow: str, fields: Iterable[str]) -> Table:
    """The mirror's table of ``flow``: ``entry_id`` (the key) and a column per granted field.

    Raises:
        ValidationError: ``FEED_NOT_MIRRORED`` for a flow without a view to mirror.
    """
    if flow not in VIEW_RECORDS:
        raise ValidationError(
            f"the {flow} feed has no mirror (one of {', '.join(VIEW_RECORDS)})",
            code="FEED_NOT_MIRRORED",
        )
    view = SchemaSet.load().message(VIEW_RECORDS[flow]).json
    named: dict[str, Any] = {}
    _named_types(view, named)
    granted = set(fields)
    columns = [Column("entry_id", String(128), primary_key=True)]
    for fld in view["fields"]:
        if fld["name"] in granted and fld["name"] != "entry_id":
            kind, nullable = _column_type(fld["type"], named)
            columns.append(Column(fld["name"], kind, nullable=nullable))
    return Table(f"partner_{flow}", metadata, *columns)


# Every JSON column value, as text (the SQL column's and the SQLite fast path's): orjson, ~3x
# less CPU than the standard library's encoder for the feed's small records (which builds an
# encoder per call). Non-ASCII text is kept as it is; a value JSON has no form for (a time in a
# nested record, a Decimal) is written as ``str(value)``, as ``json.dumps(..., default=str)``
# would.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=_JSON_OPTIONS).decode()


_EPOCH = datetime(1970, 1, 1)


def _sqlite_time(value: Any) -> Any:
    """A time column's value as SQLAlchemy's SQLite ``DateTime`` stores it (the text
    ``YYYY-MM-DD HH:MM:SS.ffffff``, in UTC for an aware time), from a ``datetime`` or from
    epoch milliseconds (an Avro ``timestamp-millis`` the feed reader leaves undecoded: see
    ``courtbus.sdk.feed_reader._Decoder``). Anything else: None (the caller's processor)."""
    if value.__class__ is int:
        return (_EPOCH + timedelta(milliseconds=value)).isoformat(" ", "microseconds")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(" ", "microseconds")
    return None


def _time_binder(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """A time column's SQLite binding: ``_sqlite_time``, else SQLAlchemy's ``process``."""

    def bind(value: Any) -> Any:
        text = _sqlite_time(value)
        if text is not None:
            return text
        return process(value) if process is not None else value

    return bind


def _on_sqlite_connect(dbapi_connection: Any, bulk: bool) -> None:
    dbapi_connection.isolation_level = None  # BEGIN is ours (the "begin" event, Mirror.write)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB
        cursor.execute(f"PRAGMA synchronous={'OFF' if bulk else 'NORMAL'}")
        mode = "TRUNCATE" if bulk else "WAL"  # see Mirror.bulk
        try:  # leaving or entering the WAL needs the file to ourselves: else as it is
            cursor.execute(f"PRAGMA journal_mode={mode}")
        except sqlite3.OperationalError as exc:
            log.warning("mirror: journal mode %s not set: %s", mode, exc)
    finally:
        cursor.close()


class Mirror:
    """An agency's SQL mirror of one feed: the rows and the offsets they are complete to.

    Pure of Kafka: ``apply`` takes ``Change`` values, so it is tested with SQLite alone.
    """

    def __init__(
        self,
        store_url: str,
        flow: str,
        fields: Iterable[str],
        *,
        keep: Callable[[Mapping[str, Any]], bool] | None = None,
        bulk: bool = False,
    ) -> None:
        """Open (creating its tables) the mirror at ``store_url``; ``keep`` filters rows;
        ``bulk``: a SQLite mirror's connections write as in ``bulk`` (a bootstrap worker's).

        Raises:
            StoreError: ``STORE_URL_INVALID``, ``STORE_UNAVAILABLE``, or
                ``MIRROR_COLUMNS_CHANGED`` (the table has other columns than the grant:
                mirror into a new database).
        """
        try:
            self.engine: Engine = create_engine(store_url, json_serializer=_json)
        except (ArgumentError, ValueError, ImportError) as exc:
            raise StoreError(f"mirror URL is invalid: {exc}", code="STORE_URL_INVALID") from exc
        self._bulk = bulk
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", lambda c, _r: _on_sqlite_connect(c, self._bulk))
            event.listen(self.engine, "begin", lambda c: c.exec_driver_sql("BEGIN"))
        self.flow = flow
        self.metadata = MetaData()
        self.table = mirror_table(self.metadata, flow, fields)
        self.offsets_table = Table(
            OFFSETS_TABLE,
            self.metadata,
            Column("topic", String(249), primary_key=True),
            Column("partition", Integer, primary_key=True, autoincrement=False),
            Column("next_offset", BigInteger, nullable=False),
        )
        self.keep = keep
        self._columns = [c.name for c in self.table.columns]
        self._times = {c.name for c in self.table.columns if isinstance(c.type, DateTime)}
        self.columns: tuple[str, ...] = tuple(self._columns)
        """The table's columns: ``entry_id`` and the granted fields, in the table's order."""
        self.time_columns: tuple[str, ...] = tuple(sorted(self._times))
        """The time columns: a time may be given as epoch milliseconds (see ``_tuple``)."""
        with self._guard():
            self.metadata.create_all(self.engine)
            have = [c["name"] for c in inspect(self.engine).get_columns(self.table.name)]
        if have != self._columns:
            raise StoreError(
                f"{self.table.name} has columns {', '.join(have)}, the grant gives "
                f"{', '.join(self._columns)}: mirror into a new database",
                code="MIRROR_COLUMNS_CHANGED",
            )
        dialect = self.engine.dialect
        self._sqlite = dialect.name == "sqlite"
        # SQLite: each column's value as the driver takes it, as SQLAlchemy Core would bind it
        # (JSON text, time text), with the JSON and time columns' conversions done directly
        self._binds: list[tuple[str, Callable[[Any], Any] | None]] = []
        for c in self.table.columns:
            if c.name == "entry_id":
                continue
            process: Callable[[Any], Any] | None = c.type.dialect_impl(dialect).bind_processor(
                dialect
            )
            if isinstance(c.type, JSON):
                process = _json
            elif isinstance(c.type, DateTime):
                process = _time_binder(process)
            self._binds.append((c.name, process))
        q = dialect.identifier_preparer.quote
        names = ", ".join(q(c) for c in self._columns)
        marks = ", ".join("?" for _ in self._columns)
        table, offsets = q(self.table.name), q(OFFSETS_TABLE)
        self._sql_upsert = f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})"
        self._sql_delete = f"DELETE FROM {table} WHERE {q('entry_id')} = ?"
        self._sql_offsets = (
            f"INSERT OR REPLACE INTO {offsets} ({q('topic')}, {q('partition')}, "
            f"{q('next_offset')}) VALUES (?, ?, ?)"
        )

    def _guard(self) -> Any:
        return _Guard(self.engine)

    def close(self) -> None:
        """Close the pooled connections (SQLite checkpoints its WAL)."""
        self.engine.dispose()

    def offsets(self, topic: str) -> dict[int, int]:
        """Partition → the next offset to read of ``topic`` (what the mirror is complete to)."""
        t = self.offsets_table
        with self._guard(), self.engine.connect() as conn:
            rows = conn.execute(t.select().where(t.c.topic == topic)).all()
        return {int(r.partition): int(r.next_offset) for r in rows}

    def count(self) -> int:
        """How many rows the mirror holds."""
        from sqlalchemy import func, select

        with self._guard(), self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())

    def _row(self, key: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        row = {c: payload.get(c) for c in self._columns}
        row["entry_id"] = key
        for name in self._times:
            value = row[name]
            if isinstance(value, datetime) and value.tzinfo is not None:
                row[name] = value.astimezone(UTC)
        return row

    def _tuple(self, key: str, payload: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row as the SQLite driver takes it: each value as SQLAlchemy Core would bind it
        (JSON text, time text in UTC; a time may also be epoch milliseconds)."""
        values: list[Any] = [key]
        for name, process in self._binds:
            value = payload.get(name)
            if value is not None and process is not None:
                value = process(value)
            values.append(value)
        return tuple(values)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Write a SQLite mirror as a bulk load (a bootstrap): a rollback journal instead of the
        WAL (a fresh table's new pages need no journal; the WAL wrote every page twice) and
        ``synchronous=OFF``. A crash of the process loses nothing committed and leaves the file
        whole (the journal rolls an interrupted batch back), so rows and offsets still agree;
        an OS crash or power loss meanwhile may not, as with any unsynced write. Afterwards the
        file is back in WAL mode with ``synchronous=NORMAL``. Other databases: unchanged.

        It needs the file to itself to leave the WAL: if another connection holds it, the
        load goes on in WAL mode.
        """
        if not self._sqlite:
            yield
            return
        self.engine.dispose()
        self._bulk = True
        try:
            log.debug("mirror bulk load: journal %s", self._journal_mode())
            yield
        finally:
            self._bulk = False
            self.engine.dispose()
            self._journal_mode()  # a new connection: back to WAL, NORMAL

    def _journal_mode(self) -> str:
        """The journal mode of a new connection (made with ``_on_sqlite_connect``'s)."""
        with self._guard(), self.engine.connect() as conn:
            db = conn.connection.driver_connection
            assert db is not None
            row = db.execute("PRAGMA journal_mode").fetchone()
        return str(row[0]) if row else "?"

    def apply(self, changes: list[Change]) -> tuple[int, int]:
        """Apply ``changes`` and advance the offsets past them, in one transaction.

        Only the last change of each key counts (the feed is a view). Returns (rows written,
        keys deleted).

        Raises:
            StoreError: ``STORE_UNAVAILABLE`` or ``STORE_REFUSED`` (nothing of the batch is
                kept).
        """
        if not changes:
            return 0, 0
        last: dict[str, Mapping[str, Any] | None] = {}
        ends: dict[tuple[str, int], int] = {}
        for change in changes:
            last[change.key] = change.payload
            where = (change.topic, change.partition)
            ends[where] = max(ends.get(where, 0), change.offset + 1)
        return self.commit(last, ends)

    def commit(
        self, last: Mapping[str, Mapping[str, Any] | None], ends: Mapping[tuple[str, int], int]
    ) -> tuple[int, int]:
        """Write each key's last payload (None, DELISTED or not kept: delete the row) and set
        the offsets to ``ends`` ((topic, partition) → next offset), in one transaction.

        SQLite: ``INSERT OR REPLACE`` through the driver's ``executemany``; PostgreSQL:
        ``INSERT … ON CONFLICT DO UPDATE``; other databases: delete the keys, insert the rows.

        Raises:
            StoreError: ``STORE_UNAVAILABLE`` or ``STORE_REFUSED`` (nothing is kept).
        """
        rows, gone = self.split(last)
        return self.write(rows, gone, ends)

    def split(self, last: Mapping[str, Mapping[str, Any] | None]) -> tuple[list[Any], list[str]]:
        """The rows to write (as ``write`` takes them) and the keys to delete."""
        rows: list[Any] = []
        gone: list[str] = []
        keep = self.keep
        bind = self._tuple if self._sqlite else self._row
        for key, payload in last.items():
            if (
                payload is None
                or payload.get("status") == "DELISTED"
                or payload.get("delisted_at") is not None
                or (keep is not None and not keep(payload))
            ):
                gone.append(key)
            else:
                rows.append(bind(key, payload))
        return rows, gone

    def write(
        self, rows: list[Any], gone: list[str], ends: Mapping[tuple[str, int], int]
    ) -> tuple[int, int]:
        """Write ``rows`` and delete ``gone`` (from ``split``), set the offsets to ``ends``,
        in one transaction; (rows written, keys deleted).

        Raises:
            StoreError: ``STORE_UNAVAILABLE`` or ``STORE_REFUSED`` (nothing is kept).
        """
        offsets = [(tp, p, n) for (tp, p), n in ends.items()]
        if (
            self._sqlite
        ):  # the driver's own transaction: IMMEDIATE, so writers queue, never deadlock
            with self._guard(), self.engine.connect() as conn:
                db = conn.connection.driver_connection
                assert db is not None
                db.execute("BEGIN IMMEDIATE")
                try:
                    if rows:
                        db.executemany(self._sql_upsert, rows)
                    if gone:
                        db.executemany(self._sql_delete, [(k,) for k in gone])
                    db.executemany(self._sql_offsets, offsets)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            return len(rows), len(gone)
        with self._guard(), self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                self._write_postgres(conn, rows, gone, offsets)
            else:
                keys = [r["entry_id"] for r in rows] + gone
                self._write_generic(conn, rows, keys, offsets)
        return len(rows), len(gone)

    def _write_postgres(
        self, conn: SqlConnection, rows: list[Any], gone: list[str], offsets: list[Any]
    ) -> None:
        from sqlalchemy.dialects.postgresql import insert

        t, o = self.table, self.offsets_table
        if rows:
            upsert = insert(t)
            names = [c for c in self._columns if c != "entry_id"]
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[t.c.entry_id], set_={c: upsert.excluded[c] for c in names}
                ),
                rows,
            )
        for i in range(0, len(gone), BATCH_ROWS):
            conn.execute(delete(t).where(t.c.entry_id.in_(gone[i : i + BATCH_ROWS])))
        moved = insert(o)
        conn.execute(
            moved.on_conflict_do_update(
                index_elements=[o.c.topic, o.c.partition],
                set_={"next_offset": moved.excluded.next_offset},
            ),
            [{"topic": tp, "partition": p, "next_offset": n} for tp, p, n in offsets],
        )

    def _write_generic(
        self, conn: SqlConnection, rows: list[Any], keys: list[str], offsets: list[Any]
    ) -> None:
        t, o = self.table, self.offsets_table
        for i in range(0, len(keys), BATCH_ROWS):
            conn.execute(delete(t).where(t.c.entry_id.in_(keys[i : i + BATCH_ROWS])))
        if rows:
            conn.execute(t.insert(), rows)
        positions = [(tp, p) for tp, p, _ in offsets]
        conn.execute(delete(o).where(tuple_(o.c.topic, o.c.partition).in_(positions)))
        conn.execute(
            o.insert(), [{"topic": tp, "partition": p, "next_offset": n} for tp, p, n in offsets]
        )

    def fingerprints(self) -> dict[str, bytes]:
        """Entry id → a digest of the row's content, the same for the same content whatever
        the database (times in UTC, JSON with sorted keys)."""
        from sqlalchemy import select

        out: dict[str, bytes] = {}
        with self._guard(), self.engine.connect() as conn:
            for row in conn.execute(select(self.table)):
                values = list(row)
                out[str(values[0])] = _fingerprint(values[1:])
        return out

    def ids(self) -> set[str]:
        """Every entry id the mirror holds."""
        from sqlalchemy import select

        with self._guard(), self.engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(select(self.table.c.entry_id))}

    def repair(self, rows: Mapping[str, Mapping[str, Any]], gone: Iterable[str]) -> None:
        """Write ``rows`` (entry id → feed payload) and delete ``gone``, in one transaction,
        without moving the offsets (a drift repair: the feed up to those offsets says so).

        Raises:
            StoreError: ``STORE_UNAVAILABLE`` or ``STORE_REFUSED`` (nothing is kept).
        """
        t = self.table
        keys = [*rows, *gone]
        with self._guard(), self.engine.begin() as conn:
            for i in range(0, len(keys), BATCH_ROWS):
                conn.execute(delete(t).where(t.c.entry_id.in_(keys[i : i + BATCH_ROWS])))
            if rows:
                conn.execute(t.insert(), [self._row(k, p) for k, p in rows.items()])


def _fingerprints_of(
    flow: str, fields: Iterable[str], rows: Mapping[str, Mapping[str, Any]]
) -> dict[str, bytes]:
    """The fingerprints ``rows`` (entry id → payload) would have on a mirror: written to a
    scratch SQLite mirror and read back, the same way as the real one's rows."""
    with tempfile.TemporaryDirectory(prefix="courtbus-verify-") as folder:
        scratch = Mirror(f"sqlite:///{Path(folder) / 'expected.db'}", flow, fields)
        try:
            scratch.repair(rows, ())
            return scratch.fingerprints()
        finally:
            scratch.close()


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # date, Decimal


def _fingerprint(values: list[Any]) -> bytes:
    text = json.dumps(_canonical(values), sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class _Guard:
    """A database failure as ``StoreError``: ``STORE_UNAVAILABLE`` (could not reach or lock
    it) or ``STORE_REFUSED`` (it refused the data)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, _tb: Any) -> None:
        if isinstance(exc, DBAPIError):
            orig: BaseException | None = exc.orig
            unavailable = isinstance(exc, OperationalError)
        else:  # the driver's own error, from a raw cursor (Mirror.commit on SQLite)
            dbapi = self.engine.dialect.loaded_dbapi
            if exc is None or not isinstance(exc, dbapi.Error):
                return
            orig, unavailable = exc, isinstance(exc, dbapi.OperationalError)
        where = self.engine.url.render_as_string(hide_password=True)
        raise StoreError(
            f"mirror database {where} failed: {type(orig).__name__}: {orig}",
            code="STORE_UNAVAILABLE" if unavailable else "STORE_REFUSED",
        ) from exc


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one ``sync`` did: records read, entries written (the latest record of each key in a
    batch) and retracted (delisted, tombstoned or outside the region: deleted if the mirror
    had them), and the mirror's size."""

    read: int
    written: int
    deleted: int
    rows: int
    bootstrap_s: float


Progress = Callable[[int, int], None]


class AgencyClient:
    """One agency's connection to the bus: its feeds, and a SQL mirror of one."""

    def __init__(
        self,
        agency_id: str,
        conn: Connection,
        *,
        directory: Directory | None = None,
        signing_key: Path | str | Signer | None = None,
    ) -> None:
        """Connect as ``agency_id``; with ``signing_key`` (a private key file or a
        ``Signer``; default the file named by ``$COURTBUS_SIGNING_KEY``) every answer sent is
        signed.

        Raises:
            ValidationError: ``AGENCY_UNKNOWN`` if the agency is not in the directory.
            ConfigError: ``SIGNING_KEY_*`` (see ``courtbus.security.keys.signer_for``).
        """
        self.directory = directory or load_directory()
        self.agency = self.directory.agency(agency_id)
        self.conn = conn
        self.keyring = KeyRing(self.directory.keys)
        self.signer = signer_for(agency_principal(agency_id), signing_key, self.directory.keys)
        self.envelope = make_envelope(conn)
        self.envelope.signer = self.signer
        self.codec: AvroCodec = self.envelope.codec
        self._producer: Any = None

    def close(self) -> None:
        """Close the producer (if the agency sent anything) and the registry client."""
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        close = getattr(self.codec.registry, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> AgencyClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _answer(self, short: str, payload: dict[str, Any]) -> str:
        """Send one of the agency's answers to its outbox (``agency.<id>.outbox``); its ``ce_id``.

        Raises:
            ValidationError: the payload does not fit (``TEXT_*``); SerializationError.
        """
        return self.send_record(ANSWERS + short, payload).event_id

    def send_record(
        self, record: str, payload: dict[str, Any], *, event_id: str | None = None
    ) -> Sent:
        """Send any message this agency may send (``record``: the Avro full name) to its
        outbox, checked and normalised as the gateway will; ``event_id``: the ``ce_id`` to
        give it (default a new UUID).

        Raises:
            ValidationError: the payload does not fit (``TEXT_*``); SerializationError.
        """
        from courtbus.domain.text import normalize_payload
        from courtbus.gateway.rules import check_values
        from courtbus.wire.client import SDK_LINGER_MS, make_producer, send

        clean: dict[str, Any] = normalize_payload(payload)
        check_values(clean)
        if self._producer is None:
            self._producer = make_producer(self.conn, linger_ms=SDK_LINGER_MS)
        out = self.envelope.build(
            f"agency.{self.agency.id}.outbox",
            record,
            clean,
            f"agency:{self.agency.id}",
            event_id=event_id,
        )
        partition, offset = send(self._producer, out)
        return Sent(out.event.id, (out.key or b"").decode(), partition, offset)

    def verify(self, record: Any, *, sender: str | None = None) -> Verified:
        """Check the signature of a record this agency received (an ``Event``, or a raw
        record), with the directory's keys: who signed it and when. A record of a projected
        feed (``agency.<id>.<flow>``) is signed by the feed router (``service.feeds``), which
        wrote it; one in ``agency.<id>.feed`` by its ``ce_source``'s owner.

        Raises:
            SignatureError: ``SIGNATURE_*``.
        """
        topic = str(getattr(record, "topic", ""))
        if sender is None and topic.startswith("agency.") and not topic.endswith(".feed"):
            sender = service_principal("feeds")
        return verify_record(record, self.keyring, sender=sender)

    def acknowledge(
        self, control_id: str, target: str = "ISSUE", reference: str | None = None
    ) -> str:
        """Acknowledge a control (``target`` ISSUE) or its lift (LIFT), with the agency's own
        reference; the issuing court receives it. Returns the message's ``ce_id``."""
        return self._answer(
            "RestrictionAcknowledged",
            {
                "control_id": control_id,
                "agency_id": self.agency.id,
                "target": target,
                "acknowledged_at": datetime.now(UTC),
                "reference": reference,
            },
        )

    def reject(self, control_id: str, reason_code: str, reason: str, target: str = "ISSUE") -> str:
        """Reject a control the agency cannot apply (e.g. ``IDENTITY_MISMATCH``); the issuing
        court receives it and the acknowledgement stays owed."""
        return self._answer(
            "RestrictionRejected",
            {
                "control_id": control_id,
                "agency_id": self.agency.id,
                "rejected_at": datetime.now(UTC),
                "reason_code": reason_code,
                "reason": reason,
                "target": target,
            },
        )

    def report_interception(
        self,
        control_id: str,
        channel: str,
        location: str,
        *,
        outcome: str | None = "PREVENTED",
        description: str | None = None,
        intercepted_at: datetime | None = None,
    ) -> str:
        """Report that a restricted person was stopped (``channel`` BORDER_PORT, FLIGHT,
        TRAIN, ...; ``location`` the port or station); the issuing court receives it."""
        return self._answer(
            "InterceptionReported",
            {
                "control_id": control_id,
                "agency_id": self.agency.id,
                "intercepted_at": intercepted_at or datetime.now(UTC),
                "channel": channel,
                "location": location,
                "description": description,
                "outcome": outcome,
            },
        )

    def grant(self, flow: str) -> Feed:
        """The directory's grant of ``flow`` to this agency.

        Raises:
            ValidationError: ``FEED_NOT_GRANTED``.
        """
        for feed in self.directory.feeds:
            if feed.agency == self.agency.id and feed.flow == flow:
                return feed
        raise ValidationError(
            f"agency {self.agency.id} is not granted the {flow} feed", code="FEED_NOT_GRANTED"
        )

    def topic(self, flow: str) -> str:
        """``agency.<id>.<flow>`` (the flow must be granted; see ``grant``)."""
        return f"agency.{self.grant(flow).agency}.{flow}"

    def decode(self, raw: Any) -> FeedEvent:
        """One feed record, decoded by its writer's (projected) schema.

        Raises:
            SerializationError: a value that does not decode; RegistryError (transient).
        """
        key = raw.key.decode() if raw.key is not None else ""
        if raw.value is None:
            return FeedEvent(raw.topic, raw.partition, raw.offset, key, None, None, None)
        headers = EventHeaders.from_kafka(raw.headers)
        decoded = self.codec.decode(raw.value)
        return FeedEvent(
            raw.topic, raw.partition, raw.offset, key, headers, decoded.record, decoded.payload
        )

    def feed(self, flow: str, *, timeout_s: float | None = 3.0) -> Iterator[FeedEvent]:
        """Every record of the agency's ``flow`` feed from the start, oldest first per
        partition; stops after ``timeout_s`` without a record (None: never).

        Raises:
            ValidationError: ``FEED_NOT_GRANTED``.
        """
        for raw in read_from_start(self.conn, [self.topic(flow)], timeout_s):
            yield self.decode(raw)

    def sync(
        self,
        flow: str,
        store_url: str,
        *,
        region: str | None = None,
        follow: bool = True,
        progress: Progress | None = None,
        stop: Callable[[], bool] | None = None,
        bootstrapped: Callable[[SyncResult], None] | None = None,
    ) -> SyncResult:
        """Mirror the ``flow`` feed into ``store_url``: bootstrap the whole current set (up to
        the end offsets at start), then, with ``follow``, apply changes until ``stop()``.

        ``progress(done, total)`` is called during the bootstrap (offsets of the feed: with
        compaction and transaction markers more than the records read) and once with
        ``done == total`` when it ends; then ``bootstrapped`` gets what the bootstrap did (the
        same counts as the result, so far). ``region`` keeps only entries listed by a
        court of a province (``32`` or ``江苏省``) or of a directory group.

        Raises:
            ValidationError: ``FEED_NOT_GRANTED``, ``REGION_UNKNOWN``,
                ``REGION_NEEDS_COURT`` (the grant has no listing court to filter on).
            StoreError: the mirror database failed (what was committed stays).
            ClusterError: ``CLUSTER_UNREACHABLE``.
        """
        grant = self.grant(flow)
        keep = self._keep(flow, grant, region)
        topic = self.topic(flow)
        mirror = Mirror(store_url, flow, grant.fields, keep=keep)
        try:
            from courtbus.sdk.feed_reader import _Sync  # the reader imports this module

            run = _Sync(self, mirror, topic, progress, stop or (lambda: False), bootstrapped)
            return run.run(follow)
        finally:
            mirror.close()

    def verify_mirror(
        self,
        flow: str,
        store_url: str,
        *,
        region: str | None = None,
        repair: bool = True,
        progress: Progress | None = None,
        against: Literal["view", "feed"] = "view",
        router_timeout_s: float = 30.0,
    ) -> MirrorCheck:
        """Compare the mirror at ``store_url`` with what it should hold, and with ``repair``
        write what it lacks or holds wrongly and delete what it should not have (see
        ``courtbus.sdk.mirror_drift``). ``region`` as given to ``sync``.

        ``against="view"`` (default): with the national view projected for this agency by the
        router's rules, field by field, after syncing the mirror to its feed's end (needs read
        access to the view). ``against="feed"``: with the feed up to the mirror's own offsets,
        by id (finds rows changed by hand, not a wrong feed).

        Raises:
            ValidationError: ``FEED_NOT_GRANTED``, ``REGION_UNKNOWN``, ``REGION_NEEDS_COURT``,
                ``MIRROR_EMPTY`` (the mirror has never synced: run ``sync`` first).
            StoreError: the mirror database failed.
        """
        if against == "view":
            return self._verify_against_view(
                flow, store_url, region, repair, progress, router_timeout_s
            )
        from courtbus.sdk.mirror_drift import compare, read_upto

        grant = self.grant(flow)
        keep = self._keep(flow, grant, region)
        topic = self.topic(flow)
        mirror = Mirror(store_url, flow, grant.fields, keep=keep)
        try:
            offsets = mirror.offsets(topic)
            if not offsets:
                raise ValidationError(
                    f"the mirror at {mirror.engine.url.render_as_string(hide_password=True)} has "
                    f"not read {topic} yet: run sync first",
                    code="MIRROR_EMPTY",
                )
            expected: dict[str, dict[str, Any]] = {}
            for raw in read_upto(self.conn, topic, offsets, progress):
                event = self.decode(raw)
                p = event.payload
                if is_removed(p) or (keep is not None and not keep(p or {})):
                    expected.pop(event.key, None)
                else:
                    expected[event.key] = p or {}
            held = mirror.ids()
            buckets, missing, extra = compare(expected, held)
            if repair and buckets:
                mirror.repair({k: expected[k] for k in missing}, extra)
            return MirrorCheck(
                topic, len(expected), len(held), buckets, missing, extra, repair and bool(buckets)
            )
        finally:
            mirror.close()

    def _verify_against_view(
        self,
        flow: str,
        store_url: str,
        region: str | None,
        repair: bool,
        progress: Progress | None,
        router_timeout_s: float,
    ) -> MirrorCheck:
        from courtbus.catalogue.feeds import ROUTER_GROUP, VIEW_TOPICS, feed_routes
        from courtbus.sdk import mirror_drift as drift

        grant = self.grant(flow)
        keep = self._keep(flow, grant, region)
        (route,) = [
            r
            for r in feed_routes(self.directory, self.codec.schemas)
            if r.agency == self.agency.id and r.flow == flow
        ]
        view = VIEW_TOPICS[flow]
        ends = drift.end_offsets(self.conn, view)
        latest = drift.latest_by_key(
            self.conn, view, lambda raw: self.decode(raw).payload, ends, progress
        )
        behind = drift.wait_for_group(self.conn, ROUTER_GROUP, view, ends, router_timeout_s)
        if behind > 0:
            log.warning("the feed router is %d view record(s) behind: they count as drift", behind)
        self.sync(flow, store_url, region=region, follow=False)
        in_flight = set(
            drift.keys_between(self.conn, view, ends, drift.end_offsets(self.conn, view))
        )
        expected: dict[str, dict[str, Any]] = {}
        for key, payload in latest.items():
            if payload is None or key in in_flight or not route.wants(payload):
                continue
            if payload.get("status") == "DELISTED":
                continue  # sent to an agency that sees delistings, but never on a mirror
            projected = route.project(payload)
            if keep is None or keep(projected):
                expected[key] = projected
        mirror = Mirror(store_url, flow, grant.fields, keep=keep)
        try:
            held = {k: f for k, f in mirror.fingerprints().items() if k not in in_flight}
            want = _fingerprints_of(flow, grant.fields, expected)
            buckets, missing, extra, changed = drift.content_diff(want, held)
            if repair and buckets:
                mirror.repair({k: expected[k] for k in (*missing, *changed)}, extra)
        finally:
            mirror.close()
        return MirrorCheck(
            view,
            len(expected),
            len(held),
            buckets,
            missing,
            extra,
            repair and bool(buckets),
            against="view",
            changed=changed,
            in_flight=len(in_flight),
            router_behind=max(behind, 0),
        )

    def _keep(
        self, flow: str, grant: Feed, region: str | None
    ) -> Callable[[Mapping[str, Any]], bool] | None:
        if region is None:
            return None
        matches = region_matcher(self.directory, region)
        field = COURT_FIELDS.get(flow, "")
        if field not in grant.fields:
            raise ValidationError(
                f"agency {self.agency.id} does not see the {field or 'court'} of {flow} "
                "entries, so it cannot filter them by region",
                code="REGION_NEEDS_COURT",
            )
        return lambda p: matches(str((p.get(field) or {}).get("court_id", "")))
