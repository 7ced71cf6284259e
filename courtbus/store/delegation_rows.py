"""Between ``DelegationDecided`` records, the stored steps they decide on, and the rows.

No database access and no state machine here: only reading payloads, checking that values
fit their columns, and copying fields. The delegation service decides; the store copies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import ValidationError
from courtbus.store.models import DelegationRecord, EventRecord, HistoryRecord
from courtbus.store.values import DelegationRow, HistoryRow, StoredEvent

NS = "cn.court.bus.delegation."
DECIDED = NS + "DelegationDecided"
REQUESTED = "DelegationRequested"  # the step that creates a delegation
DELIVERED = "DelegationDelivered"  # the bus's receipt: its time is the delivery time
# Steps after which the executing court has reported (settles the report deadline).
REPORTING = frozenset({"DelegationProgressReported", "DelegationCompleted", "DelegationFailed"})
STATE_REQUESTED = "REQUESTED"
STATE_REFUSED = "REFUSED"  # a refused request: no delegation was created

# Column widths (models.py) a value must fit, else the database would refuse it.
_MAX = {
    "delegation_id": 128,
    "step": 64,
    "decided_event_id": 64,
    "state": 16,
    "by_court": 200,
    "requesting_court": 16,
    "executing_court": 16,
    "matter": 32,
    "error_code": 64,
    "asset_kind": 32,
    "debtor_id_masked": 64,
    "kind": 8,
    "enforced_suit": 64,
}
_AMOUNT_LIMIT = Decimal(10) ** 16  # numeric(18,2)


@dataclass(frozen=True, slots=True)
class Decision:
    """A ``DelegationDecided`` as the store reads it (reason already masked)."""

    decision_id: str  # the decision's own ce_id
    source: str  # the deciding service, e.g. bus:delegation
    delegation_id: str
    step: str  # short name of the step decided on
    decided_event_id: str  # ce_id of that step
    applied: bool
    state: str  # the delegation's state after the decision
    by_court: str | None
    requesting_court: str | None
    executing_court: str | None
    matter: str | None
    start_due: datetime | None
    report_due: datetime | None
    error_code: str | None
    reason: str | None
    decided_at: datetime

    @property
    def step_source(self) -> str:
        """Who sent the step, when the step itself was not stored: its court, else the bus."""
        return f"court:{self.by_court}" if self.by_court else self.source


@dataclass(frozen=True, slots=True)
class StepEvent:
    """The stored event a decision is about (payload as stored: JSON, ID numbers masked)."""

    event_id: str
    short_name: str
    source: str
    time: datetime
    delegation_id: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RequestDetails:
    """What a stored ``DelegationRequested`` says about its delegation; None where absent."""

    case_number: str | None
    requesting_court: str | None
    executing_court: str | None
    matter: str | None
    asset_kind: str | None
    amount: Decimal | None
    debtor_name: str | None
    debtor_id_masked: str | None
    requested_at: datetime | None
    kind: str | None = None  # CASE (委托执行), MATTER (事项委托); None: sent before kinds
    enforced_suit: str | None = None


def _invalid(ev: StoredEvent, why: str) -> ValidationError:
    return ValidationError(
        f"DelegationDecided {ev.event_id} is unusable: {why}", code="DELEGATION_DECISION_INVALID"
    )


def _time(value: Any) -> datetime | None:
    """An aware datetime from a decoded value (datetime) or stored JSON (ISO text)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value
    return None


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _fits(field: str, value: str | None) -> bool:
    return value is None or len(value) <= _MAX[field]


def decision_of(ev: StoredEvent) -> Decision:
    """Read a stored ``DelegationDecided``.

    Raises:
        ValidationError: ``DELEGATION_ID_MISSING`` if it names no delegation (neither payload
            nor key); ``DELEGATION_DECISION_INVALID`` if a required field is missing, a time is
            not an aware timestamp, or a value is too long for its column.
    """
    p = ev.payload
    did = _optional_text(p.get("delegation_id")) or _optional_text(ev.key)
    if did is None:
        raise ValidationError(
            f"DelegationDecided {ev.event_id} names no delegation", code="DELEGATION_ID_MISSING"
        )
    texts: dict[str, str | None] = {"delegation_id": did}
    for field in ("step", "decided_event_id", "state"):
        texts[field] = _optional_text(p.get(field))
        if texts[field] is None:
            raise _invalid(ev, f"no {field}")
    for field in ("by_court", "requesting_court", "executing_court", "matter", "error_code"):
        texts[field] = _optional_text(p.get(field))
    for field, text in texts.items():
        if not _fits(field, text):
            raise _invalid(ev, f"{field} is longer than {_MAX[field]} characters")
    applied = p.get("applied")
    if not isinstance(applied, bool):
        raise _invalid(ev, f"applied is {applied!r}, not a boolean")
    decided_at = _time(p.get("decided_at"))
    if decided_at is None:
        raise _invalid(ev, "decided_at is missing or not an aware timestamp")
    dues: dict[str, datetime | None] = {}
    for field in ("start_due", "report_due"):
        dues[field] = _time(p.get(field))
        if p.get(field) is not None and dues[field] is None:
            raise _invalid(ev, f"{field} is not an aware timestamp")
    reason = _optional_text(p.get("reason"))
    return Decision(
        decision_id=ev.event_id,
        source=ev.source,
        delegation_id=did,
        step=str(texts["step"]),
        decided_event_id=str(texts["decided_event_id"]),
        applied=applied,
        state=str(texts["state"]),
        by_court=texts["by_court"],
        requesting_court=texts["requesting_court"],
        executing_court=texts["executing_court"],
        matter=texts["matter"],
        start_due=dues["start_due"],
        report_due=dues["report_due"],
        error_code=texts["error_code"],
        reason=None if reason is None else mask_ids_in_text(reason),
        decided_at=decided_at,
    )


def step_event(record: EventRecord) -> StepEvent:
    """A stored event as the step a decision is about."""
    payload = json.loads(record.payload)
    if not isinstance(payload, dict):
        payload = {}
    did = _optional_text(payload.get("delegation_id")) or _optional_text(record.key)
    return StepEvent(
        record.event_id,
        record.record.rsplit(".", 1)[-1],
        record.source,
        record.time,
        did,
        payload,
    )


def check_matches(decision: Decision, step: StepEvent) -> None:
    """The stored step must be the step the decision names, of the same delegation.

    Raises:
        ValidationError: ``DELEGATION_DECISION_MISMATCH``.
    """
    if step.short_name != decision.step or (
        step.delegation_id is not None and step.delegation_id != decision.delegation_id
    ):
        raise ValidationError(
            f"DelegationDecided {decision.decision_id} decides {decision.step} of "
            f"{decision.delegation_id}, but event {step.event_id} is a {step.short_name} of "
            f"{step.delegation_id}",
            code="DELEGATION_DECISION_MISMATCH",
        )


def _node_text(node: Any, field: str) -> str | None:
    """``node[field]`` of a named record (Court.court_id, CaseNumber.text), or text as is."""
    if isinstance(node, dict):
        return _optional_text(node.get(field))
    return node if isinstance(node, str) and node else None


def request_details(step: StepEvent, *, strict: bool = True) -> RequestDetails:
    """The delegation's details from its stored request (ID numbers already masked there).

    Not ``strict``: an amount that is no storable number, or a value too long for its column,
    is left out (None) instead.

    Raises:
        ValidationError: ``strict`` only: ``DELEGATION_PAYLOAD_INVALID`` if the amount is not
            a storable number or a value does not fit its column.
    """
    p = step.payload
    node = p.get("debtor")
    debtor: dict[str, Any] = node if isinstance(node, dict) else {}

    def unusable(why: str) -> None:
        if strict:
            raise ValidationError(
                f"{step.short_name} {step.event_id}: {why}", code="DELEGATION_PAYLOAD_INVALID"
            )

    amount = _amount(p.get("amount"))
    if p.get("amount") is not None and amount is None:
        unusable(f"amount {p['amount']!r} is not a storable number")
    texts = {
        "requesting_court": _node_text(p.get("requesting_court"), "court_id"),
        "executing_court": _node_text(p.get("executing_court"), "court_id"),
        "matter": _optional_text(p.get("matter")),
        "asset_kind": _optional_text(p.get("asset_kind")),
        "debtor_id_masked": _optional_text(debtor.get("id_number")),
        "kind": _optional_text(p.get("kind")),
        "enforced_suit": _optional_text(p.get("enforced_suit")),
    }
    for field, value in list(texts.items()):
        if not _fits(field, value):
            unusable(f"{field} is longer than {_MAX[field]} characters")
            texts[field] = None
    return RequestDetails(
        case_number=_node_text(p.get("case_number"), "text"),
        amount=amount,
        debtor_name=_optional_text(debtor.get("name")),
        requested_at=_time(p.get("requested_at")) or step.time,
        **texts,
    )


def _amount(value: Any) -> Decimal | None:
    """A storable ``numeric(18,2)`` amount, or None (absent, or not such a number)."""
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and abs(amount) < _AMOUNT_LIMIT else None


def delivered_at(receipt: StepEvent) -> datetime:
    """When a ``DelegationDelivered`` receipt says the request was delivered (else its time)."""
    return _time(receipt.payload.get("delivered_at")) or receipt.time


def new_record(
    decision: Decision, details: RequestDetails | None, step: StepEvent | None
) -> DelegationRecord | None:
    """A ``delegations`` row before any step is applied to it (``event_count`` 0).

    Courts and matter from the decision, else from the request; the rest from the request
    (``details``) if it was stored. None if neither names both courts and the matter.
    """
    d = details
    requesting = decision.requesting_court or (d.requesting_court if d else None)
    executing = decision.executing_court or (d.executing_court if d else None)
    matter = decision.matter or (d.matter if d else None)
    if requesting is None or executing is None or matter is None:
        return None
    return DelegationRecord(
        delegation_id=decision.delegation_id,
        requesting_court=requesting,
        executing_court=executing,
        matter=matter,
        state=STATE_REQUESTED,
        reported=False,
        delivered_at=None,
        start_due=None,
        report_due=None,
        updated_at=step.time if step else decision.decided_at,
        last_event_id=decision.decided_event_id,
        event_count=0,
        refusal_code=None,
        refusal_reason=None,
        **request_fields(decision, details),
    )


def request_fields(decision: Decision, details: RequestDetails | None) -> dict[str, Any]:
    """The columns that come from the request itself (all None but ``requested_at`` without
    it, which is then the decision's ``decided_at``)."""
    d = details
    return {
        "case_number": d.case_number if d else None,
        "asset_kind": d.asset_kind if d else None,
        "amount": d.amount if d else None,
        "debtor_name": d.debtor_name if d else None,
        "debtor_id_masked": d.debtor_id_masked if d else None,
        "requested_at": (d.requested_at if d else None) or decision.decided_at,
        "kind": d.kind if d else None,
        "enforced_suit": d.enforced_suit if d else None,
    }


def history_record(decision: Decision, step: StepEvent | None) -> HistoryRecord:
    """The history row of one decision: the step's name, sender and time, and the outcome."""
    applied = decision.applied
    return HistoryRecord(
        delegation_id=decision.delegation_id,
        event_id=decision.decided_event_id,
        record=decision.step,
        source=step.source if step else decision.step_source,
        time=step.time if step else decision.decided_at,
        applied=applied,
        error_code=None if applied else decision.error_code,
        state_after=decision.state if applied else None,
        decision_id=decision.decision_id,
        reason=None if applied else decision.reason,
    )


def delegation_row(r: DelegationRecord) -> DelegationRow:
    """The public value of a stored delegation."""
    return DelegationRow(
        r.delegation_id,
        r.case_number,
        r.requesting_court,
        r.executing_court,
        r.matter,
        r.asset_kind,
        r.amount,
        r.debtor_name,
        r.debtor_id_masked,
        r.state,
        r.reported,
        r.requested_at,
        r.delivered_at,
        r.start_due,
        r.report_due,
        r.updated_at,
        r.last_event_id,
        r.event_count,
        r.refusal_code,
        r.refusal_reason,
        r.kind,
        r.enforced_suit,
    )


def history_row(r: HistoryRecord) -> HistoryRow:
    """The public value of a stored history entry."""
    return HistoryRow(
        r.id,
        r.delegation_id,
        r.event_id,
        r.record,
        r.source,
        r.time,
        r.applied,
        r.error_code,
        r.state_after,
        r.decision_id,
        r.reason,
    )
