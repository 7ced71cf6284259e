"""What a debtor ID is: the debtor's kind, the document, and a checked ID.

Pure: the standard library and the masking of IDs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from courtbus.domain.masking import mask_id
from courtbus.errors import ValidationError


class DebtorKind(StrEnum):
    """Natural person or organisation."""

    PERSON = "PERSON"
    ORGANISATION = "ORGANISATION"


class IdType(StrEnum):
    """Which document a debtor's ID number comes from (told apart by its shape)."""

    RESIDENT_ID = "RESIDENT_ID"  # 居民身份证, GB 11643-1999, 18 characters
    LEGACY_RESIDENT_ID = "LEGACY_RESIDENT_ID"  # 15-digit 居民身份证 issued before GB 11643-1999
    HMT_RESIDENCE_PERMIT = "HMT_RESIDENCE_PERMIT"  # 港澳台居民居住证 (810000/820000/830000…)
    FOREIGN_PERMANENT_RESIDENT_ID = "FOREIGN_PERMANENT_RESIDENT_ID"  # 外国人永久居留身份证
    PASSPORT = "PASSPORT"  # number + ISO 3166-1 alpha-3 nationality; named, never detected
    CREDIT_CODE = "CREDIT_CODE"  # 统一社会信用代码, GB 32100-2015


@dataclass(frozen=True, slots=True)
class IdCheck:
    """A valid ID: its canonical value, its document, and doubts that did not refuse it.

    ``warnings`` never contain the ID itself (at most its region code). ``nationality`` is
    the issuing state of a passport (ISO 3166-1 alpha-3), None for every other document.
    """

    value: str
    id_type: IdType
    warnings: tuple[str, ...] = ()
    nationality: str | None = None


def refuse_id(
    what: str, number: str, why: str, code: str = "RESIDENT_ID_INVALID"
) -> ValidationError:
    return ValidationError(f"{what} {mask_id(number)} is invalid: {why}", code=code)
