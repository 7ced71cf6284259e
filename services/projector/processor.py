"""Projector processor: one Kafka record → one idempotent write to the read model."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from courtbus.deadletters import parse_dead_letter
from courtbus.errors import CourtbusError, RegistryError, SerializationError, ValidationError
from courtbus.gateway import Output, dead_letter
from courtbus.store import AlertRow, DeadLetterRow, ReadModel, StoredEvent
from courtbus.wire.envelope import Envelope, Event

log = logging.getLogger("courtbus.projector")
TOPICS = ["bus.delegation.events", "bus.deadletter", "bus.alerts"]


def stored(event: Event) -> StoredEvent:
    """A decoded event as the read model stores it."""
    h = event.headers
    return StoredEvent(
        event_id=h.id, topic=event.topic, partition=event.partition, offset=event.offset,
        record=event.record, ce_type=h.type, source=h.source, subject=h.subject, key=event.key,
        time=h.time, payload=event.payload,
    )  # fmt: skip


class ProjectorProcessor:
    """Writes what the bus saw into SQL."""

    def __init__(
        self, envelope: Envelope, model: ReadModel, group: str = "courtbus-projector"
    ) -> None:
        self.envelope = envelope
        self.model = model
        self.name = group

    def subscription(self) -> tuple[list[str], str | None]:
        """The delegation flow, the dead letters and the alerts."""
        return TOPICS, None

    def restore_topics(self) -> list[str]:
        """No Kafka state: the database is the state."""
        return []

    def restore(self, record: Any) -> None:
        """Never called."""

    def begin(self) -> None:
        """Nothing to mark: every write is idempotent."""

    def rollback(self) -> None:
        """Nothing to undo: a replayed write is a no-op."""

    def flush(self) -> list[Output]:
        """Nothing."""
        return []

    def tick(self, now: datetime) -> list[Output]:
        """No timers."""
        return []

    def handle(self, raw: Any) -> list[Output]:
        """Project one record; an undecodable one is dead-lettered, not dropped."""
        if raw.topic == "bus.deadletter":
            letter = parse_dead_letter(raw)
            self.model.apply_dead_letter(DeadLetterRow(
                source_topic=letter.source_topic, source_partition=letter.source_partition,
                source_offset=letter.source_offset, code=letter.code, reason=letter.reason,
                key=letter.key, value=b"", headers=[(k, v) for k, v in letter.original_headers if k.startswith("ce_")],
                dead_at=letter.time or datetime.now().astimezone(),
            ))  # fmt: skip
            return []
        try:
            event = self.envelope.read(raw)
        except RegistryError:
            raise
        except CourtbusError as exc:
            log.error("cannot project %s@%d:%d: %s", raw.topic, raw.partition, raw.offset, exc)
            return [dead_letter(raw, exc)]
        if raw.topic == "bus.alerts":
            p = event.payload
            kind = f"{p.get('deadline', 'UNKNOWN')}_{p.get('notice', 'ALERT')}"
            court = (
                p.get("executing_court", {}).get("court_id")
                if isinstance(p.get("executing_court"), dict)
                else None
            )
            message = f"{event.record.rsplit('.', 1)[1]}: {p.get('delegation_id')} {kind.lower()} (due {p.get('due_at')})"
            self.model.apply_alert(
                AlertRow(
                    event.headers.id,
                    kind,
                    p.get("delegation_id"),
                    court,
                    message,
                    event.headers.time,
                )
            )
            return []
        try:
            result = self.model.apply_event(stored(event))
        except (
            ValidationError,
            SerializationError,
        ) as exc:  # data the store cannot take: never retry
            log.error("cannot project %s@%d:%d: %s", raw.topic, raw.partition, raw.offset, exc)
            return [dead_letter(raw, exc)]
        log.debug("%s %s: %s", event.record, event.headers.id, result)
        return []
