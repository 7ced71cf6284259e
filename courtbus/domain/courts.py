"""Court ids and designations, and the courts' hierarchy told from their ids.

Pure: imports the case-type table, the regions and the error tree.
"""

from __future__ import annotations

import re

from courtbus.domain.case_types import (
    MILITARY_COURT_DESIGNATION,
    SUPREME_COURT_DESIGNATION,
)
from courtbus.domain.regions import BY_ABBR, BY_CODE
from courtbus.errors import ValidationError

_COURT_ID = re.compile(r"^(\d{2})(\d{2}|\d{4})?$")
_DESIGNATION = re.compile(r"^(\D+?)(\d{2}|\d{4})?$")

# Courts whose designation has no province abbreviation (法〔2015〕137号 (version unverified) 第四条: 最高法; 军 for the
# 中国人民解放军军事法院): the Supreme People's Court (never followed by digits) and the military
# courts. Their court ids ``00`` and ``90`` are the bus's own: no national numeric court code
# was found in any text read (GB/T 2260 has neither), so they are two-digit prefixes no province
# code uses, chosen here.
SUPREME_COURT_ID = "00"
MILITARY_COURT_PREFIX = "90"
_NATIONAL_BY_DESIGNATION: dict[str, str] = {
    SUPREME_COURT_DESIGNATION: SUPREME_COURT_ID,
    MILITARY_COURT_DESIGNATION: MILITARY_COURT_PREFIX,
}
_NATIONAL_BY_PREFIX: dict[str, str] = {v: k for k, v in _NATIONAL_BY_DESIGNATION.items()}


def court_id_from_designation(designation: str) -> str:
    """Turn a case-number court designation into a topic-safe court id.

    ``苏0583`` → ``320583``; ``苏05`` → ``3205``; ``苏`` → ``32``; ``沪74`` → ``3174``
    (special courts keep their number, ``case_types.SPECIAL_COURT_NUMBERS``: 71 railway, 72
    maritime, 73 IP, 74 oilfield, …; 沪74 is 上海金融法院 as its case numbers print);
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


def superior_of(court_id: str) -> str | None:
    """The superior court of ``court_id``, from its id: 320583 → 3205 → 32 (None above 32).

    Basic courts (6 digits) sit under the intermediate court of their city (the first 4),
    intermediate and special courts (4 digits) under their province's high court (the first 2).
    A high court's superior, the Supreme People's Court, is not on the bus.
    """
    if len(court_id) == 6:
        return court_id[:4]
    if len(court_id) == 4:
        return court_id[:2]
    return None
