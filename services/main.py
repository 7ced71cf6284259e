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

from courtbus.catalogue.holidays import install_from_env, start_report
from courtbus.config import Connection, resolve
from courtbus.domain.calendar import CHINA
from courtbus.errors import ClusterError, ConfigError, CourtbusError, RegistryError
from courtbus.logs import configure_logging
from courtbus.runtime.config import WorkerConfig, tune_gc
from courtbus.runtime.flow import Flow
from courtbus.runtime.metrics import write_target
from courtbus.runtime.worker import Worker
from courtbus.security.keys import SIGNING_KEY_ENV, signer_for
from courtbus.security.signing import owner_of_source
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet

log = logging.getLogger("courtbus.service")

# How long a service waits at start for a cluster that is not up yet (a supervisor or compose
# file may start it first), asking once a second; ``COURTBUS_CONNECT_WAIT_S`` to change it.
CONNECT_WAIT_S = 60.0


def connect_wait_s() -> float:
    """``$COURTBUS_CONNECT_WAIT_S`` (seconds, 0 = no waiting, ``inf`` = forever) or 60.

    Raises:
        ConfigError: ``CONNECT_WAIT_INVALID``.
    """
    text = os.environ.get("COURTBUS_CONNECT_WAIT_S", "").strip()
    if not text:
        return CONNECT_WAIT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses NaN
        raise ConfigError(
            f"COURTBUS_CONNECT_WAIT_S {text!r} is not a number of seconds (0 or more, or inf)",
            code="CONNECT_WAIT_INVALID",
        )
    return value


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


def start_checks() -> tuple[Connection, RegistryClient]:
    """The connection and a registry client, once the cluster answers and the registry URL
    leads to a registry (a registry that is down only gets a warning: records wait for it).

    Raises:
        CourtbusError: ``BUS_NOT_CONFIGURED``, ``BOOTSTRAP_INVALID``,
            ``REGISTRY_NOT_CONFIGURED``, ``REGISTRY_URL_INVALID``, ``CONNECT_WAIT_INVALID``
            or ``CLUSTER_UNREACHABLE``.
    """
    conn = resolve()
    registry = RegistryClient(conn.require_registry(), http=conn.http_settings())
    try:
        wait_for_cluster(conn, connect_wait_s())
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


def sign_outputs(flow: Flow) -> None:
    """Sign every record the flow builds with the service's own key (``service.<name>``),
    read from the file ``$COURTBUS_SIGNING_KEY`` names; without it the records go unsigned.

    Raises:
        ConfigError: ``SIGNING_KEY_*`` (see ``courtbus.security.keys.signer_for``).
    """
    owner = owner_of_source(flow.source)
    if owner is None or not os.environ.get(SIGNING_KEY_ENV):
        return
    signer = signer_for(owner)
    flow.envelope.signer = signer
    log.info("%s signs what it writes with %s", flow.name, getattr(signer, "keyid", "?"))


def serve_metrics(worker: Worker) -> int | None:
    """Serve the worker's Prometheus metrics (``courtbus.runtime.metrics``) on
    ``$COURTBUS_METRICS_PORT`` (0: a free port, logged) at ``$COURTBUS_METRICS_ADDR`` (default
    127.0.0.1); no port, no server. The port served, or None.

    Raises:
        ConfigError: ``METRICS_PORT_INVALID`` (not a port number, or it cannot be bound).
    """
    text = os.environ.get("COURTBUS_METRICS_PORT", "").strip()
    if not text:
        return None
    addr = os.environ.get("COURTBUS_METRICS_ADDR", "").strip() or "127.0.0.1"
    try:
        port = int(text)
        if not 0 <= port <= 65535:
            raise ValueError(text)
        bound = worker.metrics.serve(port, addr)
    except (ValueError, OSError) as exc:
        raise ConfigError(
            f"COURTBUS_METRICS_PORT {text!r} on {addr}: {exc}", code="METRICS_PORT_INVALID"
        ) from exc
    try:  # for `courtbus metrics targets` and Prometheus's file_sd; removed at exit
        path = write_target(worker.config.state_dir, worker.flow.name, addr, bound)
        atexit.register(path.unlink, missing_ok=True)
    except OSError as exc:
        log.warning("metrics served on port %d, but not listed in the state folder: %s", bound, exc)
    return bound


EXIT_WITH_PARENT_ENV = "COURTBUS_EXIT_WITH_PARENT"


def exit_with_parent(stop: Callable[[], None], every_s: float = 1.0) -> threading.Thread | None:
    """With ``$COURTBUS_EXIT_WITH_PARENT`` set (to anything but empty or ``0``), call ``stop``
    once the process that started this one is gone (its parent pid changes: it was reparented),
    looking every ``every_s``. For services a parent runs for its own life, such as the demo's:
    a demo killed outright (SIGKILL, a test's timeout) must not leave them running. The thread
    (a daemon), or None when the variable is not set."""
    if os.environ.get(EXIT_WITH_PARENT_ENV, "").strip() in ("", "0"):
        return None
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)  # a poll of the parent pid: there is no event to wait on
        log.warning("the process that started this service (pid %d) is gone; stopping", parent)
        stop()

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def run_service(make: Callable[[Envelope], Flow]) -> None:
    """Run one worker of a flow until SIGTERM/SIGINT.

    Environment: ``COURTBUS_BOOTSTRAP``, ``COURTBUS_REGISTRY_URL`` (or the local stack),
    ``COURTBUS_HOLIDAYS`` (the operator's holiday schedules; logged at start, with a warning
    when the coming months have no holiday data), ``COURTBUS_CONNECT_WAIT_S`` (see
    ``wait_for_cluster``), and the runtime's settings (``COURTBUS_STATE_DIR``,
    ``COURTBUS_INSTANCE``, ``COURTBUS_TICK_SECONDS``, ...: see ``WorkerConfig.from_env``),
    ``COURTBUS_SIGNING_KEY`` (the service's private key: ``sign_outputs``),
    ``COURTBUS_METRICS_PORT`` (``serve_metrics``), ``COURTBUS_EXIT_WITH_PARENT``
    (``exit_with_parent``). A
    configuration error or a cluster that does not come up is one logged line and exit code 2.
    ``kill -USR1 <pid>`` writes every thread's stack to the service's stderr (a stuck worker).
    Once set up, the garbage collector is tuned for a worker (``tune_gc``).
    """
    configure_logging(logging.INFO)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        holidays = install_from_env()  # before the flow counts any deadline
        conn, registry = start_checks()
    except CourtbusError as exc:
        log.error("%s", exc)
        sys.exit(2)
    log.log(*start_report(holidays, datetime.now(CHINA).date()))
    try:
        flow = make(Envelope(AvroCodec(SchemaSet.load(), registry)))
        sign_outputs(flow)
    except CourtbusError as exc:
        log.error("%s", exc)
        registry.close()
        sys.exit(2)
    try:
        worker = Worker(flow, WorkerConfig.from_env(conn))
        serve_metrics(worker)
    except CourtbusError as exc:
        log.error("%s", exc)
        registry.close()
        sys.exit(2)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    exit_with_parent(worker.stop)
    tune_gc()
    try:
        worker.run()
    except CourtbusError as exc:
        log.error("%s", exc)
        sys.exit(2)
    finally:
        registry.close()
