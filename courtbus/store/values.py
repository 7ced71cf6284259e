"""The values the SQL read model takes and gives back: plain frozen dataclasses, no SQLAlchemy.

Every timestamp is timezone-aware; rows read back carry UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from courtbus.errors import ValidationError


def require_aware(name: str, value: datetime | None) -> None:
    """Refuse a naive timestamp: the store cannot tell which zone it was meant in.

    Raises:
        ValidationError: ``TIME_NOT_AWARE``.
    """
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValidationError(
            f"{name} {value.isoformat()} has no time zone; give an aware datetime (e.g. UTC)",
            code="TIME_NOT_AWARE",
        )


class ApplyResult(StrEnum):
    """What ``ReadModelWriter.apply_event`` did with an event.

    Only a ``DelegationDecided`` moves a delegation; every other event (the courts' steps,
    the bus's receipts and notices, other flows) is only stored, and gives APPLIED.
    """

    # Stored; for an applied decision, its delegation row was created or moved and a history
    # row added.
    APPLIED = "APPLIED"
    # Nothing changed: this ce_id was stored before, or (a decision) its step was already
    # decided by an earlier decision (that decision is still stored in ``events``).
    DUPLICATE = "DUPLICATE"
    # A decision with applied=false: stored, a history row with its error code; the
    # delegation row unchanged, or (a refused request for a new delegation) created in
    # state REFUSED with ``refusal_code``.
    REFUSED = "REFUSED"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One decoded bus event as the read model stores it; ``event_id`` (ce_id) is the key.

    Raises:
        ValidationError: ``TIME_NOT_AWARE`` if ``time`` is naive.
    """

    event_id: str
    topic: str
    partition: int
    offset: int
    record: str  # Avro full name, e.g. cn.court.bus.delegation.DelegationAccepted
    ce_type: str
    source: str  # court:6101, agency:nia, bus:delegation
    subject: str | None
    key: str | None
    time: datetime
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        require_aware("event time", self.time)

    @property
    def short_name(self) -> str:
        """The record's name without its namespace (``DelegationAccepted``)."""
        return self.record.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    """A record the bus could not process; unique by its source topic, partition and offset.

    ``id`` is None until stored; rows read back carry it.

    Raises:
        ValidationError: ``TIME_NOT_AWARE`` if ``dead_at`` is naive.
    """

    source_topic: str
    source_partition: int
    source_offset: int
    code: str
    reason: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    dead_at: datetime
    id: int | None = None

    def __post_init__(self) -> None:
        require_aware("dead_at", self.dead_at)


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert from ``bus.alerts`` (e.g. an overdue delegation); unique by ``alert_id``.

    Raises:
        ValidationError: ``TIME_NOT_AWARE`` if ``time`` is naive.
    """

    alert_id: str
    kind: str
    delegation_id: str | None
    court_id: str | None
    message: str
    time: datetime

    def __post_init__(self) -> None:
        require_aware("alert time", self.time)


@dataclass(frozen=True, slots=True)
class DelegationRow:
    """A delegation as the delegation service decided it. The debtor's ID is only ever
    stored masked.

    A refused request is a row in state ``REFUSED`` with ``refusal_code`` and
    ``refusal_reason``, ``event_count`` 0. A row made from a decision whose request event was
    never stored has no ``case_number``, debtor, asset kind or amount, and ``requested_at`` is
    that decision's ``decided_at``.
    """

    delegation_id: str
    case_number: str | None
    requesting_court: str
    executing_court: str
    matter: str
    asset_kind: str | None
    amount: Decimal | None
    debtor_name: str | None
    debtor_id_masked: str | None
    state: str
    reported: bool
    requested_at: datetime
    delivered_at: datetime | None
    start_due: datetime | None  # accept/reject and start by (from delivery)
    report_due: datetime | None  # report the outcome by (from delivery)
    updated_at: datetime  # time of the step last decided on
    last_event_id: str  # ce_id of the step last decided on
    event_count: int  # steps applied
    refusal_code: str | None = None  # state REFUSED: the refusal's code
    refusal_reason: str | None = None  # state REFUSED: its reason, ID numbers masked
    kind: str | None = None  # CASE (委托执行), MATTER (事项委托); None: sent before kinds
    enforced_suit: str | None = None  # the 民初 / 民终 number of the suit enforced, if named


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One decided step of a delegation: applied (``state_after`` = the state it led to) or
    refused (``error_code`` and ``reason``; ``state_after`` None). One row per step."""

    id: int
    delegation_id: str
    event_id: str  # ce_id of the step decided on (the decision's decided_event_id)
    record: str  # the step's short name, e.g. DelegationAccepted
    source: str  # the step's sender (court:6101, bus:delegation)
    time: datetime  # the step's time (the decision's decided_at if the step was not stored)
    applied: bool
    error_code: str | None
    state_after: str | None
    decision_id: str | None = None  # ce_id of the DelegationDecided (None: before 0002)
    reason: str | None = None  # a refusal's readable reason, ID numbers masked


@dataclass(frozen=True, slots=True)
class BlacklistRow:
    """One entry of the dishonest-debtor list as the read model has it (``debtor_id`` in full:
    mask it for display with ``courtbus.domain.masking.mask_id``)."""

    entry_id: str
    status: str
    listing_court: str
    province: str
    case_number: str
    debtor_kind: str
    debtor_name: str
    debtor_id: str
    ground: str
    serious: bool
    period_months: int | None
    listed_at: datetime
    expires_at: datetime | None
    updated_at: datetime
    delisted_at: datetime | None
    reason: str | None
    version: int
    entry: dict[str, Any]
