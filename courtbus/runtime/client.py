"""The Kafka client the runtime's workers use: confluent-kafka (librdkafka), in one module.

Why confluent-kafka here and kafka-python elsewhere: the services' hot path is consume →
decide → produce in a KIP-447 transaction, and librdkafka does it at about a fifth of
kafka-python's CPU per record (measured: ~7 µs against ~38 µs for a pass-through) and fetches
and sends on its own threads, so the next batch arrives while a commit is in flight. The SDKs,
the CLI and the tools keep kafka-python, the client the project's brief names.

Only this module imports ``confluent_kafka`` for the runtime; the worker sees ``GroupConsumer``
(records as ``KeptRecord``, partitions as kafka-python's ``TopicPartition`` tuples the rest of
the runtime keys its tasks by) and ``TransactionalProducer``. librdkafka's errors become
``ClientError`` (a ``KafkaError`` subclass, so the worker's handling stays one ``except``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import confluent_kafka as ck
from kafka import TopicPartition
from kafka.errors import KafkaError

from courtbus.bus.records import KeptRecord, Output

log = logging.getLogger("courtbus.runtime")


class ClientError(KafkaError):  # type: ignore[misc]  # kafka-python is untyped
    """A librdkafka error on the runtime's path (fenced, broker away, transaction aborted)."""


def _tp(p: ck.TopicPartition) -> TopicPartition:
    return TopicPartition(p.topic, p.partition)


def _ck(tp: TopicPartition, offset: int = ck.OFFSET_INVALID) -> ck.TopicPartition:
    return ck.TopicPartition(tp.topic, tp.partition, offset)


_LIBRDKAFKA = logging.getLogger("courtbus.librdkafka")  # librdkafka's own log lines


class GroupConsumer:
    """A read_committed group member with range assignment and manual offsets.

    ``on_assign`` and ``on_revoke`` get sets of ``TopicPartition`` and run inside ``poll``.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        *,
        group: str,
        session_timeout_ms: int,
        max_poll_interval_ms: int,
        fetch_max_wait_ms: int,
        metadata_max_age_ms: int,
        on_assign: Callable[[set[TopicPartition]], None],
        on_revoke: Callable[[set[TopicPartition]], None],
        queue_kbytes: int | None = None,
    ) -> None:
        """``queue_kbytes``: the most librdkafka fetches ahead of what was taken (its
        ``queued.max.messages.kbytes``, and each fetch's size with it); None: its defaults."""
        config = {
            **settings,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "range",
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(session_timeout_ms // 4, 500),
            "max.poll.interval.ms": max_poll_interval_ms,
            "fetch.wait.max.ms": fetch_max_wait_ms,
            "max.partition.fetch.bytes": 4 * 1024 * 1024,
            "topic.metadata.refresh.interval.ms": metadata_max_age_ms,
            "logger": _LIBRDKAFKA,
        }
        if queue_kbytes is not None:
            # One queue for every partition, in fetch order: a record of a quiet partition
            # waits behind what was fetched before it (a backlog's records), so little is
            # fetched ahead, a few partitions' worth; and each fetch asks every partition
            # (fetch.max.bytes, the whole response, stays far above it), so a quiet one is
            # never left out of a response the backlog filled.
            # A full queue is looked at again after fetch.queue.backoff.ms (1 s by default):
            # a queue this short is drained within a batch, so sooner.
            config |= {
                "queued.max.messages.kbytes": queue_kbytes,
                "max.partition.fetch.bytes": max(queue_kbytes * 1024 // 8, 65536),
                "fetch.queue.backoff.ms": 10,
            }
        try:
            self._consumer = ck.Consumer(config)
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._topics: list[str] = []

    def subscribe(self, topics: Iterable[str]) -> None:
        """Subscribe to exactly ``topics`` (a new list replaces the old, with a rebalance)."""
        self._topics = sorted(topics)
        self._consumer.subscribe(
            self._topics,
            on_assign=lambda _c, parts: self._on_assign({_tp(p) for p in parts}),
            on_revoke=lambda _c, parts: self._on_revoke({_tp(p) for p in parts}),
            on_lost=lambda _c, parts: self._on_revoke({_tp(p) for p in parts}),
        )

    def subscription(self) -> list[str]:
        """The topics subscribed to."""
        return self._topics

    def poll(self, timeout_s: float, max_records: int) -> dict[TopicPartition, list[KeptRecord]]:
        """Up to ``max_records`` records, waiting at most ``timeout_s`` for the first.

        Raises:
            ClientError: a fatal consumer error (e.g. the group's coordinator refused us).
        """
        batch: dict[TopicPartition, list[KeptRecord]] = {}
        try:
            # consume() waits until it has max_records or the timeout ran out, so the wait for
            # a first record is poll() (it returns as soon as one is there: at low load a
            # record must not sit out the timeout), and the rest is taken without waiting
            messages = []
            if timeout_s > 0:
                first = self._consumer.poll(timeout_s)
                if first is None:
                    return batch
                messages.append(first)
            if max_records > len(messages):
                messages += self._consumer.consume(max_records - len(messages), 0)
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc
        parts: dict[tuple[str, int], list[KeptRecord]] = {}
        for m in messages:
            error = m.error()
            if error is not None:
                if error.fatal():
                    raise ClientError(str(error))
                if error.code() != ck.KafkaError._PARTITION_EOF:
                    log.warning("consumer: %s", error)
                continue
            topic, partition, offset = m.topic(), m.partition(), m.offset()
            assert topic is not None and partition is not None and offset is not None
            headers: Any = m.headers() or []  # a list of (name, bytes) as the broker sent them
            kind, stamp = m.timestamp()
            written = stamp if kind != ck.TIMESTAMP_NOT_AVAILABLE and stamp > 0 else None
            record = KeptRecord(topic, partition, offset, m.key(), m.value(), headers, written)
            got = parts.get((topic, partition))
            if got is None:
                parts[(topic, partition)] = [record]
            else:
                got.append(record)
        for (topic, partition), records in parts.items():
            batch[TopicPartition(topic, partition)] = records
        return batch

    def positions(self, parts: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The next offset this member will fetch of each partition (-1 if not known)."""
        wanted = [_ck(tp) for tp in parts]
        if not wanted:
            return {}
        try:
            found = self._consumer.position(wanted)
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc
        return {_tp(p): p.offset for p in found}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Fetch ``tp`` from ``offset`` next (an assigned partition)."""
        try:
            self._consumer.seek(_ck(tp, offset))
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc

    def pause(self, parts: Iterable[TopicPartition]) -> None:
        """Stop fetching ``parts`` (assigned partitions) until ``resume``."""
        try:
            self._consumer.pause([_ck(tp) for tp in parts])
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc

    def resume(self, parts: Iterable[TopicPartition]) -> None:
        """Fetch ``parts`` again, from the record after the last one taken."""
        try:
            self._consumer.resume([_ck(tp) for tp in parts])
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc

    def lag(self, parts: Iterable[TopicPartition]) -> int:
        """Records between this member's position and the high watermark, summed over
        ``parts`` (the watermarks of the last fetch responses: no request; a partition not
        fetched yet counts 0)."""
        behind = 0
        try:
            for p in self._consumer.position([_ck(tp) for tp in parts]):
                if p.offset < 0:
                    continue
                _low, high = self._consumer.get_watermark_offsets(p, cached=True)
                if high >= 0:
                    behind += max(high - p.offset, 0)
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc
        return behind

    def assignment(self) -> set[TopicPartition]:
        """The partitions assigned now."""
        return {_tp(p) for p in self._consumer.assignment()}

    def group_metadata(self) -> Any:
        """What a transactional producer needs to fence this member's zombies (KIP-447)."""
        return self._consumer.consumer_group_metadata()

    def topics(self, timeout_s: float = 10.0) -> list[str]:
        """The cluster's topic names.

        Raises:
            ClientError: the cluster did not answer in time.
        """
        try:
            return list(self._consumer.list_topics(timeout=timeout_s).topics)
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc

    def close(self) -> None:
        """Leave the group (no offsets committed: they go in transactions)."""
        try:
            self._consumer.close()
        except (ck.KafkaException, RuntimeError) as exc:
            log.warning("consumer close: %s", exc)


# librdkafka 2.16 can block in send_offsets_to_transaction() past its timeout when the group
# coordinator is down or was decommissioned (confluentinc/librdkafka#5456, #5511; seen here in
# the fault campaign after the coordinator's broker was killed: stuck for minutes, the broker
# long back). The call runs on a helper thread and is given up this long after its own timeout.
OFFSETS_GRACE_S = 5.0


class TransactionalProducer:
    """An idempotent, transactional producer; the offsets of what it wrote, by key given."""

    def __init__(
        self,
        settings: dict[str, Any],
        *,
        transactional_id: str,
        transaction_timeout_ms: int,
        linger_ms: int,
        max_request_bytes: int,
    ) -> None:
        config = {
            **settings,
            "transactional.id": transactional_id,
            "enable.idempotence": True,
            "acks": "all",
            "transaction.timeout.ms": transaction_timeout_ms,
            "linger.ms": linger_ms,
            "message.max.bytes": max_request_bytes,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "logger": _LIBRDKAFKA,
            # the Java client's (and kafka-python's) partitioner: a key lands where every other
            # producer of the bus puts it (librdkafka's default, CRC32, would split an entity's
            # records over two partitions: another task, and compaction keeping both)
            "partitioner": "murmur2_random",
            # A transaction begun right after the previous commit often finds that commit's
            # markers still being written: the coordinator answers AddPartitionsToTxn and
            # AddOffsetsToTxn with CONCURRENT_TRANSACTIONS and librdkafka retries after
            # retry.backoff.ms, 100 ms by default, doubled up to retry.backoff.max.ms (1 s).
            # At low load that wait was most of a hop's latency (py-spy: 79% of the gateway's
            # time in send_offsets_to_transaction); the Java client retries this case after
            # 20 ms. 10 ms, at most 100 ms: the markers take a few ms on a healthy cluster.
            "retry.backoff.ms": 10,
            "retry.backoff.max.ms": 100,
        }
        try:
            self._producer = ck.Producer(config)
        except ck.KafkaException as exc:
            raise ClientError(str(exc)) from exc
        self.delivered: dict[Any, tuple[int, int]] = {}  # tag -> (partition, last offset)
        # a transaction cannot outlive its timeout: the coordinator aborts it
        self.offsets_timeout_s = transaction_timeout_ms / 1000
        self.hung: str | None = None  # a call given up on: this producer is abandoned

    def _usable(self, what: str) -> None:
        if self.hung is not None:
            raise ClientError(f"{what}: {self.hung}")

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        self._usable(what)
        try:
            return fn()
        except ck.KafkaException as exc:
            raise ClientError(f"{what}: {exc}") from exc

    def init(self, timeout_s: float = 30.0) -> None:
        """Register the transactional id (fencing its older incarnations)."""
        self._call("init_transactions", lambda: self._producer.init_transactions(timeout_s))

    def begin(self) -> None:
        """Start a transaction."""
        self.delivered = {}
        self._call("begin_transaction", self._producer.begin_transaction)

    def send(self, out: Output, *, partition: int | None = None, tag: Any = None) -> None:
        """Produce ``out`` in the open transaction; with ``tag``, remember its offset (the
        highest among records with that tag) once delivered.

        An untagged record has no delivery callback (a Python call per record saved): a record
        that fails to be delivered fails the transaction's commit, which is what the worker
        acts on.
        """
        kwargs: dict[str, Any] = {"key": out.key, "value": out.value, "headers": out.headers}
        if tag is not None:
            delivered = self.delivered

            def on_delivery(err: Any, msg: Any) -> None:
                if err is None:
                    old = delivered.get(tag)
                    offset = int(msg.offset())
                    if old is None or offset > old[1]:
                        delivered[tag] = (int(msg.partition()), offset)

            kwargs["on_delivery"] = on_delivery
        if partition is not None:
            kwargs["partition"] = partition
        produce = self._producer.produce
        while True:
            try:
                produce(out.topic, **kwargs)
                return
            except BufferError:  # the local queue is full: let librdkafka send some
                self._producer.poll(0.05)
            except ck.KafkaException as exc:
                raise ClientError(f"produce to {out.topic}: {exc}") from exc

    def send_offsets(self, offsets: dict[TopicPartition, int], group_metadata: Any) -> None:
        """Commit ``offsets`` (next offset to read) with the transaction, fenced by the group.

        Raises:
            ClientError: librdkafka refused or timed out, or did not return within
                ``OFFSETS_GRACE_S`` after its timeout (then ``hung`` says so, and the producer
                must be dropped: the worker starts a new session, whose producer fences it).
        """
        self._usable("send_offsets_to_transaction")
        parts = [_ck(tp, off) for tp, off in offsets.items()]
        timeout = self.offsets_timeout_s
        outcome: list[BaseException | None] = []
        done = threading.Event()

        def call() -> None:
            try:
                self._producer.send_offsets_to_transaction(parts, group_metadata, timeout)
                outcome.append(None)
            except BaseException as exc:  # handed to the caller's thread
                outcome.append(exc)
            finally:
                done.set()

        threading.Thread(target=call, name="send-offsets", daemon=True).start()
        if not done.wait(timeout + OFFSETS_GRACE_S):
            self.hung = (
                f"no answer {timeout + OFFSETS_GRACE_S:.0f} s after the call, its timeout being "
                f"{timeout:.0f} s (librdkafka ignores it while the group coordinator is away: "
                "confluentinc/librdkafka#5456, #5511); this producer is abandoned"
            )
            log.error("transactional producer: send_offsets_to_transaction: %s", self.hung)
            raise ClientError(f"send_offsets_to_transaction: {self.hung}")
        error = outcome[0]
        if isinstance(error, ck.KafkaException):
            raise ClientError(f"send_offsets_to_transaction: {error}") from error
        if error is not None:
            raise error

    def commit(self, timeout_s: float = 30.0) -> None:
        """Commit the transaction (flushing every record first).

        Raises:
            ClientError: it could not commit (the caller aborts and starts over).
        """
        self._call("commit_transaction", lambda: self._producer.commit_transaction(timeout_s))

    def abort(self, timeout_s: float = 10.0) -> None:
        """Abort the open transaction, if any."""
        self._call("abort_transaction", lambda: self._producer.abort_transaction(timeout_s))

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (outside a transaction there is nothing) and let go. Never
        raises: a producer in a fatal state (e.g. ``INVALID_TXN_STATE`` after its transaction
        coordinator died) has nothing left to send, and the worker starts a new one."""
        if self.hung is not None:  # a call on it never returned: leave it to the collector
            return
        try:
            self._producer.flush(timeout_s)
        except ck.KafkaException as exc:
            log.warning("closing the transactional producer: %s", exc)
