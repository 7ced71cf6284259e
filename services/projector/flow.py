"""The projector flow: bus decisions, dead letters, alerts (watchdog alerts also in their own
table) and the views of the dishonest-debtor list, the restrictions and the distributions →
the SQL read model.

Stateless on Kafka: the database is its state, and every write is idempotent on ``ce_id``
(events, decisions, alerts) or on the refused record's position (dead letters), so a replay
or a restart after SIGKILL never duplicates a row. Data the store cannot take is refused
(dead-lettered), never retried in a loop.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from courtbus.bus.deadletters import parse_dead_letter
from courtbus.bus.records import Output
from courtbus.bus.topics import ALERTS_TOPIC, DEADLETTER_TOPIC
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import ConfigError, CourtbusError, StoreError, TransientError
from courtbus.flows.registry import registered
from courtbus.flows.spec import resolve
from courtbus.runtime import Flow, Incoming, Inputs, State
from courtbus.store import AlertRow, DeadLetterRow, ReadModelWriter
from courtbus.store.batch import PendingRows
from courtbus.wire.envelope import Envelope, Event, RawRecord
from services.projector.views import ViewHandler, stored

__all__ = [
    "TOPICS",
    "ProjectorFlow",
    "alert_row",
    "dead_letter_row",
    "handlers",
    "projected_topics",
    "stored",
]

log = logging.getLogger("courtbus.projector")
HOLD_LIMIT_S = 60.0  # a test's hold file left behind stops holding after this


def handlers() -> dict[str, ViewHandler]:
    """Each projected topic → its handler: every registered flow's ``FlowSpec.projector``
    (``courtbus.flows``), resolved now.

    Raises:
        ConfigError: ``FLOW_SPEC_UNRESOLVED`` for a handler that does not exist.
    """
    found: dict[str, ViewHandler] = {}
    for spec in registered():
        if spec.projector is not None:
            handler = resolve(spec.projector.handler)
            if not isinstance(handler, ViewHandler):
                raise ConfigError(
                    f"{spec.name}: {spec.projector.handler} is not a ViewHandler",
                    code="FLOW_SPEC_UNRESOLVED",
                )
            found[spec.projector.topic] = handler
    return found


def projected_topics() -> tuple[str, ...]:
    """What the projector reads: the flows' projected events topics, the dead letters, the
    alerts, then the flows' projected views (registration order)."""
    topics = [s.projector.topic for s in registered() if s.projector is not None]
    events = [t for t in topics if t.startswith("bus.") and t.endswith(".events")]
    views = [t for t in topics if t not in events]
    return (*events, DEADLETTER_TOPIC, ALERTS_TOPIC, *views)


class _Inputs:
    """``ProjectorFlow.inputs``: the projected topics of the flows registered now."""

    def __get__(self, instance: object, owner: type | None = None) -> Inputs:
        return Inputs(topics=projected_topics())


TOPICS = projected_topics()  # as registered at import (the built-in flows)


def alert_row(event: Event) -> AlertRow:
    """An alert as the read model stores it: a deadline notice or a service alert."""
    p: dict[str, Any] = event.payload
    if event.record.endswith(".ServiceAlert"):
        message = f"{p['service']} {p['code']}: {p['message']}"
        return AlertRow(event.headers.id, str(p["code"]), None, None, message, event.headers.time)
    if event.record.endswith(".BlacklistNotice"):
        court_id = p["listing_court"]["court_id"]
        message = f"BlacklistNotice: {p['entry_id']} {p['notice'].lower()}: {p['detail']}"
        return AlertRow(
            event.headers.id, str(p["notice"]), None, court_id, message, event.headers.time
        )
    if event.record.endswith(".CaseWatchdogAlert"):
        items = ", ".join(f"{i['item_id']} (court {i['court_id']})" for i in p["items"])
        message = (
            f"CaseWatchdogAlert {p['alert_number']}: case {p['case_number']['text']} "
            f"performed, still in force: {items}"
        )
        return AlertRow(
            event.headers.id, "WATCHDOG", None, p["court"]["court_id"], message, event.headers.time
        )
    kind = f"{p.get('deadline', 'UNKNOWN')}_{p.get('notice', 'ALERT')}"
    executing = p.get("executing_court")
    court = executing.get("court_id") if isinstance(executing, dict) else None
    short = event.record.rsplit(".", 1)[1]
    message = f"{short}: {p.get('delegation_id')} {kind.lower()} (due {p.get('due_at')})"
    if p.get("provisional"):
        message += f"; {p['provisional']}"
    return AlertRow(
        event.headers.id, kind, p.get("delegation_id"), court, message, event.headers.time
    )


class ProjectorFlow(Flow):
    """Writes what the bus decided into SQL, a batch of records at a time.

    Each record's rows are checked as it comes (a record the store cannot take is refused
    alone) and kept; ``end_batch`` writes the whole batch's rows in its one transaction, in
    a few multi-row statements. If that fails, nothing of the batch is kept and the batch is
    retried (``TransientError``) with its records written one at a time, each in a savepoint
    of the batch's transaction, so a record that fails only against the database (a decision
    that does not match the step it names) is refused alone and the others are applied.
    """

    name = "projector"
    source = "bus:projector"
    inputs = _Inputs()
    decode = False  # dead letters are read raw
    # A read model: rows 250 ms later cost nothing, and at 100 records/s a batch then holds
    # ~25 records instead of one, each batch being a database and a Kafka transaction (most of
    # the projector's CPU at low load: ~2.2 ms a record at 100/s, ~0.44 ms at 1,000/s).
    batch_wait_ms = 250

    def __init__(
        self,
        envelope: Envelope,
        model: ReadModelWriter,
        group: str | None = None,
        hold_commit_file: Path | None = None,
    ) -> None:
        """``hold_commit_file``: fault injection for tests only
        (``COURTBUS_TEST_HOLD_COMMIT_FILE``): while that file exists, a batch's database
        transaction is held open with its rows written, after logging "rows written", until
        the file is removed (at most ``HOLD_LIMIT_S``), so a test can crash the database inside
        it without racing a timer."""
        super().__init__(envelope)
        self.model = model
        self.group = group
        self.hold_commit_file = hold_commit_file
        self._pending = PendingRows()
        self._last: dict[tuple[str, int], int] = {}  # this batch's last offset per partition
        # Partitions whose batch failed as a whole, and the last offset of that batch: their
        # records up to there are written one at a time until a batch with them commits.
        self._one_by_one: dict[tuple[str, int], int] = {}
        self._handlers = handlers()

    def sender(self, raw: Any) -> tuple[str, str] | None:
        """Nobody: what the projector cannot store goes to the dead letters only."""
        return None

    def begin_batch(self) -> None:
        """Open the batch's database transaction (records written one at a time use
        savepoints of it; the rest is written in it by ``end_batch``).

        Raises:
            TransientError: the database is unreachable.
        """
        self._pending, self._last = PendingRows(), {}
        try:
            self.model.begin_batch()
        except StoreError as exc:
            raise TransientError(exc.reason, code=exc.code) from exc

    def end_batch(self) -> None:
        """Write the batch's kept rows and commit, before its offsets commit (a replay finds
        them: no-ops).

        Raises:
            TransientError: the write or the commit failed; nothing of the batch is kept, and
                its records are written one at a time when it is retried.
        """
        pending, self._pending = self._pending, PendingRows()
        try:
            if len(pending):
                self.model.write_batch(pending)
                self._hold_commit(len(pending))
            self.model.commit_batch()
        except Exception as exc:
            self.model.rollback_batch()
            if len(pending):
                for place, offset in self._last.items():
                    self._one_by_one[place] = max(self._one_by_one.get(place, -1), offset)
            code = exc.code if isinstance(exc, CourtbusError) else "STORE_BATCH_FAILED"
            reason = (
                exc.reason if isinstance(exc, CourtbusError) else f"{type(exc).__name__}: {exc}"
            )
            log.warning(
                "projector: a batch of %d rows failed (%s: %s); writing its records one at a time",
                len(pending),
                code,
                mask_ids_in_text(reason),
            )
            raise TransientError(reason, code=code) from exc
        for place, offset in list(self._one_by_one.items()):
            if self._last.get(place, -1) >= offset:
                del self._one_by_one[place]

    def _hold_commit(self, rows: int) -> None:
        """Fault injection: hold the open transaction while the test's hold file exists."""
        if self.hold_commit_file is None or not self.hold_commit_file.exists():
            return
        log.info("projector: %d rows written, not committed", rows)
        until = time.monotonic() + HOLD_LIMIT_S
        while self.hold_commit_file.exists() and time.monotonic() < until:
            time.sleep(0.01)

    def abort_batch(self) -> None:
        """Forget the batch's rows and roll back its transaction."""
        self._pending = PendingRows()
        self.model.rollback_batch()

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Project one record; raise to dead-letter what cannot be stored."""
        raw = record.raw
        place = (raw.topic, raw.partition)
        self._last[place] = max(self._last.get(place, -1), raw.offset)
        if raw.offset <= self._one_by_one.get(place, -1):
            return self._write_now(record)
        mark = self._pending.mark()
        try:
            self._keep(record)
        except BaseException:
            self._pending.undo(mark)
            raise
        return []

    def _keep(self, record: Incoming) -> None:
        """Check one record's rows and keep them for ``end_batch``."""
        raw, pending = record.raw, self._pending
        if raw.topic == DEADLETTER_TOPIC:
            pending.add_dead_letter(dead_letter_row(raw))
            return
        handler = self._handlers.get(raw.topic)
        if handler is not None:
            handler.keep(pending, raw, self._event(handler, raw))
            return
        event = self.envelope.read(raw)
        if raw.topic == ALERTS_TOPIC:
            pending.add_alert(alert_row(event))
            if event.record.endswith(".CaseWatchdogAlert"):
                pending.add_watchdog_alert(event.headers.id, event.payload)
        else:
            pending.add_event(stored(event))

    def _event(self, handler: ViewHandler, raw: RawRecord) -> Event | None:
        """The record decoded, or ``None`` for a tombstone its handler takes."""
        if raw.value is None and handler.tombstones:
            return None
        return self.envelope.read(raw)

    def _write_now(self, record: Incoming) -> list[Output]:
        """Project one record at once, in a savepoint of the batch (after a failed batch)."""
        raw = record.raw
        if raw.topic == DEADLETTER_TOPIC:
            self.model.apply_dead_letter(dead_letter_row(raw))
            return []
        handler = self._handlers.get(raw.topic)
        if handler is not None and raw.value is None and handler.tombstones:
            handler.apply(self.model, raw, None)  # a tombstone
            return []
        event = self.envelope.read(raw)
        try:
            if handler is not None:
                handler.apply(self.model, raw, event)
                return []
            if raw.topic == ALERTS_TOPIC:
                self.model.apply_alert(alert_row(event))
                if event.record.endswith(".CaseWatchdogAlert"):
                    self.model.apply_watchdog_alert(event.headers.id, event.payload)
                return []
            result = self.model.apply_event(stored(event))
        except StoreError as exc:
            if exc.code == "STORE_UNAVAILABLE":  # the database is down: retry, never drop
                raise TransientError(exc.reason, code=exc.code) from exc
            raise
        log.debug("%s %s: %s", event.record, event.headers.id, result)
        return []


def dead_letter_row(raw: RawRecord) -> DeadLetterRow:
    """A record of ``bus.deadletter`` as the read model stores it (the original's ce_ headers,
    not its bytes)."""
    letter = parse_dead_letter(raw)
    return DeadLetterRow(
        source_topic=letter.source_topic,
        source_partition=letter.source_partition,
        source_offset=letter.source_offset,
        code=letter.code,
        reason=letter.reason,
        key=letter.key,
        value=b"",
        headers=[(k, v) for k, v in letter.original_headers if k.startswith("ce_")],
        dead_at=letter.time or datetime.now().astimezone(),
    )
