"""Restrictions and watchdog alerts in the read model: the rows readers get, and the functions
the writer and the queries run inside their session.

A control comes from the view ``restriction.controls`` (``RestrictionControl``): a record with
a higher ``version`` replaces the row and its acknowledgements, exemptions and
interceptions; an older or equal one changes nothing (a replay is a no-op). The view's
tombstone (7 days after a lift) leaves the row as it was: a court's record of what it lifted
outlives the view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from courtbus.domain.masking import mask_ids_in_text
from courtbus.store.jsonify import masked, to_json
from courtbus.store.models import (
    InterceptionRecord,
    RestrictionAckRecord,
    RestrictionExemptionRecord,
    RestrictionRecord,
    WatchdogAlertRecord,
)
from courtbus.store.region import Region
from courtbus.store.upsert import clear_children, pick, put_row

# An agency's answer not yet given (AckState): a control "awaiting acknowledgement".
AWAITING_ACK = ("PENDING", "OVERDUE")


@dataclass(frozen=True)
class AckRow:
    """One entitled agency's answer to one step (``target`` ISSUE or LIFT) of a control;
    ``state`` PENDING, ACKNOWLEDGED, REJECTED or OVERDUE."""

    agency_id: str
    target: str
    state: str
    due_at: datetime
    reference: str | None
    answered_at: datetime | None


@dataclass(frozen=True)
class ExemptionRow:
    """An exemption the issuing court granted, for some kinds and agencies, for a period."""

    exemption_id: str
    kinds: tuple[str, ...]
    agencies: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True)
class InterceptionRow:
    """An interception an agency reported."""

    event_id: str
    agency_id: str
    intercepted_at: datetime
    channel: str
    location: str
    description: str | None
    outcome: str | None


@dataclass(frozen=True)
class RestrictionRow:
    """A control as the read model has it. ``person_id``, ``debtor_id`` and
    ``document_number`` are in full: mask them for display (``courtbus.domain.masking.
    mask_id``) unless the reader asked for them."""

    control_id: str
    status: str
    kind: str
    issuing_court: str
    case_number: str
    person_name: str
    person_id: str
    role: str
    debtor_name: str | None
    debtor_id: str | None
    document_type: str | None
    document_number: str | None
    prohibited: tuple[str, ...]
    effective_from: date
    effective_until: date | None
    issued_at: datetime
    lifted_at: datetime | None
    lift_reason: str | None
    reason: str
    entry_id: str | None
    version: int
    updated_at: datetime
    acks: tuple[AckRow, ...] = ()
    exemptions: tuple[ExemptionRow, ...] = ()
    interceptions: tuple[InterceptionRow, ...] = ()


@dataclass(frozen=True)
class WatchdogAlertRow:
    """A watchdog alert: the handling court, its case, the alert's number (1, 2, … while
    anything stays in force) and the items still in force (labels with IDs masked)."""

    alert_id: str
    court_id: str
    case_number: str
    alert_number: int
    time: datetime
    items: tuple[dict[str, Any], ...]


def _split(text: str) -> tuple[str, ...]:
    return tuple(t for t in text.split(",") if t)


def put_control(session: Session, control: dict[str, Any]) -> bool:
    """Upsert one decoded ``RestrictionControl`` with its children; False if not newer."""
    control_id = str(control["control_id"])
    found = session.get(RestrictionRecord, control_id)
    if found is not None and found.version >= int(control["version"]):
        return False
    person, debtor, document = control["subject"], control["debtor"], control["travel_document"]
    court = control["issuing_court"]["court_id"]
    values = {
        "control_id": control_id,
        **pick(control, "status", "kind", "role"),
        "issuing_court": court,
        "province": court[:2],
        "case_number": control["case_number"]["text"],
        "person_name": person["name"],
        "person_id": person["id_number"],
        "debtor_name": debtor["name"] if debtor else None,
        "debtor_id": debtor["id_number"] if debtor else None,
        "document_type": document["type"] if document else None,
        "document_number": document["number"] if document else None,
        "prohibited": ",".join(control["prohibited"]),
        **pick(
            control,
            *("effective_from", "effective_until", "issued_at", "lifted_at", "lift_reason"),
            *("reason", "entry_id", "version", "updated_at"),
        ),
    }
    put_row(session, RestrictionRecord, found, values)
    children = (RestrictionAckRecord, RestrictionExemptionRecord, InterceptionRecord)
    clear_children(session, children, "control_id", control_id)
    session.add_all(
        RestrictionAckRecord(
            control_id=control_id,
            **pick(a, "agency_id", "target", "state", "due_at", "reference", "answered_at"),
        )
        for a in control["acknowledgements"]
    )
    session.add_all(
        RestrictionExemptionRecord(
            control_id=control_id,
            kinds=",".join(e["kinds"]),
            agencies=",".join(e["agencies"]),
            **pick(e, "exemption_id", "valid_from", "valid_until"),
        )
        for e in control["exemptions"]
    )
    session.add_all(
        InterceptionRecord(
            control_id=control_id,
            **pick(
                i,
                *("event_id", "agency_id", "intercepted_at", "channel", "location"),
                *("description", "outcome"),
            ),
        )
        for i in control.get("interceptions", [])
    )
    return True


def put_watchdog_alert(session: Session, alert_id: str, alert: dict[str, Any]) -> bool:
    """Insert one decoded ``CaseWatchdogAlert`` (ID numbers in its items masked, labels too);
    False if already stored."""
    if session.get(WatchdogAlertRecord, alert_id) is not None:
        return False
    items = [i | {"label": mask_ids_in_text(str(i.get("label", "")))} for i in alert["items"]]
    session.add(
        WatchdogAlertRecord(
            alert_id=alert_id,
            court_id=alert["court"]["court_id"],
            case_number=alert["case_number"]["text"],
            alert_number=alert["alert_number"],
            time=alert["sent_at"],
            items=to_json(masked(items)),
        )
    )
    return True


def find_controls(
    session: Session,
    *,
    court: str | None = None,
    person_id: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    region: Region | None = None,
    awaiting_ack: bool = False,
    issued_before: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[RestrictionRow]:
    """Controls, newest issue first; ``person_id`` matches the bound person or the debtor;
    ``limit`` rows from ``offset``."""
    query = controls_query(court, person_id, status, kind, region, awaiting_ack, issued_before)
    query = query.order_by(RestrictionRecord.issued_at.desc(), RestrictionRecord.control_id)
    query = query.offset(offset or None).limit(limit)
    return [_row(session, r) for r in session.scalars(query)]


def controls_query(
    court: str | None,
    person_id: str | None,
    status: str | None,
    kind: str | None,
    region: Region | None = None,
    awaiting_ack: bool = False,
    issued_before: datetime | None = None,
) -> Select[Any]:
    """The controls that match the filters, unordered (listed and counted alike):
    ``region``, the issuing court's; ``awaiting_ack``, an agency's answer to its issue or lift
    still PENDING or OVERDUE; ``issued_before``: issued before that time (an age)."""
    query = select(RestrictionRecord)
    if issued_before is not None:
        query = query.where(RestrictionRecord.issued_at < issued_before)
    if region is not None and (where := region.clause(RestrictionRecord.issuing_court)) is not None:
        query = query.where(where)
    if awaiting_ack:
        waiting = select(RestrictionAckRecord.control_id).where(
            RestrictionAckRecord.state.in_(AWAITING_ACK)
        )
        query = query.where(RestrictionRecord.control_id.in_(waiting))
    if court is not None:
        query = query.where(RestrictionRecord.issuing_court == court)
    if person_id is not None:
        query = query.where(
            or_(RestrictionRecord.person_id == person_id, RestrictionRecord.debtor_id == person_id)
        )
    if status is not None:
        query = query.where(RestrictionRecord.status == status)
    if kind is not None:
        query = query.where(RestrictionRecord.kind == kind)
    return query


def find_control(session: Session, control_id: str) -> RestrictionRow | None:
    """One control with its answers, exemptions and interceptions, or None."""
    found = session.get(RestrictionRecord, control_id)
    return None if found is None else _row(session, found)


def find_watchdog_alerts(
    session: Session, court: str | None = None, region: Region | None = None
) -> list[WatchdogAlertRow]:
    """Watchdog alerts, oldest first; ``court``: one handling court's; ``region``: the
    handling courts of a region."""
    query = select(WatchdogAlertRecord)
    if court is not None:
        query = query.where(WatchdogAlertRecord.court_id == court)
    if region is not None and (where := region.clause(WatchdogAlertRecord.court_id)) is not None:
        query = query.where(where)
    query = query.order_by(WatchdogAlertRecord.time, WatchdogAlertRecord.alert_id)
    return [
        WatchdogAlertRow(
            r.alert_id,
            r.court_id,
            r.case_number,
            r.alert_number,
            r.time,
            tuple(json.loads(r.items)),
        )
        for r in session.scalars(query)
    ]


def _row(session: Session, r: RestrictionRecord) -> RestrictionRow:
    cid = r.control_id
    acks = session.scalars(
        select(RestrictionAckRecord)
        .where(RestrictionAckRecord.control_id == cid)
        .order_by(RestrictionAckRecord.target, RestrictionAckRecord.agency_id)
    )
    exemptions = session.scalars(
        select(RestrictionExemptionRecord)
        .where(RestrictionExemptionRecord.control_id == cid)
        .order_by(RestrictionExemptionRecord.valid_from, RestrictionExemptionRecord.exemption_id)
    )
    interceptions = session.scalars(
        select(InterceptionRecord)
        .where(InterceptionRecord.control_id == cid)
        .order_by(InterceptionRecord.intercepted_at, InterceptionRecord.event_id)
    )
    return RestrictionRow(
        r.control_id,
        r.status,
        r.kind,
        r.issuing_court,
        r.case_number,
        r.person_name,
        r.person_id,
        r.role,
        r.debtor_name,
        r.debtor_id,
        r.document_type,
        r.document_number,
        _split(r.prohibited),
        r.effective_from,
        r.effective_until,
        r.issued_at,
        r.lifted_at,
        r.lift_reason,
        r.reason,
        r.entry_id,
        r.version,
        r.updated_at,
        acks=tuple(
            AckRow(a.agency_id, a.target, a.state, a.due_at, a.reference, a.answered_at)
            for a in acks
        ),
        exemptions=tuple(
            ExemptionRow(
                e.exemption_id, _split(e.kinds), _split(e.agencies), e.valid_from, e.valid_until
            )
            for e in exemptions
        ),
        interceptions=tuple(
            InterceptionRow(
                i.event_id,
                i.agency_id,
                i.intercepted_at,
                i.channel,
                i.location,
                i.description,
                i.outcome,
            )
            for i in interceptions
        ),
    )
