"""Natural persons' ID numbers: resident IDs (GB 11643, and the 15-digit legacy form), 港澳台
居民居住证, 外国人永久居留身份证, passports.

Pure: imports python-stdnum (checksums), the regions, the ID types and the error tree; no I/O
but one logged warning (never with the ID) the first time an ID is accepted over stdnum's
objection.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from functools import lru_cache

from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric

from courtbus.domain.id_types import IdCheck, IdType
from courtbus.domain.id_types import refuse_id as _refuse
from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.domain.regions import BY_CODE
from courtbus.errors import ValidationError

_log = logging.getLogger(__name__)

# GB/T 2260 province codes a resident ID's first two digits can carry (兵 / 66 is a court
# prefix only: XPCC residents hold 65 Xinjiang codes).
_ID_PROVINCES = frozenset(code for code in BY_CODE if code != "66")
# 港澳台居民居住证: 国务院办公厅《港澳台居民居住证申领发放办法》(国办发〔2018〕81号) 第四条 — UNVERIFIED:
# neither the document number nor the article was read in a text (only the format is checked) —
# the resident-ID format (GB 11643) with 810000 (Hong Kong), 820000 (Macau) or 830000 (Taiwan)
# as the address code.
HMT_PERMIT_PREFIXES: dict[str, str] = {"810000": "香港", "820000": "澳门", "830000": "台湾"}
_EIGHTEEN = re.compile(r"^\d{17}[\dX]$")
_FIFTEEN = re.compile(r"^\d{15}$")
# 外国人永久居留身份证, 2017 format (15 characters): ISO 3166-1 alpha-3 nationality + 12 digits.
_OLD_FOREIGN_PR = re.compile(r"^[A-Z]{3}\d{12}$")
# Passports (ICAO Doc 9303): up to 9 characters in the machine-readable zone; some states
# issue longer numbers, so up to 20 letters and digits are accepted.
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
_ALPHA3 = re.compile(r"^[A-Z]{3}$")


def _birth_date_ok(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return born.year >= 1900


def _stdnum_region_opinion(number: str) -> tuple[str, ...]:
    """python-stdnum's opinion of an 18-digit ID's region code, kept as a warning."""
    try:
        ric.validate(number)
    except stdnum_exceptions.ValidationError as exc:
        return (
            f"python-stdnum does not know region code {number[:6]} at the birth date "
            f"({type(exc).__name__}); accepted on format, birth date and check digit",
        )
    return ()


def _check_eighteen(number: str) -> IdCheck:
    """GB 11643-1999: 6-digit address code, 8-digit birth date, 3-digit sequence, check digit
    (ISO 7064 MOD 11-2). HMT residence permits and the 2023 foreigner's permanent-residence ID
    share the format."""
    if len(number) != 18:
        raise _refuse("resident ID", number, "must have 18 characters")
    if _EIGHTEEN.match(number) is None:
        raise _refuse("resident ID", number, "must be 17 digits and a digit or X")
    if ric.calc_check_digit(number) != number[-1]:
        raise _refuse("resident ID", number, "the check digit does not match")
    if not _birth_date_ok(number[6:14]):
        raise _refuse("resident ID", number, "the birth date is not a date")
    if number[:6] in HMT_PERMIT_PREFIXES:
        return IdCheck(number, IdType.HMT_RESIDENCE_PERMIT)
    if number[0] == "9":
        # 外国人永久居留身份证, 2023 format (国家移民管理局公告, 2023-12-01): 9, 2-digit
        # acceptance province (GB/T 2260), 3-digit nationality code, birth date, sequence, and
        # the GB 11643 check digit.
        if number[1:3] not in _ID_PROVINCES:
            raise _refuse("permanent-residence ID", number, f"{number[1:3]} is not a province code")
        return IdCheck(number, IdType.FOREIGN_PERMANENT_RESIDENT_ID)
    if number[:2] not in _ID_PROVINCES:
        raise _refuse("resident ID", number, f"{number[:2]} is not a province code (GB/T 2260)")
    return IdCheck(number, IdType.RESIDENT_ID, _stdnum_region_opinion(number))


def upgrade_legacy_resident_id(number: str) -> str:
    """The 18-character form of a 15-digit ID (GB 11643-1999 附录: insert 19, add the check
    digit). Does not validate."""
    body = number[:6] + "19" + number[6:]
    return body + ric.calc_check_digit(body + "0")


def _check_fifteen(number: str) -> IdCheck:
    """15-digit ID: 6-digit address code, YYMMDD birth date (19YY), 3-digit sequence, no
    check digit."""
    if number[:2] not in _ID_PROVINCES:
        raise _refuse("resident ID", number, f"{number[:2]} is not a province code (GB/T 2260)")
    if not _birth_date_ok("19" + number[6:12]):
        raise _refuse("resident ID", number, "the birth date is not a date")
    opinion = _stdnum_region_opinion(upgrade_legacy_resident_id(number))
    return IdCheck(
        number,
        IdType.LEGACY_RESIDENT_ID,
        ("15-digit ID from before GB 11643-1999: it has no check digit", *opinion),
    )


@lru_cache(maxsize=65536)  # the same debtors recur; stdnum's region look-up is the slow part
def check_person_id(number: str) -> IdCheck:
    """Validate a natural person's ID number as written (canonical spelling only).

    Accepts an 18-character resident ID (GB 11643-1999; a region code that python-stdnum does
    not know at the birth date is accepted with a warning, which is logged without the ID), a
    15-digit legacy resident ID, a 港澳台居民居住证 number (810000/820000/830000 + the
    resident-ID format) and a 外国人永久居留身份证 (2023: 18 digits starting with 9 and the
    resident-ID check digit; 2017: 3 letters + 12 digits).

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``; the message shows the number masked.
    """
    if not isinstance(number, str):
        raise ValidationError("resident ID must be text", code="RESIDENT_ID_INVALID")
    if _FIFTEEN.match(number) is not None:
        result = _check_fifteen(number)
    elif _OLD_FOREIGN_PR.match(number) is not None:
        result = IdCheck(number, IdType.FOREIGN_PERMANENT_RESIDENT_ID)
    else:
        result = _check_eighteen(number)
    for warning in result.warnings:
        _log.warning(mask_ids_in_text(f"{result.id_type} {mask_id(number)}: {warning}"))
    return result


def validate_hmt_residence_permit(number: str) -> str:
    """Validate a 港澳台居民居住证 number (国办发〔2018〕81号).

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``.
    """
    result = check_person_id(number)
    if result.id_type is not IdType.HMT_RESIDENCE_PERMIT:
        raise _refuse("residence permit", number, "must start with 810000, 820000 or 830000")
    return result.value


def validate_foreign_permanent_resident_id(number: str) -> str:
    """Validate a 外国人永久居留身份证 number (2017: 3 letters + 12 digits; 2023: 18 digits
    starting with 9, with the GB 11643 check digit).

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``.
    """
    result = check_person_id(number)
    if result.id_type is not IdType.FOREIGN_PERMANENT_RESIDENT_ID:
        raise _refuse(
            "permanent-residence ID", number, "must be 3 letters + 12 digits or 9 + 17 digits"
        )
    return result.value


def validate_passport(number: str, nationality: str) -> tuple[str, str]:
    """Validate a passport number and its issuing state (ISO 3166-1 alpha-3), canonical only.

    Only the shape of the nationality is checked (three capital letters): the bus carries no
    country list. :func:`validate_debtor_id` calls it for ``id_type=PASSPORT``.

    Raises:
        ValidationError: ``PASSPORT_INVALID``.
    """
    if _ALPHA3.match(nationality) is None:
        raise ValidationError(
            f"passport nationality {nationality!r} is not an ISO 3166-1 alpha-3 code, e.g. USA",
            code="PASSPORT_INVALID",
        )
    if _PASSPORT.match(number) is None:
        raise _refuse(
            "passport number",
            number,
            "must be 5 to 20 capital letters and digits",
            code="PASSPORT_INVALID",
        )
    return number, nationality
