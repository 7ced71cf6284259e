"""JSON text for stored payloads and headers, with resident ID numbers masked first."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.errors import SerializationError

# Keys whose values are ID numbers of people or organisations (personal data): a debtor's or
# person's ``id_number``, a listing's ``legal_representative_id`` and a travel document's
# ``number`` (TravelDocument), the only such fields the schemas have.
ID_KEYS = frozenset({"id_number", "legal_representative_id", "number"})
# Keys whose values are free text that may quote an ID number (e.g. a refusal's reason).
TEXT_KEYS = frozenset({"reason"})


# What masks a text value, by key: the projector masks every stored payload, so the walk is
# one function call per dict and list, not one per value.
_MASKS = {**dict.fromkeys(ID_KEYS, mask_id), **dict.fromkeys(TEXT_KEYS, mask_ids_in_text)}


def masked(value: Any) -> Any:
    """A copy of a decoded payload with every ID value (``ID_KEYS``) run through ``mask_id`` and
    ID-shaped numbers in every ``reason`` text masked."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if isinstance(item, str):
                mask = _MASKS.get(key)
                out[key] = item if mask is None else mask(item)
            elif isinstance(item, Mapping | list | tuple):
                out[key] = masked(item)
            else:
                out[key] = item
        return out
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def _json_value(value: Any) -> Any:
    """What JSON holds for a value the encoder does not know (called by it, in C, only then)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=_json_value)


def to_json(value: Any) -> str:
    """JSON text of a decoded Avro value: datetime/date → ISO text, Decimal → string,
    bytes → base64; keys sorted, non-ASCII kept as is.

    Raises:
        SerializationError: ``STORE_JSON_UNSUPPORTED`` for a value of another type.
    """
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(str(exc), code="STORE_JSON_UNSUPPORTED") from exc


def headers_to_json(headers: list[tuple[str, bytes]]) -> str:
    """Kafka headers as JSON text: a list of ``[name, base64 value]`` pairs, order kept."""
    return json.dumps([[name, base64.b64encode(raw).decode("ascii")] for name, raw in headers])


def headers_from_json(text: str) -> list[tuple[str, bytes]]:
    """The inverse of ``headers_to_json``.

    Raises:
        SerializationError: ``STORE_HEADERS_CORRUPT`` if the text is not what we wrote.
    """
    try:
        pairs = json.loads(text)
        return [(str(name), base64.b64decode(raw, validate=True)) for name, raw in pairs]
    except (ValueError, TypeError) as exc:
        raise SerializationError(
            f"stored dead-letter headers are corrupt: {exc}", code="STORE_HEADERS_CORRUPT"
        ) from exc
