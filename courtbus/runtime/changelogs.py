"""Changelog topics of a flow's stores: which task writes where, and restoring a task from them.

Each store ``s`` of flow ``f`` has the compacted topic ``bus.f.s.changelog``; timers have
``bus.f.timers.changelog``. For topic inputs, task p (partition p of every input topic)
writes changelog partition p. For a pattern input each topic-partition is a task; tasks share
the changelog's partitions by hash, so their keys carry the task as a prefix. A record's time
column (expiry or due time) travels in the ``cb_t`` header. A packed store's record holds a
batch's entries (``courtbus.runtime.packs``): a restore unpacks it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from confluent_kafka import Consumer, KafkaException
from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import TopicPartition as RdTopicPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient, TopicPartition
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
from courtbus.runtime.sqlite import LocalBackend
from courtbus.runtime.state import Entry

log = logging.getLogger("courtbus.runtime")
_rdkafka_log = logging.getLogger("courtbus.runtime.rdkafka")  # librdkafka's own log lines
SEP = b"\x1f"
_BATCH = 10_000  # messages per consume() call while restoring
_FLUSH_ROWS = 50_000  # restored records per SQLite transaction
_WAIT_S = 0.01  # longest wait of one consume() call
_IDLE_S = 10.0  # a range that yields nothing for this long is left where it got to


@dataclass(frozen=True, slots=True, order=True)
class TaskId:
    """A task: a partition number (topic inputs) or one topic-partition (pattern inputs)."""

    partition: int
    topic: str | None = None

    @property
    def name(self) -> str:
        """File-safe name: ``p3``, or ``court.3205.outbox-1``."""
        return f"p{self.partition}" if self.topic is None else f"{self.topic}-{self.partition}"


@dataclass(eq=False)
class _Reader:
    """One task's share of a changelog range being restored: its keys and its rows so far."""

    task: TaskId
    prefix: bytes
    backend: LocalBackend
    start: int
    rows: dict[bytes, tuple[bytes | None, int | None]] = field(default_factory=dict)


def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition counts of those of ``names`` that exist (never creates one by asking)."""
    have = set(admin.list_topics())  # once: in the condition it was asked once per name
    present = [n for n in names if n in have]
    if not present:
        return {}
    described = admin.describe_topics(present)
    return {t["name"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


class TopicWatch:
    """Follows which topics match a pattern, on its own thread and admin client.

    The worker lists topics itself (a client's own pattern subscription can miss a topic that
    appears in metadata before its partitions do); doing it on the poll loop paused every
    batch for the round trips, so a thread does it and the loop only reads ``found``. The
    listing is librdkafka's metadata (``settings``: ``Connection.librdkafka_settings``):
    kafka-python's decoded a national directory's 3,500 outboxes in Python every few seconds,
    holding the GIL for up to half a second at a time.
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
        """Stop listing."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        admin: AdminClient | None = None
        while not self._stop.is_set():
            try:
                if admin is None:
                    # the stub types a config's values as scalars; librdkafka's clients all
                    # take a logger object too (as the restore consumer's does)
                    config: dict[str, Any] = {**self.settings, "logger": _rdkafka_log}
                    admin = AdminClient(config)
                topics = admin.list_topics(timeout=10).topics
                self.found = frozenset(
                    name
                    for name, meta in topics.items()
                    if self.regex.match(name) and meta.error is None and meta.partitions
                )
                self.ready.set()
            except KafkaException as exc:  # the broker is away: keep the last list, ask again
                log.warning("cannot list topics for %s: %s", self.regex.pattern, exc)
            self._stop.wait(self.interval_s)


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


def _tell_left(tell: Callable[[int], None], left: int, first: int, span: int, upto: int) -> None:
    """``tell`` what a restore has left once it read one partition's ``span`` up to ``upto``
    from ``first`` (``left``: before that partition)."""
    tell(left - min(span, max(0, upto - first)))


class Changelogs:
    """A flow's changelog topics: where changes go, and how a task is restored."""

    def __init__(self, flow: Flow, config: WorkerConfig) -> None:
        self.flow = flow
        self.config = config
        self.stores = [s.name for s in flow.stores] + ([TIMERS] if flow.timers else [])
        self.partitions = config.changelog_partitions
        self._restorer: Consumer | None = None

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
                topic = NewTopic(
                    name,
                    self.partitions,
                    replication,
                    topic_configs={
                        "cleanup.policy": "compact",
                        "min.insync.replicas": "2" if replication >= 3 else "1",
                    },
                )
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

    def _consumer(self) -> Consumer:
        """The restore consumer (confluent-kafka: kafka-python cost ~35 µs of CPU a record).

        It only reads assigned ranges and commits nothing, so its ``group.id`` (which
        librdkafka requires) never reaches a coordinator. A short ``fetch.wait.max.ms``: a
        range that ends in transaction markers is finished by the fetch that reaches the end
        (``enable.partition.eof``), and that fetch would otherwise wait 500 ms for new data.
        """
        if self._restorer is None:
            self._restorer = Consumer(
                {
                    **self.config.connection.librdkafka_settings(),
                    "group.id": f"courtbus-{self.flow.name}-restore",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "isolation.level": "read_committed",
                    "enable.partition.eof": True,
                    "fetch.wait.max.ms": 10,
                    "fetch.max.bytes": 64 * 1024 * 1024,
                    "max.partition.fetch.bytes": 8 * 1024 * 1024,
                    "queued.max.messages.kbytes": 64 * 1024,  # the prefetch bound: RSS stays flat
                    "logger": _rdkafka_log,
                }
            )
        return self._restorer

    def bounds(self, tasks: list[TaskId]) -> dict[TopicPartition, tuple[int, int]]:
        """(first, end) offsets of the changelog partitions of ``tasks``.

        Each distinct partition is asked once (tasks of a pattern input share partitions);
        the end is the last stable offset (read_committed).

        Raises:
            KafkaError: the cluster did not answer (the worker rejoins and tries again).
        """
        consumer = self._consumer()
        tps = sorted(
            {
                TopicPartition(changelog_topic(self.flow.name, store), self.place(t)[0])
                for t in tasks
                for store in self.stores
            }
        )
        found: dict[TopicPartition, tuple[int, int]] = {}
        for tp in tps:
            found[tp] = self._watermarks(consumer, tp)
        return found

    def _watermarks(self, consumer: Consumer, tp: TopicPartition) -> tuple[int, int]:
        """A changelog partition's (first, end) offsets, asked of its leader.

        After a leader dies, librdkafka's metadata for a topic this consumer does not fetch
        from keeps the dead leader (or none) until its periodic refresh, minutes later, and
        every call fails with ``_UNKNOWN_PARTITION`` or ``_LEADER_NOT_AVAILABLE``: the metadata
        is asked again (``list_topics``) and the call retried for up to 30 s; then the restore
        consumer is dropped (a new one starts with fresh metadata) and the worker rejoins.
        """
        deadline = time.monotonic() + 30
        while True:
            try:
                low, high = consumer.get_watermark_offsets(
                    RdTopicPartition(tp.topic, tp.partition), timeout=10, cached=False
                )
                return int(low), int(high)
            except KafkaException as exc:
                if time.monotonic() >= deadline:
                    self.close()  # a new restore consumer next time: fresh metadata
                    raise KafkaError(
                        f"cannot read the bounds of {tp.topic}-{tp.partition}: {exc}"
                    ) from exc
                log.info(
                    "%s: the bounds of %s-%d: %s; asking for its leader again",
                    self.flow.name,
                    tp.topic,
                    tp.partition,
                    exc,
                )
                with contextlib.suppress(KafkaException):
                    consumer.list_topics(tp.topic, timeout=10)
                time.sleep(0.5)

    def restore(
        self,
        task: TaskId,
        backend: LocalBackend,
        bounds: dict[TopicPartition, tuple[int, int]] | None = None,
    ) -> int:
        """Bring a task's local state up to its changelogs' ends; the records read.

        Only the tail after the local checkpoint is read, unless the local state is missing,
        older than ``max_checkpoint_age_s`` (compaction may have removed tombstones since),
        or does not match the topic (recreated or truncated): then the store is read in full.
        ``bounds`` (from ``bounds``) saves asking for the partitions' offsets again.

        Raises:
            KafkaError: the cluster did not answer (the worker rejoins and tries again).
            StateError: ``STATE_WRITE`` (the local file).
        """
        return self.restore_all({task: backend}, bounds)

    def restore_all(
        self,
        backends: Mapping[TaskId, LocalBackend],
        bounds: Mapping[TopicPartition, tuple[int, int]] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """``restore`` for several tasks at once: each changelog partition is read once.

        Pattern tasks share partitions; restored one by one, each task read the shared tail
        again (and paid a fetch for it even when it held only transaction markers).
        ``progress`` is told the offsets still to read, at the start and as the reads go on
        (for the metrics: ``courtbus_restore_remaining_offsets``).

        Raises:
            KafkaError: the cluster did not answer (the worker rejoins and tries again).
            StateError: ``STATE_WRITE`` (a local file).
        """
        bounds = bounds if bounds is not None else self.bounds(list(backends))
        plan: list[tuple[str, TopicPartition, list[_Reader]]] = []
        for store in self.stores:
            ranges: dict[TopicPartition, list[_Reader]] = {}
            for task, backend in sorted(backends.items()):
                partition, prefix = self.place(task)
                tp = TopicPartition(changelog_topic(self.flow.name, store), partition)
                start = self._start(task, store, backend, *bounds[tp])
                if start is not None:
                    ranges.setdefault(tp, []).append(_Reader(task, prefix, backend, start))
            plan += [(store, tp, readers) for tp, readers in sorted(ranges.items())]
        firsts = [min(r.start for r in readers) for _, _, readers in plan]
        spans = [
            max(0, bounds[tp][1] - first) for (_, tp, _), first in zip(plan, firsts, strict=True)
        ]
        remaining = sum(spans)
        tell = progress if progress is not None else (lambda _left: None)
        tell(remaining)
        count = 0
        for (store, tp, readers), first, span in zip(plan, firsts, spans, strict=True):
            told = functools.partial(_tell_left, tell, remaining, first, span)
            count += self._read(tp, bounds[tp][1], store, readers, told)
            remaining -= span
            tell(remaining)
        return count

    def _start(
        self, task: TaskId, store: str, backend: LocalBackend, begin: int, end: int
    ) -> int | None:
        """Where a task's store must be read from, or None: nothing to read."""
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
            checkpoint = None
        if checkpoint is not None and checkpoint >= end:
            # Nothing new. Refresh an ageing checkpoint, so an idle task stays warm; a young
            # one is left alone (a write and its fsync per idle task were most of a restart).
            if age is not None and age > self.config.max_checkpoint_age_s / 4:
                backend.write({}, {store: checkpoint})
            return None
        if begin >= end:  # an empty changelog: complete at its end
            backend.write({}, {store: end})
            return None
        return checkpoint if checkpoint is not None else begin

    def _read(
        self,
        tp: TopicPartition,
        end: int,
        store: str,
        readers: list[_Reader],
        read_to: Callable[[int], None] | None = None,
    ) -> int:
        """Read ``tp`` from the readers' earliest start to ``end``; the records applied.
        ``read_to`` is told how far the read got after each fetch."""
        consumer = self._consumer()
        start = min(r.start for r in readers)
        prefixed = bool(readers[0].prefix)
        by_prefix = {r.prefix: r for r in readers}
        single = readers[0] if not prefixed else None
        consumer.assign([RdTopicPartition(tp.topic, tp.partition, start)])
        count = buffered = 0
        upto = start  # every record before this offset is applied or buffered
        done = False
        idle_since = began = time.monotonic()
        full = [r for r in readers if r.backend.checkpoint(store) is None]
        try:
            with contextlib.ExitStack() as stack:
                for reader in full:  # full reads: no fsync until the end
                    stack.enter_context(reader.backend.bulk())
                while not done:
                    # consume() waits its whole timeout unless _BATCH messages come: kept short,
                    # so the end-of-partition event of a tail is seen at once (0.5 s cost a
                    # warm restart half a second per task)
                    messages = consumer.consume(_BATCH, timeout=_WAIT_S)
                    if not messages:
                        if time.monotonic() - idle_since > _IDLE_S:
                            log.warning(
                                "%s-%d: no records past %d (end %d) in %.0f s; restored so far",
                                tp.topic,
                                tp.partition,
                                upto,
                                end,
                                _IDLE_S,
                            )
                            break
                        continue
                    idle_since = time.monotonic()
                    for msg in messages:
                        err = msg.error()
                        if err is not None:
                            if err.code() == RdKafkaError._PARTITION_EOF:
                                done = True
                                break
                            if err.fatal() or not err.retriable():
                                raise KafkaError(f"restore of {tp.topic}-{tp.partition}: {err}")
                            log.warning("restore of %s-%d: %s", tp.topic, tp.partition, err)
                            continue
                        offset = cast(int, msg.offset())  # set on every consumed record
                        if offset >= end:  # written after the bounds were taken
                            done = True
                            break
                        upto = offset + 1
                        key: bytes = msg.key() or b""
                        owner = single
                        if owner is None:
                            head, sep, key = key.partition(SEP)
                            owner = by_prefix.get(head + sep)
                            if owner is None:  # another task's key
                                continue
                        if offset < owner.start:  # already in this task's state
                            continue
                        t = None
                        headers = cast(list[tuple[str, bytes]] | None, msg.headers())
                        if headers:
                            for name, value in headers:
                                if name == "cb_t":
                                    t = int(value)
                        data = msg.value()
                        if key.startswith(PACK) and data is not None:  # a packed store's batch
                            owner.rows.update((k, (v, kt)) for k, v, kt in unpack(data))
                            owner.rows[key] = (b"", t)  # its marker, evicted with it
                        else:
                            owner.rows[key] = (data, t)
                        count += 1
                        buffered += 1
                    if upto >= end:
                        done = True
                    if read_to is not None:
                        read_to(upto)
                    if buffered >= _FLUSH_ROWS:
                        for reader in readers:
                            if reader.rows:
                                reader.backend.load(store, reader.rows, upto)
                                reader.rows = {}
                        buffered = 0
                # at the end: every task of the range is complete to its end (or to what was
                # read, if the range never ended), never moved back before its own start
                last = end if done else upto
                for reader in readers:
                    reader.backend.load(store, reader.rows, max(last, reader.start))
                    reader.rows = {}
        finally:
            consumer.unassign()
        log.debug(
            "restored %s-%d [%d, %d) for %d task(s): %d records in %.3f s",
            tp.topic,
            tp.partition,
            start,
            end,
            len(readers),
            count,
            time.monotonic() - began,
        )
        return count

    def close(self) -> None:
        """Close the restore consumer."""
        if self._restorer is not None:
            self._restorer.close()
            self._restorer = None
