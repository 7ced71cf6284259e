"""``python -m services.restriction``: run one restriction worker until SIGTERM or Ctrl-C.

Settings: ``services.restriction.settings.RestrictionSettings``.
"""

from __future__ import annotations

from collections.abc import Mapping

from kafka import KafkaConsumer, TopicPartition

from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.catalogue.directory import load_directory
from courtbus.config import resolve
from courtbus.wire.envelope import Envelope
from services.main import run_service
from services.restriction.flow import LoadProgress, RestrictionFlow
from services.restriction.settings import RestrictionSettings


def view_ends() -> Mapping[int, int]:
    """The list view's read_committed end offsets now: the total an initial load's progress
    is told against (asked once, by a consumer of its own that joins no group).

    Raises:
        ConfigError: the cluster is not configured; KafkaError: it cannot be asked.
    """
    consumer = KafkaConsumer(
        **resolve().kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        parts = [
            TopicPartition(BLACKLIST_VIEW, p)
            for p in sorted(consumer.partitions_for_topic(BLACKLIST_VIEW) or ())
        ]
        return {tp.partition: int(end) for tp, end in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def make(envelope: Envelope, settings: RestrictionSettings) -> RestrictionFlow:
    """The flow with the repository's directory and the deadlines of the environment."""
    every = settings.restriction_progress_seconds.total_seconds()
    return RestrictionFlow(
        envelope,
        load_directory(),
        ack_deadline=settings.restriction_ack_seconds,
        grace=settings.restriction_grace_seconds,
        from_listings=settings.restriction_from_listings,
        bulk_age=settings.restriction_bulk_age_seconds,
        bulk_quiet=settings.restriction_bulk_quiet_seconds,
        progress=LoadProgress(every, view_ends),
    )


if __name__ == "__main__":
    run_service(make, RestrictionSettings)
