"""Key-bound ce_ids (courtbus.wire.event_ids) and the gateway's refusal of unbound ones."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from courtbus.errors import ValidationError
from courtbus.gateway.decisions import EVENT_ID_CONFLICT, EVENT_ID_UNBOUND, check_event_id
from courtbus.wire.envelope import bind_event_id
from courtbus.wire.event_ids import bound_event_id, bound_to, is_bound_form

keys = st.binary(min_size=1, max_size=128)


@given(keys, keys)
def test_an_id_is_bound_to_its_key_and_to_no_other(key: bytes, other: bytes) -> None:
    event_id = bound_event_id(key)
    parsed = uuid.UUID(event_id)
    assert str(parsed) == event_id and parsed.version == 8 and parsed.variant == uuid.RFC_4122
    assert bound_to(event_id, key) and is_bound_form(event_id)
    assert bound_to(event_id, other) == (key == other)


@given(keys, st.uuids())
def test_a_senders_id_is_bound_the_same_way_every_time(key: bytes, base: uuid.UUID) -> None:
    made = bound_event_id(key, str(base))
    assert made == bound_event_id(key, str(base)) and bound_to(made, key)
    assert made[:14] == str(base)[:14]  # the sender's first 64 bits kept (bar the version)
    assert bind_event_id(key, made) == made  # an id already bound comes back unchanged
    assert bind_event_id(key, str(base).upper()) == made


def test_ids_of_one_key_differ() -> None:
    assert len({bound_event_id(b"dlg-1") for _ in range(10_000)}) == 10_000


def test_a_version_4_id_is_not_bound() -> None:
    event_id = str(uuid.uuid4())
    assert not bound_to(event_id, b"dlg-1") and not is_bound_form(event_id)
    with pytest.raises(ValidationError) as caught:
        check_event_id(event_id)
    assert caught.value.code == EVENT_ID_UNBOUND


def test_an_id_made_for_another_key_is_a_conflict() -> None:
    event_id = bound_event_id(b"dlg-X")
    assert not bound_to(event_id, b"dlg-Y")
    with pytest.raises(ValidationError) as caught:
        check_event_id(event_id)
    assert caught.value.code == EVENT_ID_CONFLICT and "another record key" in caught.value.reason


def test_a_sender_id_that_is_not_a_uuid_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        bind_event_id(b"dlg-1", "not-a-uuid")
    assert caught.value.code == "HEADER_BAD_ID"
