"""A worker's Prometheus metrics: what it consumed, wrote and dead-lettered, how long its
batches took, how far behind it is, and its restore.

Counted when a transaction commits, so the figures are what the bus really did: an aborted
batch counts nothing (``courtbus_transactions_total{outcome="aborted"}`` counts it). Each
service serves them at ``http://<COURTBUS_METRICS_ADDR>:<COURTBUS_METRICS_PORT>/metrics``
(``serve``; no port, no server). Metric names and labels:

* ``courtbus_records_in_total{flow}``: input records of committed batches;
* ``courtbus_records_out_total{flow, destination}``: records written (changelogs not counted),
  by destination: the topic, with a participant's id replaced by ``*`` (``court.*.inbox``,
  ``agency.*.restriction``) so there are a few series, not one per court;
* ``courtbus_dead_lettered_total{flow, code}``: records dead-lettered, by ``dlq_code``;
* ``courtbus_alerts_total{flow, type}``: alerts written to ``bus.alerts``, by record type
  (``ce_type``: ``cn.court.casestatus.watchdog_alert``, ``cn.court.bus.service_alert``, ...);
* ``courtbus_transactions_total{flow, outcome}``: ``committed`` or ``aborted``;
* ``courtbus_batch_seconds{flow}``: a batch's processing and transaction, to its commit
  (histogram);
* ``courtbus_record_latency_seconds{flow}``: each input record's age when the transaction that
  consumed it committed: from its Kafka timestamp (the writer's create time) to the commit, so
  it holds the time the record waited in the topic too (histogram; a backlog shows here);
* ``courtbus_consumer_lag{flow}``: records behind the high watermarks of the partitions it
  owns (from the client's last fetch responses, updated every tick);
* ``courtbus_open_timers{flow}``: the timers set in the tasks it owns, each a deadline the flow
  watches (a delegation's start and report periods, a restriction's acknowledgement, a
  distribution's windows, a watched case's next alert); flows with timers only, every tick;
* ``courtbus_tasks{flow}``; ``courtbus_state_cache_bytes{flow}``: the configured capacity of
  the SQLite page caches of its open state (a task's file 8 MiB, a pattern worker's shared file
  64 MiB), by which its RSS may grow as the state is read, every tick; restore: ``courtbus_restored_records{flow}`` (the latest restore's
  changelog records), ``courtbus_restore_records_total{flow}`` (every restore's), and
  ``courtbus_restore_remaining_offsets{flow}``, the changelog offsets the restore under way
  still has to read (0 when none is: transaction markers take offsets too, so it is an upper
  bound of the records).

**Targets.** A service that serves its metrics also writes where, for Prometheus's file-based
discovery: ``<state dir>/metrics/<flow>-<pid>.json`` (``file_sd_configs`` with
``files: [<state dir>/metrics/*.json]``), removed when it stops; ``courtbus metrics targets``
lists the live ones.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from courtbus.bus.records import KeptRecord, Output
from courtbus.bus.topics import ALERTS_TOPIC, DEADLETTER_TOPIC

log = logging.getLogger("courtbus.runtime")
_PARTICIPANT_TOPICS = ("court", "agency", "group")
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# a record's age at commit: a hop's latency at low load, up to a backlog's hours
_AGES = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)


def destination(topic: str) -> str:
    """A topic as a metric label: ``court.320583.inbox`` → ``court.*.inbox``; others as they are."""
    parts = topic.split(".")
    if len(parts) >= 3 and parts[0] in _PARTICIPANT_TOPICS:
        return ".".join([parts[0], "*", *parts[2:]])
    return topic


def _header(out: Output, name: str) -> str:
    for key, value in out.headers:
        if key == name and value:
            return value.decode("utf-8", "replace")
    return "UNKNOWN"


class WorkerMetrics:
    """The metrics of one worker of ``flow``, in a registry of their own."""

    def __init__(self, flow: str, registry: CollectorRegistry | None = None) -> None:
        self.flow = flow
        self.registry = registry if registry is not None else CollectorRegistry()
        r, f = self.registry, ["flow"]
        self.records_in = Counter(
            "courtbus_records_in", "Input records of committed batches", f, registry=r
        )
        self.records_out = Counter(
            "courtbus_records_out",
            "Records written, by destination",
            [*f, "destination"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "courtbus_dead_lettered", "Records dead-lettered, by code", [*f, "code"], registry=r
        )
        self.transactions = Counter(
            "courtbus_transactions", "Transactions, by outcome", [*f, "outcome"], registry=r
        )
        self.batch_seconds = Histogram(
            "courtbus_batch_seconds", "A batch's poll to commit", f, buckets=_SECONDS, registry=r
        )
        self.alerts = Counter(
            "courtbus_alerts",
            "Alerts written to bus.alerts, by record type",
            [*f, "type"],
            registry=r,
        )
        self.record_latency = Histogram(
            "courtbus_record_latency_seconds",
            "An input record's age at the commit that consumed it (from its Kafka timestamp)",
            f,
            buckets=_AGES,
            registry=r,
        )
        self.lag = Gauge(
            "courtbus_consumer_lag", "Records behind the owned partitions' ends", f, registry=r
        )
        self.open_timers = Gauge(
            "courtbus_open_timers",
            "Timers (deadlines the flow watches) set in the owned tasks",
            f,
            registry=r,
        )
        self.tasks = Gauge("courtbus_tasks", "Tasks (input partitions) open", f, registry=r)
        self.state_cache = Gauge(
            "courtbus_state_cache_bytes",
            "The configured capacity of the SQLite page caches of the open state (RSS grows by "
            "up to this as state is read)",
            f,
            registry=r,
        )
        self.restored = Gauge(
            "courtbus_restored_records",
            "Changelog records read by the latest restore",
            f,
            registry=r,
        )
        self.restored_total = Counter(
            "courtbus_restore_records", "Changelog records read by every restore", f, registry=r
        )
        self.restore_remaining = Gauge(
            "courtbus_restore_remaining_offsets",
            "Changelog offsets the restore under way has still to read (0: none under way)",
            f,
            registry=r,
        )

    def committed(
        self,
        inputs: int,
        outputs: Iterable[Output],
        seconds: float | None,
        records: Iterable[Iterable[KeptRecord]] = (),
        at_ms: int | None = None,
    ) -> None:
        """A transaction committed: ``inputs`` records consumed, ``outputs`` written; the batch
        took ``seconds`` (None: a tick's). ``records`` (the batch's, by partition) with
        timestamps get their age at ``at_ms`` (the commit, ms since the epoch) observed."""
        flow = self.flow
        self.transactions.labels(flow, "committed").inc()
        if inputs:
            self.records_in.labels(flow).inc(inputs)
        outputs = outputs if isinstance(outputs, list) else list(outputs)
        written = Tally(out.topic for out in outputs)  # a label lookup per topic, not record
        for topic, n in written.items():
            self.records_out.labels(flow, destination(topic)).inc(n)
        if DEADLETTER_TOPIC in written or ALERTS_TOPIC in written:
            for out in outputs:
                if out.topic == DEADLETTER_TOPIC:
                    self.dead_lettered.labels(flow, _header(out, "dlq_code")).inc()
                elif out.topic == ALERTS_TOPIC:
                    self.alerts.labels(flow, _header(out, "ce_type")).inc()
        if seconds is not None:
            self.batch_seconds.labels(flow).observe(seconds)
        if at_ms is not None:
            latency = self.record_latency.labels(flow)
            for part in records:
                for record in part:
                    if record.timestamp_ms is not None:  # a clock ahead of ours: age 0
                        latency.observe(max(0, at_ms - record.timestamp_ms) / 1000)

    def restoring(self, remaining: int) -> None:
        """A restore under way has ``remaining`` changelog offsets still to read."""
        self.restore_remaining.labels(self.flow).set(max(0, remaining))

    def restore_done(self, count: int) -> None:
        """A restore read ``count`` changelog records and is over."""
        self.restored.labels(self.flow).set(count)
        if count:
            self.restored_total.labels(self.flow).inc(count)
        self.restore_remaining.labels(self.flow).set(0)

    def aborted(self) -> None:
        """A transaction was aborted (its records will be processed again)."""
        self.transactions.labels(self.flow, "aborted").inc()

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``addr:port`` (0: a free port) in a thread; the port."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        bound = int(server.server_port)
        log.info("%s metrics on http://%s:%d/metrics", self.flow, addr, bound)
        return bound


@dataclass(frozen=True, slots=True)
class Target:
    """Where a running service serves its metrics."""

    flow: str
    address: str  # host:port
    pid: int
    path: Path  # its file_sd file


def targets_dir(state_dir: Path) -> Path:
    """Where the services of a state folder list their metrics targets."""
    return state_dir / "metrics"


def write_target(state_dir: Path, flow: str, addr: str, port: int) -> Path:
    """Record ``flow``'s metrics address for Prometheus (file_sd format); the file."""
    folder = targets_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    host = "127.0.0.1" if addr in ("0.0.0.0", "") else addr
    path = folder / f"{flow}-{os.getpid()}.json"
    entry = [{"targets": [f"{host}:{port}"], "labels": {"service": flow, "pid": str(os.getpid())}}]
    path.write_text(json.dumps(entry) + "\n")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: alive
        return True
    return True


def live_targets(state_dir: Path) -> list[Target]:
    """The metrics targets of the services of ``state_dir`` still running (the files of
    stopped ones, e.g. killed, are removed)."""
    found: list[Target] = []
    folder = targets_dir(state_dir)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            (entry,) = json.loads(path.read_text())
            target = Target(
                entry["labels"]["service"], entry["targets"][0], int(entry["labels"]["pid"]), path
            )
        except (ValueError, KeyError, TypeError, OSError):
            continue  # being written, or not ours
        if _alive(target.pid):
            found.append(target)
        else:
            path.unlink(missing_ok=True)
    return found
