"""Wire format: Avro values in Confluent framing, CloudEvents headers, registry client.

May import fastavro, avro, httpx and the domain layer; must not import Kafka clients except in
``courtbus.wire.client``.
"""
