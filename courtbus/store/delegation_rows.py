"""Between delegation-flow events, the pure domain ``Delegation`` and the ``delegations`` rows.

No database access here: only reading payloads and copying fields.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from courtbus.domain.delegation import Deadline, DeadlineKind, Delegation, State, Step, sender_court
from courtbus.domain.identity import mask_id
from courtbus.errors import ValidationError
from courtbus.store.model import DelegationRow, HistoryRow, StoredEvent
from courtbus.store.models import DelegationRecord, HistoryRecord


def court_of(source: str) -> str | None:
    """The court that sent an event (see ``courtbus.domain.delegation.sender_court``)."""
    return sender_court(source)


def step_of(short_name: str) -> Step:
    """The domain step a delegation record stands for.

    Raises:
        ValidationError: ``DELEGATION_STEP_UNKNOWN`` for a delegation record with no step.
    """
    try:
        return Step(short_name)
    except ValueError as exc:
        raise ValidationError(
            f"{short_name} is not a step of the delegation flow", code="DELEGATION_STEP_UNKNOWN"
        ) from exc


def delegation_id_of(ev: StoredEvent) -> str:
    """The delegation an event is about: its payload's ``delegation_id``, else the record key.

    Raises:
        ValidationError: ``DELEGATION_ID_MISSING`` if neither is there.
    """
    found = ev.payload.get("delegation_id") or ev.key
    if not found:
        raise ValidationError(
            f"event {ev.event_id} ({ev.short_name}) names no delegation",
            code="DELEGATION_ID_MISSING",
        )
    return str(found)


def _text(node: Any, field: str) -> str:
    """``node[field]`` of a named record (e.g. Court.court_id), or ``node`` if it is text."""
    if isinstance(node, dict):
        return str(node[field])
    if isinstance(node, str):
        return node
    raise TypeError(f"expected a record with {field!r}, got {type(node).__name__}")


def _amount(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"amount {value!r} is not a number") from exc


def new_record(ev: StoredEvent, created: Delegation) -> DelegationRecord:
    """A ``delegations`` row for a just-requested delegation, with the debtor's ID masked.

    Raises:
        ValidationError: ``DELEGATION_PAYLOAD_INVALID`` if the payload lacks a field we read.
    """
    p = ev.payload
    try:
        debtor = p.get("debtor") or {}
        id_number = debtor.get("id_number")
        return DelegationRecord(
            delegation_id=created.delegation_id,
            case_number=_text(p["case_number"], "text"),
            requesting_court=created.requesting_court,
            executing_court=created.executing_court,
            matter=created.matter,
            asset_kind=None if p.get("asset_kind") is None else str(p["asset_kind"]),
            amount=_amount(p.get("amount")),
            debtor_name=None if debtor.get("name") is None else str(debtor["name"]),
            debtor_id_masked=None if id_number is None else mask_id(str(id_number)),
            state=created.state.value,
            reported=created.reported,
            requested_at=created.requested_at,
            delivered_at=None,
            start_due=None,
            report_due=None,
            updated_at=ev.time,
            last_event_id=ev.event_id,
            event_count=created.events,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValidationError(
            f"{ev.short_name} {ev.event_id} lacks or mangles a field: {exc!r}",
            code="DELEGATION_PAYLOAD_INVALID",
        ) from exc


def requested_fields(ev: StoredEvent) -> tuple[str, str, str, datetime]:
    """Requesting court, executing court, matter and request time of a DelegationRequested.

    The time is the payload's ``requested_at`` when it is an aware datetime, else the event's.

    Raises:
        ValidationError: ``DELEGATION_PAYLOAD_INVALID`` if a field is missing.
    """
    p = ev.payload
    try:
        requesting = _text(p["requesting_court"], "court_id")
        executing = _text(p["executing_court"], "court_id")
        matter = str(p["matter"])
    except (KeyError, TypeError) as exc:
        raise ValidationError(
            f"DelegationRequested {ev.event_id} lacks a field: {exc!r}",
            code="DELEGATION_PAYLOAD_INVALID",
        ) from exc
    at = p.get("requested_at")
    if not (isinstance(at, datetime) and at.utcoffset() is not None):
        at = ev.time
    return requesting, executing, matter, at


def to_domain(row: DelegationRecord) -> Delegation:
    """The domain delegation a stored row stands for (deadlines from the stored due times)."""
    deadlines: list[Deadline] = []
    if row.start_due is not None:
        deadlines.append(Deadline(DeadlineKind.START, row.start_due))
    if row.report_due is not None:
        deadlines.append(Deadline(DeadlineKind.REPORT, row.report_due))
    return Delegation(
        delegation_id=row.delegation_id,
        requesting_court=row.requesting_court,
        executing_court=row.executing_court,
        matter=row.matter,
        state=State(row.state),
        requested_at=row.requested_at,
        delivered_at=row.delivered_at,
        reported=row.reported,
        deadlines=tuple(deadlines),
        events=row.event_count,
    )


def write_back(row: DelegationRecord, moved: Delegation, ev: StoredEvent) -> None:
    """Copy what a step changed onto the stored row."""
    due = {d.kind: d.due for d in moved.deadlines}
    row.state = moved.state.value
    row.delivered_at = moved.delivered_at
    row.reported = moved.reported
    row.start_due = due.get(DeadlineKind.START)
    row.report_due = due.get(DeadlineKind.REPORT)
    row.event_count = moved.events
    row.updated_at = ev.time
    row.last_event_id = ev.event_id


def delegation_row(r: DelegationRecord) -> DelegationRow:
    """The public value of a stored delegation."""
    return DelegationRow(
        r.delegation_id, r.case_number, r.requesting_court, r.executing_court, r.matter,
        r.asset_kind, r.amount, r.debtor_name, r.debtor_id_masked, r.state, r.reported,
        r.requested_at, r.delivered_at, r.start_due, r.report_due, r.updated_at,
        r.last_event_id, r.event_count,
    )  # fmt: skip


def history_row(r: HistoryRecord) -> HistoryRow:
    """The public value of a stored history entry."""
    return HistoryRow(
        r.id, r.delegation_id, r.event_id, r.record, r.source, r.time, r.applied,
        r.error_code, r.state_after,
    )  # fmt: skip
