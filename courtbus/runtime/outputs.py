"""Outputs a transaction cannot carry: to a topic the cluster lacks, or too large to send.

Why a check before the transaction: a send to a topic that does not exist blocks kafka-python's
producer until ``max_block_ms`` (60 s) and then aborts the whole transaction; the worker
rejoined and got the same batch again, so one record naming a court without an inbox stalled a
service for ever (and an agency's acknowledgement behind it with it). An output larger than a
produce request fails the same way. The engine asks ``OutputCheck.problem`` about each record's
outputs before it keeps the record: a problem refuses that record alone (dead letter with its
original bytes, ``OUTPUT_TOPIC_MISSING`` or ``OUTPUT_TOO_LARGE``, an alert on ``bus.alerts``)
and the batch goes on.

A topic not seen yet is looked up again a bounded number of times (a topic just created may
not be listed at once); once confirmed missing it is taken as missing for ``recheck_s``
without asking, so a burst of such records costs one lookup, not one each. The whole list is
taken again when it is ``recheck_s`` old, so a topic deleted meanwhile is noticed too. Imports no Kafka
client: the worker passes a function that lists the cluster's topics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from courtbus.bus.records import Output
from courtbus.errors import CourtbusError, TransientError

log = logging.getLogger("courtbus.runtime")

OUTPUT_TOPIC_MISSING = "OUTPUT_TOPIC_MISSING"
OUTPUT_TOO_LARGE = "OUTPUT_TOO_LARGE"
OUTPUT_CODES = frozenset({OUTPUT_TOPIC_MISSING, OUTPUT_TOO_LARGE})
# What a produce request adds to a record's key, value and headers (batch and record headers,
# generously): a record within max_request_bytes less this fits one request.
RECORD_OVERHEAD = 512
_HEADER_BOUND = 2048  # a header whose name and value are each under half of this


def record_size(out: Output) -> int:
    """Bytes ``out`` takes in a produce request, estimated from above."""
    headers = sum(len(k.encode()) + len(v) for k, v in out.headers)
    return len(out.key or b"") + len(out.value or b"") + headers + RECORD_OVERHEAD


def _fits(out: Output, max_bytes: int) -> bool:
    """Whether ``out`` fits a produce request: most outputs are small enough to tell at once."""
    small = len(out.key or b"") + len(out.value or b"") + RECORD_OVERHEAD
    if small + len(out.headers) * _HEADER_BOUND <= max_bytes:
        for name, value in out.headers:  # only a large header can tip it (UTF-8: ≤ 4 B/char)
            if len(value) > _HEADER_BOUND // 2 or len(name) > _HEADER_BOUND // 8:
                break
        else:
            return True
    return record_size(out) <= max_bytes


class OutputCheck:
    """Which outputs cannot be produced, asked per record before its transaction.

    ``list_topics`` returns the names of the cluster's topics (raising ``TransientError`` or
    anything else when it cannot); ``sleep`` waits between lookups and returns early (True)
    when the worker is stopping.
    """

    def __init__(
        self,
        list_topics: Callable[[], Iterable[str]],
        *,
        max_bytes: int = 1_048_576,
        attempts: int = 3,
        backoff_s: float = 0.3,
        recheck_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.list_topics = list_topics
        self.max_bytes = max_bytes
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.recheck_s = recheck_s
        self.clock = clock
        self.sleep = sleep or _sleep
        self.known: set[str] = set()
        self._listed_at: float | None = None
        self._missing: dict[str, float] = {}  # topic -> when it was last confirmed missing
        self.lookups = 0  # listings made (tests, metrics)

    def refresh(self) -> None:
        """List the cluster's topics now (e.g. at the start of a session).

        Raises:
            TransientError: the cluster could not be asked (retry the batch later).
        """
        self.lookups += 1
        try:
            names = set(self.list_topics())
        except TransientError:
            raise
        except Exception as exc:  # a client error: the broker is away or slow
            raise TransientError(
                f"cannot list the cluster's topics: {type(exc).__name__}: {exc}",
                code="CLUSTER_UNREACHABLE",
            ) from exc
        self.known = names
        self._listed_at = self.clock()
        for topic in names:
            self._missing.pop(topic, None)

    def exists(self, topic: str) -> bool:
        """Whether the cluster has ``topic``: looked up again (bounded) if not known yet.

        Raises:
            TransientError: the cluster could not be asked.
        """
        if self._listed_at is not None and self.clock() - self._listed_at >= self.recheck_s:
            self.refresh()  # a topic deleted since is noticed within recheck_s
        if topic in self.known:
            return True
        since = self._missing.get(topic)
        if since is not None and self.clock() - since < self.recheck_s:
            return False
        for attempt in range(self.attempts):
            if attempt and self.sleep(self.backoff_s * attempt):
                break  # stopping: take it as missing for now
            self.refresh()
            if topic in self.known:
                return True
        self._missing[topic] = self.clock()
        log.warning(
            "topic %s does not exist (looked up %d times); records for it are dead-lettered "
            "for the next %.0fs, then it is looked up again",
            topic,
            self.attempts,
            self.recheck_s,
        )
        return False

    def problem(self, outputs: Iterable[Output]) -> CourtbusError | None:
        """Why ``outputs`` cannot be produced (the first problem), or None.

        Raises:
            TransientError: the cluster could not be asked.
        """
        for out in outputs:
            if _fits(out, self.max_bytes):
                continue
            size = record_size(out)
            if size > self.max_bytes:
                return CourtbusError(
                    f"an output for {out.topic} would take {size:,} bytes, more than a "
                    f"produce request may ({self.max_bytes:,}): the record is not applied",
                    code=OUTPUT_TOO_LARGE,
                )
        for topic in sorted({out.topic for out in outputs}):
            if not self.exists(topic):
                return CourtbusError(
                    f"output topic {topic} does not exist (a participant in the directory "
                    "whose topics were not created? run courtbus topics apply): the record "
                    "is not applied",
                    code=OUTPUT_TOPIC_MISSING,
                )
        return None

    def deliverable(self, outputs: list[Output]) -> tuple[list[Output], list[Output]]:
        """(outputs that can be produced, those that cannot), e.g. a notice for an inbox that
        does not exist beside the dead letter that must go.

        Raises:
            TransientError: the cluster could not be asked.
        """
        kept: list[Output] = []
        dropped: list[Output] = []
        for out in outputs:
            ok = _fits(out, self.max_bytes) and self.exists(out.topic)
            (kept if ok else dropped).append(out)
        return kept, dropped


def _sleep(seconds: float) -> bool:
    threading.Event().wait(seconds)
    return False
