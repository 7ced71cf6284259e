"""The partner mirror's feed reader (``AgencyClient.sync``'s engine): a group-less consumer
positioned from the mirror's offsets table, a fast Avro decoder with kafka-python's record
parsing trimmed to what the feed needs (no headers), and, for a large bootstrap, worker
processes that read and decode partitions in parallel and hand rows back over a pipe. Split
from ``courtbus.sdk.agency``; behaviour unchanged."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastavro import parse_schema, schemaless_reader
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CorruptRecordError, KafkaError
from kafka.record.default_records import DefaultRecord, DefaultRecordBatch
from kafka.record.util import decode_varint

from courtbus.config import Connection
from courtbus.errors import ClusterError
from courtbus.sdk.agency import (
    BATCH_ROWS,
    PARALLEL_FROM,
    WORKERS,
    Mirror,
    Progress,
    SyncResult,
)
from courtbus.wire.client import make_envelope
from courtbus.wire.codec import AvroCodec

if TYPE_CHECKING:
    from courtbus.sdk.agency import AgencyClient

log = logging.getLogger("courtbus.sdk.agency")


class _Decoder:
    """Feed values to payloads without ``FeedEvent``s or header parsing (the mirror needs
    neither): fastavro against the writer's parsed schema, cached per schema id. A value the
    fast path cannot take (a schema the codec would resolve against our own, a corrupt body)
    goes through ``AvroCodec.decode``, which decodes it or raises its error."""

    def __init__(self, codec: AvroCodec) -> None:
        self.codec = codec
        self._writers: dict[int, Any] = {}  # schema id → parsed writer schema, None: codec

    def __call__(self, value: bytes) -> dict[str, Any]:
        if len(value) < 5 or value[0] != 0:
            return self.codec.decode(value).payload  # raises the framing error
        schema_id = int.from_bytes(value[1:5], "big")
        try:
            writer = self._writers[schema_id]
        except KeyError:
            writer = self._learn(schema_id, value)
        if writer is not None:
            buf = BytesIO(value)
            buf.seek(5)
            try:
                payload = schemaless_reader(buf, writer, None)
            except Exception:  # the codec, below, raises the error that names what is wrong
                payload = None
            if isinstance(payload, dict) and buf.tell() == len(value):
                return payload
        return self.codec.decode(value).payload

    def _learn(self, schema_id: int, value: bytes) -> Any:
        decoded = self.codec.decode(value)  # fetches and checks the writer's schema
        writer = None
        if decoded.record not in self.codec.schemas.messages:  # nothing to resolve against
            writer = parse_schema(json.loads(self.codec.registry.schema_by_id(schema_id)))
        self._writers[schema_id] = writer
        return writer


class _HeaderlessBatch(DefaultRecordBatch):  # type: ignore[misc]  # kafka-python: untyped
    """A record batch whose records are read without their headers: the record's length says
    where it ends, so the 7-8 CloudEvents headers are skipped instead of parsed (in
    kafka-python, parsing them is most of a consumer's time). The mirror reads none."""

    __slots__ = ()

    def _read_msg(self, decode_varint: Any = decode_varint) -> Any:
        if self.is_control_batch:
            return super()._read_msg()
        buffer = self._buffer
        length, pos = decode_varint(buffer, self._pos)  # type: ignore[has-type]
        end = pos + length
        _, pos = decode_varint(buffer, pos)  # attributes
        ts_delta, pos = decode_varint(buffer, pos)
        offset_delta, pos = decode_varint(buffer, pos)
        key_len, pos = decode_varint(buffer, pos)
        key = None
        if key_len >= 0:
            key = bytes(buffer[pos : pos + key_len])
            pos += key_len
        value_len, pos = decode_varint(buffer, pos)
        value = None
        if value_len >= 0:
            value = bytes(buffer[pos : pos + value_len])
            pos += value_len
        if pos > end:
            raise CorruptRecordError(f"record of {length} bytes read past its end")
        self._pos = end  # type: ignore[misc]  # a slot of DefaultRecordBatch
        kind = self.timestamp_type
        timestamp = self.max_timestamp if kind == self.LOG_APPEND_TIME else (
            self.first_timestamp + ts_delta
        )  # fmt: skip
        return DefaultRecord(length, self.base_offset + offset_delta, timestamp, kind, key, value,
                             [])  # fmt: skip


class _HeaderlessRecords:
    """A fetched ``MemoryRecords`` whose v2 batches read as ``_HeaderlessBatch``."""

    def __init__(self, records: Any) -> None:
        self.records = records

    def next_batch(self) -> Any:
        batch = self.records.next_batch()
        if type(batch) is DefaultRecordBatch:
            batch.__class__ = _HeaderlessBatch
        return batch


def _headerless(consumer: KafkaConsumer) -> None:
    """Make ``consumer`` (only it) hand out records without headers.

    The fetcher's ``PartitionRecords`` is replaced on this consumer's fetcher by a subclass
    whose record batches skip headers; every batch-level rule (CRC, aborted transactions,
    control batches, compaction gaps) stays kafka-python's. Left as it is if this
    kafka-python lays its fetcher out differently.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    base = getattr(fetcher, "PartitionRecords", None)
    if fetcher is None or base is None or not hasattr(base, "_unpack_records"):
        return

    class Headerless(base):  # type: ignore[misc,valid-type]
        def _unpack_records(self, tp: Any, records: Any, *args: Any, **kwargs: Any) -> Any:
            return super()._unpack_records(tp, _HeaderlessRecords(records), *args, **kwargs)

    fetcher.PartitionRecords = Headerless


def _fetch_settings(conn: Connection) -> dict[str, Any]:
    return {
        **conn.kafka_settings(), "enable_auto_commit": False, "isolation_level": "read_committed",
        "max_poll_records": BATCH_ROWS, "fetch_max_bytes": 64 * 1024 * 1024,
        "max_partition_fetch_bytes": 16 * 1024 * 1024, "fetch_min_bytes": 1,
        "fetch_max_wait_ms": 200,
    }  # fmt: skip


def _poll(consumer: KafkaConsumer, decode: _Decoder) -> tuple[dict[str, Any], dict[Any, int], int]:
    """One poll: each key's last payload (None: tombstone), the next offsets, the records."""
    polled = consumer.poll(timeout_ms=500, max_records=BATCH_ROWS)
    last: dict[str, Mapping[str, Any] | None] = {}
    ends: dict[tuple[str, int], int] = {}
    count = 0
    for tp, records in polled.items():
        if records:
            for raw in records:  # in offset order: the last change of a key wins
                key = raw.key.decode() if raw.key is not None else ""
                last[key] = None if raw.value is None else decode(raw.value)
            ends[(tp.topic, tp.partition)] = records[-1].offset + 1
            count += len(records)
    return last, ends, count


def _read_partitions(
    conn: Connection,
    store_url: str,
    flow: str,
    fields: tuple[str, ...],
    topic: str,
    bounds: dict[int, tuple[int, int]],
    put: Callable[[Any], None],
) -> None:
    """A bootstrap worker: read ``bounds`` (partition → (start, end)) of ``topic``, decode and
    bind the rows, and ``put`` (rows, deletes, next offsets, records) batches for the syncing
    process to write; then None (done) or a ``str`` (what failed)."""
    try:
        consumer = KafkaConsumer(**_fetch_settings(conn))
        _headerless(consumer)
        codec = make_envelope(conn).codec
        mirror = Mirror(store_url, flow, fields)  # binds rows as the writer stores them
        try:
            parts = {TopicPartition(topic, p): end for p, (_, end) in bounds.items()}
            consumer.assign(list(parts))
            for tp in parts:
                consumer.seek(tp, bounds[tp.partition][0])
            decode = _Decoder(codec)
            while any(consumer.position(tp) < end for tp, end in parts.items()):
                last, ends, count = _poll(consumer, decode)
                if ends:
                    put((*mirror.split(last), ends, count))
        finally:
            consumer.close()
            mirror.close()
        put(None)
    except Exception as exc:  # the syncing process raises it
        put(f"{type(exc).__name__}: {exc}")


def _worker_main() -> None:
    """A bootstrap worker process (``_Sync._parallel``): its arguments pickled on stdin, its
    batches as length-prefixed pickles on the stdout it was started with."""
    channel = os.dup(1)
    os.dup2(2, 1)  # the pipe carries frames only, whatever else writes to stdout

    def put(item: Any) -> None:
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(len(data).to_bytes(4, "big") + data)
        while view:
            view = view[os.write(channel, view) :]

    conn, store_url, flow, fields, topic, bounds = pickle.load(sys.stdin.buffer)
    _read_partitions(conn, store_url, flow, fields, topic, bounds, put)


_EOF = object()


def _read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes of ``fd``, or None at its end."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _frames(fd: int, out: queue.Queue[Any]) -> None:
    """A reader thread: a worker's frames onto ``out``, then ``_EOF``."""
    try:
        while (head := _read_exactly(fd, 4)) is not None:
            body = _read_exactly(fd, int.from_bytes(head, "big"))
            if body is None:
                break
            out.put(pickle.loads(body))
    finally:
        out.put(_EOF)


class _Sync:
    """One run of ``AgencyClient.sync``: a consumer without a group, positions from the
    mirror's offsets table."""

    def __init__(
        self,
        client: AgencyClient,
        mirror: Mirror,
        topic: str,
        progress: Progress | None,
        stop: Callable[[], bool],
        bootstrapped: Callable[[SyncResult], None] | None = None,
    ) -> None:
        self.client, self.mirror, self.topic = client, mirror, topic
        self.progress, self.stop, self.bootstrapped = progress, stop, bootstrapped
        self.read = self.written = self.deleted = 0
        self.decode = _Decoder(client.codec)

    def _consumer(self) -> KafkaConsumer:
        try:
            consumer = KafkaConsumer(**_fetch_settings(self.client.conn))
        except KafkaError as exc:
            raise ClusterError(
                f"cannot reach Kafka at {self.client.conn.bootstrap}: {exc}",
                code="CLUSTER_UNREACHABLE",
            ) from exc
        _headerless(consumer)
        return consumer

    def _batch(self, consumer: KafkaConsumer) -> int:
        """Poll once and apply what came (one transaction); how many records."""
        last, ends, count = _poll(consumer, self.decode)
        if ends:
            self._write(*self.mirror.split(last), ends, count)
        return count

    def _write(self, rows: list[Any], gone: list[str], ends: dict[Any, int], count: int) -> None:
        written, deleted = self.mirror.write(rows, gone, ends)
        self.read += count
        self.written += written
        self.deleted += deleted

    def parallel(self, total: int) -> bool:
        """Whether to bootstrap with worker processes: a long bootstrap of an unfiltered
        SQLite mirror, on a machine with more than one core."""
        return (
            total >= PARALLEL_FROM
            and self.mirror.keep is None
            and self.mirror.engine.dialect.name == "sqlite"
            and (os.cpu_count() or 1) > 1
        )

    def _parallel(
        self, starts: dict[TopicPartition, int], ends: dict[TopicPartition, int], total: int
    ) -> None:
        """Bootstrap with ``WORKERS`` processes, each reading, decoding and binding some of
        the partitions; this process writes their batches (rows and offsets, one transaction
        each), so SQLite keeps one writer and a restart resumes exactly. The workers are
        ``python -c`` processes, not ``multiprocessing`` ones: the caller's main module is
        never imported again.

        Raises:
            ClusterError: ``MIRROR_WORKER_FAILED`` (what a worker raised, or that it died).
        """
        bounds = {tp.partition: (starts[tp], ends[tp]) for tp in starts if ends[tp] > starts[tp]}
        shares = [dict(list(bounds.items())[i::WORKERS]) for i in range(WORKERS)]
        url = self.mirror.engine.url.render_as_string(hide_password=False)
        fields = tuple(self.mirror._columns)
        root = str(Path(__file__).resolve().parents[2])  # where courtbus is importable from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p
        )}  # fmt: skip
        out: queue.Queue[Any] = queue.Queue(maxsize=4 * WORKERS)
        workers: list[subprocess.Popen[bytes]] = []
        readers: list[threading.Thread] = []
        try:
            for share in (s for s in shares if s):
                worker = subprocess.Popen(
                    [sys.executable, "-c", "from courtbus.sdk.feed_reader import _worker_main; "
                     "_worker_main()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                )  # fmt: skip
                workers.append(worker)
                assert worker.stdin is not None and worker.stdout is not None
                args = (self.client.conn, url, self.mirror.flow, fields, self.topic, share)
                worker.stdin.write(pickle.dumps(args))
                worker.stdin.close()
                reader = threading.Thread(
                    target=_frames, args=(worker.stdout.fileno(), out), daemon=True
                )
                reader.start()
                readers.append(reader)
            open_, finished, done = len(workers), 0, 0
            while open_ and not self.stop():
                try:
                    item = out.get(timeout=1.0)
                except queue.Empty:
                    continue
                if item is _EOF:
                    open_ -= 1
                elif item is None:
                    finished += 1
                elif isinstance(item, str):
                    raise ClusterError(
                        f"{self.topic}: bootstrap worker failed: {item}",
                        code="MIRROR_WORKER_FAILED",
                    )
                else:
                    rows, gone, positions, count = item
                    self._write(rows, gone, positions, count)
                    done += count
                    if self.progress is not None:
                        self.progress(min(done, total), total)
            if not open_ and finished < len(workers):
                raise ClusterError(
                    f"{self.topic}: a bootstrap worker exited without finishing",
                    code="MIRROR_WORKER_FAILED",
                )
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
            while any(r.is_alive() for r in readers):  # unblock them: they end at EOF
                with contextlib.suppress(queue.Empty):
                    out.get(timeout=0.1)
            for worker in workers:
                worker.wait(timeout=30)
                if worker.stdout is not None:
                    worker.stdout.close()

    def run(self, follow: bool) -> SyncResult:
        consumer = self._consumer()
        started = time.monotonic()
        try:
            parts = [
                TopicPartition(self.topic, p)
                for p in sorted(consumer.partitions_for_topic(self.topic) or ())
            ]
            if not parts:
                raise ClusterError(f"no topic {self.topic} on the bus", code="FEED_MISSING")
            consumer.assign(parts)
            stored = self.mirror.offsets(self.topic)
            starts = consumer.beginning_offsets(parts)
            for tp in parts:
                starts[tp] = max(starts[tp], stored.get(tp.partition, 0))
                consumer.seek(tp, starts[tp])
            ends = consumer.end_offsets(parts)
            total = sum(max(0, ends[tp] - starts[tp]) for tp in parts)
            log.info("%s: bootstrapping %d record(s) from %s", self.topic, total, stored or "0")

            def done() -> int:
                return sum(
                    max(0, min(consumer.position(tp), ends[tp]) - starts[tp]) for tp in parts
                )

            if self.parallel(total):
                self._parallel(starts, ends, total)
                stored = self.mirror.offsets(self.topic)
                for tp in parts:  # follow from where the workers' batches committed
                    consumer.seek(tp, max(starts[tp], stored.get(tp.partition, 0)))
            while done() < total and not self.stop():
                self._batch(consumer)
                if self.progress is not None:
                    self.progress(done(), total)
            if self.progress is not None:
                self.progress(done(), total)
            bootstrap_s = time.monotonic() - started
            if self.bootstrapped is not None:
                self.bootstrapped(self._result(bootstrap_s))
            while follow and not self.stop():
                self._batch(consumer)
        finally:
            consumer.close()
        return self._result(bootstrap_s)

    def _result(self, bootstrap_s: float) -> SyncResult:
        return SyncResult(self.read, self.written, self.deleted, self.mirror.count(), bootstrap_s)
