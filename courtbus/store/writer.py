"""The projector's side of the read model: store events, decisions, dead letters and alerts.

Every write is one transaction (or, inside ``begin_batch`` … ``commit_batch``, one savepoint of
the batch's transaction) and idempotent on its natural key, enforced by the database's
own primary and unique keys (``INSERT … ON CONFLICT DO NOTHING``, unique history rows per
step and per decision), so two appliers racing on the same record cannot both apply it.

Delegation rows come from the delegation service's ``DelegationDecided`` records only: the
store copies what was decided and never runs the delegation state machine itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courtbus.errors import StoreError, ValidationError
from courtbus.store import delegation_rows as rows
from courtbus.store import distribution_rows, restriction_rows
from courtbus.store.batch import (
    BatchLookup,
    PendingRows,
    RecordLookup,
    alert_values,
    blacklist_values,
    dead_letter_values,
    event_values,
    insert_new_rows,
    insert_new_rows_quietly,
    write_blacklist,
)
from courtbus.store.database import OnDatabase
from courtbus.store.delegation_rows import Decision, StepEvent
from courtbus.store.models import (
    AlertRecord,
    BlacklistRecord,
    DeadLetterRecord,
    DelegationRecord,
    EventRecord,
)
from courtbus.store.upsert import put_row
from courtbus.store.values import AlertRow, ApplyResult, DeadLetterRow, StoredEvent

MIGRATIONS = "courtbus.store:migrations"  # Alembic's package:folder form, works when installed
_MIGRATE_LOCK = 0x636F757274  # pg_advisory_xact_lock key: one migrator at a time
_ATTEMPTS = 3


class ReadModelWriter(OnDatabase):
    """What the projector writes; safe to replay any record any number of times.

    ``ReadModelWriter(url)`` or ``ReadModelWriter(database)`` (a ``Database`` shared with a
    ``ReadModelQueries``).
    """

    _batch: Session | None = None

    def begin_batch(self) -> None:
        """Open one transaction for the writes until ``commit_batch`` (each in a savepoint).

        A record that fails rolls back its own savepoint only; one commit per batch instead of
        one per record is what keeps the projector's CPU and fsyncs low.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        self.rollback_batch()
        with self._db.guard():
            session = self._db.sessions()
            session.begin()
            self._batch = session

    def commit_batch(self) -> None:
        """Commit the batch's transaction (nothing if no batch is open).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``; the batch is rolled back.
        """
        session, self._batch = self._batch, None
        if session is None:
            return
        try:
            with self._db.guard():
                session.commit()
        finally:
            session.close()

    def rollback_batch(self) -> None:
        """Forget the batch's writes (nothing if no batch is open)."""
        session, self._batch = self._batch, None
        if session is not None:
            try:
                session.rollback()
            finally:
                session.close()

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A transaction for one write: a savepoint of the open batch, or its own."""
        if self._batch is not None:
            with self._batch.begin_nested():
                yield self._batch
        else:
            with self._db.sessions.begin() as session:
                yield session

    def migrate(self) -> None:
        """Bring the schema to the newest revision (``alembic upgrade head``); idempotent.

        Raises:
            StoreError: ``STORE_UNAVAILABLE`` if the database cannot be reached or refuses.
        """
        self.migrate_to("head")

    def migrate_to(self, revision: str) -> None:
        """Bring the schema to ``revision`` (e.g. ``0001``; upgrades only, for tests of
        upgrades).

        Raises:
            StoreError: ``STORE_UNAVAILABLE`` if the database cannot be reached or refuses.
        """
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        db = self._db
        with db.guard(), db.engine.begin() as connection:
            if db.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def apply_event(self, ev: StoredEvent) -> ApplyResult:
        """Store an event once (ID numbers in the payload masked) and, for a
        ``DelegationDecided``, copy the decision onto its delegation — one transaction.

        - Any event: stored in ``events`` once per ce_id; a repeat is ``DUPLICATE``.
        - A decision about a step already decided (a history row with that step's ce_id
          exists): stored, nothing else changes, ``DUPLICATE``.
        - An applied decision: creates the delegation row if there is none (from the stored
          request its ``decided_event_id`` names, else from the decision's own fields) — or
          replaces a REFUSED row when a new request under the same id is applied — then sets
          the row's state and deadlines to the decision's, adds a history row, ``APPLIED``.
        - A refused decision: a history row with its error code and masked reason, the row
          unchanged; a refused request for a delegation with no row creates the row in state
          REFUSED with ``refusal_code``/``refusal_reason``. ``REFUSED``.

        Raises:
            ValidationError: nothing is stored: ``DELEGATION_ID_MISSING`` (a decision naming
                no delegation), ``DELEGATION_DECISION_INVALID`` (a decision lacking a field or
                with a value too long, or an applied decision for a delegation with no row
                that names neither its courts and matter nor a stored request),
                ``DELEGATION_DECISION_MISMATCH`` (the stored event it names is another step
                or another delegation's), ``DELEGATION_PAYLOAD_INVALID`` (the stored request's
                amount or a field cannot be stored).
            SerializationError: ``STORE_JSON_UNSUPPORTED`` (a payload value JSON cannot hold).
            StoreError: ``STORE_UNAVAILABLE``; ``STORE_CONFLICT`` if a concurrent writer kept
                winning.
        """
        values, decision = event_values(ev)
        db = self._db
        with db.guard():
            for _attempt in range(_ATTEMPTS):
                try:
                    with self._writing() as session:
                        if not db.insert_new(session, EventRecord, values):
                            return ApplyResult.DUPLICATE
                        if decision is None:
                            return ApplyResult.APPLIED
                        return self._apply_decision(RecordLookup(session), decision)
                except IntegrityError:
                    # Lost a race to create the same delegation or to decide the same step:
                    # the retry sees the winner's row, history or event.
                    continue
        raise StoreError(
            f"event {ev.event_id} kept conflicting with concurrent writers", code="STORE_CONFLICT"
        )

    def _apply_decision(self, found: RecordLookup, d: Decision) -> ApplyResult:
        row = found.row(d.delegation_id)
        stored = found.stored(d.decided_event_id)
        step = None if stored is None else rows.step_event(stored)
        if step is not None:
            rows.check_matches(d, step)
        if found.decided(d.decided_event_id):
            return ApplyResult.DUPLICATE
        request = step if d.step == rows.REQUESTED else None
        if not d.applied:
            if row is None and d.step == rows.REQUESTED:
                # Lenient: a refused request may be refused for the very values we cannot store.
                details = rows.request_details(request, strict=False) if request else None
                created = rows.new_record(d, details, step)
                if created is not None:  # else: history only (no courts to show)
                    created.state = rows.STATE_REFUSED
                    created.refusal_code, created.refusal_reason = d.error_code, d.reason
                    found.add(created)  # before history, so a lost race fails here
            found.add_history(rows.history_record(d, step))
            return ApplyResult.REFUSED
        details = rows.request_details(request) if request else None
        if row is None:
            row = rows.new_record(d, details, step)
            if row is None:
                raise ValidationError(
                    f"DelegationDecided {d.decision_id} applies {d.step} to {d.delegation_id}, "
                    "which has no row, and neither it nor a stored request names both courts "
                    "and the matter",
                    code="DELEGATION_DECISION_INVALID",
                )
        elif d.step == rows.REQUESTED and row.state == rows.STATE_REFUSED:
            # A new request under the id of a refused one, applied this time: it replaces it.
            fresh = rows.new_record(d, details, step)
            if fresh is not None:
                for attr in inspect(DelegationRecord).column_attrs:
                    if attr.key != "delegation_id":
                        setattr(row, attr.key, getattr(fresh, attr.key))
        self._move(found, row, d, step)
        found.add_history(rows.history_record(d, step))
        return ApplyResult.APPLIED

    def _move(
        self, found: RecordLookup, row: DelegationRecord, d: Decision, step: StepEvent | None
    ) -> None:
        """Copy an applied decision onto the row: state and deadlines as decided."""
        session = found.session
        if row not in session:
            found.add(row)  # a lost race to create the row fails here, before history
        row.state = d.state
        row.start_due, row.report_due = d.start_due, d.report_due
        if d.step in rows.REPORTING:
            row.reported = True
        if row.delivered_at is None and d.state not in (rows.STATE_REQUESTED, rows.STATE_REFUSED):
            row.delivered_at = self._delivered_at(session, d, step)
        row.event_count += 1
        row.updated_at = step.time if step else d.decided_at
        row.last_event_id = d.decided_event_id
        row.refusal_code = row.refusal_reason = None

    @staticmethod
    def _delivered_at(session: Session, d: Decision, step: StepEvent | None) -> datetime | None:
        """The delivery time: of the receipt decided on, else of the bus's stored
        ``DelegationDelivered`` receipt for this delegation (None if there is none)."""
        if step is not None and step.short_name == rows.DELIVERED:
            return rows.delivered_at(step)
        query = (
            select(EventRecord)
            .where(
                EventRecord.key == d.delegation_id,
                EventRecord.record == rows.NS + rows.DELIVERED,
                EventRecord.source.startswith("bus:"),
            )
            .order_by(EventRecord.time, EventRecord.offset)
            .limit(1)
        )
        receipt = session.scalars(query).first()
        return None if receipt is None else rows.delivered_at(rows.step_event(receipt))

    def write_batch(self, pending: PendingRows) -> None:
        """Write a batch's rows: in the open batch's transaction (see ``begin_batch``), else
        in one of their own. The same rows as ``apply_*`` one record at a time, in far fewer
        statements: one multi-row insert each for dead letters, alerts and events, one
        multi-row upsert for list entries, three queries for what the decisions build on,
        one flush for the delegation rows and history they make.

        Nothing is kept if anything fails: with a batch open, roll it back (``rollback_batch``)
        and write its records one at a time to find the one at fault.

        Raises:
            ValidationError: a decision cannot be applied (see ``apply_event``).
            StoreError: ``STORE_UNAVAILABLE`` (also for a row the database refuses).
        """
        db = self._db
        with db.guard(), self._whole() as session:
            session.flush()
            insert_new_rows_quietly(db, session, DeadLetterRecord, pending.dead_letters)
            insert_new_rows_quietly(db, session, AlertRecord, pending.alerts)
            seen: set[str] = set()
            unique = []
            for values, decision in pending.events:
                if values["event_id"] not in seen:
                    seen.add(values["event_id"])
                    unique.append((values, decision))
            new = insert_new_rows(db, session, EventRecord, [v for v, _ in unique])
            decisions = [d for v, d in unique if d is not None and v["event_id"] in new]
            if decisions:
                found = BatchLookup(session, decisions, db.dialect == "postgresql")
                for decision in decisions:
                    self._apply_decision(found, decision)
            write_blacklist(db, session, pending.blacklist)
            for control in pending.controls:
                restriction_rows.put_control(session, control)
            for alert_id, alert in pending.watchdog_alerts:
                restriction_rows.put_watchdog_alert(session, alert_id, alert)
            for view, seen_at in pending.distributions:
                distribution_rows.put_distribution(session, view, seen_at)
            session.flush()

    @contextmanager
    def _whole(self) -> Iterator[Session]:
        """The open batch's session (its transaction stays open), else a transaction."""
        if self._batch is not None:
            yield self._batch
        else:
            with self._db.sessions.begin() as session:
                yield session

    def apply_dead_letter(self, row: DeadLetterRow) -> bool:
        """Store a dead letter once per source position; False if it was already there.

        ID-shaped numbers in ``reason`` are masked.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        values = dead_letter_values(row)
        with self._db.guard(), self._writing() as session:
            return self._db.insert_new(session, DeadLetterRecord, values)

    def apply_alert(self, row: AlertRow) -> bool:
        """Store an alert once per ``alert_id``; False if it was already there.

        ID-shaped numbers in ``message`` are masked.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        values = alert_values(row)
        with self._db.guard(), self._writing() as session:
            return self._db.insert_new(session, AlertRecord, values)

    def apply_blacklist_entry(self, entry_id: str, entry: dict[str, Any] | None) -> bool:
        """Upsert one entry of the view ``blacklist.entries`` (None: its tombstone, delete it).

        A record older than the stored one (a lower ``version``) changes nothing, so a replay
        is a no-op; False then.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._writing() as session:
            found = session.get(BlacklistRecord, entry_id)
            if entry is None:
                if found is None:
                    return False
                session.delete(found)
                return True
            if found is not None and found.version >= int(entry["version"]):
                return False
            put_row(session, BlacklistRecord, found, blacklist_values(entry))
            return True

    def apply_restriction_control(self, control: dict[str, Any]) -> bool:
        """Upsert one decoded ``RestrictionControl`` of the view ``restriction.controls`` with
        its acknowledgements, exemptions and interceptions; False if not newer (a replay).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._writing() as session:
            return restriction_rows.put_control(session, control)

    def apply_watchdog_alert(self, alert_id: str, alert: dict[str, Any]) -> bool:
        """Store one decoded ``CaseWatchdogAlert`` once (by its ``ce_id``); False if stored.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._writing() as session:
            return restriction_rows.put_watchdog_alert(session, alert_id, alert)

    def apply_distribution(self, view: dict[str, Any], seen_at: datetime) -> bool:
        """Upsert one decoded ``DistributionView`` of ``distribution.cases`` (claims,
        objections, deposits; a plan version the first time it is seen, ``seen_at``); False
        if not newer (a replay).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._writing() as session:
            return distribution_rows.put_distribution(session, view, seen_at)
