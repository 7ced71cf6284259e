"""Three KRaft brokers, replication 3, min ISR 2: one broker down, producing with acks=all goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from courtbus.stack import Stack, StackConfig
from tests.ports import free_block

pytestmark = pytest.mark.integration
TOPIC = "bus.delegation.events"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home: Path = tmp_path_factory.mktemp("three")
    stack = Stack(StackConfig(home, nodes=3, port_base=free_block(6), registry=False))
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


def _produce(producer: KafkaProducer, start: int, count: int) -> list[int]:
    futures = [
        producer.send(TOPIC, key=str(i).encode(), value=f"m{i}".encode())
        for i in range(start, start + count)
    ]
    return [f.get(timeout=60).offset for f in futures]


def test_cluster_keeps_accepting_acks_all_writes_with_one_broker_down(cluster: Stack) -> None:
    state = cluster.state()
    assert state is not None
    admin = KafkaAdminClient(bootstrap_servers=state.bootstrap)
    assert len(admin.describe_cluster()["brokers"]) == 3
    admin.create_topics([NewTopic(TOPIC, 6, 3, topic_configs={"min.insync.replicas": "2"})])
    described = admin.describe_topics([TOPIC])[0]["partitions"]
    assert all(len(p["replica_nodes"]) == 3 for p in described)
    admin.close()

    producer = KafkaProducer(
        bootstrap_servers=state.bootstrap,
        acks="all",
        enable_idempotence=True,
        retries=2**31 - 1,
        request_timeout_ms=15000,
        delivery_timeout_ms=120000,
    )
    _produce(producer, 0, 300)
    cluster.stop_broker(2, kill=True)  # SIGKILL: no controlled shutdown
    _produce(producer, 300, 300)
    assert cluster.status()[1][2] == "down"
    producer.flush()
    producer.close()

    bootstrap = ",".join(s for i, s in enumerate(state.bootstrap.split(",")) if i != 1)
    consumer = KafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=20000,
    )
    seen = []
    for rec in consumer:
        seen.append(rec.value)
        if len(seen) >= 600:
            break
    consumer.close()
    assert sorted(seen) == sorted(
        f"m{i}".encode() for i in range(600)
    )  # nothing lost, nothing twice


def test_a_stopped_broker_rejoins(cluster: Stack) -> None:
    cluster.start_broker(2)
    assert [row[2] for row in cluster.status()] == ["up", "up", "up"]
    state = cluster.state()
    assert state is not None
    admin = KafkaAdminClient(bootstrap_servers=state.bootstrap)
    assert len(admin.describe_cluster()["brokers"]) == 3
    admin.close()
