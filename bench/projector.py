"""The projector's CPU and the rate it applies, at set input rates, on SQLite and PostgreSQL.

For each database, on a fresh private stack (one broker, memory registry): start the real
``python -m services.projector`` (one worker, its own consumer group, a new database: a
SQLite file, or a throw-away PostgreSQL cluster from ``tests.pg`` with fsync off), then
offer records at each rate for N seconds, open loop, with a plain acks=all producer straight
onto the projector's input topics: what the bus sends it for each delegation (the court's
``DelegationRequested``, the bus's ``DelegationDecided`` on it, the bus's
``DelegationDelivered`` receipt and the ``DelegationDecided`` on that, on
``bus.delegation.events``), and one ``BlacklistEntry`` of the view ``blacklist.entries``: five
input records per delegation. A record counts as applied when its row is in the database
(``events`` by ce_id, ``blacklist_entries`` by entry id), read every 0.1 s.

Printed per rate: the projector's CPU (user + system, all threads, from ``/proc``) per input
record and in cores (from the first send until the last row is in), the rate it applied
(records over that time), how long after the last send it caught up, and the load average
(the machine is shared: the CPU per record is the figure to compare, the rates depend on
the load). Before the load, the projector's idle CPU over 10 s. Beside them, Kafka's own
ConsumerPerformance reading the same ``bus.delegation.events`` records on the same stack.

``python -m bench.projector [--db sqlite|postgresql|both] [--rates 100:30,1000:20]
[--profile] [--json PATH]``. ``--profile`` runs the projector under cProfile and prints its
top functions (the figures are then the profiler's, slower).
"""

from __future__ import annotations

import argparse
import pstats
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import create_engine, text

from bench.common import (
    Bench,
    Service,
    add_json_option,
    consumer_performance,
    load,
    paced,
    private_stack,
    say,
    service_env,
    write_json,
)
from bench.report import GOALS
from courtbus.app.samples import one_per_flow
from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.synth.blacklist import entry_payloads
from courtbus.wire import values as v
from courtbus.wire.client import make_envelope
from courtbus.wire.envelope import Envelope, OutgoingRecord

GROUP = "projector-bench"
EVENTS = "bus.delegation.events"
VIEW = BLACKLIST_VIEW
NS = "cn.court.bus.delegation."
PER_UNIT = 5  # input records per delegation (4 on EVENTS, 1 on VIEW)
GOAL_CORES_100 = GOALS["projector_cores_sqlite_100"].target  # cores at 100 records/s
IDLE_S = 10.0


def decided(
    did: str, about: OutgoingRecord, step: str, state: str, by: str | None, delivered: Any = None
) -> dict[str, Any]:
    """The delegation service's ``DelegationDecided`` on ``about`` (applied)."""
    return {
        "delegation_id": did,
        "step": step,
        "decided_event_id": about.event.id,
        "applied": True,
        "state": state,
        "by_court": by,
        "requesting_court": "320583",
        "executing_court": "6101",
        "matter": "FREEZE",
        "start_due": delivered + timedelta(days=15) if delivered else None,
        "report_due": delivered + timedelta(days=30) if delivered else None,
        "error_code": None,
        "reason": None,
        "decided_at": v.now(),
    }


def records(envelope: Envelope, count: int, tag: str, seed: int) -> list[OutgoingRecord]:
    """``count`` input records, five per delegation (see the module's doc), in send order."""
    _, _, record, payload = one_per_flow()[0]
    entries = entry_payloads(count // PER_UNIT + 1, seed=seed)
    out: list[OutgoingRecord] = []
    unit = 0
    while len(out) < count:
        did = f"dlg-{tag}-{unit:07d}"
        req = envelope.build(EVENTS, record, {**payload, "delegation_id": did}, "court:320583")
        dec = envelope.build(
            EVENTS,
            NS + "DelegationDecided",
            decided(did, req, "DelegationRequested", "REQUESTED", "320583"),
            "bus:delegation",
            causation_id=req.event.id,
        )
        at = v.now()
        dlv = envelope.build(
            EVENTS,
            NS + "DelegationDelivered",
            {"delegation_id": did, "executing_court": v.court("6101"), "delivered_at": at},
            "bus:delegation",
        )
        dec2 = envelope.build(
            EVENTS,
            NS + "DelegationDecided",
            decided(did, dlv, "DelegationDelivered", "DELIVERED", None, at),
            "bus:delegation",
            causation_id=dlv.event.id,
        )
        entry = envelope.build(
            VIEW, "cn.court.bus.blacklist.BlacklistEntry", next(entries), "bus:blacklist"
        )
        out += [req, dec, dlv, dec2, entry]
        unit += 1
    return out[:count]


@contextmanager
def database(kind: str, home: Path) -> Iterator[str]:
    """The URL of a new, empty read-model database of ``kind``."""
    if kind == "sqlite":
        yield f"sqlite:///{home / 'read.db'}"
        return
    from tests.pg import pg_cluster

    with pg_cluster() as server:
        yield server.url(server.create_database())


def applied(engine: Any) -> int:
    """Rows the projector wrote so far: stored events plus list entries."""
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM blacklist_entries)")
        ).scalar()
    return int(found or 0)


def offer(
    bench: Bench, projector: Service, engine: Any, rate: int, seconds: float, tag: str, seed: int
) -> dict[str, Any]:
    """Send ``rate``/s for ``seconds``; wait until every row is in (120 s at most after)."""
    envelope = make_envelope(bench.conn, bench.schemas)
    todo = records(envelope, round(rate * seconds), tag, seed)
    producer = KafkaProducer(**bench.conn.kafka_settings(), acks="all", linger_ms=2)
    base = applied(engine)

    def send(i: int, j: int) -> list[str]:
        for out in todo[i:j]:
            producer.send(out.topic, key=out.key, value=out.value, headers=out.headers)
        return []

    cpu0 = projector.cpu_s()
    began = time.monotonic()
    _, send_s = paced(rate, seconds, send)
    producer.flush()
    sent_at = time.monotonic()
    deadline = sent_at + 120
    done = applied(engine) - base
    while done < len(todo) and time.monotonic() < deadline:
        time.sleep(0.1)
        done = applied(engine) - base
    finished = time.monotonic()
    cpu = projector.cpu_s() - cpu0
    producer.close()
    took = finished - began
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": len(todo),
        "offered": len(todo) / send_s,
        "applied": done,
        "delivered": done / took,
        "catch_up_s": finished - sent_at,
        "cores": cpu / took,
        "cpu_us_per_record": cpu / max(done, 1) * 1e6,
        "load": load(),
    }


def profile_lines(path: Path, top: int = 25) -> list[str]:
    """The top functions of a cProfile dump, by cumulative and by own time."""
    stats = pstats.Stats(str(path))
    items = stats.stats.items()  # type: ignore[attr-defined]
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in stats.stats.values())  # type: ignore[attr-defined]
    lines = [
        f"  profile: {total:.1f} s in the main thread (kafka-python's I/O thread not "
        "profiled); calls, own s, cumulative s, % of main thread"
    ]
    for column, name in ((3, "cumulative"), (2, "own")):
        lines.append(f"  -- top {top} by {name} time")
        entries = sorted(items, key=lambda kv: kv[1][column], reverse=True)
        shown = [(k, s) for k, s in entries if column == 2 or s[3] <= 0.9 * total][:top]
        for (file, line, func), (_cc, nc, tt, ct, _callers) in shown:
            where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if file != "~" else ""
            lines.append(f"  {nc:>9} {tt:7.2f} {ct:7.2f} {ct / total * 100:5.1f}%  {where}({func})")
    return lines


def phase(kind: str, loads: list[tuple[int, float]], profile: bool) -> dict[str, Any]:
    """One fresh stack and database: idle CPU, each load, Kafka's ConsumerPerformance."""
    with private_stack() as bench, database(kind, bench.home) as url:
        env = service_env(
            bench, bench.home / "state", COURTBUS_STORE_URL=url, COURTBUS_PROJECTOR_GROUP=GROUP
        )
        projector = Service("services.projector", env, bench.home / "projector.log")
        prof = bench.home / "projector.prof"
        projector.start(("-m", "cProfile", "-o", str(prof)) if profile else ())
        engine = create_engine(url)
        runs: list[dict[str, Any]] = []
        try:
            projector.wait_for(f"{GROUP} restored")
            say(f"{kind}: projector ready; idle for {IDLE_S:.0f} s")
            cpu0, t0 = projector.cpu_s(), time.monotonic()
            time.sleep(IDLE_S)
            idle = (projector.cpu_s() - cpu0) / (time.monotonic() - t0)
            for n, (rate, seconds) in enumerate(loads):
                say(f"{kind}: offering {rate}/s for {seconds:.0f} s")
                runs.append(offer(bench, projector, engine, rate, seconds, f"{kind}{n}", n))
        finally:
            projector.stop()
            engine.dispose()
        total = sum(r["sent"] for r in runs) * 4 // PER_UNIT
        say(f"{kind}: Kafka's ConsumerPerformance over {total} records of {EVENTS}")
        kafka = consumer_performance(
            bench.conn.bootstrap, EVENTS, total, bench.home / "consumer.properties"
        )
        lines = profile_lines(prof) if profile else []
    return {"db": kind, "idle_cores": idle, "runs": runs, "consumer_perf": kafka, "profile": lines}


def main() -> None:
    """Run each database's phase and print the figures (and write them with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rates", default="100:30,1000:20", help="rate:seconds,...")
    parser.add_argument("--profile", action="store_true", help="run under cProfile")
    add_json_option(parser)
    args = parser.parse_args()
    loads = [(int(r), float(s)) for r, s in (x.split(":") for x in args.rates.split(","))]
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = [phase(kind, loads, args.profile) for kind in kinds]
    figures: dict[str, Any] = {}
    print(
        f"projector: 1 worker, input straight onto its topics ({PER_UNIT} records per "
        f"delegation: 4 on {EVENTS}, 1 on {VIEW}), 1 broker"
        + (", under cProfile" if args.profile else "")
    )
    for res in results:
        db = res["db"]
        print(
            f"  {db}: idle {res['idle_cores']:.3f} cores | Kafka ConsumerPerformance "
            f"(read_committed, same stack) {res['consumer_perf']:,.0f} records/s"
        )
        figures[f"projector_idle_cores_{db}"] = res["idle_cores"]
        figures[f"consumer_perf_rec_s_{db}"] = res["consumer_perf"]
        for r in res["runs"]:
            goal = f" (goal ≤ {GOAL_CORES_100} core)" if r["rate"] == 100 else ""
            print(
                f"    {r['rate']:>5}/s offered ({r['offered']:,.0f}/s achieved, "
                f"{r['sent']:,} sent): CPU {r['cpu_us_per_record']:,.0f} µs/record, "
                f"{r['cores']:.3f} cores{goal}; applied {r['applied']:,}/{r['sent']:,}, "
                f"{r['delivered']:,.0f}/s, caught up {r['catch_up_s']:.1f} s after the last "
                f"send | {r['load']}"
            )
            key = f"{db}_{r['rate']}"
            figures[f"projector_cpu_us_per_record_{key}"] = r["cpu_us_per_record"]
            figures[f"projector_cores_{key}"] = r["cores"]
            figures[f"projector_delivered_per_s_{key}"] = r["delivered"]
            figures[f"projector_applied_{key}"] = r["applied"]
            figures[f"projector_sent_{key}"] = r["sent"]
            figures[f"projector_catch_up_s_{key}"] = r["catch_up_s"]
            figures[f"projector_load_{key}"] = r["load"]
        for line in res["profile"]:
            print(line)
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
