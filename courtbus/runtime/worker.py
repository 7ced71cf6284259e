"""The worker: runs a flow on Kafka, exactly once, as one of several workers in a group.

The client is confluent-kafka (``courtbus.runtime.client``): its ``send_offsets_to_transaction``
takes the consumer's group metadata (KIP-447), so a worker that lost its partitions in a
rebalance (a zombie: paused, partitioned away) cannot commit anything afterwards, and several
active workers can share a service's partitions. Each poll's records are one transaction holding every output, every changelog
record and the input offsets. State is per task (see ``courtbus.runtime.flow.Inputs``), kept
in SQLite under the worker's state folder and restored from the changelog tail on assignment:
a file per task for topic inputs, one file for all tasks of a pattern input (``StateFile``:
the gateway has a task per outbox partition, ~10,700 for a national directory).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError

from courtbus.bus.records import Output
from courtbus.errors import StateError, TransientError
from courtbus.runtime.changelogs import Changelogs, TaskId, TopicWatch
from courtbus.runtime.client import GroupConsumer, TransactionalProducer
from courtbus.runtime.config import Slot, WorkerConfig, claim_slot
from courtbus.runtime.engine import Engine
from courtbus.runtime.flow import TIMERS, Flow
from courtbus.runtime.metrics import WorkerMetrics
from courtbus.runtime.notices import NoticeLimiter
from courtbus.runtime.outputs import OutputCheck
from courtbus.runtime.sqlite import LocalBackend, SqliteBackend, StateFile
from courtbus.runtime.state import Backend, MemoryBackend, State

log = logging.getLogger("courtbus.runtime")


class Rejoin(Exception):
    """The worker must drop its tasks and rejoin the group (fenced, rebalanced, broker error)."""


@dataclass
class Task:
    """One task this worker owns: its state and where its changelog records go."""

    id: TaskId
    state: State
    backend: Backend


def _now() -> datetime:
    return datetime.now(UTC)


class Worker:
    """Runs one flow until ``stop()``; start as many as the input has partitions."""

    def __init__(
        self, flow: Flow, config: WorkerConfig, clock: Callable[[], datetime] = _now
    ) -> None:
        self.flow = flow
        self.config = config
        self.clock = clock
        self.engine = Engine(
            flow,
            max_attempts=config.max_attempts,
            notices=NoticeLimiter(config.notice_limit, config.notice_window_s),
        )
        self.group = config.group_id or flow.group or f"courtbus-{flow.name}"
        self.changelogs = Changelogs(flow, config)
        self.tasks: dict[TaskId, Task] = {}
        self.restored = 0  # changelog records read by the latest restore (tests, metrics)
        self.metrics = WorkerMetrics(flow.name)
        self._stopping = threading.Event()
        self._slot: Slot | None = None
        self._assigned: set[TopicPartition] | None = None  # None while (re)joining
        # (store, changelog partition) -> the offset after this worker's last committed write
        self._written: dict[tuple[str, int], int] = {}
        self._generation = 0  # revocations seen; a batch gathered across one is dropped
        # Paced inputs: records read and not yet in a batch, per partition in order (see
        # ``_gather``), and the partitions paused while they wait.
        self._carry: dict[TopicPartition, list[Any]] = {}
        self._paused: set[TopicPartition] = set()
        self._file: StateFile | None = None  # a pattern input's tasks' state (``run``)
        self._synced: set[TopicPartition] | None = None  # the assignment the tasks match

    def stop(self) -> None:
        """Finish the current batch, leave the group and return from ``run``."""
        self._stopping.set()

    def run(self) -> None:
        """Claim a state folder, then consume, decide and produce until stopped.

        Raises:
            StateError: no free state folder, or a changelog topic does not fit the input.
        """
        self._slot = claim_slot(self.config.state_dir / self.group, self.config.instance)
        try:
            if self.flow.inputs.pattern and self.changelogs.stores:
                self._file = StateFile(self._slot.path / "tasks.sqlite", self.changelogs.stores)
            self.changelogs.prepare()
            while not self._stopping.is_set():
                try:
                    self._session()
                except Rejoin as exc:
                    log.warning("%s: %s; rejoining the group", self.group, exc)
                    self._stopping.wait(1.0)
        finally:
            self.flow.close()
            self.changelogs.close()
            if self._file is not None:
                self._file.close()
                self._file = None
            self._slot.release()

    # -- one membership of the group ---------------------------------------------------------

    def _session(self) -> None:
        assert self._slot is not None
        connection = self.config.connection
        producer = TransactionalProducer(
            connection.librdkafka_settings(),
            transactional_id=f"{self.group}-{self._slot.uid}",
            transaction_timeout_ms=self.config.transaction_timeout_ms,
            linger_ms=self.config.linger_ms,
            max_request_bytes=self.config.max_request_bytes,
        )
        consumer: GroupConsumer | None = None
        watch: TopicWatch | None = None
        try:
            producer.init()
            consumer = GroupConsumer(
                connection.librdkafka_settings(),
                group=self.group,
                session_timeout_ms=self.config.session_timeout_ms,
                max_poll_interval_ms=self.config.max_poll_interval_ms,
                fetch_max_wait_ms=self.config.fetch_max_wait_ms,
                metadata_max_age_ms=self.config.metadata_max_age_ms,
                on_assign=self.on_partitions_assigned,
                on_revoke=self.on_partitions_revoked,
                queue_kbytes=self.config.paced_queue_kbytes if self.flow.paced_inputs else None,
            )
            self.engine.check = OutputCheck(
                consumer.topics,
                max_bytes=self.config.max_request_bytes,
                attempts=self.config.output_lookups,
                recheck_s=self.config.missing_topic_recheck_s,
                sleep=self._stopping.wait,
            )
            inputs = self.flow.inputs
            self._carry, self._paused = {}, set()
            self._assigned = None
            self._subscribed: frozenset[str] = frozenset()
            if inputs.pattern:
                watch = TopicWatch(
                    connection.librdkafka_settings(),
                    inputs.pattern,
                    self.config.metadata_max_age_ms / 1000,
                )
                watch.start()
            else:
                consumer.subscribe(inputs.topics)
            log.info(
                "%s consuming %s (worker %d, state %s)",
                self.group,
                inputs.pattern or ", ".join(inputs.topics),
                self._slot.number,
                self._slot.path,
            )
            self._loop(producer, consumer, watch)
        except KafkaError as exc:
            raise Rejoin(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if watch is not None:
                watch.stop()
            self._close_tasks(list(self.tasks))
            if consumer is not None:
                consumer.close()
            producer.close(timeout_s=5)

    def _loop(
        self, producer: TransactionalProducer, consumer: GroupConsumer, watch: TopicWatch | None
    ) -> None:
        next_tick = time.monotonic()
        while not self._stopping.is_set():
            if watch is not None and watch.found and watch.found != self._subscribed:
                self._subscribed = watch.found  # a new outbox: picked up without a restart
                consumer.subscribe(self._subscribed)
            if not consumer.subscription():
                self._stopping.wait(0.1)  # nothing matches the pattern yet
                continue
            batch = self._gather(consumer)
            for part in self._live_first(batch):
                self._process(producer, consumer, part)
            if time.monotonic() >= next_tick and self._assigned is not None:
                next_tick = time.monotonic() + self.config.tick_s
                self._tick(producer, consumer)

    def _gather(self, consumer: GroupConsumer) -> dict[TopicPartition, list[Any]]:
        """Poll until the input is drained, or the batch is ``commit_interval_ms`` old or
        ``max_records`` long (group commit).

        The first poll waits up to ``poll_ms`` for a record; after it, polls only take what the
        client has already fetched, and the batch ends as soon as one finds nothing (a flow
        with ``batch_wait_ms`` keeps polling until its batch is that old). Low load
        then costs one commit's latency per hop, not a fixed wait; high load stays batched,
        since librdkafka fetches on its own thread while a transaction commits, and the next
        batch is waiting when the commit returns. A rebalance while gathering drops the batch:
        partitions this worker kept are rewound to their first dropped record, the others are
        fetched again from the committed offsets by whoever owns them now.

        A paced input's records (``Flow.paced_inputs``) go to the carry, and once the polls are
        drained the batch takes at most the flow's cap of them from it; the rest wait there for
        the next batches, in order, never fetched twice. Once four batches' share waits, the paced
        partitions are paused, so librdkafka's one queue holds the other inputs' records
        alone: each gather drains it, and a live record fetched behind a backlog is in the
        next batch (``_live_first``: its own transaction, before the backlog's share).
        """
        batch: dict[TopicPartition, list[Any]] = {}
        count = 0  # records of the batch but for the paced ones, taken at the end
        deadline: float | None = None
        hold = self.flow.batch_wait_ms / 1000  # the flow's least gathering time (Flow docs)
        held_until = 0.0
        generation = self._generation
        while not self._stopping.is_set():
            idle = deadline is None and not any(self._carry.values())
            # once gathering: 0, unless the flow holds its batches open (batch_wait_ms)
            held_s = max(0.0, held_until - time.monotonic())
            wait_s = self.config.poll_ms / 1000 if idle else held_s
            polled = consumer.poll(wait_s, self.config.max_records - count)
            self._sync_tasks()
            if self._generation != generation:
                # Revoked while gathering: drop what was gathered, this poll's records and the
                # carry, and rewind the partitions this worker kept so they are read again in
                # order; the others start from the committed offsets.
                self._rewind(consumer, batch, polled, self._carry)
                self._carry, self._paused = {}, set()
                return {}
            got = 0
            for tp, records in polled.items():
                got += len(records)
                if tp.topic in self.flow.paced_inputs:
                    self._carry.setdefault(tp, []).extend(records)
                elif records:
                    batch.setdefault(tp, []).extend(records)
                    count += len(records)
            self._flow_control(consumer)
            now = time.monotonic()
            if count >= self.config.max_records or (not got and now >= held_until):
                break  # drained (or nothing at all) and held long enough, or full
            if deadline is None:
                if not got:
                    break
                held_until = now + hold
                deadline = now + max(self.config.commit_interval_ms / 1000, hold)
            elif now >= deadline:
                break
        if self._carry and self._generation == generation:
            self._take_paced(batch)
            self._flow_control(consumer)
        return batch

    def _live_first(
        self, batch: dict[TopicPartition, list[Any]]
    ) -> list[dict[TopicPartition, list[Any]]]:
        """A batch holding records of a paced input and of another, as two transactions: the
        others' first, so a live record does not wait behind the backlog's share."""
        paced = {tp: r for tp, r in batch.items() if tp.topic in self.flow.paced_inputs}
        if not paced or len(paced) == len(batch):
            return [batch] if batch else []
        return [{tp: r for tp, r in batch.items() if tp not in paced}, paced]

    def _take_paced(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Move carried records into ``batch``, in order, up to each paced topic's cap."""
        taken: dict[str, int] = {}
        for tp, waiting in self._carry.items():
            cap = self.flow.paced_inputs[tp.topic]
            n = min(len(waiting), cap - taken.get(tp.topic, 0))
            if n > 0:
                batch.setdefault(tp, []).extend(waiting[:n])
                del waiting[:n]
                taken[tp.topic] = taken.get(tp.topic, 0) + n

    def _flow_control(self, consumer: GroupConsumer) -> None:
        """Pause the paced partitions while four batches' share of them wait in the carry, and
        resume them when less than two do (librdkafka then fetches from the record after the
        last one taken, so nothing is lost or read twice; a pause or resume waits for
        librdkafka's threads, so not on every batch)."""
        if not self.flow.paced_inputs:
            return  # (without this, 0 waiting >= 0 asked librdkafka its assignment every poll)
        waiting = sum(len(r) for r in self._carry.values())
        limit = 2 * max(self.flow.paced_inputs.values())
        if waiting >= 2 * limit and not self._paused:
            self._paused = {
                tp for tp in consumer.assignment() if tp.topic in self.flow.paced_inputs
            }
            consumer.pause(self._paused)
        elif waiting < limit and self._paused:
            consumer.resume(self._paused)
            self._paused = set()

    def _next_offsets(
        self, consumer: GroupConsumer, parts: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The offset each of ``parts`` is complete up to: the consumer's position (past a
        transaction marker, so a caught-up group shows no lag: KAFKA-6607), or the first
        record still in the carry."""
        positions = consumer.positions(parts)
        for tp, waiting in self._carry.items():
            if waiting and tp in positions:
                positions[tp] = waiting[0].offset
        return positions

    @staticmethod
    def _rewind(consumer: GroupConsumer, *dropped: dict[TopicPartition, list[Any]]) -> None:
        first: dict[TopicPartition, int] = {}
        for batch in dropped:
            for tp, records in batch.items():
                if records:
                    first[tp] = min(first.get(tp, records[0].offset), records[0].offset)
        kept = consumer.assignment()
        for tp, offset in first.items():
            if tp in kept:
                consumer.seek(tp, offset)

    # -- rebalance --------------------------------------------------------------------------

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Close the tasks whose partitions left (no transaction is open during a poll)."""
        self._assigned = None  # rebalancing: no ticks, no task changes until assigned again
        self._generation += 1
        gone = {self.changelogs.task_of(tp) for tp in revoked}
        self._close_tasks([t for t in gone if t in self.tasks])

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Note the assignment; its tasks are opened and restored after the poll returns."""
        self._assigned = set(assigned)

    def _close_tasks(self, ids: list[TaskId]) -> None:
        tasks = [t for t in (self.tasks.pop(i, None) for i in ids) if t is not None]
        self._advance_checkpoints(tasks)
        for task in tasks:
            task.backend.close()

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        """One SQLite transaction for the writes inside, if the tasks share a file."""
        return self._file.transaction() if self._file is not None else contextlib.nullcontext()

    def _advance_checkpoints(self, tasks: list[Task]) -> None:
        """Move idle tasks' checkpoints past what this worker wrote to their shared partitions.

        Pattern tasks share changelog partitions, and only a task's owner writes its keys: a
        record another task of this worker committed after this task was restored holds
        nothing of this task, so a later restore need not read it again.
        """
        try:
            with self._transaction():
                for task in tasks:
                    partition, _ = self.changelogs.place(task.id)
                    checkpoints: dict[str, int] = {}
                    for store in self.changelogs.stores:
                        written = self._written.get((store, partition))
                        current = task.backend.checkpoint(store)
                        if written is not None and current is not None and written > current:
                            checkpoints[store] = written
                    if checkpoints:
                        task.backend.write({}, checkpoints)
        except StateError as exc:  # only a longer restore later
            log.warning("%s: %s", self.group, exc)

    def _sync_tasks(self) -> None:
        # called after every poll: the work is done once per assignment (a national
        # directory's gateway has ~10,700 partitions, too many to go through per batch)
        assigned = self._assigned
        if assigned is None or assigned is self._synced:
            return
        wanted = {self.changelogs.task_of(tp) for tp in assigned}
        self._close_tasks([t for t in self.tasks if t not in wanted])
        new = sorted(t for t in wanted if t not in self.tasks)
        if not new:
            self._synced = assigned
            return
        assert self._slot is not None
        started = time.monotonic()
        count = 0
        backends: dict[TaskId, Backend] = {}
        if self.changelogs.stores:
            files: dict[TaskId, LocalBackend] = {t: self._backend(t) for t in new}
            # one read of each changelog partition for every new task sharing it
            count = self.changelogs.restore_all(
                files, self.changelogs.bounds(new), progress=self.metrics.restoring
            )
            backends.update(files)
        for task_id in new:
            backend = backends[task_id] if task_id in backends else MemoryBackend()
            self.tasks[task_id] = Task(
                task_id, State(task_id.name, backend, self.flow.stores), backend
            )
        self.restored = count
        self.metrics.restore_done(count)
        names = ", ".join(t.name for t in new[:6]) + (", ..." if len(new) > 6 else "")
        log.info(
            "%s restored %d changelog records for %d new task(s) in %.2fs: %s",
            self.group,
            count,
            len(new),
            time.monotonic() - started,
            names,
        )
        self._synced = assigned

    def _cache_bytes(self) -> int:
        """The page caches' capacity: the shared file's, or one per task with a file."""
        if self._file is not None:
            return self._file.cache_bytes
        return SqliteBackend.cache_bytes * len(self.tasks) if self.changelogs.stores else 0

    def _backend(self, task: TaskId) -> LocalBackend:
        """Where a new task's state lives: its slice of the shared file, or a file of its own."""
        if self._file is not None:
            return self._file.task(task.name)
        assert self._slot is not None
        path = self._slot.path / "tasks" / f"{task.name}.sqlite"
        return SqliteBackend(path, self.changelogs.stores)

    # -- transactions -----------------------------------------------------------------------

    def _process(
        self,
        producer: TransactionalProducer,
        consumer: GroupConsumer,
        batch: dict[TopicPartition, list[Any]],
    ) -> None:
        # by id, not a list: a batch over thousands of outboxes touches thousands of tasks
        touched: dict[TaskId, Task] = {}
        outputs: list[Output] = []
        now = self.clock()
        started = time.monotonic()
        try:
            self.flow.begin_batch()
            self.engine.prepare_batch([r for records in batch.values() for r in records])
            for tp, records in batch.items():
                task = self.tasks.get(self.changelogs.task_of(tp))
                if task is None:  # records of a partition whose state is not open: start over
                    for t in touched.values():
                        t.state.rollback()
                    raise Rejoin(f"records for {tp.topic}-{tp.partition} before its task opened")
                if task.id not in touched:
                    task.state.now = now
                    touched[task.id] = task
                if tp.topic in self.flow.bulk_inputs:
                    outputs += self.engine.handle_many(records, task.state)
                    continue
                outputs += self.engine.handle_all(records, task.state)
            self.flow.end_batch()
        except TransientError as exc:
            self.flow.abort_batch()
            self._retry_later(consumer, batch, list(touched.values()), exc)
            return
        except BaseException:
            self.flow.abort_batch()
            raise
        # Past the last record, and past a transaction marker after it (the consumer's
        # position skips control records), so a caught-up group shows no lag (KAFKA-6607).
        positions = self._next_offsets(consumer, batch)
        offsets = {
            tp: max(records[-1].offset + 1, positions.get(tp, -1)) for tp, records in batch.items()
        }
        self._commit(producer, consumer, outputs, list(touched.values()), offsets)
        inputs = sum(len(records) for records in batch.values())
        self.metrics.committed(
            inputs, outputs, time.monotonic() - started, batch.values(), int(time.time() * 1000)
        )

    def _tick(self, producer: TransactionalProducer, consumer: GroupConsumer) -> None:
        self.metrics.tasks.labels(self.flow.name).set(len(self.tasks))
        self.metrics.state_cache.labels(self.flow.name).set(self._cache_bytes())
        self.metrics.lag.labels(self.flow.name).set(consumer.lag(self._assigned or ()))
        if self.flow.timers:
            self._count_timers()
        if self.flow.inputs.pattern:
            self._advance_checkpoints(list(self.tasks.values()))
        now = self.clock()
        touched: list[Task] = []
        outputs: list[Output] = []
        try:
            for task in self.tasks.values():
                outputs += self.engine.tick(now, task.state)
                if task.state.changes():
                    touched.append(task)
        except TransientError as exc:
            for task in self.tasks.values():
                task.state.rollback()
            log.warning("%s: tick postponed: %s", self.group, exc)
            return
        if not outputs and not touched:
            return
        # The positions go into the transaction too: a zombie's tick is fenced like its batches.
        offsets = {
            tp: offset
            for tp, offset in self._next_offsets(consumer, self._assigned or ()).items()
            if offset >= 0
        }
        self._commit(producer, consumer, outputs, touched, offsets)
        self.metrics.committed(0, outputs, None)

    def _count_timers(self) -> None:
        """``courtbus_open_timers``: the timers of the tasks this worker owns (their committed
        state: a tick runs between batches)."""
        try:
            count = sum(task.backend.count(TIMERS) for task in self.tasks.values())
        except sqlite3.Error as exc:  # a figure missed, nothing else
            log.warning("%s: timers not counted: %s", self.group, exc)
            return
        self.metrics.open_timers.labels(self.flow.name).set(count)

    def _commit(
        self,
        producer: TransactionalProducer,
        consumer: GroupConsumer,
        outputs: list[Output],
        touched: list[Task],
        offsets: dict[TopicPartition, int],
    ) -> None:
        try:
            producer.begin()
            for out in outputs:
                producer.send(out)
            for task in touched:
                for (store, key), entry in task.state.changes().items():
                    tp, record_key, headers = self.changelogs.record(task.id, store, key, entry)
                    record = Output(tp.topic, record_key, entry.value, headers)
                    producer.send(record, partition=tp.partition, tag=(task.id, store))
            if offsets:
                producer.send_offsets(offsets, consumer.group_metadata())
            if self.config.hold_open_ms:
                log.info("%s transaction open: %d outputs", self.group, len(outputs))
                self._stopping.wait(self.config.hold_open_ms / 1000)
            producer.commit()
        except KafkaError as exc:
            for task in self.tasks.values():
                task.state.rollback()
            with contextlib.suppress(KafkaError):  # fenced or fatal: the next session starts clean
                producer.abort()
            self.metrics.aborted()
            raise Rejoin(f"transaction aborted: {type(exc).__name__}: {exc}") from exc
        written = producer.delivered
        checkpoints: dict[TaskId, dict[str, int]] = {}
        for (task_id, store), (_partition, offset) in written.items():
            checkpoints.setdefault(task_id, {})[store] = offset + 1
        try:
            with self._transaction():  # the batch's tasks in one SQLite commit, if they can
                for task in touched:
                    task.state.committed(checkpoints.get(task.id, {}))
        except StateError as exc:  # the changelog has it: a restart replays the tail
            log.error("%s: %s", self.group, exc)
            raise Rejoin(str(exc)) from exc
        # only now, with the batch in the local state: an idle task's checkpoint is moved past
        # these offsets (_advance_checkpoints), which must not skip a batch a touched task lost
        for (_task, store), (partition, offset) in written.items():
            place = (store, partition)
            self._written[place] = max(self._written.get(place, 0), offset + 1)

    def _retry_later(
        self,
        consumer: GroupConsumer,
        batch: dict[TopicPartition, list[Any]],
        touched: list[Task],
        exc: Exception,
    ) -> None:
        for task in touched:
            task.state.rollback()
        first = {tp: records[0].offset for tp, records in batch.items() if records}
        for tp, waiting in self._carry.items():  # read again after the batch, in order
            if waiting and tp not in first:
                first[tp] = waiting[0].offset
        if self._paused:
            consumer.resume(self._paused)
        self._carry, self._paused = {}, set()
        for tp, offset in first.items():
            consumer.seek(tp, offset)
        log.warning(
            "%s: %s; retrying the batch in %.0fs", self.group, exc, self.config.retry_backoff_s
        )
        self._stopping.wait(self.config.retry_backoff_s)
