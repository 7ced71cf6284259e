"""Shared entry point of the services: configuration from the environment, signals, logging."""

from __future__ import annotations

import atexit
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from courtbus.catalogue.holidays import install_from_env, start_report
from courtbus.config import Connection, resolve
from courtbus.domain.calendar import CHINA
from courtbus.errors import ClusterError, ConfigError, CourtbusError, RegistryError
from courtbus.logs import configure_logging
from courtbus.runtime.config import WorkerConfig, tune_gc
from courtbus.runtime.flow import Flow
from courtbus.runtime.metrics import write_target
from courtbus.runtime.worker import Worker
from courtbus.security.keys import signer_for
from courtbus.security.signing import owner_of_source
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet
from services.settings import CONNECT_WAIT_S, ServiceSettings

log = logging.getLogger("courtbus.service")

S = TypeVar("S", bound=ServiceSettings)


def wait_for_cluster(
    conn: Connection, wait_s: float, *, every_s: float = 1.0, probe_timeout_s: float = 5.0
) -> None:
    """Return once a bootstrap server accepts a connection, asking every ``every_s`` for up to
    ``wait_s``. Logs one warning when it starts waiting and one line when the cluster answers,
    so a service started before its cluster says so once, not in kafka-python's retries.

    Raises:
        ClusterError: ``CLUSTER_UNREACHABLE`` once ``wait_s`` has passed.
    """
    started = time.monotonic()
    waiting = False
    while True:
        try:
            conn.probe(probe_timeout_s)
        except ClusterError as exc:
            waited = time.monotonic() - started
            if waited >= wait_s:
                if waiting:
                    raise ClusterError(
                        f"{exc.reason} (waited {round(waited, 1):g} s)", code=exc.code
                    ) from exc
                raise
            if not waiting:
                log.warning("%s; waiting up to %g s for it (COURTBUS_CONNECT_WAIT_S)", exc, wait_s)
                waiting = True
            time.sleep(min(every_s, max(wait_s - waited, 0)))
            continue
        if waiting:
            log.info("reached Kafka at %s after %.0f s", conn.bootstrap, time.monotonic() - started)
        return


def start_checks(connect_wait_s: float = CONNECT_WAIT_S) -> tuple[Connection, RegistryClient]:
    """The connection and a registry client, once the cluster answers (waiting up to
    ``connect_wait_s``, ``COURTBUS_CONNECT_WAIT_S``) and the registry URL leads to a registry
    (a registry that is down only gets a warning: records wait for it).

    Raises:
        CourtbusError: ``BUS_NOT_CONFIGURED``, ``BOOTSTRAP_INVALID``,
            ``REGISTRY_NOT_CONFIGURED``, ``REGISTRY_URL_INVALID`` or ``CLUSTER_UNREACHABLE``.
    """
    conn = resolve()
    registry = RegistryClient(conn.require_registry(), http=conn.http_settings())
    try:
        wait_for_cluster(conn, connect_wait_s)
        registry.check()
    except RegistryError as exc:
        if exc.code == "REGISTRY_URL_INVALID":
            registry.close()
            raise
        log.warning("%s; records that need it wait until it answers", exc)
    except CourtbusError:
        registry.close()
        raise
    return conn, registry


def sign_outputs(flow: Flow, key: Path | None) -> None:
    """Sign every record the flow builds with the service's own key (``service.<name>``),
    read from the file ``key`` (``COURTBUS_SIGNING_KEY``); without it the records go unsigned.

    Raises:
        ConfigError: ``SIGNING_KEY_*`` (see ``courtbus.security.keys.signer_for``).
    """
    owner = owner_of_source(flow.source)
    if owner is None or key is None:
        return
    signer = signer_for(owner, key)
    flow.envelope.signer = signer
    log.info("%s signs what it writes with %s", flow.name, getattr(signer, "keyid", "?"))


def serve_metrics(worker: Worker, port: int | None, addr: str = "127.0.0.1") -> int | None:
    """Serve the worker's Prometheus metrics (``courtbus.runtime.metrics``) on ``port``
    (``COURTBUS_METRICS_PORT``; 0: a free port, logged) at ``addr``
    (``COURTBUS_METRICS_ADDR``); no port, no server. The port served, or None.

    Raises:
        ConfigError: ``METRICS_PORT_INVALID`` (it cannot be bound).
    """
    if port is None:
        return None
    try:
        bound = worker.metrics.serve(port, addr)
    except OSError as exc:
        raise ConfigError(
            f"COURTBUS_METRICS_PORT {port} on {addr}: {exc}", code="METRICS_PORT_INVALID"
        ) from exc
    try:  # for `courtbus metrics targets` and Prometheus's file_sd; removed at exit
        path = write_target(worker.config.state_dir, worker.flow.name, addr, bound)
        atexit.register(path.unlink, missing_ok=True)
    except OSError as exc:
        log.warning("metrics served on port %d, but not listed in the state folder: %s", bound, exc)
    return bound


def exit_with_parent(stop: Callable[[], None], every_s: float = 1.0) -> threading.Thread:
    """Call ``stop`` once the process that started this one is gone (its parent pid changes:
    it was reparented), looking every ``every_s``; run when ``COURTBUS_EXIT_WITH_PARENT`` asks.
    For services a parent runs for its own life, such as the demo's: a demo killed outright
    (SIGKILL, a test's timeout) must not leave them running. The thread (a daemon)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)  # a poll of the parent pid: there is no event to wait on
        log.warning("the process that started this service (pid %d) is gone; stopping", parent)
        stop()

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def run_service(make: Callable[[Envelope, S], Flow], settings: type[S]) -> None:
    """Run one worker of a flow until SIGTERM/SIGINT: load ``settings`` (the service's class,
    from the environment), then ``make`` the flow with them.

    Environment: the connection (``COURTBUS_BOOTSTRAP``, ``COURTBUS_REGISTRY_URL`` or the
    local stack: ``courtbus.config.resolve``), ``COURTBUS_HOLIDAYS`` (the operator's holiday
    schedules; logged at start, with a warning when the coming months have no holiday data),
    and the service's settings class (every ``ServiceSettings`` field: the runtime's, the
    cluster wait, metrics, the signing key, exit with the parent; then the service's own). A
    configuration error or a cluster that does not come up is one logged line and exit code 2.
    ``kill -USR1 <pid>`` writes every thread's stack to the service's stderr (a stuck worker).
    Once set up, the garbage collector is tuned for a worker (``tune_gc``).
    """
    configure_logging(logging.INFO)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        loaded = settings.load()
        holidays = install_from_env()  # before the flow counts any deadline
        conn, registry = start_checks(loaded.connect_wait_s)
    except CourtbusError as exc:
        log.error("%s", exc)
        sys.exit(2)
    log.log(*start_report(holidays, datetime.now(CHINA).date()))
    try:
        flow = make(Envelope(AvroCodec(SchemaSet.load(), registry)), loaded)
        sign_outputs(flow, loaded.signing_key)
        worker = Worker(flow, WorkerConfig.from_settings(conn, loaded))
        serve_metrics(worker, loaded.metrics_port, loaded.metrics_addr)
    except CourtbusError as exc:
        log.error("%s", exc)
        registry.close()
        sys.exit(2)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    if loaded.exits_with_parent:
        exit_with_parent(worker.stop)
    tune_gc()
    try:
        worker.run()
    except CourtbusError as exc:
        log.error("%s", exc)
        sys.exit(2)
    finally:
        registry.close()
