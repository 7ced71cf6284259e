"""How one record and one tick go through a flow: the part the worker and the harness share.

A record the flow refuses (``CourtbusError``) is dead-lettered with its original bytes and its
sender is notified; a record that makes the flow fail unexpectedly is tried again a bounded
number of times, then dead-lettered with ``INTERNAL_ERROR`` and an alert on ``bus.alerts``,
so the service stays up and never crash-loops. Transient errors propagate: the caller retries.

With an ``OutputCheck`` (the worker's), a record whose outputs cannot be produced (a topic the
cluster lacks, a record too large) is refused the same way, with ``OUTPUT_TOPIC_MISSING`` or
``OUTPUT_TOO_LARGE`` and an alert, instead of failing its whole transaction again and again;
a timer's output that cannot be produced goes to the dead letters itself.

A sender past its notice limit (``courtbus.runtime.notices``) gets one summary notice per
batch instead of a notice per refused record; the dead letters are not limited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from courtbus.bus.records import KeptRecord, Output
from courtbus.bus.refusals import (
    dead_letter,
    internal_error_alert,
    notifiable,
    refusal,
    rejection_summary,
)
from courtbus.bus.topics import DEADLETTER_TOPIC
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import CourtbusError, TransientError
from courtbus.runtime.flow import Flow, Incoming
from courtbus.runtime.notices import NoticeLimiter
from courtbus.runtime.outputs import (
    OUTPUT_CODES,
    OUTPUT_TOO_LARGE,
    OUTPUT_TOPIC_MISSING,
    OutputCheck,
)
from courtbus.runtime.state import State
from courtbus.wire.envelope import RawRecord

log = logging.getLogger("courtbus.runtime")
INTERNAL_ERROR = "INTERNAL_ERROR"


class Engine:
    """Runs a flow over records and ticks, turning refusals and failures into outputs."""

    def __init__(
        self,
        flow: Flow,
        *,
        max_attempts: int = 3,
        check: OutputCheck | None = None,
        notices: NoticeLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``notices``: how many refusal notices a sender gets (``courtbus.runtime.notices``;
        None: the defaults); ``clock``: its time, in seconds."""
        self.flow = flow
        self.max_attempts = max_attempts
        self.check = check
        self.notices = notices if notices is not None else NoticeLimiter()
        self._clock = clock
        self._held: dict[tuple[str, str, str], list[tuple[RawRecord, CourtbusError]]] = {}
        self._own_source = flow.source.encode()

    def is_own(self, raw: RawRecord) -> bool:
        """A record this flow wrote itself (its ``ce_source``): skipped without decoding.

        Only for a flow that reads its own outputs (``Flow.reads_own_outputs``): the gateway
        refuses a ``bus:`` source from any outbox, its own included, so behind it only the bus
        writes these.
        """
        if not self.flow.reads_own_outputs:
            return False
        return any(k == "ce_source" and v == self._own_source for k, v in raw.headers or ())

    def _incoming(self, raw: RawRecord) -> Incoming:
        decode = self.flow.decode and raw.topic not in self.flow.raw_topics
        event = self.flow.envelope.read(raw) if decode else None
        return Incoming(raw, event)

    def prepare_batch(self, records: Sequence[RawRecord]) -> None:
        """``Flow.prepare_batch`` with a whole batch's records, before any task's.

        Raises:
            TransientError: retry the batch later.
        """
        self._optimise(lambda: self.flow.prepare_batch(records), "prepare_batch")

    def _optimise(self, step: Callable[[], None], what: str) -> None:
        """Run an optimisation (``Flow.prepare``, ``prepare_batch``): if it fails the records
        are handled without it, but a transient error still postpones the batch."""
        try:
            step()
        except TransientError:
            raise
        except Exception:
            log.exception("%s: %s failed", self.flow.name, what)

    def handle_all(self, records: Sequence[RawRecord], state: State) -> list[Output]:
        """The outputs of one task's records of a batch, in order (``Flow.prepare`` first).

        Raises:
            TransientError: retry the batch later.
        """
        self._held.clear()
        self._optimise(lambda: self.flow.prepare(records, state), f"prepare on task {state.task}")
        outputs: list[Output] = []
        for raw in records:
            outputs += self.handle(raw, state)
        return outputs + self._summaries()

    def handle(self, raw: RawRecord, state: State) -> list[Output]:
        """The outputs of one record; its state changes are kept only if it was applied.

        Raises:
            TransientError: retry the batch later (nothing of this record is kept).
        """
        if self.is_own(raw):
            return []  # e.g. the delegation flow's receipts and decisions on its own topic
        failure: Exception | None = None
        for _attempt in range(self.max_attempts):
            incoming: Incoming | None = None
            try:
                incoming = self._incoming(raw)
                outputs = self.flow.on_event(incoming, state)
                if self.check is not None:
                    if self.flow.dead_letter_undeliverable:
                        outputs = self._undeliverable_to_dead_letters(outputs)
                    elif problem := self.check.problem(outputs):
                        raise problem
                state.commit_record()
                return outputs
            except TransientError:
                state.rollback_record()
                raise
            except CourtbusError as exc:
                state.rollback_record()
                return self._refuse(raw, incoming, exc, state)
            except Exception as exc:  # a bug or a surprise in the flow: retry, then dead-letter
                state.rollback_record()
                failure = exc
                log.exception(
                    "%s failed on %s@%d:%d", self.flow.name, raw.topic, raw.partition, raw.offset
                )
        error = CourtbusError(
            f"{self.flow.name} failed {self.max_attempts} times on this record: "
            f"{type(failure).__name__}: {mask_ids_in_text(str(failure))}",
            code=INTERNAL_ERROR,
        )
        outputs = self._refusal(raw, error)
        alert = internal_error_alert(self.flow.envelope, raw, error, self.flow.source)
        return self._deliverable([*outputs, alert])

    def _refusal(self, raw: RawRecord, error: CourtbusError) -> list[Output]:
        """The dead letter, and the sender's notice unless it is past its notice limit: then
        the refusal waits for the batch's summary notice (``_summaries``)."""
        sender = self.flow.sender(raw)
        if notifiable(sender):
            assert sender is not None
            key = (sender[0], sender[1], error.code)
            if not self.notices.admit(key, self._clock()):
                self._held.setdefault(key, []).append((raw, error))
                return [dead_letter(raw, error, self.flow.source)]
        return refusal(self.flow.envelope, raw, error, sender, self.flow.source)

    def _summaries(self) -> list[Output]:
        """One summary notice per sender and code whose refusals this batch held back."""
        if not self._held:
            return []
        limit = f"{self.notices.limit} notices per {self.notices.window_s:g} s"
        outputs = [
            rejection_summary(self.flow.envelope, held, kind, participant, self.flow.source, limit)
            for (kind, participant, _code), held in self._held.items()
        ]
        self._held.clear()
        return self._deliverable(outputs)

    def handle_many(self, raws: Sequence[RawRecord], state: State) -> list[Output]:
        """The outputs of several records of one task on a bulk input (``Flow.bulk_inputs``).

        ``Flow.on_records`` takes them together and their state changes are kept together. If
        it raises, or one of the outputs cannot be produced, what it changed is undone and
        the records go through ``handle`` one by one, so a refused record is refused alone and
        the others are applied as they would have been.

        Raises:
            TransientError: retry the batch later (nothing of these records is kept).
        """
        raws = [raw for raw in raws if not self.is_own(raw)]
        if len(raws) < 2:
            return self.handle_all(raws, state)
        self._held.clear()
        self._optimise(lambda: self.flow.prepare(raws, state), f"prepare on task {state.task}")
        try:
            outputs = self.flow.on_records([self._incoming(raw) for raw in raws], state)
            if self.check is not None:
                if self.flow.dead_letter_undeliverable:
                    outputs = self._undeliverable_to_dead_letters(outputs)
                elif problem := self.check.problem(outputs):
                    raise problem
            state.commit_record()
            return outputs
        except TransientError:
            state.rollback_record()
            raise
        except Exception as exc:  # one record's refusal or failure: each one on its own
            state.rollback_record()
            log.info(
                "%s: %d records of %s taken one by one (%s: %s)",
                self.flow.name,
                len(raws),
                raws[0].topic,
                type(exc).__name__,
                mask_ids_in_text(str(exc)),
            )
        return [out for raw in raws for out in self.handle(raw, state)] + self._summaries()

    def _deliverable(self, outputs: list[Output]) -> list[Output]:
        """What of a refusal can be produced: the dead letter always (it holds the record), a
        notice only if its inbox exists (else the refusal would be refused in turn)."""
        if self.check is None:
            return outputs
        kept, dropped = self.check.deliverable([o for o in outputs if o.topic != DEADLETTER_TOPIC])
        for out in dropped:
            log.warning(
                "%s: no %s for this refusal's notice; dead letter only", self.flow.name, out.topic
            )
        return [o for o in outputs if o.topic == DEADLETTER_TOPIC] + kept

    def _refuse(
        self, raw: RawRecord, incoming: Incoming | None, error: CourtbusError, state: State
    ) -> list[Output]:
        log.warning(
            "%s refused %s@%d:%d %s",
            self.flow.name,
            raw.topic,
            raw.partition,
            raw.offset,
            mask_ids_in_text(str(error)),
        )
        outputs = self._refusal(raw, error)
        if incoming is not None:
            try:
                outputs += self.flow.on_refused(incoming, error, state)
                state.commit_record()
            except TransientError:
                state.rollback_record()
                raise
            except Exception:
                state.rollback_record()
                log.exception("%s: on_refused failed; the dead letter still goes", self.flow.name)
        if error.code in OUTPUT_CODES:  # the bus's own set-up is wrong: the operators must know
            outputs.append(internal_error_alert(self.flow.envelope, raw, error, self.flow.source))
        return self._deliverable(outputs)

    def tick(self, now: datetime, state: State) -> list[Output]:
        """Evict entries whose retention ran out, then the flow's own timers.

        Raises:
            TransientError: retry the tick later.
        """
        state.now = now
        for store, key in list(state.expired(now)):
            state.evict(store, key)
        state.commit_record()
        try:
            outputs = self.flow.on_tick(now, state)
            if self.check is not None:
                outputs = self._undeliverable_to_dead_letters(outputs)
        except TransientError:
            state.rollback_record()
            raise
        except Exception:
            state.rollback_record()
            log.exception("%s: timer tick failed on task %s", self.flow.name, state.task)
            return []
        state.commit_record()
        return outputs

    def _undeliverable_to_dead_letters(self, outputs: list[Output]) -> list[Output]:
        """``outputs`` (a timer's, or a fan-out flow's), those that cannot be produced replaced
        by their dead letters (the output's own bytes, ``dlq_topic`` the topic it was for) and
        one alert each."""
        assert self.check is not None
        kept, dropped = self.check.deliverable(outputs)
        for out in dropped:
            missing = not self.check.exists(out.topic)
            error = CourtbusError(
                f"{self.flow.name}: an output for {out.topic} could not be produced "
                + ("(the topic does not exist)" if missing else "(too large)"),
                code=OUTPUT_TOPIC_MISSING if missing else OUTPUT_TOO_LARGE,
            )
            log.warning("%s", error)
            raw = KeptRecord(out.topic, -1, -1, out.key, out.value, list(out.headers))
            if missing:
                kept.append(dead_letter(raw, error, self.flow.source))
            kept.append(internal_error_alert(self.flow.envelope, raw, error, self.flow.source))
        return kept
