"""The gateway's decisions: is a record from a participant's outbox fit for the bus?

Pure of Kafka: ``Gateway.check`` takes a raw record and returns what to forward, or raises the
``CourtbusError`` that says why not; ``dead_letter`` and ``rejection_notice`` build the records a
refusal produces. The service in ``services/gateway`` only moves records.
"""

from courtbus.gateway.core import Forward, Gateway, Output, dead_letter, refusal, rejection_notice

__all__ = ["Forward", "Gateway", "Output", "dead_letter", "refusal", "rejection_notice"]
