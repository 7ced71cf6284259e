"""Run every bench and print one table: each figure, Kafka's own in the same run, the goal.

``python -m bench`` (``make bench``) runs each bench of ``BENCHES`` in its short mode, one
after the other, each as ``python -m bench.<name> … --json <run folder>/<name>.json`` with its
output in ``<name>.out`` (the figures it prints) and ``<name>.log`` (its progress and errors).
A bench that fails or passes its time limit is marked failed and the next one runs; the exit
status is then 1. ``--full`` (``make bench-full``) runs the long variants instead: the 8.6 M
list for the bootstrap, the restores and the listing → ban load, the benches' default sizes
for the others (hours, ~12 GB of disk).

At the end: one JSON file of every bench's figures (``bench.report.merge``: the figures flat,
each bench's status and own figures, the table's rows), by default in the run folder,
``--json PATH`` elsewhere; and the table (``bench.report``): each figure, Kafka's figure
measured by the same bench on the same stack (ProducerPerformance, EndToEndLatency,
ConsumerPerformance), the ratio of the two, the goal of issue 17 and whether it is met, and
the mean 1-minute load average while that bench ran (2 cores: the figures depend on it; read
the CPU per record first).

Each bench's temporary folders (its stacks) go to ``<run folder>/scratch/<name>``: stacks a
killed bench left running there are stopped, and the folder is deleted afterwards (``--keep``:
kept). ``--only``/``--skip`` take bench names; ``--list`` prints them with their arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bench.common import REPO, write_json
from bench.report import FIGURES, BenchResult, as_json, merge, render, table_rows
from courtbus.stack import control
from courtbus.stack.layout import state_file


@dataclass(frozen=True)
class Spec:
    """A bench as the runner starts it: arguments and time limit, short and full."""

    name: str
    short: tuple[str, ...]
    full: tuple[str, ...]
    timeout_s: float
    full_timeout_s: float

    def args(self, full: bool) -> tuple[str, ...]:
        """The bench's arguments in this mode (``--json`` is added by the runner)."""
        return self.full if full else self.short


# In the order they run: quick ones first. Short mode sizes fit ~15 minutes on a quiet
# 2-core machine, the 1 M-entry mirror bootstrap included.
BENCHES: tuple[Spec, ...] = (
    Spec("gateway_checks", ("20000", "--repeat", "3"), (), 300, 900),
    Spec("synth_blacklist", ("--count", "200000", "--encode"), ("--encode",), 300, 900),
    Spec("produce", ("50000",), (), 600, 900),
    Spec(
        "gateway", ("40000", "--no-warm-restart", "--no-profile"), ("--no-warm-restart",), 900, 2400
    ),
    Spec("warm_restart", ("--records", "20000", "--restarts", "3"), (), 600, 900),
    Spec("latency", ("--loads", "100:20,1000:15", "--warmup", "20"), (), 600, 900),
    Spec("restriction_latency", ("--seconds", "15", "--warmup", "15"), (), 600, 900),
    Spec("projector", ("--rates", "100:20,1000:10"), (), 900, 1200),
    Spec("blacklist_bootstrap", (), ("--full",), 1200, 3 * 3600),
    Spec("blacklist_restore", ("--entries", "200000"), ("--full",), 900, 4 * 3600),
    Spec("restore", ("--entries", "200000"), ("--full",), 900, 4 * 3600),
    Spec("national_directory", ("--records", "10000"), (), 900, 2400),
    Spec("web_ingress", ("--records", "3000"), (), 600, 900),
    Spec(
        "listing_bans",
        ("--entries", "20000", "--timeout", "600"),
        ("--entries", "8600000", "--timeout", str(6 * 3600)),
        900,
        6 * 3600 + 900,
    ),
)

STOP_GRACE_S = 120  # after SIGINT, the bench stops its services and stack (finally blocks)


def _tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` non-empty lines of a file (none if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [ln for ln in text.splitlines() if ln.strip()][-lines:]


def _stop_left_stacks(scratch: Path) -> list[str]:
    """Stop any stack a bench left running in ``scratch`` (a stack's home is a folder of the
    bench's temporary folder); the homes stopped."""
    stopped = []
    for found in scratch.glob(f"*/{state_file(Path()).name}"):
        try:
            if control.down(found.parent):
                stopped.append(str(found.parent))
        except (OSError, ValueError, KeyError, TypeError):  # not a stack's state file
            continue
    return stopped


def _keep_logs(scratch: Path, into: Path) -> None:
    """Copy the ``*.log`` files under ``scratch`` (brokers', registry's, services') to ``into``,
    keeping their paths: a failed bench's scratch folder is deleted, its data can be large."""
    for log in scratch.rglob("*.log"):
        if log.is_file():
            target = into / log.relative_to(scratch)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(log, target)


def _group(pgid: int) -> list[str]:
    """The command lines of the live processes of group ``pgid`` (from ``/proc``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        found.append(cmd)
    return found


def _reap_group(pgid: int, grace_s: float = 10) -> list[str]:
    """Stop what is left of a finished bench's process group after ``grace_s`` (the
    multiprocessing resource tracker ends by itself just after the bench): services it started
    and did not stop, e.g. when it was killed. SIGTERM, SIGKILL after 30 s. What was left."""
    deadline = time.monotonic() + grace_s
    while (left := _group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not left:
        return []
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _group(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group(pgid):
        os.killpg(pgid, signal.SIGKILL)
    return left


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT the bench (it stops what it started), SIGKILL its process group if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Runner:
    """Runs the benches one after another into ``folder``, showing progress on ``console``."""

    def __init__(self, folder: Path, full: bool, console: Console, keep: bool) -> None:
        self.folder, self.full, self.console, self.keep = folder, full, console, keep
        self.interrupted = False

    def run_one(self, spec: Spec, progress: Progress, task: Any) -> BenchResult:
        """Run one bench to its end or its time limit; its result."""
        out, log = self.folder / f"{spec.name}.out", self.folder / f"{spec.name}.log"
        figures_path = self.folder / f"{spec.name}.json"
        scratch = self.folder / "scratch" / spec.name
        scratch.mkdir(parents=True, exist_ok=True)
        # mkdtemp makes folders 0700; the bench's throw-away PostgreSQL (tests.pg) runs as the
        # postgres user, which must get through them to its own folder in the scratch folder
        for path in (self.folder, scratch.parent, scratch):
            path.chmod(0o755)
        cmd = [
            sys.executable,
            "-m",
            f"bench.{spec.name}",
            *spec.args(self.full),
            "--json",
            str(figures_path),
        ]
        limit = spec.full_timeout_s if self.full else spec.timeout_s
        env = {**os.environ, "TMPDIR": str(scratch), "PYTHONUNBUFFERED": "1"}
        loads: list[float] = []
        began = time.monotonic()
        error = ""
        with out.open("wb") as stdout, log.open("wb") as stderr:
            proc = subprocess.Popen(
                cmd, stdout=stdout, stderr=stderr, cwd=REPO, env=env, start_new_session=True
            )
            try:
                while proc.poll() is None:
                    loads.append(os.getloadavg()[0])
                    last = _tail(log, 1)
                    note = last[0].strip()[:90] if last else "starting"
                    progress.update(task, description=f"[bold]{spec.name}[/]: {escape(note)}")
                    if time.monotonic() - began > limit:
                        error = f"passed its time limit of {limit:.0f} s"
                        _stop(proc)
                        break
                    time.sleep(0.5)
            except KeyboardInterrupt:
                self.interrupted = True
                error = "interrupted"
                progress.update(task, description=f"[bold]{spec.name}[/]: stopping (interrupted)")
                _stop(proc)
        seconds = time.monotonic() - began
        code = None if error else proc.returncode
        if code is not None and code < 0:
            error = f"killed by {signal.Signals(-code).name}"
        elif code:
            error = f"exit status {code}"
        if left_running := _reap_group(proc.pid):
            names = ", ".join(cmd[-60:] for cmd in left_running)
            error += f"; stopped the {len(left_running)} processes it left running: {names}"
        left = _stop_left_stacks(scratch)
        if left:
            error += f"; stopped the stack(s) it left running in {', '.join(left)}"
        if error:
            _keep_logs(scratch, self.folder / f"{spec.name}-logs")
        if not self.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        figures: dict[str, Any] = {}
        if figures_path.exists():
            try:
                figures = json.loads(figures_path.read_text(encoding="utf-8"))
            except ValueError as exc:
                error = error or f"its JSON could not be read: {exc}"
        elif not error:
            error = "wrote no JSON"
        mean = sum(loads) / len(loads) if loads else None
        return BenchResult(
            spec.name, cmd, code, seconds, figures, error.lstrip("; "), str(log), mean
        )

    def run(self, specs: Sequence[Spec]) -> list[BenchResult]:
        """Run ``specs`` in order (stopping after an interrupt); their results."""
        results: list[BenchResult] = []
        columns = (
            SpinnerColumn(),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
        )
        with Progress(*columns, console=self.console) as progress:
            task = progress.add_task("starting", total=len(specs))
            for spec in specs:
                result = self.run_one(spec, progress, task)
                results.append(result)
                progress.advance(task)
                progress.update(task, description=f"{spec.name}: done")
                self.report(result, progress.console)
                if self.interrupted:
                    break
        return results

    def report(self, r: BenchResult, console: Console) -> None:
        """One line for a finished bench (and the end of its log if it failed)."""
        took = f"{r.seconds // 60:.0f} min {r.seconds % 60:02.0f} s"
        load = f"load {r.load:.1f}" if r.load is not None else ""
        if r.ok:
            console.print(f"[green]✓[/] {r.name}: {len(r.figures)} figures in {took}, {load}")
            return
        console.print(
            f"[red]✗ {r.name} failed[/] ({escape(r.error)}) after {took}, {load}; "
            f"its output: {self.folder / r.name}.out, .log, -logs/"
        )
        for line in _tail(Path(r.log), 8):
            console.print(f"    [dim]{escape(line)}[/]", highlight=False)


def _git() -> str:
    """The commit benchmarked (with ``+changes`` if the work tree differs from it)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            text=True,
            capture_output=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def _memory_gib() -> float:
    """The machine's memory in GiB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def select(names_only: str | None, names_skip: str | None) -> list[Spec]:
    """``BENCHES`` less those not in ``--only`` or in ``--skip`` (comma-separated names).

    Raises:
        SystemExit: a name that is no bench.
    """
    known = {s.name for s in BENCHES}
    only = set(names_only.split(",")) if names_only else known
    skip = set(names_skip.split(",")) if names_skip else set()
    unknown = (only | skip) - known
    if unknown:
        raise SystemExit(
            f"no such bench: {', '.join(sorted(unknown))} "
            f"(benches: {', '.join(s.name for s in BENCHES)})"
        )
    return [s for s in BENCHES if s.name in only and s.name not in skip]


def main() -> None:
    """Run the benches, write the merged JSON, print the table; exit 1 if a bench failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the long variants (make bench-full)")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the merged figures here (default: in the run folder)",
    )
    parser.add_argument("--only", default=None, help="only these benches (comma-separated)")
    parser.add_argument("--skip", default=None, help="not these benches (comma-separated)")
    parser.add_argument("--keep", action="store_true", help="keep the benches' scratch folders")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    args = parser.parse_args()
    specs = select(args.only, args.skip)
    console = Console(width=None if sys.stdout.isatty() else 200)
    if args.list:
        for s in specs:
            limit = s.full_timeout_s if args.full else s.timeout_s
            console.print(
                f"{s.name:<20} python -m bench.{s.name} {' '.join(s.args(args.full))} "
                f"(time limit {limit:.0f} s)",
                highlight=False,
            )
        return
    folder = Path(tempfile.mkdtemp(prefix="courtbus-bench-run-"))
    target = args.json or folder / "figures.json"
    mode = "make bench-full" if args.full else "make bench"
    started, load_start = time.time(), os.getloadavg()
    console.print(
        f"{mode}: {len(specs)} benches, output in {folder}, figures to {target}", highlight=False
    )
    runner = Runner(folder, args.full, console, args.keep)
    results = runner.run(specs)
    chosen = {s.name for s in specs}  # rows of benches left out by --only/--skip are not shown
    rows = table_rows(results, args.full, [f for f in FIGURES if f.bench in chosen])
    document = merge(results)
    failed = [r.name for r in results if not r.ok]
    cores, memory = os.cpu_count(), _memory_gib()
    document["run"] = {
        "mode": mode,
        "full": args.full,
        "commit": _git(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "cores": cores,
        "memory_gib": round(memory, 1),
        "load_at_start": load_start,
        "load_at_end": os.getloadavg(),
        "folder": str(folder),
        "failed": failed,
        "interrupted": runner.interrupted,
    }
    document["table"] = as_json(rows)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(target, document, add_load=False)
    one, _five, _fifteen = os.getloadavg()
    title = (
        f"{mode} at {document['run']['commit']}, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{cores} cores, {memory:.0f} GiB; load {load_start[0]:.1f} at the start, {one:.1f} "
        f"at the end; {len(results) - len(failed)} of {len(specs)} benches ran"
    )
    console.print()
    console.print(render(rows, title))
    console.print(f"figures: {target}", highlight=False)
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/] (their output is in {folder})")
    if runner.interrupted:
        sys.exit(130)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
