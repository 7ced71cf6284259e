"""The partner mirror's feed reader (``AgencyClient.sync``'s engine): a group-less
confluent-kafka (librdkafka) consumer positioned from the mirror's offsets table, a fast Avro
decoder, and, for a large bootstrap, worker processes that each read, decode and write some of
the partitions into the mirror themselves. Split from ``courtbus.sdk.agency``.

Why confluent-kafka here (the SDK's other calls keep kafka-python, the client the project's
brief names): a bootstrap reads the whole national list, and librdkafka fetches on its own
threads and hands records over at a fraction of kafka-python's CPU per record (kafka-python's
record parsing was a third of the bootstrap; see ``bench.blacklist_bootstrap``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import confluent_kafka as ck
from fastavro import parse_schema, schemaless_reader

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
_rdkafka_log = logging.getLogger("courtbus.sdk.librdkafka")  # librdkafka's own log lines
# A bootstrap of at least this many records writes the SQLite mirror as a bulk load
# (``Mirror.bulk``); a short one (a restart's tail) keeps the WAL all along.
BULK_FROM = 50_000
_POLL_S = 0.5  # longest wait of one consume() call
_EOF = ck.KafkaError._PARTITION_EOF


def _strip_times(schema: Any, names: Iterable[str]) -> Any:
    """``schema`` (a record's JSON) with the ``timestamp-millis`` logical type dropped from its
    top-level fields ``names`` (alone or in a union): fastavro then leaves them as epoch
    milliseconds, which ``Mirror`` stores directly (a datetime per value cost 1.3 µs to make)."""
    wanted = set(names)

    def plain(node: Any) -> Any:
        if isinstance(node, dict) and node.get("logicalType") == "timestamp-millis":
            return node["type"]
        return node

    fields = []
    for fld in schema.get("fields", []):
        if fld.get("name") in wanted:
            kind = fld["type"]
            fld = {
                **fld,
                "type": [plain(k) for k in kind] if isinstance(kind, list) else plain(kind),
            }
        fields.append(fld)
    return {**schema, "fields": fields}


class _Decoder:
    """Feed values to payloads without ``FeedEvent``s or header parsing (the mirror needs
    neither): fastavro against the writer's parsed schema, cached per schema id. A value the
    fast path cannot take (a schema the codec would resolve against our own, a corrupt body)
    goes through ``AvroCodec.decode``, which decodes it or raises its error.

    ``raw_times``: top-level fields whose ``timestamp-millis`` values stay epoch milliseconds
    on the fast path (the mirror's time columns: see ``_strip_times``).
    """

    def __init__(self, codec: AvroCodec, raw_times: Iterable[str] = ()) -> None:
        self.codec = codec
        self.raw_times = tuple(raw_times)
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
            text = json.loads(self.codec.registry.schema_by_id(schema_id))
            writer = parse_schema(_strip_times(text, self.raw_times) if self.raw_times else text)
        self._writers[schema_id] = writer
        return writer


def _settings(conn: Connection, agency: str) -> dict[str, Any]:
    """The feed consumer's librdkafka settings: assigned partitions only, nothing committed
    (the offsets live in the mirror), so its ``group.id`` (librdkafka requires one) never
    reaches a coordinator; it is under the agency's own group prefix (``agency.<id>.``, the
    only groups its ACLs let it use) all the same. The prefetch queue is bounded, so RSS
    stays flat however long the feed."""
    return {
        **conn.librdkafka_settings(),
        "group.id": f"agency.{agency}.mirror",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
        "queued.max.messages.kbytes": 32 * 1024,
        "logger": _rdkafka_log,
    }


def _consumer(conn: Connection, agency: str) -> ck.Consumer:
    try:
        return ck.Consumer(_settings(conn, agency))
    except ck.KafkaException as exc:
        raise ClusterError(
            f"cannot make a consumer for {conn.bootstrap}: {exc}", code="CLUSTER_UNREACHABLE"
        ) from exc


def _timeout_s(conn: Connection) -> float:
    return conn.connect_timeout_s if conn.connect_timeout_s is not None else 30.0


class _Batch:
    """One consume() of a feed: each key's last payload (None: tombstone), each partition's
    next offset after its last record, the records, and the partitions that reported their
    end (partition → the offset of that end)."""

    __slots__ = ("count", "ends", "eof", "last")

    def __init__(self) -> None:
        self.last: dict[str, Mapping[str, Any] | None] = {}
        self.ends: dict[tuple[str, int], int] = {}
        self.eof: dict[int, int] = {}
        self.count = 0


def _consume(
    consumer: ck.Consumer, decode: _Decoder, limits: Mapping[int, int] | None = None
) -> _Batch:
    """Up to ``BATCH_ROWS`` records; with ``limits`` (partition → end), a record at or past
    its partition's end is left out (another reader takes it from there).

    Raises:
        ClusterError: ``FEED_READ_FAILED`` (a fatal or non-retriable consumer error).
    """
    batch = _Batch()
    try:
        messages = consumer.consume(BATCH_ROWS, _POLL_S)
    except ck.KafkaException as exc:
        raise ClusterError(f"feed read failed: {exc}", code="FEED_READ_FAILED") from exc
    last, ends = batch.last, batch.ends
    for m in messages:
        err = m.error()
        if err is not None:
            if err.code() == _EOF:
                batch.eof[m.partition() or 0] = m.offset() or 0
                continue
            if err.fatal() or not err.retriable():
                raise ClusterError(f"feed read failed: {err}", code="FEED_READ_FAILED")
            log.warning("feed read: %s", err)
            continue
        partition, offset = m.partition(), m.offset()
        assert partition is not None and offset is not None
        if limits is not None and offset >= limits.get(partition, offset):
            continue
        key = m.key()
        value = m.value()
        # in offset order per partition: the last change of a key wins
        last[key.decode() if key is not None else ""] = None if value is None else decode(value)
        ends[(m.topic() or "", partition)] = offset + 1
        batch.count += 1
    return batch


def _read_partitions(
    conn: Connection,
    agency: str,
    store_url: str,
    flow: str,
    fields: tuple[str, ...],
    topic: str,
    bounds: dict[int, tuple[int, int]],
    put: Callable[[Any], None],
) -> None:
    """A bootstrap worker: read ``bounds`` (partition → (start, end)) of ``topic``, decode,
    and write the rows with their partitions' offsets into the mirror (one transaction a
    batch, in bulk mode: the syncing process switched the file); ``put`` (records, written,
    deleted) per batch, then None (done) or a ``str`` (what failed)."""
    try:
        consumer = _consumer(conn, agency)
        codec = make_envelope(conn).codec
        mirror = Mirror(store_url, flow, fields, bulk=True)
        try:
            consumer.assign(
                [ck.TopicPartition(topic, p, start) for p, (start, _) in bounds.items()]
            )
            limits = {p: end for p, (_, end) in bounds.items()}
            decode = _Decoder(codec, mirror.time_columns)
            while limits:
                batch = _consume(consumer, decode, limits)
                for partition, offset in batch.eof.items():
                    if offset >= limits.get(partition, offset + 1):
                        del limits[partition]
                for (_, partition), end in batch.ends.items():
                    if end >= limits.get(partition, end + 1):
                        del limits[partition]
                if batch.ends:
                    written, deleted = mirror.write(*mirror.split(batch.last), batch.ends)
                    put((batch.count, written, deleted))
        finally:
            consumer.close()
            mirror.close()
            close = getattr(codec.registry, "close", None)
            if callable(close):
                close()
        put(None)
    except Exception as exc:  # the syncing process raises it
        put(f"{type(exc).__name__}: {exc}")


def _worker_main() -> None:
    """A bootstrap worker process (``_Sync._parallel``): its arguments pickled on stdin, its
    reports as length-prefixed pickles on the stdout it was started with."""
    channel = os.dup(1)
    os.dup2(2, 1)  # the pipe carries frames only, whatever else writes to stdout

    def put(item: Any) -> None:
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(len(data).to_bytes(4, "big") + data)
        while view:
            view = view[os.write(channel, view) :]

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # The decoded records are dicts without cycles, freed as each batch is written: the cyclic
    # collector found nothing in them and took 14% of a worker's time (py-spy) walking them.
    gc.disable()
    conn, agency, url, flow, fields, topic, bounds = pickle.load(sys.stdin.buffer)
    _read_partitions(conn, agency, url, flow, fields, topic, bounds, put)


_CLOSED = object()


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
    """A reader thread: a worker's frames onto ``out``, then ``_CLOSED``."""
    try:
        while (head := _read_exactly(fd, 4)) is not None:
            body = _read_exactly(fd, int.from_bytes(head, "big"))
            if body is None:
                break
            out.put(pickle.loads(body))
    finally:
        out.put(_CLOSED)


class _Sync:
    """One run of ``AgencyClient.sync``: a consumer without a group, positions from the
    mirror's offsets table; the bootstrap (in worker processes if long), then follow."""

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
        self.decode = _Decoder(client.codec, mirror.time_columns)

    def _apply(self, batch: _Batch) -> None:
        if batch.ends:
            written, deleted = self.mirror.commit(batch.last, batch.ends)
            self.read += batch.count
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

    def _parallel(self, starts: dict[int, int], ends: dict[int, int], total: int) -> None:
        """Bootstrap with ``WORKERS`` processes, each reading, decoding and writing some of
        the partitions: rows and their partitions' offsets in one transaction a batch
        (SQLite queues the writers: ``BEGIN IMMEDIATE``), so a restart resumes exactly. The
        workers are ``python -c`` processes, not ``multiprocessing`` ones: the caller's main
        module is never imported again.

        Raises:
            ClusterError: ``MIRROR_WORKER_FAILED`` (what a worker raised, or that it died).
        """
        bounds = {p: (starts[p], ends[p]) for p in starts if ends[p] > starts[p]}
        # the largest partitions first, dealt round so each worker gets a like share
        order = sorted(bounds, key=lambda p: bounds[p][0] - bounds[p][1])
        shares = [{p: bounds[p] for p in order[i::WORKERS]} for i in range(WORKERS)]
        url = self.mirror.engine.url.render_as_string(hide_password=False)
        fields = tuple(self.mirror.columns)
        root = str(Path(__file__).resolve().parents[2])  # where courtbus is importable from
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
        }
        out: queue.Queue[Any] = queue.Queue()
        workers: list[subprocess.Popen[bytes]] = []
        readers: list[threading.Thread] = []
        agency = self.client.agency.id
        try:
            for share in (s for s in shares if s):
                worker = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "from courtbus.sdk.feed_reader import _worker_main; _worker_main()",
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
                workers.append(worker)
                assert worker.stdin is not None and worker.stdout is not None
                args = (self.client.conn, agency, url, self.mirror.flow, fields, self.topic, share)
                worker.stdin.write(pickle.dumps(args))
                worker.stdin.close()
                reader = threading.Thread(
                    target=_frames, args=(worker.stdout.fileno(), out), daemon=True
                )
                reader.start()
                readers.append(reader)
            open_, finished = len(workers), 0
            while open_ and not self.stop():
                try:
                    item = out.get(timeout=1.0)
                except queue.Empty:
                    continue
                if item is _CLOSED:
                    open_ -= 1
                elif item is None:
                    finished += 1
                elif isinstance(item, str):
                    raise ClusterError(
                        f"{self.topic}: bootstrap worker failed: {item}",
                        code="MIRROR_WORKER_FAILED",
                    )
                else:
                    count, written, deleted = item
                    self.read += count
                    self.written += written
                    self.deleted += deleted
                    if self.progress is not None:
                        self.progress(min(self.read, total), total)
            if not open_ and finished < len(workers):
                raise ClusterError(
                    f"{self.topic}: a bootstrap worker exited without finishing",
                    code="MIRROR_WORKER_FAILED",
                )
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
            for reader in readers:  # they end at the pipe's end
                reader.join(timeout=10)
            for worker in workers:
                if worker.stdout is not None:
                    worker.stdout.close()

    def _bounds(self, consumer: ck.Consumer) -> tuple[dict[int, int], dict[int, int]]:
        """(partition → where to start, partition → end: the last stable offset now).

        Raises:
            ClusterError: ``FEED_MISSING``, ``CLUSTER_UNREACHABLE``.
        """
        conn = self.client.conn
        timeout = _timeout_s(conn)
        try:
            meta = consumer.list_topics(self.topic, timeout=timeout)
            found = meta.topics.get(self.topic)
            if found is None or found.error is not None or not found.partitions:
                raise ClusterError(f"no topic {self.topic} on the bus", code="FEED_MISSING")
            stored = self.mirror.offsets(self.topic)
            starts, ends = {}, {}
            for p in sorted(found.partitions):
                low, high = consumer.get_watermark_offsets(
                    ck.TopicPartition(self.topic, p), timeout=timeout, cached=False
                )
                starts[p], ends[p] = max(low, stored.get(p, 0)), high
        except ck.KafkaException as exc:
            raise ClusterError(
                f"cannot reach Kafka at {conn.bootstrap}: {exc}", code="CLUSTER_UNREACHABLE"
            ) from exc
        log.info(
            "%s: bootstrapping %d record(s) from %s",
            self.topic,
            sum(max(0, ends[p] - starts[p]) for p in ends),
            stored or "0",
        )
        return starts, ends

    def run(self, follow: bool) -> SyncResult:
        consumer = _consumer(self.client.conn, self.client.agency.id)
        started = time.monotonic()
        try:
            starts, ends = self._bounds(consumer)
            first = dict(starts)
            total = sum(max(0, ends[p] - starts[p]) for p in ends)

            def done() -> int:  # offsets: more than the records (compaction, markers)
                return sum(min(reached[p], ends[p]) - min(first[p], ends[p]) for p in ends)

            with self.mirror.bulk() if total >= BULK_FROM else contextlib.nullcontext():
                if self.parallel(total):
                    self._parallel(starts, ends, total)
                    stored = self.mirror.offsets(self.topic)
                    for p in starts:  # the rest from where the workers' batches committed
                        starts[p] = max(starts[p], stored.get(p, 0))
                consumer.assign([ck.TopicPartition(self.topic, p, starts[p]) for p in starts])
                reached = dict(starts)  # partition → how far the bootstrap has read
                while done() < total and not self.stop():
                    batch = _consume(consumer, self.decode)
                    self._apply(batch)
                    for (_, p), end in batch.ends.items():
                        reached[p] = max(reached[p], end)
                    for p, end in batch.eof.items():
                        reached[p] = max(reached[p], end)
                    if self.progress is not None:
                        self.progress(done(), total)
            if self.progress is not None:
                self.progress(done(), total)
            bootstrap_s = time.monotonic() - started
            if self.bootstrapped is not None:
                self.bootstrapped(self._result(bootstrap_s))
            while follow and not self.stop():
                self._apply(_consume(consumer, self.decode))
        finally:
            consumer.close()
        return self._result(bootstrap_s)

    def _result(self, bootstrap_s: float) -> SyncResult:
        return SyncResult(self.read, self.written, self.deleted, self.mirror.count(), bootstrap_s)
