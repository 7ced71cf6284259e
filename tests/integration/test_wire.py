"""Records made by our codec are readable by the official CloudEvents SDK and plain fastavro."""

from __future__ import annotations

import io
import json
import struct

import fastavro
import httpx
import pytest
from cloudevents.v1.kafka import KafkaMessage, from_binary
from kafka import KafkaConsumer

from courtbus.app import ops
from courtbus.app.samples import one_per_flow
from courtbus.config import Connection
from courtbus.errors import SerializationError
from courtbus.wire.client import make_producer, send
from courtbus.wire.codec import frame
from courtbus.wire.envelope import Envelope
from courtbus.wire.schemas import SchemaSet

pytestmark = pytest.mark.integration


def _consume(conn: Connection, topic: str, count: int) -> list:  # type: ignore[type-arg]
    consumer = KafkaConsumer(
        topic,
        **conn.kafka_settings(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15000,
    )
    try:
        records = []
        for rec in consumer:
            records.append(rec)
            if len(records) == count:
                break
        return records
    finally:
        consumer.close()


def test_cloudevents_sdk_and_plain_fastavro_read_our_records(
    conn: Connection, envelope: Envelope, topic: str
) -> None:
    samples = one_per_flow()
    producer = make_producer(conn)
    sent = {}
    for source, _, record, payload in samples:
        out = envelope.build(topic, record, payload, source)
        send(producer, out)
        sent[out.event.id] = (out, payload)
    producer.close()

    records = _consume(conn, topic, len(samples))
    assert len(records) == len(samples)
    for rec in records:
        # 1. the official CloudEvents SDK, Kafka binding, binary mode
        message = KafkaMessage(headers=dict(rec.headers), key=rec.key, value=rec.value)
        event = from_binary(message, data_unmarshaller=lambda data: data)
        out, payload = sent[event["id"]]
        assert event["specversion"] == "1.0"
        assert event["source"] == out.event.source
        assert event["type"] == out.event.type
        assert event["subject"] == out.event.subject
        assert event["datacontenttype"] == "application/avro"
        assert event.get_data() == rec.value
        assert rec.key == out.key

        # 2. plain fastavro, schema fetched by id from the registry over HTTP
        magic, schema_id = struct.unpack(">bI", rec.value[:5])
        assert magic == 0
        schema = httpx.get(f"{conn.registry_url}/schemas/ids/{schema_id}").json()["schema"]
        value = fastavro.schemaless_reader(
            io.BytesIO(rec.value[5:]), fastavro.parse_schema(json.loads(schema))
        )
        assert value == payload

        # 3. and our own reader agrees
        assert envelope.read(rec).payload == payload


def test_unknown_schema_id_from_the_real_registry(envelope: Envelope) -> None:
    with pytest.raises(SerializationError) as info:
        envelope.codec.decode(frame(987_654, b"\x02"))
    assert info.value.code == "WIRE_UNKNOWN_SCHEMA_ID"


def test_registration_is_idempotent(
    conn: Connection, registered: dict[str, int], schemas: SchemaSet
) -> None:
    assert ops.register_schemas(conn.require_registry(), schemas) == registered
    assert len(set(registered.values())) == len(registered)
