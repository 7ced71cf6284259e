"""``courtbus.store.jsonify``: stored JSON is the text a plain walk of the value gives (dates as
ISO text, Decimal as a string, bytes as base64, enums as their values, keys sorted), and
masking replaces exactly the ID and reason values, wherever they sit."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.store.jsonify import ID_KEYS, TEXT_KEYS, masked, to_json


class Colour(Enum):
    RED = "red"


def _reference(value: Any) -> Any:
    """What JSON should hold for ``value``, walked in Python."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reference(v) for v in value]
    return value


def _masked_reference(value: Any, key: str | None = None) -> Any:
    if isinstance(value, str):
        if key in ID_KEYS:
            return mask_id(value)
        return mask_ids_in_text(value) if key in TEXT_KEYS else value
    if isinstance(value, dict):
        return {k: _masked_reference(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked_reference(v) for v in value]
    return value


KEYS = st.sampled_from(["a", "b", "名称", *sorted(ID_KEYS), *sorted(TEXT_KEYS)])
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.sampled_from(["110101199003074516", "理由 110101199003074516 已核"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.binary(max_size=8),
    st.just(Colour.RED),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_stored_json_is_the_plain_walk(payload: dict[str, Any]) -> None:
    expected = json.dumps(_reference(payload), ensure_ascii=False, sort_keys=True)
    assert to_json(payload) == expected


@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_masking_touches_the_id_and_reason_values_only(payload: dict[str, Any]) -> None:
    assert masked(payload) == _masked_reference(payload)
