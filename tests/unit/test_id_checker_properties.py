"""No ID or case-number checker raises anything but the bus's own error, whatever the text.

Every character class is drawn (all Unicode categories, surrogates excluded since a Python
``str`` from the wire cannot hold them), alone and in strings of the lengths and alphabets the
checkers look for (18 and 15 characters, GB 32100's alphabet with the letters it leaves out,
lower case, full-width digits), so a checker handing a character to a library that raises its
own ``ValueError`` (python-stdnum's ``calc_check_digit`` on an ``I``) is caught.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from courtbus.catalogue.directory import load_directory
from courtbus.domain import suits
from courtbus.domain.case_numbers import CaseNumber, normalize_case_number
from courtbus.domain.courts import (
    court_id_from_designation,
    designation_from_court_id,
    validate_court_id,
)
from courtbus.domain.credit_codes import check_credit_code, credit_code_category
from courtbus.domain.id_types import IdType
from courtbus.domain.identity import (
    canonical_id,
    canonical_nationality,
    validate_credit_code,
    validate_debtor_id,
    validate_resident_id,
)
from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.domain.person_ids import (
    check_person_id,
    validate_foreign_permanent_resident_id,
    validate_hmt_residence_permit,
    validate_passport,
)
from courtbus.errors import CourtbusError, ValidationError
from courtbus.sdk.delegation import DebtorIn, check_request

ANY_CHAR = st.characters(blacklist_categories=("Cs",))
NEAR = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz０１９Ｘ -()（）执苏号民初终\u200e\x00"
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=24),
    st.text(st.sampled_from(NEAR), min_size=18, max_size=18),
    st.text(st.sampled_from(NEAR), min_size=15, max_size=15),
    st.text(st.sampled_from(NEAR), max_size=24),
    st.builds(
        lambda a, b: "91" + a + b,
        st.text(st.sampled_from("0123456789"), min_size=6, max_size=6),
        st.text(st.sampled_from(NEAR), min_size=10, max_size=10),
    ),
    st.builds(
        lambda a, b: a + "110000100000000" + b,
        st.text(st.sampled_from(NEAR), min_size=2, max_size=2),
        st.text(st.sampled_from(NEAR), min_size=1, max_size=1),
    ),
)
NATIONALITY = st.one_of(st.none(), st.sampled_from(["USA", "usa", "GBR", "XXX", ""]), TEXT)

CHECKERS: dict[str, Callable[[str, Any], object]] = {
    "check_person_id": lambda t, _n: check_person_id(t),
    "validate_resident_id": lambda t, _n: validate_resident_id(t, strict=True),
    "validate_hmt_residence_permit": lambda t, _n: validate_hmt_residence_permit(t),
    "validate_foreign_permanent_resident_id": lambda t, _n: validate_foreign_permanent_resident_id(
        t
    ),
    "validate_passport": lambda t, n: validate_passport(t, n or ""),
    "check_credit_code": lambda t, _n: check_credit_code(t),
    "validate_credit_code": lambda t, _n: validate_credit_code(t, strict=True),
    "credit_code_category": lambda t, _n: credit_code_category(t),
    "canonical_nationality": lambda t, _n: canonical_nationality(t),
    "validate_court_id": lambda t, _n: validate_court_id(t),
    "court_id_from_designation": lambda t, _n: court_id_from_designation(t),
    "designation_from_court_id": lambda t, _n: designation_from_court_id(t),
    "CaseNumber.parse": lambda t, _n: CaseNumber.parse(t),
    "normalize_case_number": lambda t, _n: normalize_case_number(t),
    "mask_id": lambda t, _n: mask_id(t),
    "mask_ids_in_text": lambda t, _n: mask_ids_in_text(t),
    "parse_suit_number": lambda t, _n: suits.parse_suit_number(t),
    "check_enforced_suit": lambda t, _n: suits.check_enforced_suit({"enforced_suit": t}),
}
for _kind in ("PERSON", "ORGANISATION"):
    CHECKERS[f"canonical_id {_kind}"] = lambda t, _n, k=_kind: canonical_id(k, t)
    for _type in (None, *IdType):
        CHECKERS[f"validate_debtor_id {_kind} {_type}"] = lambda t, n, k=_kind, it=_type: (
            validate_debtor_id(k, t, strict=True, id_type=it, nationality=n)
        )


@pytest.mark.parametrize("name", sorted(CHECKERS))
@settings(max_examples=60, deadline=None)
@given(text=TEXT, nationality=NATIONALITY)
def test_a_checker_raises_only_the_bus_error(name: str, text: str, nationality: str | None) -> None:
    try:
        CHECKERS[name](text, nationality)
    except CourtbusError as exc:
        assert exc.code and exc.code.isupper()  # a stable code, never a bare library error


@pytest.mark.parametrize(
    "code",
    [
        "9I110000100000000R",
        "I9110000100000000R",
        "91110000I0000000OR",
        "9O110000100000000R",
        "9S110000100000000R",
    ],
)
def test_a_credit_code_with_a_letter_gb_32100_leaves_out_is_credit_code_invalid(code: str) -> None:
    with pytest.raises(CourtbusError) as raised:
        validate_debtor_id("ORGANISATION", code)
    assert raised.value.code == "CREDIT_CODE_INVALID"


ISSUE_21_USCC = "9I110000100000000R"  # issue 21 item 4, exactly


@pytest.mark.parametrize("strict", [False, True])
def test_the_sdks_organisation_id_check_raises_the_bus_validation_error(strict: bool) -> None:
    """What the SDK calls on an ORGANISATION id (canonical spelling, then validate_debtor_id,
    as ``DebtorIn`` does) raises the bus's ValidationError, never stdnum's."""
    with pytest.raises(ValidationError) as raised:
        validate_debtor_id(
            "ORGANISATION", canonical_id("ORGANISATION", ISSUE_21_USCC), strict=strict
        )
    assert raised.value.code == "CREDIT_CODE_INVALID"
    assert ISSUE_21_USCC not in str(raised.value)  # masked


def test_the_sdk_refuses_a_request_naming_the_credit_code_before_sending() -> None:
    debtor = {"kind": "ORGANISATION", "name": "某公司", "id_number": ISSUE_21_USCC}
    with pytest.raises(ValidationError) as raised:
        DebtorIn(**debtor)
    assert raised.value.code == "CREDIT_CODE_INVALID"
    request = {
        "case_number": "(2024)苏05执1号",
        "executing_court": "6104",
        "matter": "FREEZE",
        "debtor": debtor,
        "asset_kind": "DEPOSIT",
        "amount": "1.00",
        "freeze_period_days": 30,
    }
    with pytest.raises(ValidationError) as checked:
        check_request(request, court_id="3205", directory=load_directory())
    assert checked.value.code == "CREDIT_CODE_INVALID"
