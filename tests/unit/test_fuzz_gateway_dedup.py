"""Stateful fuzzing of the gateway's dedup (``GatewayFlow`` through ``FlowHarness``).

A Hypothesis state machine sends generated records (``tests.fuzz_records.cases``), resends
accepted ones byte for byte, with transport headers added or with a changed body under the same
``ce_id``, sends a record and its copies in one batch, and moves the clock past the dedup
retention. A model of the ``seen`` store says what must happen: an exact copy of a remembered
``ce_id`` is dropped, a changed one refused ``EVENT_ID_CONFLICT`` (with an alert), a forgotten
one forwarded again; every record fed is forwarded, dead-lettered or dropped, exactly once.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from courtbus.bus.records import Output
from courtbus.errors import CourtbusError
from courtbus.gateway import EVENT_ID_CONFLICT
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire.events import EventHeaders
from services.gateway.flow import GatewayFlow
from tests.fuzz_records import FUZZ, SAMPLES, STATEFUL_RUNS, Case, cases, known_codes
from tests.gateway_cases import Raw

START = datetime(2024, 2, 28, 9, 0, tzinfo=UTC)  # the clock crosses a leap day
RETENTION = timedelta(days=2)
ENVELOPE = memory_envelope()
CODES = known_codes()
CHANGES = ["note", "key", "ce_time", "ce_subject", "ce_extra", "value-byte"]


def _changed(raw: Raw, change: str) -> Raw:
    """``raw`` with one change that a resent copy must not have (``ce_id`` kept)."""
    headers = list(raw.headers)
    key, value = raw.key, raw.value
    if change == "key":
        key = (key or b"") + b"-2"
    elif change == "value-byte":
        value = (value or b"") + b"\x00"
    elif change in ("ce_time", "ce_subject", "ce_extra"):
        new = {"ce_time": b"2024-02-29T00:00:00Z", "ce_subject": b"x", "ce_extra": b"1"}[change]
        headers = [(k, v) for k, v in headers if k != change] + [(change, new)]
    else:  # the same event id on another body: re-encoded with another note
        source, topic, record, payload = next(s for s in SAMPLES if s[1] == raw.topic)
        ce_id = dict(headers)["ce_id"]
        assert ce_id is not None
        built = ENVELOPE.build(
            topic,
            record,
            {**payload, "note": "另付十万"} if "note" in payload else payload,
            source,
            event_id=ce_id.decode(),
        )
        return Raw(raw.topic, raw.key, built.value, list(built.headers))
    return Raw(raw.topic, key, value, headers)


class GatewayDedup(RuleBasedStateMachine):
    """The gateway flow against a model of its ``seen`` store."""

    accepted = Bundle("accepted")

    def __init__(self) -> None:
        super().__init__()
        self.harness = FlowHarness(GatewayFlow(ENVELOPE, dedup_retention=RETENTION), start=START)
        self.check = self.harness.flow.gateway.check  # type: ignore[attr-defined]
        # canonical ce_id -> (the copy forwarded, when): what ``seen`` must remember
        self.seen: dict[str, tuple[Raw, datetime]] = {}
        self.verdicts: Counter[str] = Counter()
        self.fed = 0
        self.forwards: Counter[str] = Counter()

    def _expect(self, raw: Raw) -> str:
        """What the gateway must do with ``raw`` now: ``forwarded``, ``dropped`` or a code."""
        try:
            self.check(raw, self.harness.now)
        except CourtbusError as exc:
            return exc.code
        ce_id = EventHeaders.from_kafka(raw.headers).id
        kept = self.seen.get(ce_id)
        if kept is None:
            return "forwarded"
        same = (
            kept[0].key,
            kept[0].value,
            sorted((k.lower(), v) for k, v in kept[0].headers if k.lower().startswith("ce_")),
        ) == (
            raw.key,
            raw.value,
            sorted((k.lower(), v) for k, v in raw.headers if k.lower().startswith("ce_")),
        )
        return "dropped" if same else EVENT_ID_CONFLICT

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

    @rule(target=accepted, case=cases(ENVELOPE, writers=False))
    def send(self, case: Case) -> object:
        """A new record, maybe broken."""
        if self._feed(case.raw) == "forwarded":
            return EventHeaders.from_kafka(case.raw.headers).id
        return multiple()

    @rule(ce_id=accepted, extra=st.sampled_from([None, "traceparent", "content-type"]))
    def resend(self, ce_id: str, extra: str | None) -> None:
        """A copy of an accepted record, byte for byte, maybe with a transport header more or
        without its ``content-type``."""
        if ce_id not in self.seen:
            return  # forgotten since (and maybe sent again): nothing to resend from the model
        raw = self.seen[ce_id][0]
        if extra == "traceparent":  # tracing metadata a client library adds
            raw = Raw(raw.topic, raw.key, raw.value, [*raw.headers, (extra, b"00-1-2-01")])
        elif extra == "content-type":  # optional, and not part of the digest
            raw = Raw(raw.topic, raw.key, raw.value, [(k, v) for k, v in raw.headers if k != extra])
        self._feed(raw)

    @rule(ce_id=accepted, change=st.sampled_from(CHANGES))
    def resend_changed(self, ce_id: str, change: str) -> None:
        """Another body, key or ``ce_*`` header under an accepted ``ce_id``."""
        if ce_id in self.seen:
            self._feed(_changed(self.seen[ce_id][0], change))

    @rule(sample=st.sampled_from(SAMPLES), change=st.sampled_from(CHANGES))
    def batch_with_copies(
        self, sample: tuple[str, str, str, dict[str, object]], change: str
    ) -> None:
        """A new record, its exact copy and a changed copy in one batch (the dedup must see the
        batch's own writes, not only what ``prepare`` read ahead)."""
        source, topic, record, payload = sample
        built = ENVELOPE.build(topic, record, dict(payload), source)
        raw = Raw(topic, built.key, built.value, list(built.headers))
        changed = _changed(raw, change)
        outputs = self.harness.feed_batch(
            [(r.topic, r.key, r.value, r.headers) for r in (raw, raw, changed)]
        )
        forwards = [o for o in outputs if o.topic.endswith(".events")]
        letters = [dict(o.headers)["dlq_code"] for o in outputs if o.topic == "bus.deadletter"]
        assert len(forwards) == 1 and forwards[0].value == raw.value, outputs
        self._count(raw, "forwarded")
        expected = self._expect(changed)  # its own refusal, or the conflict with the first
        assert letters == [expected.encode()], (letters, expected)
        self.fed += 2
        self.verdicts["dropped"] += 1
        self.verdicts[expected] += 1

    @rule(hours=st.sampled_from([1, 5, 23, 24, 47, 48, 49, 72]))
    def advance(self, hours: int) -> None:
        """Time passes: ``ce_id`` values accepted a retention ago are forgotten."""
        self.harness.advance(hours=hours)
        now = self.harness.now
        self.seen = {k: v for k, v in self.seen.items() if v[1] + RETENTION > now}

    @invariant()
    def every_record_is_accounted_for(self) -> None:
        assert sum(self.verdicts.values()) == self.fed
        assert self.harness.count("seen") == len(self.seen)


GatewayDedup.TestCase.settings = settings(
    FUZZ, max_examples=STATEFUL_RUNS, stateful_step_count=25, deadline=timedelta(seconds=30)
)
test_gateway_dedup = GatewayDedup.TestCase
