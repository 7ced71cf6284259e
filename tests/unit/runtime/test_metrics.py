"""The worker's metrics: labels of few series, counts at commit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from courtbus.bus.records import Output
from courtbus.runtime.metrics import WorkerMetrics, destination


def test_a_participants_topic_is_one_label_for_all_participants() -> None:
    assert destination("court.320583.inbox") == "court.*.inbox"
    assert destination("agency.nia.restriction") == "agency.*.restriction"
    assert destination("group.suzhou.blacklist") == "group.*.blacklist"
    assert destination("bus.delegation.events") == "bus.delegation.events"
    assert destination("court") == "court"


def test_a_commit_counts_inputs_outputs_and_dead_letters_by_code() -> None:
    m = WorkerMetrics("gateway")
    outs = [
        Output("bus.delegation.events", b"k", b"v", []),
        Output("bus.deadletter", b"k", b"v", [("dlq_code", b"WIRE_BAD_MAGIC")]),
        Output("court.6101.inbox", b"k", b"v", []),
    ]
    m.committed(3, outs, 0.02)
    m.committed(0, [], None)
    m.aborted()
    get = m.registry.get_sample_value
    assert get("courtbus_records_in_total", {"flow": "gateway"}) == 3
    assert get("courtbus_dead_lettered_total", {"flow": "gateway", "code": "WIRE_BAD_MAGIC"}) == 1
    labels = {"flow": "gateway", "destination": "court.*.inbox"}
    assert get("courtbus_records_out_total", labels) == 1
    assert get("courtbus_transactions_total", {"flow": "gateway", "outcome": "committed"}) == 2
    assert get("courtbus_transactions_total", {"flow": "gateway", "outcome": "aborted"}) == 1
    assert get("courtbus_batch_seconds_count", {"flow": "gateway"}) == 1


def test_alerts_are_counted_by_type_and_a_records_age_at_commit_is_observed() -> None:
    from courtbus.bus.records import KeptRecord

    m = WorkerMetrics("watchdog")
    alert = [("ce_type", b"cn.court.casestatus.watchdog_alert")]
    outs = [
        Output("bus.alerts", b"k", b"v", alert),
        Output("court.320583.inbox", b"k", b"v", alert),
    ]
    records = [
        KeptRecord("bus.casestatus.events", 0, 1, b"k", b"v", [], timestamp_ms=10_000),
        KeptRecord("bus.casestatus.events", 0, 2, b"k", b"v", [], timestamp_ms=12_500),
        KeptRecord("bus.casestatus.events", 0, 3, b"k", b"v", [], timestamp_ms=None),  # unknown
        KeptRecord("bus.casestatus.events", 0, 4, b"k", b"v", [], timestamp_ms=99_000),  # ahead
    ]
    m.committed(4, outs, 0.01, [records], at_ms=13_000)
    get = m.registry.get_sample_value
    labels = {"flow": "watchdog", "type": "cn.court.casestatus.watchdog_alert"}
    assert get("courtbus_alerts_total", labels) == 1, "the copy on bus.alerts only"
    age = {"flow": "watchdog"}
    assert get("courtbus_record_latency_seconds_count", age) == 3
    assert get("courtbus_record_latency_seconds_sum", age) == 3.0 + 0.5 + 0.0
    assert get("courtbus_record_latency_seconds_bucket", {**age, "le": "0.5"}) == 2
    assert get("courtbus_record_latency_seconds_bucket", {**age, "le": "5.0"}) == 3
    m.committed(0, [], None, [records])  # a tick's: no commit time, nothing observed
    assert get("courtbus_record_latency_seconds_count", age) == 3


def test_restores_are_counted_and_the_remaining_gauge_ends_at_zero() -> None:
    m = WorkerMetrics("delegation")
    get = m.registry.get_sample_value
    f = {"flow": "delegation"}
    m.restoring(120)
    assert get("courtbus_restore_remaining_offsets", f) == 120
    m.restoring(-3)  # never below zero
    assert get("courtbus_restore_remaining_offsets", f) == 0
    m.restore_done(100)
    m.restore_done(7)
    assert get("courtbus_restored_records", f) == 7, "the latest restore's"
    assert get("courtbus_restore_records_total", f) == 107, "every restore's"
    assert get("courtbus_restore_remaining_offsets", f) == 0


def test_the_open_timers_are_those_of_every_task_the_worker_owns(tmp_path: Path) -> None:
    """``courtbus_open_timers``: counted from the tasks' committed state, at a tick."""
    from courtbus.config import Connection
    from courtbus.runtime.changelogs import TaskId
    from courtbus.runtime.config import WorkerConfig
    from courtbus.runtime.flow import Flow, Incoming, Inputs
    from courtbus.runtime.state import MemoryBackend, State
    from courtbus.runtime.worker import Task, Worker

    class Timed(Flow):
        name = "timed"
        source = "bus:timed"
        inputs = Inputs(topics=("bus.timed.events",))
        timers = True

        def on_event(self, record: Incoming, state: State) -> list[Output]:
            return []

    config = WorkerConfig(Connection(bootstrap="localhost:1", registry_url=None), tmp_path)
    worker = Worker(Timed(envelope=None), config)  # type: ignore[arg-type]  # never decodes
    for partition, due in ((0, 3), (1, 2), (2, 0)):
        backend = MemoryBackend()
        state = State(f"p{partition}", backend, ())
        for n in range(due):
            state.timers.schedule(f"t{n}", datetime(2024, 1, 1, tzinfo=UTC))
        state.commit_record()
        backend.write(state.changes(), {})
        worker.tasks[TaskId(partition)] = Task(TaskId(partition), state, backend)
    worker._count_timers()
    assert worker.metrics.registry.get_sample_value("courtbus_open_timers", {"flow": "timed"}) == 5
