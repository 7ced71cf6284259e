"""Annual deduction caps in the delegation flow, in the harness.

The cap is the examples file's (policies/regional.examples.yaml: example-housing-fund-deduction-cap,
50,000 CNY per debtor per year from a frozen housing fund, report:786-788; the report names no
place, so its region, Shaanxi, is made up). No shipped rule sets a cap: no source names one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from courtbus.catalogue.policies import load_policies
from courtbus.domain.money import Money
from courtbus.domain.person_ids import upgrade_legacy_resident_id
from courtbus.domain.policy import PolicyCatalogue, PolicyRule
from courtbus.runtime.harness import FlowHarness
from tests.builders import PERSON_ID
from tests.unit.flows.delegation_kit import (
    ACCEPT,
    CANCEL,
    COMPLETE,
    EXE,
    FAIL,
    MATERIALS,
    REQ,
    X_ID,
    Sent,
    Step,
    assert_applied,
    assert_refused,
    caps_used,
    catalogue,
    make_harness,
    request,
    snapshot,
    state_of,
    step,
)

RULE = "example-housing-fund-deduction-cap"
CAP = "POLICY_DEDUCTION_CAP"


def test_the_example_cap_rule_covers_the_executing_court() -> None:
    directory, policies, _ = catalogue()
    [rule] = [r for r in policies.rules if r.id == RULE]
    assert rule.annual_deduction_cap == Money.parse("50000.00")
    assert rule.example and rule.source == "report:786-788"
    assert rule.asset_kinds == {"HOUSING_FUND"}
    assert EXE in rule.courts
    assert REQ not in rule.courts
    assert not rule.out_of_region_only  # the report's local rule holds for every deduction
    assert not any(r.annual_deduction_cap for r in load_policies(directory).rules)  # shipped


def deduct(h: FlowHarness, did: str, amount: str, **fields: Any) -> Sent:
    """A DEDUCT request of ``amount`` yuan of a housing fund from 3205 to 6104 (in the capped
    region)."""
    fields.setdefault("asset_kind", "HOUSING_FUND")
    return request(h, did, matter="DEDUCT", amount=amount, **fields)


def used(h: FlowHarness) -> list[int]:
    """The cap counters' values (fen)."""
    return list(caps_used(h).values())


def test_deductions_reserve_against_the_cap() -> None:
    h = make_harness(partitions=1)
    assert_applied(h, deduct(h, "dlg-a", "30000.00"), "REQUESTED")
    [(key, fen)] = caps_used(h).items()
    assert key.startswith(f"{RULE}:") and key.endswith(":2024")
    assert PERSON_ID not in key  # keyed by a digest, never the ID itself
    assert fen == 3_000_000
    before = snapshot(h)
    refused = deduct(h, "dlg-b", "25000.00")
    decided = assert_refused(h, refused, CAP, sender=REQ)
    assert decided.payload["state"] == "REFUSED"
    assert "20,000.00" in decided.payload["reason"]  # what would still be allowed
    assert snapshot(h) == before
    assert state_of(h, "dlg-b") is None
    assert_applied(h, deduct(h, "dlg-c", "20000.00"), "REQUESTED")  # exactly up to the cap
    assert used(h) == [5_000_000]
    assert_refused(h, deduct(h, "dlg-d", "0.01"), CAP, sender=REQ)


def test_completing_with_less_frees_the_difference() -> None:
    h = make_harness(partitions=1)
    deduct(h, "dlg-a", "50000.00")
    assert_refused(h, deduct(h, "dlg-b", "20000.00"), CAP, sender=REQ)
    step(h, ACCEPT, "dlg-a")
    assert_applied(
        h, step(h, COMPLETE, "dlg-a", amount_executed=Money.parse("30000").yuan), "COMPLETED"
    )
    assert used(h) == [3_000_000]
    assert_refused(h, deduct(h, "dlg-c", "20000.01"), CAP, sender=REQ)
    assert_applied(h, deduct(h, "dlg-d", "20000.00"), "REQUESTED")
    assert used(h) == [5_000_000]


def test_completing_without_an_amount_frees_the_whole_reservation() -> None:
    h = make_harness(partitions=1)
    deduct(h, "dlg-a", "50000.00")
    step(h, ACCEPT, "dlg-a")
    step(h, COMPLETE, "dlg-a")  # amount_executed null: nothing deducted
    assert used(h) == [0]


@pytest.mark.parametrize(
    "end",
    [[MATERIALS, CANCEL], [CANCEL], [ACCEPT, CANCEL], [ACCEPT, FAIL]],
    ids=lambda e: "+".join(s[0] for s in e),
)
def test_ending_without_deduction_frees_the_reservation(end: list[Step]) -> None:
    h = make_harness(partitions=1)
    deduct(h, "dlg-a", "40000.00")
    for taken in end:
        step(h, taken, "dlg-a")
    assert used(h) == [0]
    assert_applied(h, deduct(h, "dlg-b", "50000.00"), "REQUESTED")


def test_a_refused_end_step_changes_no_counter() -> None:
    h = make_harness(partitions=1)
    deduct(h, "dlg-a", "40000.00")
    step(h, ACCEPT, "dlg-a")
    step(h, FAIL, "dlg-a")
    assert used(h) == [0]
    assert_refused(h, step(h, CANCEL, "dlg-a"), "DELEGATION_ILLEGAL_TRANSITION", sender=REQ)
    assert used(h) == [0]


LEGACY_ID = "320583930312123"  # a fictitious 15-digit (pre-1999) resident ID


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (X_ID, X_ID.lower()),
        (X_ID.lower(), X_ID),
        (LEGACY_ID, upgrade_legacy_resident_id(LEGACY_ID)),  # one person, two ID generations
    ],
)
def test_a_differently_spelt_id_counts_against_the_same_cap(first: str, second: str) -> None:
    h = make_harness(partitions=1)
    assert_applied(h, deduct(h, "dlg-a", "40000.00", id_number=first), "REQUESTED")
    assert_refused(h, deduct(h, "dlg-b", "20000.00", id_number=second), CAP, sender=REQ)
    assert len(caps_used(h)) == 1


def test_each_debtor_has_their_own_cap() -> None:
    h = make_harness(partitions=1)
    deduct(h, "dlg-a", "50000.00")
    assert_applied(h, deduct(h, "dlg-b", "50000.00", id_number=X_ID), "REQUESTED")
    assert sorted(used(h)) == [5_000_000, 5_000_000]


def test_a_passport_counts_per_issuing_state() -> None:
    """The same passport number from two states is two people; from one state, one cap."""
    h = make_harness(partitions=1)
    usa = {"id_number": "E12345678", "id_type": "PASSPORT", "nationality": "USA"}
    deduct(h, "dlg-a", "40000.00", **usa)
    other = {**usa, "nationality": "CAN"}
    assert_applied(h, deduct(h, "dlg-b", "40000.00", **other), "REQUESTED")
    assert_refused(h, deduct(h, "dlg-c", "20000.00", **usa), CAP, sender=REQ)
    assert sorted(used(h)) == [4_000_000, 4_000_000]


def test_other_assets_and_non_deduction_requests_are_not_capped() -> None:
    h = make_harness(partitions=1)
    assert_applied(h, deduct(h, "dlg-a", "80000.00", asset_kind="DEPOSIT"), "REQUESTED")
    freeze = {"matter": "FREEZE", "asset_kind": "HOUSING_FUND", "freeze_period_days": 365}
    assert_applied(h, request(h, "dlg-b", amount="80000.00", **freeze), "REQUESTED")
    assert caps_used(h) == {}


def test_in_region_deductions_count_against_a_cap_for_all() -> None:
    h = make_harness(partitions=1)
    assert_applied(h, deduct(h, "dlg-a", "40000.00", court="6101"), "REQUESTED")  # Xi'an
    assert_refused(h, deduct(h, "dlg-b", "20000.00"), CAP, sender=REQ)  # the same cap
    assert used(h) == [4_000_000]


def test_in_region_requests_are_not_capped_by_an_out_of_region_cap() -> None:
    _, shipped, _ = catalogue()
    outside_only = PolicyRule(
        id="test-cap",
        region="test",
        courts=frozenset({"6101", EXE}),
        out_of_region_only=True,
        reason="test",
        annual_deduction_cap=Money.parse("100.00"),
    )
    h = make_harness(
        partitions=1, policies=PolicyCatalogue(shipped.legal_max_freeze_days, [outside_only])
    )
    assert_applied(h, deduct(h, "dlg-a", "80000.00", court="6101"), "REQUESTED")  # Xi'an
    assert caps_used(h) == {}
    assert_refused(h, deduct(h, "dlg-b", "100.01"), CAP, sender=REQ)  # from Suzhou


def test_the_cap_year_is_the_bus_china_year() -> None:
    h = make_harness(partitions=1, start=datetime(2024, 12, 31, 15, 30, tzinfo=UTC))  # 23:30 CST
    deduct(h, "dlg-a", "40000.00")
    assert_refused(h, deduct(h, "dlg-b", "20000.00"), CAP, sender=REQ)
    h.advance(hours=1)  # 00:30 on 1 January 2025 in China, still 2024 in UTC
    assert_applied(h, deduct(h, "dlg-c", "40000.00"), "REQUESTED")
    assert sorted(k.rsplit(":", 1)[1] for k in caps_used(h)) == ["2024", "2025"]


def test_cap_counters_outlive_the_year_then_go() -> None:
    h = make_harness(partitions=1, retention=timedelta(days=1))
    deduct(h, "dlg-a", "40000.00")
    step(h, ACCEPT, "dlg-a")
    step(h, COMPLETE, "dlg-a", amount_executed=Money.parse("40000").yuan)
    h.advance(days=2)
    assert h.count("delegations") == 0  # the delegation is gone ...
    assert used(h) == [4_000_000]  # ... what it deducted still counts
    assert_refused(h, deduct(h, "dlg-b", "20000.00"), CAP, sender=REQ)
    h.now = datetime(2026, 1, 1, tzinfo=UTC)
    h.tick()
    assert caps_used(h) == {}


def test_a_catalogue_built_in_the_test_is_used() -> None:
    _, shipped, _ = catalogue()
    tight = PolicyRule(
        id="test-cap",
        region="test",
        courts=frozenset({EXE}),
        out_of_region_only=True,
        reason="test",
        annual_deduction_cap=Money.parse("100.00"),
    )
    h = make_harness(partitions=1, policies=PolicyCatalogue(shipped.legal_max_freeze_days, [tight]))
    assert_applied(h, deduct(h, "dlg-a", "60.00"), "REQUESTED")
    assert_refused(h, deduct(h, "dlg-b", "40.01"), CAP, sender=REQ)
    assert_applied(h, deduct(h, "dlg-c", "40.00"), "REQUESTED")
    assert list(caps_used(h)) == [next(iter(caps_used(h)))]
    assert next(iter(caps_used(h))).startswith("test-cap:")


def test_the_cap_holds_across_partitions() -> None:
    h = make_harness(partitions=6)  # bus.delegation.events has 6 partitions
    first, second = "dlg-0", "dlg-2"
    assert h.partition_of(first.encode()) != h.partition_of(second.encode())
    assert_applied(h, deduct(h, first, "40000.00"), "REQUESTED")
    assert_refused(h, deduct(h, second, "40000.00"), CAP, sender=REQ)
