"""The gateway's decisions: is a record from a participant's outbox fit for the bus?

Pure of Kafka: ``Gateway.check`` takes a raw record and returns what to forward, or raises the
``CourtbusError`` that says why not. The flow in ``services/gateway`` only moves records.
"""

from courtbus.gateway.decisions import (
    EVENT_ID_CONFLICT,
    Forward,
    Gateway,
    SignaturePolicy,
    record_digest,
)

__all__ = ["EVENT_ID_CONFLICT", "Forward", "Gateway", "SignaturePolicy", "record_digest"]
