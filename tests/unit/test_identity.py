"""Case numbers, court ids, debtor IDs and masking: every bad input has its error code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from courtbus.domain.case_numbers import CASE_TYPE_CODES, CaseNumber
from courtbus.domain.courts import (
    court_id_from_designation,
    designation_from_court_id,
    validate_court_id,
)
from courtbus.domain.identity import validate_credit_code, validate_debtor_id, validate_resident_id
from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.domain.regions import PROVINCES
from courtbus.errors import ValidationError

PERSON = "11010519491231002X"
FIRM = "91440800MA4UABCD1B"


def test_parses_a_basic_court_case_number() -> None:
    case = CaseNumber.parse("(2023)苏0583执1234号")
    assert (case.year, case.court_id, case.type_code, case.sequence) == (2023, "320583", "执", 1234)
    assert case.designation == "苏0583"


@pytest.mark.parametrize(
    "text",
    [
        "(2023)苏0583执1234号",
        "(2024)沪74执恢12号",
        "(2019)渝执保3号",
        "(2020)陕01执异88号",
        "(2021)兵0101执1号",
    ],
)
def test_case_numbers_round_trip(text: str) -> None:
    assert str(CaseNumber.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("（2023）苏0583执1234号", "CASE_NUMBER_BRACKETS"),
        ("(2023）苏0583执1234号", "CASE_NUMBER_BRACKETS"),
        ("〔2023〕苏0583执1234号", "CASE_NUMBER_BRACKETS"),
        ("(2023)苏0583民初1234号", "CASE_NUMBER_TYPE_CODE"),
        ("(2023)苏0583刑1234号", "CASE_NUMBER_TYPE_CODE"),
        ("(2023)X0583执1234号", "COURT_DESIGNATION_INVALID"),
        ("(2023)苏058执1234号", "COURT_DESIGNATION_INVALID"),
        ("(2023)港01执1号", "COURT_DESIGNATION_INVALID"),
        ("(1980)苏0583执1号", "CASE_NUMBER_YEAR"),
        ("(2023)苏0583执0123号", "CASE_NUMBER_FORMAT"),
        ("(2023)苏0583执1234", "CASE_NUMBER_FORMAT"),
        ("2023苏0583执1234号", "CASE_NUMBER_FORMAT"),
        ("(2023)苏0583执号", "CASE_NUMBER_FORMAT"),
        ("", "CASE_NUMBER_FORMAT"),
        (" (2023)苏0583执1234号", "CASE_NUMBER_NOT_CANONICAL"),
    ],
)
def test_bad_case_numbers_are_rejected_with_their_code(text: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        CaseNumber.parse(text)
    assert info.value.code == code
    assert info.value.reason  # a readable reason, not just a code


@given(
    year=st.integers(1990, 2099),
    province=st.sampled_from(PROVINCES),
    digits=st.sampled_from(["", "01", "05", "74", "0583", "0101"]),
    type_code=st.sampled_from(CASE_TYPE_CODES),
    seq=st.integers(1, 999_999),
)
def test_any_well_formed_case_number_round_trips(
    year: int, province, digits: str, type_code: str, seq: int
) -> None:  # type: ignore[no-untyped-def]
    text = f"({year}){province.abbr}{digits}{type_code}{seq}号"
    parsed = CaseNumber.parse(text)
    assert str(parsed) == text
    assert parsed.court_id == province.code + digits


@pytest.mark.parametrize(
    ("designation", "court_id"),
    [
        ("苏0583", "320583"),
        ("苏05", "3205"),
        ("苏", "32"),
        ("沪74", "3174"),
        ("渝", "50"),
        ("粤17", "4417"),
    ],
)
def test_court_id_and_designation_map_both_ways(designation: str, court_id: str) -> None:
    assert court_id_from_designation(designation) == court_id
    assert designation_from_court_id(court_id) == designation


@pytest.mark.parametrize(
    "court_id", ["3", "320", "32058", "3205830", "990583", "32O583", "３２", "", "32-05"]
)
def test_malformed_court_ids_are_rejected(court_id: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_court_id(court_id)
    assert info.value.code == "COURT_ID_MALFORMED"


def test_valid_ids_pass_and_come_back_compact() -> None:
    assert validate_resident_id(PERSON) == PERSON
    assert validate_credit_code(FIRM) == FIRM
    assert validate_debtor_id("PERSON", PERSON) == PERSON
    assert validate_debtor_id("ORGANISATION", FIRM) == FIRM


@pytest.mark.parametrize(
    ("kind", "number", "code"),
    [
        ("PERSON", "110105194912310021", "RESIDENT_ID_INVALID"),  # checksum
        ("PERSON", "11010519491331002X", "RESIDENT_ID_INVALID"),  # 13th month
        ("PERSON", "11010519491231002", "RESIDENT_ID_INVALID"),  # 17 digits
        ("PERSON", "990105194912310020", "RESIDENT_ID_INVALID"),  # no such region
        ("PERSON", FIRM, "RESIDENT_ID_INVALID"),
        ("ORGANISATION", "91440800MA4UABCD1C", "CREDIT_CODE_INVALID"),  # checksum
        ("ORGANISATION", "91440800MA4UABCD1", "CREDIT_CODE_INVALID"),  # length
        ("ORGANISATION", PERSON, "CREDIT_CODE_INVALID"),
        ("ROBOT", PERSON, "DEBTOR_KIND_INVALID"),
    ],
)
def test_bad_debtor_ids_are_rejected(kind: str, number: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_debtor_id(kind, number)
    assert info.value.code == code


def test_a_rejected_resident_id_never_appears_in_full_in_the_error() -> None:
    bad = "110105194912310021"
    with pytest.raises(ValidationError) as info:
        validate_resident_id(bad)
    assert bad not in str(info.value)
    assert "110105********0021" in str(info.value)


def test_masking() -> None:
    assert mask_id(PERSON) == "110105********002X"
    assert mask_ids_in_text(f"debtor {PERSON} and {PERSON.lower()}.") == (
        "debtor 110105********002X and 110105********002x."
    )
    # longer digit runs (e.g. account numbers) are not mangled as IDs
    assert mask_ids_in_text("acct 62220219491231002123") == "acct 62220219491231002123"


def test_credit_codes_are_masked_in_text_as_mask_id_masks_them() -> None:
    code = "91440800MA4UABCD1B"
    assert mask_ids_in_text(f"debtor=湛江某公司 {code},") == f"debtor=湛江某公司 {mask_id(code)},"
    assert mask_id(code) == "914408********CD1B"
    # ids of the bus's own (entry, event, control ids) keep their shape
    for text in ("bl-newbie-1", "6f1c2a9e-0b1d-4c3e-9f00-1234567890ab", "ENTRY123456789012345"):
        assert mask_ids_in_text(text) == text


def test_a_resident_id_sent_as_a_credit_code_is_masked_in_the_error() -> None:
    spaced = "110105 19491231002X"  # a person's ID, mis-declared as an organisation's code
    with pytest.raises(ValidationError) as info:
        validate_debtor_id("ORGANISATION", spaced)
    assert info.value.code == "CREDIT_CODE_INVALID"
    assert "19491231" not in str(info.value)
