"""The case-status flow and the watchdog in the harness: statuses and their refusals, items
from the list's view, the restriction view and delegations, re-keyed by case across
partitions, alerts with the list after the grace, daily until lifted, stopped by resumption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from courtbus.bus.records import Output
from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.domain import casestatus as cs
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire import values as v
from services.watchdog.flow import (
    CASES,
    DELEGATION_EVENTS,
    EVENTS,
    NS,
    WatchdogFlow,
)
from tests.builders import PERSON_ID

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # Friday 10:00 China time
COURT, OTHER = "320583", "6101"
CASE = "(2024)苏0583执100号"
INBOX = f"court.{COURT}.inbox"
GRACES = cs.Graces(restriction=timedelta(hours=2), freeze=timedelta(hours=2))
DL = "cn.court.bus.delegation."


def harness(partitions: int = 3) -> FlowHarness:
    return FlowHarness(WatchdogFlow(memory_envelope(), GRACES), start=T0, partitions=partitions)


def status(h: FlowHarness, step: str, court: str = COURT, **extra: Any) -> list[Output]:
    at = {
        "CaseFiled": "filed_at",
        "CaseSuspended": "suspended_at",
        "CaseResumed": "resumed_at",
        "CaseConcluded": "concluded_at",
    }[step]
    payload: dict[str, Any] = {
        "case_number": v.case_number(CASE),
        "court": v.court(court),
        at: h.now,
    }
    if step == "CaseFiled":
        payload |= {"debtors": [], "amount": None}
    if step == "CaseSuspended":
        payload["reason"] = None
    if step == "CaseResumed":
        payload["resumed_case_number"] = v.case_number("(2024)苏0583执恢1号")
    return h.send(EVENTS, NS + step, payload | extra, f"court:{court}")


def entry(h: FlowHarness, eid: str, state: str = "ACTIVE") -> list[Output]:
    payload = {
        "entry_id": eid,
        "status": state,
        "case_number": v.case_number(CASE),
        "listing_court": v.court(COURT),
        "debtor": v.debtor("PERSON", "张三", PERSON_ID),
        "legal_representative": None,
        "legal_representative_id": None,
        "ground": "REFUSED_WITH_ABILITY",
        "serious": False,
        "period_months": None,
        "obligation": "给付",
        "performance": "未履行",
        "conduct": "拒不履行",
        "title_issuer": "某法院",
        "title_number": "(2023)苏0583民初1号",
        "filed_at": T0,
        "listed_at": T0 - timedelta(days=30),
        "expires_at": None,
        "updated_at": h.now,
        "delisted_at": None if state == "ACTIVE" else h.now,
        "reason": None if state == "ACTIVE" else "PERFORMED",
        "version": 1,
    }
    built = h.envelope.build(
        BLACKLIST_VIEW, "cn.court.bus.blacklist.BlacklistEntry", payload, "bus:blacklist"
    )
    return h.feed_raw(BLACKLIST_VIEW, built.key, built.value, built.headers)


def delegation(h: FlowHarness, did: str, step: str, payload: dict[str, Any], court: str) -> None:
    h.send(DELEGATION_EVENTS, DL + step, {"delegation_id": did, **payload}, court)


def decided(h: FlowHarness, did: str, step: str, state: str) -> None:
    payload = {
        "step": step,
        "decided_event_id": "e",
        "applied": True,
        "state": state,
        "by_court": None,
        "requesting_court": COURT,
        "executing_court": OTHER,
        "matter": "FREEZE",
        "start_due": None,
        "report_due": None,
        "error_code": None,
        "reason": None,
        "decided_at": h.now,
    }
    delegation(h, did, "DelegationDecided", payload, "bus:delegation")


def freeze(h: FlowHarness, did: str, until: datetime) -> None:
    delegation(
        h,
        did,
        "DelegationRequested",
        {
            "case_number": v.case_number(CASE),
            "requesting_court": v.court(COURT),
            "executing_court": v.court(OTHER),
            "matter": "FREEZE",
            "debtor": v.debtor("PERSON", "张三", PERSON_ID),
            "asset_kind": "DEPOSIT",
            "asset_description": "银行账户",
            "amount": None,
            "freeze_period_days": 365,
            "requested_at": h.now,
            "note": None,
        },
        f"court:{COURT}",
    )
    delegation(
        h,
        did,
        "DelegationCompleted",
        {
            "executing_court": v.court(OTHER),
            "completed_at": h.now,
            "summary": "冻结",
            "amount_executed": None,
            "measure_until": until,
        },
        f"court:{OTHER}",
    )
    decided(h, did, "DelegationCompleted", "COMPLETED")


def alerts(h: FlowHarness, outputs: list[Output]) -> list[dict[str, Any]]:
    return [e.payload for e in h.on(INBOX, outputs) if e.record == NS + "CaseWatchdogAlert"]


def refused(outputs: list[Output]) -> list[str]:
    return [dict(o.headers)["dlq_code"].decode() for o in outputs if o.topic == "bus.deadletter"]


def case_state(h: FlowHarness) -> cs.Case:
    for state in h.states.values():
        found = state.table(CASES).get(CASE)
        if found is not None:
            return found
    raise AssertionError("no case kept")


def test_statuses_are_kept_and_bad_ones_refused_with_their_codes() -> None:
    h = harness()
    assert status(h, "CaseFiled") == []
    assert refused(status(h, "CaseResumed")) == ["CASE_ILLEGAL_TRANSITION"]
    assert refused(status(h, "CaseSuspended", court=OTHER)) == ["CASE_NOT_HANDLING_COURT"]
    status(h, "CaseSuspended")
    status(h, "CaseResumed")
    status(h, "CaseConcluded", outcome="NO_PROPERTY_CONCLUDED")
    assert case_state(h).outcome is cs.Outcome.NO_PROPERTY_CONCLUDED
    assert refused(status(h, "CaseConcluded", outcome="PERFORMED")) == ["CASE_ILLEGAL_TRANSITION"]


def test_a_performed_case_with_measures_in_force_alerts_daily_until_lifted() -> None:
    h = harness()
    entry(h, "bl-1")
    freeze(h, "dg-1", until=T0 + timedelta(days=365))
    assert len(case_state(h).items) == 2  # met in the case's task, whatever their partitions
    assert h.count("timers") == 0  # nothing to watch before the case is performed
    status(h, "CaseConcluded", outcome="PERFORMED")
    assert alerts(h, h.advance(hours=1)) == []
    (first,) = alerts(h, h.advance(hours=1, minutes=1))
    assert first["alert_number"] == 1
    assert {i["item_id"] for i in first["items"]} == {"freeze:dg-1"}
    assert PERSON_ID not in first["detail"]
    assert len(h.on("bus.alerts")) == 1
    # the list entry's 3 working days end at 00:00 Thursday China time (Wednesday 16:00 UTC)
    (second,) = alerts(h, h.advance(days=1))
    assert second["alert_number"] == 2 and len(second["items"]) == 1
    (third,) = alerts(h, h.advance(days=1))
    assert third["alert_number"] == 3 and len(third["items"]) == 1  # Sunday: still 1
    (fourth,) = alerts(h, h.advance(days=3))  # Wednesday 04:01 UTC: the entry not yet due
    assert {i["item_id"] for i in fourth["items"]} == {"freeze:dg-1"}
    h.now = datetime(2024, 3, 6, 16, 0, tzinfo=UTC)
    (fifth,) = alerts(h, h.tick())  # the entry's due comes before the next daily alert
    assert {i["kind"] for i in fifth["items"]} == {"BLACKLIST", "FREEZE"}
    assert fifth["items"][0]["source"].startswith(
        "失信名单规定 (2017 修订, version unverified) 第十条"
    )
    entry(h, "bl-1", state="DELISTED")
    decided(h, "dg-1", "DelegationReleased", "COMPLETED")
    assert case_state(h).items == {} and h.timers() == []
    assert alerts(h, h.advance(days=2)) == []


def test_a_resumed_case_stops_the_alerts() -> None:
    h = harness()
    entry(h, "bl-2")
    status(h, "CaseConcluded", outcome="PERFORMED")
    assert len(alerts(h, h.advance(days=7))) == 1
    status(h, "CaseResumed")
    assert h.timers() == []
    assert alerts(h, h.advance(days=7)) == []


def test_a_lapsed_freeze_and_an_unwatched_outcome_raise_nothing() -> None:
    h = harness()
    freeze(h, "dg-2", until=T0 + timedelta(hours=1))
    status(h, "CaseConcluded", outcome="PERFORMED")
    assert alerts(h, h.advance(days=2)) == []  # its term ended before the grace did
    h2 = harness()
    entry(h2, "bl-3")
    status(h2, "CaseConcluded", outcome="TERMINATED")
    assert alerts(h2, h2.advance(days=30)) == [] and h2.timers() == []


def test_the_projector_keeps_an_alert_as_a_watchdog_row() -> None:
    from services.projector.flow import alert_row

    h = harness()
    entry(h, "bl-4")
    status(h, "CaseConcluded", outcome="PERFORMED")
    out = [o for o in h.advance(days=7) if o.topic == "bus.alerts"]
    row = alert_row(h.decode(out[0]))
    assert (row.kind, row.court_id, row.delegation_id) == ("WATCHDOG", COURT, None)
    assert CASE in row.message and "blacklist:bl-4" in row.message
