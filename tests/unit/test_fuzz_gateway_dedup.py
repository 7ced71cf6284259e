"""Stateful fuzzing of the gateway's dedup (``GatewayFlow`` through ``FlowHarness``).

A Hypothesis state machine sends generated records (``tests.fuzz_records.cases``), resends
accepted ones byte for byte, with transport headers added or with a changed body under the same
``ce_id``, sends a record and its copies in one batch, and moves the clock past the retry
window, the signature age limit and the dedup retention. A model of the ``seen`` store says what
must happen: an exact copy of a remembered ``ce_id`` is dropped (a signed one only within the
retry window, later ``SIGNATURE_REPLAYED``), a changed one refused ``EVENT_ID_CONFLICT`` (with
an alert), a forgotten one forwarded again; every record fed is forwarded, dead-lettered or
dropped, exactly once. Two machines: unsigned records, and signed ones with signatures required.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from courtbus.bus.records import Output
from courtbus.errors import CourtbusError
from courtbus.gateway import EVENT_ID_CONFLICT, SignaturePolicy
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.security.signing import HEADER, REPLAYED
from courtbus.wire.envelope import Envelope, RecordSigner
from courtbus.wire.events import EventHeaders
from services.gateway.flow import DEFAULT_RETRY_WINDOW, GatewayFlow
from tests.fuzz_records import (
    FUZZ,
    SAMPLES,
    STATEFUL_RUNS,
    Case,
    cases,
    known_codes,
    participant_keys,
)
from tests.gateway_cases import Raw

RETENTION = timedelta(days=2)  # above the signature age limit (24 h), as the gateway requires
ENVELOPE = memory_envelope()
CODES = known_codes()
CHANGES = ["note", "key", "ce_time", "ce_subject", "ce_extra", "value-byte"]
# 5 and 16 minutes: within and past the retry window; then hours past the age limit and the
# retention (the unsigned machine's clock crosses the leap day of 2024)
MINUTES = [5, 16, 60, 300, 23 * 60, 24 * 60, 47 * 60, 48 * 60, 49 * 60, 72 * 60]
# the signed machine's records are signed at the real time: its clock stays mostly within the
# signature age limit, so that retries and replays are told apart, not everything stale
MINUTES_SIGNED = [5, 14, 16, 30, 60]
SIGNERS, KEYS_FILE = participant_keys(datetime.now(UTC))
SIGNING: dict[str, RecordSigner] = dict(SIGNERS)


def _ce(raw: Raw) -> list[tuple[str, bytes | None]]:
    return sorted((k.lower(), v) for k, v in raw.headers if k.lower().startswith("ce_"))


def machine(signed: bool) -> type[RuleBasedStateMachine]:
    """The state machine over unsigned records, or over signed ones (signatures required)."""
    signers = SIGNING if signed else None

    def sender(source: str) -> Envelope:
        return Envelope(ENVELOPE.codec, SIGNERS[source]) if signed else ENVELOPE

    def changed(raw: Raw, change: str) -> Raw:
        """``raw`` with one change a resent copy must not have (``ce_id`` kept)."""
        headers = list(raw.headers)
        key, value = raw.key, raw.value
        sample = next((s for s in SAMPLES if s[1] == raw.topic), None)
        if change == "note" and sample is not None:  # the same id on another body, re-encoded
            source, topic, record, payload = sample
            ce_id = dict(headers)["ce_id"]
            assert ce_id is not None
            other = {**payload, "note": "另付十万"} if "note" in payload else payload
            built = sender(source).build(topic, record, other, source, event_id=ce_id.decode())
            return Raw(raw.topic, raw.key, built.value, list(built.headers))
        if change == "key":
            key = (key or b"") + b"-2"
        elif change in ("ce_time", "ce_subject", "ce_extra"):
            new = {"ce_time": b"2024-02-29T00:00:00Z", "ce_subject": b"x", "ce_extra": b"1"}
            headers = [(k, v) for k, v in headers if k != change] + [(change, new[change])]
        else:
            value = (value or b"") + b"\x00"
        return Raw(raw.topic, key, value, headers)

    class GatewayDedup(RuleBasedStateMachine):
        """The gateway flow against a model of its ``seen`` store."""

        accepted = Bundle("accepted")

        def __init__(self) -> None:
            super().__init__()
            policy = SignaturePolicy(required=signed)
            keys = KEYS_FILE if signed else None  # a participant with a key must sign
            flow = GatewayFlow(
                ENVELOPE,
                dedup_retention=RETENTION,
                keys_file=keys,
                signatures=policy,
                retry_window=DEFAULT_RETRY_WINDOW,
            )
            self.check = flow.gateway.check
            # signed records carry the real time of their building: the clock starts at it
            self.start = datetime.now(UTC) if signed else datetime(2024, 2, 28, 9, tzinfo=UTC)
            self.harness = FlowHarness(flow, start=self.start)
            # canonical ce_id -> (the copy forwarded, when): what ``seen`` must remember
            self.seen: dict[str, tuple[Raw, datetime]] = {}
            self.verdicts: Counter[str] = Counter()
            self.fed = 0
            self.forwards: Counter[str] = Counter()
            self.lapses: Counter[str] = Counter()  # how often each ce_id was forgotten

        def _expect(self, raw: Raw) -> str:
            """What the gateway must do with ``raw`` now: ``forwarded``, ``dropped`` or a code."""
            now = self.harness.now
            try:
                self.check(raw, now)
            except CourtbusError as exc:
                return exc.code
            kept = self.seen.get(EventHeaders.from_kafka(raw.headers).id)
            if kept is None:
                return "forwarded"
            first, accepted = kept
            if (first.key, first.value, _ce(first)) != (raw.key, raw.value, _ce(raw)):
                return EVENT_ID_CONFLICT
            is_signed = any(k.lower() == HEADER and v for k, v in raw.headers)
            if is_signed and now - accepted > DEFAULT_RETRY_WINDOW:
                return REPLAYED
            return "dropped"

        def _verdict(self, outputs: list[Output]) -> str:
            letters = [o for o in outputs if o.topic == "bus.deadletter"]
            forwards = [o for o in outputs if o.topic.endswith(".events")]
            assert len(letters) + len(forwards) <= 1, outputs
            if forwards:
                return "forwarded"
            if letters:
                code = dict(letters[0].headers)["dlq_code"]
                assert code is not None
                alerts = [o for o in outputs if o.topic == "bus.alerts"]
                assert len(alerts) == (code == EVENT_ID_CONFLICT.encode()), outputs
                return code.decode()
            assert outputs == [], outputs
            return "dropped"

        def _feed(self, raw: Raw) -> str:
            expected = self._expect(raw)
            got = self._verdict(self.harness.feed_raw(raw.topic, raw.key, raw.value, raw.headers))
            assert got == expected, (got, expected)
            event(got)
            assert got in CODES or got in ("forwarded", "dropped"), got
            self._count(raw, got)
            return got

        def _count(self, raw: Raw, verdict: str) -> None:
            self.fed += 1
            self.verdicts[verdict] += 1
            if verdict == "forwarded":
                ce_id = EventHeaders.from_kafka(raw.headers).id
                self.seen[ce_id] = (raw, self.harness.now)
                self.forwards[ce_id] += 1

        @rule(target=accepted, case=cases(ENVELOPE, writers=False, signers=signers))
        def send(self, case: Case) -> Any:
            """A new record, maybe broken."""
            if self._feed(case.raw) == "forwarded":
                return EventHeaders.from_kafka(case.raw.headers).id
            return multiple()

        @rule(ce_id=accepted, extra=st.sampled_from([None, "traceparent", "content-type"]))
        def resend(self, ce_id: str, extra: str | None) -> None:
            """A copy of an accepted record, byte for byte, maybe with a transport header more
            or without its ``content-type``."""
            if ce_id not in self.seen:
                return  # forgotten since (and maybe sent again): nothing to resend
            raw = self.seen[ce_id][0]
            if extra == "traceparent":  # tracing metadata a client library adds
                raw = Raw(raw.topic, raw.key, raw.value, [*raw.headers, (extra, b"00-1-2-01")])
            elif extra == "content-type":  # optional, and not part of the digest
                raw = Raw(raw.topic, raw.key, raw.value, [h for h in raw.headers if h[0] != extra])
            self._feed(raw)

        @rule(ce_id=accepted, change=st.sampled_from(CHANGES))
        def resend_changed(self, ce_id: str, change: str) -> None:
            """Another body, key or ``ce_*`` header under an accepted ``ce_id``."""
            if ce_id in self.seen:
                self._feed(changed(self.seen[ce_id][0], change))

        @rule(sample=st.sampled_from(SAMPLES), change=st.sampled_from(CHANGES))
        def batch_with_copies(
            self, sample: tuple[str, str, str, dict[str, Any]], change: str
        ) -> None:
            """A new record, its exact copy and a changed copy in one batch (the dedup must see
            the batch's own writes, not only what ``prepare`` read ahead)."""
            source, topic, record, payload = sample
            built = sender(source).build(topic, record, dict(payload), source)
            raw = Raw(topic, built.key, built.value, list(built.headers))
            other = changed(raw, change)
            outputs = self.harness.feed_batch(
                [(r.topic, r.key, r.value, r.headers) for r in (raw, raw, other)]
            )
            expected = []  # one after the other, the model kept up as the gateway does
            for r in (raw, raw, other):
                expected.append(self._expect(r))
                self._count(r, expected[-1])
            forwards = [o for o in outputs if o.topic.endswith(".events")]
            letters = [dict(o.headers)["dlq_code"] for o in outputs if o.topic == "bus.deadletter"]
            assert len(forwards) == expected.count("forwarded"), (outputs, expected)
            refused = [e.encode() for e in expected if e not in ("forwarded", "dropped")]
            assert letters == refused, (letters, expected)
            if not signed or self.harness.now - self.start < timedelta(hours=23):  # not stale
                assert expected == ["forwarded", "dropped", expected[2]], expected

        @rule(minutes=st.sampled_from(MINUTES_SIGNED if signed else MINUTES))
        def advance(self, minutes: int) -> None:
            """Time passes: ``ce_id`` values accepted a retention ago are forgotten."""
            self.harness.advance(minutes=minutes)
            now = self.harness.now
            for ce_id, (_raw, accepted) in list(self.seen.items()):
                if accepted + RETENTION <= now:
                    del self.seen[ce_id]
                    self.lapses[ce_id] += 1

        @invariant()
        def every_record_is_accounted_for(self) -> None:
            assert sum(self.verdicts.values()) == self.fed
            assert self.harness.count("seen") == len(self.seen)
            # forwarded once, and once more only after the gateway forgot it
            assert all(n <= self.lapses[ce_id] + 1 for ce_id, n in self.forwards.items())

    GatewayDedup.TestCase.settings = settings(
        FUZZ, max_examples=STATEFUL_RUNS, stateful_step_count=25, deadline=timedelta(seconds=30)
    )
    return GatewayDedup


test_gateway_dedup = machine(signed=False).TestCase
test_gateway_dedup_signed = machine(signed=True).TestCase
