"""Gateway throughput: valid records through the real gateway service, vs the broker's limit.

Starts a private one-broker stack (memory registry), pre-loads N valid DelegationRequested
records into a court outbox, starts the gateway, and times how long until all N are forwarded
to ``bus.delegation.events`` (read_committed: transactions included). Prints records/s and the
ratio to Kafka's own ProducerPerformance on the same broker in the same run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.produce import broker_limit
from courtbus.app import ops
from courtbus.app.samples import one_per_flow
from courtbus.config import Connection
from courtbus.stack import Stack, StackConfig
from courtbus.wire.client import make_envelope
from courtbus.wire.schemas import SchemaSet
from tests.ports import free_block

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000


def _debtors(count: int) -> list[str]:
    """``count`` distinct valid resident IDs (Kunshan, born 1993, varying sequence numbers)."""
    from stdnum.cn import ric

    ids = []
    for seq in range(count):
        body = f"32058319930312{seq:03d}"
        ids.append(body + ric.calc_check_digit(body + "0"))
    return ids


def main() -> None:
    """Run the measurement and print it."""
    with tempfile.TemporaryDirectory() as home:
        base = free_block(4)
        stack = Stack(
            StackConfig(
                Path(home), port_base=base, registry_port=base + 2, registry_storage="memory"
            )
        )
        state = stack.up()
        gateway = None
        try:
            conn = Connection(state.bootstrap, state.registry_url)
            ops.apply_topics(conn, ops.plan_topics(conn))
            schemas = SchemaSet.load()
            ops.register_schemas(conn.require_registry(), schemas)
            envelope = make_envelope(conn, schemas)
            source, topic, record, payload = one_per_flow()[0]
            producer = KafkaProducer(bootstrap_servers=state.bootstrap, acks="all", linger_ms=5)
            debtors = _debtors(1000)  # realistic repetition: 1,000 debtors over N requests
            for i in range(N):
                changed = {
                    **payload,
                    "delegation_id": f"dlg-bench-{i}",
                    "debtor": {**payload["debtor"], "id_number": debtors[i % len(debtors)]},
                }
                out = envelope.build(topic, record, changed, source)
                producer.send(out.topic, key=out.key, value=out.value, headers=out.headers)
            producer.flush()
            producer.close()
            size = len(out.value)
            limit = broker_limit(state.bootstrap, "bus.alerts", max(N, 300_000), size)

            env = {
                "COURTBUS_BOOTSTRAP": state.bootstrap,
                "COURTBUS_REGISTRY_URL": state.registry_url or "",
                "PATH": "/usr/bin:/bin",
            }
            log = Path(home) / "gateway.log"
            started = time.perf_counter()
            with log.open("wb") as fh:
                gateway = subprocess.Popen(
                    [sys.executable, "-m", "services.gateway"],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            consumer = KafkaConsumer(bootstrap_servers=state.bootstrap, isolation_level="read_committed", enable_auto_commit=False,
                                     group_id=f"bench-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest")  # fmt: skip
            parts = [
                TopicPartition("bus.delegation.events", p)
                for p in consumer.partitions_for_topic("bus.delegation.events") or ()
            ]
            consumer.assign(parts)
            seen = 0
            first = None
            while seen < N:
                batch = consumer.poll(timeout_ms=1000)
                got = sum(len(v) for v in batch.values())
                if got and first is None:
                    first = time.perf_counter()
                seen += got
                if time.perf_counter() - started > 600:
                    raise SystemExit(f"only {seen} of {N} forwarded in 600 s; see {log}")
            done = time.perf_counter()
            consumer.close()
        finally:
            if gateway is not None:
                gateway.terminate()
                gateway.wait(timeout=30)
            stack.down()
    steady = N / (done - (first or started))
    print(
        f"records: {N} DelegationRequested, value {size} bytes, 1 broker, 2 cores, gateway: 1 process, transactions"
    )
    print(f"broker limit (ProducerPerformance): {limit:>10,.0f} records/s")
    print(
        f"gateway incl. start-up:             {N / (done - started):>10,.0f} records/s  ({N / (done - started) / limit:.3f}× broker limit)"
    )
    print(
        f"gateway steady (first→last):        {steady:>10,.0f} records/s  ({steady / limit:.3f}× broker limit)"
    )


if __name__ == "__main__":
    main()
