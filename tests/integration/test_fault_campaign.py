"""The short fault campaign (issue 20, item 2): three brokers (replication 3, min ISR 2), the
gateway, delegation, blacklist and restriction services with two workers each and the
projector on PostgreSQL, courts requesting delegations and listing debtors (whose listings
bring consumption bans) all the while; one round of each fault, then the reconciler must find
0 lost and 0 duplicated.

Faults, each while the services' transactions are open (``COURTBUS_TEST_HOLD_OPEN_MS``):

1. SIGKILL the broker leading the busiest outbox partition, then start it again: a new leader
   is elected, and once back its replicas catch up (every partition's ISR full again);
2. SIGKILL a worker of each of the four services inside a transaction, and restart it;
3. SIGSTOP a delegation worker for longer than its session timeout (a zombie: its partitions
   move to the other worker, which fences its transactions), then SIGCONT it;
4. restart the projector's PostgreSQL at once (``pg_ctl -m immediate``, as a crash) while the
   projector's database transaction is open with its rows written
   (held while ``COURTBUS_TEST_HOLD_COMMIT_FILE`` exists), and later shut the read model's database to connections
   (its sessions ended) while 50 more requests flow, then open it again: the projector waits,
   retries and catches up (the backlog's catch-up time is measured);
5. SIGKILL a bank's mirror of its blacklist feed (``courtbus blacklist sync icbc``, fed by the
   feed router) and start it again after ``COURTBUS_CAMPAIGN_MIRROR_BACKLOG`` listings (20; 60
   in ``make soak``): it
   resumes from its own committed offsets; at the end ``verify-mirror`` must find it in step
   with the national view, one row per listing;
6. fill a broker's log directory (a 512 MiB tmpfs, mounted when run as root) to its limit: the
   broker stops; free the space and start it again: its replicas catch up.

The recovery times are printed and written to ``<tmp>/campaign.json``. ``make soak`` runs the
campaign three times (``COURTBUS_CAMPAIGN_ROUNDS`` rounds of the faults each).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient

from courtbus.app.reconcile import reconcile
from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.sdk import AgencyClient, CourtClient
from courtbus.stack import Stack
from courtbus.store.queries import ReadModelQueries
from courtbus.wire import values as v
from tests.integration.helpers import ServiceProcess, Services, private_stack, wait_until
from tests.pg import PgServer, pg_cluster

pytestmark = pytest.mark.integration
COURTS = (("320583", "6101"), ("4408", "50"), ("3174", "6104"), ("6101", "4408"))
OUTBOX = "court.320583.outbox"  # six partitions (the catalogue's override): the busiest
ENV = {"COURTBUS_TEST_HOLD_OPEN_MS": "150", "COURTBUS_SESSION_TIMEOUT_MS": "6000"}
ROUNDS = int(os.environ.get("COURTBUS_CAMPAIGN_ROUNDS", "1"))
LISTING_EVERY = 5  # one publication in five lists a debtor;
BAN_EVERY = 7  # one in seven of the others bans a person's consumption, the rest delegate
PERSON = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
SERVICES = ("gateway", "delegation", "blacklist", "restriction")  # two workers each
FULL_NODE = 3  # the broker whose log directory is filled to its limit
MIRROR = "icbc"  # a bank with a blacklist feed of every listing (no kinds filter)
# listings while the mirror is down: 20 in ``make test`` (each takes ~5 publications, ~1 s),
# 60 in ``make soak``
MIRROR_BACKLOG = int(os.environ.get("COURTBUS_CAMPAIGN_MIRROR_BACKLOG", "20"))


class SmallDisk:
    """A broker's log directory moved onto a tmpfs of ``size_mb`` (root only: ``mount``), so
    that it can be filled to its limit; unmounted on leaving (after the stack is down)."""

    def __init__(self, size_mb: int = 512) -> None:
        self.size_mb, self.path, self.filler = size_mb, Path(), Path()
        self.mounted = False

    def __enter__(self) -> SmallDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)

    def move_broker(self, stack: Stack, node: int) -> None:
        """Stop broker ``node``, put its data on the tmpfs, start it again."""
        data = stack.home / f"node-{node}" / "data"
        self.path, self.filler = data, data / "filler"
        stack.stop_broker(node)
        wait_until(lambda: not _broker_alive(stack, node), 60, f"broker {node} stopped")
        kept = data.with_name("data.kept")
        data.rename(kept)
        data.mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m", "tmpfs", str(data)],
            check=True,
            capture_output=True,
        )
        self.mounted = True
        subprocess.run(["cp", "-a", f"{kept}/.", str(data)], check=True)
        shutil.rmtree(kept)
        stack.start_broker(node)

    def fill(self) -> int:
        """Write zeros until the tmpfs is full; the bytes written."""
        written, chunk = 0, b"\0" * (1 << 20)
        with self.filler.open("wb", buffering=0) as out:
            while True:
                try:
                    written += out.write(chunk) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    return written

    def free(self) -> None:
        """Delete what ``fill`` wrote."""
        self.filler.unlink(missing_ok=True)


def _broker_alive(stack: Stack, node: int) -> bool:
    state = stack.state()
    return state is not None and state.brokers[node - 1].alive()


def _list(court: CourtClient, n: int) -> None:
    """A listing of a person (the restriction service then bans their consumption)."""
    court.blacklist.list_debtor(
        f"bl-fault-{uuid.uuid4().hex[:10]}",
        f"(2024){court.sender.court.designation}执{n}号",
        {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
        "REFUSED_WITH_ABILITY",
        obligation="支付货款 86,000.00 元",
        performance="全部未履行",
        conduct="有履行能力而拒不履行",
        title_issuer="广东省湛江市中级人民法院",
        title_number=f"(2023)粤08民初{n}号",
        filed_at=v.now() - timedelta(days=90),
    )


class Publisher:
    """Courts sending delegation requests, one after another, until ``stop``. A send the SDK
    reports as failed (a timeout while a broker restarts) is counted in ``failed`` and the
    court goes on with a new client, as a court's system would; such a record may still have
    been written, so the campaign expects between ``sent`` and ``sent + failed`` requests."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.sent, self.failed, self.listed, self.banned = conn, 0, 0, 0, 0
        self.errors: list[str] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    def status(self) -> str:
        """What it did so far, for a failure's message."""
        return (
            f"publisher: {self.sent} requests, {self.listed} listings and {self.banned} "
            f"bans sent, {self.failed} failed {self.errors[-3:]}"
        )

    def _run(self) -> None:
        clients = {c: CourtClient(c, self.conn) for pair in COURTS for c in pair}
        n = 0
        try:
            while not self.done.is_set():
                n += 1
                req, exe = COURTS[n % len(COURTS)]
                try:
                    if n % LISTING_EVERY == 0:
                        _list(clients[req], n)
                        self.listed += 1
                    elif n % BAN_EVERY == 0:
                        clients[req].restriction.issue_consumption_ban(
                            f"rc-fault-{uuid.uuid4().hex[:10]}",
                            f"(2024){clients[req].sender.court.designation}执{n}号",
                            PERSON,
                        )
                        self.banned += 1
                    else:
                        self._request(clients[req], n, exe)
                except Exception as exc:
                    self.failed += 1
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    clients[req].close()
                    clients[req] = CourtClient(req, self.conn)
                self.done.wait(0.02)  # about 40 requests a second
        finally:
            for client in clients.values():
                client.close()

    def _request(self, court: CourtClient, n: int, executing: str) -> None:
        court.delegation.request_delegation(
            delegation_id=f"dlg-fault-{uuid.uuid4().hex[:10]}",
            case_number=f"(2024){court.sender.court.designation}执{n}号",
            executing_court=executing,
            matter="SEARCH",
            debtor={"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
        )
        self.sent += 1

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=120)


@dataclass
class Campaign:
    stack: Stack
    conn: Connection
    first: Services  # SERVICES and the projector
    second: Services  # SERVICES: the second worker of each
    publisher: Publisher
    pg: PgServer  # the read model's server
    database: str  # the read model's database on it
    mirror: ServiceProcess  # a bank's mirror of its blacklist feed: courtbus blacklist sync
    mirror_db: str
    disk: SmallDisk | None  # node FULL_NODE's log directory on a small tmpfs (None: not root)
    hold: Path  # while this file exists the projector holds its batch's transaction open
    times: dict[str, list[float]] = field(default_factory=dict)

    def took(self, what: str, seconds: float) -> None:
        self.times.setdefault(what, []).append(round(seconds, 2))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    home: Path = tmp_path_factory.mktemp("campaign")
    started: list[Services] = []
    with (
        SmallDisk() as disk,
        private_stack(home / "stack", nodes=3) as (stack, conn),  # replication 3, min ISR 2
        pg_cluster() as pg,
    ):
        if os.geteuid() == 0:
            disk.move_broker(stack, FULL_NODE)
        database = pg.create_database()
        group = f"projector-{uuid.uuid4().hex[:6]}"
        for worker in ("a", "b"):
            (home / worker).mkdir()
        hold = home / "hold-commit"
        env = {**ENV, "COURTBUS_PROJECTOR_GROUP": group, "COURTBUS_STORE_URL": pg.url(database)}
        first = Services(
            conn,
            home / "a",
            env,
            (*SERVICES, "feeds", "projector"),
            own_env={"projector": {"COURTBUS_TEST_HOLD_COMMIT_FILE": str(hold)}},
        )
        second = Services(conn, home / "b", env, SERVICES)
        mirror_db = f"sqlite:///{home / 'icbc-mirror.db'}"
        mirror = ServiceProcess(
            "courtbus",
            conn,
            home / "mirror.log",
            "following changes",
            command=[
                sys.executable,
                "-m",
                "courtbus",
                "blacklist",
                "sync",
                MIRROR,
                "--db",
                mirror_db,
            ],
        )
        try:
            for services in (first, second):
                started.append(services)
                services.start(timeout_s=120)
            mirror.start(timeout_s=60)
            yield Campaign(
                stack,
                conn,
                first,
                second,
                Publisher(conn),
                pg,
                database,
                mirror,
                mirror_db,
                disk if disk.mounted else None,
                hold,
            )
        finally:
            mirror.stop()
            for services in started:
                services.stop()


@contextlib.contextmanager
def _projector_holding(c: Campaign) -> Iterator[None]:
    """Enter once the projector has written a batch's rows and holds its database transaction
    open (it does while ``c.hold`` exists); on leaving, let it commit."""
    c.hold.touch()
    try:
        _in_transaction(c.first["projector"], c.publisher, opened="rows written, not committed")
        yield
    finally:
        c.hold.unlink(missing_ok=True)


def _in_transaction(
    proc: ServiceProcess,
    publisher: Publisher | None = None,
    timeout_s: float = 90,
    opened: str = "transaction open",
) -> None:
    """Return once ``proc`` has logged a transaction open after now (so a kill lands in it;
    ``opened="rows written, not committed"``: its flow's batch, the projector's database transaction); if it
    does not, its threads' stacks (SIGUSR1: faulthandler) and log tail in the failure."""
    mark = proc.count(opened)

    def stuck() -> str:
        if proc.alive and proc.proc is not None:
            dumped = proc.count("most recent call first")
            proc.proc.send_signal(signal.SIGUSR1)  # faulthandler: every thread's stack
            with contextlib.suppress(AssertionError):
                wait_until(
                    lambda: proc.count("most recent call first") > dumped,
                    5,
                    "the stacks in the log",
                )
        said = publisher.status() if publisher is not None else ""
        return f"{proc.module} opening a transaction ({said}):\n{proc.log_text()[-8000:]}"

    wait_until(lambda: proc.count(opened) > mark, timeout_s, stuck, interval_s=0.02)


def _partitions(conn: Connection, topics: list[str]) -> list[dict[str, Any]]:
    admin = KafkaAdminClient(bootstrap_servers=conn.bootstrap.split(","))
    try:
        return [
            p | {"topic": t["name"]} for t in admin.describe_topics(topics) for p in t["partitions"]
        ]
    finally:
        admin.close()


def _leader_kill(c: Campaign) -> None:
    parts = _partitions(c.conn, [OUTBOX])
    victim = parts[0]["leader_id"]
    _in_transaction(c.first["gateway"], c.publisher)
    began = time.monotonic()
    c.stack.stop_broker(victim, kill=True)

    def elected() -> bool:
        try:
            now = _partitions(c.conn, [OUTBOX])
        except Exception:
            return False
        return all(p["leader_id"] not in (victim, -1) for p in now)

    wait_until(elected, 60, f"a new leader for {OUTBOX} after node {victim} died", interval_s=0.2)
    c.took("leader election", time.monotonic() - began)
    mark = c.publisher.sent  # traffic goes on with one broker away (acks=all, min ISR 2)
    wait_until(lambda: c.publisher.sent >= mark + 50, 90, "50 requests sent with a broker down")
    back = time.monotonic()
    c.stack.start_broker(victim)
    _replicas_back(c, f"node {victim}")
    c.took("replica catch-up", time.monotonic() - back)


def _replicas_back(c: Campaign, who: str) -> None:
    topics = [OUTBOX, "bus.delegation.events", "court.6101.inbox", "bus.deadletter"]

    def caught_up() -> bool:
        try:
            return all(len(p["isr_nodes"]) == 3 for p in _partitions(c.conn, topics))
        except Exception:
            return False

    wait_until(caught_up, 180, f"{who}: its replicas back in every ISR", interval_s=0.5)


def _worker_kills(c: Campaign) -> None:
    kills = (
        (c.first, "gateway"),
        (c.second, "delegation"),
        (c.first, "blacklist"),
        (c.second, "restriction"),
    )
    for services, name in kills:
        proc = services[name]
        _in_transaction(proc, c.publisher)
        began = time.monotonic()
        proc.kill()
        proc.start(timeout_s=120)
        c.took(f"{name} worker restart", time.monotonic() - began)


def _zombie(c: Campaign) -> None:
    proc = c.first["delegation"]
    assert proc.proc is not None
    _in_transaction(proc, c.publisher)
    began = time.monotonic()
    proc.proc.send_signal(signal.SIGSTOP)
    other = c.second["delegation"]
    mark = other.count(f"{c.second.group('delegation')} restored")
    try:
        wait_until(
            lambda: other.count(f"{c.second.group('delegation')} restored") > mark,
            90,
            "the other delegation worker taking the zombie's partitions",
        )
        c.took("zombie's partitions moved", time.monotonic() - began)
    finally:
        proc.proc.send_signal(signal.SIGCONT)
    assert proc.alive, proc.log_text()[-3000:]


def _projector_caught_up(c: Campaign, what: str, since: float) -> None:
    """Wait until the read model holds every request sent until now, and count the time from
    ``since`` as the projector's catch-up after ``what``."""
    target = c.publisher.sent
    queries = ReadModelQueries(c.first.store_url)

    def stored() -> int:
        try:
            return queries.delegation_count()
        except Exception:  # the database still starting
            return -1

    proc = c.first["projector"]
    try:
        wait_until(
            lambda: stored() >= target,
            120,
            lambda: (
                f"{target} requests in the read "
                f"model after {what}, {stored()} there; {c.publisher.status()}\n"
                f"{proc.log_text()[-4000:]}"
            ),
            interval_s=0.2,
        )
    finally:
        queries.close()
    c.took(f"projector backlog after {what}", time.monotonic() - since)
    assert proc.alive, proc.log_text()[-3000:]


def _database_restart(c: Campaign) -> None:
    proc = c.first["projector"]
    failed = proc.count("STORE_UNAVAILABLE")
    with _projector_holding(c):
        began = time.monotonic()
        c.pg.restart()
        c.took("database restart", time.monotonic() - began)
    _projector_caught_up(c, "the database restart", began)
    assert proc.count("STORE_UNAVAILABLE") > failed, "the restart did not reach the projector"


def _database_shut(c: Campaign) -> None:
    with _projector_holding(c):
        c.pg.allow_connections(c.database, False)
    began = time.monotonic()
    try:
        mark = c.publisher.sent
        wait_until(lambda: c.publisher.sent >= mark + 50, 90, "50 requests sent, the database shut")
    finally:
        c.pg.allow_connections(c.database, True)
    _projector_caught_up(c, "the connections revoked", began)


def _log_dir_full(c: Campaign) -> None:
    """Fill broker FULL_NODE's log directory to its limit while traffic flows: the broker
    stops (Kafka halts when its only log directory fails); free the space, start it: it
    recovers its logs and its replicas catch up."""
    if c.disk is None:
        print("\nfault campaign: log directory full skipped (mounting a tmpfs needs root)")
        return
    began = time.monotonic()
    filled = c.disk.fill()
    try:
        wait_until(
            lambda: not _broker_alive(c.stack, FULL_NODE),
            120,
            lambda: (
                f"broker {FULL_NODE} stopping with its disk full ({filled} bytes "
                f"written); {c.publisher.status()}"
            ),
        )
        c.took("broker down after its disk filled", time.monotonic() - began)
        mark = c.publisher.sent
        wait_until(lambda: c.publisher.sent >= mark + 50, 90, "50 requests with a broker down")
    finally:
        c.disk.free()
    back = time.monotonic()
    c.stack.start_broker(FULL_NODE)
    _replicas_back(c, f"node {FULL_NODE}, its disk freed")
    c.took("replica catch-up after the disk was freed", time.monotonic() - back)


def _mirror_backlog(c: Campaign) -> None:
    """SIGKILL the bank's mirror, let ``MIRROR_BACKLOG`` listings pass, start it again: it
    resumes from its committed offsets and catches up (the time to its feed's end)."""
    c.mirror.kill()
    mark = c.publisher.listed
    wait_until(
        lambda: c.publisher.listed >= mark + MIRROR_BACKLOG,
        180,
        lambda: f"{MIRROR_BACKLOG} listings with the mirror down; {c.publisher.status()}",
    )
    began = time.monotonic()
    c.mirror.start(timeout_s=120)  # ready once bootstrapped to the feed's end as of its start
    c.took("mirror catch-up", time.monotonic() - began)


def test_faults_lose_nothing_and_repeat_nothing(
    campaign: Campaign, tmp_path_factory: pytest.TempPathFactory
) -> None:
    c = campaign
    publisher = c.publisher
    publisher.thread.start()
    try:
        for _round in range(ROUNDS):
            _leader_kill(c)
            _worker_kills(c)
            _zombie(c)
            _database_restart(c)
            _database_shut(c)
            _mirror_backlog(c)
            _log_dir_full(c)
    finally:
        publisher.stop()
    assert publisher.sent > 0, publisher.status()
    began = time.monotonic()

    def reconciled() -> dict[tuple[str, str], Any]:
        """The ledgers, once the listings' bans are in too: the reconciler matches each flow's
        own records, not the bans the restriction service derives from the list's view, which
        may still be on their way when the last listings were sent just before."""
        report = reconcile(c.conn, c.first.store_url, wait_s=240)
        by = {(g.flow, g.check): g for g in report.ledgers}
        owed = by[("blacklist", "gateway")].expected + by[("restriction", "gateway")].expected
        return by if by[("restriction", "restrictions in SQL")].present >= owed else {}

    by = wait_until(reconciled, 300, "every listing's ban in SQL", interval_s=2)
    c.took("reconciled after the last fault", time.monotonic() - began)
    problems = {f"{k[0]} {k[1]}": g.samples for k, g in by.items() if not g.ok}
    assert not problems, problems
    sent = by[("delegation", "gateway")]
    assert publisher.sent <= sent.expected <= publisher.sent + publisher.failed, publisher.status()
    assert sent.present == sent.expected
    assert by[("delegation", "decisions")].present == 2 * sent.expected  # request + receipt
    assert by[("delegation", "deliveries")].present == 2 * sent.expected
    assert by[("delegation", "history in SQL")].present == 2 * sent.expected
    listed = by[("blacklist", "gateway")]
    assert publisher.listed <= listed.expected <= publisher.listed + publisher.failed
    assert by[("blacklist", "listings applied")].present == listed.expected
    assert by[("blacklist", "listings in SQL")].present == listed.expected
    # the bank's mirror: every listing (all ACTIVE), field by field as the view projects it
    with AgencyClient(MIRROR, c.conn) as bank:
        check = bank.verify_mirror("blacklist", c.mirror_db, repair=False)
    assert check.in_sync and not (check.missing or check.extra or check.changed), check
    assert check.mirror_rows == listed.expected, check
    # each listed person's consumption ban (the listing's restriction) and each court's own
    # ban: once in the view, and stored
    issued = by[("restriction", "gateway")]
    assert publisher.banned <= issued.expected <= publisher.banned + publisher.failed
    assert by[("restriction", "bans applied")].present == issued.expected
    bans = by[("restriction", "restrictions in SQL")]
    assert by[("restriction", "view records")].ok
    assert bans.present == listed.expected + issued.expected
    figures = {
        "rounds": ROUNDS,
        "requests sent": publisher.sent,
        "listings sent": publisher.listed,
        "bans sent": publisher.banned,
        "sends the SDK reported failed": publisher.failed,
        "requests in the outboxes": sent.expected,
        "listings in the outboxes": listed.expected,
        "bans stored": bans.present,
        "rows in the bank's mirror": check.mirror_rows,
        "lost": 0,
        "duplicated": 0,
        "recovery seconds": c.times,
    }
    out = tmp_path_factory.getbasetemp() / "campaign.json"
    out.write_text(json.dumps(figures, indent=2))
    print(f"\nfault campaign: {json.dumps(figures)} ({out})")
