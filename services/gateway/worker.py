"""The gateway's consume-check-produce loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from courtbus.catalogue.directory import DEFAULT_PATH as DIRECTORY_PATH
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import DEFAULT_PATH as POLICY_PATH
from courtbus.catalogue.policies import load_policies
from courtbus.config import Connection
from courtbus.errors import CourtbusError, RegistryError
from courtbus.gateway import Gateway, Output, dead_letter, rejection_notice
from courtbus.gateway.core import OUTBOX_PATTERN
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet

log = logging.getLogger("courtbus.gateway")
SEEN_TOPIC = "bus.gateway.seen"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Where the gateway reads, writes and finds its rules."""

    connection: Connection
    group_id: str = "courtbus-gateway"
    instance: str = "0"  # transactional id suffix: one per running gateway process
    directory_path: Path = DIRECTORY_PATH
    policy_path: Path = POLICY_PATH
    metadata_max_age_ms: int = 5000  # how soon a new outbox topic is subscribed
    reload_every_s: float = 10.0  # how often the directory and policy files are re-read
    retry_backoff_s: float = 2.0


@dataclass
class Counters:
    """What the gateway has done since it started."""

    forwarded: int = 0
    refused: int = 0
    duplicates: int = 0
    retries: int = 0


def _kafka_kwargs(conn: Connection) -> dict[str, Any]:
    settings = conn.kafka_settings()
    kwargs: dict[str, Any] = {"bootstrap_servers": settings.pop("bootstrap_servers")}
    kwargs.update(settings)
    return kwargs


class GatewayWorker:
    """Runs until ``stop()``; safe to kill at any point (transactions roll back)."""

    def __init__(
        self, config: GatewayConfig, on_batch: Callable[[Counters], None] | None = None
    ) -> None:
        self.config = config
        self.counters = Counters()
        self._on_batch = on_batch
        self._stopping = asyncio.Event()
        self._registry = RegistryClient(config.connection.require_registry())
        self._envelope = Envelope(AvroCodec(SchemaSet.load(), self._registry))
        self._gateway = self._load_rules()
        self._mtimes = self._rule_mtimes()
        self._seen: set[str] = set()

    def _rule_mtimes(self) -> tuple[float, float]:
        return (self.config.directory_path.stat().st_mtime, self.config.policy_path.stat().st_mtime)

    def _load_rules(self) -> Gateway:
        directory = load_directory(self.config.directory_path)
        return Gateway(self._envelope, directory, load_policies(directory, self.config.policy_path))

    def _maybe_reload(self) -> None:
        mtimes = self._rule_mtimes()
        if mtimes == self._mtimes:
            return
        self._mtimes = mtimes
        try:
            self._gateway = self._load_rules()
            log.info("directory/policy reloaded: %d courts", len(self._gateway.directory.courts))
        except CourtbusError as exc:
            log.error("keeping the previous directory/policy: %s", exc)

    def stop(self) -> None:
        """Ask the loop to finish its batch and exit."""
        self._stopping.set()

    async def _load_seen(self) -> None:
        """Read every accepted ce_id from the compacted dedup topic."""
        consumer = AIOKafkaConsumer(
            **_kafka_kwargs(self.config.connection), enable_auto_commit=False,
            isolation_level="read_committed", auto_offset_reset="earliest",
        )  # fmt: skip
        await consumer.start()
        try:
            await consumer.topics()  # fetch metadata, so partitions_for_topic knows the topic
            parts = consumer.partitions_for_topic(SEEN_TOPIC) or set()
            tps = [TopicPartition(SEEN_TOPIC, p) for p in parts]
            if not tps:
                return
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    self._seen.update(r.key.decode() for r in records if r.key)
        finally:
            await consumer.stop()
        log.info("dedup store: %d accepted event ids", len(self._seen))

    def _decide(self, raw: Any) -> tuple[list[Output], str | None]:
        """Outputs for one record and the ce_id it marks as seen (blocking: runs in a thread)."""
        try:
            fwd = self._gateway.check(raw)
        except RegistryError:
            raise
        except CourtbusError as exc:
            outputs = [dead_letter(raw, exc)]
            try:
                kind, pid = self._gateway.owner(raw.topic)
                outputs.append(rejection_notice(self._envelope, raw, exc, kind, pid))
            except RegistryError:
                raise
            except CourtbusError:
                pass  # no known sender to notify: the dead letter alone records it
            log.warning("refused %s@%d:%d %s", raw.topic, raw.partition, raw.offset, exc)
            self.counters.refused += 1
            return outputs, None
        event_id = fwd.event.headers.id
        if event_id in self._seen:
            self.counters.duplicates += 1
            log.info("dropped duplicate %s from %s", event_id, raw.topic)
            return [], None
        self.counters.forwarded += 1
        mark = Output(
            SEEN_TOPIC, event_id.encode(), f"{raw.topic}:{raw.partition}:{raw.offset}".encode(), []
        )
        return [fwd.output, mark], event_id

    async def run(self) -> None:
        """Consume outboxes until stopped."""
        conn = self.config.connection
        await self._load_seen()
        consumer = AIOKafkaConsumer(
            **_kafka_kwargs(conn), group_id=self.config.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            metadata_max_age_ms=self.config.metadata_max_age_ms,
        )  # fmt: skip
        producer = AIOKafkaProducer(
            **_kafka_kwargs(conn), acks="all", enable_idempotence=True,
            transactional_id=f"{self.config.group_id}-{self.config.instance}",
        )  # fmt: skip
        consumer.subscribe(pattern=OUTBOX_PATTERN)
        await consumer.start()
        await producer.start()
        log.info("gateway consuming %s", OUTBOX_PATTERN)
        last_reload = asyncio.get_running_loop().time()
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=500)
                now = asyncio.get_running_loop().time()
                if now - last_reload > self.config.reload_every_s:
                    last_reload = now
                    self._maybe_reload()
                if not batch:
                    continue
                await self._process(consumer, producer, batch)
                if self._on_batch:
                    self._on_batch(self.counters)
        finally:
            await producer.stop()
            await consumer.stop()
            self._registry.close()

    async def _process(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        batch: dict[TopicPartition, list[Any]],
    ) -> None:
        newly_seen: list[str] = []
        try:
            async with producer.transaction():
                for records in batch.values():
                    for raw in records:
                        outputs, event_id = await asyncio.to_thread(self._decide, raw)
                        for out in outputs:
                            await producer.send(
                                out.topic, key=out.key, value=out.value, headers=out.headers
                            )
                        if event_id:
                            newly_seen.append(event_id)
                            self._seen.add(
                                event_id
                            )  # a duplicate later in this batch is dropped too
                offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                await producer.send_offsets_to_transaction(offsets, self.config.group_id)
        except RegistryError as exc:
            self._seen.difference_update(newly_seen)
            self.counters.retries += 1
            log.warning(
                "registry unavailable, retrying batch in %.0fs: %s",
                self.config.retry_backoff_s,
                exc,
            )
            for tp, records in batch.items():
                consumer.seek(tp, records[0].offset)
            await asyncio.sleep(self.config.retry_backoff_s)
