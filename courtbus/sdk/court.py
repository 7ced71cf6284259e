"""``CourtClient``: a court sends delegation steps to its outbox and reads its inbox.

Inputs are validated with pydantic and the domain layer before anything is sent, so most
mistakes (a malformed case number, a bad ID checksum, a third decimal on an amount, a freeze
longer than the law allows) never leave the court. Uses kafka-python (blocking): call it from
ordinary threads, never from inside an asyncio or Faust event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from kafka import KafkaConsumer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from courtbus.catalogue.directory import Directory, load_directory
from courtbus.config import Connection
from courtbus.domain.identity import CaseNumber, validate_debtor_id
from courtbus.domain.money import Money
from courtbus.errors import CourtbusError, ValidationError
from courtbus.wire import values as v
from courtbus.wire.client import make_envelope, make_producer, read_from_start, send
from courtbus.wire.envelope import Envelope, Event

NS = "cn.court.bus.delegation."
Matter = Literal["SEARCH", "FREEZE", "SEAL", "DEDUCT", "SEIZE", "DETAIN", "EVICT", "SERVE", "OTHER"]
AssetKind = Literal[
    "DEPOSIT", "MOVABLE", "IMMOVABLE", "HOUSING_FUND", "VEHICLE", "EQUITY", "SECURITIES", "OTHER"
]


class DebtorIn(BaseModel):
    """A debtor as a court enters it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["PERSON", "ORGANISATION"]
    name: str = Field(min_length=1, max_length=200)
    id_number: str

    @field_validator("id_number")
    @classmethod
    def _valid_id(cls, value: str, info: Any) -> str:
        return validate_debtor_id(info.data.get("kind", "PERSON"), value)


class DelegationRequestIn(BaseModel):
    """A delegation request as a court enters it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    delegation_id: str = Field(
        default_factory=lambda: f"dlg-{uuid.uuid4().hex[:16]}", min_length=1, max_length=100
    )
    case_number: str
    executing_court: str
    matter: Matter
    debtor: DebtorIn
    asset_kind: AssetKind | None = None
    asset_description: str | None = None
    amount: Decimal | None = None
    freeze_period_days: int | None = Field(default=None, gt=0, le=1095)
    note: str | None = None

    @field_validator("case_number")
    @classmethod
    def _case(cls, value: str) -> str:
        return str(CaseNumber.parse(value))

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else Money.parse(value).yuan


@dataclass(frozen=True, slots=True)
class Sent:
    """What the broker acknowledged: the event id (ce_id), partition and offset."""

    event_id: str
    delegation_id: str
    partition: int
    offset: int


class CourtClient:
    """One court's connection to the bus."""

    def __init__(
        self, court_id: str, conn: Connection, *, directory: Directory | None = None
    ) -> None:
        """Connect as ``court_id``.

        Raises:
            ValidationError: ``COURT_UNKNOWN`` if the court is not in the directory.
        """
        self.directory = directory or load_directory()
        self.court = self.directory.court(court_id)
        self.conn = conn
        self.envelope: Envelope = make_envelope(conn)
        self._producer = make_producer(conn)
        self.outbox = f"court.{court_id}.outbox"
        self.inbox_topic = f"court.{court_id}.inbox"

    def close(self) -> None:
        """Flush and close the producer."""
        self._producer.close()

    def __enter__(self) -> CourtClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _send(self, short: str, payload: dict[str, Any]) -> Sent:
        out = self.envelope.build(self.outbox, NS + short, payload, f"court:{self.court.id}")
        partition, offset = send(self._producer, out)
        return Sent(out.event.id, str(payload["delegation_id"]), partition, offset)

    def _me(self) -> dict[str, str]:
        return v.court(self.court.id)

    def request_delegation(self, request: DelegationRequestIn | None = None, **fields: Any) -> Sent:
        """Ask another court to act (give a ``DelegationRequestIn`` or its fields).

        Raises:
            ValidationError: the request is malformed (codes from the domain layer), or asks
                this court itself, or names a court outside the directory.
        """
        try:
            req = request or DelegationRequestIn(**fields)
        except CourtbusError:
            raise
        except Exception as exc:  # pydantic's ValidationError: wrong types, missing fields
            raise ValidationError(f"delegation request: {exc}", code="REQUEST_INVALID") from exc
        executing = self.directory.court(req.executing_court)
        if executing.id == self.court.id:
            raise ValidationError(
                f"court {self.court.id} cannot delegate to itself", code="DELEGATION_SELF"
            )
        payload = {
            "delegation_id": req.delegation_id, "case_number": v.case_number(req.case_number),
            "requesting_court": self._me(), "executing_court": v.court(executing.id),
            "matter": req.matter, "debtor": req.debtor.model_dump(), "asset_kind": req.asset_kind,
            "asset_description": req.asset_description, "amount": req.amount,
            "freeze_period_days": req.freeze_period_days, "requested_at": v.now(), "note": req.note,
        }  # fmt: skip
        return self._send("DelegationRequested", payload)

    def accept(self, delegation_id: str, handler: str | None = None) -> Sent:
        """Accept a delegation delivered to this court."""
        return self._send(
            "DelegationAccepted",
            {
                "delegation_id": delegation_id,
                "executing_court": self._me(),
                "accepted_at": v.now(),
                "handler": handler,
            },
        )

    def reject(self, delegation_id: str, reason_code: str, reason: str) -> Sent:
        """Refuse a delegation delivered to this court, with a reason."""
        return self._send(
            "DelegationRejected",
            {
                "delegation_id": delegation_id,
                "executing_court": self._me(),
                "rejected_at": v.now(),
                "reason_code": reason_code,
                "reason": reason,
            },
        )

    def report_progress(
        self, delegation_id: str, summary: str, amount_executed: str | Decimal | None = None
    ) -> Sent:
        """Report progress on an accepted delegation."""
        amount = None if amount_executed is None else v.money(amount_executed)
        return self._send(
            "DelegationProgressReported",
            {
                "delegation_id": delegation_id,
                "executing_court": self._me(),
                "reported_at": v.now(),
                "summary": summary,
                "amount_executed": amount,
            },
        )

    def complete(
        self, delegation_id: str, summary: str, amount_executed: str | Decimal | None = None
    ) -> Sent:
        """Report a delegation done."""
        amount = None if amount_executed is None else v.money(amount_executed)
        return self._send(
            "DelegationCompleted",
            {
                "delegation_id": delegation_id,
                "executing_court": self._me(),
                "completed_at": v.now(),
                "summary": summary,
                "amount_executed": amount,
            },
        )

    def fail(self, delegation_id: str, reason_code: str, reason: str) -> Sent:
        """Report that a delegation could not be done."""
        return self._send(
            "DelegationFailed",
            {
                "delegation_id": delegation_id,
                "executing_court": self._me(),
                "failed_at": v.now(),
                "reason_code": reason_code,
                "reason": reason,
            },
        )

    def cancel(self, delegation_id: str, reason: str) -> Sent:
        """Withdraw a delegation this court requested."""
        return self._send(
            "DelegationCancelled",
            {
                "delegation_id": delegation_id,
                "requesting_court": self._me(),
                "cancelled_at": v.now(),
                "reason": reason,
            },
        )

    def inbox(
        self, *, group_id: str | None = None, timeout_s: float | None = None
    ) -> Iterator[Event]:
        """Events delivered to this court, oldest first.

        With ``group_id`` the position is remembered between calls (committed after each event
        is yielded); without it every call starts from the beginning. Stops after ``timeout_s``
        seconds without a new event (None: waits for ever).
        """
        if not group_id:
            for raw in read_from_start(self.conn, [self.inbox_topic], timeout_s):
                yield self.envelope.read(raw)
            return
        consumer = KafkaConsumer(
            self.inbox_topic, **self.conn.kafka_settings(), group_id=group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            consumer_timeout_ms=int(timeout_s * 1000) if timeout_s is not None else float("inf"),
        )  # fmt: skip
        try:
            for raw in consumer:
                yield self.envelope.read(raw)
                consumer.commit()
        finally:
            consumer.close()
