"""``courtbus serve <name>`` stops on SIGTERM and SIGINT, leaving no service process behind.

The command execs the service on POSIX (the CLI's process becomes ``python -m services.<name>``),
so the signal reaches the worker itself: it finishes its batch, leaves its group and exits 0.
Every process of the machine whose environment holds this run's state folder is looked for
afterwards: none may be left (an orphan reparented to init would keep consuming).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from courtbus.app import ops
from courtbus.config import Connection
from tests.integration.helpers import ServiceProcess, wait_until

pytestmark = pytest.mark.integration


def _processes_with(marker: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_courtbus_serve_stops_on_a_signal_and_leaves_no_process(
    conn: Connection, registered: dict[str, int], tmp_path: Path, sig: signal.Signals
) -> None:
    ops.apply_topics(conn, ops.plan_topics(conn))
    group = f"serve-signal-{sig.name.lower()}-{tmp_path.name}"
    service = ServiceProcess(
        "services.watchdog", conn, tmp_path / "watchdog.log", f"{group} consuming",
        env={"COURTBUS_GROUP": group}, assigned=f"{group} restored",
        command=[sys.executable, "-m", "courtbus", "serve", "watchdog"],
    )  # fmt: skip
    marker = str(tmp_path / "state")  # COURTBUS_STATE_DIR of this run only
    service.start(timeout_s=90)
    assert service.proc is not None
    assert _processes_with(marker) == [service.proc.pid]  # exec'd: one process, the service
    service.proc.send_signal(sig)
    assert service.proc.wait(timeout=60) == 0, service.log_text()[-2000:]
    wait_until(lambda: not _processes_with(marker), 10, lambda: str(_processes_with(marker)))
    assert "Traceback" not in service.log_text()
