"""The delegation flow in the harness: every transition, every refusal, with its outputs."""

from __future__ import annotations

import pytest

from tests.builders import PERSON_ID
from tests.unit.flows.delegation_kit import (
    ACCEPT,
    CANCEL,
    COMPLETE,
    EVENTS,
    EXE,
    FAIL,
    MATERIALS,
    NS,
    PROGRESS,
    REJECT,
    RENEWAL,
    REPORT_DUE,
    REQ,
    REQUEST,
    RETURN,
    SERVICE,
    START_DUE,
    SUPPLY,
    T0,
    THIRD,
    WARN_BEFORE,
    Step,
    assert_applied,
    assert_refused,
    decision,
    header,
    make_harness,
    request,
    snapshot,
    state_of,
    step,
    tracked,
)

DID = "dlg-3205-2024-500-01"


def test_a_request_is_delivered_with_a_receipt_and_a_decision() -> None:
    h = make_harness()
    sent = request(h, DID)
    topics = [o.topic for o in sent.outputs]
    assert topics == [f"court.{EXE}.inbox", EVENTS, EVENTS, f"court.{REQ}.inbox", EVENTS]
    forwarded, _, receipt_on_bus, receipt, delivered = sent.outputs
    # the request reaches the executing court exactly as the requesting court sent it
    assert (forwarded.key, forwarded.value) == (sent.record.key, sent.record.value)
    assert forwarded.headers == sent.record.headers
    for out in (receipt_on_bus, receipt):
        event = h.decode(out)
        assert event.record == NS + "DelegationDelivered"
        assert event.headers.source == SERVICE
        assert event.headers.causation_id == sent.event_id
        assert event.key == DID
        assert event.payload["delivered_at"] == T0
        assert event.payload["executing_court"]["court_id"] == EXE
    decided = assert_applied(h, sent, "REQUESTED")
    assert decided.payload["step"] == "DelegationRequested"
    assert decided.payload["by_court"] == REQ
    assert decided.payload["requesting_court"] == REQ
    assert decided.payload["executing_court"] == EXE
    assert decided.payload["matter"] == "SEARCH"
    assert decided.headers.source == SERVICE
    # the delivery is decided too, on the bus's own receipt, with the legal deadlines
    on_delivery = h.decode(delivered).payload
    assert on_delivery["step"] == "DelegationDelivered"
    assert on_delivery["decided_event_id"] == h.decode(receipt_on_bus).headers.id
    assert (on_delivery["state"], on_delivery["by_court"]) == ("DELIVERED", None)
    # 15 and 30 days counted as the law counts days, past weekends (delegation_kit.START_DUE)
    assert on_delivery["start_due"] == START_DUE
    assert on_delivery["report_due"] == REPORT_DUE
    assert state_of(h, DID) == "DELIVERED"
    assert h.count("delegations") == 1
    assert h.timers() == [(DID, START_DUE - WARN_BEFORE)]  # the START warning


# (name, steps before, the step, state it leads to)
LEGAL: list[tuple[str, list[Step], Step, str]] = [
    ("accept", [], ACCEPT, "ACCEPTED"),
    ("ask for materials", [], MATERIALS, "MATERIALS_ASKED"),
    ("supply them", [MATERIALS], SUPPLY, "DELIVERED"),
    ("supply them after accepting", [ACCEPT, MATERIALS], SUPPLY, "ACCEPTED"),
    ("progress after accepting", [ACCEPT], PROGRESS, "IN_PROGRESS"),
    ("progress again", [ACCEPT, PROGRESS], PROGRESS, "IN_PROGRESS"),
    ("complete after accepting", [ACCEPT], COMPLETE, "COMPLETED"),
    ("complete after progress", [ACCEPT, PROGRESS], COMPLETE, "COMPLETED"),
    ("fail after accepting", [ACCEPT], FAIL, "FAILED"),
    ("fail after progress", [ACCEPT, PROGRESS], FAIL, "FAILED"),
    ("cancel when delivered", [], CANCEL, "CANCELLED"),
    ("cancel when accepted", [ACCEPT], CANCEL, "CANCELLED"),
    ("cancel in progress", [ACCEPT, PROGRESS], CANCEL, "CANCELLED"),
]


@pytest.mark.parametrize(("name", "before", "taken", "end"), LEGAL, ids=[c[0] for c in LEGAL])
def test_legal_steps(name: str, before: list[Step], taken: Step, end: str) -> None:
    h = make_harness()
    request(h, DID)
    for earlier in before:
        assert decision(h, step(h, earlier, DID)).payload["applied"] is True
    h.advance(hours=1)
    sent = step(h, taken, DID)
    record, court = taken
    counterpart = REQ if court == EXE else EXE
    assert [o.topic for o in sent.outputs] == [f"court.{counterpart}.inbox", EVENTS]
    forwarded = sent.outputs[0]
    assert (forwarded.key, forwarded.value) == (sent.record.key, sent.record.value)
    assert header(forwarded, "ce_source") == f"court:{court}"
    decided = assert_applied(h, sent, end)
    assert decided.payload["step"] == record
    assert decided.payload["by_court"] == court
    assert decided.payload["start_due"] == START_DUE
    assert state_of(h, DID) == end
    found = tracked(h, DID)
    assert found is not None
    assert found.delegation.events == len(before) + 3  # requested, delivered, ..., this step
    # a timer only while a deadline is open: progress settles both (started, reported)
    timers = [key for key, _ in h.timers()]
    assert timers == ([DID] if end in ("ACCEPTED", "DELIVERED", "MATERIALS_ASKED") else [])


def test_the_requesting_court_sees_the_whole_story_in_its_inbox() -> None:
    h = make_harness()
    request(h, DID)
    for taken in (ACCEPT, PROGRESS, PROGRESS, COMPLETE):
        step(h, taken, DID)
    inbox = [e.record.removeprefix(NS) for e in h.on(f"court.{REQ}.inbox")]
    assert inbox == [
        "DelegationDelivered",
        "DelegationAccepted",
        "DelegationProgressReported",
        "DelegationProgressReported",
        "DelegationCompleted",
    ]
    assert [e.record.removeprefix(NS) for e in h.on(f"court.{EXE}.inbox")] == [
        "DelegationRequested"
    ]
    applied = [(e.payload["step"], e.payload["state"]) for e in h.on(EVENTS) if "step" in e.payload]
    assert applied == [
        ("DelegationRequested", "REQUESTED"),
        ("DelegationDelivered", "DELIVERED"),
        ("DelegationAccepted", "ACCEPTED"),
        ("DelegationProgressReported", "IN_PROGRESS"),
        ("DelegationProgressReported", "IN_PROGRESS"),
        ("DelegationCompleted", "COMPLETED"),
    ]


# (name, steps before, the refused step, delegation it names, expected code)
REFUSED: list[tuple[str, list[Step], Step, str, str]] = [
    ("refuse (不得拒绝)", [], REJECT, DID, "DELEGATION_REFUSAL_NOT_ALLOWED"),
    ("return before the 30 days", [MATERIALS], RETURN, DID, "DELEGATION_RETURN_TOO_EARLY"),
    (
        "escalate before 15 days",
        [],
        ("DelegationEscalated", REQ),
        DID,
        "DELEGATION_ESCALATION_TOO_EARLY",
    ),
    ("renew what left no measure", [ACCEPT, COMPLETE], RENEWAL, DID, "DELEGATION_NO_MEASURE"),
    (
        "complete a failed delegation",
        [ACCEPT, FAIL],
        COMPLETE,
        DID,
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    ("a third court answers", [], ("DelegationAccepted", THIRD), DID, "DELEGATION_WRONG_COURT"),
    ("a third court cancels", [], ("DelegationCancelled", THIRD), DID, "DELEGATION_WRONG_COURT"),
    ("the requester accepts", [], ("DelegationAccepted", REQ), DID, "DELEGATION_WRONG_COURT"),
    ("the executor cancels", [ACCEPT], ("DelegationCancelled", EXE), DID, "DELEGATION_WRONG_COURT"),
    (
        "the requester completes",
        [ACCEPT],
        ("DelegationCompleted", REQ),
        DID,
        "DELEGATION_WRONG_COURT",
    ),
    ("a court fakes the receipt", [], ("DelegationDelivered", EXE), DID, "DELEGATION_WRONG_COURT"),
    ("cancel after completion", [ACCEPT, COMPLETE], CANCEL, DID, "DELEGATION_ILLEGAL_TRANSITION"),
    ("cancel after failure", [ACCEPT, FAIL], CANCEL, DID, "DELEGATION_ILLEGAL_TRANSITION"),
    ("cancel twice", [CANCEL], CANCEL, DID, "DELEGATION_ILLEGAL_TRANSITION"),
    ("accept twice", [ACCEPT], ACCEPT, DID, "DELEGATION_ILLEGAL_TRANSITION"),
    (
        "ask for materials once started",
        [ACCEPT, PROGRESS],
        MATERIALS,
        DID,
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    ("progress before accepting", [], PROGRESS, DID, "DELEGATION_ILLEGAL_TRANSITION"),
    ("complete before accepting", [], COMPLETE, DID, "DELEGATION_ILLEGAL_TRANSITION"),
    (
        "progress after completion",
        [ACCEPT, COMPLETE],
        PROGRESS,
        DID,
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    ("a step for an unknown delegation", [], ACCEPT, "dlg-nobody-knows", "DELEGATION_UNKNOWN"),
    ("cancel an unknown delegation", [], CANCEL, "dlg-nobody-knows", "DELEGATION_UNKNOWN"),
    ("a duplicate request", [], REQUEST, DID, "DELEGATION_DUPLICATE"),
    ("a duplicate request after the end", [CANCEL], REQUEST, DID, "DELEGATION_DUPLICATE"),
]


@pytest.mark.parametrize(
    ("name", "before", "taken", "target", "code"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_illegal_steps_are_refused(
    name: str, before: list[Step], taken: Step, target: str, code: str
) -> None:
    h = make_harness()
    request(h, DID)
    for earlier in before:
        assert decision(h, step(h, earlier, DID)).payload["applied"] is True
    h.advance(hours=1)
    was = state_of(h, target)
    stored, timers = snapshot(h), h.timers()
    sent = step(h, taken, target)
    decided = assert_refused(h, sent, code, sender=taken[1])
    assert decided.payload["step"] == taken[0]
    assert decided.payload["state"] == (was or "REFUSED")
    assert snapshot(h) == stored
    assert h.timers() == timers
    assert state_of(h, target) == was


def _bad_id() -> str:
    return PERSON_ID[:-1] + ("5" if PERSON_ID[-1] != "5" else "6")


# (name, request fields, sending court, expected code)
REFUSED_REQUESTS: list[tuple[str, dict[str, object], str, str]] = [
    ("sent by another court than it names", {"requesting": REQ}, "6101", "SOURCE_NOT_PARTY"),
    ("a court delegating to itself", {"executing": REQ}, REQ, "DELEGATION_SELF"),
    ("an invalid debtor ID", {"id_number": _bad_id()}, REQ, "RESIDENT_ID_INVALID"),
    ("a freeze without a period", {"matter": "FREEZE"}, REQ, "POLICY_FREEZE_PERIOD_MISSING"),
    (
        "a freeze over the legal maximum",
        {"matter": "FREEZE", "asset_kind": "DEPOSIT", "freeze_period_days": 400},
        REQ,
        "POLICY_FREEZE_TOO_LONG",
    ),
    (
        "a housing-fund deduction the freeze-only example region does not take",
        {
            "executing": "320583",
            "matter": "DEDUCT",
            "asset_kind": "HOUSING_FUND",
            "amount": "100.00",
        },
        EXE,
        "POLICY_MATTER_NOT_ALLOWED",
    ),
    (
        "a search delegated as a whole case (法释〔2011〕11号 第二条第二款)",
        {"kind": "CASE"},
        REQ,
        "DELEGATION_KIND_NOT_ALLOWED",
    ),
]


@pytest.mark.parametrize(
    ("name", "fields", "court", "code"), REFUSED_REQUESTS, ids=[c[0] for c in REFUSED_REQUESTS]
)
def test_refused_requests_create_nothing(
    name: str, fields: dict[str, object], court: str, code: str
) -> None:
    h = make_harness()
    sent = request(h, DID, court=court, **fields)
    decided = assert_refused(h, sent, code, sender=court)
    assert decided.payload["state"] == "REFUSED"
    assert decided.payload["start_due"] is None
    assert PERSON_ID[6:14] not in (decided.payload["reason"] or "")  # IDs masked
    assert state_of(h, DID) is None
    assert h.count("delegations") == 0
    assert h.count("caps") == 0
    assert h.timers() == []


def test_a_refusal_does_not_stop_the_delegation() -> None:
    h = make_harness()
    request(h, DID)
    assert_refused(h, step(h, ("DelegationAccepted", THIRD), DID), "DELEGATION_WRONG_COURT", THIRD)
    assert_applied(h, step(h, ACCEPT, DID), "ACCEPTED")
    assert_applied(h, step(h, COMPLETE, DID), "COMPLETED")


def test_delegations_on_different_partitions_are_independent() -> None:
    h = make_harness(partitions=6)
    ids = [f"dlg-{i}" for i in range(8)]
    assert len({h.partition_of(i.encode()) for i in ids}) > 1
    for did in ids:
        assert_applied(h, request(h, did), "REQUESTED")
    step(h, MATERIALS, ids[0])
    step(h, ACCEPT, ids[1])
    assert [state_of(h, d) for d in ids[:3]] == ["MATERIALS_ASKED", "ACCEPTED", "DELIVERED"]
    assert h.count("delegations") == len(ids)
