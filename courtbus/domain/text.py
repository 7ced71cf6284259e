"""Text on the bus: which characters a string may hold, and the normalisation senders apply.

Pure: standard library only.

The gateway forwards a record's original bytes, so it refuses text it would want rewritten:

* ``TEXT_CONTROL_CHARACTER``: a C0 or C1 control character (U+0000–U+001F, U+007F–U+009F,
  NUL included) or a line/paragraph separator (U+2028, U+2029). Only free-text fields
  (``FREE_TEXT_FIELDS``: notes, reasons, summaries, descriptions) may hold ``\\n`` and ``\\t``;
  names, ids, codes and places are one line. ``\\r`` is refused everywhere (send ``\\n``).
* ``TEXT_BIDI_CONTROL``: a bidirectional formatting character: embeddings and overrides
  (U+202A–U+202E), isolates (U+2066–U+2069) and marks (U+200E, U+200F, U+061C). They make
  text display differently from what it is (a name or reason shown reversed or reordered).
* ``TEXT_NOT_NFC``: text not in Unicode Normalization Form C, so that equal names compare
  equal in the read model and downstream systems.

Senders (the SDK) call ``normalize_text`` or ``normalize_payload`` before encoding.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from courtbus.errors import ValidationError

CONTROL_CHARACTER = "TEXT_CONTROL_CHARACTER"
BIDI_CONTROL = "TEXT_BIDI_CONTROL"
NOT_NFC = "TEXT_NOT_NFC"

# Payload field names (the last part of a field's path) whose text may span lines.
FREE_TEXT_FIELDS = frozenset(
    {"note", "reason", "summary", "description", "asset_description", "obligation"}
)

_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_BIDI_CHARS = re.compile(f"[{_BIDI}]")
# One precompiled class per kind of field: a clean string costs one failed search.
_FORBIDDEN = re.compile(rf"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_FORBIDDEN_FREE = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")


def text_ok(value: str, *, free_text: bool = False) -> bool:
    """Whether ``value`` may go on the bus (the fast test; ``check_text`` says why not)."""
    forbidden = _FORBIDDEN_FREE if free_text else _FORBIDDEN
    return forbidden.search(value) is None and unicodedata.is_normalized("NFC", value)


def check_text(value: str, field: str, *, free_text: bool = False) -> None:
    """Refuse a string with a forbidden character or not in NFC; ``field`` names it.

    The reason names the field, the character's code point and its position, never the text
    (which may hold an ID number).

    Raises:
        ValidationError: ``TEXT_CONTROL_CHARACTER``, ``TEXT_BIDI_CONTROL`` or ``TEXT_NOT_NFC``.
    """
    found = (_FORBIDDEN_FREE if free_text else _FORBIDDEN).search(value)
    if found is not None:
        char = found.group()
        where = f"{field} holds U+{ord(char):04X} at character {found.start()}"
        if _BIDI_CHARS.match(char):
            raise ValidationError(
                f"{where}: bidirectional formatting characters are not allowed",
                code=BIDI_CONTROL,
            )
        allowed = " (only \\n and \\t are allowed, in free text)" if free_text else ""
        raise ValidationError(
            f"{where}: control characters are not allowed{allowed}", code=CONTROL_CHARACTER
        )
    if not unicodedata.is_normalized("NFC", value):
        raise ValidationError(
            f"{field} is not in Unicode NFC (normalise text before sending)", code=NOT_NFC
        )


def normalize_text(value: str) -> str:
    """NFC, with ``\\r\\n`` and a lone ``\\r`` made ``\\n``: what a sender does before sending.

    NFC also maps CJK compatibility ideographs (U+F900–U+FAFF) to their unified forms, so a
    name typed with one is sent with the unified character. Other control or bidirectional
    characters are left for ``check_text`` to refuse: they are not silently removed.
    """
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", value)


def normalize_payload(node: Any) -> Any:
    """A copy of a payload (dicts, lists, scalars) with every string ``normalize_text``-ed."""
    if isinstance(node, str):
        return normalize_text(node)
    if isinstance(node, dict):
        return {key: normalize_payload(value) for key, value in node.items()}
    if isinstance(node, list):
        return [normalize_payload(value) for value in node]
    return node
