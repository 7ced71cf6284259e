"""Properties of distribution plans (hypothesis): exact sums, caps, class order, proportional
shares within a class, and the deposit during a suit."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from courtbus.domain.calendar import CHINA
from courtbus.domain.distribution_plan import (
    Allocation,
    Claim,
    ClaimClass,
    Dispute,
    OrdinaryOrder,
    Party,
    Plan,
    compute_plan,
    payout,
)
from courtbus.domain.money import MAX_FEN

T0 = datetime(2024, 3, 1, 10, tzinfo=CHINA)
CLAIMANT = Party.of("PERSON", "张某", "11010519491231002X")
Case = tuple[int, int, list[Claim], OrdinaryOrder]
EXAMPLES = settings(max_examples=200, deadline=None)


_ROW = st.tuples(
    st.sampled_from(list(ClaimClass)),
    st.integers(0, 2),  # rank
    st.none() | st.integers(1, 3),  # seal order
    st.integers(0, 5),  # minutes after T0: equal filings happen
)


@st.composite
def claims(draw: st.DrawFn) -> list[Claim]:
    top = draw(st.sampled_from([10, 1_000, 10**17]))
    rows = draw(st.lists(st.tuples(_ROW, st.integers(1, top)), max_size=8))
    return [
        Claim(
            f"c{i}",
            CLAIMANT,
            "320583",
            amount,
            T0 + timedelta(minutes=minutes),
            klass,
            rank=rank,
            seal_order=seal,
        )
        for i, ((klass, rank, seal, minutes), amount) in enumerate(rows)
    ]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    cs = draw(claims())
    total = sum(c.amount for c in cs)
    proceeds = draw(st.integers(0, min(MAX_FEN, total + total // 2 + 10)))
    costs = draw(st.integers(0, max(1, proceeds // 10)))
    return proceeds, costs, cs, draw(st.sampled_from(list(OrdinaryOrder)))


def _group(a: Allocation, claim: Claim, order: OrdinaryOrder) -> tuple[int, int, int]:
    """The payment group: a whole group is paid before the next gets a fen (written apart
    from the module on purpose)."""
    level = {ClaimClass.STATUTORY_PRIORITY: 0, ClaimClass.SECURED: 1, ClaimClass.ORDINARY: 2}
    if claim.klass is not ClaimClass.ORDINARY:
        return (level[claim.klass], 0, claim.rank)
    if order is OrdinaryOrder.PRO_RATA:
        return (2, 0, 0)
    return (2, 0, claim.seal_order) if claim.seal_order is not None else (2, 1, 0)


def _plan(case: Case) -> Plan:
    proceeds, costs, cs, order = case
    return compute_plan(proceeds, costs, cs, order)


@EXAMPLES
@given(cases())
def test_the_plan_sums_to_the_distributable_amount_or_pays_everyone(case: Case) -> None:
    proceeds, costs, cs, _ = case
    plan = _plan(case)
    assert plan.costs_paid == min(costs, proceeds)
    assert plan.costs_paid + plan.allocated + plan.surplus == proceeds
    everyone_paid = all(a.short == 0 for a in plan.allocations)
    assert plan.allocated == plan.distributable or everyone_paid
    assert plan.surplus == 0 or everyone_paid
    assert sorted(a.claim_id for a in plan.allocations) == sorted(c.claim_id for c in cs)


@EXAMPLES
@given(cases())
def test_no_allocation_exceeds_its_claim(case: Case) -> None:
    for a in _plan(case).allocations:
        assert 0 <= a.allocated <= a.claimed


@EXAMPLES
@given(cases())
def test_no_lower_class_gets_anything_while_a_higher_one_is_short(case: Case) -> None:
    _, _, cs, order = case
    plan = _plan(case)
    by_id = {c.claim_id: c for c in cs}
    groups = [(_group(a, by_id[a.claim_id], order), a) for a in plan.allocations]
    for g, a in groups:
        if a.short:
            assert all(b.allocated == 0 for h, b in groups if h > g)
    assert [g for g, _ in groups] == sorted(g for g, _ in groups)  # listed in payment order


@EXAMPLES
@given(cases())
def test_shares_within_a_class_are_proportional_within_one_fen(case: Case) -> None:
    _, _, cs, order = case
    plan = _plan(case)
    by_id = {c.claim_id: c for c in cs}
    groups: dict[tuple[int, int, int], list[Allocation]] = {}
    for a in plan.allocations:
        groups.setdefault(_group(a, by_id[a.claim_id], order), []).append(a)
    for members in groups.values():
        got = sum(a.allocated for a in members)
        total = sum(a.claimed for a in members)
        exact = {a.claim_id: Fraction(got * a.claimed, total) for a in members}
        for a in members:
            assert abs(a.allocated - exact[a.claim_id]) < 1
        # largest remainder: whoever was rounded up had a remainder no smaller than whoever
        # was rounded down
        up = [exact[a.claim_id] % 1 for a in members if a.allocated > exact[a.claim_id]]
        down = [exact[a.claim_id] % 1 for a in members if a.allocated < exact[a.claim_id]]
        assert min(up, default=1) >= max(down, default=0)
        for x in members:  # equal claims: the earlier filing never gets less
            for y in members:
                cx, cy = by_id[x.claim_id], by_id[y.claim_id]
                if x.claimed == y.claimed and cx.filed_at < cy.filed_at:
                    assert x.allocated >= y.allocated


@EXAMPLES
@given(cases(), st.randoms(use_true_random=False))
def test_the_order_claims_are_listed_in_does_not_matter(case: Case, rnd: random.Random) -> None:
    proceeds, costs, cs, order = case
    shuffled = list(cs)
    rnd.shuffle(shuffled)
    first = {a.claim_id: a.allocated for a in _plan(case).allocations}
    again = compute_plan(proceeds, costs, shuffled, order)
    assert {a.claim_id: a.allocated for a in again.allocations} == first


@settings(max_examples=100, deadline=None)
@given(cases(), st.data())
def test_a_suit_deposits_the_disputed_part_and_pays_the_rest(
    case: Case, data: st.DataObject
) -> None:
    plan = _plan(case)
    disputes = [
        Dispute(a.claim_id, data.draw(st.integers(0, a.claimed)))
        for a in plan.allocations
        if data.draw(st.booleans())
    ]
    out = payout(plan, disputes)
    paid, held = dict(out.paid), dict(out.held)
    for a in plan.allocations:
        assert paid[a.claim_id] + held.get(a.claim_id, 0) == a.allocated
    assert out.deposit <= sum(d.amount for d in disputes)
    assert out.costs + sum(paid.values()) + out.deposit + out.surplus == case[0]
