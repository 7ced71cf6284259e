"""Start, identify and stop the local stack's JVM processes.

A process is identified by pid *and* its start time from ``/proc``, so a recycled pid is
never signalled: ``stack down`` stops exactly the processes ``stack up`` started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from courtbus.errors import StackError
from courtbus.stack import artifacts


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """A started process: what ``state.json`` remembers of it."""

    name: str
    pid: int
    start_ticks: int
    log: str

    def alive(self) -> bool:
        """True while this very process (same pid, same start time) runs and is no zombie."""
        stat = _proc_stat(self.pid)
        return stat is not None and stat[1] == self.start_ticks and stat[0] != "Z"


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) of a pid, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def java_command(classpath: Path, heap: str, *, log_config: Path, logs_dir: Path) -> list[str]:
    """The ``java`` command line, up to the main class, for a Kafka JVM on ``classpath``'s jars."""
    return [
        artifacts.require_tool("java"),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={log_config}",
        f"-Dkafka.logs.dir={logs_dir}",
        "-cp",
        f"{classpath}/*",
    ]


def spawn(name: str, cmd: Sequence[str], log: Path, cwd: Path | None = None) -> ProcessRecord:
    """Start ``cmd`` detached (own session), stdout and stderr appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
    stat = _proc_stat(proc.pid)
    if stat is None:
        raise StackError(f"{name} exited at once; see {log}", code="STACK_START_FAILED")
    return ProcessRecord(name, proc.pid, stat[1], str(log))


def stop(records: Sequence[ProcessRecord], timeout_s: float = 30.0, *, kill: bool = False) -> None:
    """Stop processes: SIGTERM (or SIGKILL if ``kill``), then SIGKILL whatever outlives timeout."""
    first = signal.SIGKILL if kill else signal.SIGTERM
    live = [r for r in records if r.alive()]
    for rec in live:
        _signal(rec, first)
    deadline = time.monotonic() + timeout_s
    while live and time.monotonic() < deadline:
        _reap()
        live = [r for r in live if r.alive()]
        time.sleep(0.2)
    for rec in live:
        _signal(rec, signal.SIGKILL)
    end = time.monotonic() + 10
    while any(r.alive() for r in live) and time.monotonic() < end:
        _reap()
        time.sleep(0.1)


def _signal(rec: ProcessRecord, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(rec.pid, sig)


def _reap() -> None:
    """Collect exited children of this process, so they do not linger as zombies."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def log_contains(log: Path, needle: str) -> bool:
    """True once ``needle`` appears in a log file."""
    try:
        with log.open("rb") as fh:
            return needle.encode() in fh.read()
    except OSError:
        return False


def log_tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log, for error messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
