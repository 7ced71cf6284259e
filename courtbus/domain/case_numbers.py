"""Enforcement case numbers (案号): parsed strictly, normalised for the SDK.

Pure: imports the case-type table, the courts' ids and the error tree.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from courtbus.domain.case_types import (
    ENFORCEMENT_CASE_TYPES,
    SUPREME_COURT_DESIGNATION,
)
from courtbus.domain.courts import (
    court_id_from_designation,
    designation_from_court_id,
)
from courtbus.errors import ValidationError

# the table and its source). Longest first, so 执恢 wins over 执.
CASE_TYPE_CODES: tuple[str, ...] = tuple(
    sorted((t.code for t in ENFORCEMENT_CASE_TYPES), key=lambda c: (-len(c), c))
)
_CASE_NUMBER = re.compile(
    r"^\((?P<year>\d{4})\)(?P<designation>\D+?\d*)(?P<type>"
    + "|".join(CASE_TYPE_CODES)
    + r")(?P<seq>[1-9]\d{0,5})号$"
)
_FULL_WIDTH_BRACKETS = ("（", "）", "〔", "〕", "［", "］", "【", "】")
MIN_CASE_YEAR = 1990
MAX_CASE_YEAR = 2099


@dataclass(frozen=True, slots=True)
class CaseNumber:
    """A parsed enforcement case number 案号, e.g. ``(2023)苏0583执1234号``."""

    year: int
    court_id: str
    type_code: str
    sequence: int

    @property
    def designation(self) -> str:
        """The court designation as written in the case number (``苏0583``)."""
        return designation_from_court_id(self.court_id)

    def __str__(self) -> str:
        return f"({self.year}){self.designation}{self.type_code}{self.sequence}号"

    @classmethod
    def parse(cls, text: str) -> CaseNumber:
        """Parse a case number strictly; ``str()`` of the result gives the same text back.

        Only the canonical spelling passes: the SDK calls :func:`normalize_case_number` first.

        Raises:
            ValidationError: ``CASE_NUMBER_BRACKETS`` (full-width brackets),
                ``CASE_NUMBER_NOT_CANONICAL`` (a valid case number spelt otherwise, e.g.
                with spaces or full-width digits), ``CASE_NUMBER_TYPE_CODE`` (not an
                enforcement type code), ``COURT_DESIGNATION_INVALID``, ``CASE_NUMBER_YEAR``
                or ``CASE_NUMBER_FORMAT`` (anything else).
        """
        if not isinstance(text, str):
            raise ValidationError("case number must be text", code="CASE_NUMBER_FORMAT")
        if any(b in text for b in _FULL_WIDTH_BRACKETS):
            raise ValidationError(
                f"case number {text!r} uses full-width brackets; write the year in ASCII "
                "brackets, e.g. (2023)苏0583执1234号",
                code="CASE_NUMBER_BRACKETS",
            )
        canonical = normalize_case_number(text)
        parsed = cls._parse_canonical(canonical)
        if canonical != text:
            raise ValidationError(
                f"case number {text!r} is not in canonical form; send {canonical!r}",
                code="CASE_NUMBER_NOT_CANONICAL",
            )
        return parsed

    @classmethod
    def _parse_canonical(cls, text: str) -> CaseNumber:
        match = _CASE_NUMBER.match(text)
        if match is None:
            raise _diagnose_case_number(text)
        year = int(match["year"])
        if not MIN_CASE_YEAR <= year <= MAX_CASE_YEAR:
            raise ValidationError(
                f"case number {text!r}: year {year} outside {MIN_CASE_YEAR}–{MAX_CASE_YEAR}",
                code="CASE_NUMBER_YEAR",
            )
        court_id = court_id_from_designation(match["designation"])
        return cls(year, court_id, match["type"], int(match["seq"]))


_BRACKETS_TO_ASCII = str.maketrans(dict.fromkeys("（〔［【", "(") | dict.fromkeys("）〕］】", ")"))
_WHITESPACE = re.compile(r"\s+")


def normalize_case_number(text: str) -> str:
    """The canonical spelling of a case number, for the SDK to call before sending.

    Full-width brackets (（）〔〕［］【】) become ASCII ``()``, full-width digits become ASCII
    (NFKC), and all whitespace goes. Nothing is validated: pass the result to
    :meth:`CaseNumber.parse`. ``（２０２４）沪72执1号 `` → ``(2024)沪72执1号``.
    """
    folded = unicodedata.normalize("NFKC", text.translate(_BRACKETS_TO_ASCII))
    return _WHITESPACE.sub("", folded)


def _diagnose_case_number(text: str) -> ValidationError:
    """Say which part of a case number is wrong, for a useful error."""
    loose = re.match(
        r"^\((\d{4})\)(" + SUPREME_COURT_DESIGNATION + r"|\D+?)(\d*)(\D+?)(\d+)号$", text
    )
    if loose is not None:
        designation = loose.group(2) + loose.group(3)
        try:
            court_id_from_designation(designation)
        except ValidationError as exc:
            return ValidationError(f"case number {text!r}: {exc.reason}", code=exc.code)
        if loose.group(4) not in CASE_TYPE_CODES:
            return ValidationError(
                f"case number {text!r}: {loose.group(4)!r} is not an enforcement case-type "
                f"code (one of {', '.join(CASE_TYPE_CODES)})",
                code="CASE_NUMBER_TYPE_CODE",
            )
    return ValidationError(
        f"case number {text!r} is not of the form (YYYY)<designation><type code><number>号, "
        "e.g. (2023)苏0583执1234号",
        code="CASE_NUMBER_FORMAT",
    )
