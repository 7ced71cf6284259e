"""``services.main.exit_with_parent`` (``COURTBUS_EXIT_WITH_PARENT``): a service the demo started stops when the demo is killed
outright (a test's timeout SIGKILLs the demo; its services used to run on, reparented)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from services.settings import ServiceSettings
from tests.integration.helpers import wait_until

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys, threading, time
from pathlib import Path
from services.main import exit_with_parent
from services.settings import ServiceSettings
done = threading.Event()
stop = lambda: (Path(sys.argv[1]).write_text("stopped"), done.set())
watching = exit_with_parent(stop, 0.05) if ServiceSettings.load().exits_with_parent else None
Path(sys.argv[1] + ".ready").write_text("yes" if watching else "no")
done.wait(60)
"""
PARENT = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdin=subprocess.DEVNULL)
sys.stdin.read()  # alive until the test kills it (or closes its stdin)
"""


def test_without_the_variable_nothing_watches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURTBUS_EXIT_WITH_PARENT", raising=False)
    assert not ServiceSettings.load().exits_with_parent
    monkeypatch.setenv("COURTBUS_EXIT_WITH_PARENT", "0")
    assert not ServiceSettings.load().exits_with_parent


def test_a_service_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    mark = tmp_path / "child"
    env = {**os.environ, "COURTBUS_EXIT_WITH_PARENT": "1", "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, str(mark)], env=env, stdin=subprocess.PIPE
    )
    try:
        ready = Path(f"{mark}.ready")
        wait_until(ready.exists, 30, "the child to start watching")
        assert ready.read_text() == "yes"
        assert not mark.exists()  # its parent is alive: nothing stopped
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        wait_until(mark.exists, 10, "the child to stop after its parent was killed")
        assert mark.read_text() == "stopped"
    finally:
        if parent.poll() is None:
            parent.kill()
