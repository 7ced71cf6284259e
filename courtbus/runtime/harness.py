"""Run a flow without Kafka: feed events, move the clock, read the outputs and the state.

The harness goes through the same ``Engine`` as the worker (refusals, dead letters,
``INTERNAL_ERROR``) and keeps one ``State`` per task over an in-memory backend. Records are
routed to tasks by the key the way Kafka's default partitioner does, and outputs addressed to
the flow's own input topics are fed back, as they would be on the bus. For unit tests only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from kafka.partitioner import murmur2

from courtbus.bus.records import KeptRecord, Output
from courtbus.errors import TransientError
from courtbus.runtime.engine import Engine
from courtbus.runtime.flow import TIMERS, Flow
from courtbus.runtime.notices import NoticeLimiter
from courtbus.runtime.outputs import OutputCheck
from courtbus.runtime.packs import PACK
from courtbus.runtime.state import MemoryBackend, State, from_ms
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope, Event
from courtbus.wire.events import Headers
from courtbus.wire.memory import MemoryRegistry
from courtbus.wire.schemas import SchemaSet

_SCHEMAS: list[SchemaSet] = []


def memory_envelope() -> Envelope:
    """An envelope over the repository's schemas and an in-memory registry (no network)."""
    if not _SCHEMAS:
        _SCHEMAS.append(SchemaSet.load())
    return Envelope(AvroCodec(_SCHEMAS[0], MemoryRegistry(), auto_register=True))


class FlowHarness:
    """A flow, its tasks' state and a clock, with no broker."""

    def __init__(
        self,
        flow: Flow,
        *,
        start: datetime,
        partitions: int = 1,
        max_attempts: int = 3,
        check: OutputCheck | None = None,
        notices: NoticeLimiter | None = None,
    ) -> None:
        """``notices``: the refusal notice limit (None: the defaults). ``check`` (e.g. over a set of topic names) makes outputs to other topics fail as
        they would on a cluster without them; without it every topic exists."""
        self.flow = flow
        # the notice limit's window on the harness's clock (``advance``)
        self.engine = Engine(
            flow,
            max_attempts=max_attempts,
            check=check,
            notices=notices,
            clock=lambda: self.now.timestamp(),
        )
        self.now = start
        self.partitions = partitions
        self.states: dict[int, State] = {}
        self.outputs: list[Output] = []
        self._offsets: dict[tuple[str, int], int] = {}

    @property
    def envelope(self) -> Envelope:
        """The flow's envelope (to build records to feed)."""
        return self.flow.envelope

    def state(self, partition: int = 0) -> State:
        """The state of one task (partition), created empty on first use."""
        if partition not in self.states:
            specs = self.flow.stores
            self.states[partition] = State(f"harness-{partition}", MemoryBackend(), specs)
        return self.states[partition]

    def partition_of(self, key: bytes | None) -> int:
        """The partition Kafka's default partitioner picks for ``key``."""
        if key is None:
            return 0
        return int(murmur2(key) & 0x7FFFFFFF) % self.partitions

    def send(
        self,
        topic: str,
        record: str,
        payload: dict[str, Any],
        source: str,
        **kwargs: Any,
    ) -> list[Output]:
        """Encode a message as ``source`` would send it and feed it; the outputs it caused."""
        return self.feed_raw(*self.encode(topic, record, payload, source, **kwargs))

    def encode(
        self,
        topic: str,
        record: str,
        payload: dict[str, Any],
        source: str,
        **kwargs: Any,
    ) -> tuple[str, bytes | None, bytes | None, Headers]:
        """A message encoded as ``source`` would send it, as the raw ``(topic, key, value,
        headers)`` that ``feed_raw`` and ``feed_batch`` take (``kwargs`` as ``Envelope.build``)."""
        built = self.envelope.build(topic, record, payload, source, **kwargs)
        return (topic, built.key, built.value, built.headers)

    def feed_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> list[Output]:
        """Feed one raw record (and everything it loops back); the outputs it caused."""
        queue: deque[KeptRecord] = deque([self._record(topic, key, value, headers)])
        caused: list[Output] = []
        while queue:
            raw = queue.popleft()
            state = self.state(raw.partition)
            state.now = self.now
            self.flow.begin_batch()
            try:
                outputs = self.engine.handle_all([raw], state)
                self.flow.end_batch()
            except BaseException:
                self.flow.abort_batch()
                raise
            state.committed({})
            caused += outputs
            for out in outputs:
                if out.topic in self.flow.inputs.topics:
                    queue.append(self._record(out.topic, out.key, out.value, out.headers))
        self.outputs += caused
        return caused

    def feed_batch(
        self,
        records: Sequence[tuple[str, bytes | None, bytes | None, Headers]],
        *,
        attempts: int = 3,
    ) -> list[Output]:
        """Feed raw ``(topic, key, value, headers)`` records as one batch, as the worker does:
        ``begin_batch``, each record in order (a run of one partition's records together, as
        ``Engine.handle_all``, or ``Engine.handle_many`` for a bulk input), ``end_batch``; on a ``TransientError`` the batch is
        abandoned (``abort_batch``, state rolled back) and retried, ``attempts`` times in all.
        Outputs are not looped back. Returns the outputs of the attempt that went through.

        Raises:
            TransientError: the last attempt failed too.
        """
        kept = [self._record(*r) for r in records]
        # in order; a run of one partition's records together, as the worker takes each
        # partition's records of a batch (a bulk input's through Flow.on_records)
        runs: list[list[KeptRecord]] = []
        for raw in kept:
            last = runs[-1][-1] if runs else None
            if last is not None and (last.topic, last.partition) == (raw.topic, raw.partition):
                runs[-1].append(raw)
            else:
                runs.append([raw])
        for attempt in range(attempts):
            self.flow.begin_batch()
            caused: list[Output] = []
            try:
                for run in runs:
                    state = self.state(run[0].partition)
                    state.now = self.now
                    if run[0].topic in self.flow.bulk_inputs:
                        caused += self.engine.handle_many(list(run), state)
                    else:
                        caused += self.engine.handle_all(list(run), state)
                self.flow.end_batch()
            except TransientError:
                self.flow.abort_batch()
                for state in self.states.values():
                    state.rollback()
                if attempt + 1 == attempts:
                    raise
                continue
            except BaseException:
                self.flow.abort_batch()
                raise
            for state in self.states.values():
                state.committed({})
            self.outputs += caused
            return caused
        raise AssertionError("unreachable")  # the loop returns or raises

    def _record(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> KeptRecord:
        partition = self.partition_of(key)
        offset = self._offsets.get((topic, partition), 0)
        self._offsets[(topic, partition)] = offset + 1
        return KeptRecord(topic, partition, offset, key, value, list(headers or ()))

    def advance(self, **delta: float) -> list[Output]:
        """Move the clock (``days=3``, ``hours=1`` ...) and tick every task; the outputs."""
        self.now += timedelta(**delta)
        return self.tick()

    def tick(self) -> list[Output]:
        """Tick every task at the current time; the outputs (looped back as with events)."""
        ticked: list[Output] = []
        for state in list(self.states.values()):
            ticked += self.engine.tick(self.now, state)
            state.committed({})
        self.outputs += ticked
        caused = list(ticked)
        for out in ticked:
            if out.topic in self.flow.inputs.topics:
                caused += self.feed_raw(out.topic, out.key, out.value, out.headers)
        return caused

    def decode(self, output: Output) -> Event:
        """Decode an output the flow produced."""
        raw = KeptRecord(output.topic, 0, 0, output.key, output.value, output.headers)
        return self.envelope.read(raw)

    def on(self, topic: str, outputs: list[Output] | None = None) -> list[Event]:
        """The decoded outputs sent to ``topic`` (from ``outputs``, or everything so far)."""
        return [
            self.decode(o)
            for o in (self.outputs if outputs is None else outputs)
            if o.topic == topic
        ]

    def count(self, store: str) -> int:
        """How many entries ``store`` (or ``"timers"``) holds over every task (a packed
        store's pack markers, the runtime's own, not counted)."""
        backends = [s.backend for s in self.states.values()]
        return sum(
            1
            for backend in backends
            if isinstance(backend, MemoryBackend)
            for key in backend.data.get(store, {})
            if not key.startswith(PACK)
        )

    def timers(self) -> list[tuple[str, datetime]]:
        """Every scheduled timer over every task, earliest first."""
        found = [
            (key.decode(), from_ms(entry.t or 0))
            for state in self.states.values()
            for key, entry in state.backend.upto(TIMERS, 2**62, 10**9)
        ]
        return sorted(found, key=lambda kv: kv[1])
