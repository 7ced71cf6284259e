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
from datetime import datetime
from typing import Any

from courtbus.bus.deadletters import parse_dead_letter
from courtbus.bus.records import Output
from courtbus.bus.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, flow_topic
from courtbus.errors import StoreError, TransientError
from courtbus.runtime import Flow, Incoming, Inputs, State
from courtbus.store import AlertRow, DeadLetterRow, ReadModel, StoredEvent
from courtbus.wire.envelope import Envelope, Event

log = logging.getLogger("courtbus.projector")
BLACKLIST_VIEW = "blacklist.entries"
RESTRICTION_VIEW = "restriction.controls"
DISTRIBUTION_VIEW = "distribution.cases"
TOPICS = (flow_topic("delegation"), DEADLETTER_TOPIC, ALERTS_TOPIC, BLACKLIST_VIEW,
          RESTRICTION_VIEW, DISTRIBUTION_VIEW)  # fmt: skip


def stored(event: Event) -> StoredEvent:
    """A decoded event as the read model stores it."""
    h = event.headers
    return StoredEvent(
        event_id=h.id, topic=event.topic, partition=event.partition, offset=event.offset,
        record=event.record, ce_type=h.type, source=h.source, subject=h.subject, key=event.key,
        time=h.time, payload=event.payload,
    )  # fmt: skip


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
        message = (f"CaseWatchdogAlert {p['alert_number']}: case {p['case_number']['text']} "
                   f"performed, still in force: {items}")  # fmt: skip
        return AlertRow(event.headers.id, "WATCHDOG", None,
                        p["court"]["court_id"], message, event.headers.time)  # fmt: skip
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
    """Writes what the bus decided into SQL."""

    name = "projector"
    source = "bus:projector"
    inputs = Inputs(topics=TOPICS)
    decode = False  # dead letters are read raw

    def __init__(self, envelope: Envelope, model: ReadModel, group: str | None = None) -> None:
        super().__init__(envelope)
        self.model = model
        self.group = group

    def sender(self, raw: Any) -> tuple[str, str] | None:
        """Nobody: what the projector cannot store goes to the dead letters only."""
        return None

    def begin_batch(self) -> None:
        """One database transaction per batch; each record in a savepoint of it.

        Raises:
            TransientError: the database is unreachable.
        """
        try:
            self.model.begin_batch()
        except StoreError as exc:
            raise TransientError(exc.reason, code=exc.code) from exc

    def end_batch(self) -> None:
        """Commit the batch's rows before its offsets commit (a replay finds them: no-ops).

        Raises:
            TransientError: the commit failed; the batch is retried.
        """
        try:
            self.model.commit_batch()
        except StoreError as exc:
            raise TransientError(exc.reason, code=exc.code) from exc

    def abort_batch(self) -> None:
        """Roll back the batch's rows."""
        self.model.rollback_batch()

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Project one record; raise to dead-letter what cannot be stored."""
        raw = record.raw
        if raw.topic == DEADLETTER_TOPIC:
            letter = parse_dead_letter(raw)
            self.model.apply_dead_letter(DeadLetterRow(
                source_topic=letter.source_topic, source_partition=letter.source_partition,
                source_offset=letter.source_offset, code=letter.code, reason=letter.reason,
                key=letter.key, value=b"", headers=[(k, v) for k, v in letter.original_headers if k.startswith("ce_")],
                dead_at=letter.time or datetime.now().astimezone(),
            ))  # fmt: skip
            return []
        if raw.topic == BLACKLIST_VIEW and raw.value is None:  # a tombstone: the entry left
            self.model.apply_blacklist_entry((raw.key or b"").decode(), None)
            return []
        if raw.topic in (RESTRICTION_VIEW, DISTRIBUTION_VIEW) and raw.value is None:
            return []  # the view forgets a lifted control; the read model keeps it as LIFTED
        event = self.envelope.read(raw)
        try:
            if raw.topic == BLACKLIST_VIEW:
                self.model.apply_blacklist_entry(event.key or "", event.payload)
                return []
            if raw.topic == RESTRICTION_VIEW:
                self.model.apply_restriction_control(event.payload)
                return []
            if raw.topic == DISTRIBUTION_VIEW:
                self.model.apply_distribution(event.payload, event.headers.time)
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
