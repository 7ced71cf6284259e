"""The gateway's own CPU per record, with no broker: the flow, the engine and the task state.

What ``bench.gateway`` measures through Kafka less the client: N valid ``DelegationRequested``
records like that bench's (four courts, 1,000 debtors), encoded once, then fed in batches of
``--batch`` records per task through the worker's code path without its client: ``Engine.handle``
(with an ``OutputCheck`` over a fixed topic list, as the worker has), ``GatewayFlow.on_event``
(every check, the decode, the dedup lookup and put), then the batch's changelog records as
the worker builds them (``Changelogs.record``) and the commit to the task's SQLite file, with
the collector tuned as a service tunes it (``courtbus.runtime.config.tune_gc``).

``--signed``: every record is also signed by its court's Ed25519 key (the CloudEvents
verifiability extension, ``courtbus.security.signing``) and the gateway requires and verifies
the signatures; the same records are then measured unsigned and signed in one run, side by
side (``checks_cpu_us_per_record`` and ``checks_signed_cpu_us_per_record``).

Figures: CPU time of this process per record (``time.process_time``: the main figure on a
loaded machine; the least of ``--repeat`` runs) and records/s of wall time with the load
average beside it. ``--profile``
prints cProfile's top functions (by ``$BENCH_PROFILE_SORT``, default tottime; e.g. cumulative);
``--json PATH`` writes the figures.
``python -m bench.gateway_checks [N] [--batch 500] [--repeat 3] [--signed] [--profile]
[--json PATH]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import add_json_option, load, write_json
from bench.gateway import court_keys, requests
from bench.report import GOALS
from courtbus.bus.records import KeptRecord, Output
from courtbus.config import Connection
from courtbus.gateway import SignaturePolicy
from courtbus.runtime.changelogs import Changelogs, TaskId
from courtbus.runtime.config import WorkerConfig, tune_gc
from courtbus.runtime.engine import Engine
from courtbus.runtime.harness import memory_envelope
from courtbus.runtime.outputs import OutputCheck
from courtbus.runtime.sqlite import SqliteBackend
from courtbus.runtime.state import State
from courtbus.security.signing import Signer
from courtbus.wire.envelope import Envelope
from services.gateway.flow import GatewayFlow

GOAL_US = GOALS["gateway_cpu_us_per_record"].target  # all told; the checks are a part of it
SORT = os.environ.get("BENCH_PROFILE_SORT", "tottime")


def records(
    envelope: Envelope, count: int, tag: str = "b", signers: dict[str, Signer] | None = None
) -> list[KeptRecord]:
    """``count`` valid requests round-robin over the bench's outbox partitions, with offsets;
    with ``signers`` (by outbox topic) each is signed by its court's key."""
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for partition, built in requests(envelope, count, tag):
        offset = offsets.get((built.topic, partition), 0)
        offsets[(built.topic, partition)] = offset + 1
        headers = built.headers
        if signers is not None:
            headers = signers[built.topic](headers, built.value)
        out.append(KeptRecord(built.topic, partition, offset, built.key, built.value, headers))
    return out


def run(
    count: int,
    batch: int,
    state_dir: Path,
    profile: cProfile.Profile | None = None,
    *,
    signed: bool = False,
) -> dict[str, Any]:
    """Feed ``count`` records in batches; the figures (``profile``: on while they are fed).
    ``signed``: the records signed, the gateway requiring and verifying signatures."""
    envelope = memory_envelope()
    state_dir.mkdir(parents=True, exist_ok=True)
    signers: dict[str, Signer] | None = None
    if signed:
        keys_file, signers = court_keys(state_dir)
        flow = GatewayFlow(
            envelope, keys_file=keys_file, signatures=SignaturePolicy(required=True, helpers=0)
        )
    else:
        flow = GatewayFlow(envelope, keys_file=state_dir / "no-keys.yaml")
    config = WorkerConfig(Connection("localhost:9092", None), state_dir)
    changelogs = Changelogs(flow, config)
    topics = {"bus.delegation.events", "bus.deadletter", "bus.alerts"}
    engine = Engine(flow, check=OutputCheck(lambda: topics))
    inputs = records(envelope, count, signers=signers)
    by_task: dict[TaskId, list[KeptRecord]] = {}
    for rec in inputs:
        by_task.setdefault(TaskId(rec.partition, rec.topic), []).append(rec)
    states = {
        t: State(
            t.name, SqliteBackend(state_dir / f"{t.name}.sqlite", changelogs.stores), flow.stores
        )
        for t in by_task
    }
    forwarded = 0
    sends = 0
    if profile is not None:
        profile.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    # interleave the tasks' batches as a worker's polls would
    cursor = {t: 0 for t in by_task}
    while any(cursor[t] < len(rs) for t, rs in by_task.items()):
        for task, recs in by_task.items():
            chunk = recs[cursor[task] : cursor[task] + batch]
            if not chunk:
                continue
            cursor[task] += len(chunk)
            state = states[task]
            outputs: list[Output] = []
            flow.begin_batch()
            outputs += engine.handle_all(chunk, state)
            flow.end_batch()
            changes = state.changes()
            for (store, key), entry in changes.items():
                changelogs.record(task, store, key, entry)
            sends += len(outputs) + len(changes)
            forwarded += sum(1 for o in outputs if o.topic == "bus.delegation.events")
            state.committed({"seen": cursor[task]})
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    if profile is not None:
        profile.disable()
    for state in states.values():
        state.backend.close()
    if forwarded != count:
        raise SystemExit(f"forwarded {forwarded} of {count}: the records are not all valid")
    if signed and flow.verified != count:
        raise SystemExit(f"verified {flow.verified} of {count} signatures")
    prefix = "checks_signed" if signed else "checks"
    return {
        "checks_records": count,
        "checks_batch": batch,
        f"{prefix}_cpu_us_per_record": round(cpu / count * 1e6, 2),
        f"{prefix}_rec_s": round(count / wall),
        "checks_sends_per_record": round(sends / count, 3),
        "load": load(),
    }


def main() -> None:
    """Run the bench and print (and optionally write) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500, help="records per task per batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the least CPU is shown")
    parser.add_argument(
        "--signed",
        action="store_true",
        help="also measure signed records, verified (beside unsigned)",
    )
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    add_json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gw-checks-") as tmp:
        run(min(args.n, 2_000), args.batch, Path(tmp) / "warm")  # imports, schema caches
        tune_gc()  # as a service does once set up
        prof = cProfile.Profile() if args.profile else None
        runs = [run(args.n, args.batch, Path(tmp) / f"run{i}", prof) for i in range(args.repeat)]
        figures = min(runs, key=lambda f: float(f["checks_cpu_us_per_record"]))
        figures["checks_cpu_us_per_record_runs"] = [f["checks_cpu_us_per_record"] for f in runs]
        if args.signed:
            run(min(args.n, 2_000), args.batch, Path(tmp) / "warm-signed", signed=True)
            signed = [
                run(args.n, args.batch, Path(tmp) / f"signed{i}", prof, signed=True)
                for i in range(args.repeat)
            ]
            key = "checks_signed_cpu_us_per_record"
            best = min(signed, key=lambda f: float(f[key]))
            figures[key] = best[key]
            figures["checks_signed_rec_s"] = best["checks_signed_rec_s"]
            figures[key + "_runs"] = [f[key] for f in signed]
            figures["checks_signed_share"] = round(
                float(figures["checks_cpu_us_per_record"]) / float(best[key]), 3
            )
        if prof is not None:
            stats = pstats.Stats(prof, stream=sys.stdout).sort_stats(SORT)
            stats.print_stats(25)
    print(
        f"gateway checks, no broker: {figures['checks_cpu_us_per_record']} µs CPU/record "
        f"(goal for everything: ≤ {GOAL_US:.0f}), {figures['checks_rec_s']:,} rec/s "
        f"[{figures['load']}], {figures['checks_sends_per_record']} sends/record "
        f"(outputs + changelog records), N={args.n:,}, batch {args.batch}/task"
    )
    if args.signed:
        print(
            f"with signatures verified: {figures['checks_signed_cpu_us_per_record']} µs "
            f"CPU/record, {figures['checks_signed_rec_s']:,} rec/s: unsigned/signed CPU = "
            f"{figures['checks_signed_share']:.0%} (the gateway's own share of the ≥ 85% "
            "throughput goal)"
        )
    if args.profile:
        print("(under cProfile: the CPU figure above includes the profiler's overhead)")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
