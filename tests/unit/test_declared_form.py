"""A declared legal form the debtor's name or credit code contradicts (issue 21 item 3)."""

from __future__ import annotations

import pytest

from courtbus.domain.distribution_plan import (
    DebtorForm,
    Party,
    check_declared_form,
    is_company_name,
)
from courtbus.errors import ValidationError

FIRM = "91440800MA4UABCD1B"  # 91: an enterprise
CODES = {"52": "52440800MA4UABCD1C"}


def _party(name: str, code: str = FIRM) -> Party:
    return Party.of("ORGANISATION", name, code)


@pytest.mark.parametrize(
    ("name", "company"),
    [
        ("湛江某贸易有限公司", True),
        ("湛江某贸易有限责任公司", True),
        ("某某股份有限公司", True),
        ("某某有限公司湛江分公司", False),  # 公司法 第十三条第二款: no legal person
        ("重庆某餐饮管理合伙企业（普通合伙）", False),
        ("某某投资中心（有限合伙）", False),
        ("某某厂", False),
    ],
)
def test_a_company_is_told_by_its_name(name: str, company: bool) -> None:
    assert is_company_name(name) is company


def test_a_company_declared_an_other_organisation_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValidationError) as err:
        check_declared_form(_party("湛江某贸易有限公司"), DebtorForm.OTHER_ORGANISATION)
    assert err.value.code == "DISTRIBUTION_DEBTOR_FORM_CONTRADICTED"
    for part in (
        "公司法 (2023 修订) 第二条、第三条",
        "ENTERPRISE_LEGAL_PERSON",
        "执转破",
        "第五百一十一条",
        "第五百一十四条",
    ):
        assert part in err.value.reason
    check_declared_form(_party("湛江某贸易有限公司"), DebtorForm.ENTERPRISE_LEGAL_PERSON)
    check_declared_form(_party("某某有限公司湛江分公司"), DebtorForm.OTHER_ORGANISATION)
    check_declared_form(_party("重庆某餐饮管理合伙企业（普通合伙）"), DebtorForm.OTHER_ORGANISATION)


def test_an_enterprise_legal_person_needs_an_enterprise_credit_code() -> None:
    with pytest.raises(ValidationError) as err:
        check_declared_form(
            _party("湛江某培训中心", CODES["52"]), DebtorForm.ENTERPRISE_LEGAL_PERSON
        )
    assert err.value.code == "DISTRIBUTION_DEBTOR_FORM_CONTRADICTED"
    assert "GB 32100-2015" in err.value.reason and "OTHER_ORGANISATION" in err.value.reason
    assert CODES["52"] not in err.value.reason  # the code itself is never quoted
    check_declared_form(_party("湛江某培训中心", CODES["52"]), DebtorForm.OTHER_ORGANISATION)


def test_a_person_is_not_checked_here() -> None:
    check_declared_form(Party.of("PERSON", "王某", "320583199303121234"), DebtorForm.CITIZEN)
