"""Write synthetic blacklist entries to Kafka, as fast as one kafka-python producer goes.

The only module of ``courtbus.synth`` that imports a Kafka client. Records are encoded with
the bus's envelope (registry-framed Avro, CloudEvents headers, source ``bus:synth``) and handed
to a producer that batches (linger, large batches, lz4 when the lz4 package is installed) and
waits once at the end: no per-record acknowledgement, no idempotence (a retried duplicate on
the compacted, id-keyed ``blacklist.entries`` is harmless).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kafka.codec import has_lz4
from kafka.errors import KafkaError

from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.config import Connection
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import ClusterError, ValidationError
from courtbus.synth.blacklist import SynthCourt, entry_payloads, listing_payloads
from courtbus.wire.client import make_envelope, make_producer
from courtbus.wire.messages import NS

SOURCE = "bus:synth"
ENTRY_RECORD = f"{NS}.blacklist.BlacklistEntry"
LISTING_RECORD = f"{NS}.blacklist.DebtorListed"
PROGRESS_EVERY = 2_000
FAST_PRODUCER: dict[str, Any] = {
    "acks": 1,
    "enable_idempotence": False,
    "linger_ms": 50,
    "batch_size": 512 * 1024,  # kafka-python 3 has no buffer_memory setting (it refuses it)
    "max_in_flight_requests_per_connection": 5,
}


def write_entries(
    conn: Connection,
    count: int,
    *,
    topic: str = BLACKLIST_VIEW,
    seed: int = 0,
    start: int = 0,
    listings: bool = False,
    courts: Sequence[str | SynthCourt] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Produce ``count`` synthetic ``BlacklistEntry`` records (``listings``: ``DebtorListed``)
    of ``seed`` from index ``start`` to ``topic``, keyed by entry id; the count written.
    ``courts``: the listing courts, as ``entry_payloads`` takes them (None: its national table).

    ``progress(n)`` is called from this thread with the records handed to the producer since
    its previous call (every ``PROGRESS_EVERY``), e.g. to advance a progress bar. Schemas are
    registered if the registry lacks them.

    Raises:
        ValidationError: ``SYNTH_INVALID`` (a count below 1).
        ClusterError: ``CLUSTER_UNREACHABLE``, or ``PRODUCE_FAILED`` if the broker refused
            or did not acknowledge records (how many, and the first reason).
        RegistryError: the registry is unreachable.
    """
    if count < 1:
        raise ValidationError(f"count must be at least 1, got {count}", code="SYNTH_INVALID")
    envelope = make_envelope(conn, auto_register=True)
    settings = dict(FAST_PRODUCER, compression_type="lz4" if has_lz4() else None)
    producer = make_producer(conn, **settings)
    failures: list[BaseException] = []
    record = LISTING_RECORD if listings else ENTRY_RECORD
    make = listing_payloads if listings else entry_payloads
    payloads = make(count, seed=seed, start=start, courts=courts)
    pending = written = 0
    try:
        for payload in payloads:
            out = envelope.build(topic, record, payload, SOURCE)
            try:
                future = producer.send(topic, key=out.key, value=out.value, headers=out.headers)
            except KafkaError as exc:
                failures.append(exc)
                break
            future.add_errback(failures.append)
            written += 1
            pending += 1
            if pending == PROGRESS_EVERY:
                if failures:
                    break
                if progress is not None:
                    progress(pending)
                pending = 0
        try:
            producer.flush()
        except KafkaError as exc:
            failures.append(exc)
        if progress is not None and pending:
            progress(pending)
    finally:
        producer.close()
    if failures:
        reason = mask_ids_in_text(str(failures[0]))
        raise ClusterError(
            f"producing synthetic entries to {topic} failed: {len(failures)} record(s) not "
            f"acknowledged of {written} sent; first: {reason}",
            code="PRODUCE_FAILED",
        )
    return written
