"""The suit an enforcement enforces (``enforced_suit``): a 民初 or 民终 case number. Pure.

Imports only ``courtbus.domain.courts`` (court designations), ``case_numbers`` (the years),
``case_types`` and the error tree. A delegation or a listing may name the civil judgment's case (the 执行依据's suit) beside
its own enforcement number; the wire's ``CaseNumber`` holds enforcement numbers only.
The type codes are UNVERIFIED (``case_types.SUIT_CASE_TYPES``); a number with a 专门审判代字
(e.g. 知) is refused, as the bus's enforcement numbers are (``SPECIALISED_TRIAL_CODE_DOC``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from courtbus.domain.case_numbers import MAX_CASE_YEAR, MIN_CASE_YEAR
from courtbus.domain.case_types import SUIT_CASE_TYPES
from courtbus.domain.courts import court_id_from_designation, designation_from_court_id
from courtbus.errors import ValidationError

SUIT_TYPE_CODES: tuple[str, ...] = tuple(t.code for t in SUIT_CASE_TYPES)
_SUIT_NUMBER = re.compile(
    r"^\((?P<year>\d{4})\)(?P<designation>\D+?\d*)(?P<type>"
    + "|".join(SUIT_TYPE_CODES)
    + r")(?P<seq>[1-9]\d{0,5})号$"
)
CODE = "SUIT_NUMBER_INVALID"


@dataclass(frozen=True, slots=True)
class SuitNumber:
    """A parsed civil suit number, e.g. ``(2023)苏0583民初12号``."""

    year: int
    court_id: str
    type_code: str  # 民初 or 民终
    sequence: int

    def __str__(self) -> str:
        designation = designation_from_court_id(self.court_id)
        return f"({self.year}){designation}{self.type_code}{self.sequence}号"


def parse_suit_number(text: object) -> SuitNumber:
    """Parse a suit number strictly: only the canonical spelling passes, and ``str()`` of the
    result gives it back (the SDK calls ``identity.normalize_case_number`` first).

    Raises:
        ValidationError: ``SUIT_NUMBER_INVALID``, its reason naming the part that is wrong.
    """
    if not isinstance(text, str):
        raise ValidationError("a suit number must be text", code=CODE)
    match = _SUIT_NUMBER.match(text)
    if match is None:
        raise ValidationError(
            f"suit number {text!r} is not of the form (YYYY)<designation><民初|民终><number>号, "
            "e.g. (2023)苏0583民初12号",
            code=CODE,
        )
    year = int(match["year"])
    if not MIN_CASE_YEAR <= year <= MAX_CASE_YEAR:
        raise ValidationError(
            f"suit number {text!r}: year {year} outside {MIN_CASE_YEAR}–{MAX_CASE_YEAR}", code=CODE
        )
    try:
        court_id = court_id_from_designation(match["designation"])
    except ValidationError as exc:
        raise ValidationError(f"suit number {text!r}: {exc.reason}", code=CODE) from exc
    parsed = SuitNumber(year, court_id, match["type"], int(match["seq"]))
    if str(parsed) != text:  # a designation spelt otherwise than the directory spells it
        raise ValidationError(f"suit number {text!r} is not canonical; send {parsed}", code=CODE)
    return parsed


def check_enforced_suit(payload: dict[str, object]) -> None:
    """A payload's optional ``enforced_suit`` is a valid suit number (absent or None passes).

    Raises:
        ValidationError: ``SUIT_NUMBER_INVALID``.
    """
    suit = payload.get("enforced_suit")
    if suit is not None:
        if isinstance(suit, str):
            _parsed(suit)  # one court's suits recur (the gateway checks every record)
        else:
            parse_suit_number(suit)


@lru_cache(maxsize=16384)
def _parsed(text: str) -> SuitNumber:
    """``parse_suit_number`` of a text, memoised (a refusal raises again each time)."""
    return parse_suit_number(text)
