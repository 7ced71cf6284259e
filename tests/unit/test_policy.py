"""Regional policy: each rule refuses what it should, names itself, its source and what is allowed.

Sources: ``report:N`` is line N of the source report (中国法院执行信息化评估报告 2023, text copy
000_dbdae566cd0bd7e9.txt); Art. 485 is 民诉法解释 (2022 修正) 第四百八十五条.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from courtbus.catalogue.directory import Court, CourtLevel, load_directory
from courtbus.catalogue.policies import (
    ASSETS,
    DEFAULT_PATH,
    EXAMPLES_PATH,
    load_policies,
    parse_policies,
)
from courtbus.domain.money import Money
from courtbus.domain.policy import (
    ART_485_MAX_FREEZE_DAYS,
    EXAMPLE_MARK,
    DelegationAsk,
    PolicyCatalogue,
    check,
)
from courtbus.domain.regions import BY_CODE, CITIES
from courtbus.errors import ConfigError

DIRECTORY = load_directory()
SHIPPED = load_policies(DIRECTORY)
# The directory has no court in Dalian or Hunan yet; these stand in for them (Shenyang: a
# Liaoning court outside Dalian).
STAND_INS = (
    Court("2102", "辽02", "辽宁省大连市中级人民法院", "辽宁省", CourtLevel.INTERMEDIATE),
    Court("210202", "辽0202", "辽宁省大连市中山区人民法院", "辽宁省", CourtLevel.BASIC),
    Court("2101", "辽01", "辽宁省沈阳市中级人民法院", "辽宁省", CourtLevel.INTERMEDIATE),
    Court("4301", "湘01", "湖南省长沙市中级人民法院", "湖南省", CourtLevel.INTERMEDIATE),
)
WIDER = replace(DIRECTORY, courts=DIRECTORY.courts + STAND_INS)
POLICY = load_policies(WIDER)
EXAMPLES = load_policies(WIDER, EXAMPLES_PATH)
LEGAL = dict(SHIPPED.legal_max_freeze_days)

DL, HN, CQ = (
    "dl-housing-fund-freeze-period",
    "hn-housing-fund-freeze-period",
    "cq-housing-fund-freeze-period",
)
EX_CAP, EX_FREEZE_ONLY = "example-housing-fund-deduction-cap", "example-housing-fund-freeze-only"


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


def test_every_shipped_rule_names_its_source() -> None:
    assert {r.id: r.source for r in SHIPPED.rules} == {
        DL: "report:796-798",
        HN: "report:796-798",
        CQ: "report:796-798",
    }
    assert not any(r.example or r.reason.startswith(EXAMPLE_MARK) for r in SHIPPED.rules)
    assert all(r.annual_deduction_cap is None for r in SHIPPED.rules)  # no source sets one


@pytest.mark.parametrize(
    "rule",
    [
        "js-housing-fund-freeze-only",  # report:792-794 names no place: examples file
        "gd-west-no-out-of-region-deduction",  # report:527-531 (湛江、茂名、阳江): no such ban
        "guanzhong-deduction-cap",  # report:531-541: the agreement sets no deduction cap
        "cq-freeze-periods",  # report:796-798 gives Chongqing's housing-fund period only
        "sh-financial-court-matters",  # no source for a detention/eviction ban
    ],
)
def test_unsourced_rules_are_not_shipped(rule: str) -> None:
    assert rule not in {r.id for r in SHIPPED.rules}


def test_the_shipped_file_cites_art_485() -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert "第四百八十五条" in text and "art. 29" not in text


def test_a_city_is_its_courts_by_id_prefix() -> None:
    [dalian] = [r for r in POLICY.rules if r.id == DL]
    assert dalian.courts == {"2102", "210202"}  # not Shenyang (2101)
    assert {r.id: r.courts for r in SHIPPED.rules}[DL] == frozenset()  # none in the directory yet
    assert {r.id: r.courts for r in SHIPPED.rules}[HN] == frozenset()
    for city in CITIES:
        assert len(city.prefix) == 4 and city.name.startswith(BY_CODE[city.prefix[:2]].name)


# Art. 485: deposits 1 year, movables 2, immovables and other property rights 3
# (policies/regional.yaml gives each asset kind's reason).
ART_485 = [
    ("DEPOSIT", 365, "银行存款"),
    ("MOVABLE", 730, "动产"),
    ("VEHICLE", 730, "a motor vehicle is a movable"),
    ("IMMOVABLE", 1095, "不动产"),
    ("EQUITY", 1095, "股权: 其他财产权"),
    ("SECURITIES", 1095, "securities: 其他财产权"),
    ("HOUSING_FUND", 1095, "claim on the fund centre: 其他财产权 (report:796-798: 2 and 3 years)"),
    ("OTHER", 1095, "the residual 其他财产权"),
]


def test_every_asset_kind_has_an_art_485_maximum() -> None:
    assert set(LEGAL) == ASSETS == {a for a, _, _ in ART_485}
    assert set(LEGAL.values()) <= set(ART_485_MAX_FREEZE_DAYS.values())


@pytest.mark.parametrize(("asset", "days", "why"), ART_485, ids=[a for a, _, _ in ART_485])
def test_art_485_maximum_per_asset_kind(asset: str, days: int, why: str) -> None:
    assert LEGAL[asset] == days, why
    # Kunshan → Xi'an: no regional rule applies, only the law
    assert check(SHIPPED, ask("320583", "6101", "FREEZE", asset, days=days)) == []
    found = check(SHIPPED, ask("320583", "6101", "FREEZE", asset, days=days + 1))
    assert [(v.rule_id, v.code) for v in found] == [("law", "POLICY_FREEZE_TOO_LONG")]
    assert f"at most {days} days" in found[0].allowed and "第四百八十五条" in found[0].allowed


# (name, source, request, [(rule, code)], what the first violation allows)
REFUSED = [
    (
        "Dalian housing fund over 2 years, from outside",
        "report:796-798",
        ask("320583", "2102", "FREEZE", "HOUSING_FUND", days=731),
        [(DL, "POLICY_FREEZE_TOO_LONG")],
        "730",
    ),
    (
        "Dalian basic court, housing fund over 2 years, from Liaoning",
        "report:796-798",
        ask("2101", "210202", "FREEZE", "HOUSING_FUND", days=1095),
        [(DL, "POLICY_FREEZE_TOO_LONG")],
        "730",
    ),
    (
        "Dalian housing fund over 2 years, from within Dalian",
        "report:796-798",
        ask("210202", "2102", "FREEZE", "HOUSING_FUND", days=731),
        [(DL, "POLICY_FREEZE_TOO_LONG")],
        "730",
    ),
    (
        "Chongqing housing fund over 1 year",
        "report:796-798",
        ask("320583", "50", "FREEZE", "HOUSING_FUND", days=366),
        [(CQ, "POLICY_FREEZE_TOO_LONG")],
        "365",
    ),
    (
        "Hunan housing fund over 3 years: law and rule",
        "report:796-798; Art. 485",
        ask("320583", "4301", "FREEZE", "HOUSING_FUND", days=1096),
        [("law", "POLICY_FREEZE_TOO_LONG"), (HN, "POLICY_FREEZE_TOO_LONG")],
        "1095",
    ),
    (
        "deposit freeze over the legal year",
        "Art. 485",
        ask("320583", "6101", "FREEZE", "DEPOSIT", days=400),
        [("law", "POLICY_FREEZE_TOO_LONG")],
        "365",
    ),
    (
        "freeze without a period",
        "Art. 485 (a period to check)",
        ask("320583", "6101", "FREEZE", "DEPOSIT"),
        [("law", "POLICY_FREEZE_PERIOD_MISSING")],
        "freeze_period_days",
    ),
]


@pytest.mark.parametrize(
    ("name", "source", "request_", "expected", "allowed"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_refused(
    name: str,
    source: str,
    request_: DelegationAsk,
    expected: list[tuple[str, str]],
    allowed: str,
) -> None:
    found = check(POLICY, request_)
    assert [(v.rule_id, v.code) for v in found] == expected
    assert allowed in found[0].allowed
    for v in found:
        if v.rule_id != "law":
            assert f"source: {source.split(';')[0]}" in v.message  # the refusal cites it


# (name, source or why nothing refuses it, request)
ALLOWED = [
    (
        "Dalian housing fund for 2 years",
        "report:796-798",
        ask("320583", "2102", "FREEZE", "HOUSING_FUND", days=730),
    ),
    (
        "Dalian deposit for a year: the rule is for housing funds",
        "report:796-798",
        ask("320583", "2102", "FREEZE", "DEPOSIT", days=365),
    ),
    (
        "Shenyang housing fund for 3 years: Liaoning outside Dalian",
        "report:796-798; Art. 485",
        ask("320583", "2101", "FREEZE", "HOUSING_FUND", days=1095),
    ),
    (
        "Hunan housing fund for 3 years",
        "report:796-798",
        ask("320583", "4301", "FREEZE", "HOUSING_FUND", days=1095),
    ),
    (
        "Chongqing housing fund for 1 year",
        "report:796-798",
        ask("320583", "50", "FREEZE", "HOUSING_FUND", days=365),
    ),
    (
        "Chongqing immovable for 3 years",
        "Art. 485; report:244-248 restricts nothing",
        ask("320583", "50", "FREEZE", "IMMOVABLE", days=1095),
    ),
    (
        "Chongqing deposit for 1 year",
        "Art. 485",
        ask("320583", "50", "FREEZE", "DEPOSIT", days=365),
    ),
    (
        "deduction in west Guangdong from outside",
        "report:527-531 sets no ban",
        ask("320583", "4409", "DEDUCT", "DEPOSIT", amount="1.00"),
    ),
    (
        "detention by the Shanghai Financial Court",
        "no source for a ban",
        ask("320583", "3174", "DETAIN"),
    ),
    (
        "housing fund deduction in Jiangsu from outside",
        "report:792-794 names no place",
        ask("6101", "320583", "DEDUCT", "HOUSING_FUND", amount="1000.00"),
    ),
    ("search anywhere", "nothing restricts it", ask("320583", "50", "SEARCH")),
]


@pytest.mark.parametrize(("name", "source", "request_"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed(name: str, source: str, request_: DelegationAsk) -> None:
    assert check(POLICY, request_) == []


def test_no_shipped_cap_on_guanzhong_deductions() -> None:
    """report:531-541: the Guanzhong Plain agreement sets no deduction cap."""
    outside = ask("320583", "6103", "DEDUCT", "DEPOSIT", amount="90000.00")
    assert check(POLICY, outside, deducted_this_year={"guanzhong-deduction-cap": Money(0)}) == []


def test_the_examples_file_extends_the_shipped_catalogue_and_is_marked() -> None:
    assert EXAMPLES.legal_max_freeze_days == POLICY.legal_max_freeze_days
    shipped = len(POLICY.rules)
    assert tuple(EXAMPLES.rules[:shipped]) == tuple(POLICY.rules)
    examples = EXAMPLES.rules[shipped:]
    assert {r.id: r.source for r in examples} == {
        EX_CAP: "report:786-788",
        EX_FREEZE_ONLY: "report:792-794",
    }
    for rule in examples:
        assert rule.example and rule.reason.startswith(EXAMPLE_MARK)
    assert "NOT LAW" in EXAMPLES_PATH.read_text(encoding="utf-8")


def test_an_example_refusal_says_it_is_an_example() -> None:
    found = check(EXAMPLES, ask("6101", "320583", "DEDUCT", "HOUSING_FUND", amount="1000.00"))
    assert [(v.rule_id, v.code) for v in found] == [(EX_FREEZE_ONLY, "POLICY_MATTER_NOT_ALLOWED")]
    assert EXAMPLE_MARK in found[0].message and "source: report:792-794" in found[0].message
    assert "DEDUCT" in found[0].allowed
    inside = ask("3205", "320583", "DEDUCT", "HOUSING_FUND", amount="5.00")
    assert check(EXAMPLES, inside) == []  # out_of_region only
    assert check(EXAMPLES, ask("6101", "320583", "FREEZE", "HOUSING_FUND", days=365)) == []


def test_the_example_annual_cap_counts_earlier_deductions() -> None:
    """report:786-788: 50,000 CNY a year from a frozen housing fund (place made up: 陕西省)."""
    outside = ask("320583", "6103", "DEDUCT", "HOUSING_FUND", amount="20000.00")
    assert check(EXAMPLES, outside, deducted_this_year={EX_CAP: Money.parse("30000.00")}) == []
    found = check(EXAMPLES, outside, deducted_this_year={EX_CAP: Money.parse("30000.01")})
    assert [(v.rule_id, v.code) for v in found] == [(EX_CAP, "POLICY_DEDUCTION_CAP")]
    assert "19,999.99" in found[0].allowed and EXAMPLE_MARK in found[0].message
    inside = ask("6101", "6103", "DEDUCT", "HOUSING_FUND", amount="20000.00")  # applies to all
    assert check(EXAMPLES, inside, deducted_this_year={EX_CAP: Money.parse("30000.01")}) != []
    deposit = ask("320583", "6103", "DEDUCT", "DEPOSIT", amount="90000.00")
    assert check(EXAMPLES, deposit, deducted_this_year={EX_CAP: Money.parse("50000.00")}) == []


def _parse(raw: dict[str, object], base: PolicyCatalogue | None = None) -> PolicyCatalogue:
    return parse_policies(raw, WIDER, "p.yaml", base)


def _rule(**fields: object) -> dict[str, object]:
    return {"id": "a", "region": "重庆市", "source": "report:796-798"} | fields


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ({"rules": [_rule(region="火星")]}, "POLICY_INVALID", "neither a province"),
        ({"rules": [_rule(region="大连市")]}, "POLICY_INVALID", "neither a province"),
        ({"rules": [_rule(forbidden_matters=["FLY"])]}, "POLICY_INVALID", "unknown FLY"),
        (
            {"rules": [_rule(max_freeze_days={"DEPOSIT": 999})]},
            "POLICY_INVALID",
            "above the legal maximum",
        ),
        ({"rules": [_rule(), _rule()]}, "POLICY_INVALID", "duplicate rule id"),
        (
            {"rules": [_rule(annual_deduction_cap="1.001")]},
            "POLICY_INVALID",
            "annual_deduction_cap",
        ),
        ({"rules": [_rule(colour="red")]}, "POLICY_INVALID", "unknown field(s) colour"),
        ({"rules": [{"id": "a", "region": "重庆市"}]}, "POLICY_SOURCE_MISSING", "no source"),
        ({"rules": [_rule(source="  ")]}, "POLICY_SOURCE_MISSING", "no source"),
        ({"rules": [_rule(source="report:0")]}, "POLICY_SOURCE_MISSING", "names neither"),
        ({"rules": [_rule(source="report:798-796")]}, "POLICY_SOURCE_MISSING", "names neither"),
        ({"rules": [_rule(source="report:p. 12")]}, "POLICY_SOURCE_MISSING", "names neither"),
        ({"rules": [_rule(source="a blog post")]}, "POLICY_SOURCE_MISSING", "names neither"),
        ({"legal_max_freeze_days": {"DEPOSIT": 365}}, "POLICY_INVALID", "missing EQUITY"),
        (
            {"legal_max_freeze_days": LEGAL | {"DEPOSIT": 400}},
            "POLICY_INVALID",
            "DEPOSIT 400 days is none of",
        ),
        ({"examples": "yes"}, "POLICY_INVALID", "examples must be true or false"),
        ({"extends": "regional.yaml"}, "POLICY_INVALID", "only an examples file"),
        ({"examples": True, "extends": "regional.yaml"}, "POLICY_INVALID", "was not loaded"),
        ({"colour": "red"}, "POLICY_INVALID", "unknown key(s) colour"),
    ],
)
def test_invalid_policy_files(raw: dict[str, object], code: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse({"legal_max_freeze_days": LEGAL} | raw)
    assert info.value.code == code
    assert message in info.value.reason and "p.yaml" in info.value.reason


@pytest.mark.parametrize(
    "source",
    [
        "report:796",
        "report:796-798",
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释第四百八十五条",
    ],
)
def test_a_report_line_or_an_article_is_a_source(source: str) -> None:
    [rule] = _parse({"legal_max_freeze_days": LEGAL, "rules": [_rule(source=source)]}).rules
    assert rule.source == source and not rule.example


def test_an_examples_file_may_leave_out_sources_and_its_rules_are_flagged() -> None:
    raw = {"examples": True, "rules": [{"id": "a", "region": "重庆市", "reason": "示例"}]}
    [rule] = _parse({"legal_max_freeze_days": LEGAL} | raw).rules
    assert rule.example and rule.source == "" and rule.reason == f"{EXAMPLE_MARK} 示例"


def test_an_extending_examples_file_takes_the_law_from_its_base() -> None:
    base = _parse({"legal_max_freeze_days": LEGAL, "rules": [_rule()]})
    raw: dict[str, object] = {"examples": True, "extends": "x.yaml", "rules": [_rule(id="b")]}
    assert [(r.id, r.example) for r in _parse(raw, base).rules] == [("a", False), ("b", True)]
    with pytest.raises(ConfigError, match="legal maxima come from"):
        _parse(raw | {"legal_max_freeze_days": LEGAL}, base)
    with pytest.raises(ConfigError, match="duplicate rule id"):
        _parse(raw | {"rules": [_rule()]}, base)


def test_an_examples_file_cannot_extend_another(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("examples: true\nrules: []\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("examples: true\nextends: a.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_policies(WIDER, tmp_path / "b.yaml")
    assert info.value.code == "POLICY_INVALID" and "examples file or extends" in info.value.reason
