"""Distribution (参与分配, 执转破): plans computed by hand, every refusal with its code, the
objection / opposition / suit timeline, the hand-over of disposal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from courtbus.domain.calendar import CHINA
from courtbus.domain.distribution import (
    Actor,
    Distribution,
    Duty,
    Phase,
    State,
    Step,
    apply,
    closes_at,
    next_deadline,
    open_distribution,
    payable,
    pending,
    window_deadlines,
)
from courtbus.domain.distribution import Detail as X
from courtbus.domain.distribution_plan import (
    Claim,
    ClaimClass,
    DebtorForm,
    Dispute,
    OrdinaryOrder,
    Party,
    Periods,
    Plan,
    Procedure,
    check_handover_request,
    compute_plan,
    handover_due,
    handover_overdue,
    may_request_handover,
    payout,
    revise_plan,
)
from courtbus.errors import ValidationError

PRESIDING, BEIJING, SHENZHEN, STRANGER = "320583", "110105", "440305", "6101"
DOMICILE = "3205"  # the intermediate court of the enterprise debtor's domicile
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=CHINA)  # enforcement started

CITIZEN = Party.of("PERSON", "王某", "320583199303121234")
PARTNERSHIP = Party.of("ORGANISATION", "某合伙企业", "12100000400000624D")
COMPANY = Party.of("ORGANISATION", "某有限公司", "91440800MA4UABCD1B")
A = Party.of("PERSON", "张某", "11010519491231002X")
B = Party.of("PERSON", "李某", "110101199003074514")
C = Party.of("ORGANISATION", "某银行", "91110105MA00ABCD1G")


def _at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=CHINA)


def _claim(
    cid: str,
    amount: int,
    filed: datetime = T0,
    klass: ClaimClass = ClaimClass.ORDINARY,
    rank: int = 0,
    party: Party = A,
    court: str = PRESIDING,
    **kw: object,
) -> Claim:
    return Claim(cid, party, court, amount, filed, klass, rank, **kw)  # type: ignore[arg-type]


def _shares(plan: Plan) -> dict[str, int]:
    return {a.claim_id: a.allocated for a in plan.allocations}


def _codes(fn: Callable[[], object]) -> str:
    with pytest.raises(ValidationError) as info:
        fn()
    return info.value.code


# --- plans by hand -------------------------------------------------------------------------


def test_equal_claims_that_cannot_split_evenly_give_the_extra_fen_to_the_earliest_filing() -> None:
    # 100 fen over 3 × 50: exact 33⅓ each, floors 33+33+33 = 99, one fen left, equal
    # remainders: the earliest filing (c1, listed last) gets it.
    claims = [
        _claim("c3", 50, T0 + timedelta(hours=3)),
        _claim("c2", 50, T0 + timedelta(hours=2)),
        _claim("c1", 50, T0 + timedelta(hours=1)),
    ]
    plan = compute_plan(100, 0, claims)
    assert _shares(plan) == {"c1": 34, "c2": 33, "c3": 33}
    assert plan.surplus == 0 and plan.allocated == 100


def test_unequal_ordinary_claims_largest_remainder() -> None:
    # 1000 over 300/500/700 (1500): exact 200, 333.33, 466.67 → 200, 333, 467.
    claims = [_claim("a", 300), _claim("b", 500), _claim("c", 700)]
    assert _shares(compute_plan(1000, 0, claims)) == {"a": 200, "b": 333, "c": 467}


def test_costs_statutory_priority_and_two_ranked_mortgages_with_the_proceeds_short() -> None:
    # 1,000,000 − costs 20,000 = 980,000; construction price 300,000 (outranks mortgages)
    # → 680,000; mortgage registered first 500,000 → 180,000; the second mortgage gets
    # 180,000 of 400,000; the ordinary claim nothing.
    claims = [
        _claim("ord", 100_000),
        _claim("m2", 400_000, klass=ClaimClass.SECURED, rank=2, has_title=False),
        _claim("m1", 500_000, klass=ClaimClass.SECURED, rank=1, has_title=False),
        _claim("build", 300_000, klass=ClaimClass.STATUTORY_PRIORITY, rank=1),
    ]
    plan = compute_plan(1_000_000, 20_000, claims)
    assert plan.costs_paid == 20_000
    assert [(a.claim_id, a.allocated) for a in plan.allocations] == [
        ("build", 300_000),
        ("m1", 500_000),
        ("m2", 180_000),
        ("ord", 0),
    ]
    assert plan.allocation("m2").short == 220_000
    assert plan.surplus == 0


def test_unregistered_mortgages_of_equal_rank_share_pro_rata() -> None:
    # 民法典 第四百一十四条第三项: 90,001 over two unregistered mortgages 60,000 / 120,000
    # → 30,000.33 and 60,000.67 → 30,000 and 60,001.
    claims = [
        _claim("u1", 60_000, klass=ClaimClass.SECURED, rank=9),
        _claim("u2", 120_000, klass=ClaimClass.SECURED, rank=9),
        _claim("o", 10_000),
    ]
    assert _shares(compute_plan(90_001, 0, claims)) == {"u1": 30_000, "u2": 60_001, "o": 0}


def test_proceeds_above_all_claims_leave_a_surplus_for_the_debtor() -> None:
    claims = [
        _claim("s", 100_000, klass=ClaimClass.SECURED, rank=1),
        _claim("o1", 150_000),
        _claim("o2", 50_000),
    ]
    plan = compute_plan(500_000, 10_000, claims)
    assert _shares(plan) == {"s": 100_000, "o1": 150_000, "o2": 50_000}
    assert plan.surplus == 190_000  # 500,000 − 10,000 − 300,000


def test_zero_proceeds() -> None:
    plan = compute_plan(0, 5_000, [_claim("s", 10, klass=ClaimClass.SECURED), _claim("o", 10)])
    assert plan.costs_paid == 0 and plan.surplus == 0
    assert _shares(plan) == {"s": 0, "o": 0}


def test_costs_above_the_proceeds_take_everything() -> None:
    plan = compute_plan(5_000, 8_000, [_claim("o", 10)])
    assert (plan.costs_paid, plan.allocated, plan.surplus) == (5_000, 0, 0)


def test_sealing_order_pays_ordinary_claims_by_seal_after_costs_and_priority() -> None:
    # Art. 514: 1,000,000, secured 200,000 first; then B (sealed first) 400,000 in full, A
    # (sealed second) the remaining 400,000 of 500,000; C never sealed: nothing.
    claims = [
        _claim("s", 200_000, klass=ClaimClass.SECURED, rank=1),
        _claim("a", 500_000, seal_order=2),
        _claim("b", 400_000, seal_order=1),
        _claim("c", 100_000),
    ]
    plan = compute_plan(1_000_000, 0, claims, OrdinaryOrder.SEALING_ORDER)
    assert [(a.claim_id, a.allocated) for a in plan.allocations] == [
        ("s", 200_000),
        ("b", 400_000),
        ("a", 400_000),
        ("c", 0),
    ]


def test_payout_during_a_suit_holds_back_the_disputed_amount_and_pays_the_rest() -> None:
    plan = compute_plan(1_000, 100, [_claim("a", 600), _claim("b", 600)])  # 450 / 450
    out = payout(plan, [Dispute("a", 100), Dispute("b", 1_000)])
    assert out.costs == 100
    assert dict(out.paid) == {"a": 350, "b": 0}
    assert dict(out.held) == {"a": 100, "b": 450}  # never more than the allocation
    assert out.deposit + sum(f for _, f in out.paid) + out.costs + out.surplus == 1_000


def test_revise_plan_moves_the_difference_and_keeps_the_sum() -> None:
    plan = compute_plan(1_000, 0, [_claim("a", 600), _claim("b", 600)])
    revised = revise_plan(plan, {"a": 550, "b": 450})
    assert _shares(revised) == {"a": 550, "b": 450} and revised.version == 2
    assert revise_plan(plan, {"a": 400}).surplus == 100  # a lower allocation frees a surplus


# --- the state machine ---------------------------------------------------------------------


def _opened(debtor: Party = CITIZEN, form: DebtorForm = DebtorForm.CITIZEN) -> Distribution:
    return open_distribution("dist-1", PRESIDING, debtor, form, T0)


def _with_claims(d: Distribution | None = None) -> Distribution:
    """A (presiding court) 600,000 ordinary, B (Beijing) 400,000 ordinary, C (Shenzhen, a bank
    with a mortgage and no title) 200,000, all admitted."""
    d = d or _opened()
    claims = [
        _claim("c1", 600_000, party=A, court=PRESIDING),
        _claim("c2", 400_000, party=B, court=BEIJING),
        _claim("c3", 200_000, klass=ClaimClass.SECURED, party=C, court=SHENZHEN, has_title=False),
    ]
    for i, c in enumerate(claims):
        d = apply(d, Step.CLAIM_FILED, c.court_id, _at(2, 9 + i), X(claim=c))
    for c in claims:
        d = apply(d, Step.CLAIM_ADMITTED, PRESIDING, _at(3), X(claim_id=c.claim_id))
    return d


def _issued(d: Distribution | None = None) -> Distribution:
    # 800,000 − 50,000 costs = 750,000; the mortgage 200,000; 550,000 over 1,000,000
    # ordinary: A 330,000, B 220,000.
    return apply(
        d or _with_claims(),
        Step.PLAN_ISSUED,
        PRESIDING,
        _at(4, 9),
        X(proceeds=800_000, costs=50_000),
    )


def _served(d: Distribution | None = None) -> Distribution:
    """Served on the debtor 3-04, on A 3-04, on B 3-05, on C 3-06: windows end 3-20, 3-20,
    3-21, 3-22 (00:00 China time)."""
    d = d or _issued()
    for who, day in ((CITIZEN, 4), (A, 4), (B, 5), (C, 6)):
        d = apply(d, Step.SERVED, PRESIDING, _at(day), X(recipient=who.key))
    return d


def test_claims_are_typed_parties_and_the_plan_is_exact() -> None:
    d = _issued()
    assert d.state is State.PLAN_ISSUED and d.plan is not None
    assert _shares(d.plan) == {"c3": 200_000, "c1": 330_000, "c2": 220_000}
    assert d.recipients(Phase.OBJECTION) == (CITIZEN.key, A.key, B.key, C.key)


def test_each_recipient_has_15_days_from_its_own_receipt() -> None:
    d = _served()
    assert d.state is State.OBJECTION_WINDOW
    assert dict(window_deadlines(d)) == {
        CITIZEN.key: datetime(2024, 3, 20, tzinfo=CHINA),
        A.key: datetime(2024, 3, 20, tzinfo=CHINA),
        B.key: datetime(2024, 3, 21, tzinfo=CHINA),
        C.key: datetime(2024, 3, 22, tzinfo=CHINA),
    }
    assert closes_at(d) == datetime(2024, 3, 22, tzinfo=CHINA)


def test_a_last_day_on_a_holiday_moves_to_the_next_working_day() -> None:
    # received 2024-09-16: the 15th day is 10-01 (National Day, rest through 10-07): ends
    # with 10-08.
    d = _issued()
    d = apply(
        d, Step.SERVED, PRESIDING, datetime(2024, 9, 16, 10, tzinfo=CHINA), X(recipient=A.key)
    )
    assert dict(window_deadlines(d))[A.key] == datetime(2024, 10, 9, tzinfo=CHINA)


def test_no_objection_finalizes_the_plan_and_payout_ends_execution() -> None:
    d = _served()
    with pytest.raises(ValidationError) as info:
        apply(d, Step.WINDOW_CLOSED, None, datetime(2024, 3, 21, 23, 59, tzinfo=CHINA))
    assert info.value.code == "DISTRIBUTION_WINDOW_OPEN"
    d = apply(d, Step.WINDOW_CLOSED, None, datetime(2024, 3, 22, tzinfo=CHINA))
    assert d.state is State.FINALIZED
    out = payable(d)
    assert out is not None and out.deposit == 0
    assert dict(out.paid) == {"c3": 200_000, "c1": 330_000, "c2": 220_000}
    d = apply(d, Step.PAID_OUT, PRESIDING, _at(25))
    assert d.state is State.PAID_OUT and d.ended_at == _at(25)
    late = _claim("c9", 1, party=B, court=BEIJING)
    with pytest.raises(ValidationError) as info:
        apply(d, Step.CLAIM_FILED, BEIJING, _at(26), X(claim=late))
    assert info.value.code == "DISTRIBUTION_CLAIM_TOO_LATE"


def _objected(d: Distribution | None = None) -> Distribution:
    """B objects on 3-10 that 30,000 of A's allocation is B's."""
    d = d or _served()
    return apply(
        d, Step.OBJECTED, BEIJING, _at(10), X(recipient=B.key, disputes=(Dispute("c1", 30_000),))
    )


def _opposition_window() -> Distribution:
    d = apply(_objected(), Step.WINDOW_CLOSED, None, datetime(2024, 3, 22, tzinfo=CHINA))
    assert d.state is State.OPPOSITION_WINDOW
    assert d.recipients(Phase.OPPOSITION) == (CITIZEN.key, A.key, C.key)
    for who in (CITIZEN, A, C):  # notified 3-25 (Monday): 15 days end with 4-09
        d = apply(d, Step.SERVED, PRESIDING, _at(25), X(recipient=who.key))
    return d


def test_objection_without_opposition_revises_the_plan_as_asked() -> None:
    d = _opposition_window()
    assert closes_at(d) == datetime(2024, 4, 10, tzinfo=CHINA)
    d = apply(d, Step.WINDOW_CLOSED, None, datetime(2024, 4, 10, tzinfo=CHINA))
    assert d.state is State.REVISION
    assert [p.duty for p in pending(d, _at(10, month=4))] == [Duty.REVISE_PLAN]
    with pytest.raises(ValidationError) as info:
        apply(d, Step.PLAN_REVISED, BEIJING, _at(11, month=4), X(allocated=(("c1", 300_000),)))
    assert info.value.code == "DISTRIBUTION_NOT_PRESIDING"
    d = apply(
        d,
        Step.PLAN_REVISED,
        PRESIDING,
        _at(11, month=4),
        X(allocated=(("c1", 300_000), ("c2", 250_000))),
    )
    assert d.state is State.FINALIZED and d.plan is not None and d.plan.version == 2
    assert _shares(d.plan) == {"c3": 200_000, "c1": 300_000, "c2": 250_000}


def _suit_window() -> Distribution:
    d = _opposition_window()
    d = apply(d, Step.OPPOSED, PRESIDING, _at(8, month=4), X(recipient=A.key))
    # the debtor and C let their 15 days run out (4-09 is the last day)
    d = apply(d, Step.WINDOW_CLOSED, None, datetime(2024, 4, 10, tzinfo=CHINA))
    assert d.state is State.SUIT_WINDOW
    return apply(d, Step.SERVED, PRESIDING, _at(11, month=4), X(recipient=B.key))


def test_opposition_without_suit_leaves_the_original_plan() -> None:
    d = _suit_window()
    assert closes_at(d) == datetime(2024, 4, 27, tzinfo=CHINA)  # 4-11 + 15 = 4-26 (Friday)
    with pytest.raises(ValidationError) as info:
        apply(d, Step.SUED, BEIJING, datetime(2024, 4, 27, tzinfo=CHINA), X(recipient=B.key))
    assert info.value.code == "DISTRIBUTION_SUIT_TOO_LATE"
    d = apply(d, Step.WINDOW_CLOSED, None, datetime(2024, 4, 27, tzinfo=CHINA))
    assert d.state is State.FINALIZED and d.plan is not None and d.plan.version == 1
    assert d.plan.allocation("c1").allocated == 330_000


def test_suit_deposits_the_disputed_amount_and_pays_the_rest() -> None:
    d = _suit_window()
    d = apply(
        d, Step.SUED, BEIJING, datetime(2024, 4, 26, 23, 59, tzinfo=CHINA), X(recipient=B.key)
    )  #  (the last day is in time)
    d = apply(d, Step.WINDOW_CLOSED, None, datetime(2024, 4, 26, 23, 59, tzinfo=CHINA))
    assert d.state is State.IN_SUIT  # everyone who could sue has: no need to wait
    out = payable(d)
    assert out is not None
    assert out.deposit == 30_000 and dict(out.held) == {"c1": 30_000}
    assert dict(out.paid) == {"c3": 200_000, "c1": 300_000, "c2": 220_000}
    assert out.costs == 50_000
    d = apply(
        d,
        Step.SUIT_DECIDED,
        PRESIDING,
        _at(20, month=6),
        X(allocated=(("c1", 310_000), ("c2", 240_000))),
    )
    assert d.state is State.FINALIZED and d.plan is not None
    assert _shares(d.plan) == {"c3": 200_000, "c1": 310_000, "c2": 240_000}
    assert payable(d) is not None


def test_a_claim_admitted_after_the_plan_voids_it() -> None:
    d = _served()
    late = _claim("c4", 100_000, party=PARTNERSHIP, court=STRANGER)
    d = apply(d, Step.CLAIM_FILED, STRANGER, _at(12), X(claim=late))
    assert d.state is State.OBJECTION_WINDOW  # filed, not yet admitted
    assert [p.subject for p in pending(d, _at(12)) if p.duty is Duty.DECIDE_CLAIM] == ["c4"]
    d = apply(d, Step.CLAIM_ADMITTED, PRESIDING, _at(13), X(claim_id="c4"))
    assert d.state is State.CLAIMS and d.plan is None and d.receipts == ()
    d = apply(d, Step.PLAN_ISSUED, PRESIDING, _at(14), X(proceeds=800_000, costs=50_000))
    assert d.plan is not None and d.plan.version == 2


def test_pending_and_next_deadline_drive_the_timer() -> None:
    d = _issued()
    d = apply(d, Step.SERVED, PRESIDING, _at(4), X(recipient=CITIZEN.key))
    serve = [p.subject for p in pending(d, _at(4)) if p.duty is Duty.SERVE]
    assert serve == [A.key, B.key, C.key]
    assert next_deadline(d) is None  # the window cannot close before everyone is served
    d = _served()
    assert next_deadline(d) == datetime(2024, 3, 22, tzinfo=CHINA)
    (close,) = pending(d, datetime(2024, 3, 22, tzinfo=CHINA))
    assert (close.duty, close.actor, close.overdue) == (Duty.CLOSE_WINDOW, Actor.BUS, True)


def test_shortened_periods_are_plain_offsets() -> None:
    fast = Periods(objection=timedelta(seconds=30))
    d = apply(_issued(), Step.SERVED, PRESIDING, _at(4), X(recipient=A.key), fast)
    assert dict(window_deadlines(d, fast))[A.key] == _at(4) + timedelta(seconds=30)


# --- enterprise legal persons ----------------------------------------------------------------


def _enterprise_with_claims() -> Distribution:
    d = _opened(COMPANY, DebtorForm.ENTERPRISE_LEGAL_PERSON)
    assert d.procedure is Procedure.ENTERPRISE
    claims = [
        _claim("e1", 500_000, party=A, court=PRESIDING, seal_order=2),
        _claim("e2", 400_000, party=B, court=BEIJING, seal_order=1),
        _claim(
            "e3",
            200_000,
            klass=ClaimClass.SECURED,
            rank=1,
            party=C,
            court=SHENZHEN,
            has_title=False,
        ),
    ]
    for c in claims:
        d = apply(d, Step.CLAIM_FILED, c.court_id, _at(2), X(claim=c))
        d = apply(d, Step.CLAIM_ADMITTED, PRESIDING, _at(3), X(claim_id=c.claim_id))
    return d


def test_enterprise_debtor_with_consent_is_transferred_and_every_court_told() -> None:
    d = _enterprise_with_claims()
    with pytest.raises(ValidationError) as info:
        apply(d, Step.PLAN_ISSUED, PRESIDING, _at(4), X(proceeds=1))
    assert info.value.code == "DISTRIBUTION_BANKRUPTCY_NOT_ASSESSED"
    d = apply(
        d,
        Step.ENTERPRISE_ASSESSED,
        PRESIDING,
        _at(4),
        X(bankruptcy_test_met=True, consent_by=B.key, bankruptcy_court=DOMICILE),
    )
    assert d.state is State.TRANSFERRED_TO_BANKRUPTCY
    assert d.enterprise is not None and d.enterprise.transfer
    assert d.enterprise.courts_to_notify == (BEIJING, DOMICILE, SHENZHEN)
    (answer,) = pending(d, datetime(2024, 4, 4, tzinfo=CHINA))  # Art. 512: 30 days
    assert (answer.duty, answer.due, answer.overdue) == (
        Duty.ANSWER_BANKRUPTCY,
        datetime(2024, 4, 4, tzinfo=CHINA),
        True,
    )
    with pytest.raises(ValidationError) as info:
        apply(d, Step.CLAIM_FILED, SHENZHEN, _at(5), X(claim=_claim("e4", 1, court=SHENZHEN)))
    assert info.value.code == "DISTRIBUTION_ILLEGAL_TRANSITION"  # enforcement suspended
    accepted = apply(d, Step.BANKRUPTCY_ANSWERED, DOMICILE, _at(20), X(accepted=True))
    assert accepted.state is State.TRANSFERRED_TO_BANKRUPTCY and pending(accepted, _at(20)) == ()


def test_bankruptcy_court_refusing_resumes_enforcement_in_sealing_order() -> None:
    d = _enterprise_with_claims()
    d = apply(
        d,
        Step.ENTERPRISE_ASSESSED,
        PRESIDING,
        _at(4),
        X(bankruptcy_test_met=True, consent_by=COMPANY.key, bankruptcy_court=DOMICILE),
    )
    d = apply(d, Step.BANKRUPTCY_ANSWERED, DOMICILE, _at(20), X(accepted=False))
    assert d.state is State.CLAIMS
    d = apply(d, Step.PLAN_ISSUED, PRESIDING, _at(21), X(proceeds=900_000))
    assert d.plan is not None and d.plan.order is OrdinaryOrder.SEALING_ORDER
    assert _shares(d.plan) == {"e3": 200_000, "e2": 400_000, "e1": 300_000}


def test_enterprise_debtor_without_consent_pays_in_sealing_order() -> None:
    d = _enterprise_with_claims()
    d = apply(
        d, Step.ENTERPRISE_ASSESSED, PRESIDING, _at(4), X(bankruptcy_test_met=True, consent_by=None)
    )
    assert d.state is State.CLAIMS
    assert d.enterprise is not None and not d.enterprise.transfer
    d = apply(d, Step.PLAN_ISSUED, PRESIDING, _at(5), X(proceeds=1_000_000, costs=10_000))
    # 990,000: the mortgage 200,000; B (sealed first) 400,000; A 390,000 of 500,000
    assert d.plan is not None
    assert [(a.claim_id, a.allocated) for a in d.plan.allocations] == [
        ("e3", 200_000),
        ("e2", 400_000),
        ("e1", 390_000),
    ]


# --- refusals ------------------------------------------------------------------------------


def _bad_objection(**kw: object) -> Callable[[], object]:
    detail = X(**{"recipient": B.key, "disputes": (Dispute("c1", 1),), **kw})  # type: ignore[arg-type]
    return lambda: apply(_served(), Step.OBJECTED, BEIJING, _at(10), detail)


REFUSALS: list[tuple[str, Callable[[], object]]] = [
    (
        "DISTRIBUTION_ENTERPRISE_DEBTOR",
        lambda: open_distribution(
            "d", PRESIDING, COMPANY, DebtorForm.ENTERPRISE_LEGAL_PERSON, T0, Procedure.PARTICIPATION
        ),
    ),
    (
        "DISTRIBUTION_DEBTOR_FORM_MISMATCH",
        lambda: open_distribution("d", PRESIDING, CITIZEN, DebtorForm.OTHER_ORGANISATION, T0),
    ),
    (
        "DISTRIBUTION_DEBTOR_FORM_MISMATCH",
        lambda: open_distribution("d", PRESIDING, PARTNERSHIP, DebtorForm.CITIZEN, T0),
    ),
    (
        "DISTRIBUTION_PROCEDURE_MISMATCH",
        lambda: open_distribution(
            "d", PRESIDING, PARTNERSHIP, DebtorForm.OTHER_ORGANISATION, T0, Procedure.ENTERPRISE
        ),
    ),
    ("DISTRIBUTION_PARTY_NAME_MISSING", lambda: Party.of("PERSON", " ", "320583199303121234")),
    ("RESIDENT_ID_INVALID", lambda: Party.of("PERSON", "王某", "320583198001011233")),
    (
        "DISTRIBUTION_TITLE_MISSING",
        lambda: apply(
            _opened(), Step.CLAIM_FILED, PRESIDING, _at(2), X(claim=_claim("x", 1, has_title=False))
        ),
    ),
    (
        "DISTRIBUTION_CLAIM_TOO_EARLY",
        lambda: apply(
            _opened(), Step.CLAIM_FILED, PRESIDING, T0 - timedelta(days=1), X(claim=_claim("x", 1))
        ),
    ),
    (
        "DISTRIBUTION_CLAIM_TOO_LATE",
        lambda: apply(
            apply(_opened(), Step.EXECUTION_ENDED, PRESIDING, _at(5)),
            Step.CLAIM_FILED,
            PRESIDING,
            _at(5),
            X(claim=_claim("x", 1)),
        ),
    ),
    (
        "DISTRIBUTION_CLAIM_AMOUNT_INVALID",
        lambda: apply(_opened(), Step.CLAIM_FILED, PRESIDING, _at(2), X(claim=_claim("x", 0))),
    ),
    (
        "DISTRIBUTION_CLAIMANT_IS_DEBTOR",
        lambda: apply(
            _opened(), Step.CLAIM_FILED, PRESIDING, _at(2), X(claim=_claim("x", 1, party=CITIZEN))
        ),
    ),
    (
        "DISTRIBUTION_RANK_INVALID",
        lambda: apply(
            _opened(), Step.CLAIM_FILED, PRESIDING, _at(2), X(claim=_claim("x", 1, seal_order=0))
        ),
    ),
    (
        "DISTRIBUTION_CLAIM_DUPLICATE",
        lambda: apply(
            _with_claims(), Step.CLAIM_FILED, PRESIDING, _at(5), X(claim=_claim("c1", 1))
        ),
    ),
    ("DISTRIBUTION_WRONG_COURT", lambda: apply(_opened(), Step.CLAIM_FILED, None, _at(2))),
    (
        "DISTRIBUTION_DETAIL_MISSING",
        lambda: apply(_with_claims(), Step.PLAN_ISSUED, PRESIDING, _at(4)),
    ),
    (
        "DISTRIBUTION_WRONG_COURT",
        lambda: apply(
            _opened(), Step.CLAIM_FILED, BEIJING, _at(2), X(claim=_claim("x", 1, court=SHENZHEN))
        ),
    ),
    (
        "DISTRIBUTION_NOT_PRESIDING",
        lambda: apply(_with_claims(), Step.PLAN_ISSUED, BEIJING, _at(4), X(proceeds=1)),
    ),
    (
        "DISTRIBUTION_NOT_PRESIDING",
        lambda: apply(
            apply(
                _opened(), Step.CLAIM_FILED, BEIJING, _at(2), X(claim=_claim("x", 1, court=BEIJING))
            ),
            Step.CLAIM_ADMITTED,
            BEIJING,
            _at(3),
            X(claim_id="x"),
        ),
    ),
    (
        "DISTRIBUTION_ILLEGAL_TRANSITION",
        lambda: apply(_with_claims(), Step.PAID_OUT, PRESIDING, _at(5)),
    ),
    (
        "DISTRIBUTION_CLAIM_UNKNOWN",
        lambda: apply(_with_claims(), Step.CLAIM_REJECTED, PRESIDING, _at(5), X(claim_id="nope")),
    ),
    (
        "DISTRIBUTION_CLAIM_ALREADY_DECIDED",
        lambda: apply(_with_claims(), Step.CLAIM_REJECTED, PRESIDING, _at(5), X(claim_id="c1")),
    ),
    (
        "DISTRIBUTION_CLAIMS_PENDING",
        lambda: apply(
            apply(
                _with_claims(),
                Step.CLAIM_FILED,
                BEIJING,
                _at(3),
                X(claim=_claim("c9", 5, party=B, court=BEIJING)),
            ),
            Step.PLAN_ISSUED,
            PRESIDING,
            _at(4),
            X(proceeds=1),
        ),
    ),
    (
        "DISTRIBUTION_NO_CLAIMS",
        lambda: apply(
            apply(
                apply(_opened(), Step.CLAIM_FILED, PRESIDING, _at(2), X(claim=_claim("x", 1))),
                Step.CLAIM_REJECTED,
                PRESIDING,
                _at(3),
                X(claim_id="x"),
            ),
            Step.PLAN_ISSUED,
            PRESIDING,
            _at(4),
            X(proceeds=1),
        ),
    ),
    (
        "DISTRIBUTION_AMOUNT_INVALID",
        lambda: apply(_with_claims(), Step.PLAN_ISSUED, PRESIDING, _at(4), X(proceeds=-1)),
    ),
    (
        "DISTRIBUTION_NOT_ENTERPRISE",
        lambda: apply(
            _with_claims(), Step.ENTERPRISE_ASSESSED, PRESIDING, _at(4), X(bankruptcy_test_met=True)
        ),
    ),
    (
        "DISTRIBUTION_CONSENT_INVALID",
        lambda: apply(
            _enterprise_with_claims(),
            Step.ENTERPRISE_ASSESSED,
            PRESIDING,
            _at(4),
            X(bankruptcy_test_met=True, consent_by=C.key, bankruptcy_court=DOMICILE),
        ),
    ),  # no title
    (
        "DISTRIBUTION_WRONG_COURT",
        lambda: apply(
            apply(
                _enterprise_with_claims(),
                Step.ENTERPRISE_ASSESSED,
                PRESIDING,
                _at(4),
                X(bankruptcy_test_met=True, consent_by=A.key, bankruptcy_court=DOMICILE),
            ),
            Step.BANKRUPTCY_ANSWERED,
            STRANGER,
            _at(9),
            X(accepted=True),
        ),
    ),
    (
        "DISTRIBUTION_NOT_A_RECIPIENT",
        lambda: apply(_issued(), Step.SERVED, PRESIDING, _at(4), X(recipient=PARTNERSHIP.key)),
    ),
    (
        "DISTRIBUTION_ALREADY_SERVED",
        lambda: apply(
            apply(_issued(), Step.SERVED, None, _at(4), X(recipient=A.key)),
            Step.SERVED,
            None,
            _at(7),
            X(recipient=A.key),
        ),
    ),
    (
        "DISTRIBUTION_NOT_SERVED",
        lambda: apply(
            _issued(),
            Step.OBJECTED,
            BEIJING,
            _at(5),
            X(recipient=B.key, disputes=(Dispute("c1", 1),)),
        ),
    ),
    (
        "DISTRIBUTION_OBJECTION_TOO_LATE",
        lambda: apply(
            _served(),
            Step.OBJECTED,
            BEIJING,
            datetime(2024, 3, 21, tzinfo=CHINA),
            X(recipient=B.key, disputes=(Dispute("c1", 1),)),
        ),
    ),
    (
        "DISTRIBUTION_ALREADY_RESPONDED",
        lambda: apply(
            _objected(),
            Step.OBJECTED,
            BEIJING,
            _at(11),
            X(recipient=B.key, disputes=(Dispute("c1", 1),)),
        ),
    ),
    ("DISTRIBUTION_DISPUTE_INVALID", _bad_objection(disputes=())),
    ("DISTRIBUTION_DISPUTE_INVALID", _bad_objection(disputes=(Dispute("c1", 600_001),))),
    ("DISTRIBUTION_CLAIM_UNKNOWN", _bad_objection(disputes=(Dispute("zz", 1),))),
    ("DISTRIBUTION_WRONG_COURT", _bad_objection(recipient=A.key)),  # Beijing speaks for B only
    ("DISTRIBUTION_WINDOW_OPEN", lambda: apply(_served(), Step.WINDOW_CLOSED, None, _at(15))),
    (
        "DISTRIBUTION_ILLEGAL_TRANSITION",  # not everyone served yet: no window to close
        lambda: apply(_issued(), Step.WINDOW_CLOSED, None, _at(30)),
    ),
    (
        "DISTRIBUTION_NOT_A_RECIPIENT",
        lambda: apply(  # an objector cannot oppose
            _opposition_window(), Step.OPPOSED, BEIJING, _at(26), X(recipient=B.key)
        ),
    ),
    (
        "DISTRIBUTION_OPPOSITION_TOO_LATE",
        lambda: apply(
            _opposition_window(),
            Step.OPPOSED,
            PRESIDING,
            datetime(2024, 4, 10, tzinfo=CHINA),
            X(recipient=A.key),
        ),
    ),
    (
        "DISTRIBUTION_PLAN_INVALID",
        lambda: apply(
            apply(
                _opposition_window(), Step.WINDOW_CLOSED, None, datetime(2024, 4, 10, tzinfo=CHINA)
            ),
            Step.PLAN_REVISED,
            PRESIDING,
            _at(11, month=4),
            X(allocated=(("c1", 600_001),)),
        ),
    ),
    (
        "DISTRIBUTION_PLAN_INVALID",
        lambda: apply(
            apply(
                _opposition_window(), Step.WINDOW_CLOSED, None, datetime(2024, 4, 10, tzinfo=CHINA)
            ),
            Step.PLAN_REVISED,
            PRESIDING,
            _at(11, month=4),
            X(allocated=(("c1", 330_001),)),
        ),
    ),
    (
        "DISTRIBUTION_HANDOVER_NOT_PRIORITY",
        lambda: check_handover_request(T0, _at(1, month=6), False, False),
    ),
    (
        "DISTRIBUTION_HANDOVER_AUCTION_PUBLISHED",
        lambda: check_handover_request(T0, _at(1, month=6), True, True),
    ),
    (
        "DISTRIBUTION_HANDOVER_TOO_EARLY",
        lambda: check_handover_request(T0, _at(30, month=4), False, True),
    ),
]


@pytest.mark.parametrize(("code", "attempt"), REFUSALS)
def test_refusal_codes(code: str, attempt: Callable[[], object]) -> None:
    assert _codes(attempt) == code


def test_already_answered_bankruptcy() -> None:
    d = _enterprise_with_claims()
    d = apply(
        d,
        Step.ENTERPRISE_ASSESSED,
        PRESIDING,
        _at(4),
        X(bankruptcy_test_met=True, consent_by=A.key, bankruptcy_court=DOMICILE),
    )
    d = apply(d, Step.BANKRUPTCY_ANSWERED, DOMICILE, _at(9), X(accepted=True))
    with pytest.raises(ValidationError) as info:
        apply(d, Step.BANKRUPTCY_ANSWERED, DOMICILE, _at(10), X(accepted=False))
    assert info.value.code == "DISTRIBUTION_ALREADY_ANSWERED"


# --- hand-over of disposal (法释〔2016〕6号) --------------------------------------------------


def test_handover_may_be_asked_after_60_days_and_is_due_15_days_later() -> None:
    sealed = T0  # 2024-03-01: the 60th day is 4-30 (a Tuesday, worked)
    assert not may_request_handover(sealed, datetime(2024, 4, 30, 23, 59, tzinfo=CHINA), False)
    assert may_request_handover(sealed, datetime(2024, 5, 1, tzinfo=CHINA), False)
    assert not may_request_handover(sealed, datetime(2024, 5, 1, tzinfo=CHINA), True)
    check_handover_request(sealed, datetime(2024, 5, 1, tzinfo=CHINA), False, True)
    received = _at(6, 9, month=5)  # 15 days: 5-21
    assert handover_due(received) == datetime(2024, 5, 22, tzinfo=CHINA)
    assert not handover_overdue(received, datetime(2024, 5, 21, 23, 59, tzinfo=CHINA), False)
    assert handover_overdue(received, datetime(2024, 5, 22, tzinfo=CHINA), False)
    assert not handover_overdue(received, datetime(2024, 5, 23, tzinfo=CHINA), True)


def test_handover_on_a_shortened_clock() -> None:
    fast = Periods(handover_wait=timedelta(seconds=60), handover=timedelta(seconds=15))
    assert not may_request_handover(T0, T0 + timedelta(seconds=59), False, fast)
    assert may_request_handover(T0, T0 + timedelta(seconds=60), False, fast)
    asked = T0 + timedelta(seconds=61)
    assert handover_due(asked, fast) == asked + timedelta(seconds=15)
    assert handover_overdue(asked, asked + timedelta(seconds=15), False, fast)
