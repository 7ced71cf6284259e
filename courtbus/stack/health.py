"""Readiness of the stack's processes: waiting for brokers, the cluster and the registry; status."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from courtbus.errors import StackError
from courtbus.security.principals import node_principal
from courtbus.stack.layout import StackConfig, StackState, config_from_state
from courtbus.stack.processes import ProcessRecord, log_tail, port_open


def started_count(log: Path) -> int:
    """How many times a broker log says the broker finished starting."""
    try:
        return log.read_bytes().count(b"Kafka Server started")
    except OSError:
        return 0


def wait(what: str, rec: ProcessRecord, ready: Callable[[], bool], timeout_s: float) -> None:
    """Poll ``ready`` until it holds, failing fast if the process ``rec`` exits.

    Raises:
        StackError: ``STACK_START_FAILED`` if it exited, ``STACK_START_TIMEOUT`` after timeout.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if not rec.alive():
            raise StackError(
                f"{what} exited during start-up; last lines of {rec.log}:\n"
                f"{log_tail(Path(rec.log))}",
                code="STACK_START_FAILED",
            )
        time.sleep(0.25)
    raise StackError(
        f"{what} not ready within {timeout_s:.0f}s; see {rec.log}",
        code="STACK_START_TIMEOUT",
    )


def wait_broker(config: StackConfig, node: int, rec: ProcessRecord, marks: int) -> None:
    """Wait until broker ``node`` logs a start beyond the ``marks`` it had and takes clients.

    Raises:
        StackError: the broker exited or did not start in time.
    """
    log = Path(rec.log)

    def ready() -> bool:
        return started_count(log) > marks and port_open(config.client_port(node))

    wait(f"broker {node}", rec, ready, config.start_timeout_s)


def wait_cluster(config: StackConfig, state: StackState) -> None:
    """Wait until every broker of ``state`` is registered in the cluster metadata.

    Raises:
        StackError: ``STACK_START_TIMEOUT``.
    """
    from kafka import KafkaAdminClient

    # a node's own identity: the operator's ACLs are granted only once the cluster formed
    settings = state.client_settings(node_principal(1)) if state.pki else state.client_settings()
    deadline = time.monotonic() + config.start_timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(**settings, request_timeout_ms=5000)
            try:
                brokers = admin.describe_cluster()["brokers"]
            finally:
                admin.close()
            if len(brokers) == state.nodes:
                return
            last = f"{len(brokers)} of {state.nodes} brokers registered"
        except Exception as exc:  # broker still settling: retry until the deadline
            last = exc
        time.sleep(0.5)
    raise StackError(f"cluster did not form in time: {last}", code="STACK_START_TIMEOUT")


def wait_registry(
    config: StackConfig, rec: ProcessRecord, http: dict[str, Any] | None = None
) -> None:
    """Wait until the schema registry answers its subjects listing (``http``: the TLS and
    credentials of ``Connection.http_settings``, on a secure stack).

    Raises:
        StackError: the registry exited or did not start in time.
    """
    url = f"{config.registry_url}/subjects"

    def ready() -> bool:
        try:
            with httpx.Client(timeout=2, **(http or {})) as client:
                return client.get(url).status_code == 200
        except httpx.HTTPError:
            return False

    wait("schema registry", rec, ready, config.start_timeout_s)


def status(home: Path, state: StackState | None) -> list[tuple[str, str, str]]:
    """(process, endpoint, up/down) for each process recorded in ``state``; empty if none."""
    if state is None:
        return []
    rows = []
    for node, rec in enumerate(state.brokers, start=1):
        endpoint = f"127.0.0.1:{config_from_state(home, state).client_port(node)}"
        rows.append((rec.name, endpoint, "up" if rec.alive() else "down"))
    if state.registry is not None:
        up = "up" if state.registry.alive() else "down"
        rows.append(("registry", state.registry_url or "", up))
    return rows
