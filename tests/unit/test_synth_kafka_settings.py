"""The synthetic writer's producer settings are ones kafka-python accepts (it refuses unknown
settings when the producer is made, e.g. kafka-python 2's ``buffer_memory``)."""

from __future__ import annotations

import pytest
from kafka import KafkaProducer

from courtbus.synth.kafka import FAST_PRODUCER

UNREACHABLE = {"bootstrap_servers": "127.0.0.1:9", "api_version": (3, 0)}


def test_kafka_python_accepts_the_fast_producer_settings() -> None:
    producer = KafkaProducer(**UNREACHABLE, **FAST_PRODUCER)
    try:
        taken = {key: producer.config[key] for key in FAST_PRODUCER}
    finally:
        producer.close(timeout=0)
    assert taken == FAST_PRODUCER


def test_kafka_python_refuses_an_unknown_setting() -> None:
    # What the test above relies on: an unknown setting fails when the producer is made.
    with pytest.raises(ValueError, match="Unrecognized configs"):
        KafkaProducer(**UNREACHABLE, **FAST_PRODUCER, buffer_memory=32 * 1024 * 1024)
