"""The two kinds of delegation in the flow (法释〔2011〕11号 (2020 修正) 第二条): clocks and refusals."""

from __future__ import annotations

from datetime import UTC, datetime

from courtbus.domain.delegation import Kind
from services.delegation.state import dump, load
from tests.unit.flows.delegation_kit import (
    ACCEPT,
    ALERTS,
    REQ,
    assert_applied,
    assert_refused,
    make_harness,
    request,
    step,
    tracked,
)

DID = "dlg-kind-1"
FILE_DUE = datetime(2024, 3, 8, 16, 0, tzinfo=UTC)  # delivered Friday 03-01: day 7 is 03-08


def test_a_case_delegation_not_filed_in_7_days_is_overdue() -> None:
    h = make_harness()
    request(h, DID, matter="OTHER", kind="CASE")
    t = tracked(h, DID)
    assert t is not None and t.delegation.kind is Kind.CASE
    assert load(dump(t)) == t  # the kind survives the state topic
    h.advance(days=8)
    [alert] = h.on(ALERTS)
    assert (alert.payload["deadline"], alert.payload["notice"]) == ("FILE", "OVERDUE")
    assert alert.payload["due_at"] == FILE_DUE


def test_a_case_delegation_accepted_in_time_is_filed() -> None:
    h = make_harness()
    request(h, DID, matter="OTHER", kind="CASE")
    assert_applied(h, step(h, ACCEPT, DID), "ACCEPTED")
    h.advance(days=8)
    assert h.on(ALERTS) == []


def test_a_matter_delegation_sets_no_clock_and_cannot_be_escalated() -> None:
    h = make_harness()
    request(h, DID, kind="MATTER")  # a SEARCH (查询)
    assert h.timers() == []
    h.advance(days=20)
    assert h.on(ALERTS) == []
    sent = step(h, ("DelegationEscalated", REQ), DID)
    assert_refused(h, sent, "DELEGATION_NOT_FOR_MATTER", REQ)


def test_a_request_of_no_kind_keeps_its_start_clock() -> None:
    h = make_harness()
    request(h, DID)
    t = tracked(h, DID)
    assert t is not None and t.delegation.kind is None
    assert [d.kind.value for d in t.delegation.deadlines] == ["START", "REPORT"]
