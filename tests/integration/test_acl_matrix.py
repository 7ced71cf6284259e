"""`courtbus acl plan|apply` on a secure broker: the ACL matrix in three passes, as Kafka's
AuthorizerIntegrationTest (nothing granted: everything denied; a partial plan: exactly its
cells; the full plan: exactly the allowed cells, every other one an authorization error), and
a court added to the directory and removed again.

Every principal × every topic × {read, write}, every principal's consumer group and every
service's transactional id, each tried with a real client of that principal (see
``acl_probes``); the expected matrix comes from the issue's rules and the flows
(``acl_probes.expected_cells``), not from ``courtbus.access.acl``.

Identities: a client certificate per principal from the stack's CA (the ``identities``
fixture), as ``courtbus credentials issue`` makes them; the set-up (topics, seed records) runs
as node 1, a super user. The operator holds from the start what the stack grants it (ALL on
topics, groups and transactional ids: ``courtbus.access.bootstrap``), so it is the one
principal whose cells work before any ``apply``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import confluent_kafka as ck
import pytest
import yaml
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from typer.testing import CliRunner

from courtbus.access import acl_admin
from courtbus.access.acl import Binding, Operation
from courtbus.app import ops
from courtbus.app.cli.main import app
from courtbus.bus.records import Output
from courtbus.catalogue.directory import DEFAULT_PATH as SHIPPED_DIRECTORY
from courtbus.catalogue.directory import Directory, load_directory
from courtbus.catalogue.topics import Catalogue, load_catalogue
from courtbus.config import Connection
from courtbus.errors import AuthorizationError
from courtbus.runtime import Flow, Incoming, Inputs, State
from courtbus.runtime.config import WorkerConfig
from courtbus.runtime.flow import StoreSpec
from courtbus.runtime.worker import Worker
from courtbus.security import pki
from courtbus.security.principals import OPERATOR, node_principal
from courtbus.stack import Stack, StackConfig, StackState
from courtbus.yaml_files import read_yaml
from tests.integration.acl_probes import (
    Cell,
    Prober,
    all_cells,
    expected_cells,
    mismatches,
    own_group,
    principals,
)
from tests.integration.helpers import TopicReader, wait_until
from tests.ports import free_block

pytestmark = pytest.mark.integration

# Courts 32, 3205 and 320583: each id a prefix of the next, so a prefix without its delimiter
# would leak; two agencies with different feeds; one court group.
COURTS = ("32", "3205", "320583", "4408")
AGENCIES = ("nia", "icbc")
NEW_COURT = {
    "id": "320505",
    "designation": "苏0505",
    "name": "江苏省苏州市虎丘区人民法院",
    "province": "江苏省",
    "level": "basic",
}
runner = CliRunner()
_QUIET = logging.getLogger("tests.acl.rdkafka")
Login = Callable[[str], Connection]


def _directory_file(path: Path, extra_courts: tuple[dict[str, str], ...] = ()) -> Path:
    raw = read_yaml(SHIPPED_DIRECTORY)
    courts = [c for c in raw["courts"] if str(c["id"]) in COURTS] + list(extra_courts)
    small = {
        "courts": courts,
        "agencies": [a for a in raw["agencies"] if a["id"] in AGENCIES],
        "feeds": [f for f in raw["feeds"] if f["agency"] in AGENCIES],
        "groups": {"suzhou": ["3205", "320583"]},
    }
    path.write_text(yaml.safe_dump(small, allow_unicode=True))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    home = tmp_path_factory.mktemp("acl-stack")
    running = Stack(StackConfig(home, secure=True, port_base=free_block(4), registry=False))
    state = running.up()
    try:
        yield state
    finally:
        running.down()


@pytest.fixture(scope="module")
def admin(stack: StackState) -> Connection:
    """Node 1's certificate (a super user): creates topics and seed records, applies ACLs."""
    return stack.connection(node_principal(1))


@pytest.fixture(scope="module")
def identities(stack: StackState) -> Callable[[str], Connection]:
    """``login(principal)``: a connection with that principal's certificate, issued on first
    use by the stack's CA (the operator's and the services' the stack issued itself)."""
    home = Path(stack.pki).parent if stack.pki else None
    assert home is not None

    def login(principal: str) -> Connection:
        if pki.credentials(home, principal) is None:
            pki.issue(home, principal)
            conn = stack.connection(principal)
            wait_until(lambda: _logs_in(conn), 30, f"{principal}'s TLS login")
        return stack.connection(principal)

    return login


def _logs_in(conn: Connection) -> bool:
    """Whether a metadata request as ``conn`` succeeds (it needs no ACL, only a login)."""
    config: dict[str, Any] = {**conn.librdkafka_settings(), "logger": _QUIET}
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=3)
        return True
    except ck.KafkaException:
        return False


def _topics_for(admin: Connection, directory_file: Path) -> list[str]:
    """Create the directory's topics (as the admin) and put one record in partition 0 of each,
    for the read probes to find."""
    plan = ops.plan_topics(admin, directory=directory_file)
    ops.apply_topics(admin, plan)
    names = sorted(s.name for s in plan.specs)
    config: dict[str, Any] = {**admin.librdkafka_settings(), "acks": "all", "logger": _QUIET}
    producer = ck.Producer(config)
    for name in names:
        producer.produce(name, key=b"seed", value=b"seed", partition=0)
    assert producer.flush(30) == 0
    return names


def _wait_for_acls(
    admin: Connection, wanted: set[Binding], gone: frozenset[Binding] = frozenset()
) -> None:
    """ACLs apply asynchronously: wait until the broker describes exactly the change."""

    def applied() -> bool:
        held = set(acl_admin.current(admin, acl_admin.admin_client(admin)))
        return wanted <= held and not (gone & held)

    wait_until(applied, 30, "the ACL change to reach the broker")


def _commit_topics(cells: set[Cell], topics: list[str], everyone: list[str]) -> dict[str, str]:
    """For each principal, a topic it may read (its group probe commits an offset of it)."""
    found = {}
    for p in everyone:
        readable = sorted(c[2] for c in cells if c[0] == p and c[1] == "read")
        found[p] = readable[0] if readable else topics[0]
    return found


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, admin: Connection
) -> tuple[Path, Directory, Catalogue, list[str]]:
    path = _directory_file(tmp_path_factory.mktemp("acl-dir") / "directory.yaml")
    return path, load_directory(path), load_catalogue(), _topics_for(admin, path)


def test_acl_matrix_three_passes(
    world: tuple[Path, Directory, Catalogue, list[str]], admin: Connection, identities: Login
) -> None:
    path, directory, catalogue, topics = world
    everyone = principals(directory)
    for p in everyone:
        identities(p)
    cells = all_cells(directory, topics)
    allowed = expected_cells(directory, topics)
    assert allowed < cells and len(cells) > 1000
    commit = _commit_topics(allowed, topics, everyone)
    prober = Prober(identities, timeout_s=8)

    # 1. nothing applied: every cell an authorization error but the operator's (the stack's
    # grant), and a court may not plan
    started = time.monotonic()
    outcome = prober.run(cells, commit)
    operators = {c for c in allowed if c[0] == OPERATOR}
    assert operators and mismatches(outcome, operators, cells) == {}
    assert outcome.denied == cells - operators
    with pytest.raises(AuthorizationError) as refused:
        acl_admin.plan(identities("court.32"), directory, catalogue)
    assert refused.value.code == "ACL_NOT_AUTHORIZED"
    print(f"pass 1: {len(cells)} cells in {time.monotonic() - started:.1f} s")

    # 2. a partial plan: every READ binding and the courts' whole share
    full = acl_admin.plan(admin, directory, catalogue)
    assert not full.remove and len(full.add) > 100
    assert not {b for b in full.add if b.principal == OPERATOR}  # the stack granted those
    partial = {
        b for b in full.add if b.operation is Operation.READ or b.principal.startswith("court.")
    }
    acl_admin.grant(admin, partial)
    _wait_for_acls(admin, partial)
    planned = operators | {
        c for c in allowed if c[1] in ("read", "group") or c[0].startswith("court.")
    }
    outcome = prober.run(cells, commit)
    assert mismatches(outcome, planned, cells) == {}
    assert outcome.allowed == planned and outcome.denied == cells - planned

    # 3. the full plan: exactly the allowed cells, every other one an authorization error
    rest = acl_admin.plan(admin, directory, catalogue)
    assert set(rest.add) == set(full.add) - partial and not rest.remove
    done = acl_admin.apply(admin, rest)
    _wait_for_acls(admin, set(done.added))
    outcome = prober.run(cells, commit)
    assert mismatches(outcome, allowed, cells) == {}
    assert outcome.allowed == allowed and outcome.denied == cells - allowed
    # the operator now plans ACLs and topics (and finds nothing to do); a second apply
    # changes nothing
    operator = identities("operator")
    assert acl_admin.plan(operator, directory, catalogue).in_sync
    assert [a for a in ops.plan_topics(operator, directory=path).actions if a.applies] == []
    again = acl_admin.apply(admin, acl_admin.plan(admin, directory, catalogue))
    assert not again.added and not again.removed


def _cli(conn: Connection, *args: str) -> Any:
    """The CLI as ``conn``'s principal (its certificate through the settings' environment)."""
    env = {
        "COURTBUS_SSL_CA": conn.ssl_ca or "",
        "COURTBUS_SSL_CERT": conn.ssl_cert or "",
        "COURTBUS_SSL_KEY": conn.ssl_key or "",
        "COURTBUS_SSL_KEY_PASSWORD": conn.ssl_key_password or "",
    }
    result = runner.invoke(app, [*args, "--bootstrap", conn.bootstrap], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_court_added_then_removed(
    world: tuple[Path, Directory, Catalogue, list[str]],
    admin: Connection,
    identities: Login,
    tmp_path: Path,
) -> None:
    path, directory, catalogue, _topics = world
    acl_admin.apply(admin, acl_admin.plan(admin, directory, catalogue))  # as the matrix left it
    operator = identities(OPERATOR)  # who runs `acl` in practice
    out = _cli(operator, "acl", "plan", "--directory", str(path))
    assert "no change" in out and "to add" not in out
    plan = json.loads(_cli(operator, "acl", "plan", "--directory", str(path), "--json"))
    assert plan["in_sync"] and plan["add"] == [] and plan["remove"] == []
    assert plan["foreign"] == []  # the nodes are super users, the operator's ACLs are wanted

    bigger_file = _directory_file(tmp_path / "bigger.yaml", (NEW_COURT,))
    bigger = load_directory(bigger_file)
    all_topics = _topics_for(admin, bigger_file)
    new = f"court.{NEW_COURT['id']}"
    identities(new)
    mine = {f"{new}.outbox", f"{new}.inbox"}
    everyone = principals(bigger)
    tried = {
        c
        for c in all_cells(bigger, all_topics)
        if c[0] == new or c[2] in mine or c[2] == own_group(new)
    }
    prober = Prober(identities, timeout_s=8)
    commit = _commit_topics(expected_cells(bigger, all_topics), all_topics, everyone)

    # adding the court: apply grants exactly its cells (its own and the services' on its topics)
    applied = json.loads(_cli(operator, "acl", "apply", "--directory", str(bigger_file), "--json"))
    assert applied["removed"] == []
    assert applied["added"] and all(
        b["principal"] == new or b["name"] in mine for b in applied["added"]
    )
    added = {
        b for b in acl_admin.current(admin, acl_admin.admin_client(admin)) if b.principal == new
    }
    _wait_for_acls(admin, added)
    outcome = prober.run(tried, commit)
    expected = expected_cells(bigger, all_topics) & tried
    assert mismatches(outcome, expected, tried) == {}
    assert outcome.allowed == expected and len(expected) > 10
    assert "no change" in _cli(operator, "acl", "apply", "--directory", str(bigger_file))

    # removing it: apply with the old directory revokes exactly those cells
    removed = json.loads(_cli(operator, "acl", "apply", "--directory", str(path), "--json"))
    assert removed["added"] == []
    assert len(removed["removed"]) == len(applied["added"])
    _wait_for_acls(admin, set(), frozenset(added))
    outcome = prober.run(tried, commit)
    operators = {c for c in tried if c[0] == OPERATOR}  # ALL on every topic, as before
    assert mismatches(outcome, operators, tried) == {}
    assert outcome.denied == tried - operators
    assert "no change" in _cli(operator, "acl", "plan", "--directory", str(path))


# -- the clients the bus runs, on exactly their grants ---------------------------------------------

# the delegation flow's store name (its changelog exists); the probes' records there are not
# counts, and count as 0
COUNTS: StoreSpec[int] = StoreSpec(
    "delegations", lambda n: str(n).encode(), lambda b: int(b) if b.isdigit() else 0
)


class _CountingDelegation(Flow):
    """A flow with the delegation service's name, inputs and a store of its: counts records
    per key and tells court 320583, so a worker of it uses every right the service has
    (group, restore group, transactional id, inputs, changelog, an inbox, the OutputCheck's
    topic listing)."""

    name = "delegation"
    source = "bus:delegation-probe"
    inputs = Inputs(topics=("bus.delegation.events", "bus.delegation.caps"))
    stores = (COUNTS,)
    timers = True
    decode = False

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        key = (record.raw.key or b"").decode()
        table = state.table(COUNTS)
        seen = (table.get(key) or 0) + 1
        table.put(key, seen)
        return [Output("court.320583.inbox", record.raw.key, str(seen).encode(), [])]


def _run_worker(conn: Connection, state_dir: Path, until: Callable[[], bool]) -> Worker:
    config = WorkerConfig(conn, state_dir, tick_s=0.5, session_timeout_ms=6000)
    worker = Worker(_CountingDelegation(envelope=None), config)  # type: ignore[arg-type]
    failure: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:  # reported by the test
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: failure or until(), 60, "the worker's output")
    finally:
        worker.stop()
        thread.join(30)
    assert not failure, failure
    return worker


def test_a_service_worker_runs_on_its_grants(
    world: tuple[Path, Directory, Catalogue, list[str]],
    admin: Connection,
    identities: Login,
    tmp_path: Path,
) -> None:
    """The runtime as ``service.delegation``: consume, decide and produce in a transaction,
    changelog written and restored, on the plan's ACLs alone."""
    _path, directory, catalogue, _topics = world
    acl_admin.apply(admin, acl_admin.plan(admin, directory, catalogue))
    service = identities("service.delegation")
    key = f"d-{uuid.uuid4().hex[:8]}".encode()
    seeder = ck.Producer({**admin.librdkafka_settings(), "logger": _QUIET})
    seeder.produce("bus.delegation.events", key=key, value=b"{}")
    assert seeder.flush(10) == 0
    court = TopicReader(admin, "court.320583.inbox")

    def counted(n: int) -> bool:
        court.poll()
        return any(r.key == key and r.value == str(n).encode() for r in court.records)

    _run_worker(service, tmp_path, lambda: counted(1))
    seeder.produce("bus.delegation.events", key=key, value=b"{}")
    assert seeder.flush(10) == 0
    # a worker in a fresh state folder restores the count from the changelog (its restore
    # consumer on its own grants too) and counts on from it
    _run_worker(service, tmp_path / "fresh", lambda: counted(2))
    court.close()


def test_kafka_python_clients_as_a_court(
    world: tuple[Path, Directory, Catalogue, list[str]], admin: Connection, identities: Login
) -> None:
    """What the SDKs use: kafka-python's idempotent producer needs only WRITE on the outbox
    (no IDEMPOTENT_WRITE), its group consumer READ on the inbox and the group."""
    _path, directory, catalogue, _topics = world
    acl_admin.apply(admin, acl_admin.plan(admin, directory, catalogue))
    court = identities("court.3205")
    producer = KafkaProducer(**court.kafka_settings(), acks="all", max_block_ms=10_000)
    assert producer.config["enable_idempotence"]
    producer.send("court.3205.outbox", b"ok").get(timeout=10)
    with pytest.raises(TopicAuthorizationFailedError):
        producer.send("court.32.outbox", b"no").get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(
        "court.3205.inbox",
        **court.kafka_settings(),
        group_id="court.3205.inbox-reader",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    records = list(consumer)
    assert records and records[0].value == b"seed"
    consumer.commit()
    first = [r for r in records if r.partition == 0]
    assert consumer.committed(TopicPartition("court.3205.inbox", 0)) == first[-1].offset + 1
    consumer.close()
    stranger = KafkaConsumer(
        "court.3205.inbox",
        **court.kafka_settings(),
        group_id="court.32.inbox-reader",
        consumer_timeout_ms=5000,
    )
    with pytest.raises(GroupAuthorizationFailedError):
        list(stranger)
    stranger.close()
