"""Case numbers of every court kind and every enforcement type code, and their one spelling.

Source of the rules: 最高人民法院《关于人民法院案件案号的若干规定》(法〔2015〕137号) and its
annex 《人民法院案件类型及其代字标准》 (2018 revision), 执行类案件; court designations
(法院代字) as the same rules give them: 最高法, a province abbreviation, + 2 digits for an
intermediate or special court (71 railway transport, 72 maritime, 73 IP, 74 financial), + 4
digits for a basic court; 军 for military courts, 兵 for the XPCC courts.
"""

from __future__ import annotations

import pytest

from courtbus.domain.case_numbers import CASE_TYPE_CODES, CaseNumber, normalize_case_number
from courtbus.domain.case_types import (
    BY_TYPE_CODE,
    ENFORCEMENT_CASE_TYPES,
    NOT_CASE_TYPES,
    SPECIAL_COURT_NUMBERS,
)
from courtbus.domain.courts import (
    court_id_from_designation,
    designation_from_court_id,
    validate_court_id,
)
from courtbus.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "court_id", "type_code"),
    [
        ("(2024)最高法执监12号", "00", "执监"),  # 法〔2015〕137号: the SPC is 最高法
        ("(2024)最高法执复3号", "00", "执复"),
        ("(2024)沪72执1号", "3172", "执"),  # 上海海事法院: maritime courts are 72
        ("(2024)辽71执恢5号", "2171", "执恢"),  # railway transport courts are 71
        ("(2024)京73执9号", "1173", "执"),  # intellectual-property courts are 73
        ("(2024)沪74执保2号", "3174", "执保"),  # financial courts are 74
        ("(2024)军执3号", "90", "执"),  # military courts: 军
        ("(2024)军01执异3号", "9001", "执异"),
        ("(2024)兵执协1号", "66", "执协"),  # XPCC courts: 兵
        ("(2024)兵0101执请4号", "660101", "执请"),
        ("(2024)苏0583执他7号", "320583", "执他"),
    ],
)
def test_courts_without_a_province_and_special_courts(
    text: str, court_id: str, type_code: str
) -> None:
    parsed = CaseNumber.parse(text)
    assert (parsed.court_id, parsed.type_code) == (court_id, type_code)
    assert str(parsed) == text
    assert designation_from_court_id(court_id) == parsed.designation
    assert court_id_from_designation(parsed.designation) == court_id


@pytest.mark.parametrize("case_type", ENFORCEMENT_CASE_TYPES, ids=lambda t: t.code)
def test_every_enforcement_type_code_of_the_standard_parses(case_type) -> None:  # type: ignore[no-untyped-def]
    # 《人民法院案件类型及其代字标准》 (2018), 执行类案件
    parsed = CaseNumber.parse(f"(2024)苏0583{case_type.code}1号")
    assert parsed.type_code == case_type.code
    assert BY_TYPE_CODE[case_type.code].name.endswith("案件")


def test_the_type_codes_are_the_table_longest_first() -> None:
    assert set(CASE_TYPE_CODES) == {t.code for t in ENFORCEMENT_CASE_TYPES}
    assert CASE_TYPE_CODES[-1] == "执"


def test_the_special_court_numbers_are_those_of_the_2018_amendment() -> None:
    # 法〔2018〕335号: 71 铁路, 72 海事, 73 知识产权, 74 油田, 75-80 林业, 81-85 农垦,
    # 87-95 跨行政区划, 96-99 (issue 21, citations 7)
    assert set(SPECIAL_COURT_NUMBERS) == {str(n) for n in (*range(71, 86), *range(87, 100))}
    assert SPECIAL_COURT_NUMBERS["74"].startswith("油田") and "86" not in SPECIAL_COURT_NUMBERS
    assert SPECIAL_COURT_NUMBERS["80"].startswith("林业")
    assert SPECIAL_COURT_NUMBERS["81"].startswith("农垦")


def test_a_specialised_trial_code_is_not_carried_yet() -> None:
    with pytest.raises(ValidationError) as info:
        CaseNumber.parse("(2024)京73知执1号")
    assert info.value.code == "CASE_NUMBER_TYPE_CODE"


@pytest.mark.parametrize("code", sorted(NOT_CASE_TYPES))
def test_codes_outside_the_standard_are_refused(code: str) -> None:
    with pytest.raises(ValidationError) as info:
        CaseNumber.parse(f"(2024)苏0583{code}1号")
    assert info.value.code == "CASE_NUMBER_TYPE_CODE"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("(2024)最高法01执1号", "COURT_DESIGNATION_INVALID"),  # the SPC has no digits
        ("(2024)最高执1号", "COURT_DESIGNATION_INVALID"),
        ("(2024)军5执1号", "COURT_DESIGNATION_INVALID"),
        ("(2024)最高法民终1号", "CASE_NUMBER_TYPE_CODE"),  # not an enforcement case
    ],
)
def test_bad_designations_of_national_courts(text: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        CaseNumber.parse(text)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("court_id", "ok"),
    [("00", True), ("90", True), ("9001", True), ("900101", True), ("0001", False)],
)
def test_court_ids_of_national_courts(court_id: str, ok: bool) -> None:
    if ok:
        assert validate_court_id(court_id) == court_id
    else:
        with pytest.raises(ValidationError):
            validate_court_id(court_id)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("（2024）沪72执1号", "(2024)沪72执1号"),  # full-width brackets
        ("〔2024〕沪72执1号", "(2024)沪72执1号"),
        ("【2024】最高法执监12号", "(2024)最高法执监12号"),
        ("  (2024)苏0583执1234号 ", "(2024)苏0583执1234号"),  # surrounding spaces
        ("(２０２４)苏０５８３执１２３４号", "(2024)苏0583执1234号"),  # full-width digits
        ("（2024） 苏0583 执 1234 号", "(2024)苏0583执1234号"),
        ("(2024)苏0583执1234号", "(2024)苏0583执1234号"),  # already canonical
    ],
)
def test_normalize_case_number_gives_the_one_spelling(written: str, canonical: str) -> None:
    assert normalize_case_number(written) == canonical
    assert str(CaseNumber.parse(normalize_case_number(written))) == canonical


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (" (2024)苏0583执1234号", "CASE_NUMBER_NOT_CANONICAL"),
        ("(2024)苏0583执1234号\n", "CASE_NUMBER_NOT_CANONICAL"),
        ("(２０２４)苏0583执1234号", "CASE_NUMBER_NOT_CANONICAL"),
        ("（2024）苏0583执1234号", "CASE_NUMBER_BRACKETS"),  # its own, older code
        (" (2024)苏0583民初1号", "CASE_NUMBER_TYPE_CODE"),  # the real fault comes first
    ],
)
def test_the_gateway_parse_refuses_other_spellings(text: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        CaseNumber.parse(text)
    assert info.value.code == code
