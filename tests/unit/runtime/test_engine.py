"""The engine: refusals, bounded retries of unexpected failures, transient errors, ticks."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from courtbus.bus.records import KeptRecord, Output
from courtbus.errors import CourtbusError, TransientError, ValidationError
from courtbus.runtime import Flow, Incoming, Inputs, State, json_store
from courtbus.runtime.engine import INTERNAL_ERROR, Engine
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.runtime.state import MemoryBackend
from courtbus.wire import values as v
from tests.builders import PERSON_ID

T0 = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
TOPIC = "bus.probe.events"
SOURCE = "bus:probe"
SEEN = json_store("seen")
ACCEPTED = "cn.court.bus.delegation.DelegationAccepted"


class Probe(Flow):
    """A flow that fails on demand, by the prefix of the delegation id it reads."""

    name = "probe"
    source = SOURCE
    inputs = Inputs(topics=(TOPIC,))
    stores = (SEEN,)

    def __init__(self) -> None:
        super().__init__(memory_envelope())
        self.calls: Counter[str] = Counter()
        self.refused: list[str] = []
        self.hook_fails = False
        self.tick_fails = False

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        did = str(record.decoded.payload["delegation_id"])
        self.calls[did] += 1
        state.table(SEEN).put(did, self.calls[did])  # a change to be kept or dropped
        kind = did.split("-")[0]
        if kind == "boom":
            raise RuntimeError(f"cannot handle debtor {PERSON_ID}")
        if kind == "flaky" and self.calls[did] < 3:
            raise RuntimeError("flaky")
        if kind == "bad":
            raise ValidationError(f"{did} is bad", code="PROBE_BAD")
        if kind == "transient":
            raise TransientError("registry down", code="REGISTRY_DOWN")
        return [Output("probe.out", record.raw.key, b"done", [])]

    def on_refused(self, record: Incoming, error: CourtbusError, state: State) -> list[Output]:
        did = str(record.decoded.payload["delegation_id"])
        self.refused.append(did)
        state.table(SEEN).put(f"refused:{did}", error.code)
        if self.hook_fails:
            raise RuntimeError("the hook broke")
        return [Output("probe.refused", did.encode(), error.code.encode(), [])]

    def on_tick(self, now: datetime, state: State) -> list[Output]:
        state.table(SEEN).put("ticked", now.isoformat())
        if self.tick_fails:
            raise RuntimeError("tick broke")
        return [Output("probe.tick", b"tick", b"", [])]


def harness(max_attempts: int = 3) -> tuple[FlowHarness, Probe]:
    flow = Probe()
    return FlowHarness(flow, start=T0, partitions=1, max_attempts=max_attempts), flow


def payload(did: str) -> dict[str, object]:
    return {
        "delegation_id": did,
        "executing_court": v.court("6104"),
        "accepted_at": T0,
        "handler": None,
    }


def send(h: FlowHarness, did: str, source: str = "court:6104") -> tuple[str, list[Output]]:
    built = h.envelope.build(TOPIC, ACCEPTED, payload(did), source)
    return built.event.id, h.feed_raw(TOPIC, built.key, built.value, built.headers)


def header(out: Output, name: str) -> str | None:
    return next((value.decode() for key, value in out.headers if key == name), None)


def seen(h: FlowHarness) -> dict[str, object]:
    table = h.state(0).table(SEEN)
    return {k.decode(): table.get(k.decode()) for k in h.state(0).backend.data.get("seen", {})}


@pytest.mark.parametrize("attempts", [1, 3, 5])
def test_an_unexpected_failure_is_retried_then_dead_lettered_with_an_alert(attempts: int) -> None:
    h, flow = harness(max_attempts=attempts)
    event_id, outputs = send(h, "boom-1")
    assert flow.calls["boom-1"] == attempts
    assert [o.topic for o in outputs] == ["bus.deadletter", "court.6104.inbox", "bus.alerts"]
    dead, notice_out, alert_out = outputs
    assert header(dead, "dlq_code") == INTERNAL_ERROR
    assert header(dead, "dlq_service") == SOURCE
    assert header(dead, "ce_id") == event_id
    notice = h.decode(notice_out)
    assert notice.record == "cn.court.bus.notice.MessageRejected"
    assert notice.headers.source == SOURCE
    assert notice.payload["error_code"] == INTERNAL_ERROR
    alert = h.decode(alert_out)
    assert alert.record == "cn.court.bus.notice.ServiceAlert"
    assert alert.headers.source == SOURCE
    assert alert.payload["service"] == SOURCE
    assert alert.payload["code"] == INTERNAL_ERROR
    assert alert.payload["event_id"] == event_id
    assert alert.payload["source_topic"] == TOPIC
    assert f"{attempts} times" in alert.payload["message"]
    assert "RuntimeError" in alert.payload["message"]
    assert PERSON_ID not in alert.payload["message"]  # masked
    assert PERSON_ID[:6] + "*" * 8 + PERSON_ID[14:] in alert.payload["message"]
    assert PERSON_ID not in header(dead, "dlq_reason")  # type: ignore[operator]
    assert flow.refused == []  # an internal error is not a refusal by the flow
    assert seen(h) == {}  # none of the attempts' changes are kept
    # the service carries on with the next record
    _, outputs = send(h, "ok-1")
    assert [o.topic for o in outputs] == ["probe.out"]
    assert seen(h) == {"ok-1": 1}


def test_a_failure_that_goes_away_on_retry_is_applied_once() -> None:
    h, flow = harness(max_attempts=3)
    _, outputs = send(h, "flaky-1")
    assert [o.topic for o in outputs] == ["probe.out"]
    assert flow.calls["flaky-1"] == 3
    assert seen(h) == {"flaky-1": 3}  # only the successful attempt's change


def test_a_failure_that_outlasts_the_attempts_is_dead_lettered() -> None:
    h, flow = harness(max_attempts=2)
    _, outputs = send(h, "flaky-2")
    assert [header(o, "dlq_code") for o in outputs if o.topic == "bus.deadletter"] == [
        INTERNAL_ERROR
    ]
    assert flow.calls["flaky-2"] == 2


def test_a_refusal_gets_one_dead_letter_and_no_alert() -> None:
    h, flow = harness()
    event_id, outputs = send(h, "bad-1")
    assert flow.calls["bad-1"] == 1  # refusals are not retried
    assert [o.topic for o in outputs] == ["bus.deadletter", "court.6104.inbox", "probe.refused"]
    assert header(outputs[0], "dlq_code") == "PROBE_BAD"
    notice = h.decode(outputs[1])
    assert notice.payload["error_code"] == "PROBE_BAD"
    assert notice.payload["rejected_event_id"] == event_id
    assert notice.headers.source == SOURCE
    assert flow.refused == ["bad-1"]
    # what on_event changed is dropped; what on_refused changed is kept
    assert seen(h) == {"refused:bad-1": "PROBE_BAD"}


def test_the_dead_letter_goes_even_if_on_refused_fails() -> None:
    h, flow = harness()
    flow.hook_fails = True
    _, outputs = send(h, "bad-2")
    assert [o.topic for o in outputs] == ["bus.deadletter", "court.6104.inbox"]
    assert seen(h) == {}


def test_an_agency_sender_is_notified_in_its_feed() -> None:
    h, _ = harness()
    _, outputs = send(h, "bad-3", source="agency:pbc")
    assert [o.topic for o in outputs[:2]] == ["bus.deadletter", "agency.pbc.feed"]


def test_a_bus_sender_gets_no_notice() -> None:
    h, _ = harness()
    _, outputs = send(h, "bad-4", source="bus:gateway")
    assert [o.topic for o in outputs] == ["bus.deadletter", "probe.refused"]


def test_an_undecodable_record_is_refused_without_calling_the_flow() -> None:
    h, flow = harness()
    built = h.envelope.build(TOPIC, ACCEPTED, payload("x-1"), "court:6104")
    outputs = h.feed_raw(TOPIC, built.key, b"\x00garbage", built.headers)
    assert [o.topic for o in outputs] == ["bus.deadletter", "court.6104.inbox"]
    code = header(outputs[0], "dlq_code") or ""
    assert code.startswith(("WIRE_", "AVRO_")), code
    assert outputs[0].value == b"\x00garbage"  # the original bytes
    assert flow.calls == Counter()
    assert flow.refused == []


def test_a_record_without_headers_is_dead_lettered_with_no_one_to_notify() -> None:
    h, flow = harness()
    outputs = h.feed_raw(TOPIC, b"k", b"v", [])
    assert [o.topic for o in outputs] == ["bus.deadletter"]
    assert (header(outputs[0], "dlq_code") or "").startswith("HEADER_")
    assert flow.calls == Counter()


def test_changes_of_a_refused_record_are_not_kept_but_the_batch_is() -> None:
    flow = Probe()
    engine = Engine(flow)
    state = State("t", MemoryBackend(), flow.stores)
    records = []
    for offset, did in enumerate(("ok-1", "bad-1", "boom-1", "ok-2")):
        built = flow.envelope.build(TOPIC, ACCEPTED, payload(did), "court:6104")
        records.append(KeptRecord(TOPIC, 0, offset, built.key, built.value, built.headers))
    for raw in records:
        engine.handle(raw, state)
    table = state.table(SEEN)
    assert [table.get(k) for k in ("ok-1", "bad-1", "boom-1", "ok-2")] == [1, None, None, 1]
    assert table.get("refused:bad-1") == "PROBE_BAD"
    assert {key.decode() for _, key in state.changes()} == {"ok-1", "ok-2", "refused:bad-1"}
    assert state.backend.count("seen") == 0  # nothing reaches the backend before the commit


def test_a_transient_error_propagates_and_keeps_nothing() -> None:
    h, flow = harness()
    send(h, "ok-1")
    with pytest.raises(TransientError):
        send(h, "transient-1")
    assert flow.calls["transient-1"] == 1  # the caller retries the batch, not the engine
    state = h.state(0)
    assert state.table(SEEN).get("transient-1") is None
    assert state.table(SEEN).get("ok-1") == 1


def test_a_tick_evicts_then_runs_the_flow_timers() -> None:
    h, _ = harness()
    send(h, "ok-1")
    state = h.state(0)
    state.table(SEEN).put("short-lived", 1, expires=T0 + timedelta(hours=1))
    state.commit_record()
    state.committed({})
    assert [o.topic for o in h.advance(minutes=59)] == ["probe.tick"]
    assert state.table(SEEN).get("short-lived") == 1
    h.advance(minutes=1)
    assert state.table(SEEN).get("short-lived") is None
    assert state.table(SEEN).get("ok-1") == 1
    assert state.table(SEEN).get("ticked") == (T0 + timedelta(hours=1)).isoformat()
    assert state.now == T0 + timedelta(hours=1)


def test_a_failing_tick_keeps_the_eviction_and_drops_the_flow_changes() -> None:
    h, flow = harness()
    send(h, "ok-1")
    state = h.state(0)
    state.table(SEEN).put("short-lived", 1, expires=T0)
    state.commit_record()
    state.committed({})
    flow.tick_fails = True
    assert h.advance(seconds=1) == []
    assert state.table(SEEN).get("short-lived") is None
    assert state.table(SEEN).get("ticked") is None
    flow.tick_fails = False
    assert [o.topic for o in h.advance(seconds=1)] == ["probe.tick"]
