"""What every bus service shares: the record to produce, topic names, and refusals.

Imports the wire layer only; no Kafka client. Services, the runtime and the gateway all take
``Output``, topic names and the refusal path (dead letter + ``MessageRejected``) from here.
"""

from courtbus.bus.records import Output, forward, output_of
from courtbus.bus.refusals import dead_letter, internal_error_alert, refusal, rejection_notice
from courtbus.bus.topics import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    OUTBOX,
    OUTBOX_PATTERN,
    flow_topic,
    inbox_topic,
)

__all__ = [
    "ALERTS_TOPIC",
    "DEADLETTER_TOPIC",
    "OUTBOX",
    "OUTBOX_PATTERN",
    "Output",
    "dead_letter",
    "flow_topic",
    "forward",
    "inbox_topic",
    "internal_error_alert",
    "output_of",
    "refusal",
    "rejection_notice",
]
