"""Debtor IDs: every document a person or organisation may be named by, and one spelling.

All numbers are fictitious; the 18-character ones carry a valid check digit, computed here
with python-stdnum (ISO 7064 MOD 11-2 for GB 11643, GB 32100's own check for credit codes).
"""

from __future__ import annotations

import logging

import pytest
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidComponent

from courtbus.domain.credit_codes import OrganisationForm, credit_code_category
from courtbus.domain.id_types import IdType
from courtbus.domain.identity import (
    canonical_id,
    canonical_nationality,
    check_debtor_id,
    validate_credit_code,
    validate_debtor_id,
    validate_resident_id,
)
from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.domain.person_ids import (
    upgrade_legacy_resident_id,
    validate_foreign_permanent_resident_id,
    validate_hmt_residence_permit,
    validate_passport,
)
from courtbus.errors import ValidationError


def rid(body: str) -> str:
    """A fictitious 18-character ID: 17 characters plus their GB 11643 check digit."""
    return body + ric.calc_check_digit(body + "0")


def ucc(body: str) -> str:
    """A fictitious credit code: 17 characters plus their GB 32100 check character."""
    return body + uscc.calc_check_digit(body + "0")


PERSON = rid("32058319900312104")
# 昆山市 got code 320583 in 1989 (stdnum's table: [1989-]); people born earlier kept it.
KUNSHAN_1985 = rid("32058319850312003")
HK_PERMIT = rid("81000019900101001")
MO_PERMIT = rid("82000019900101002")
TW_PERMIT = rid("83000019900101003")
NEW_PR = rid("93184019850615001")
OLD_PR = "USA310850615001"  # 2017 format: nationality + 12 digits
LEGACY = "320583850312003"  # 15 digits: 6 address + YYMMDD + 3 sequence


@pytest.mark.parametrize(
    ("number", "id_type"),
    [
        (PERSON, IdType.RESIDENT_ID),  # GB 11643-1999
        (KUNSHAN_1985, IdType.RESIDENT_ID),
        (LEGACY, IdType.LEGACY_RESIDENT_ID),  # before GB 11643-1999: no check digit
        (HK_PERMIT, IdType.HMT_RESIDENCE_PERMIT),  # 国办发〔2018〕81号: 810000
        (MO_PERMIT, IdType.HMT_RESIDENCE_PERMIT),  # 820000
        (TW_PERMIT, IdType.HMT_RESIDENCE_PERMIT),  # 830000
        (NEW_PR, IdType.FOREIGN_PERMANENT_RESIDENT_ID),  # 2023: 9 + 17, GB 11643 check
        (OLD_PR, IdType.FOREIGN_PERMANENT_RESIDENT_ID),  # 2017: 3 letters + 12 digits
    ],
)
def test_every_person_document_passes_as_a_person(number: str, id_type: IdType) -> None:
    assert validate_debtor_id("PERSON", number, strict=True) == number
    assert check_debtor_id("PERSON", number).id_type is id_type


def test_a_county_code_stdnum_does_not_know_at_the_birth_date_is_only_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(InvalidComponent):  # stdnum: 320583 did not exist in 1985
        ric.validate(KUNSHAN_1985)
    with caplog.at_level(logging.WARNING, logger="courtbus.domain.person_ids"):
        check = check_debtor_id("PERSON", KUNSHAN_1985)
    assert check.warnings and "320583" in check.warnings[0]
    assert KUNSHAN_1985 not in " ".join(check.warnings)
    assert KUNSHAN_1985 not in caplog.text
    assert check_debtor_id("PERSON", PERSON).warnings == ()


@pytest.mark.parametrize(
    "number",
    [
        PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1"),  # check digit (GB 11643)
        rid("32058319901312104"),  # 13th month
        rid("32058318991231104"),  # born before 1900
        rid("99058319900312104"),  # 99 is no province (GB/T 2260)
        PERSON[:-1],  # 17 characters
        "32058319850231003",  # 15 digits: 31 Feb
        "990583850312003",  # 15 digits: no such province
        rid("81000019901301001"),  # a permit with a bad birth date
        "US3310850615001",  # not 3 letters + 12 digits
        ucc("91440800MA4UABCD1"),  # a credit code is not a person's ID
    ],
)
def test_bad_person_ids_are_refused(number: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_debtor_id("PERSON", number)
    assert info.value.code == "RESIDENT_ID_INVALID"
    assert number not in str(info.value)


def test_document_specific_validators() -> None:
    assert validate_hmt_residence_permit(HK_PERMIT) == HK_PERMIT
    assert validate_foreign_permanent_resident_id(NEW_PR) == NEW_PR
    assert validate_foreign_permanent_resident_id(OLD_PR) == OLD_PR
    for validate, other in [
        (validate_hmt_residence_permit, PERSON),
        (validate_foreign_permanent_resident_id, HK_PERMIT),
    ]:
        with pytest.raises(ValidationError) as info:
            validate(other)
        assert info.value.code == "RESIDENT_ID_INVALID"


def test_a_legacy_id_upgrades_to_its_18_character_form() -> None:
    # GB 11643-1999: insert the century 19 and add the check digit
    assert upgrade_legacy_resident_id(LEGACY) == KUNSHAN_1985
    assert check_debtor_id("PERSON", LEGACY).warnings  # no check digit, and the county


@pytest.mark.parametrize(
    ("number", "nationality", "ok"),
    [
        ("E12345678", "CHN", True),  # ICAO Doc 9303; ISO 3166-1 alpha-3
        ("123456789", "USA", True),
        ("E12345678", "CN", False),  # alpha-2, not alpha-3
        ("E12345678", "chn", False),  # not canonical
        ("E1234", "DEU", True),
        ("E123", "DEU", False),  # too short
        ("E1234-678", "DEU", False),
    ],
)
def test_passports(number: str, nationality: str, ok: bool) -> None:
    if ok:
        assert validate_passport(number, nationality) == (number, nationality)
    else:
        with pytest.raises(ValidationError) as info:
            validate_passport(number, nationality)
        assert info.value.code == "PASSPORT_INVALID"
        assert number not in str(info.value) or len(number) < 5


BAD_CHECK_DIGIT = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")


@pytest.mark.parametrize(
    ("kind", "number", "nationality", "strict", "expected"),
    [
        ("PERSON", "E12345678", "USA", True, "E12345678"),
        ("PERSON", "123456789", "CHN", True, "123456789"),
        ("PERSON", PERSON, "DEU", True, PERSON),  # a passport is never read as a resident ID
        ("PERSON", "e1234-5678", " usa", False, "E12345678"),  # lenient: canonicalised
    ],
)
def test_a_passport_with_its_nationality_is_accepted(
    kind: str, number: str, nationality: str, strict: bool, expected: str
) -> None:
    check = check_debtor_id(
        kind, number, strict=strict, id_type="PASSPORT", nationality=nationality
    )
    assert (check.value, check.id_type) == (expected, IdType.PASSPORT)
    assert check.nationality == canonical_nationality(nationality)
    assert (
        validate_debtor_id(
            kind, number, strict=strict, id_type=IdType.PASSPORT, nationality=nationality
        )
        == expected
    )


@pytest.mark.parametrize(
    ("kind", "number", "id_type", "nationality", "code"),
    [
        ("PERSON", "E12345678", "PASSPORT", None, "PASSPORT_INVALID"),  # no issuing state
        ("PERSON", "E12345678", "PASSPORT", "", "PASSPORT_INVALID"),
        ("PERSON", "E12345678", "PASSPORT", "US", "PASSPORT_INVALID"),  # alpha-2
        ("PERSON", "E12345678", "PASSPORT", "U5A", "PASSPORT_INVALID"),
        ("PERSON", "E12345678", "PASSPORT", "美国", "PASSPORT_INVALID"),
        ("PERSON", "E123", "PASSPORT", "USA", "PASSPORT_INVALID"),  # too short
        ("PERSON", "E1234567890123456789X", "PASSPORT", "USA", "PASSPORT_INVALID"),  # 21
        ("PERSON", "E12345678", None, None, "RESIDENT_ID_INVALID"),  # not told: not guessed
        ("PERSON", "e12345678", "PASSPORT", "USA", "ID_NOT_CANONICAL"),  # strict
        ("PERSON", "E12345678", "PASSPORT", "usa", "ID_NOT_CANONICAL"),
        ("ORGANISATION", "E12345678", "PASSPORT", "USA", "ID_TYPE_MISMATCH"),
        ("PERSON", PERSON, None, "USA", "ID_TYPE_MISMATCH"),  # nationality without passport
        ("PERSON", OLD_PR, "FOREIGN_PERMANENT_RESIDENT_ID", "USA", "ID_TYPE_MISMATCH"),
        ("PERSON", PERSON, "HMT_RESIDENCE_PERMIT", None, "ID_TYPE_MISMATCH"),
        ("PERSON", HK_PERMIT, "RESIDENT_ID", None, "ID_TYPE_MISMATCH"),
        ("PERSON", LEGACY, "RESIDENT_ID", None, "ID_TYPE_MISMATCH"),
        ("PERSON", NEW_PR, "RESIDENT_ID", None, "ID_TYPE_MISMATCH"),
        ("PERSON", PERSON, "CREDIT_CODE", None, "ID_TYPE_MISMATCH"),
        ("ORGANISATION", ucc("91440800MA4UABCD1"), "RESIDENT_ID", None, "ID_TYPE_MISMATCH"),
        ("PERSON", PERSON, "DRIVING_LICENCE", None, "ID_TYPE_MISMATCH"),
        ("PERSON", BAD_CHECK_DIGIT, "RESIDENT_ID", None, "RESIDENT_ID_INVALID"),
    ],
)
def test_passports_and_declared_types_are_refused(
    kind: str, number: str, id_type: str | None, nationality: str | None, code: str
) -> None:
    with pytest.raises(ValidationError) as info:
        validate_debtor_id(kind, number, strict=True, id_type=id_type, nationality=nationality)
    assert info.value.code == code, info.value
    assert number not in str(info.value) or len(number) < 5


@pytest.mark.parametrize(
    ("kind", "number", "id_type"),
    [
        ("PERSON", PERSON, IdType.RESIDENT_ID),
        ("PERSON", LEGACY, IdType.LEGACY_RESIDENT_ID),
        ("PERSON", HK_PERMIT, IdType.HMT_RESIDENCE_PERMIT),
        ("PERSON", NEW_PR, IdType.FOREIGN_PERMANENT_RESIDENT_ID),
        ("PERSON", OLD_PR, IdType.FOREIGN_PERMANENT_RESIDENT_ID),
        ("ORGANISATION", ucc("91440800MA4UABCD1"), IdType.CREDIT_CODE),
    ],
)
def test_a_declared_type_that_matches_the_number_is_accepted(
    kind: str, number: str, id_type: IdType
) -> None:
    assert validate_debtor_id(kind, number, strict=True, id_type=id_type) == number
    assert check_debtor_id(kind, number, id_type=id_type.value).nationality is None


def test_a_passport_number_is_masked_in_errors() -> None:
    assert mask_id("E12345678") == "*******78"
    assert "E12345678" not in mask_id("E12345678")
    with pytest.raises(ValidationError) as info:
        validate_debtor_id(
            "PERSON", "e12345678", strict=True, id_type="PASSPORT", nationality="USA"
        )
    assert "*******78" in str(info.value) and "12345678" not in str(info.value)
    with pytest.raises(ValidationError) as info:
        validate_debtor_id("PERSON", "E12345678", id_type="RESIDENT_ID")
    assert "12345678" not in str(info.value)


@pytest.mark.parametrize(
    ("body", "department", "category", "form"),
    [  # GB 32100-2015 附录 A: 1st character department, 2nd category
        ("91440800MA4UABCD1", "工商", "企业", OrganisationForm.ENTERPRISE),
        ("92440800MA4UABCD1", "工商", "个体工商户", OrganisationForm.INDIVIDUAL_BUSINESS),
        ("93440800MA4UABCD1", "工商", "农民专业合作社", OrganisationForm.FARMERS_COOPERATIVE),
        ("51440800MA4UABCD1", "民政", "社会团体", OrganisationForm.OTHER_ORGANISATION),
        ("52440800MA4UABCD1", "民政", "民办非企业单位", OrganisationForm.OTHER_ORGANISATION),
        ("53440800MA4UABCD1", "民政", "基金会", OrganisationForm.OTHER_ORGANISATION),
        ("11440800MA4UABCD1", "机构编制", "机关", OrganisationForm.OTHER_ORGANISATION),
        ("12440800MA4UABCD1", "机构编制", "事业单位", OrganisationForm.OTHER_ORGANISATION),
        ("31440800MA4UABCD1", "司法行政", "律师执业机构", OrganisationForm.OTHER_ORGANISATION),
        ("N2440800MA4UABCD1", "农业", "村级集体经济组织", OrganisationForm.OTHER_ORGANISATION),
    ],
)
def test_credit_code_categories(
    body: str, department: str, category: str, form: OrganisationForm
) -> None:
    code = ucc(body)
    assert validate_debtor_id("ORGANISATION", code, strict=True) == code
    found = credit_code_category(code)
    assert (found.department, found.category, found.form) == (department, category, form)


def test_a_letter_department_stdnum_refuses_is_only_a_warning() -> None:
    code = ucc("N2440800MA4UABCD1")  # stdnum wants 8 leading digits
    assert check_debtor_id("ORGANISATION", code).warnings


@pytest.mark.parametrize(
    "code",
    [
        ucc("94440800MA4UABCD1"),  # 工商 has no category 4
        ucc("01440800MA4UABCD1"),  # no department 0
        "91440800MA4UABCI10",  # I is not in the GB 32100 alphabet
        ucc("9144080AMA4UABCD1"),  # the division code is digits
        ucc("91440800MA4UABCD1")[:-1] + ("0" if ucc("91440800MA4UABCD1")[-1] != "0" else "1"),
    ],
)
def test_bad_credit_codes_are_refused(code: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_credit_code(code)
    assert info.value.code == "CREDIT_CODE_INVALID"


X_ID = rid("32058319930312104")


@pytest.mark.parametrize(
    ("kind", "written", "canonical"),
    [
        ("PERSON", PERSON, PERSON),
        ("PERSON", f" {PERSON[:6]} {PERSON[6:14]} {PERSON[14:]} ", PERSON),  # spaces
        ("PERSON", f"{PERSON[:6]}-{PERSON[6:14]}-{PERSON[14:]}", PERSON),  # hyphens
        ("PERSON", "".join(chr(ord(c) + 0xFEE0) for c in PERSON), PERSON),  # full-width
        ("PERSON", "usa310850615001", OLD_PR),  # lower case
        ("ORGANISATION", ucc("91440800MA4UABCD1").lower(), ucc("91440800MA4UABCD1")),
    ],
)
def test_canonical_id_and_the_strict_check(kind: str, written: str, canonical: str) -> None:
    assert canonical_id(kind, written) == canonical
    assert validate_debtor_id(kind, written) == canonical  # lenient: canonicalised
    if written != canonical:
        with pytest.raises(ValidationError) as info:
            validate_debtor_id(kind, written, strict=True)
        assert info.value.code == "ID_NOT_CANONICAL"
        assert canonical not in str(info.value)


def test_a_lower_case_x_is_not_canonical() -> None:
    assert X_ID.endswith("X"), "pick a body whose check digit is X"
    assert canonical_id("PERSON", X_ID.lower()) == X_ID
    with pytest.raises(ValidationError) as info:
        validate_resident_id(X_ID.lower(), strict=True)
    assert info.value.code == "ID_NOT_CANONICAL"


def test_an_invalid_id_is_refused_for_what_it_is_not_for_its_spelling() -> None:
    bad = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
    with pytest.raises(ValidationError) as info:
        validate_debtor_id("PERSON", f" {bad} ", strict=True)
    assert info.value.code == "RESIDENT_ID_INVALID"


def test_canonical_id_checks_the_kind() -> None:
    with pytest.raises(ValidationError) as info:
        canonical_id("ROBOT", PERSON)
    assert info.value.code == "DEBTOR_KIND_INVALID"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"id {PERSON}.", f"id {PERSON[:6]}********{PERSON[14:]}."),
        (f"id {LEGACY}.", "id 320583******003."),  # 15-digit legacy ID
        (f"id {OLD_PR}.", "id USA31******5001."),  # 2017 permanent-residence ID
        ("acct 6222021949123100212", "acct 6222021949123100212"),  # longer runs untouched
    ],
)
def test_every_id_shape_is_masked_in_text(text: str, masked: str) -> None:
    assert mask_ids_in_text(text) == masked
