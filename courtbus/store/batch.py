"""A batch of the projector's rows, checked one by one and written together.

``PendingRows`` takes each record's rows as the projector reads them and runs the checks that
need no database (a decision naming no delegation, a payload JSON cannot hold) at once, so a
bad record is refused alone; ``ReadModelWriter.write_batch`` then writes them all in the
batch's transaction: dead letters, alerts and events in one multi-row ``INSERT … ON CONFLICT
DO NOTHING`` each, list entries in one multi-row upsert guarded by ``version``, decisions with
what they build on (rows, stored steps, history) fetched once for the whole batch. Imports no
writer and no Kafka client.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from courtbus.domain.masking import mask_ids_in_text
from courtbus.store import delegation_rows as rows
from courtbus.store.database import Database
from courtbus.store.delegation_rows import Decision
from courtbus.store.jsonify import headers_to_json, masked, to_json
from courtbus.store.models import (
    Base,
    BlacklistRecord,
    DelegationRecord,
    EventRecord,
    HistoryRecord,
)
from courtbus.store.values import AlertRow, DeadLetterRow, StoredEvent

_CHUNK = 500  # keys per IN (…): well under every driver's limit of bound parameters


def event_values(ev: StoredEvent) -> tuple[dict[str, Any], Decision | None]:
    """The ``events`` row of an event (ID numbers masked) and, for a ``DelegationDecided``,
    the decision.

    Raises:
        ValidationError: the decision is unusable (see ``delegation_rows.decision_of``).
        SerializationError: ``STORE_JSON_UNSUPPORTED``.
    """
    decision = rows.decision_of(ev) if ev.record == rows.DECIDED else None
    values = {
        "event_id": ev.event_id,
        "topic": ev.topic,
        "partition": ev.partition,
        "offset": ev.offset,
        "record": ev.record,
        "ce_type": ev.ce_type,
        "source": ev.source,
        "subject": ev.subject,
        "key": ev.key,
        "time": ev.time,
        "payload": to_json(masked(ev.payload)),
    }
    return values, decision


def dead_letter_values(row: DeadLetterRow) -> dict[str, Any]:
    """The ``dead_letters`` row of a dead letter (ID-shaped numbers in ``reason`` masked)."""
    return {
        "source_topic": row.source_topic,
        "source_partition": row.source_partition,
        "source_offset": row.source_offset,
        "code": row.code,
        "reason": mask_ids_in_text(row.reason),
        "key": row.key,
        "value": row.value,
        "headers": headers_to_json(row.headers),
        "dead_at": row.dead_at,
    }


def alert_values(row: AlertRow) -> dict[str, Any]:
    """The ``alerts`` row of an alert (ID-shaped numbers in ``message`` masked)."""
    return {
        "alert_id": row.alert_id,
        "kind": row.kind,
        "delegation_id": row.delegation_id,
        "court_id": row.court_id,
        "message": mask_ids_in_text(row.message),
        "time": row.time,
    }


def blacklist_values(entry: dict[str, Any]) -> dict[str, Any]:
    """The ``blacklist_entries`` columns of one decoded ``BlacklistEntry``."""
    debtor, court = entry["debtor"], entry["listing_court"]["court_id"]
    return {
        "entry_id": entry["entry_id"],
        "status": entry["status"],
        "listing_court": court,
        "province": court[:2],
        "case_number": entry["case_number"]["text"],
        "debtor_kind": debtor["kind"],
        "debtor_name": debtor["name"],
        "debtor_id": debtor["id_number"],
        "ground": entry["ground"],
        "serious": entry["serious"],
        "period_months": entry["period_months"],
        "listed_at": entry["listed_at"],
        "expires_at": entry["expires_at"],
        "updated_at": entry["updated_at"],
        "delisted_at": entry["delisted_at"],
        "reason": entry["reason"],
        "version": entry["version"],
        "entry": to_json(entry),
    }


@dataclass
class PendingRows:
    """The rows of a batch of records, in the order the records came, not yet written.

    Each ``add_*`` checks what it can without the database and raises as the one-record
    writer would, so the caller refuses that record alone.
    """

    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[dict[str, Any], Decision | None]] = field(default_factory=list)
    blacklist: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)
    watchdog_alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    distributions: list[tuple[dict[str, Any], datetime]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(kept) for kept in self._lists())

    def mark(self) -> tuple[int, ...]:
        """Where the rows end now (``undo`` goes back there)."""
        return tuple(len(kept) for kept in self._lists())

    def undo(self, mark: tuple[int, ...]) -> None:
        """Forget the rows added since ``mark`` (a record that failed half-way)."""
        for kept, at in zip(self._lists(), mark, strict=True):
            del kept[at:]

    def _lists(self) -> tuple[list[Any], ...]:
        return (
            self.dead_letters,
            self.alerts,
            self.events,
            self.blacklist,
            self.controls,
            self.watchdog_alerts,
            self.distributions,
        )

    def add_event(self, ev: StoredEvent) -> None:
        """An event to store once per ce_id (a decision also moves its delegation).

        Raises:
            ValidationError, SerializationError: see ``event_values``.
        """
        self.events.append(event_values(ev))

    def add_dead_letter(self, row: DeadLetterRow) -> None:
        """A dead letter to store once per source position."""
        self.dead_letters.append(dead_letter_values(row))

    def add_alert(self, row: AlertRow) -> None:
        """An alert to store once per ``alert_id``."""
        self.alerts.append(alert_values(row))

    def add_blacklist_entry(self, entry_id: str, entry: dict[str, Any] | None) -> None:
        """An entry of ``blacklist.entries`` to upsert by version (None: delete it).

        Raises:
            KeyError: the entry lacks a field the table needs.
        """
        self.blacklist.append((entry_id, None if entry is None else blacklist_values(entry)))

    def add_restriction_control(self, control: dict[str, Any]) -> None:
        """A ``RestrictionControl`` to upsert with its children (written in order)."""
        self.controls.append(control)

    def add_watchdog_alert(self, alert_id: str, alert: dict[str, Any]) -> None:
        """A ``CaseWatchdogAlert`` to store once."""
        self.watchdog_alerts.append((alert_id, alert))

    def add_distribution(self, view: dict[str, Any], seen_at: datetime) -> None:
        """A ``DistributionView`` to upsert (written in order)."""
        self.distributions.append((view, seen_at))


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _insert(db: Database) -> Any:
    return pg_insert if db.dialect == "postgresql" else sqlite_insert


def insert_new_rows(
    db: Database, session: Session, entity: type[Base], values: Sequence[dict[str, Any]]
) -> set[Any]:
    """``INSERT … ON CONFLICT DO NOTHING`` of many rows; the primary keys of those inserted.

    One statement, compiled once and cached: the driver gets it as multi-row ``VALUES``
    (SQLAlchemy's "insertmanyvalues"), for SQLite and PostgreSQL alike.
    """
    if not values:
        return set()
    table = Base.metadata.tables[entity.__tablename__]
    pk = next(iter(table.primary_key.columns))
    stmt = _insert(db)(table).on_conflict_do_nothing().returning(pk)
    return set(session.execute(stmt, list(values)).scalars())


def insert_new_rows_quietly(
    db: Database, session: Session, entity: type[Base], values: Sequence[dict[str, Any]]
) -> None:
    """``INSERT … ON CONFLICT DO NOTHING`` of many rows (no keys returned)."""
    if values:
        table = Base.metadata.tables[entity.__tablename__]
        session.execute(_insert(db)(table).on_conflict_do_nothing(), list(values))


def write_blacklist(
    db: Database, session: Session, items: Sequence[tuple[str, dict[str, Any] | None]]
) -> None:
    """Entries in order, as one entry at a time would leave them: an upsert that only a
    higher ``version`` wins (the highest of a batch is the one sent), a tombstone deletes.

    Upserts of different entries commute, so they go in one statement each run of them; a
    tombstone first writes the run before it, keeping its place in the order.
    """
    table = Base.metadata.tables[BlacklistRecord.__tablename__]
    insert = _insert(db)(table)
    newer = {c.name: insert.excluded[c.name] for c in table.columns if c.name != "entry_id"}
    upsert = insert.on_conflict_do_update(
        index_elements=["entry_id"], set_=newer, where=table.c.version < insert.excluded.version
    )
    run: dict[str, dict[str, Any]] = {}

    def write_run() -> None:
        if run:
            session.execute(upsert, list(run.values()))
            run.clear()

    for entry_id, values in items:
        if values is None:
            write_run()
            session.execute(delete(table).where(table.c.entry_id == entry_id))
            continue
        kept = run.get(entry_id)
        if kept is None or int(values["version"]) > int(kept["version"]):
            run[entry_id] = values
    write_run()


class RecordLookup:
    """What a decision builds on, found one record at a time: its delegation's row (locked
    for update), the stored step it decides on, and whether that step was decided already."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, delegation_id: str) -> DelegationRecord | None:
        """The delegation's row, or None."""
        return self.session.get(DelegationRecord, delegation_id, with_for_update=True)

    def stored(self, event_id: str) -> EventRecord | None:
        """The stored event ``event_id``, or None."""
        return self.session.get(EventRecord, event_id)

    def decided(self, event_id: str) -> bool:
        """Whether a history row for step ``event_id`` exists."""
        query = select(HistoryRecord.id).where(HistoryRecord.event_id == event_id)
        return self.session.scalar(query) is not None

    def add(self, row: DelegationRecord) -> None:
        """A new delegation row, written at once (a lost race to create it fails here)."""
        self.session.add(row)
        self.session.flush()

    def add_history(self, record: HistoryRecord) -> None:
        """A history row."""
        self.session.add(record)


class BatchLookup(RecordLookup):
    """The same, for a batch's decisions: fetched in three queries for all of them, kept up
    to date as the batch's decisions are applied; rows are written by one flush at the end."""

    def __init__(self, session: Session, decisions: Sequence[Decision], postgres: bool) -> None:
        super().__init__(session)
        dids = sorted({d.delegation_id for d in decisions})
        steps = sorted({d.decided_event_id for d in decisions})
        self._rows: dict[str, DelegationRecord] = {}
        self._stored: dict[str, EventRecord] = {}
        self._decided: set[str] = set()
        for chunk in _chunks(dids):
            query = select(DelegationRecord).where(DelegationRecord.delegation_id.in_(chunk))
            if postgres:  # sorted ids: two batches lock their rows in the same order
                query = query.order_by(DelegationRecord.delegation_id).with_for_update()
            self._rows.update((r.delegation_id, r) for r in session.scalars(query))
        for chunk in _chunks(steps):
            found = session.scalars(select(EventRecord).where(EventRecord.event_id.in_(chunk)))
            self._stored.update((r.event_id, r) for r in found)
            done = select(HistoryRecord.event_id).where(HistoryRecord.event_id.in_(chunk))
            self._decided.update(session.scalars(done))

    def row(self, delegation_id: str) -> DelegationRecord | None:
        return self._rows.get(delegation_id)

    def stored(self, event_id: str) -> EventRecord | None:
        return self._stored.get(event_id)

    def decided(self, event_id: str) -> bool:
        return event_id in self._decided

    def add(self, row: DelegationRecord) -> None:
        self.session.add(row)
        self._rows[row.delegation_id] = row

    def add_history(self, record: HistoryRecord) -> None:
        self.session.add(record)
        self._decided.add(record.event_id)
