"""Confluent framing and Avro decoding: every broken value gets its own code."""

from __future__ import annotations

import io
import json
import struct

import fastavro
import pytest

from courtbus.errors import SchemaError, SerializationError
from courtbus.wire.codec import AvroCodec, frame, unframe
from courtbus.wire.schemas import SchemaSet
from tests.builders import one_per_flow
from tests.fakes import MemoryRegistry

SCHEMAS = SchemaSet.load()
_, _, RECORD, PAYLOAD = one_per_flow()[0]


@pytest.fixture
def codec() -> AvroCodec:
    return AvroCodec(SCHEMAS, MemoryRegistry(), auto_register=True)


def test_value_is_magic_byte_schema_id_and_avro_body(codec: AvroCodec) -> None:
    data = codec.encode(RECORD, PAYLOAD)
    assert data[0] == 0
    schema_id = struct.unpack(">I", data[1:5])[0]
    assert schema_id == codec.schema_id(RECORD)
    assert unframe(data) == (schema_id, data[5:])


def _good(codec: AvroCodec) -> bytes:
    return codec.encode(RECORD, PAYLOAD)


BAD_VALUES = [
    ("empty", lambda c: b"", "WIRE_EMPTY"),
    ("shorter than header", lambda c: b"\x00\x00\x01", "WIRE_TRUNCATED"),
    ("bad magic byte", lambda c: b"\x01" + _good(c)[1:], "WIRE_BAD_MAGIC"),
    ("JSON instead of Avro", lambda c: b'{"delegation_id": "x"}', "WIRE_BAD_MAGIC"),
    ("unknown schema id", lambda c: frame(4242, _good(c)[5:]), "WIRE_UNKNOWN_SCHEMA_ID"),
    ("truncated body", lambda c: _good(c)[:-7], "AVRO_DECODE_FAILED"),
    ("header only", lambda c: _good(c)[:5], "AVRO_DECODE_FAILED"),
    ("trailing bytes", lambda c: _good(c) + b"\x00\x01", "AVRO_TRAILING_BYTES"),
]


@pytest.mark.parametrize(("name", "make", "code"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_broken_values_are_refused_with_a_code(
    name: str, make, code: str, codec: AvroCodec
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SerializationError) as info:
        codec.decode(make(codec))
    assert info.value.code == code


def test_payload_that_does_not_fit_is_an_encode_error(codec: AvroCodec) -> None:
    with pytest.raises(SerializationError) as info:
        codec.encode(RECORD, {**PAYLOAD, "matter": "TELEPORT"})
    assert info.value.code == "AVRO_ENCODE_FAILED"
    with pytest.raises(SerializationError):
        codec.encode(RECORD, {k: v for k, v in PAYLOAD.items() if k != "debtor"})


def test_unregistered_schema_is_not_silently_registered() -> None:
    codec = AvroCodec(SCHEMAS, MemoryRegistry(), auto_register=False)
    with pytest.raises(SchemaError) as info:
        codec.encode(RECORD, PAYLOAD)
    assert info.value.code == "SCHEMA_NOT_REGISTERED"


def test_old_writer_is_resolved_to_the_current_reader() -> None:
    """A record written with an older schema (no optional 'note') decodes with the default."""
    registry = MemoryRegistry()
    codec = AvroCodec(SCHEMAS, registry, auto_register=True)
    old = SCHEMAS.message(RECORD).json
    old["fields"] = [f for f in old["fields"] if f["name"] != "note"]
    old_text = json.dumps(old)
    old_id = registry.register(RECORD, old_text)
    buf = io.BytesIO()
    fastavro.schemaless_writer(
        buf, fastavro.parse_schema(old), {k: v for k, v in PAYLOAD.items() if k != "note"}
    )
    decoded = codec.decode(frame(old_id, buf.getvalue()))
    assert decoded.payload["note"] is None
    assert decoded.payload["delegation_id"] == PAYLOAD["delegation_id"]
