"""Identities: court ids and designations, case numbers (案号), debtor IDs, ID masking.

Pure: imports python-stdnum (checksums) and the standard library only, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric, uscc

from courtbus.domain.regions import BY_ABBR, BY_CODE
from courtbus.errors import ValidationError

_COURT_ID = re.compile(r"^(\d{2})(\d{2}|\d{4})?$")
_DESIGNATION = re.compile(r"^(\D+?)(\d{2}|\d{4})?$")

# Enforcement case-type codes (类型代字) the bus accepts. Longest first, so 执恢 wins over 执.
CASE_TYPE_CODES: tuple[str, ...] = ("执恢", "执保", "执异", "执复", "执监", "执协", "执他", "执")
_CASE_NUMBER = re.compile(
    r"^\((?P<year>\d{4})\)(?P<designation>\D+?\d*)(?P<type>"
    + "|".join(CASE_TYPE_CODES)
    + r")(?P<seq>[1-9]\d{0,5})号$"
)
_FULL_WIDTH_BRACKETS = ("（", "）", "〔", "〕", "［", "］", "【", "】")
MIN_CASE_YEAR = 1990
MAX_CASE_YEAR = 2099


def court_id_from_designation(designation: str) -> str:
    """Turn a case-number court designation into a topic-safe court id.

    ``苏0583`` → ``320583``; ``苏05`` → ``3205``; ``苏`` → ``32``; ``沪74`` → ``3174``.

    Raises:
        ValidationError: ``COURT_DESIGNATION_INVALID`` for an unknown province or bad digits.
    """
    match = _DESIGNATION.match(designation)
    if match is None or match.group(1) not in BY_ABBR:
        raise ValidationError(
            f"unknown court designation {designation!r}: expected a province abbreviation "
            "followed by 0, 2 or 4 digits, e.g. 苏0583",
            code="COURT_DESIGNATION_INVALID",
        )
    return BY_ABBR[match.group(1)].code + (match.group(2) or "")


def designation_from_court_id(court_id: str) -> str:
    """Turn a court id back into its case-number designation (``320583`` → ``苏0583``).

    Raises:
        ValidationError: ``COURT_ID_MALFORMED`` if the id is not 2, 4 or 6 digits with a
            known province prefix.
    """
    validate_court_id(court_id)
    return BY_CODE[court_id[:2]].abbr + court_id[2:]


def validate_court_id(court_id: str) -> str:
    """Check a court id's shape and province prefix and return it unchanged.

    Raises:
        ValidationError: ``COURT_ID_MALFORMED``.
    """
    match = _COURT_ID.match(court_id)
    if match is None or not court_id.isascii():
        raise ValidationError(
            f"malformed court id {court_id!r}: expected 2, 4 or 6 ASCII digits "
            "(province code + designation digits), e.g. 320583",
            code="COURT_ID_MALFORMED",
        )
    if match.group(1) not in BY_CODE:
        raise ValidationError(
            f"malformed court id {court_id!r}: {match.group(1)!r} is not a province code",
            code="COURT_ID_MALFORMED",
        )
    return court_id


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

        Raises:
            ValidationError: ``CASE_NUMBER_BRACKETS`` (full-width brackets),
                ``CASE_NUMBER_TYPE_CODE`` (not an enforcement type code),
                ``COURT_DESIGNATION_INVALID``, ``CASE_NUMBER_YEAR`` or
                ``CASE_NUMBER_FORMAT`` (anything else).
        """
        if not isinstance(text, str):
            raise ValidationError("case number must be text", code="CASE_NUMBER_FORMAT")
        if any(b in text for b in _FULL_WIDTH_BRACKETS):
            raise ValidationError(
                f"case number {text!r} uses full-width brackets; write the year in ASCII "
                "brackets, e.g. (2023)苏0583执1234号",
                code="CASE_NUMBER_BRACKETS",
            )
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


def _diagnose_case_number(text: str) -> ValidationError:
    """Say which part of a case number is wrong, for a useful error."""
    loose = re.match(r"^\((\d{4})\)(\D+?)(\d*)(\D+?)(\d+)号$", text)
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


class DebtorKind(StrEnum):
    """Natural person or organisation."""

    PERSON = "PERSON"
    ORGANISATION = "ORGANISATION"


@lru_cache(maxsize=65536)  # the same debtors recur; stdnum's region look-up is the slow part
def validate_resident_id(number: str) -> str:
    """Validate an 18-digit resident identity number (GB 11643) and return it compact.

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``; the message shows the number masked.
    """
    try:
        compact: str = ric.validate(number)
    except stdnum_exceptions.ValidationError as exc:
        raise ValidationError(
            f"resident ID {mask_id(str(number))} is invalid: {exc}",
            code="RESIDENT_ID_INVALID",
        ) from exc
    if len(compact) != 18:
        raise ValidationError(
            f"resident ID {mask_id(compact)} must have 18 characters", code="RESIDENT_ID_INVALID"
        )
    return compact


def validate_credit_code(code: str) -> str:
    """Validate an 18-character unified social credit code (GB 32100) and return it compact.

    Raises:
        ValidationError: ``CREDIT_CODE_INVALID``.
    """
    try:
        compact: str = uscc.validate(code)
    except stdnum_exceptions.ValidationError as exc:
        raise ValidationError(
            f"unified social credit code {mask_id(str(code))} is invalid: {exc}",
            code="CREDIT_CODE_INVALID",
        ) from exc
    return compact


def validate_debtor_id(kind: DebtorKind | str, id_number: str) -> str:
    """Validate a debtor's ID by kind (resident ID for a person, credit code otherwise).

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``, ``CREDIT_CODE_INVALID`` or
            ``DEBTOR_KIND_INVALID``.
    """
    try:
        debtor_kind = DebtorKind(kind)
    except ValueError as exc:
        raise ValidationError(
            f"debtor kind {kind!r} is not PERSON or ORGANISATION", code="DEBTOR_KIND_INVALID"
        ) from exc
    if debtor_kind is DebtorKind.PERSON:
        return validate_resident_id(id_number)
    return validate_credit_code(id_number)


_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_id(number: str) -> str:
    """Mask a resident ID for logs and errors: ``320583********123X`` (region and tail only).

    Anything that is not 18 characters is masked whole but for its last two characters.
    """
    if len(number) == 18:
        return number[:6] + "*" * 8 + number[14:]
    return "*" * max(len(number) - 2, 0) + number[-2:]


def mask_ids_in_text(text: str) -> str:
    """Mask every resident-ID-shaped run of 18 characters inside free text."""
    return _ID_LIKE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
