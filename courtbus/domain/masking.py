"""ID numbers masked for logs, errors and output (personal data).

Pure: the standard library only.
"""

from __future__ import annotations

import re

_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_id(number: str) -> str:
    """Mask a resident ID for logs and errors: ``320583********123X`` (region and tail only).

    Anything that is not 18 characters (a passport number, a 15-character ID) is masked whole
    but for its last two characters: ``E12345678`` → ``*******78``.
    """
    if len(number) == 18:
        return number[:6] + "*" * 8 + number[14:]
    return "*" * max(len(number) - 2, 0) + number[-2:]


_LEGACY_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{6})(\d{3})(?![0-9A-Za-z])")
_OLD_PR_LIKE = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{3}\d{2})(\d{6})(\d{4})(?![0-9A-Za-z])")
# A unified social credit code (GB 32100, the shape ``_USCC_BODY`` checks), masked as
# ``mask_id`` masks any 18-character number: the first six and the last four kept.
_CREDIT_CODE_LIKE = re.compile(
    r"(?<![0-9A-Za-z])([0-9A-Z]{2}\d{4})(\d{2}[0-9A-HJ-NP-RT-UW-Y]{6})([0-9A-HJ-NP-RT-UW-Y]{4})"
    r"(?![0-9A-Za-z])"
)


def mask_ids_in_text(text: str) -> str:
    """Mask every ID-shaped run inside free text: 18-character resident IDs (and permits of
    that format), unified social credit codes, 15-digit legacy IDs and 15-character
    permanent-residence IDs. (A passport number has no shape of its own: it is masked by
    field, ``mask_id``, never found in free text.)"""
    text = _ID_LIKE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    text = _CREDIT_CODE_LIKE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    text = _LEGACY_ID_LIKE.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), text)
    return _OLD_PR_LIKE.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), text)
