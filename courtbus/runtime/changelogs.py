"""Changelog topics of a flow's stores: which task writes where, and restoring a task from them.

Each store ``s`` of flow ``f`` has the compacted topic ``bus.f.s.changelog``; timers have
``bus.f.timers.changelog``. For topic inputs, task p (partition p of every input topic)
writes changelog partition p. For a pattern input each topic-partition is a task; tasks share
the changelog's partitions by hash, so their keys carry the task as a prefix. A record's time
column (expiry or due time) travels in the ``cb_t`` header. A packed store's record holds a
batch's entries (``courtbus.runtime.packs``): a restore unpacks it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    TopicAlreadyExistsError,
)

from courtbus.errors import ClusterError, StateError
from courtbus.runtime.config import WorkerConfig
from courtbus.runtime.flow import TIMERS, Flow
from courtbus.runtime.packs import PACK, unpack
from courtbus.runtime.sqlite import SqliteBackend
from courtbus.runtime.state import Entry

log = logging.getLogger("courtbus.runtime")
SEP = b"\x1f"


@dataclass(frozen=True, slots=True, order=True)
class TaskId:
    """A task: a partition number (topic inputs) or one topic-partition (pattern inputs)."""

    partition: int
    topic: str | None = None

    @property
    def name(self) -> str:
        """File-safe name: ``p3``, or ``court.3205.outbox-1``."""
        return f"p{self.partition}" if self.topic is None else f"{self.topic}-{self.partition}"


def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition counts of those of ``names`` that exist (never creates one by asking)."""
    present = [n for n in names if n in set(admin.list_topics())]
    if not present:
        return {}
    described = admin.describe_topics(present)
    return {t["name"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


class TopicWatch:
    """Follows which topics match a pattern, on its own thread and admin client.

    kafka-python's own pattern subscription can miss a topic that appears in metadata before
    its partitions do, so the worker lists topics itself; doing it on the poll loop paused
    every batch for the round trips, so a thread does it and the loop only reads ``found``.
    """

    def __init__(self, settings: dict[str, Any], pattern: str, interval_s: float) -> None:
        self.settings = settings
        self.regex = re.compile(pattern)
        self.interval_s = interval_s
        self.found: frozenset[str] = frozenset()
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="topic-watch", daemon=True)

    def start(self) -> None:
        """Start listing; ``ready`` is set after the first successful listing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop listing and close the admin client."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        admin: KafkaAdminClient | None = None
        while not self._stop.is_set():
            try:
                if admin is None:
                    admin = KafkaAdminClient(**self.settings)
                names = [t for t in admin.list_topics() if self.regex.match(t)]
                self.found = frozenset(_partition_counts(admin, names)) if names else frozenset()
                self.ready.set()
            except KafkaError as exc:  # the broker is away: keep the last list, ask again
                log.warning("cannot list topics for %s: %s", self.regex.pattern, exc)
            self._stop.wait(self.interval_s)
        if admin is not None:
            admin.close()


# What kafka-python raises when no broker answers (not a refusal by one that does).
_CONNECTION_ERRORS = (KafkaTimeoutError, KafkaConnectionError, NodeNotReadyError)


def _unreachable(bootstrap: str, exc: Exception) -> ClusterError:
    """The one error for a cluster that does not answer, as the CLI and the services say it."""
    detail = str(exc)
    if not detail.startswith(type(exc).__name__):
        detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return ClusterError(f"cannot reach Kafka at {bootstrap}: {detail}", code="CLUSTER_UNREACHABLE")


def changelog_topic(flow: str, store: str) -> str:
    """The changelog topic of one store of a flow."""
    return f"bus.{flow}.{store}.changelog"


class Changelogs:
    """A flow's changelog topics: where changes go, and how a task is restored."""

    def __init__(self, flow: Flow, config: WorkerConfig) -> None:
        self.flow = flow
        self.config = config
        self.stores = [s.name for s in flow.stores] + ([TIMERS] if flow.timers else [])
        self.partitions = config.changelog_partitions
        self._restorer: KafkaConsumer | None = None

    # -- layout -------------------------------------------------------------------------------

    def task_of(self, tp: TopicPartition) -> TaskId:
        """The task an input partition belongs to."""
        if self.flow.inputs.pattern:
            return TaskId(tp.partition, tp.topic)
        return TaskId(tp.partition)

    def place(self, task: TaskId) -> tuple[int, bytes]:
        """(changelog partition, key prefix) of a task's changes."""
        if task.topic is None:
            return task.partition, b""
        prefix = f"{task.topic}:{task.partition}".encode()
        return zlib.crc32(prefix) % self.partitions, prefix + SEP

    def record(
        self, task: TaskId, store: str, key: bytes, entry: Entry
    ) -> tuple[TopicPartition, bytes, list[tuple[str, bytes]]]:
        """Where a change goes: (topic-partition, record key, headers)."""
        partition, prefix = self.place(task)
        headers = [("cb_t", str(entry.t).encode())] if entry.t is not None else []
        return (
            TopicPartition(changelog_topic(self.flow.name, store), partition),
            prefix + key,
            headers,
        )

    # -- topics ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create missing changelog topics; check existing ones fit the input.

        Raises:
            ClusterError: ``CLUSTER_UNREACHABLE`` (no broker answers).
            StateError: ``CHANGELOG_MISFIT`` (partition counts differ),
                ``INPUT_TOPIC_MISSING`` (run ``courtbus topics apply``) or
                ``CHANGELOG_UNAVAILABLE`` (the cluster answered but refused).
        """
        if not self.stores:
            return  # a stateless flow (the projector): no changelogs, no co-partitioning
        settings = self.config.connection.kafka_settings()
        try:
            admin = KafkaAdminClient(**settings)
        except KafkaError as exc:
            raise _unreachable(self.config.connection.bootstrap, exc) from exc
        try:
            if self.flow.inputs.topics:
                self.partitions = self._input_partitions(admin)
            brokers = len(admin.describe_cluster()["brokers"])
            replication = min(3, brokers)
            names = [changelog_topic(self.flow.name, s) for s in self.stores]
            existing = _partition_counts(admin, names)
            for name in names:
                if name in existing:
                    if existing[name] != self.partitions:
                        raise StateError(
                            f"{name} has {existing[name]} partitions; this flow needs "
                            f"{self.partitions} (one per input partition)",
                            code="CHANGELOG_MISFIT",
                        )
                    continue
                topic = NewTopic(name, self.partitions, replication, topic_configs={
                    "cleanup.policy": "compact",
                    "min.insync.replicas": "2" if replication >= 3 else "1",
                })  # fmt: skip
                try:
                    admin.create_topics([topic])
                    log.info("created changelog %s (%d partitions)", name, self.partitions)
                except TopicAlreadyExistsError:
                    pass
        except _CONNECTION_ERRORS as exc:
            raise _unreachable(self.config.connection.bootstrap, exc) from exc
        except KafkaError as exc:
            raise StateError(
                f"cannot prepare changelogs: {exc}", code="CHANGELOG_UNAVAILABLE"
            ) from exc
        finally:
            admin.close()

    def _input_partitions(self, admin: KafkaAdminClient) -> int:
        counts: dict[str, int] = {}
        deadline, waited = time.monotonic() + 60, False
        while True:
            counts = _partition_counts(admin, list(self.flow.inputs.topics))
            if len(counts) == len(self.flow.inputs.topics):
                break
            missing = sorted(set(self.flow.inputs.topics) - set(counts))
            if time.monotonic() > deadline:
                raise StateError(
                    f"input topics {missing} do not exist: run `courtbus topics apply`",
                    code="INPUT_TOPIC_MISSING",
                )
            if not waited:
                log.warning("input topics %s do not exist yet; waiting up to 60 s", missing)
                waited = True
            time.sleep(1)
        if len(set(counts.values())) != 1:
            raise StateError(
                f"input topics must have the same partition count to share state: {counts}",
                code="CHANGELOG_MISFIT",
            )
        return next(iter(counts.values()))

    # -- restore -----------------------------------------------------------------------------

    def _consumer(self) -> KafkaConsumer:
        if self._restorer is None:
            self._restorer = KafkaConsumer(
                **self.config.connection.kafka_settings(), group_id=None,
                enable_auto_commit=False, isolation_level="read_committed",
                max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024,
            )  # fmt: skip
        return self._restorer

    def bounds(self, tasks: list[TaskId]) -> dict[TopicPartition, tuple[int, int]]:
        """(first, end) offsets of the changelog partitions of ``tasks``, asked in one go.

        Tasks of a pattern input share partitions: asking per task cost two round trips each,
        which was most of a warm restart of the gateway's dozens of tasks.
        """
        consumer = self._consumer()
        tps = sorted(
            {
                TopicPartition(changelog_topic(self.flow.name, store), self.place(t)[0])
                for t in tasks
                for store in self.stores
            }
        )
        if not tps:
            return {}
        begins = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)  # read_committed: the last stable offsets
        return {tp: (begins[tp], ends[tp]) for tp in tps}

    def restore(
        self,
        task: TaskId,
        backend: SqliteBackend,
        bounds: dict[TopicPartition, tuple[int, int]] | None = None,
    ) -> int:
        """Bring a task's local state up to its changelogs' ends; the records read.

        Only the tail after the local checkpoint is read, unless the local state is missing,
        older than ``max_checkpoint_age_s`` (compaction may have removed tombstones since),
        or does not match the topic (recreated or truncated): then the store is read in full.
        ``bounds`` (from ``bounds``) saves asking for the partitions' offsets again.
        """
        partition, prefix = self.place(task)
        consumer = self._consumer()
        bounds = bounds if bounds is not None else self.bounds([task])
        count = 0
        for store in self.stores:
            tp = TopicPartition(changelog_topic(self.flow.name, store), partition)
            begin, end = bounds[tp]
            checkpoint = backend.checkpoint(store)
            age = backend.checkpoint_age(store)
            if (
                checkpoint is None
                or not begin <= checkpoint <= end
                or (age is not None and age > self.config.max_checkpoint_age_s)
            ):
                if checkpoint is not None:
                    log.info("%s/%s: local state unusable, restoring in full", task.name, store)
                backend.clear(store)
                checkpoint = begin
            if checkpoint >= end:  # nothing new: a fresh checkpoint, so an idle task stays warm
                backend.write({}, {store: checkpoint})
                continue
            count += self._read(consumer, tp, checkpoint, end, store, prefix, backend)
        return count

    def _read(
        self,
        consumer: KafkaConsumer,
        tp: TopicPartition,
        start: int,
        end: int,
        store: str,
        prefix: bytes,
        backend: SqliteBackend,
    ) -> int:
        consumer.assign([tp])
        consumer.seek(tp, start)
        count = 0
        idle = 0
        while consumer.position(tp) < end:
            polled: dict[Any, list[Any]] = consumer.poll(timeout_ms=500, max_records=20_000)
            records = polled.get(tp, [])
            if not records:
                idle += 1
                if idle > 20:  # only control records or aborted data left before the end
                    break
                continue
            idle = 0
            changes: dict[tuple[str, bytes], Entry] = {}
            for rec in records:
                key: bytes = rec.key or b""
                if prefix:
                    if not key.startswith(prefix):
                        continue
                    key = key[len(prefix) :]
                t = next((int(v) for k, v in rec.headers or () if k == "cb_t"), None)
                if key.startswith(PACK) and rec.value is not None:  # a packed store's batch
                    changes.update(((store, k), Entry(v, kt)) for k, v, kt in unpack(rec.value))
                    changes[(store, key)] = Entry(b"", t)  # its marker, evicted with it
                    count += 1
                    continue
                changes[(store, key)] = Entry(rec.value, t)
                count += 1
            backend.write(changes, {store: records[-1].offset + 1})
        backend.write({}, {store: max(consumer.position(tp), start)})
        consumer.unsubscribe()
        return count

    def close(self) -> None:
        """Close the restore consumer."""
        if self._restorer is not None:
            self._restorer.close()
            self._restorer = None
