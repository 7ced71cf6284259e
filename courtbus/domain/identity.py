"""Identities: court ids and designations, case numbers (案号), debtor IDs, ID masking.

Pure: imports python-stdnum (checksums) and the standard library only, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric, uscc

from courtbus.domain.case_types import (
    ENFORCEMENT_CASE_TYPES,
    MILITARY_COURT_DESIGNATION,
    SUPREME_COURT_DESIGNATION,
)
from courtbus.domain.regions import BY_ABBR, BY_CODE
from courtbus.errors import ValidationError

_COURT_ID = re.compile(r"^(\d{2})(\d{2}|\d{4})?$")
_DESIGNATION = re.compile(r"^(\D+?)(\d{2}|\d{4})?$")

# Courts whose designation has no province abbreviation (法〔2015〕137号): the Supreme
# People's Court (最高法, never followed by digits) and the military courts (军). Their court
# ids use two-digit prefixes that are not GB/T 2260 province codes.
SUPREME_COURT_ID = "00"
MILITARY_COURT_PREFIX = "90"
_NATIONAL_BY_DESIGNATION: dict[str, str] = {
    SUPREME_COURT_DESIGNATION: SUPREME_COURT_ID,
    MILITARY_COURT_DESIGNATION: MILITARY_COURT_PREFIX,
}
_NATIONAL_BY_PREFIX: dict[str, str] = {v: k for k, v in _NATIONAL_BY_DESIGNATION.items()}

# Enforcement case-type codes (类型代字) the bus accepts (see courtbus.domain.case_types for
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


def court_id_from_designation(designation: str) -> str:
    """Turn a case-number court designation into a topic-safe court id.

    ``苏0583`` → ``320583``; ``苏05`` → ``3205``; ``苏`` → ``32``; ``沪74`` → ``3174``
    (special courts keep their number: 71 railway transport, 72 maritime, 73 IP, 74 financial);
    ``最高法`` → ``00``; ``军`` → ``90`` (``军01`` → ``9001``).

    Raises:
        ValidationError: ``COURT_DESIGNATION_INVALID`` for an unknown province or bad digits.
    """
    match = _DESIGNATION.match(designation)
    prefix = None if match is None else match.group(1)
    if prefix == SUPREME_COURT_DESIGNATION and match is not None and match.group(2) is None:
        return SUPREME_COURT_ID
    if match is not None and prefix == MILITARY_COURT_DESIGNATION:
        return MILITARY_COURT_PREFIX + (match.group(2) or "")
    if match is None or prefix not in BY_ABBR:
        raise ValidationError(
            f"unknown court designation {designation!r}: expected 最高法, or a province "
            "abbreviation (or 军) followed by 0, 2 or 4 digits, e.g. 苏0583",
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
    if court_id[:2] in _NATIONAL_BY_PREFIX:
        return _NATIONAL_BY_PREFIX[court_id[:2]] + court_id[2:]
    return BY_CODE[court_id[:2]].abbr + court_id[2:]


def validate_court_id(court_id: str) -> str:
    """Check a court id's shape and province prefix and return it unchanged.

    The prefix is a province code, ``00`` (the Supreme People's Court, exactly ``00``) or
    ``90`` (military courts).

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
    if match.group(1) not in BY_CODE and match.group(1) not in _NATIONAL_BY_PREFIX:
        raise ValidationError(
            f"malformed court id {court_id!r}: {match.group(1)!r} is not a province code",
            code="COURT_ID_MALFORMED",
        )
    if match.group(1) == SUPREME_COURT_ID and court_id != SUPREME_COURT_ID:
        raise ValidationError(
            f"malformed court id {court_id!r}: the Supreme People's Court is {SUPREME_COURT_ID}",
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
