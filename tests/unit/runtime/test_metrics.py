"""The worker's metrics: labels of few series, counts at commit."""

from __future__ import annotations

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
