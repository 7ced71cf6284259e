"""The enforced suit's number (``enforced_suit``): 民初 / 民终 only, canonical, one refusal code."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from courtbus.domain.suits import SuitNumber, check_enforced_suit, parse_suit_number
from courtbus.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("(2023)苏0583民初12号", (2023, "320583", "民初", 12)),
        ("(2023)粤08民初12号", (2023, "4408", "民初", 12)),
        ("(2024)最高法民终1号", (2024, "00", "民终", 1)),
        ("(2023)京73民初999999号", (2023, "1173", "民初", 999999)),
    ],
)
def test_a_suit_number_parses_and_prints_back(text: str, parts: tuple[object, ...]) -> None:
    parsed = parse_suit_number(text)
    assert (parsed.year, parsed.court_id, parsed.type_code, parsed.sequence) == parts
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "(2023)苏0583执12号",  # an enforcement number: the wire's CaseNumber
        "(2023)苏0583刑初12号",  # not a civil suit
        "(2023)苏0583民申12号",  # not first instance or appeal
        "(2019)最高法知民终1号",  # 专门审判代字: not carried (SPECIALISED_TRIAL_CODE_DOC)
        "（2023）苏0583民初12号",  # full-width: the SDK normalises, the wire does not
        "(2023)苏0583民初012号",
        "(1989)苏0583民初12号",
        "(2023)苏0583民初1234567号",
        "(2023)XX民初1号",
        "",
    ],
)
def test_anything_else_is_suit_number_invalid(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_suit_number(text)
    assert info.value.code == "SUIT_NUMBER_INVALID"


def test_an_absent_suit_passes_and_a_bad_one_is_refused() -> None:
    check_enforced_suit({})
    check_enforced_suit({"enforced_suit": None})
    with pytest.raises(ValidationError, match="SUIT_NUMBER_INVALID"):
        check_enforced_suit({"enforced_suit": 12})


DESIGNATIONS = st.sampled_from(["苏0583", "粤08", "陕01", "最高法", "京73", "沪"])


@settings(max_examples=200, deadline=None)
@given(
    year=st.integers(1990, 2099),
    designation=DESIGNATIONS,
    code=st.sampled_from(["民初", "民终"]),
    seq=st.integers(1, 999_999),
)
def test_every_well_formed_suit_number_round_trips(
    year: int, designation: str, code: str, seq: int
) -> None:
    text = f"({year}){designation}{code}{seq}号"
    parsed = parse_suit_number(text)
    assert isinstance(parsed, SuitNumber) and str(parsed) == text


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_text_gives_a_suit_number_or_suit_number_invalid(text: str) -> None:
    try:
        assert str(parse_suit_number(text)) == text
    except ValidationError as exc:
        assert exc.code == "SUIT_NUMBER_INVALID"
