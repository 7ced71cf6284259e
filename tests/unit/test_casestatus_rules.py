"""Case status transitions and the watchdog's pure rules (courtbus.domain.casestatus)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courtbus.domain import casestatus as cs
from courtbus.errors import ValidationError

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # Friday 10:00 China time
CASE = "(2024)苏0583执100号"


def test_a_case_is_filed_suspended_resumed_and_concluded() -> None:
    case = cs.apply_status(cs.Case(CASE), cs.Step.FILED, "320583", T0)
    case = cs.apply_status(case, cs.Step.SUSPENDED, "320583", T0)
    case = cs.apply_status(case, cs.Step.RESUMED, "320583", T0)
    case = cs.apply_status(case, cs.Step.CONCLUDED, "320583", T0, cs.Outcome.PERFORMED)
    assert (case.status, case.outcome, case.concluded_at) == (
        cs.Status.CONCLUDED,
        cs.Outcome.PERFORMED,
        T0,
    )
    assert case.watched


@pytest.mark.parametrize(
    ("steps", "code"),
    [
        ([cs.Step.FILED, cs.Step.FILED], "CASE_ILLEGAL_TRANSITION"),
        ([cs.Step.FILED, cs.Step.RESUMED], "CASE_ILLEGAL_TRANSITION"),
        ([cs.Step.CONCLUDED, cs.Step.CONCLUDED], "CASE_ILLEGAL_TRANSITION"),
        ([cs.Step.CONCLUDED, cs.Step.SUSPENDED], "CASE_ILLEGAL_TRANSITION"),
    ],
)
def test_a_status_that_cannot_follow_is_refused(steps: list[cs.Step], code: str) -> None:
    case = cs.Case(CASE)
    with pytest.raises(ValidationError) as info:
        for step in steps:
            case = cs.apply_status(case, step, "320583", T0, cs.Outcome.PERFORMED)
    assert info.value.code == code


def test_only_the_handling_court_speaks_for_its_case() -> None:
    filed = cs.apply_status(cs.Case(CASE), cs.Step.FILED, "320583", T0)
    with pytest.raises(ValidationError) as info:
        cs.apply_status(filed, cs.Step.CONCLUDED, "6101", T0, cs.Outcome.PERFORMED)
    assert info.value.code == "CASE_NOT_HANDLING_COURT"
    # a case the bus never saw filed: the court its case number names
    with pytest.raises(ValidationError):
        cs.apply_status(
            cs.Case(CASE), cs.Step.CONCLUDED, "6101", T0, cs.Outcome.PERFORMED, "320583"
        )
    concluded = cs.apply_status(
        cs.Case(CASE), cs.Step.CONCLUDED, "320583", T0, cs.Outcome.PERFORMED, "320583"
    )
    assert concluded.court == "320583"


def test_a_conclusion_needs_its_outcome() -> None:
    with pytest.raises(ValidationError) as info:
        cs.apply_status(cs.Case(CASE), cs.Step.CONCLUDED, "320583", T0)
    assert info.value.code == "CASE_OUTCOME_MISSING"


def _item(kind: cs.ItemKind, n: int = 1, until: datetime | None = None) -> cs.Item:
    return cs.Item(f"{kind.value.lower()}:{n}", kind, f"{kind.value} {n}", "320583", T0, until)


def _performed(*items: cs.Item, outcome: cs.Outcome = cs.Outcome.PERFORMED) -> cs.Case:
    case = cs.apply_status(cs.Case(CASE), cs.Step.CONCLUDED, "320583", T0, outcome, "320583")
    for item in items:
        case = cs.with_item(case, item, item.item_id)
    return case


def test_graces_a_list_entry_3_working_days_the_others_configurable() -> None:
    graces = cs.Graces(restriction=timedelta(hours=2), freeze=timedelta(hours=5))
    entry, ban, freeze = (_item(k) for k in cs.ItemKind)
    # Friday: Monday, Tuesday, Wednesday are the 3 working days; due 00:00 Thursday China time
    assert graces.due(entry, T0) == datetime(2024, 3, 6, 16, 0, tzinfo=UTC)
    assert graces.due(ban, T0) == T0 + timedelta(hours=2)
    assert graces.due(freeze, T0) == T0 + timedelta(hours=5)


def test_overdue_lists_what_is_in_force_past_its_grace_only_for_a_performed_case() -> None:
    graces = cs.Graces(restriction=timedelta(hours=1), freeze=timedelta(hours=1))
    ban = _item(cs.ItemKind.RESTRICTION)
    lapsed = _item(cs.ItemKind.FREEZE, 2, until=T0 + timedelta(minutes=30))
    entry = _item(cs.ItemKind.BLACKLIST, 3)
    case = _performed(ban, lapsed, entry)
    later = T0 + timedelta(hours=2)
    assert cs.overdue(case, T0, graces) == []
    assert cs.overdue(case, later, graces) == [ban]  # the freeze lapsed; the entry has 3 days
    assert cs.overdue(case, T0 + timedelta(days=6), graces) == [entry, ban]  # by since, id
    not_watched = _performed(ban, outcome=cs.Outcome.NO_PROPERTY_CONCLUDED)  # 终本 keeps bans
    assert cs.overdue(not_watched, later, graces) == []
    assert cs.next_check(not_watched, later, graces) is None


def test_next_check_first_due_then_daily_and_sooner_for_a_new_due() -> None:
    graces = cs.Graces(restriction=timedelta(hours=1), repeat=timedelta(days=1))
    ban = _item(cs.ItemKind.RESTRICTION)
    entry = _item(cs.ItemKind.BLACKLIST, 3)
    case = _performed(ban, entry)
    assert cs.next_check(case, T0, graces) == T0 + timedelta(hours=1)
    first = T0 + timedelta(hours=1)
    case = cs.alerted(case, first)
    assert case.alerts == 1
    assert cs.next_check(case, first, graces) == first + timedelta(days=1)
    # after 5 daily alerts the entry's due (Thursday 00:00 China) comes before the 6th
    case = cs.alerted(case, first + timedelta(days=4))
    assert cs.next_check(case, first + timedelta(days=4), graces) == first + timedelta(days=5)
    lifted = cs.with_item(cs.with_item(case, None, ban.item_id), None, entry.item_id)
    assert cs.next_check(lifted, first, graces) is None


def test_a_resumed_case_is_no_longer_watched() -> None:
    case = cs.alerted(_performed(_item(cs.ItemKind.RESTRICTION)), T0)
    resumed = cs.apply_status(case, cs.Step.RESUMED, "320583", T0)
    assert not resumed.watched and resumed.alerts == 0 and resumed.items == case.items
    assert cs.next_check(resumed, T0, cs.Graces()) is None
