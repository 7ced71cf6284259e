"""Produce throughput of courtbus records against the broker's own limit, in one run.

Starts a private one-broker stack (memory registry) on free ports, then measures:
1. the broker's limit: Kafka's ProducerPerformance, acks=all, idempotent, same record size;
2. courtbus encode only: Envelope.build (Avro + CloudEvents headers), no I/O;
3. courtbus end to end: Envelope.build + kafka-python idempotent producer, acks=all.
Prints records/s and each courtbus figure as a fraction of the broker's limit.

``--json PATH`` writes the figures (``bench.common.write_json``): ``producer_perf_rec_s``,
``sdk_encode_rec_s``, ``sdk_produce_rec_s``. ``python -m bench.produce [N] [--json PATH]``
(N default 50,000).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from bench.common import add_json_option, load, write_json
from courtbus.app import ops
from courtbus.app.samples import one_per_flow
from courtbus.config import Connection
from courtbus.stack import Stack, StackConfig, artifacts
from courtbus.wire.client import make_envelope, make_producer
from courtbus.wire.schemas import SchemaSet

N = 50_000  # records, unless given


def _free_base() -> int:
    from tests.ports import free_block

    return free_block(4)


def broker_limit(bootstrap: str, topic: str, records: int, size: int) -> float:
    """records/s of Kafka's own ProducerPerformance with the same guarantees."""
    kafka_dir = artifacts.ensure_kafka(artifacts.default_cache_dir())
    cmd = [
        "java",
        "-Xmx512m",
        "-cp",
        f"{kafka_dir}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        "linger.ms=5",
    ]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    last = [ln for ln in text.splitlines() if "records sent" in ln][-1]
    match = re.search(r"([\d.]+) records/sec", last)
    assert match, last
    return float(match.group(1))


def main() -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=N, help=f"records (default {N:,})")
    add_json_option(parser)
    args = parser.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory() as home:
        base = _free_base()
        stack = Stack(
            StackConfig(
                Path(home), port_base=base, registry_port=base + 2, registry_storage="memory"
            )
        )
        state = stack.up()
        try:
            conn = Connection(state.bootstrap, state.registry_url)
            schemas = SchemaSet.load()
            ops.register_schemas(conn.require_registry(), schemas)
            admin = KafkaAdminClient(bootstrap_servers=state.bootstrap)
            admin.create_topics([NewTopic("bench.raw", 3, 1), NewTopic("bench.courtbus", 3, 1)])
            admin.close()
            envelope = make_envelope(conn, schemas)
            source, _, record, payload = one_per_flow()[0]
            size = len(envelope.build("x", record, payload, source).value)

            limit = broker_limit(state.bootstrap, "bench.raw", max(n, 300_000), size)

            started = time.perf_counter()
            for _ in range(n):
                envelope.build("bench.courtbus", record, payload, source)
            encode_rate = n / (time.perf_counter() - started)

            producer = make_producer(conn)
            started = time.perf_counter()
            for _ in range(n):
                out = envelope.build("bench.courtbus", record, payload, source)
                producer.send(out.topic, key=out.key, value=out.value, headers=out.headers)
            producer.flush()
            produce_rate = n / (time.perf_counter() - started)
            producer.close()
        finally:
            stack.down()
    print(
        f"records: {n} DelegationRequested, value {size} bytes, acks=all, idempotent, 1 broker "
        f"| {load()}"
    )
    print(f"broker limit (ProducerPerformance): {limit:>10,.0f} records/s")
    print(
        f"courtbus encode only:               {encode_rate:>10,.0f} records/s  ({encode_rate / limit:.2f}× broker limit)"
    )
    print(
        f"courtbus encode + produce:          {produce_rate:>10,.0f} records/s  ({produce_rate / limit:.2f}× broker limit)"
    )
    write_json(
        args.json,
        {
            "producer_perf_rec_s": limit,
            "sdk_encode_rec_s": encode_rate,
            "sdk_produce_rec_s": produce_rate,
            "produce_records": n,
            "produce_record_bytes": size,
        },
    )


if __name__ == "__main__":
    main()
