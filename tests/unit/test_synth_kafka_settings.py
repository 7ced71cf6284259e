"""The synthetic writer's producer settings are ones kafka-python accepts (it refuses unknown
settings when the producer is made, e.g. kafka-python 2's ``buffer_memory``)."""

from __future__ import annotations

from kafka import KafkaProducer

from courtbus.synth.kafka import FAST_PRODUCER


def test_kafka_python_accepts_the_fast_producer_settings() -> None:
    producer = KafkaProducer(bootstrap_servers="127.0.0.1:9", api_version=(3, 0), **FAST_PRODUCER)
    producer.close(timeout=0)
