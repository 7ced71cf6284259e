"""Drift in a partner's mirror: rows deleted or added by hand, a restored backup, a bug.

Against the national view (the default): the view (``blacklist.entries``) read to its end,
projected for the agency by the feed router's own rules (``courtbus.catalogue.feeds``), says
what the mirror should hold, field by field; the mirror is first brought up to its feed's end,
after the router has routed what was read of the view, and entries the view changed meanwhile
are left out (in flight, not drift). A wrong feed is found this way too, which comparing the
mirror with its own feed cannot do: the feed may carry the error.

Against the feed (``against="feed"``, for a partner who may not read the view): the mirror
says how far it has read its feed (``partner_offsets``); the feed up to exactly those offsets
says what the mirror should hold. Both sides are digested by bucket of entry id
(``courtbus.domain.blacklist_digest``: a count and a hash per bucket), the buckets that differ
are compared id by id, and the repair writes the feed's rows the mirror lacks and deletes the
rows the feed does not have, without moving the offsets. Reading the feed costs as much as a
bootstrap (it is read from the start), so this is an operator's check, not a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from courtbus.config import Connection
from courtbus.domain import blacklist_digest as digests


@dataclass(frozen=True, slots=True)
class MirrorCheck:
    """What ``AgencyClient.verify_mirror`` found (and repaired): the feed's rows up to the
    mirror's offsets, the mirror's rows, the buckets that differ, the ids the mirror lacks and
    those it should not have."""

    topic: str
    feed_rows: int
    mirror_rows: int
    buckets: tuple[int, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    repaired: bool
    against: str = "feed"  # what the mirror was compared with: "view" or "feed"
    changed: tuple[str, ...] = ()  # ids held with other content than the view's (view only)
    in_flight: int = 0  # entries the view changed during the check, not compared
    router_behind: int = 0  # view records the router had not routed when the check gave up

    @property
    def in_sync(self) -> bool:
        """The digests are equal."""
        return not self.buckets


def read_upto(
    conn: Connection,
    topic: str,
    offsets: Mapping[int, int],
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Any]:
    """The records of ``topic`` from the start of each partition up to (not including)
    ``offsets[partition]``; partitions not in ``offsets`` are not read."""
    consumer = KafkaConsumer(
        **conn.kafka_settings(),
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    try:
        parts = [TopicPartition(topic, p) for p, end in sorted(offsets.items()) if end > 0]
        if not parts:
            return
        consumer.assign(parts)
        starts = consumer.beginning_offsets(parts)
        for tp in parts:
            consumer.seek(tp, starts[tp])
        total = sum(max(0, offsets[tp.partition] - starts[tp]) for tp in parts)
        open_parts = {tp for tp in parts if starts[tp] < offsets[tp.partition]}
        done = 0
        while open_parts:
            for tp, records in consumer.poll(timeout_ms=500).items():
                end = offsets[tp.partition]
                for raw in records:
                    if raw.offset < end:
                        done += 1
                        yield raw
                if consumer.position(tp) >= end:
                    open_parts.discard(tp)
                    consumer.pause(tp)
            if progress is not None:
                progress(done, total)
    finally:
        consumer.close()


def compare(
    expected: Iterable[str], held: Iterable[str]
) -> tuple[tuple[int, ...], tuple[str, ...], tuple[str, ...]]:
    """(buckets that differ, ids missing from ``held``, ids ``held`` should not have)."""
    want, have = set(expected), set(held)
    buckets = digests.differing(digests.digest(want), digests.digest(have))
    if not buckets:
        return (), (), ()
    chosen = set(buckets)
    in_buckets = {i for i in want | have if digests.bucket_of(i) in chosen}
    missing = tuple(sorted((want - have) & in_buckets))
    extra = tuple(sorted((have - want) & in_buckets))
    return tuple(buckets), missing, extra


def end_offsets(conn: Connection, topic: str) -> dict[int, int]:
    """Partition → the read_committed end offset of ``topic`` now."""
    consumer = KafkaConsumer(
        **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return {tp.partition: end for tp, end in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def latest_by_key(
    conn: Connection,
    topic: str,
    decode: Callable[[Any], Mapping[str, Any] | None],
    offsets: Mapping[int, int],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Mapping[str, Any] | None]:
    """The last value of each key of ``topic`` up to ``offsets`` (None: a tombstone)."""
    latest: dict[str, Mapping[str, Any] | None] = {}
    for raw in read_upto(conn, topic, offsets, progress):
        latest[(raw.key or b"").decode()] = None if raw.value is None else decode(raw)
    return latest


def keys_between(
    conn: Connection, topic: str, start: Mapping[int, int], end: Mapping[int, int]
) -> list[str]:
    """The keys of ``topic``'s committed records from ``start`` up to ``end`` per partition,
    one per record (transaction markers and aborted records take offsets but are no records)."""
    consumer = KafkaConsumer(
        **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
    )
    keys: list[str] = []
    try:
        parts = [TopicPartition(topic, p) for p in end if end[p] > start.get(p, 0)]
        if not parts:
            return keys
        consumer.assign(parts)
        for tp in parts:
            consumer.seek(tp, start.get(tp.partition, 0))
        open_parts = set(parts)
        while open_parts:
            for tp, records in consumer.poll(timeout_ms=500).items():
                keys += [(r.key or b"").decode() for r in records if r.offset < end[tp.partition]]
            for tp in list(open_parts):
                if consumer.position(tp) >= end[tp.partition]:
                    open_parts.discard(tp)
                    consumer.pause(tp)
    finally:
        consumer.close()
    return keys


def wait_for_group(
    conn: Connection,
    group: str,
    topic: str,
    ends: Mapping[int, int],
    timeout_s: float = 30.0,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Wait until ``group`` has committed ``topic`` up to ``ends``; the records it is still
    behind when ``timeout_s`` runs out (0: caught up; -1: its progress cannot be read, e.g. no
    permission to describe the group)."""
    import time

    pause = sleep or time.sleep
    try:
        admin = KafkaAdminClient(**conn.kafka_settings())
    except KafkaError:
        return -1
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            parts = [TopicPartition(topic, p) for p in ends]
            try:
                committed = admin.list_group_offsets({group: parts}).get(group, {})
            except KafkaError:
                return -1
            done = {tp.partition: max(m.offset, 0) for tp, m in committed.items() if m is not None}
            # short of the end by offsets only a transaction marker may take: read the gap
            short = {p: done.get(p, 0) for p, end in ends.items() if done.get(p, 0) < end}
            behind = len(keys_between(conn, topic, short, ends)) if short else 0
            if behind == 0 or time.monotonic() >= deadline:
                return int(behind)
            pause(0.2)
    finally:
        admin.close()


def content_diff(
    expected: Mapping[str, bytes], held: Mapping[str, bytes]
) -> tuple[tuple[int, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(buckets that differ, ids missing from ``held``, ids ``held`` should not have, ids held
    with other content), from each side's row fingerprints."""
    missing = tuple(sorted(set(expected) - set(held)))
    extra = tuple(sorted(set(held) - set(expected)))
    changed = tuple(sorted(k for k in set(expected) & set(held) if expected[k] != held[k]))
    buckets = tuple(sorted({digests.bucket_of(k) for k in (*missing, *extra, *changed)}))
    return buckets, missing, extra, changed
