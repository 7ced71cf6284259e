"""The SQL read model: events, delegations, their history, dead letters and alerts, queryable.

SQLite (``sqlite:///path.db``) by default, PostgreSQL (``postgresql+psycopg://…``) when
shared. Every write is one transaction and idempotent on its natural key, enforced by the
database's own primary and unique keys (``INSERT … ON CONFLICT DO NOTHING``), so two
appliers racing on the same event cannot both apply it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from courtbus.domain.delegation import DeadlineRule, Step, apply, request
from courtbus.domain.identity import mask_ids_in_text
from courtbus.errors import StoreError, ValidationError
from courtbus.store import delegation_rows as rows
from courtbus.store.jsonify import headers_from_json, headers_to_json, masked, to_json
from courtbus.store.model import (
    AlertRow,
    ApplyResult,
    DeadLetterRow,
    DelegationRow,
    HistoryRow,
    StoredEvent,
)
from courtbus.store.models import (
    AlertRecord,
    Base,
    DeadLetterRecord,
    DelegationRecord,
    EventRecord,
    HistoryRecord,
)

MIGRATIONS = "courtbus.store:migrations"  # Alembic's package:folder form, works when installed
_BACKENDS = ("sqlite", "postgresql")
_MIGRATE_LOCK = 0x636F757274  # pg_advisory_xact_lock key: one migrator at a time


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


class ReadModel:
    """Queryable state built from bus events; safe to replay any event any number of times."""

    def __init__(self, url: str, deadlines: Callable[[str], DeadlineRule] | None = None) -> None:
        """Open (lazily: nothing connects until the first call) the database at ``url``.

        ``deadlines`` gives the deadline rule of a matter type (the delegation service's,
        so the due dates shown match the notices sent); the legal defaults without it.

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
            self._engine: Engine = create_engine(parsed, pool_pre_ping=True)
            self._deadlines = deadlines
        except (ArgumentError, ValueError, ImportError) as exc:  # ImportError: no such driver
            raise StoreError(
                f"read model URL is invalid: {type(exc).__name__}: {exc}",
                code="STORE_URL_INVALID",
            ) from exc
        self._dialect = self._engine.dialect.name
        if self._dialect == "sqlite":
            event.listen(self._engine, "connect", _on_sqlite_connect)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            where = self._engine.url.render_as_string(hide_password=True)
            raise StoreError(
                f"read model database {where} failed: {type(exc.orig).__name__}: {exc.orig}",
                code="STORE_UNAVAILABLE",
            ) from exc

    def _insert_new(self, session: Session, entity: type[Base], values: dict[str, Any]) -> bool:
        """INSERT … ON CONFLICT DO NOTHING; True if a row was inserted."""
        insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        table = Base.metadata.tables[entity.__tablename__]
        pk = next(iter(table.primary_key.columns))
        stmt = insert(table).values(values).on_conflict_do_nothing().returning(pk)
        return session.execute(stmt).first() is not None

    def migrate(self) -> None:
        """Bring the schema to the newest revision (``alembic upgrade head``); idempotent.

        Raises:
            StoreError: ``STORE_UNAVAILABLE`` if the database cannot be reached or refuses.
        """
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        with self._guard(), self._engine.begin() as connection:
            if self._dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def apply_event(self, ev: StoredEvent) -> ApplyResult:
        """Store an event once and, for a delegation step, move the delegation on — one
        transaction. ID numbers in the payload are stored masked.

        Returns ``DUPLICATE`` if its ce_id was stored before (nothing changes), ``REFUSED`` if
        the delegation domain refused the step (recorded in history with the error code),
        else ``APPLIED``.

        Raises:
            ValidationError: ``DELEGATION_ID_MISSING`` (a delegation event naming no
                delegation: nothing stored).
            SerializationError: ``STORE_JSON_UNSUPPORTED`` (a payload value JSON cannot hold).
            StoreError: ``STORE_UNAVAILABLE``; ``STORE_CONFLICT`` if a concurrent writer kept
                winning.
        """
        is_delegation = ".delegation." in ev.record
        delegation_id = rows.delegation_id_of(ev) if is_delegation else None
        values = {
            "event_id": ev.event_id, "topic": ev.topic, "partition": ev.partition,
            "offset": ev.offset, "record": ev.record, "ce_type": ev.ce_type,
            "source": ev.source, "subject": ev.subject, "key": ev.key, "time": ev.time,
            "payload": to_json(masked(ev.payload)),
        }  # fmt: skip
        with self._guard():
            for _attempt in range(3):
                try:
                    with self._sessions.begin() as session:
                        if not self._insert_new(session, EventRecord, values):
                            return ApplyResult.DUPLICATE
                        if delegation_id is None:
                            return ApplyResult.APPLIED
                        return self._apply_step(session, ev, delegation_id)
                except IntegrityError:
                    # Lost a race to create the same delegation: the retry sees the winner's
                    # row (and refuses this one as DELEGATION_DUPLICATE) or its event.
                    continue
        raise StoreError(
            f"event {ev.event_id} kept conflicting with concurrent writers", code="STORE_CONFLICT"
        )

    def _apply_step(self, session: Session, ev: StoredEvent, delegation_id: str) -> ApplyResult:
        row = session.get(DelegationRecord, delegation_id, with_for_update=True)
        try:
            step = rows.step_of(ev.short_name)
            if row is None and step is Step.REQUESTED:
                requesting, executing, matter, at = rows.requested_fields(ev)
                created = request(delegation_id, requesting, executing, matter, at)
                row = rows.new_record(ev, created)
                session.add(row)
                session.flush()  # before history, so a lost race fails here
            elif row is None:
                raise ValidationError(
                    f"{ev.short_name} for unknown delegation {delegation_id}",
                    code="DELEGATION_UNKNOWN",
                )
            else:
                rule = self._deadlines(row.matter) if self._deadlines else None
                moved = apply(rows.to_domain(row), step, rows.court_of(ev.source), ev.time, rule)
                rows.write_back(row, moved, ev)
        except ValidationError as exc:
            session.add(self._history(ev, delegation_id, error_code=exc.code))
            return ApplyResult.REFUSED
        session.add(self._history(ev, delegation_id, state_after=row.state))
        return ApplyResult.APPLIED

    @staticmethod
    def _history(
        ev: StoredEvent,
        delegation_id: str,
        *,
        error_code: str | None = None,
        state_after: str | None = None,
    ) -> HistoryRecord:
        return HistoryRecord(
            delegation_id=delegation_id, event_id=ev.event_id, record=ev.short_name,
            source=ev.source, time=ev.time, applied=error_code is None,
            error_code=error_code, state_after=state_after,
        )  # fmt: skip

    def apply_dead_letter(self, row: DeadLetterRow) -> bool:
        """Store a dead letter once per source position; False if it was already there.

        ID-shaped numbers in ``reason`` are masked.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        values = {
            "source_topic": row.source_topic, "source_partition": row.source_partition,
            "source_offset": row.source_offset, "code": row.code,
            "reason": mask_ids_in_text(row.reason), "key": row.key, "value": row.value,
            "headers": headers_to_json(row.headers), "dead_at": row.dead_at,
        }  # fmt: skip
        with self._guard(), self._sessions.begin() as session:
            return self._insert_new(session, DeadLetterRecord, values)

    def apply_alert(self, row: AlertRow) -> bool:
        """Store an alert once per ``alert_id``; False if it was already there.

        ID-shaped numbers in ``message`` are masked.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        values = {
            "alert_id": row.alert_id, "kind": row.kind, "delegation_id": row.delegation_id,
            "court_id": row.court_id, "message": mask_ids_in_text(row.message), "time": row.time,
        }  # fmt: skip
        with self._guard(), self._sessions.begin() as session:
            return self._insert_new(session, AlertRecord, values)

    def delegations(
        self, *, court: str | None = None, state: str | None = None
    ) -> list[DelegationRow]:
        """Delegations, oldest request first; ``court`` matches requesting or executing.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        query = select(DelegationRecord)
        if court is not None:
            query = query.where(
                or_(
                    DelegationRecord.requesting_court == court,
                    DelegationRecord.executing_court == court,
                )
            )
        if state is not None:
            query = query.where(DelegationRecord.state == state)
        query = query.order_by(DelegationRecord.requested_at, DelegationRecord.delegation_id)
        with self._guard(), self._sessions() as session:
            return [rows.delegation_row(r) for r in session.scalars(query)]

    def delegation(self, delegation_id: str) -> DelegationRow | None:
        """One delegation, or None if the read model has not seen it requested.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._guard(), self._sessions() as session:
            found = session.get(DelegationRecord, delegation_id)
            return None if found is None else rows.delegation_row(found)

    def history(self, delegation_id: str) -> list[HistoryRow]:
        """Every event seen for a delegation, applied or refused, by (time, id).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        query = (
            select(HistoryRecord)
            .where(HistoryRecord.delegation_id == delegation_id)
            .order_by(HistoryRecord.time, HistoryRecord.id)
        )
        with self._guard(), self._sessions() as session:
            return [rows.history_row(r) for r in session.scalars(query)]

    def dead_letters(self, *, code: str | None = None) -> list[DeadLetterRow]:
        """Dead letters in the order they were stored, optionally only those with ``code``.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``; SerializationError ``STORE_HEADERS_CORRUPT``.
        """
        query = select(DeadLetterRecord).order_by(DeadLetterRecord.id)
        if code is not None:
            query = query.where(DeadLetterRecord.code == code)
        with self._guard(), self._sessions() as session:
            return [_dead_letter_row(r) for r in session.scalars(query)]

    def dead_letter(self, dl_id: int) -> DeadLetterRow | None:
        """One dead letter by its surrogate id, or None.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``; SerializationError ``STORE_HEADERS_CORRUPT``.
        """
        with self._guard(), self._sessions() as session:
            found = session.get(DeadLetterRecord, dl_id)
            return None if found is None else _dead_letter_row(found)

    def alerts(self) -> list[AlertRow]:
        """Every alert, oldest first.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        query = select(AlertRecord).order_by(AlertRecord.time, AlertRecord.alert_id)
        with self._guard(), self._sessions() as session:
            return [
                AlertRow(r.alert_id, r.kind, r.delegation_id, r.court_id, r.message, r.time)
                for r in session.scalars(query)
            ]

    def close(self) -> None:
        """Close every pooled connection (SQLite then checkpoints its WAL into the file)."""
        self._engine.dispose()


def _dead_letter_row(r: DeadLetterRecord) -> DeadLetterRow:
    return DeadLetterRow(
        r.source_topic, r.source_partition, r.source_offset, r.code, r.reason, r.key,
        r.value, headers_from_json(r.headers), r.dead_at, id=r.id,
    )  # fmt: skip
