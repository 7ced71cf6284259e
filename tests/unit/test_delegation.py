"""The delegation state machine: every legal path, every refusal with its code, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courtbus.domain.calendar import months_end
from courtbus.domain.courts import superior_of
from courtbus.domain.delegation import (
    DeadlineKind,
    DeadlineRule,
    Delegation,
    Detail,
    EscalationDecision,
    MeasureStatus,
    NoticeKind,
    State,
    Step,
    apply,
    due_notices,
    next_notice_at,
    request,
)
from courtbus.errors import ValidationError

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
REQ, EXE, OTHER = "320583", "6101", "4408"


def _new() -> Delegation:
    return request("d-1", REQ, EXE, "FREEZE", T0)


def _run(*steps: tuple[Step, str | None]) -> Delegation:
    d = _new()
    for i, (step, by) in enumerate(steps, start=1):
        d = apply(d, step, by, T0 + timedelta(hours=i))
    return d


PATHS = [
    (
        [
            (Step.DELIVERED, None),
            (Step.ACCEPTED, EXE),
            (Step.PROGRESS, EXE),
            (Step.PROGRESS, EXE),
            (Step.COMPLETED, EXE),
        ],
        State.COMPLETED,
    ),
    ([(Step.DELIVERED, None), (Step.ACCEPTED, EXE), (Step.COMPLETED, EXE)], State.COMPLETED),
    (
        [(Step.DELIVERED, None), (Step.ACCEPTED, EXE), (Step.PROGRESS, EXE), (Step.FAILED, EXE)],
        State.FAILED,
    ),
    (
        [(Step.DELIVERED, None), (Step.MATERIALS_REQUESTED, EXE), (Step.MATERIALS_SUPPLIED, REQ)],
        State.DELIVERED,
    ),
    (
        [
            (Step.DELIVERED, None),
            (Step.ACCEPTED, EXE),
            (Step.MATERIALS_REQUESTED, EXE),
            (Step.MATERIALS_SUPPLIED, REQ),
        ],
        State.ACCEPTED,
    ),
    ([(Step.DELIVERED, None), (Step.MATERIALS_REQUESTED, EXE)], State.MATERIALS_ASKED),
    (
        [(Step.DELIVERED, None), (Step.MATERIALS_REQUESTED, EXE), (Step.CANCELLED, REQ)],
        State.CANCELLED,
    ),
    ([(Step.CANCELLED, REQ)], State.CANCELLED),
    ([(Step.DELIVERED, None), (Step.CANCELLED, REQ)], State.CANCELLED),
    (
        [(Step.DELIVERED, None), (Step.ACCEPTED, EXE), (Step.PROGRESS, EXE), (Step.CANCELLED, REQ)],
        State.CANCELLED,
    ),
]


@pytest.mark.parametrize(("steps", "end"), PATHS)
def test_legal_paths(steps: list[tuple[Step, str | None]], end: State) -> None:
    d = _run(*steps)
    assert d.state is end
    assert d.events == len(steps) + 1


REFUSALS = [
    (
        "the executing court refuses (不得拒绝)",
        [(Step.DELIVERED, None)],
        (Step.REJECTED, EXE),
        "DELEGATION_REFUSAL_NOT_ALLOWED",
    ),
    (
        "return without asking for materials",
        [(Step.DELIVERED, None)],
        (Step.RETURNED, EXE),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    (
        "return before the 30 days to supply are over",
        [(Step.DELIVERED, None), (Step.MATERIALS_REQUESTED, EXE)],
        (Step.RETURNED, EXE),
        "DELEGATION_RETURN_TOO_EARLY",
    ),
    (
        "the executing court supplies materials",
        [(Step.DELIVERED, None), (Step.MATERIALS_REQUESTED, EXE)],
        (Step.MATERIALS_SUPPLIED, EXE),
        "DELEGATION_WRONG_COURT",
    ),
    (
        "ask for materials once started",
        [(Step.DELIVERED, None), (Step.ACCEPTED, EXE), (Step.PROGRESS, EXE)],
        (Step.MATERIALS_REQUESTED, EXE),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    (
        "escalate before the 15 days are over",
        [(Step.DELIVERED, None)],
        (Step.ESCALATED, REQ),
        "DELEGATION_ESCALATION_TOO_EARLY",
    ),
    (
        "escalate once started",
        [(Step.DELIVERED, None), (Step.ACCEPTED, EXE), (Step.PROGRESS, EXE)],
        (Step.ESCALATED, REQ),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    (
        "the superior answers what nobody escalated",
        [(Step.DELIVERED, None)],
        (Step.ESCALATION_ANSWERED, "61"),
        "DELEGATION_NOT_ESCALATED",
    ),
    (
        "another high court answers an escalation",
        [(Step.DELIVERED, None)],
        (Step.ESCALATION_ANSWERED, "44"),
        "DELEGATION_WRONG_COURT",
    ),
    (
        "renew what left no measure",
        [(Step.DELIVERED, None), (Step.ACCEPTED, EXE), (Step.COMPLETED, EXE)],
        (Step.RENEWAL_REQUESTED, REQ),
        "DELEGATION_NO_MEASURE",
    ),
    (
        "renew before completion",
        [(Step.DELIVERED, None), (Step.ACCEPTED, EXE)],
        (Step.RENEWAL_REQUESTED, REQ),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    (
        "cancel after completion",
        [(Step.DELIVERED, None), (Step.ACCEPTED, EXE), (Step.COMPLETED, EXE)],
        (Step.CANCELLED, REQ),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    (
        "a third court answers",
        [(Step.DELIVERED, None)],
        (Step.ACCEPTED, OTHER),
        "DELEGATION_WRONG_COURT",
    ),
    (
        "requester accepts its own request",
        [(Step.DELIVERED, None)],
        (Step.ACCEPTED, REQ),
        "DELEGATION_WRONG_COURT",
    ),
    (
        "executing court cancels",
        [(Step.DELIVERED, None)],
        (Step.CANCELLED, EXE),
        "DELEGATION_WRONG_COURT",
    ),
    ("accept before delivery", [], (Step.ACCEPTED, EXE), "DELEGATION_ILLEGAL_TRANSITION"),
    (
        "progress before acceptance",
        [(Step.DELIVERED, None)],
        (Step.PROGRESS, EXE),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    (
        "accept twice",
        [(Step.DELIVERED, None), (Step.ACCEPTED, EXE)],
        (Step.ACCEPTED, EXE),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    ("a court fakes the delivery receipt", [], (Step.DELIVERED, EXE), "DELEGATION_WRONG_COURT"),
    ("request again", [], (Step.REQUESTED, REQ), "DELEGATION_DUPLICATE"),
]


@pytest.mark.parametrize(("name", "before", "step", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals(
    name: str, before: list[tuple[Step, str | None]], step: tuple[Step, str | None], code: str
) -> None:
    d = _run(*before)
    with pytest.raises(ValidationError) as info:
        apply(d, step[0], step[1], T0 + timedelta(days=1))
    assert info.value.code == code
    assert "d-1" in info.value.reason


def test_self_delegation_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        request("d-2", REQ, REQ, "SEARCH", T0)
    assert info.value.code == "DELEGATION_SELF"


def test_deadlines_warn_then_go_overdue_once_each() -> None:
    d = _run((Step.DELIVERED, None))
    delivered = T0 + timedelta(hours=1)  # Friday 2024-03-01, 18:00 in China
    # counted as the law counts days (courtbus.domain.calendar): day 15 is Saturday 03-16 and
    # day 30 Sunday 03-31, each moved to the Monday after; due at 00:00 China time the day after
    start_due = datetime(2024, 3, 18, 16, 0, tzinfo=UTC)
    report_due = datetime(2024, 4, 1, 16, 0, tzinfo=UTC)
    assert [(x.kind, x.due) for x in d.deadlines] == [
        (DeadlineKind.START, start_due),
        (DeadlineKind.REPORT, report_due),
    ]
    d, notices = due_notices(d, start_due - timedelta(days=4))
    assert notices == []
    d, notices = due_notices(d, start_due - timedelta(days=3) + timedelta(minutes=1))
    assert [(n.deadline, n.kind) for n in notices] == [(DeadlineKind.START, NoticeKind.WARNING)]
    d, notices = due_notices(d, start_due - timedelta(days=2))
    assert notices == []  # never twice
    d, notices = due_notices(d, start_due - timedelta(seconds=1))
    assert notices == []  # the last day is not over
    d, notices = due_notices(d, start_due + timedelta(seconds=1))
    assert [(n.deadline, n.kind) for n in notices] == [(DeadlineKind.START, NoticeKind.OVERDUE)]
    d, notices = due_notices(d, delivered + timedelta(days=40))
    assert [(n.deadline, n.kind) for n in notices] == [(DeadlineKind.REPORT, NoticeKind.OVERDUE)]
    assert due_notices(d, delivered + timedelta(days=50))[1] == []


def test_settled_deadlines_send_nothing() -> None:
    d = _run((Step.DELIVERED, None), (Step.ACCEPTED, EXE), (Step.PROGRESS, EXE))
    _, notices = due_notices(d, T0 + timedelta(days=60))
    assert notices == []  # started (START) and reported (REPORT)
    d = _run((Step.DELIVERED, None), (Step.ACCEPTED, EXE))
    _, notices = due_notices(d, T0 + timedelta(days=18))  # past the START deadline (03-18)
    # accepted but never started: only the start deadline is missed; the report one is not near
    assert [(n.deadline, n.kind) for n in notices] == [(DeadlineKind.START, NoticeKind.OVERDUE)]


def test_shorter_deadlines_per_matter() -> None:
    d = apply(
        _new(),
        Step.DELIVERED,
        None,
        T0,
        DeadlineRule(timedelta(days=1), timedelta(days=2), timedelta(0)),
    )
    # from Friday 03-01, day 1 (Saturday) and day 2 (Sunday) both move to Monday 03-04: both
    # deadlines have passed once Monday is over (T0 + 4 days is Tuesday)
    _, notices = due_notices(
        d, T0 + timedelta(days=4), DeadlineRule(timedelta(days=1), timedelta(days=2), timedelta(0))
    )
    assert {(n.deadline, n.kind) for n in notices} == {
        (DeadlineKind.START, NoticeKind.OVERDUE),
        (DeadlineKind.REPORT, NoticeKind.OVERDUE),
    }


def test_a_start_deadline_in_the_national_day_week_moves_past_it() -> None:
    """Delivered Monday 2024-09-16: day 15 is 10-01 (国庆, 10-01..07); due at the end of 10-08."""
    delivered = datetime(2024, 9, 16, 2, 0, tzinfo=UTC)  # 10:00 in China
    d = apply(_new(), Step.DELIVERED, None, delivered)
    assert d.deadlines[0].due == datetime(2024, 10, 8, 16, 0, tzinfo=UTC)  # 10-09 00:00 China


def test_deadlines_shorter_than_a_day_are_plain_offsets() -> None:
    """The demo's deadlines in seconds are not counted in days."""
    rule = DeadlineRule(timedelta(seconds=8), timedelta(seconds=20), timedelta(seconds=4))
    d = apply(_new(), Step.DELIVERED, None, T0, rule)
    assert [x.due for x in d.deadlines] == [T0 + timedelta(seconds=8), T0 + timedelta(seconds=20)]


# -- 补正 and return (法释〔2011〕11号 第八条) -----------------------------------------------------


def test_materials_set_a_30_day_supply_deadline_and_a_return_after_it() -> None:
    d = _run((Step.DELIVERED, None), (Step.MATERIALS_REQUESTED, EXE))
    asked = T0 + timedelta(hours=2)  # Friday 2024-03-01 19:00 China: day 30 is Sunday 03-31
    supply = next(x for x in d.deadlines if x.kind is DeadlineKind.SUPPLY)
    assert supply.due == datetime(2024, 4, 1, 16, 0, tzinfo=UTC)  # moved to Monday 04-01
    with pytest.raises(ValidationError) as info:
        apply(d, Step.RETURNED, EXE, supply.due - timedelta(seconds=1))
    assert info.value.code == "DELEGATION_RETURN_TOO_EARLY"
    assert "第八条" in info.value.reason
    _, notices = due_notices(d, supply.due + timedelta(seconds=1))
    assert (DeadlineKind.SUPPLY, NoticeKind.OVERDUE) in {(n.deadline, n.kind) for n in notices}
    with pytest.raises(ValidationError) as info:  # 法释〔2011〕11号 第九条 (issue 21, citations 4)
        apply(d, Step.RETURNED, EXE, supply.due)
    assert info.value.code == "DELEGATION_RETURN_NOT_APPROVED" and "第九条" in info.value.reason
    with pytest.raises(ValidationError, match="DELEGATION_RETURN_NOT_APPROVED"):  # not yet given
        apply(
            d,
            Step.RETURNED,
            EXE,
            supply.due,
            detail=Detail(approved_at=supply.due + timedelta(days=1)),
        )
    approved = supply.due + timedelta(hours=1)  # Monday 04-01 17:00 UTC, 04-02 01:00 China
    returned = apply(d, Step.RETURNED, EXE, approved, detail=Detail(approved_at=approved))
    assert returned.state is State.RETURNED and not returned.finished  # the files are owed
    assert asked < supply.due
    # 法释〔2011〕11号 第九条: the files go back within 15 days of the approval; day 15 is
    # Wednesday 04-17 China, so the deadline is its end
    assert [(x.kind, x.due) for x in returned.deadlines] == [
        (DeadlineKind.FILES, datetime(2024, 4, 17, 16, 0, tzinfo=UTC))
    ]
    due = returned.deadlines[0].due
    assert next_notice_at(returned) == due - timedelta(days=3)
    late, sent = due_notices(returned, due)
    assert [(n.deadline, n.kind) for n in sent] == [(DeadlineKind.FILES, NoticeKind.OVERDUE)]
    assert late.finished and next_notice_at(late) is None  # kept for the retention only
    back = apply(returned, Step.FILES_RETURNED, EXE, due - timedelta(days=1))
    assert back.finished and back.deadlines == () and back.state is State.RETURNED
    with pytest.raises(ValidationError, match="DELEGATION_FILES_NOT_OWED"):
        apply(back, Step.FILES_RETURNED, EXE, due)
    with pytest.raises(ValidationError, match="DELEGATION_WRONG_COURT"):
        apply(returned, Step.FILES_RETURNED, REQ, due)


def test_supplying_materials_settles_the_supply_deadline() -> None:
    d = _run(
        (Step.DELIVERED, None), (Step.MATERIALS_REQUESTED, EXE), (Step.MATERIALS_SUPPLIED, REQ)
    )
    assert all(x.kind is not DeadlineKind.SUPPLY for x in d.deadlines)
    assert d.resume_state is None


def test_a_refusal_names_the_law() -> None:
    d = _run((Step.DELIVERED, None))
    with pytest.raises(ValidationError) as info:
        apply(d, Step.REJECTED, EXE, T0)
    assert "不得拒绝" in info.value.reason and "DelegationMaterialsRequested" in info.value.reason


# -- escalation (民事诉讼法 委托执行条; 法释〔2011〕11号 第十一条) -----------------------------------


@pytest.mark.parametrize(
    ("court", "superior"),
    [("320583", "3205"), ("3205", "32"), ("3174", "31"), ("6101", "61"), ("32", None)],
)
def test_the_superior_court_is_derived_from_the_id(court: str, superior: str | None) -> None:
    assert superior_of(court) == superior


def _overdue() -> tuple[Delegation, datetime]:
    d = _run((Step.DELIVERED, None), (Step.ACCEPTED, EXE))
    start = next(x for x in d.deadlines if x.kind is DeadlineKind.START)
    return d, start.due


def test_escalation_after_15_days_goes_to_the_superior() -> None:
    d, due = _overdue()
    with pytest.raises(ValidationError) as info:
        apply(d, Step.ESCALATED, REQ, due - timedelta(seconds=1))
    assert info.value.code == "DELEGATION_ESCALATION_TOO_EARLY"
    e = apply(d, Step.ESCALATED, REQ, due)
    assert e.escalated and e.state is State.ACCEPTED
    with pytest.raises(ValidationError) as info:
        apply(e, Step.ESCALATED, REQ, due)
    assert info.value.code == "DELEGATION_ALREADY_ESCALATED"
    with pytest.raises(ValidationError) as info:
        apply(e, Step.ESCALATION_ANSWERED, "61", due, detail=Detail())
    assert info.value.code == "DELEGATION_DETAIL_MISSING"


def test_an_order_with_a_time_limit_resets_the_start_deadline() -> None:
    d, due = _overdue()
    e = apply(d, Step.ESCALATED, REQ, due)
    e, notices = due_notices(e, due + timedelta(seconds=1))
    assert [(n.deadline, n.kind) for n in notices] == [(DeadlineKind.START, NoticeKind.OVERDUE)]
    limit = due + timedelta(days=10)
    ordered = apply(
        e,
        Step.ESCALATION_ANSWERED,
        "61",
        due + timedelta(days=1),
        detail=Detail(decision=EscalationDecision.ORDERED, execute_by=limit),
    )
    assert not ordered.escalated and ordered.state is State.ACCEPTED
    start = next(x for x in ordered.deadlines if x.kind is DeadlineKind.START)
    assert (start.due, start.warned, start.overdue_sent) == (limit, False, False)
    assert next_notice_at(ordered) == limit - timedelta(days=3)


@pytest.mark.parametrize(
    ("decision", "state"),
    [
        (EscalationDecision.TAKEN_UP, State.TRANSFERRED),
        (EscalationDecision.ASSIGNED, State.TRANSFERRED),
        (EscalationDecision.NOT_WARRANTED, State.ACCEPTED),
        (EscalationDecision.ORDERED, State.ACCEPTED),
    ],
)
def test_after_six_months_the_superior_may_take_the_case_away(
    decision: EscalationDecision, state: State
) -> None:
    # rule (b), 法释〔2011〕11号 第十一条: on the applicant's request, no escalation needed
    d, _ = _overdue()
    assert d.delivered_at is not None
    six = months_end(d.delivered_at, 6)
    answered = apply(d, Step.ESCALATION_ANSWERED, "61", six, detail=Detail(decision=decision))
    assert answered.state is state and not answered.escalated


@pytest.mark.parametrize("decision", [EscalationDecision.TAKEN_UP, EscalationDecision.ASSIGNED])
def test_after_15_days_the_superior_only_orders_execution(decision: EscalationDecision) -> None:
    # rule (a), 民事诉讼法 第二百四十条第二款: 指令执行; TAKEN_UP and ASSIGNED are rule (b)'s
    d, due = _overdue()
    e = apply(d, Step.ESCALATED, REQ, due)
    assert d.delivered_at is not None
    just_before = months_end(d.delivered_at, 6) - timedelta(seconds=1)
    with pytest.raises(ValidationError) as info:
        apply(e, Step.ESCALATION_ANSWERED, "61", just_before, detail=Detail(decision=decision))
    assert info.value.code == "DELEGATION_TRANSFER_TOO_EARLY"
    assert "第十一条" in info.value.reason and "第二百四十条第二款" in info.value.reason
    answered = apply(
        e,
        Step.ESCALATION_ANSWERED,
        "61",
        due,
        detail=Detail(decision=EscalationDecision.NOT_WARRANTED),
    )
    assert answered.state is State.ACCEPTED and not answered.escalated


def test_a_delegation_in_progress_for_six_months_may_be_taken_up() -> None:
    d, due = _overdue()
    d = apply(d, Step.PROGRESS, EXE, due)
    assert d.delivered_at is not None
    six = months_end(d.delivered_at, 6)
    order = Detail(decision=EscalationDecision.ORDERED)
    with pytest.raises(ValidationError) as info:  # not 6 months yet, and started: no rule applies
        apply(d, Step.ESCALATION_ANSWERED, "61", six - timedelta(days=1), detail=order)
    assert info.value.code == "DELEGATION_NOT_ESCALATED"
    up = apply(
        d, Step.ESCALATION_ANSWERED, "61", six, detail=Detail(decision=EscalationDecision.TAKEN_UP)
    )
    assert up.state is State.TRANSFERRED


# -- freeze lifecycle (民诉法解释 第四百八十五条; 法释〔2011〕11号 第六条第二款) ---------------------------


def _frozen(until: datetime) -> Delegation:
    d = _run((Step.DELIVERED, None), (Step.ACCEPTED, EXE))
    return apply(d, Step.COMPLETED, EXE, T0 + timedelta(days=1), detail=Detail(until=until))


def test_a_freeze_is_watched_warned_and_lapses_unrenewed() -> None:
    until = T0 + timedelta(days=365)
    d = _frozen(until)
    assert d.state is State.COMPLETED and not d.finished
    assert next_notice_at(d) == until - timedelta(days=15)
    d, notices = due_notices(d, until - timedelta(days=14))
    assert [(n.deadline, n.kind) for n in notices] == [(DeadlineKind.LAPSE, NoticeKind.WARNING)]
    d, notices = due_notices(d, until)
    assert [(n.deadline, n.kind) for n in notices] == [(DeadlineKind.LAPSE, NoticeKind.OVERDUE)]
    assert d.measure is not None and d.measure.status is MeasureStatus.LAPSED and d.finished
    with pytest.raises(ValidationError) as info:
        apply(d, Step.RENEWAL_REQUESTED, REQ, until + timedelta(days=1))
    assert info.value.code == "DELEGATION_MEASURE_LAPSED"


def test_a_renewal_before_the_end_moves_the_end_and_rearms_the_warning() -> None:
    until = T0 + timedelta(days=365)
    d, _ = due_notices(_frozen(until), until - timedelta(days=14))  # warned
    d = apply(d, Step.RENEWAL_REQUESTED, REQ, until - timedelta(days=10))
    assert d.measure is not None and d.measure.status is MeasureStatus.RENEWAL_REQUESTED
    with pytest.raises(ValidationError) as info:
        apply(d, Step.RENEWED, EXE, until - timedelta(days=5), detail=Detail(until=until))
    assert info.value.code == "DELEGATION_DETAIL_MISSING"  # the end must move later
    new_end = until + timedelta(days=365)
    d = apply(d, Step.RENEWED, EXE, until - timedelta(days=5), detail=Detail(until=new_end))
    assert d.measure is not None
    assert (d.measure.status, d.measure.until, d.measure.renewals) == (
        MeasureStatus.ACTIVE,
        new_end,
        1,
    )
    assert next_notice_at(d) == new_end - timedelta(days=15)
    assert due_notices(d, until + timedelta(days=1))[1] == []  # the old end passes silently


def test_a_renewal_reported_after_the_end_is_refused() -> None:
    until = T0 + timedelta(days=365)
    d = apply(_frozen(until), Step.RENEWAL_REQUESTED, REQ, until - timedelta(days=10))
    with pytest.raises(ValidationError) as info:
        apply(d, Step.RENEWED, EXE, until, detail=Detail(until=until + timedelta(days=30)))
    assert info.value.code == "DELEGATION_MEASURE_LAPSED"
    assert "第四百八十五条" in info.value.reason


def test_release_ends_the_watch() -> None:
    d = _frozen(T0 + timedelta(days=365))
    with pytest.raises(ValidationError) as info:
        apply(d, Step.RELEASED, EXE, T0 + timedelta(days=2))
    assert info.value.code == "DELEGATION_MEASURE_ILLEGAL_TRANSITION"  # only on request
    d = apply(d, Step.RELEASE_REQUESTED, REQ, T0 + timedelta(days=2))
    d = apply(d, Step.RELEASED, EXE, T0 + timedelta(days=3))
    assert d.measure is not None and d.measure.status is MeasureStatus.RELEASED
    assert d.finished and next_notice_at(d) is None


def test_only_a_freeze_seal_or_seizure_has_an_end_date() -> None:
    d = request("d-9", REQ, EXE, "SEARCH", T0)
    d = apply(apply(d, Step.DELIVERED, None, T0), Step.ACCEPTED, EXE, T0)
    with pytest.raises(ValidationError) as info:
        apply(d, Step.COMPLETED, EXE, T0, detail=Detail(until=T0 + timedelta(days=30)))
    assert info.value.code == "DELEGATION_MEASURE_NOT_APPLICABLE"
