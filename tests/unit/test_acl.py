"""The ACLs derived from the directory (courtbus.access.acl): each principal's rules, the
service table held to the flows it describes, and the plan's reconciliation."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from courtbus.access.acl import (
    SERVICE_ACCESS,
    Binding,
    Operation,
    Pattern,
    Resource,
    changelogs,
    desired,
    plan,
    restore_group,
    service_group,
    transactional_prefix,
)
from courtbus.bus.topics import OUTBOX
from courtbus.catalogue.directory import DEFAULT_PATH as DIRECTORY_PATH
from courtbus.catalogue.directory import Directory, load_directory, parse_directory
from courtbus.catalogue.topics import Catalogue, load_catalogue
from courtbus.config import Connection
from courtbus.runtime.config import WorkerConfig
from courtbus.runtime.flow import TIMERS, Flow, Inputs
from courtbus.runtime.worker import Worker
from courtbus.security.principals import SERVICES
from courtbus.yaml_files import read_yaml
from services.blacklist.flow import BlacklistFlow
from services.delegation.flow import DelegationFlow
from services.distribution.flow import DistributionFlow
from services.feeds.flow import FeedsFlow
from services.gateway.flow import GatewayFlow
from services.projector.flow import ProjectorFlow
from services.restriction.flow import RestrictionFlow
from services.watchdog.flow import WatchdogFlow

FLOWS: dict[str, type[Flow]] = {
    "gateway": GatewayFlow,
    "delegation": DelegationFlow,
    "blacklist": BlacklistFlow,
    "restriction": RestrictionFlow,
    "distribution": DistributionFlow,
    "feeds": FeedsFlow,
    "projector": ProjectorFlow,
    "watchdog": WatchdogFlow,
}


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory()


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def wanted(directory: Directory, catalogue: Catalogue) -> frozenset[Binding]:
    return desired(directory, catalogue)


def _matches(b: Binding, resource: Resource, name: str) -> bool:
    """Whether ``b`` covers ``name`` of ``resource``, as Kafka's authorizer matches."""
    if b.resource is not resource:
        return False
    if b.pattern is Pattern.PREFIXED:
        return name.startswith(b.name)
    return b.name in (name, "*")


def _may(wanted: frozenset[Binding], who: str, op: Operation, res: Resource, name: str) -> bool:
    return any(b.principal == who and b.operation is op and _matches(b, res, name) for b in wanted)


# -- the service table against the flows ---------------------------------------------------------


def test_every_service_is_described() -> None:
    assert set(SERVICE_ACCESS) == set(SERVICES) == set(FLOWS)
    for name, flow in FLOWS.items():
        assert SERVICE_ACCESS[name].flow == flow.name


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_inputs_are_the_flows(name: str) -> None:
    flow = FLOWS[name]
    access = SERVICE_ACCESS[name]
    if flow.inputs.pattern:
        assert flow.inputs.pattern == OUTBOX.pattern and access.outboxes
    else:
        assert set(access.inputs) == set(flow.inputs.topics)
    # a flow's own (internal) topics that it also writes are outputs
    written_internal = set(flow.raw_topics) & set(access.outputs)
    assert written_internal <= set(flow.inputs.topics)


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_changelogs_are_the_flows_stores(name: str, catalogue: Catalogue) -> None:
    flow = FLOWS[name]
    stores = [s.name for s in flow.stores] + ([TIMERS] if flow.timers else [])
    assert set(changelogs(catalogue, flow.name)) == {
        f"bus.{flow.name}.{s}.changelog" for s in stores
    }


def test_transactional_prefixes_are_unambiguous() -> None:
    """Each prefix ends in the delimiter and no other flow's ids (``courtbus-<flow>-<slot>``)
    start with it: flow names are single words."""
    names = [f.name for f in FLOWS.values()]
    for name in names:
        assert re.fullmatch(r"[a-z]+", name)
        prefix = transactional_prefix(name)
        assert prefix.endswith("-")
        others = [f"{service_group(o)}-0a1b2c3d4e5f" for o in names if o != name]
        assert not any(i.startswith(prefix) for i in others)
    assert not f"{service_group('gateway2')}-x".startswith(transactional_prefix("gateway"))


def test_the_restore_consumer_uses_the_restore_group(monkeypatch: pytest.MonkeyPatch) -> None:
    import courtbus.runtime.changelogs as changelogs_module

    made: list[dict[str, Any]] = []
    monkeypatch.setattr(changelogs_module, "Consumer", lambda config: made.append(config))
    config = WorkerConfig(Connection("127.0.0.1:9", None), Path("/nonexistent"))
    flow = object.__new__(DelegationFlow)  # only its class attributes are read
    changelogs_module.Changelogs(flow, config)._consumer()
    assert made[0]["group.id"] == restore_group("delegation")


def test_the_runtime_uses_the_service_group() -> None:
    class Probe(Flow):
        name = "probe"
        source = "bus:probe"
        inputs = Inputs(topics=("t",))

        def on_event(self, record: Any, state: Any) -> list[Any]:
            return []

    config = WorkerConfig(Connection("127.0.0.1:9", None), Path("/nonexistent"))
    assert Worker(Probe(envelope=None), config).group == service_group("probe")  # type: ignore[arg-type]


# -- each principal's rules ---------------------------------------------------------------------


def test_a_court(wanted: frozenset[Binding]) -> None:
    mine = sorted(b.describe() for b in wanted if b.principal == "court.320583")
    assert mine == [
        "court.320583 DESCRIBE TOPIC court.320583.outbox",
        "court.320583 READ GROUP court.320583.* (prefixed)",
        "court.320583 READ TOPIC court.320583.inbox",
        "court.320583 READ TOPIC group.suzhou.blacklist",
        "court.320583 WRITE TOPIC court.320583.outbox",
    ]


def test_a_court_prefix_is_its_own(wanted: frozenset[Binding]) -> None:
    """``court.32.`` (Jiangsu High) cannot match the groups of 3205 or 320583."""
    G, T = Resource.GROUP, Resource.TOPIC
    assert _may(wanted, "court.32", Operation.READ, G, "court.32.inbox-reader")
    assert not _may(wanted, "court.32", Operation.READ, G, "court.3205.inbox-reader")
    assert not _may(wanted, "court.32", Operation.READ, G, "court.320583.x")
    assert not _may(wanted, "court.32", Operation.READ, T, "court.3205.inbox")
    assert not _may(wanted, "court.3205", Operation.WRITE, T, "court.32.outbox")


def test_an_agency(wanted: frozenset[Binding]) -> None:
    mine = sorted(b.describe() for b in wanted if b.principal == "agency.nia")
    assert mine == [
        "agency.nia READ GROUP agency.nia.* (prefixed)",
        "agency.nia READ TOPIC agency.nia.feed",
        "agency.nia READ TOPIC agency.nia.restriction",
        "agency.nia WRITE TOPIC agency.nia.outbox",
    ]
    assert not _may(wanted, "agency.nia", Operation.READ, Resource.TOPIC, "agency.caac.restriction")
    assert not _may(wanted, "agency.icbc", Operation.READ, Resource.TOPIC, "blacklist.entries")


def test_participants_touch_only_their_own_topics(
    wanted: frozenset[Binding], directory: Directory
) -> None:
    for b in wanted:
        if b.principal.startswith(("court.", "agency.")):
            own = b.principal + "."
            kind, pid = b.principal.split(".", 1)
            groups = {f"group.{g}.blacklist" for g, m in directory.groups.items() if pid in m}
            assert b.name.startswith(own) or (kind == "court" and b.name in groups), b
            assert b.operation in (Operation.READ, Operation.WRITE, Operation.DESCRIBE)
            assert b.allow and b.host == "*"


def test_a_service(wanted: frozenset[Binding]) -> None:
    who = "service.delegation"
    T = Resource.TOPIC
    assert _may(wanted, who, Operation.READ, T, "bus.delegation.events")
    assert _may(wanted, who, Operation.WRITE, T, "court.320583.inbox")
    assert _may(wanted, who, Operation.WRITE, T, "bus.delegation.timers.changelog")
    assert _may(wanted, who, Operation.READ, T, "bus.delegation.timers.changelog")
    assert _may(wanted, who, Operation.READ, Resource.GROUP, "courtbus-delegation")
    assert _may(wanted, who, Operation.READ, Resource.GROUP, "courtbus-delegation-restore")
    assert not _may(wanted, who, Operation.READ, Resource.GROUP, "courtbus-delegation2")
    for op in (Operation.WRITE, Operation.DESCRIBE):
        assert _may(wanted, who, op, Resource.TRANSACTIONAL_ID, "courtbus-delegation-0a1b2c3d4e5f")
        assert not _may(wanted, who, op, Resource.TRANSACTIONAL_ID, "courtbus-distribution-0a1b")
    # no service writes an outbox (the gateway trusts the outbox as the sender's identity)
    for b in wanted:
        if b.principal.startswith("service.") and b.operation is Operation.WRITE:
            assert not OUTBOX.match(b.name), b
    assert _may(wanted, "service.gateway", Operation.READ, T, "agency.nia.outbox")
    assert not _may(wanted, "service.gateway", Operation.READ, T, "court.320583.inbox")
    assert _may(wanted, "service.feeds", Operation.WRITE, T, "agency.nia.restriction")
    assert _may(wanted, "service.feeds", Operation.WRITE, T, "group.suzhou.blacklist")
    assert not _may(wanted, "service.blacklist", Operation.WRITE, T, "agency.nia.restriction")


def test_the_operator_keeps_what_the_stack_granted_it(wanted: frozenset[Binding]) -> None:
    """apply must not take away the rights the operator runs it with (the stack's grant)."""
    from courtbus.access import bootstrap
    from courtbus.access.acl_admin import to_binding

    granted = {to_binding(b) for b in bootstrap.operator_bindings()}
    assert granted == {b for b in wanted if b.principal == "operator"}
    assert _may(wanted, "operator", Operation.ALTER, Resource.CLUSTER, "kafka-cluster")
    assert _may(wanted, "operator", Operation.ALL, Resource.TOPIC, "*")


def test_only_the_operator_holds_idempotent_write_or_all(wanted: frozenset[Binding]) -> None:
    strong = {b for b in wanted if b.operation in (Operation.IDEMPOTENT_WRITE, Operation.ALL)}
    assert strong and {b.principal for b in strong} == {"operator"}


# -- the plan -----------------------------------------------------------------------------------


def test_unchanged_is_in_sync(wanted: frozenset[Binding]) -> None:
    result = plan(wanted, wanted)
    assert result.in_sync and result.kept == len(wanted) and not result.foreign


def test_first_plan_adds_everything(wanted: frozenset[Binding]) -> None:
    result = plan(wanted, [])
    assert set(result.add) == wanted and not result.remove and not result.in_sync


def test_extra_managed_removed_foreign_kept(wanted: frozenset[Binding]) -> None:
    extra = Binding("court.32", Resource.TOPIC, "court.3205.inbox", Pattern.LITERAL, Operation.READ)
    denied = replace(extra, name="court.32.inbox", allow=False)
    other_host = replace(extra, name="court.32.inbox", host="10.0.0.1")
    foreign = [
        Binding("admin", Resource.TOPIC, "*", Pattern.LITERAL, Operation.ALL),
        Binding(
            "Group:court.32", Resource.TOPIC, "court.32.inbox", Pattern.LITERAL, Operation.READ
        ),
        Binding(
            "node.1", Resource.CLUSTER, "kafka-cluster", Pattern.LITERAL, Operation.CLUSTER_ACTION
        ),
        Binding("court.32", Resource.UNKNOWN, "x", Pattern.LITERAL, Operation.READ),
    ]
    result = plan(wanted, [*wanted, extra, denied, other_host, *foreign])
    assert set(result.remove) == {extra, denied, other_host}
    assert set(result.foreign) == set(foreign)
    assert not result.add


def _court_added(directory: Directory) -> Directory:
    raw = read_yaml(DIRECTORY_PATH)
    raw["courts"].append(
        {
            "id": "320505",
            "designation": "苏0505",
            "name": "苏州市虎丘区人民法院",
            "province": "江苏省",
            "level": "basic",
        }
    )
    return parse_directory(raw)


def test_adding_a_court_adds_exactly_its_cells(
    directory: Directory, catalogue: Catalogue, wanted: frozenset[Binding]
) -> None:
    bigger = desired(_court_added(directory), catalogue)
    result = plan(bigger, wanted)
    assert not result.remove
    added = {b.describe() for b in result.add}
    court = {b.describe() for b in result.add if b.principal == "court.320505"}
    assert court == {
        "court.320505 WRITE TOPIC court.320505.outbox",
        "court.320505 DESCRIBE TOPIC court.320505.outbox",
        "court.320505 READ TOPIC court.320505.inbox",
        "court.320505 READ GROUP court.320505.* (prefixed)",
    }
    services = added - court
    assert "service.gateway READ TOPIC court.320505.outbox" in services
    assert all(
        b.name in ("court.320505.outbox", "court.320505.inbox", "court.320505.") for b in result.add
    )
    # and removing it again takes exactly those away
    back = plan(wanted, bigger)
    assert set(back.remove) == set(result.add) and not back.add
