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


def _masked_value(key: Any, value: Any) -> Any:
    if isinstance(value, str):
        if key in ID_KEYS:
            return mask_id(value)
        if key in TEXT_KEYS:
            return mask_ids_in_text(value)
    return masked(value)


def masked(value: Any) -> Any:
    """A copy of a decoded payload with every ID value (``ID_KEYS``) run through ``mask_id`` and
    ID-shaped numbers in every ``reason`` text masked."""
    if isinstance(value, Mapping):
        return {k: _masked_value(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    raise SerializationError(
        f"cannot store a {type(value).__name__} as JSON", code="STORE_JSON_UNSUPPORTED"
    )


def to_json(value: Any) -> str:
    """JSON text of a decoded Avro value: datetime/date → ISO text, Decimal → string,
    bytes → base64; keys sorted, non-ASCII kept as is.

    Raises:
        SerializationError: ``STORE_JSON_UNSUPPORTED`` for a value of another type.
    """
    return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True)


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
