"""The read model's database: one engine and session factory, shared by its writer and queries.

SQLite (``sqlite:///path.db``) by default, PostgreSQL (``postgresql+psycopg://…``) when
shared. Nothing connects until the first call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from courtbus.errors import StoreError
from courtbus.store.models import Base

_BACKENDS = ("sqlite", "postgresql")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would defer BEGIN and break savepoints: the
    # engine's "begin" event below emits BEGIN itself (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


class Database:
    """An engine (with its pool) and a session factory over one read-model database."""

    def __init__(self, url: str) -> None:
        """Open (lazily) the database at ``url``.

        Raises:
            StoreError: ``STORE_URL_INVALID`` if the URL cannot be parsed, names an
                uninstalled driver, or a database other than SQLite or PostgreSQL.
        """
        try:
            parsed = make_url(url)
            if parsed.get_backend_name() not in _BACKENDS:
                raise StoreError(
                    f"read model URL {parsed.render_as_string(hide_password=True)!r}: "
                    f"database {parsed.get_backend_name()!r} is not supported "
                    "(use sqlite:///path.db or postgresql+psycopg://user@host:port/db)",
                    code="STORE_URL_INVALID",
                )
            self.engine: Engine = create_engine(parsed, pool_pre_ping=True)
        except (ArgumentError, ValueError, ImportError) as exc:  # ImportError: no such driver
            raise StoreError(
                f"read model URL is invalid: {type(exc).__name__}: {exc}",
                code="STORE_URL_INVALID",
            ) from exc
        self.dialect: str = self.engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _on_sqlite_connect)
            event.listen(self.engine, "begin", _on_sqlite_begin)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn a database failure into ``StoreError`` ``STORE_UNAVAILABLE``."""
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(
                f"read model database {where} failed: {type(exc.orig).__name__}: {exc.orig}",
                code="STORE_UNAVAILABLE",
            ) from exc

    def insert_new(self, session: Session, entity: type[Base], values: dict[str, Any]) -> bool:
        """INSERT … ON CONFLICT DO NOTHING; True if a row was inserted."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        table = Base.metadata.tables[entity.__tablename__]
        pk = next(iter(table.primary_key.columns))
        stmt = insert(table).values(values).on_conflict_do_nothing().returning(pk)
        return session.execute(stmt).first() is not None

    def close(self) -> None:
        """Close every pooled connection (SQLite then checkpoints its WAL into the file)."""
        self.engine.dispose()


class OnDatabase:
    """Base of the read model's views: holds a ``Database``, its own or one given to share."""

    def __init__(self, db: Database | str) -> None:
        """Use ``db``, or open the database at the URL ``db``.

        Raises:
            StoreError: ``STORE_URL_INVALID`` (see ``Database``).
        """
        self._db = db if isinstance(db, Database) else Database(db)

    @property
    def database(self) -> Database:
        """The database this view reads or writes (share it to use one connection pool)."""
        return self._db

    def close(self) -> None:
        """Close the database's pooled connections (those of every view sharing it)."""
        self._db.close()
