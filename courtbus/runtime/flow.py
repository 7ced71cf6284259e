"""What a flow is: its input, its stores, and what it decides on each event and each tick.

No Kafka client here. A flow subclasses ``Flow``, declares ``inputs`` and ``stores``, and
writes ``on_event(record, state) -> outputs`` and ``on_tick(now, state) -> outputs``; the
runtime (``courtbus.runtime.worker``) or the test harness (``courtbus.runtime.harness``) owns
transactions, changelogs, restore, refusals and retries.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from courtbus.bus.records import Output
from courtbus.errors import CourtbusError
from courtbus.wire.envelope import Envelope, Event, RawRecord
from courtbus.wire.events import EventHeaders

if TYPE_CHECKING:
    from courtbus.runtime.state import State

V = TypeVar("V")
TIMERS = "timers"  # the store name the runtime keeps each task's timers under


@dataclass(frozen=True, slots=True)
class StoreSpec(Generic[V]):
    """A key-value store of a flow: its name and how its values become bytes and back.

    Each store has a changelog topic ``bus.<flow>.<name>.changelog`` partitioned like the input.
    ``packed``: a batch's puts go to the changelog as one record, and entries leave only by
    expiry (see ``courtbus.runtime.packs``): for a store written on every record.
    """

    name: str
    dump: Callable[[V], bytes]
    load: Callable[[bytes], V]
    packed: bool = False


def json_store(name: str) -> StoreSpec[Any]:
    """A store of JSON values (dicts, lists, numbers, strings)."""
    return StoreSpec(
        name, lambda v: json.dumps(v, separators=(",", ":")).encode(), lambda b: json.loads(b)
    )


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a flow consumes: co-partitioned ``topics`` or one ``pattern``.

    With ``topics``, every topic must have the same number of partitions, and partition p of
    all of them is one task with one state (the Kafka Streams model): records with the same key
    meet the same state whatever topic they come on. With ``pattern`` (e.g. every outbox), each
    topic-partition is its own task.
    """

    topics: tuple[str, ...] = ()
    pattern: str | None = None

    def __post_init__(self) -> None:
        if bool(self.topics) == bool(self.pattern):
            raise CourtbusError(
                "a flow consumes either topics or a pattern", code="FLOW_INPUTS_INVALID"
            )


@dataclass(frozen=True, slots=True)
class Incoming:
    """One input record: as read (``raw``), and decoded (``event``) unless the flow reads raw."""

    raw: RawRecord
    event: Event | None

    @property
    def decoded(self) -> Event:
        """The decoded event.

        Raises:
            CourtbusError: ``FLOW_RAW_INPUT`` if the flow asked for raw records.
        """
        if self.event is None:
            raise CourtbusError("this flow reads raw records", code="FLOW_RAW_INPUT")
        return self.event


class Flow(ABC):
    """A stream processor over one entity: subclass it and fill in the class attributes.

    ``name`` names the consumer group (``courtbus-<name>``), the changelog topics and the state
    folder; ``source`` is the ``ce_source`` of what it emits and of the refusals it makes.
    """

    name: ClassVar[str]
    source: ClassVar[str]
    inputs: ClassVar[Inputs]
    stores: ClassVar[tuple[StoreSpec[Any], ...]] = ()
    timers: ClassVar[bool] = False  # the flow schedules timers (``state.timers``)
    decode: ClassVar[bool] = True  # the runtime decodes each record; a bad one is refused
    # inputs handed to the flow undecoded (``Incoming.decoded`` is None): its own JSON topics,
    # or a view it reads for tombstones (was ``internal``)
    raw_topics: ClassVar[frozenset[str]] = frozenset()
    # The flow writes to a topic it reads: a record there with its own ``ce_source`` is its own
    # output, skipped without decoding (``Engine.is_own``). False for a flow that never writes
    # where it reads (the gateway: only participants write outboxes), so that a record claiming
    # the flow's source is refused like any other spoof instead of vanishing unaccounted.
    reads_own_outputs: ClassVar[bool] = True
    # An output that cannot be produced (courtbus.runtime.outputs): False refuses the record
    # that made it (nothing of it applied; the sender told); True, for a fan-out such as the
    # feed router, applies the record and dead-letters only that output (one agency's missing
    # feed must not keep a listing from the others).
    dead_letter_undeliverable: ClassVar[bool] = False
    # Input topic -> the most records of it one batch takes: a backlog there (e.g. a fresh
    # restriction worker over the whole list) then leaves room in every batch for the other
    # inputs' records (live bans), which would otherwise wait behind it.
    paced_inputs: ClassVar[Mapping[str, int]] = {}
    # Input topics whose records of one task and batch go to ``on_records`` together (a bulk
    # load: per-batch work instead of per-record work), not one by one to ``on_event``.
    bulk_inputs: ClassVar[frozenset[str]] = frozenset()
    # How long a batch gathers records at least once its first one arrived (ms; 0: it ends as
    # soon as the input is drained, the lowest latency). A flow whose output no one waits on
    # record by record (the projector's read model) trades this much latency for fewer,
    # larger batches: each batch costs a database and a Kafka transaction, most of the CPU at
    # low load. ``commit_interval_ms`` still bounds a batch of a flow that does not set it.
    batch_wait_ms: ClassVar[int] = 0
    group: str | None = None  # consumer group; default ``courtbus-<name>``

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope

    @abstractmethod
    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Outputs for one input record.

        Raise a ``CourtbusError`` to refuse the record: the runtime rolls back what this record
        changed, dead-letters it with its original bytes, and notifies its sender. Raise a
        ``TransientError`` (e.g. the registry is down) to have the batch retried later.
        """

    def on_records(self, records: list[Incoming], state: State) -> list[Output]:
        """Outputs for several records of a ``bulk_inputs`` topic, of one task, in order.

        Kept or dropped together: raise (a ``CourtbusError`` or anything else but a
        ``TransientError``) and the runtime undoes what the call changed and hands the records
        to ``on_event`` one by one instead, so a refusal is still that record's alone. By
        default: ``on_event`` on each.
        """
        return [out for record in records for out in self.on_event(record, state)]

    def sender(self, raw: RawRecord) -> tuple[str, str] | None:
        """Who gets the rejection notice for ``raw``: (kind, id) from its ``ce_source``.

        Flows behind the gateway can trust ``ce_source`` (the gateway checked it owns the
        outbox); the gateway itself names the outbox's owner instead.
        """
        try:
            headers = EventHeaders.from_kafka(raw.headers)
        except CourtbusError:
            return None
        return headers.source_kind, headers.source_id

    def on_tick(self, now: datetime, state: State) -> list[Output]:
        """Outputs due at ``now`` (look at ``state.timers.due(now)``); called about every tick."""
        return []

    def prepare(self, records: Sequence[RawRecord], state: State) -> None:
        """Called with one task's records of a batch before they are handled, e.g. to look
        their keys up at once (``Table.prefetch``). An optimisation: the records must come
        out the same without it."""
        return None

    def begin_batch(self) -> None:
        """Called before a batch's records (a flow writing to a database opens a transaction)."""
        return None

    def close(self) -> None:
        """Called once when the worker stops: let go of what the flow started (helpers)."""
        return None

    def prepare_batch(self, records: Sequence[RawRecord]) -> None:
        """Called with all of a batch's records, in the order they will be handled, before
        any is (after ``begin_batch``), e.g. to start work on other cores that the records
        will need. An optimisation: the records must come out the same without it."""
        return None

    def end_batch(self) -> None:
        """Called after a batch's records, before its Kafka transaction commits.

        Raises:
            TransientError: the batch is retried later (``abort_batch`` is called first).
        """
        return None

    def abort_batch(self) -> None:
        """Called when a batch is given up (retried later, or the worker rejoins)."""
        return None

    def on_refused(self, record: Incoming, error: CourtbusError, state: State) -> list[Output]:
        """Extra outputs when a record is refused (e.g. a decision record); none by default."""
        return []
