"""The one table of ``make bench`` (``bench.report``): how each figure is judged against its
goal, and how the benches' figures are merged. Pure: no broker, no bench is run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from bench.__main__ import BENCHES, select
from bench.common import write_json
from bench.report import (
    FIGURES,
    GOALS,
    BenchResult,
    Figure,
    Goal,
    Row,
    as_json,
    merge,
    render,
    table_rows,
)

GATEWAY = (
    Figure(
        "gateway",
        "gateway_rec_s",
        "gateway ({gateway_records:,} records)",
        "{:,.0f}/s",
        "broker_rec_s",
        "ProducerPerformance",
    ),
    Figure("gateway", "gateway_cpu_us_per_record", "gateway CPU/record", "{:,.0f} µs"),
)
RESTORE = Figure(
    "blacklist_restore", "restore_8m_s", "cold restore of 8.6 M", "{:,.2f} s", full=True
)
GOALS_HERE = {
    "gateway_rec_s": Goal(">=", 20_000, "≥ 20,000/s"),
    "gateway_cpu_us_per_record": Goal("<=", 50, "≤ 50 µs"),
    "restore_8m_s": Goal("<=", 120, "≤ 120 s"),
}


def ok(name: str, **figures: object) -> BenchResult:
    return BenchResult(name, ["python", "-m", f"bench.{name}"], 0, 12.0, dict(figures), load=3.5)


def rows_by_key(results: list[BenchResult], full: bool = False) -> dict[str, Row]:
    rows = table_rows(results, full, (*GATEWAY, RESTORE), GOALS_HERE)
    return {r.key: r for r in rows}


def test_a_missed_goal_is_marked_missed_and_a_reached_one_met() -> None:
    gw = ok(
        "gateway",
        gateway_rec_s=4_154.0,
        broker_rec_s=140_000.0,
        gateway_cpu_us_per_record=42.0,
        gateway_records=40_000,
    )
    rows = rows_by_key([gw])
    rate, cpu = rows["gateway_rec_s"], rows["gateway_cpu_us_per_record"]
    assert rate.status == "missed"
    assert rate.value == "4,154/s"
    assert rate.kafka == "ProducerPerformance 140,000/s"
    assert rate.ratio == "0.0297×"
    assert rate.figure == "gateway (40,000 records)"
    assert rate.load == 3.5
    assert cpu.status == "met"
    assert cpu.kafka == "—" and cpu.ratio == "—"


def test_a_goal_reached_exactly_is_met() -> None:
    rows = rows_by_key([ok("gateway", gateway_rec_s=20_000, gateway_cpu_us_per_record=50)])
    assert rows["gateway_rec_s"].status == "met"
    assert rows["gateway_cpu_us_per_record"].status == "met"


def test_a_failed_bench_shows_as_failed_whatever_it_wrote() -> None:
    failed = BenchResult(
        "gateway", ["python"], 1, 30.0, {"gateway_rec_s": 30_000.0}, "exit status 1"
    )
    assert not failed.ok
    rows = rows_by_key([failed])
    assert rows["gateway_rec_s"].status == "bench failed"
    assert rows["gateway_cpu_us_per_record"].status == "bench failed"
    timed_out = BenchResult("gateway", ["python"], None, 900.0, {}, "passed its time limit")
    assert not timed_out.ok
    assert rows_by_key([timed_out])["gateway_rec_s"].status == "bench failed"


def test_a_missing_figure_is_not_measured_and_its_label_loses_what_it_cannot_fill() -> None:
    rows = rows_by_key([ok("gateway", gateway_cpu_us_per_record=60.0)])
    rate = rows["gateway_rec_s"]
    assert rate.status == "not measured"
    assert rate.value == "—"
    assert rate.figure == "gateway"


def test_null_and_nan_are_not_measured() -> None:
    for value in (None, math.nan, math.inf, "fast", True):
        rows = rows_by_key([ok("gateway", gateway_rec_s=value)])
        assert rows["gateway_rec_s"].status == "not measured", value


def test_a_bench_not_run_and_a_full_only_figure() -> None:
    rows = rows_by_key([ok("blacklist_restore", restore_s=3.0)])
    assert rows["gateway_rec_s"].status == "not run"
    assert rows["restore_8m_s"].status == "bench-full only"
    full = rows_by_key([ok("blacklist_restore", restore_s=3.0)], full=True)
    assert full["restore_8m_s"].status == "not measured"
    measured = rows_by_key([ok("blacklist_restore", restore_8m_s=848.0)], full=True)
    assert measured["restore_8m_s"].status == "missed"


def test_a_figure_without_a_goal() -> None:
    fig = Figure("produce", "sdk_produce_rec_s", "SDK produce", "{:,.0f}/s")
    (row,) = table_rows([ok("produce", sdk_produce_rec_s=9_000.0)], False, (fig,), {})
    assert row.status == "no goal" and row.goal == "—"


def test_merge_keeps_every_bench_whole_and_the_figures_flat() -> None:
    gw = ok("gateway", gateway_rec_s=4_000.0, load="load 3", shared=1)
    lat = ok("latency", kafka_e2e_p99_ms=9.0, load="load 4", shared=2)
    failed = BenchResult("projector", ["python"], 2, 5.0, {}, "exit status 2", "/tmp/p.log")
    doc = merge([gw, lat, failed])
    assert doc["figures"] == {"gateway_rec_s": 4_000.0, "kafka_e2e_p99_ms": 9.0, "shared": 1}
    assert doc["conflicts"] == {"shared": ["gateway", "latency"]}  # "load" is per bench
    assert doc["benches"]["latency"]["figures"]["load"] == "load 4"
    assert doc["benches"]["projector"]["ok"] is False
    assert doc["benches"]["projector"]["error"] == "exit status 2"
    assert doc["benches"]["gateway"]["ok"] is True


def test_the_table_renders_and_its_rows_go_to_json(tmp_path: Path) -> None:
    results = [
        ok("gateway", gateway_rec_s=4_154.0, broker_rec_s=140_000.0),
        BenchResult("latency", ["python"], 1, 5.0, {}, "exit status 1"),
    ]
    rows = table_rows(results, False)
    console = Console(record=True, width=250)
    console.print(render(rows, "make bench [test]"))
    text = console.export_text()
    assert "4,154/s" in text and "missed" in text and "bench failed" in text
    assert "make bench [test]" in text
    path = tmp_path / "figures.json"
    write_json(path, {"table": as_json(rows), "nan": math.nan}, add_load=False)
    back = json.loads(path.read_text())
    assert back["nan"] is None and "load" not in back
    statuses = {r["key"]: r["status"] for r in back["table"]}
    assert statuses["gateway_rec_s"] == "missed"
    assert statuses["delegation_p99_ms_100"] == "bench failed"


def test_every_goal_has_a_row_and_every_row_a_bench_the_runner_runs() -> None:
    keys = {f.key for f in FIGURES}
    assert set(GOALS) <= keys
    assert {f.bench for f in FIGURES} <= {s.name for s in BENCHES}
    assert len(keys) == len(FIGURES)


def test_the_issue_s_keys_are_in_the_table() -> None:
    shown = {f.key for f in FIGURES} | {f.kafka for f in FIGURES if f.kafka}
    issue = {
        "gateway_rec_s",
        "gateway_cpu_us_per_record",
        "broker_rec_s",
        "gateway_warm_restart_s",
        "delegation_p99_ms_100",
        "delegation_p99_ms_1000",
        "delegation_delivered_per_s_1000",
        "restriction_p99_ms_1000",
        "kafka_e2e_p99_ms",
        "bootstrap_entries_s",
        "bootstrap_peak_rss_mib",
        "consumer_perf_entries_s",
        "restore_8m_s",
    }
    assert issue <= shown


def test_only_and_skip_choose_benches() -> None:
    assert [s.name for s in select("latency,gateway", None)] == ["gateway", "latency"]
    assert "projector" not in {s.name for s in select(None, "projector")}
    with pytest.raises(SystemExit, match="no such bench: nope"):
        select("nope", None)
