"""Regional policy: each rule refuses what it should, names itself and what is allowed."""

from __future__ import annotations

import pytest

from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import load_policies, parse_policies
from courtbus.domain.money import Money
from courtbus.domain.policy import DelegationAsk, check
from courtbus.errors import ConfigError

DIRECTORY = load_directory()
POLICY = load_policies(DIRECTORY)


def ask(
    requesting: str,
    executing: str,
    matter: str,
    asset: str | None = None,
    days: int | None = None,
    amount: str | None = None,
) -> DelegationAsk:
    return DelegationAsk(
        requesting, executing, matter, asset, days, Money.parse(amount) if amount else None
    )


CASES = [
    (
        "housing fund deduction in Jiangsu from outside",
        ask("6101", "320583", "DEDUCT", "HOUSING_FUND", amount="1000.00"),
        "js-housing-fund-freeze-only",
        "POLICY_MATTER_NOT_ALLOWED",
        "FREEZE, SEARCH",
    ),
    (
        "deduction in west Guangdong from outside",
        ask("320583", "4409", "DEDUCT", "DEPOSIT", amount="1.00"),
        "gd-west-no-out-of-region-deduction",
        "POLICY_MATTER_NOT_ALLOWED",
        "DEDUCT",
    ),
    (
        "deposit freeze over the legal year",
        ask("320583", "6101", "FREEZE", "DEPOSIT", days=400),
        "law",
        "POLICY_FREEZE_TOO_LONG",
        "365",
    ),
    (
        "Chongqing immovable freeze over two years",
        ask("320583", "50", "FREEZE", "IMMOVABLE", days=1000),
        "cq-freeze-periods",
        "POLICY_FREEZE_TOO_LONG",
        "730",
    ),
    (
        "freeze without a period",
        ask("320583", "6101", "FREEZE", "DEPOSIT"),
        "law",
        "POLICY_FREEZE_PERIOD_MISSING",
        "freeze_period_days",
    ),
    (
        "detention by the Shanghai Financial Court",
        ask("320583", "3174", "DETAIN"),
        "sh-financial-court-matters",
        "POLICY_MATTER_NOT_ALLOWED",
        "DETAIN",
    ),
]


@pytest.mark.parametrize(
    ("name", "request_", "rule", "code", "allowed"), CASES, ids=[c[0] for c in CASES]
)
def test_violations(name: str, request_: DelegationAsk, rule: str, code: str, allowed: str) -> None:
    found = check(POLICY, request_)
    assert [(v.rule_id, v.code) for v in found] == [(rule, code)]
    assert allowed in found[0].allowed


ALLOWED = [
    ("housing fund freeze from outside", ask("6101", "320583", "FREEZE", "HOUSING_FUND", days=365)),
    (
        "housing fund deduction within Jiangsu",
        ask("3205", "320583", "DEDUCT", "HOUSING_FUND", amount="5.00"),
    ),
    ("deduction inside west Guangdong", ask("4408", "4409", "DEDUCT", "DEPOSIT", amount="5.00")),
    (
        "immovable freeze of 3 years in Shaanxi",
        ask("320583", "6101", "FREEZE", "IMMOVABLE", days=1095),
    ),
    ("search anywhere", ask("320583", "50", "SEARCH")),
]


@pytest.mark.parametrize(("name", "request_"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed(name: str, request_: DelegationAsk) -> None:
    assert check(POLICY, request_) == []


def test_annual_deduction_cap_counts_earlier_deductions() -> None:
    outside = ask("320583", "6103", "DEDUCT", "DEPOSIT", amount="20000.00")
    assert (
        check(
            POLICY, outside, deducted_this_year={"guanzhong-deduction-cap": Money.parse("30000.00")}
        )
        == []
    )
    found = check(
        POLICY, outside, deducted_this_year={"guanzhong-deduction-cap": Money.parse("30000.01")}
    )
    assert [(v.rule_id, v.code) for v in found] == [
        ("guanzhong-deduction-cap", "POLICY_DEDUCTION_CAP")
    ]
    assert "19,999.99" in found[0].allowed
    inside = ask("6101", "6103", "DEDUCT", "DEPOSIT", amount="90000.00")
    assert (
        check(
            POLICY, inside, deducted_this_year={"guanzhong-deduction-cap": Money.parse("90000.00")}
        )
        == []
    )


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"id": "a", "region": "火星"}], "neither a province"),
        ([{"id": "a", "region": "重庆市", "forbidden_matters": ["FLY"]}], "unknown FLY"),
        (
            [{"id": "a", "region": "重庆市", "max_freeze_days": {"DEPOSIT": 999}}],
            "above the legal maximum",
        ),
        ([{"id": "a", "region": "重庆市"}, {"id": "a", "region": "重庆市"}], "duplicate rule id"),
        (
            [{"id": "a", "region": "重庆市", "annual_deduction_cap": "1.001"}],
            "annual_deduction_cap",
        ),
        ([{"id": "a", "region": "重庆市", "colour": "red"}], "unknown field(s) colour"),
    ],
)
def test_invalid_policy_files(rules: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_policies(
            {"legal_max_freeze_days": {"DEPOSIT": 365}, "rules": rules}, DIRECTORY, "p.yaml"
        )
    assert (
        info.value.code == "POLICY_INVALID"
        and message in info.value.reason
        and "p.yaml" in info.value.reason
    )
