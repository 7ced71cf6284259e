"""The flow runtime on the real broker: failures become INTERNAL_ERROR, restarts read the tail.

A small counting flow runs in a worker thread against the session's Kafka and registry, on
topics of its own, so nothing here touches the services' topics.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from courtbus.app import ops
from courtbus.bus.records import Output
from courtbus.config import Connection
from courtbus.runtime import Flow, Incoming, Inputs, State, json_store
from courtbus.runtime.config import WorkerConfig
from courtbus.runtime.worker import Worker
from courtbus.wire.envelope import Envelope
from tests.integration.helpers import TopicReader, header

pytestmark = pytest.mark.integration
COUNTS = json_store("counts")


def counter_flow(envelope: Envelope, name: str, source: str, out: str) -> Flow:
    """A flow counting records per key; a record whose value is ``boom`` makes it raise."""

    class Counter(Flow):
        inputs = Inputs(topics=(source,))
        stores = (COUNTS,)
        decode = False

        def on_event(self, record: Incoming, state: State) -> list[Output]:
            raw = record.raw
            if raw.value == b"boom":
                raise RuntimeError("the flow cannot handle this record")
            counts = state.table(COUNTS)
            key = (raw.key or b"").decode()
            counts.put(key, (counts.get(key) or 0) + 1)
            return [Output(out, raw.key, raw.value, [])]

    Counter.name = name
    Counter.source = f"bus:{name}"
    return Counter(envelope)


class Running:
    """A worker in a thread, stopped cleanly on exit."""

    def __init__(self, flow: Flow, conn: Connection, state_dir: Path) -> None:
        config = WorkerConfig(conn, state_dir, instance=0, tick_s=1.0)
        self.worker = Worker(flow, config)
        self.thread = threading.Thread(target=self.worker.run, daemon=True)

    def __enter__(self) -> Worker:
        self.thread.start()
        return self.worker

    def __exit__(self, *_: object) -> None:
        self.worker.stop()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the worker did not stop"


def wait_until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def bus_topics(conn: Connection) -> None:
    """The catalogue's topics (dead letters, alerts) exist."""
    ops.apply_topics(conn, ops.plan_topics(conn))


@pytest.fixture
def topics(conn: Connection, bus_topics: None) -> Iterator[tuple[str, str, str]]:
    """(flow name, input topic, output topic), one partition each."""
    name = f"rt{uuid.uuid4().hex[:8]}"
    source, out = f"test.{name}.in", f"test.{name}.out"
    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        admin.create_topics([NewTopic(source, 1, 1), NewTopic(out, 1, 1)])
    finally:
        admin.close()
    yield name, source, out


def _produce(conn: Connection, topic: str, records: list[tuple[bytes, bytes]]) -> list[int]:
    producer = KafkaProducer(**conn.kafka_settings(), linger_ms=20, batch_size=512 * 1024)
    try:
        futures = [producer.send(topic, key=k, value=v) for k, v in records]
        producer.flush()
        return [f.get().offset for f in futures]
    finally:
        producer.close()


@pytest.mark.timeout(240)
def test_a_record_that_makes_the_flow_raise_is_dead_lettered_and_the_next_is_processed(
    conn: Connection, envelope: Envelope, topics: tuple[str, str, str], tmp_path: Path
) -> None:
    name, source, out = topics
    offsets = _produce(conn, source, [(b"a", b"one"), (b"b", b"boom"), (b"c", b"two")])
    bad = f"{source}:0:{offsets[1]}"
    reader = TopicReader(conn, out, "bus.deadletter", "bus.alerts")
    try:
        with Running(counter_flow(envelope, name, source, out), conn, tmp_path) as worker:
            reader.wait_for(lambda r: r.topic == out, count=2, timeout_s=90)
            dead = reader.wait_for(
                lambda r: r.topic == "bus.deadletter" and header(r, "dlq_topic") == source
            )
            alerts = reader.wait_for(lambda r: r.topic == "bus.alerts" and r.key == bad.encode())
            assert worker.tasks, "the worker still runs its task"
        reader.poll()
        assert [r.value for r in reader.records if r.topic == out] == [b"one", b"two"]
        dead = [
            r
            for r in reader.records
            if r.topic == "bus.deadletter" and header(r, "dlq_topic") == source
        ]
        assert len(dead) == 1 and dead[0].value == b"boom" and dead[0].key == b"b"
        assert header(dead[0], "dlq_code") == "INTERNAL_ERROR"
        assert header(dead[0], "dlq_offset") == str(offsets[1])
        alerts = [r for r in reader.records if r.topic == "bus.alerts" and r.key == bad.encode()]
        assert len(alerts) == 1
        alert = envelope.read(alerts[0])
        assert alert.record == "cn.court.bus.notice.ServiceAlert"
        assert alert.payload["code"] == "INTERNAL_ERROR"
        assert alert.payload["service"] == f"bus:{name}"
        assert "RuntimeError" in alert.payload["message"]
    finally:
        reader.close()


@pytest.mark.timeout(600)
def test_a_restart_with_a_million_stored_entities_reads_only_the_changelog_tail(
    conn: Connection, envelope: Envelope, topics: tuple[str, str, str], tmp_path: Path
) -> None:
    name, source, out = topics
    entities = 1_000_000
    changelog = f"bus.{name}.counts.changelog"
    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        admin.create_topics(
            [NewTopic(changelog, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    finally:
        admin.close()
    # The store's history, as earlier workers would have written it.
    _produce(conn, changelog, [(f"k{i:07d}".encode(), b"1") for i in range(entities)])
    flow = counter_flow(envelope, name, source, out)

    started = time.monotonic()
    with Running(flow, conn, tmp_path) as worker:
        wait_until(lambda: bool(worker.tasks), 300, "the first assignment and full restore")
        assert worker.restored == entities, "a worker with no local state reads it all"
        first_restore_s = time.monotonic() - started
        _produce(conn, source, [(b"k0000001", b"x"), (b"new", b"y")])
        reader = TopicReader(conn, out)
        try:
            reader.wait_for(lambda r: True, count=2, timeout_s=60)
        finally:
            reader.close()
        task = next(iter(worker.tasks.values()))
        assert task.backend.count("counts") == entities + 1
        assert task.state.table(COUNTS).get("k0000001") == 2

    # A clean restart: nothing was written since the checkpoint.
    with Running(flow, conn, tmp_path) as worker:
        wait_until(lambda: bool(worker.tasks), 120, "the assignment after a clean restart")
        assert worker.restored == 0

    # Another owner wrote 250 changes meanwhile: exactly those are read.
    tail = 250
    _produce(conn, changelog, [(f"k{i:07d}".encode(), b"7") for i in range(tail)])
    started = time.monotonic()
    with Running(flow, conn, tmp_path) as worker:
        wait_until(lambda: bool(worker.tasks), 120, "the assignment after others wrote")
        assert worker.restored == tail
        tail_restore_s = time.monotonic() - started
        task = next(iter(worker.tasks.values()))
        assert task.state.table(COUNTS).get("k0000000") == 7
        assert task.backend.count("counts") == entities + 1
    print(
        f"full restore of {entities} entities: {first_restore_s:.1f}s; tail: {tail_restore_s:.1f}s"
    )


@pytest.mark.timeout(300)
def test_a_paced_input_leaves_room_for_the_others_and_loses_nothing(
    conn: Connection, envelope: Envelope, topics: tuple[str, str, str], tmp_path: Path
) -> None:
    """A backlog on a paced input (at most 100 records a batch: the rest of each fetch waits
    in the worker's carry, its partitions paused while much waits) is read in full, each
    record once, and a record on the other input arriving behind it gets through before the
    backlog ends."""
    name, backlog, out = topics
    live = f"test.{name}.live"
    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        admin.create_topics([NewTopic(live, 1, 1)])
    finally:
        admin.close()
    _produce(conn, backlog, [(f"b{i:05d}".encode(), b"old") for i in range(20_000)])

    class Paced(Flow):
        inputs = Inputs(topics=(backlog, live))
        decode = False
        paced_inputs = {backlog: 100}  # noqa: RUF012  # a test's class

        def on_event(self, record: Incoming, state: State) -> list[Output]:
            if record.raw.value == b"old":
                # each backlog record costs a little work, so the backlog (>= 10 s) cannot
                # be done before the live record is sent: the test then judges the pacing,
                # not which of the two was quicker on an idle machine
                time.sleep(0.0005)
            return [Output(out, record.raw.key, record.raw.value, [])]

    Paced.name, Paced.source = name, f"bus:{name}"
    reader = TopicReader(conn, out)
    try:
        with Running(Paced(envelope), conn, tmp_path):
            seen = len(reader.wait_for(lambda r: r.value == b"old", count=500, timeout_s=120))
            _produce(conn, live, [(b"live", b"now")])
            reader.wait_for(lambda r: r.value == b"now", timeout_s=60)
            reader.wait_for(lambda r: r.value == b"old", count=20_000, timeout_s=180)
        reader.poll()
    finally:
        reader.close()
    # where the live record's output is among the backlog's (one output partition, in order)
    values = [r.value for r in reader.records]
    before_live = values[: values.index(b"now")].count(b"old")
    # sent once `seen` were out, it waits at most a few batches (a quarter of the backlog
    # leaves room for a slow machine; without the pacing, measured: after 18,000 more)
    assert before_live < seen + 5_000, f"the live record waited for {before_live - seen} more"
    keys = [r.key for r in reader.records if r.value == b"old"]
    assert len(keys) == 20_000 and len(set(keys)) == 20_000  # each once, none lost


def test_the_runtime_producer_partitions_keys_as_kafka_python_does(
    conn: Connection, topics: tuple[str, str, str]
) -> None:
    """Every producer of the bus must put a key on the same partition (co-partitioned tasks,
    compaction): the runtime's librdkafka producer with murmur2, like kafka-python and Java."""
    from courtbus.runtime.client import TransactionalProducer

    name = f"test.{topics[0]}.parts"
    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        admin.create_topics([NewTopic(name, 6, 1)])
    finally:
        admin.close()
    keys = [f"bl-{i:04d}".encode() for i in range(60)]
    theirs = dict(zip(keys, _partitions(conn, name, keys), strict=True))
    producer = TransactionalProducer(
        conn.librdkafka_settings(),
        transactional_id=f"{name}-tx",
        transaction_timeout_ms=10_000,
        linger_ms=5,
        max_request_bytes=1_048_576,
    )
    producer.init()
    producer.begin()
    for key in keys:
        producer.send(Output(name, key, b"x", []), tag=key)
    producer.commit()
    assert {k: p for k, (p, _) in producer.delivered.items()} == theirs


def _partitions(conn: Connection, topic: str, keys: list[bytes]) -> list[int]:
    producer = KafkaProducer(**conn.kafka_settings())
    try:
        futures = [producer.send(topic, key=k, value=b"y") for k in keys]
        producer.flush()
        return [f.get().partition for f in futures]
    finally:
        producer.close()


@pytest.mark.timeout(120)
def test_a_flow_with_a_batch_wait_gathers_records_that_trickle_in_into_one_batch(
    conn: Connection, envelope: Envelope, topics: tuple[str, str, str], tmp_path: Path
) -> None:
    """``Flow.batch_wait_ms``: once a batch's first record arrived, the worker keeps gathering
    for that long even when the input is drained, so five records sent 50 ms apart are one
    batch (one transaction); without it each would end its own batch as the input drains."""
    name, source, out = topics
    batches: list[int] = []

    class Holding(Flow):
        inputs = Inputs(topics=(source,))
        decode = False
        batch_wait_ms = 3000

        def begin_batch(self) -> None:
            batches.append(0)

        def on_event(self, record: Incoming, state: State) -> list[Output]:
            batches[-1] += 1
            return [Output(out, record.raw.key, record.raw.value, [])]

    Holding.name, Holding.source = name, f"bus:{name}"
    _produce(conn, source, [(b"first", b"0")])  # the worker is up once it is through
    producer = KafkaProducer(**conn.kafka_settings())
    reader = TopicReader(conn, out)
    try:
        with Running(Holding(envelope), conn, tmp_path):
            reader.wait_for(lambda r: r.key == b"first", timeout_s=60)
            for i in range(5):
                producer.send(source, key=f"k{i}".encode(), value=b"1").get(timeout=10)
                time.sleep(0.05)  # spacing the sends is the point, not a wait for a condition
            reader.wait_for(lambda r: r.value == b"1", count=5, timeout_s=60)
    finally:
        producer.close()
        reader.close()
    assert [n for n in batches if n] == [1, 5], f"records per batch: {batches}"
