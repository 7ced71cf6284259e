"""The services' own figures for the dashboard: each running service's ``/metrics`` (the
targets ``courtbus.runtime.metrics.live_targets`` lists) scraped and read per flow: consumer
lag, p99 batch latency, records in, dead-lettered.

A service that does not answer, or answers something that is not Prometheus text, is shown
as not answering; none running is an empty list. Imports no web framework.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from courtbus.config import default_stack_home
from courtbus.runtime.metrics import live_targets

SCRAPE_TIMEOUT_S = 0.5


def state_dir_from_env() -> Path:
    """The services' state folder as they find it: ``$COURTBUS_STATE_DIR``, else
    ``<stack home>/state``."""
    env = os.environ.get("COURTBUS_STATE_DIR")
    return Path(env) if env else default_stack_home() / "state"


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """The ``q`` quantile of a Prometheus histogram's cumulative ``buckets`` (upper bound →
    count, ``inf`` included), interpolated inside its bucket as Prometheus's
    ``histogram_quantile`` does; None with no observation."""
    bounds = sorted(buckets)
    total = buckets.get(math.inf, buckets[bounds[-1]] if bounds else 0.0)
    if not bounds or total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound, as Prometheus does
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def metric_sum(text: str, name: str) -> float:
    """The sum of every sample of metric ``name`` (all its labels) in ``/metrics`` text.

    Raises:
        ValueError: not Prometheus text.
    """
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def read_metrics(text: str) -> dict[str, dict[str, Any]]:
    """Per flow, from one service's ``/metrics`` text: lag, records in, dead-lettered and the
    batch-seconds histogram's cumulative buckets.

    Raises:
        ValueError: not Prometheus text.
    """
    flows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"lag": 0.0, "records_in": 0.0, "dead_lettered": 0.0, "buckets": {}}
    )
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            flow = sample.labels.get("flow")
            if flow is None:
                continue
            row = flows[flow]
            if sample.name == "courtbus_consumer_lag":
                row["lag"] += sample.value
            elif sample.name == "courtbus_records_in_total":
                row["records_in"] += sample.value
            elif sample.name == "courtbus_dead_lettered_total":
                row["dead_lettered"] += sample.value
            elif sample.name == "courtbus_batch_seconds_bucket":
                bound = float(sample.labels["le"])
                row["buckets"][bound] = row["buckets"].get(bound, 0.0) + sample.value
    return dict(flows)


def scrape_services(state_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every running service of ``state_dir`` (default: ``state_dir_from_env``), one row per
    flow with its workers summed: ``service``, ``workers``, ``answering``, ``lag`` (records),
    ``p99_ms`` (a batch's poll to commit, since the workers started), ``records_in``,
    ``dead_lettered``. Never raises for a service that is away."""
    merged: dict[str, dict[str, Any]] = {}
    for target in live_targets(state_dir or state_dir_from_env()):
        row = merged.setdefault(
            target.flow,
            {
                "service": target.flow,
                "workers": 0,
                "answering": 0,
                "lag": 0.0,
                "records_in": 0.0,
                "dead_lettered": 0.0,
                "buckets": {},
            },
        )
        row["workers"] += 1
        try:
            answer = httpx.get(f"http://{target.address}/metrics", timeout=SCRAPE_TIMEOUT_S)
            answer.raise_for_status()
            found = read_metrics(answer.text)
        except (httpx.HTTPError, ValueError):
            continue  # away or starting: shown as not answering
        row["answering"] += 1
        for flow_row in found.values():
            for key in ("lag", "records_in", "dead_lettered"):
                row[key] += flow_row[key]
            for bound, count in flow_row["buckets"].items():
                row["buckets"][bound] = row["buckets"].get(bound, 0.0) + count
    rows = []
    for row in sorted(merged.values(), key=lambda r: str(r["service"])):
        p99 = quantile(row.pop("buckets"), 0.99)
        row["p99_ms"] = None if p99 is None else round(p99 * 1000, 1)
        for key in ("lag", "records_in", "dead_lettered"):
            row[key] = int(row[key])
        rows.append(row)
    return rows
