"""The demo's services: the bus's services as child processes of ``make demo``, with the
deadlines shortened to seconds, each started in turn and stopped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from courtbus.app.demo_restriction import RESTRICTION_ENV
from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.config import Connection
from courtbus.errors import StackError
from courtbus.flows.registry import LiveSequence, registered
from courtbus.security.principals import service_principal

# how a service finds the bus: replaced in its environment by the demo's own settings
_CONNECTION_ENV = (
    "COURTBUS_BOOTSTRAP",
    "COURTBUS_REGISTRY_URL",
    "COURTBUS_SSL_",
    "COURTBUS_SASL_",
    "COURTBUS_REGISTRY_USERNAME",
    "COURTBUS_REGISTRY_PASSWORD",
    "COURTBUS_PRINCIPAL",
    "COURTBUS_STACK_HOME",
)


def _demo_services() -> tuple[str, ...]:
    """The gateway first, then each registered flow's service (``courtbus.flows``) in order
    (case status's, the watchdog, after the flows whose views it joins), the feed router after
    the first flow with an agency feed, the projector last."""
    flows = [s for s in registered() if s.service is not None]
    fed = [i for i, s in enumerate(flows) if s.view is not None and s.view.feed is not None]
    order: list[str] = ["gateway"]
    for i, spec in enumerate(flows):
        order.append(str(spec.service))
        if fed and i == fed[0]:
            order.append("feeds")
    if "feeds" not in order:
        order.append("feeds")
    return (*order, "projector")


SERVICES: Sequence[str] = LiveSequence(_demo_services)
SHORT_DEADLINES = "default: {start: 8s, report: 20s, warn_before: 4s}\n"
_PERSON = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
_FIRM = {"kind": "ORGANISATION", "name": "湛江某贸易有限公司", "id_number": FIRM_CODE}


@contextmanager
def running_services(
    conn: Connection, home: Path, store_url: str, *, secure: bool = False
) -> Iterator[None]:
    """The ``SERVICES`` as child processes, logs in ``home/logs``; stopped on exit. On a secure
    stack (``secure``) each runs as its own principal (``COURTBUS_PRINCIPAL=service.<name>``:
    the certificate the stack issued it), else on ``conn``'s plaintext bootstrap."""
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    deadlines = home / "demo-deadlines.yaml"
    deadlines.write_text(SHORT_DEADLINES)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CONNECTION_ENV)}
    env |= {
        "COURTBUS_DEADLINES": str(deadlines),
        "COURTBUS_TICK_SECONDS": "0.5",
        "COURTBUS_STORE_URL": store_url,
        "COURTBUS_STATE_DIR": str(home / "state"),
        "COURTBUS_METRICS_PORT": "0",
        **RESTRICTION_ENV,
    }
    if secure:
        env["COURTBUS_STACK_HOME"] = str(home)
    else:
        env |= {
            "COURTBUS_BOOTSTRAP": conn.bootstrap,
            "COURTBUS_REGISTRY_URL": conn.registry_url or "",
        }
    env["COURTBUS_EXIT_WITH_PARENT"] = "1"  # a demo killed outright takes its services along
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in SERVICES:
            log = logs / f"{name}.log"
            mark = log.read_text().count("consuming") if log.exists() else 0
            with log.open("ab") as fh:
                procs[name] = subprocess.Popen(
                    [sys.executable, "-m", f"services.{name}"],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env={**env, "COURTBUS_PRINCIPAL": service_principal(name)} if secure else env,
                )
            _wait(_started(log, mark), procs[name], f"{name} service", log)
        yield
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _started(log: Path, mark: int) -> Callable[[], bool]:
    """True once the log says the service is consuming (one more time than ``mark``)."""
    return lambda: log.read_text().count("consuming") > mark


def _wait(
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    what: str,
    log: Path,
    timeout_s: float = 60,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise StackError(f"{what} did not start; see {log}", code="SERVICE_START_FAILED")
        time.sleep(0.2)
