"""The transactional consume-process-produce loop every courtbus service runs on (aiokafka).

A ``Processor`` decides; the ``Runner`` moves records. Each batch of input records, and each
timer tick, is one Kafka transaction holding every output and the consumer offsets, so a crash
(even SIGKILL) rolls back and the batch is processed again: nothing lost, nothing twice.
In-memory state is journaled per batch and rolled back with an aborted transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from courtbus.config import Connection
from courtbus.errors import RegistryError
from courtbus.gateway import Output

log = logging.getLogger("courtbus.runtime")
K = TypeVar("K")
V = TypeVar("V")


class Journaled(MutableMapping[K, V], Generic[K, V]):
    """A dict whose changes since ``mark()`` can be undone with ``rollback()``."""

    _MISSING: Any = object()

    def __init__(self) -> None:
        self._data: dict[K, V] = {}
        self._undo: dict[K, Any] = {}

    def mark(self) -> None:
        """Start a new batch: forget the undo log."""
        self._undo.clear()

    def rollback(self) -> None:
        """Undo every change since ``mark()``."""
        for key, old in self._undo.items():
            if old is self._MISSING:
                self._data.pop(key, None)
            else:
                self._data[key] = old
        self._undo.clear()

    def changed(self) -> list[K]:
        """Keys changed since ``mark()``."""
        return list(self._undo)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __setitem__(self, key: K, value: V) -> None:
        self._undo.setdefault(key, self._data.get(key, self._MISSING))
        self._data[key] = value

    def __delitem__(self, key: K) -> None:
        self._undo.setdefault(key, self._data.get(key, self._MISSING))
        del self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class Processor(Protocol):
    """What a service decides; every method but ``restore`` runs in a worker thread."""

    name: str  # consumer group and transactional id prefix

    def subscription(self) -> tuple[list[str], str | None]:
        """(topics, pattern): what to consume (one of them empty/None)."""
        ...

    def restore_topics(self) -> list[str]:
        """Compacted topics whose records rebuild the state, read fully before consuming."""
        ...

    def restore(self, record: Any) -> None:
        """Apply one state record read at start-up."""
        ...

    def handle(self, record: Any) -> list[Output]:
        """Outputs for one input record. Raise ``RegistryError`` to retry the batch."""
        ...

    def tick(self, now: datetime) -> list[Output]:
        """Outputs due at ``now`` (timers); called about every ``tick_s`` seconds."""
        ...

    def begin(self) -> None:
        """A batch starts (mark journaled state)."""
        ...

    def flush(self) -> list[Output]:
        """Outputs at the end of a batch or tick (e.g. one changelog record per changed key)."""
        ...

    def rollback(self) -> None:
        """The batch's transaction was aborted: undo its in-memory changes."""
        ...


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """How a runner connects and paces itself."""

    connection: Connection
    metadata_max_age_ms: int = 5000
    tick_s: float = 5.0
    retry_backoff_s: float = 2.0
    max_records: int = 500


def kafka_kwargs(conn: Connection) -> dict[str, Any]:
    """aiokafka keyword arguments for a connection."""
    return dict(conn.kafka_settings())


class Runner:
    """Runs one processor until ``stop()``."""

    def __init__(self, processor: Processor, config: RunnerConfig) -> None:
        self.processor = processor
        self.config = config
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the current batch and exit."""
        self._stopping.set()

    async def _restore(self) -> None:
        """Read the state topics to their end (committed records only) before consuming."""
        topics = self.processor.restore_topics()
        if not topics:
            return
        # No group: subscribing without one assigns every partition of the topics.
        consumer = AIOKafkaConsumer(*topics, **kafka_kwargs(self.config.connection), group_id=None,
                                    enable_auto_commit=False, isolation_level="read_committed",
                                    auto_offset_reset="earliest")  # fmt: skip
        await consumer.start()
        count = 0
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while not consumer.assignment():
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(
                        f"no partitions of {topics} after 30 s: run `courtbus topics apply`"
                    )
                await consumer.getmany(timeout_ms=200)
            tps = sorted(consumer.assignment())
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)  # read_committed: the last stable offsets
            while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
                for records in (await consumer.getmany(*tps, timeout_ms=1000)).values():
                    for record in records:
                        self.processor.restore(record)
                        count += 1
        finally:
            await consumer.stop()
        log.info("%s restored %d state records", self.processor.name, count)

    async def run(self) -> None:
        """Restore state, then consume, decide and produce until stopped."""
        name = self.processor.name
        conn = self.config.connection
        producer = AIOKafkaProducer(**kafka_kwargs(conn), acks="all", enable_idempotence=True,
                                    transactional_id=name)  # fmt: skip
        # One transactional id per service: a second process fences the first, so exactly one
        # instance is active (each holds the whole state, so they must not share the work).
        # Start the producer first: its transactional id fences a killed predecessor and aborts
        # that one's open transaction, so the state topics' last stable offset can advance.
        await producer.start()
        try:
            await self._restore()
        except BaseException:
            await producer.stop()
            raise
        consumer = AIOKafkaConsumer(
            **kafka_kwargs(conn), group_id=name, enable_auto_commit=False, auto_offset_reset="earliest",
            isolation_level="read_committed", metadata_max_age_ms=self.config.metadata_max_age_ms,
        )  # fmt: skip
        topics, pattern = self.processor.subscription()
        if pattern:
            consumer.subscribe(pattern=pattern)
        else:
            consumer.subscribe(topics)
        try:
            await consumer.start()
        except BaseException:
            await producer.stop()
            raise
        log.info("%s consuming %s", name, pattern or ", ".join(topics))
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=self.config.max_records)
                if batch:
                    await self._transact(producer, consumer, batch)
                if loop.time() >= next_tick:
                    next_tick = loop.time() + self.config.tick_s
                    await self._transact(producer, consumer, {})
        finally:
            await producer.stop()
            await consumer.stop()

    def _decide(self, batch: dict[TopicPartition, list[Any]]) -> list[Output]:
        outputs: list[Output] = []
        for records in batch.values():
            for record in records:
                outputs += self.processor.handle(record)
        if not batch:
            outputs += self.processor.tick(datetime.now(UTC))
        return outputs + self.processor.flush()

    async def _transact(
        self,
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
        batch: dict[TopicPartition, list[Any]],
    ) -> None:
        self.processor.begin()
        try:
            outputs = await asyncio.to_thread(self._decide, batch)
            if not outputs and not batch:
                return
            async with producer.transaction():
                for out in outputs:
                    await producer.send(
                        out.topic, key=out.key, value=out.value, headers=out.headers
                    )
                if batch:
                    offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                    await producer.send_offsets_to_transaction(offsets, self.processor.name)
        except RegistryError as exc:
            self.processor.rollback()
            log.warning(
                "%s: registry unavailable, retrying in %.0fs: %s",
                self.processor.name,
                self.config.retry_backoff_s,
                exc,
            )
            for tp, records in batch.items():
                consumer.seek(tp, records[0].offset)
            await asyncio.sleep(self.config.retry_backoff_s)
        except BaseException:
            self.processor.rollback()
            raise
