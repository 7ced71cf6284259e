"""Drift in a partner's mirror: rows deleted or added by hand, a restored backup, a bug.

The mirror says how far it has read its feed (``partner_offsets``); the feed up to exactly
those offsets says what the mirror should hold. Both sides are digested by bucket of entry id
(``courtbus.domain.blacklist_digest``: a count and a hash per bucket), the buckets that differ
are compared id by id, and the repair writes the feed's rows the mirror lacks and deletes the
rows the feed does not have, without moving the offsets. Reading the feed costs as much as a
bootstrap (it is read from the start), so this is an operator's check, not a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

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
        **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed",
        max_poll_records=5000, fetch_max_bytes=64 * 1024 * 1024,
    )  # fmt: skip
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
