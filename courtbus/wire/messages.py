"""The message catalogue: each Avro message type's CloudEvents type, flow, key and subject,
derived from the flows' specs (``courtbus.flows``) and the bus's own notices.

Pure data. A test checks that every message schema has exactly one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from courtbus.errors import SchemaError
from courtbus.flows.registry import LiveMapping, LiveSequence, registered
from courtbus.flows.spec import FlowSpec, MessageSpec

NS = "cn.court.bus"


@dataclass(frozen=True, slots=True)
class MessageType:
    """How one message type travels: its schema, ``ce_type``, flow topic, key and subject."""

    record: str  # Avro full name
    ce_type: str  # CloudEvents type
    flow: str  # bus.<flow>.events
    key_field: str  # payload field whose value is the Kafka key
    subject_field: str | None = None  # payload field for ce_subject (a CaseNumber or a string)

    def key(self, payload: dict[str, Any]) -> str:
        """The Kafka key for a payload (the entity the record is about)."""
        return _text(payload[self.key_field])

    def subject(self, payload: dict[str, Any]) -> str:
        """The ``ce_subject`` for a payload: its case number if it has one, else its key."""
        if self.subject_field and payload.get(self.subject_field) is not None:
            return _text(payload[self.subject_field])
        return self.key(payload)


def _text(value: Any) -> str:
    if isinstance(value, dict) and "text" in value:  # a CaseNumber record
        return str(value["text"])
    return str(value)


# The bus's own records, in no flow: refusal notices and service alerts.
NOTICES: tuple[MessageType, ...] = (
    MessageType(
        f"{NS}.notice.MessageRejected",
        "cn.court.bus.message_rejected",
        "notice",
        "source_topic",
        None,
    ),
    MessageType(
        f"{NS}.notice.ServiceAlert", "cn.court.bus.service_alert", "notice", "source_topic", None
    ),
)


def message_type(spec: FlowSpec, message: MessageSpec) -> MessageType:
    """How one message of a flow's spec travels."""
    return MessageType(
        spec.record(message.name), spec.ce_type(message), spec.name, message.key, message.subject
    )


def _message_types() -> tuple[MessageType, ...]:
    flows = tuple(message_type(s, m) for s in registered() for m in s.messages)
    return (*flows, *NOTICES)


# Every message type: each registered flow's (``courtbus.flows``), in registration order, then
# the notices. Live: a flow registered later is in it.
MESSAGE_TYPES: Sequence[MessageType] = LiveSequence(_message_types)
BY_RECORD: Mapping[str, MessageType] = LiveMapping(lambda: {m.record: m for m in MESSAGE_TYPES})
BY_CE_TYPE: Mapping[str, MessageType] = LiveMapping(lambda: {m.ce_type: m for m in MESSAGE_TYPES})
# The flows, each with its topic ``bus.<flow>.events``, in registration order.
FLOWS: Sequence[str] = LiveSequence(lambda: tuple(s.name for s in registered()))


def by_ce_type(ce_type: str) -> MessageType:
    """Look up a message type by its CloudEvents type.

    Raises:
        SchemaError: ``EVENT_TYPE_UNKNOWN``.
    """
    try:
        return BY_CE_TYPE[ce_type]
    except KeyError:
        raise SchemaError(f"unknown event type {ce_type!r}", code="EVENT_TYPE_UNKNOWN") from None


def by_record(record: str) -> MessageType:
    """Look up a message type by its Avro record full name.

    Raises:
        SchemaError: ``SCHEMA_UNKNOWN_TYPE``.
    """
    try:
        return BY_RECORD[record]
    except KeyError:
        raise SchemaError(
            f"unknown message record {record!r}", code="SCHEMA_UNKNOWN_TYPE"
        ) from None
