"""Warm restart of one gateway worker (state folder kept): how long its restore takes, and why.

On a private stack (one broker, memory registry): pre-load N valid requests over four court
outboxes (as ``bench.gateway`` does), run one ``python -m services.gateway`` until every record
is forwarded, stop it, then start it again on the same state folder, ``--restarts`` times.
Each restart's figures: the restore line the worker logs ("restored R changelog records for T
new task(s) in S s"), launch → that line (process start, group join and restore), and the
process's CPU seconds until then (from ``/proc``: on a loaded machine the CPU is the steadier
figure, the seconds are given with the load average beside them). Between restarts nothing is
written, so a restart should read nothing; ``behind`` says how far the tasks' checkpoints were
from the ends of their (shared) changelog partitions.

With ``--profile`` one more restart runs under cProfile and the top functions of its main
thread are printed. ``--json PATH`` writes the figures (``gateway_warm_restart_s`` is the
median logged restore time, ``gateway_warm_launch_to_restored_s`` the median launch → line).

``python -m bench.warm_restart [--records N] [--restarts K] [--profile] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import pstats
import statistics
import time
from pathlib import Path
from typing import Any

from bench import gateway as gw
from bench.common import (
    Bench,
    Service,
    add_json_option,
    load,
    private_stack,
    say,
    service_env,
    write_json,
)
from bench.report import GOALS

GOAL_S = GOALS["gateway_warm_restart_s"].target


def restart(
    bench: Bench, state_dir: Path, name: str, prefix: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Start a gateway worker on ``state_dir``, wait for its restore line, stop it."""
    tasks, behind = gw.behind(bench, state_dir)
    proc = Service("services.gateway", service_env(bench, state_dir), bench.home / f"{name}.log")
    proc.start(prefix)
    try:
        match = proc.wait_for(gw.RESTORED, timeout_s=300)
        wall = time.perf_counter() - proc.started
        cpu = proc.cpu_s()
    finally:
        proc.stop()
    records, opened, seconds = match.groups()
    return {
        "records": int(records),
        "tasks": int(opened),
        "seconds": float(seconds),
        "launch_to_restored_s": wall,
        "cpu_s": cpu,
        "behind": behind,
        "files": tasks,
        "load": load(),
    }


def profile_lines(path: Path, top: int = 25) -> list[str]:
    """The top functions of a cProfile file by cumulative and by own time."""
    stats = pstats.Stats(str(path))
    items = stats.stats.items()  # type: ignore[attr-defined]
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in stats.stats.values())  # type: ignore[attr-defined]
    lines = []
    for column, name in ((3, "cumulative"), (2, "own")):
        lines.append(f"-- top {top} by {name} time: calls, own s, cumulative s")
        entries = sorted(items, key=lambda kv: kv[1][column], reverse=True)
        shown = [(k, v) for k, v in entries if column == 2 or v[3] <= 0.9 * total][:top]
        for (file, line, func), (_cc, nc, tt, ct, _callers) in shown:
            where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if file != "~" else ""
            lines.append(f"  {nc:>8} {tt:7.2f} {ct:7.2f}  {where}({func})")
    return lines


def main() -> None:
    """Pre-load, run one worker to the end, restart it warm, print (and write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records to pre-load")
    parser.add_argument("--restarts", type=int, default=3, help="warm restarts to time")
    parser.add_argument("--profile", action="store_true", help="one more restart, profiled")
    add_json_option(parser)
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    profile: list[str] = []
    with private_stack() as bench:
        ends, _size = gw.preload(bench, args.records, "warm")
        state_dir = bench.home / "state"
        say(f"one gateway worker over {args.records:,} records")
        gw.run_workers(bench, 1, ends, state_dir)
        for i in range(args.restarts):
            say(f"warm restart {i + 1} of {args.restarts}")
            runs.append(restart(bench, state_dir, f"warm-{i}"))
        if args.profile:
            out = bench.home / "warm.prof"
            say("warm restart under cProfile")
            restart(bench, state_dir, "warm-prof", ("-m", "cProfile", "-o", str(out)))
            profile = profile_lines(out)
    print(
        f"gateway warm restart: 1 worker, state folder kept, {args.records:,} entries in "
        f"bus.gateway.seen.changelog, nothing written between restarts"
    )
    for i, r in enumerate(runs):
        print(
            f"  restart {i + 1}: restored {r['records']:,} records for {r['tasks']} tasks in "
            f"{r['seconds']:.2f} s (goal ≤ {GOAL_S:g} s); launch → restored "
            f"{r['launch_to_restored_s']:.2f} s, {r['cpu_s']:.2f} s CPU; checkpoints of "
            f"{r['files']} tasks were {r['behind']:,} records behind their partitions' "
            f"ends | {r['load']}"
        )
    for line in profile:
        print(line)
    if args.json is not None:
        write_json(
            args.json,
            {
                "gateway_warm_restart_s": statistics.median(r["seconds"] for r in runs),
                "gateway_warm_launch_to_restored_s": statistics.median(
                    r["launch_to_restored_s"] for r in runs
                ),
                "gateway_warm_restart_cpu_s": statistics.median(r["cpu_s"] for r in runs),
                "gateway_warm_restart_tasks": runs[0]["tasks"] if runs else 0,
                "gateway_warm_restart_records_preloaded": args.records,
                "runs": runs,
            },
        )


if __name__ == "__main__":
    main()
