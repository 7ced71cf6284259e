"""``python -m services.restriction``: run one restriction worker until SIGTERM or Ctrl-C.

``COURTBUS_DIRECTORY`` names another directory file; ``COURTBUS_RESTRICTION_ACK_SECONDS`` how
long an entitled agency has to acknowledge a control or its lift (default 12 hours);
``COURTBUS_RESTRICTION_GRACE_SECONDS`` how long a lifted control stays in the view before its
tombstone (default 7 days); ``COURTBUS_RESTRICTION_BULK_AGE_SECONDS``,
``COURTBUS_RESTRICTION_BULK_QUIET_SECONDS`` and ``COURTBUS_RESTRICTION_PROGRESS_SECONDS`` the
initial load over an existing list (see ``services.restriction.flow``).
"""

from __future__ import annotations

from collections.abc import Mapping

from kafka import KafkaConsumer, TopicPartition

from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.catalogue.directory import load_directory
from courtbus.config import resolve
from courtbus.wire.envelope import Envelope
from services.main import run_service
from services.restriction.flow import (
    LoadProgress,
    RestrictionFlow,
    progress_from_env,
)


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


def make(envelope: Envelope) -> RestrictionFlow:
    """The flow with the repository's directory and the deadlines of the environment."""
    every = progress_from_env()
    return RestrictionFlow(envelope, load_directory(), progress=LoadProgress(every, view_ends))


if __name__ == "__main__":
    run_service(make)
