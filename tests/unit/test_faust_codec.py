"""The Faust codec (courtbus[faust]): framed Avro round trips by the writer's schema alone,
tombstones pass, CloudEvents headers surface. An in-memory registry; no broker."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import fastavro
import pytest

pytest.importorskip("faust")

from faust.serializers import codecs
from faust.serializers.registry import Registry
from faust.types import Message

from courtbus.errors import RegistryError, SerializationError, ValidationError
from courtbus.faust import (
    CourtbusCodec,
    WireValues,
    ce_headers,
    ce_id,
    event_headers,
    install,
    json_safe,
)
from courtbus.wire.codec import AvroCodec, frame
from courtbus.wire.envelope import Envelope
from courtbus.wire.schemas import SchemaSet
from tests.builders import one_per_flow
from tests.fakes import MemoryRegistry

SCHEMAS = SchemaSet.load()
NAME = "courtbus-unit"
ENTRY = "cn.court.bus.blacklist.BlacklistEntry"
PERSON_ID = "320583199303121234"  # valid checksum; not a real person


def entry(entry_id: str = "bl-3205-2024-1", status: str = "ACTIVE") -> dict[str, Any]:
    t = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    return {
        "entry_id": entry_id,
        "status": status,
        "case_number": {
            "text": "(2024)苏05执1号",
            "year": 2024,
            "court_id": "3205",
            "type_code": "执",
            "sequence": 1,
        },
        "listing_court": {"court_id": "3205", "designation": "苏05"},
        "debtor": {
            "kind": "PERSON",
            "name": "张三",
            "id_number": PERSON_ID,
            "id_type": None,
            "nationality": None,
        },
        "legal_representative": None,
        "legal_representative_id": None,
        "ground": "REFUSED_WITH_ABILITY",
        "serious": False,
        "period_months": None,
        "obligation": "支付人民币 1,000.00 元",
        "performance": "全部未履行",
        "conduct": "有履行能力而拒不履行",
        "title_issuer": "江苏省苏州市中级人民法院",
        "title_number": "(2023)苏05民初1号",
        "filed_at": t,
        "listed_at": t,
        "expires_at": None,
        "updated_at": t,
        "delisted_at": None,
        "reason": None,
        "version": 1,
    }


@pytest.fixture
def registry() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture
def codec(registry: MemoryRegistry) -> Iterator[CourtbusCodec]:
    made = install(registry, name=NAME, schemas=SCHEMAS, auto_register=True)
    yield made
    codecs.codecs.pop(NAME, None)


def test_round_trip_of_a_view_entry(codec: CourtbusCodec) -> None:
    data = codec.for_record(ENTRY).dumps(entry())
    assert data[0] == 0
    assert codec.loads(data) == entry()


def test_every_sample_round_trips(codec: CourtbusCodec) -> None:
    for _, _, record, payload in one_per_flow():
        assert codec.loads(codec.for_record(record).dumps(payload)) == payload


def test_registered_by_name_and_faust_passes_tombstones(codec: CourtbusCodec) -> None:
    assert codecs.get_codec(NAME) is codec
    faust_registry = Registry()
    data = codec.for_record(ENTRY).dumps(entry())
    assert faust_registry.loads_value(None, data, serializer=NAME) == entry()
    assert faust_registry.loads_value(None, None, serializer=NAME) is None


def test_the_codec_itself_passes_tombstones(codec: CourtbusCodec) -> None:
    assert codec.loads(None) is None  # type: ignore[arg-type]  # a tombstone's value
    assert codec.for_record(ENTRY).dumps(None) is None


def test_decodes_by_the_writer_schema_with_no_reader(
    codec: CourtbusCodec, registry: MemoryRegistry
) -> None:
    # an agency's projection: another schema, fewer fields, that the repository does not hold
    projected = {
        "type": "record",
        "name": "BlacklistFeedEntry",
        "namespace": "cn.court.agency.nia",
        "fields": [
            {"name": "entry_id", "type": "string"},
            {
                "name": "status",
                "type": {"type": "enum", "name": "Status", "symbols": ["ACTIVE", "DELISTED"]},
            },
            {"name": "updated_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        ],
    }
    schema_id = registry.register("cn.court.agency.nia.BlacklistFeedEntry", json.dumps(projected))
    value = {"entry_id": "bl-1", "status": "DELISTED", "updated_at": entry()["updated_at"]}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(projected), value)
    assert codec.loads(frame(schema_id, buf.getvalue())) == value


def test_schemas_are_fetched_once_per_id(registry: MemoryRegistry) -> None:
    calls: list[int] = []
    fetch = registry.schema_by_id

    def counting(schema_id: int) -> str:
        calls.append(schema_id)
        return fetch(schema_id)

    registry.schema_by_id = counting  # type: ignore[method-assign]
    codec = CourtbusCodec(values=WireValues(registry, SCHEMAS, auto_register=True))
    data = codec.for_record(ENTRY).dumps(entry())
    for _ in range(3):
        codec.loads(data)
    assert len(calls) <= 1  # registering caches the text too


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"", "WIRE_EMPTY"),
        (b"\x00\x00", "WIRE_TRUNCATED"),
        (b"\x01\x00\x00\x00\x01\x02", "WIRE_BAD_MAGIC"),
        (frame(987_654, b"\x02"), "WIRE_UNKNOWN_SCHEMA_ID"),
    ],
)
def test_bad_values_have_codes(codec: CourtbusCodec, value: bytes, code: str) -> None:
    with pytest.raises(SerializationError) as info:
        codec.loads(value)
    assert info.value.code == code


def test_corrupt_and_trailing_bodies(codec: CourtbusCodec) -> None:
    data = codec.for_record(ENTRY).dumps(entry())
    with pytest.raises(SerializationError) as info:
        codec.loads(data[:-20])
    assert info.value.code == "AVRO_DECODE_FAILED"
    with pytest.raises(SerializationError) as info:
        codec.loads(data + b"\x00")
    assert info.value.code == "AVRO_TRAILING_BYTES"


def test_encoding_needs_a_record_and_a_fitting_dict(codec: CourtbusCodec) -> None:
    with pytest.raises(SerializationError) as info:
        codec.dumps(entry())
    assert info.value.code == "CODEC_NO_RECORD"
    with pytest.raises(SerializationError) as info:
        codec.for_record(ENTRY).dumps({"entry_id": "x"})
    assert info.value.code == "AVRO_ENCODE_FAILED"


class FlakyRegistry(MemoryRegistry):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def schema_by_id(self, schema_id: int) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise RegistryError("down", code="REGISTRY_UNAVAILABLE")
        return super().schema_by_id(schema_id)


def test_an_unreachable_registry_is_retried_then_reported() -> None:
    source = MemoryRegistry()
    data = CourtbusCodec(values=WireValues(source, SCHEMAS, auto_register=True))
    framed = data.for_record(ENTRY).dumps(entry())
    flaky = FlakyRegistry(failures=2)
    flaky.by_id = source.by_id
    codec = CourtbusCodec(values=WireValues(flaky, retries=2, backoff_s=0))
    assert codec.loads(framed) == entry()
    down = FlakyRegistry(failures=10)
    down.by_id = source.by_id
    with pytest.raises(RegistryError):
        CourtbusCodec(values=WireValues(down, retries=1, backoff_s=0)).loads(framed)


def test_cloudevents_headers_surface_from_a_faust_message(codec: CourtbusCodec) -> None:
    out = Envelope(AvroCodec(SCHEMAS, MemoryRegistry(), auto_register=True)).build(
        "blacklist.entries", ENTRY, entry(), "bus:blacklist"
    )
    message = Message("blacklist.entries", 0, 7, 0.0, 0, out.headers, out.key, out.value, None)
    found = ce_headers(message)
    assert found["ce_id"] == out.event.id
    assert found["ce_source"] == "bus:blacklist"
    assert found["ce_type"] == "cn.court.blacklist.entry"
    assert found["content-type"] == "application/avro"
    assert all(isinstance(v, str) for v in found.values())
    assert ce_id(message) == out.event.id
    assert event_headers(message) == out.event
    assert ce_headers(dict(out.headers)) == found  # headers as a mapping too


def test_a_tombstone_has_no_headers_and_bad_headers_are_refused() -> None:
    tombstone = Message("blacklist.entries", 0, 8, 0.0, 0, [], b"bl-1", None, None)
    assert ce_headers(tombstone) == {}
    assert ce_id(tombstone) is None
    with pytest.raises(ValidationError) as info:
        event_headers(tombstone)
    assert info.value.code == "HEADER_MISSING"


def test_json_safe_keeps_what_a_table_can_hold() -> None:
    t = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    assert json_safe({"a": t, "b": Decimal("1.20"), "c": [b"\x01"], "d": None}) == {
        "a": "2024-05-06T07:08:09.123000+00:00",
        "b": "1.20",
        "c": ["AQ=="],
        "d": None,
    }
    with pytest.raises(SerializationError) as info:
        json_safe(object())
    assert info.value.code == "JSON_UNSUPPORTED"
