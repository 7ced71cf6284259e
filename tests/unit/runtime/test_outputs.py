"""Outputs that cannot be produced: the check's bounded lookups, and the engine refusing the
one record (or dead-lettering the one timer output) instead of failing the transaction."""

from __future__ import annotations

from collections.abc import Iterable

from courtbus.bus.records import Output
from courtbus.runtime.harness import FlowHarness
from courtbus.runtime.outputs import (
    OUTPUT_TOO_LARGE,
    OUTPUT_TOPIC_MISSING,
    OutputCheck,
    record_size,
)
from tests.unit.runtime.test_engine import T0, Probe, header, seen, send

BASE = {"bus.deadletter", "bus.alerts", "probe.refused", "probe.tick", "court.6104.inbox"}


class Cluster:
    """Topic names a check lists, counting the listings; topics may appear later."""

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = set(topics)
        self.listings = 0
        self.appear_after: dict[str, int] = {}

    def __call__(self) -> set[str]:
        self.listings += 1
        for topic, n in list(self.appear_after.items()):
            if self.listings >= n:
                self.topics.add(topic)
        return set(self.topics)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> bool:
        self.slept.append(seconds)
        self.t += seconds
        return False


def check(cluster: Cluster, clock: Clock, **kw: object) -> OutputCheck:
    return OutputCheck(cluster, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


def test_a_missing_topic_is_looked_up_a_bounded_number_of_times_then_remembered() -> None:
    cluster, clock = Cluster(BASE), Clock()
    c = check(cluster, clock, attempts=3, recheck_s=30)
    assert c.exists("bus.alerts") and cluster.listings == 1
    assert c.exists("bus.alerts") and cluster.listings == 1  # known: not asked again
    assert not c.exists("court.440203.inbox")
    assert cluster.listings == 4 and len(clock.slept) == 2  # three lookups, two waits
    for _ in range(1000):  # a burst for the same topic costs no lookup
        assert not c.exists("court.440203.inbox")
    assert cluster.listings == 4
    clock.t += 31  # after recheck_s it is asked again
    cluster.topics.add("court.440203.inbox")
    assert c.exists("court.440203.inbox") and cluster.listings == 5
    cluster.topics.discard("bus.alerts")  # deleted: noticed once the list is recheck_s old
    assert c.exists("bus.alerts") and cluster.listings == 5
    clock.t += 31
    assert not c.exists("bus.alerts")


def test_a_topic_that_appears_during_the_lookups_exists() -> None:
    cluster, clock = Cluster(BASE), Clock()
    cluster.appear_after["court.3205.inbox"] = 2
    c = check(cluster, clock, attempts=3)
    assert c.exists("court.3205.inbox") and cluster.listings == 2


def test_problem_names_the_topic_and_the_size() -> None:
    cluster, clock = Cluster(BASE), Clock()
    c = check(cluster, clock, max_bytes=2048)
    ok = Output("bus.alerts", b"k", b"v", [])
    assert c.problem([ok]) is None
    missing = c.problem([ok, Output("court.440203.inbox", b"k", b"v", [])])
    assert missing is not None and missing.code == OUTPUT_TOPIC_MISSING
    assert "court.440203.inbox" in missing.reason
    big = Output("bus.alerts", b"k", b"x" * 4096, [("h", b"v")])
    assert record_size(big) > 4096
    large = c.problem([big])
    assert large is not None and large.code == OUTPUT_TOO_LARGE


def _harness(topics: set[str]) -> tuple[FlowHarness, Probe, Cluster]:
    flow = Probe()
    cluster, clock = Cluster(topics), Clock()
    h = FlowHarness(flow, start=T0, check=check(cluster, clock))
    return h, flow, cluster


def test_a_record_whose_output_topic_is_missing_is_refused_and_the_next_flows() -> None:
    h, _, _ = _harness(BASE)  # no probe.out
    event_id, outputs = send(h, "ok-1")
    assert [o.topic for o in outputs] == [
        "bus.deadletter",
        "court.6104.inbox",
        "probe.refused",
        "bus.alerts",
    ]
    assert header(outputs[0], "dlq_code") == OUTPUT_TOPIC_MISSING
    assert header(outputs[0], "ce_id") == event_id
    assert "probe.out" in (header(outputs[0], "dlq_reason") or "")
    assert h.decode(outputs[3]).payload["code"] == OUTPUT_TOPIC_MISSING
    assert seen(h) == {"refused:ok-1": OUTPUT_TOPIC_MISSING}  # on_event's change undone
    h.engine.check.known.add("probe.out")  # type: ignore[union-attr]  # the topic is created
    _, outputs = send(h, "ok-2")
    assert [o.topic for o in outputs] == ["probe.out"]


def test_a_notice_for_an_inbox_that_does_not_exist_is_dropped_not_the_dead_letter() -> None:
    h, _, _ = _harness(BASE - {"court.6104.inbox"})
    _, outputs = send(h, "bad-1")
    assert [o.topic for o in outputs] == ["bus.deadletter", "probe.refused"]
    assert header(outputs[0], "dlq_code") == "PROBE_BAD"


def test_a_timer_output_for_a_missing_topic_goes_to_the_dead_letters() -> None:
    h, _, _ = _harness((BASE | {"probe.out"}) - {"probe.tick"})
    send(h, "ok-1")
    outputs = h.advance(seconds=5)
    assert [o.topic for o in outputs] == ["bus.deadletter", "bus.alerts"]
    assert header(outputs[0], "dlq_topic") == "probe.tick"
    assert header(outputs[0], "dlq_code") == OUTPUT_TOPIC_MISSING
    assert outputs[0].key == b"tick"
    assert seen(h)["ticked"]  # the tick itself is kept


def test_a_fan_out_flow_keeps_the_record_and_dead_letters_only_the_missing_output() -> None:
    from services.feeds.flow import FeedsFlow
    from tests.unit.test_feeds import entry, harness, on
    from tests.unit.test_feeds import send as send_entry

    plain = harness()
    cluster, clock = Cluster(set()), Clock()
    c = check(cluster, clock)
    h = FlowHarness(plain.flow, start=T0, partitions=3, check=c)
    assert isinstance(h.flow, FeedsFlow)
    everything = {o.topic for o in send_entry(plain, entry(1))}
    assert "agency.pbccrc.blacklist" in everything
    cluster.topics = (everything - {"agency.pbccrc.blacklist"}) | {"bus.deadletter", "bus.alerts"}
    outputs = send_entry(h, entry(2))
    assert on(outputs, "agency.icbc.blacklist")  # the others get theirs
    dead = on(outputs, "bus.deadletter")
    assert [header(d, "dlq_topic") for d in dead] == ["agency.pbccrc.blacklist"]
    assert header(dead[0], "dlq_code") == OUTPUT_TOPIC_MISSING
    assert len(on(outputs, "bus.alerts")) == 1
