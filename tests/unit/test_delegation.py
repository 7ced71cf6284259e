"""The delegation state machine: every legal path, every refusal with its code, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courtbus.domain.delegation import (
    DeadlineKind,
    DeadlineRule,
    Delegation,
    NoticeKind,
    State,
    Step,
    apply,
    due_notices,
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
    ([(Step.DELIVERED, None), (Step.REJECTED, EXE)], State.REJECTED),
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
        "complete a rejected delegation",
        [(Step.DELIVERED, None), (Step.REJECTED, EXE)],
        (Step.COMPLETED, EXE),
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
