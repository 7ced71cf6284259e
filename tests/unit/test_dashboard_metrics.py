"""The services' figures on the dashboard: a worker's own Prometheus text read per flow (lag,
records in, dead-lettered, p99 from the batch histogram as Prometheus computes it); a target
that does not answer is shown as not answering; no target, no rows."""

from __future__ import annotations

import math
import socket
from pathlib import Path

from prometheus_client import generate_latest

from courtbus.bus.records import Output
from courtbus.runtime.metrics import WorkerMetrics, write_target
from courtbus.web.service_metrics import metric_sum, quantile, read_metrics, scrape_services


def test_a_workers_text_read_per_flow() -> None:
    m = WorkerMetrics("delegation")
    dead = Output("bus.deadletter", b"k", b"v", [("dlq_code", b"WIRE_BAD_MAGIC")])
    m.committed(3, [Output("court.6101.inbox", b"k", b"v", []), dead], 0.02)
    for _ in range(99):
        m.committed(1, [], 0.004)
    m.lag.labels("delegation").set(7)
    (row,) = read_metrics(generate_latest(m.registry).decode()).values()
    assert (row["lag"], row["records_in"], row["dead_lettered"]) == (7, 102, 1)
    assert row["buckets"][math.inf] == 100
    p99 = quantile(row["buckets"], 0.99)
    assert p99 is not None and 0.0 < p99 <= 0.005  # 99 of 100 batches took 4 ms


def test_a_metric_summed_over_its_labels() -> None:
    m = WorkerMetrics("blacklist")
    m.state_cache.labels("blacklist").set(8 * 2**20)
    text = generate_latest(m.registry).decode()
    assert metric_sum(text, "courtbus_state_cache_bytes") == 8 * 2**20
    assert metric_sum(text, "courtbus_no_such_metric") == 0


def test_quantile_as_prometheus_interpolates() -> None:
    assert quantile({}, 0.99) is None
    assert quantile({1.0: 0.0, math.inf: 0.0}, 0.99) is None
    assert quantile({1.0: 50.0, 2.0: 100.0, math.inf: 100.0}, 0.5) == 1.0
    assert quantile({1.0: 0.0, 2.0: 100.0, math.inf: 100.0}, 0.5) == 1.5
    assert quantile({1.0: 10.0, math.inf: 100.0}, 0.99) == 1.0  # past the last bound: it


def test_a_service_that_does_not_answer(tmp_path: Path) -> None:
    assert scrape_services(tmp_path) == []
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_target(tmp_path, "gateway", "127.0.0.1", port)
    (row,) = scrape_services(tmp_path)
    assert (row["service"], row["workers"], row["answering"], row["p99_ms"]) == (
        "gateway",
        1,
        0,
        None,
    )
