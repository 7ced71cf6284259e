"""Gateway decisions over one raw record: forward it to its flow, or refuse it with a code."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from courtbus.catalogue.directory import Directory
from courtbus.domain import policy
from courtbus.domain.identity import mask_ids_in_text
from courtbus.domain.money import Money
from courtbus.errors import CourtbusError, ValidationError
from courtbus.gateway.rules import check_identities, check_sender
from courtbus.wire.envelope import Envelope, Event, RawRecord
from courtbus.wire.events import EventHeaders
from courtbus.wire.messages import by_record
from courtbus.wire.values import now

OUTBOX = re.compile(r"^(court|agency)\.([A-Za-z0-9_-]+)\.outbox$")
OUTBOX_PATTERN = OUTBOX.pattern
DEADLETTER_TOPIC = "bus.deadletter"
NOTICE_RECORD = "cn.court.bus.notice.MessageRejected"
GATEWAY_SOURCE = "bus:gateway"
DEFAULT_MAX_VALUE_BYTES = 256 * 1024
MAX_KEY_CHARS = 128  # the read model's id columns


@dataclass(frozen=True, slots=True)
class Output:
    """A record to produce."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Forward:
    """An accepted record: the decoded event, and the record to put on its flow's topic."""

    event: Event
    output: Output


def flow_topic(flow: str) -> str:
    """The bus topic of a flow."""
    return f"bus.{flow}.events"


def inbox_topic(kind: str, participant: str) -> str:
    """Where the bus writes to a participant: a court's inbox or an agency's feed."""
    return f"court.{participant}.inbox" if kind == "court" else f"agency.{participant}.feed"


class Gateway:
    """Checks records from participants' outboxes against the directory, schemas and policy."""

    def __init__(
        self,
        envelope: Envelope,
        directory: Directory,
        policies: policy.PolicyCatalogue,
        *,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        self.envelope = envelope
        self.directory = directory
        self.policies = policies
        self.max_value_bytes = max_value_bytes

    def owner(self, topic: str) -> tuple[str, str]:
        """(kind, id) of the participant owning an outbox topic.

        Raises:
            ValidationError: ``TOPIC_NOT_OUTBOX`` or ``PARTICIPANT_UNKNOWN``.
        """
        match = OUTBOX.match(topic)
        if match is None:
            raise ValidationError(f"{topic} is not a participant outbox", code="TOPIC_NOT_OUTBOX")
        kind, pid = match.group(1), match.group(2)
        known = (
            {c.id for c in self.directory.courts}
            if kind == "court"
            else {a.id for a in self.directory.agencies}
        )
        if pid not in known:
            raise ValidationError(
                f"{kind} {pid} is not in the participant directory", code="PARTICIPANT_UNKNOWN"
            )
        return kind, pid

    def check(self, raw: RawRecord) -> Forward:
        """Decide on one record from an outbox.

        Raises:
            CourtbusError: the reason for refusing it (its ``code`` goes to the dead letter),
                except ``RegistryError``, which is transient: retry, do not dead-letter.
        """
        kind, pid = self.owner(raw.topic)
        size = len(raw.value or b"")
        if size > self.max_value_bytes:
            raise ValidationError(
                f"record value of {size} bytes exceeds the gateway limit of {self.max_value_bytes}",
                code="RECORD_TOO_LARGE",
            )
        headers = EventHeaders.from_kafka(raw.headers)
        if headers.source != f"{kind}:{pid}":
            raise ValidationError(
                f"ce_source {headers.source} does not own {raw.topic}", code="SOURCE_SPOOFED"
            )
        event = self.envelope.read(raw, headers)
        check_sender(event.record, kind, pid, event.payload)
        check_identities(event.payload, self.directory)
        mtype = by_record(event.record)
        expected_key = mtype.key(event.payload)
        if not 1 <= len(expected_key) <= MAX_KEY_CHARS or not expected_key.isprintable():
            raise ValidationError(
                f"entity id {expected_key[:40]!r} must be 1–{MAX_KEY_CHARS} printable characters",
                code="KEY_INVALID",
            )
        if event.key != expected_key:
            raise ValidationError(
                f"record key {event.key!r} is not the entity id {expected_key!r}",
                code="KEY_MISMATCH",
            )
        if mtype.record.endswith(".DelegationRequested"):
            self._check_delegation_request(event.payload)
        output = Output(
            flow_topic(mtype.flow),
            raw.key,
            raw.value or b"",
            [(k, v or b"") for k, v in raw.headers],
        )
        return Forward(event, output)

    def _check_delegation_request(self, payload: dict[str, Any]) -> None:
        requesting = payload["requesting_court"]["court_id"]
        executing = payload["executing_court"]["court_id"]
        if requesting == executing:
            raise ValidationError(
                f"court {requesting} cannot delegate to itself", code="DELEGATION_SELF"
            )
        amount = payload.get("amount")
        ask = policy.DelegationAsk(
            requesting, executing, str(payload["matter"]), payload.get("asset_kind"),
            payload.get("freeze_period_days"), Money.parse(amount) if amount is not None else None,
        )  # fmt: skip
        violations = policy.check(self.policies, ask)
        if violations:
            first = violations[0]
            more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
            raise ValidationError(
                f"rule {first.rule_id}: {first.message}; allowed: {first.allowed}{more}",
                code=first.code,
            )


def _header(raw: RawRecord, name: str) -> str | None:
    for key, value in raw.headers or ():
        if key.lower() == name and value is not None:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return None
    return None


def dead_letter(raw: RawRecord, error: CourtbusError) -> Output:
    """The dead letter for a refused record: original key, value and headers, plus why."""
    reason = mask_ids_in_text(error.reason)
    extra = [
        ("dlq_code", error.code),
        ("dlq_reason", reason),
        ("dlq_topic", raw.topic),
        ("dlq_partition", str(raw.partition)),
        ("dlq_offset", str(raw.offset)),
        ("dlq_time", now().isoformat()),
    ]
    headers = [(k, v or b"") for k, v in raw.headers or ()] + [(k, v.encode()) for k, v in extra]
    return Output(DEADLETTER_TOPIC, raw.key, raw.value or b"", headers)


def refusal(
    envelope: Envelope, raw: RawRecord, error: CourtbusError, sender: tuple[str, str] | None
) -> list[Output]:
    """What a refusal produces: the dead letter, and a rejection notice if the sender is known.

    ``sender`` is (kind, participant id), or None when there is no participant to notify.
    """
    outputs = [dead_letter(raw, error)]
    if sender is not None and sender[0] in ("court", "agency"):
        outputs.append(rejection_notice(envelope, raw, error, *sender))
    return outputs


def rejection_notice(
    envelope: Envelope, raw: RawRecord, error: CourtbusError, kind: str, participant: str
) -> Output:
    """A ``MessageRejected`` notice for the sender's inbox (or an agency's feed)."""
    event_id = _header(raw, "ce_id")
    try:
        event_id = str(uuid.UUID(event_id)) if event_id else None
    except ValueError:
        event_id = None
    payload = {
        "rejected_event_id": event_id,
        "rejected_type": _header(raw, "ce_type"),
        "source_topic": raw.topic,
        "source_partition": raw.partition,
        "source_offset": raw.offset,
        "error_code": error.code,
        "reason": mask_ids_in_text(error.reason),
        "rejected_at": now(),
    }
    out = envelope.build(
        inbox_topic(kind, participant), NOTICE_RECORD, payload, GATEWAY_SOURCE,
        causation_id=event_id, key=f"{raw.topic}:{raw.partition}:{raw.offset}",
    )  # fmt: skip
    return Output(out.topic, out.key, out.value, out.headers)
