"""What the law lets the courts do instead of refusing, in the harness: 补正 and return
(法释〔2011〕11号 第八条), escalation to the superior court (民事诉讼法 第二百四十条, 2017 版
第二百二十九条; 法释〔2011〕11号 第十一条), and a freeze watched until it is renewed, released
or lapses (民诉法解释 第四百八十五条; 法释〔2011〕11号 第六条第二款)."""

from __future__ import annotations

from datetime import timedelta

from courtbus.bus.records import Output
from courtbus.runtime.harness import FlowHarness
from tests.unit.flows.delegation_kit import (
    ACCEPT,
    ALERTS,
    EVENTS,
    EXE,
    FILES_BACK,
    MATERIALS,
    NS,
    RELEASE,
    RELEASED,
    RENEWAL,
    RENEWED,
    REQ,
    RETURN,
    START_DUE,
    T0,
    assert_applied,
    assert_refused,
    decision,
    make_harness,
    request,
    step,
    tracked,
)

DAY = timedelta(days=1)
# 6101 (Xi'an) asks 320583 (Kunshan), whose superior 3205 (Suzhou) is on the bus.
ASKER, KUNSHAN, SUZHOU = "6101", "320583", "3205"


def notices(h: FlowHarness, outputs: list[Output]) -> list[tuple[str, str, str]]:
    """(deadline, notice, topic) of each deadline notice among ``outputs``."""
    found: list[tuple[str, str, str]] = []
    for out in outputs:
        event = h.decode(out)
        if event.record == NS + "DelegationDeadlineNotice":
            found.append((event.payload["deadline"], event.payload["notice"], out.topic))
    return found


def ticks(h: FlowHarness, days: float, every: timedelta = timedelta(hours=6)) -> list[Output]:
    """Tick every ``every`` for ``days``; every output."""
    outs: list[Output] = []
    end = h.now + timedelta(days=days)
    while h.now < end:
        outs += h.advance(seconds=every.total_seconds())
    return outs


# -- escalation ---------------------------------------------------------------------------


def _unstarted(h: FlowHarness, did: str) -> None:
    request(h, did, court=ASKER, executing=KUNSHAN)
    h.advance(seconds=(START_DUE - T0).total_seconds() + 60)  # the 15 days are over


def test_escalation_reaches_the_superior_who_orders_execution_by_a_date() -> None:
    h = make_harness()
    _unstarted(h, "dlg-esc")
    sent = step(h, ("DelegationEscalated", ASKER), "dlg-esc", superior=SUZHOU)
    assert [o.topic for o in sent.outputs] == [
        f"court.{SUZHOU}.inbox",
        f"court.{KUNSHAN}.inbox",
        EVENTS,
    ]
    assert_applied(h, sent, "DELIVERED")
    assert_refused(
        h,
        step(h, ("DelegationEscalated", ASKER), "dlg-esc", superior=SUZHOU),
        "DELEGATION_ALREADY_ESCALATED",
        sender=ASKER,
    )
    # only the superior answers: not the requesting court, not the executing one
    assert_refused(
        h,
        step(h, ("DelegationEscalationAnswered", KUNSHAN), "dlg-esc"),
        "DELEGATION_WRONG_COURT",
        sender=KUNSHAN,
    )
    limit = h.now + 10 * DAY
    answer = step(h, ("DelegationEscalationAnswered", SUZHOU), "dlg-esc", execute_by=limit)
    assert [o.topic for o in answer.outputs] == [
        f"court.{ASKER}.inbox",
        f"court.{KUNSHAN}.inbox",
        EVENTS,
    ]
    decided = assert_applied(h, answer, "DELIVERED")
    assert decided.payload["start_due"] == limit  # the new time limit is watched
    found = tracked(h, "dlg-esc")
    assert found is not None and not found.delegation.escalated


def test_the_superior_taking_the_case_up_after_six_months_ends_it_here() -> None:
    # escalation is two rules (issue 21, citations 3): after the 15 days the superior court
    # orders execution (民事诉讼法 第二百四十条第二款); taking the case up or assigning it is
    # for a delegation not executed in 6 months (法释〔2011〕11号 第十一条)
    h = make_harness()
    _unstarted(h, "dlg-up")
    step(h, ("DelegationEscalated", ASKER), "dlg-up", superior=SUZHOU)
    early = step(h, ("DelegationEscalationAnswered", SUZHOU), "dlg-up", decision="TAKEN_UP")
    assert_refused(h, early, "DELEGATION_TRANSFER_TOO_EARLY", sender=SUZHOU)
    h.advance(days=200)
    answer = step(h, ("DelegationEscalationAnswered", SUZHOU), "dlg-up", decision="TAKEN_UP")
    assert_applied(h, answer, "TRANSFERRED")
    assert [k for k, _ in h.timers()] == []


def test_escalation_without_a_superior_on_the_bus_is_refused() -> None:
    h = make_harness()
    request(h, "dlg-nosup")  # 3205 → 6104, whose superior 61 is not in the directory
    h.advance(seconds=(START_DUE - T0).total_seconds() + 60)
    sent = step(h, ("DelegationEscalated", REQ), "dlg-nosup", superior="61")
    assert_refused(h, sent, "DELEGATION_NO_SUPERIOR", sender=REQ)


def test_escalation_once_started_is_refused() -> None:
    h = make_harness()
    _unstarted(h, "dlg-started")
    step(h, ("DelegationAccepted", KUNSHAN), "dlg-started")
    step(h, ("DelegationProgressReported", KUNSHAN), "dlg-started")
    sent = step(h, ("DelegationEscalated", ASKER), "dlg-started", superior=SUZHOU)
    assert_refused(h, sent, "DELEGATION_ILLEGAL_TRANSITION", sender=ASKER)


# -- 补正 and return ------------------------------------------------------------------------


def test_unsupplied_materials_are_warned_overdue_then_the_delegation_may_be_returned() -> None:
    h = make_harness(retention=DAY)
    request(h, "dlg-mat")
    step(h, ACCEPT, "dlg-mat")
    asked = step(h, MATERIALS, "dlg-mat")
    assert [o.topic for o in asked.outputs] == [f"court.{REQ}.inbox", EVENTS]
    assert_refused(h, step(h, RETURN, "dlg-mat"), "DELEGATION_RETURN_TOO_EARLY", sender=EXE)
    seen = notices(h, ticks(h, 34))
    supply = [(kind, topic) for deadline, kind, topic in seen if deadline == "SUPPLY"]
    assert supply == [
        ("WARNING", f"court.{REQ}.inbox"),
        ("WARNING", f"court.{EXE}.inbox"),
        ("OVERDUE", f"court.{REQ}.inbox"),
        ("OVERDUE", f"court.{EXE}.inbox"),
        ("OVERDUE", ALERTS),
    ]
    # 法释〔2011〕11号 第九条: only with the 高级人民法院's approval (issue 21, citations 4)
    unapproved = step(h, RETURN, "dlg-mat", approved_at=None)
    assert_refused(h, unapproved, "DELEGATION_RETURN_NOT_APPROVED", sender=EXE)
    returned = step(h, RETURN, "dlg-mat")
    assert_applied(h, returned, "RETURNED")
    # 第九条: the files go back within 15 days of the approval, watched as the FILES deadline
    assert [k for k, _ in h.timers()] == ["dlg-mat"]
    assert_refused(h, step(h, ACCEPT, "dlg-mat"), "DELEGATION_ILLEGAL_TRANSITION", sender=EXE)
    back = step(h, FILES_BACK, "dlg-mat")
    assert_applied(h, back, "RETURNED")
    assert [o.topic for o in back.outputs] == [f"court.{REQ}.inbox", EVENTS]
    assert [k for k, _ in h.timers()] == []
    again = step(h, FILES_BACK, "dlg-mat")
    assert_refused(h, again, "DELEGATION_FILES_NOT_OWED", sender=EXE)
    h.advance(days=2)
    assert tracked(h, "dlg-mat") is None  # finished: evicted after the retention


def test_files_not_sent_back_within_15_days_of_the_approval_are_warned_then_alerted() -> None:
    h = make_harness(retention=30 * DAY)
    request(h, "dlg-files")
    step(h, ACCEPT, "dlg-files")
    step(h, MATERIALS, "dlg-files")
    ticks(h, 34)  # the 30 days to supply them pass
    assert_applied(h, step(h, RETURN, "dlg-files"), "RETURNED")
    assert_refused(
        h,
        step(h, ("DelegationFilesReturned", REQ), "dlg-files"),
        "DELEGATION_WRONG_COURT",
        sender=REQ,
    )
    seen = notices(h, ticks(h, 20))
    files = [(kind, topic) for deadline, kind, topic in seen if deadline == "FILES"]
    assert files == [
        ("WARNING", f"court.{REQ}.inbox"),
        ("WARNING", f"court.{EXE}.inbox"),
        ("OVERDUE", f"court.{REQ}.inbox"),
        ("OVERDUE", f"court.{EXE}.inbox"),
        ("OVERDUE", ALERTS),
    ]
    assert {deadline for deadline, _, _ in seen} == {"FILES"}  # the other clocks ended with it
    assert [k for k, _ in h.timers()] == []  # overdue sent: nothing more to watch
    assert tracked(h, "dlg-files") is not None  # kept for the retention: a late report counts
    assert_applied(h, step(h, FILES_BACK, "dlg-files"), "RETURNED")


# -- freeze lifecycle -----------------------------------------------------------------------


def _frozen(h: FlowHarness, did: str, days: int = 20) -> None:
    request(h, did, matter="FREEZE", asset_kind="DEPOSIT", freeze_period_days=300)
    step(h, ACCEPT, did)
    done = step(h, ("DelegationCompleted", EXE), did, measure_until=h.now + days * DAY)
    assert_applied(h, done, "COMPLETED")


def test_a_freeze_is_warned_before_it_lapses_and_renewed_in_time() -> None:
    h = make_harness(retention=DAY)
    _frozen(h, "dlg-frz")
    warned = notices(h, ticks(h, 6))  # the warning comes 15 days before the end (day 5)
    assert warned == [
        ("LAPSE", "WARNING", f"court.{REQ}.inbox"),
        ("LAPSE", "WARNING", f"court.{EXE}.inbox"),
    ]
    too_long = step(h, RENEWAL, "dlg-frz", period_days=400)  # deposits: 1 year (Art. 485)
    refused = assert_refused(h, too_long, "POLICY_FREEZE_TOO_LONG", sender=REQ)
    assert "第四百八十五条" in refused.payload["reason"]
    asked = step(h, RENEWAL, "dlg-frz", period_days=300)
    assert [o.topic for o in asked.outputs] == [f"court.{EXE}.inbox", EVENTS]
    assert_applied(h, asked, "COMPLETED")
    new_end = h.now + 300 * DAY
    assert_applied(h, step(h, RENEWED, "dlg-frz", until=new_end), "COMPLETED")
    found = tracked(h, "dlg-frz")
    assert found is not None and found.delegation.measure is not None
    assert (found.delegation.measure.until, found.delegation.measure.renewals) == (new_end, 1)
    assert notices(h, ticks(h, 30)) == []  # the old end passes silently; still kept
    assert tracked(h, "dlg-frz") is not None
    assert [k for k, _ in h.timers()] == ["dlg-frz"]


def test_an_unrenewed_freeze_lapses_with_an_alert_and_cannot_be_renewed_after() -> None:
    h = make_harness(retention=DAY)
    _frozen(h, "dlg-lapse")
    seen = notices(h, ticks(h, 20.6))  # past the end, before the 1-day retention is over
    assert [x for x in seen if x[1] == "OVERDUE"] == [
        ("LAPSE", "OVERDUE", f"court.{REQ}.inbox"),
        ("LAPSE", "OVERDUE", f"court.{EXE}.inbox"),
        ("LAPSE", "OVERDUE", ALERTS),
    ]
    late = step(h, RENEWAL, "dlg-lapse", period_days=300)
    assert_refused(h, late, "DELEGATION_MEASURE_LAPSED", sender=REQ)
    h.advance(days=2)
    assert tracked(h, "dlg-lapse") is None  # lapsed: nothing left to watch, evicted


def test_a_released_freeze_is_no_longer_watched() -> None:
    h = make_harness(retention=DAY)
    _frozen(h, "dlg-rel", days=200)
    assert_refused(
        h, step(h, RELEASED, "dlg-rel"), "DELEGATION_MEASURE_ILLEGAL_TRANSITION", sender=EXE
    )
    assert_applied(h, step(h, RELEASE, "dlg-rel"), "COMPLETED")
    assert_applied(h, step(h, RELEASED, "dlg-rel"), "COMPLETED")
    assert [k for k, _ in h.timers()] == []
    h.advance(days=2)
    assert tracked(h, "dlg-rel") is None


def test_a_completed_freeze_without_an_end_date_is_not_watched() -> None:
    h = make_harness()
    request(h, "dlg-plain", matter="FREEZE", asset_kind="DEPOSIT", freeze_period_days=300)
    step(h, ACCEPT, "dlg-plain")
    assert decision(h, step(h, ("DelegationCompleted", EXE), "dlg-plain")).payload["applied"]
    assert [k for k, _ in h.timers()] == []
