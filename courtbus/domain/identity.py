"""A debtor's ID, whatever its document: spelt canonically, checked against its kind and
declared type, keyed per debtor.

The documents' own rules are one module each: ``person_ids`` (resident IDs, permits,
passports), ``credit_codes`` (GB 32100), with ``id_types`` (the kinds and documents) and
``masking``; court ids are in ``courts``, case numbers in ``case_numbers``.

Validators check the canonical spelling; ``strict=True`` (the gateway) also refuses any other
spelling, and the SDK calls :func:`canonical_id` / :func:`normalize_case_number` first.

Pure: the domain modules above and the standard library.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from courtbus.domain.credit_codes import check_credit_code
from courtbus.domain.id_types import DebtorKind, IdCheck, IdType
from courtbus.domain.masking import mask_id
from courtbus.domain.person_ids import (
    check_person_id,
    upgrade_legacy_resident_id,
    validate_passport,
)
from courtbus.errors import ValidationError

_WHITESPACE = re.compile(r"\s+")


def validate_resident_id(number: str, *, strict: bool = False) -> str:
    """Validate a person's ID (see :func:`check_person_id`) and return it canonical.

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``, or (``strict``) ``ID_NOT_CANONICAL`` for a
            valid ID spelt otherwise (lower-case x, spaces, full-width digits).
    """
    return _check(DebtorKind.PERSON, number, strict=strict).value


def validate_credit_code(code: str, *, strict: bool = False) -> str:
    """Validate a unified social credit code (GB 32100-2015) and return it canonical.

    Raises:
        ValidationError: ``CREDIT_CODE_INVALID``, or (``strict``) ``ID_NOT_CANONICAL`` for a
            valid code spelt otherwise.
    """
    return _check(DebtorKind.ORGANISATION, code, strict=strict).value


_DASHES_AND_SPACES = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff0d]+")


def canonical_id(kind: DebtorKind | str, value: str) -> str:
    """The one spelling of a debtor ID, for the SDK to call before sending.

    Full-width letters and digits become ASCII (NFKC), letters upper case (a final ``x``
    becomes ``X``), spaces and hyphens go. Nothing is validated.

    Raises:
        ValidationError: ``DEBTOR_KIND_INVALID``.
    """
    _debtor_kind(kind)
    return _DASHES_AND_SPACES.sub("", unicodedata.normalize("NFKC", value)).upper()


def canonical_nationality(value: str) -> str:
    """The one spelling of a passport's nationality, for the SDK to call before sending:
    ASCII (NFKC), upper case, no spaces (`` usa `` → ``USA``). Nothing is validated."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", value)).upper()


def _debtor_kind(kind: DebtorKind | str) -> DebtorKind:
    try:
        return DebtorKind(kind)
    except ValueError as exc:
        raise ValidationError(
            f"debtor kind {kind!r} is not PERSON or ORGANISATION", code="DEBTOR_KIND_INVALID"
        ) from exc


def _check(kind: DebtorKind, value: str, *, strict: bool) -> IdCheck:
    """Check the canonical spelling; if ``strict``, refuse any other spelling of a valid ID."""
    if not isinstance(value, str):
        raise ValidationError("debtor ID must be text", code="RESIDENT_ID_INVALID")
    canonical = canonical_id(kind, value)
    check = check_person_id if kind is DebtorKind.PERSON else check_credit_code
    result = check(canonical)
    if strict and canonical != value:
        raise ValidationError(
            f"debtor ID {mask_id(canonical)} is not in canonical form: upper-case letters, "
            "ASCII digits, no spaces or hyphens",
            code="ID_NOT_CANONICAL",
        )
    return result


_ORGANISATION_TYPES = frozenset({IdType.CREDIT_CODE})


def _declared_type(id_type: IdType | str | None) -> IdType | None:
    if id_type is None:
        return None
    try:
        return IdType(id_type)
    except ValueError as exc:
        raise ValidationError(
            f"id_type {id_type!r} is not one of {', '.join(IdType)}", code="ID_TYPE_MISMATCH"
        ) from exc


def _check_passport(value: str, nationality: str | None, *, strict: bool) -> IdCheck:
    """A passport: its number and its issuing state, both canonical if ``strict``."""
    if not nationality:
        raise ValidationError(
            "a passport needs the issuing state: give nationality as an ISO 3166-1 alpha-3 "
            "code, e.g. USA",
            code="PASSPORT_INVALID",
        )
    if not isinstance(value, str) or not isinstance(nationality, str):
        raise ValidationError(
            "passport number and nationality must be text", code="PASSPORT_INVALID"
        )
    number = canonical_id(DebtorKind.PERSON, value)
    state = canonical_nationality(nationality)
    validate_passport(number, state)
    if strict and (number != value or state != nationality):
        raise ValidationError(
            f"passport {mask_id(number)} ({state}) is not in canonical form: upper-case "
            "letters, ASCII digits, no spaces or hyphens",
            code="ID_NOT_CANONICAL",
        )
    return IdCheck(number, IdType.PASSPORT, nationality=state)


def check_debtor_id(
    kind: DebtorKind | str,
    id_number: str,
    *,
    strict: bool = False,
    id_type: IdType | str | None = None,
    nationality: str | None = None,
) -> IdCheck:
    """Validate a debtor's ID by kind and say which document it is and any warnings.

    Raises:
        ValidationError: as :func:`validate_debtor_id`.
    """
    debtor_kind = _debtor_kind(kind)
    declared = _declared_type(id_type)
    if declared is IdType.PASSPORT:
        if debtor_kind is not DebtorKind.PERSON:
            raise ValidationError(
                "only a natural person (kind PERSON) is named by passport",
                code="ID_TYPE_MISMATCH",
            )
        return _check_passport(id_number, nationality, strict=strict)
    if nationality is not None:
        raise ValidationError(
            "nationality is given only with id_type PASSPORT (a permanent-residence ID carries "
            "its own)",
            code="ID_TYPE_MISMATCH",
        )
    if declared is not None and (declared in _ORGANISATION_TYPES) != (
        debtor_kind is DebtorKind.ORGANISATION
    ):
        raise ValidationError(
            f"id_type {declared} does not name a debtor of kind {debtor_kind}",
            code="ID_TYPE_MISMATCH",
        )
    result = _check(debtor_kind, id_number, strict=strict)
    if declared is not None and result.id_type is not declared:
        raise ValidationError(
            f"debtor ID {mask_id(result.value)} is a {result.id_type}, not a {declared}",
            code="ID_TYPE_MISMATCH",
        )
    return result


def validate_debtor_id(
    kind: DebtorKind | str,
    id_number: str,
    *,
    strict: bool = False,
    id_type: IdType | str | None = None,
    nationality: str | None = None,
) -> str:
    """Validate a debtor's ID by kind and return its canonical spelling.

    A person's ID is a resident ID (18 or 15 digits), a 港澳台居民居住证 or a 外国人永久居留
    身份证 number (see :func:`check_person_id`), told apart by shape, or a passport, which is
    never guessed: it needs ``id_type=PASSPORT`` and its ``nationality`` (ISO 3166-1 alpha-3,
    see :func:`validate_passport`). An organisation's ID is a unified social credit code.
    Any other ``id_type`` given must be the document the number's shape says it is, and
    ``nationality`` goes only with a passport. With ``strict`` (the gateway's check), a valid
    ID (or nationality) not spelt canonically is refused; without it (the delegation flow,
    which keys caps on the canonical form) it is canonicalised.

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``, ``CREDIT_CODE_INVALID``,
            ``PASSPORT_INVALID`` (a bad number or nationality, or none given),
            ``ID_TYPE_MISMATCH`` (``id_type`` is not what the number is, does not fit the
            kind, or ``nationality`` without a passport), ``DEBTOR_KIND_INVALID`` or
            (``strict``) ``ID_NOT_CANONICAL``.
    """
    return check_debtor_id(
        kind, id_number, strict=strict, id_type=id_type, nationality=nationality
    ).value


def debtor_key(canonical: str, nationality: str | None = None) -> str:
    """One key per debtor however the ID was spelt, and not itself personal data: a 15-digit
    legacy ID counts as its 18-digit form, a passport number with its issuing state; the
    first 24 hex digits of the sha256. Used for per-debtor state (caps, blacklist rules)."""
    if len(canonical) == 15 and canonical.isdigit():
        canonical = upgrade_legacy_resident_id(canonical)
    if nationality:  # a passport number is unique only within its issuing state
        canonical = f"{nationality.upper()}:{canonical}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]
