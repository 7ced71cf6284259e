"""The ACLs the bus wants, derived from the directory and the topic catalogue, and the plan
that brings a cluster's ACLs there (reconciled like Strimzi's KafkaUser operator).

Pure: a ``Directory`` and a ``Catalogue`` in, frozen ``Binding`` values out; ``plan`` compares
them with the bindings a cluster holds (``courtbus.access.acl_admin`` reads and writes them).

What each principal gets (``courtbus.security.principals`` spells the names), and nothing else:

* a court ``court.<id>``: WRITE and DESCRIBE on ``court.<id>.outbox``, READ on
  ``court.<id>.inbox``, READ on the consumer groups prefixed ``court.<id>.`` and READ on
  ``group.<name>.blacklist`` of every directory group it belongs to (the feed router writes its
  members' list there for them: that topic has no other reader);
* an agency ``agency.<id>``: WRITE on ``agency.<id>.outbox``, READ on its notices
  (``agency.<id>.feed``) and on each feed the directory grants it (``agency.<id>.<flow>``), READ
  on the groups prefixed ``agency.<id>.``;
* a bus service ``service.<name>`` (``SERVICE_ACCESS``): READ on its inputs, on its changelogs
  (it restores its state from them), on its consumer group ``courtbus-<flow>`` and its restore
  consumer's ``courtbus-<flow>-restore`` (which joins nothing); WRITE on its
  outputs and changelogs; WRITE and DESCRIBE on the transactional ids prefixed
  ``courtbus-<flow>-`` (the worker's ``<group>-<state slot id>``; flow names are single words,
  so ``courtbus-feeds-`` cannot match another service's ids);
* the operator (trusted to run the bus, not a super user): what a node grants it when the
  stack starts (:func:`operator_bindings`), so ``apply`` keeps it: ALL on every topic, group
  and transactional id, and on the cluster what ``topics``, ``acl`` and ``credentials`` need.

Kafka 3+ lets an idempotent producer (kafka-python's default, librdkafka with
``enable.idempotence``) start with WRITE on any topic (KIP-679), so nobody needs
IDEMPOTENT_WRITE on the cluster; READ, WRITE and ALTER imply DESCRIBE (metadata, offsets).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from courtbus.bus.topics import (
    ALERTS_TOPIC,
    BLACKLIST_VIEW,
    DEADLETTER_TOPIC,
    DISTRIBUTION_VIEW,
    RESTRICTION_VIEW,
    flow_topic,
    inbox_topic,
)
from courtbus.catalogue.directory import Directory
from courtbus.catalogue.feeds import feed_topic, group_topic
from courtbus.catalogue.topics import GROUP_FLOWS, Catalogue
from courtbus.security.principals import (
    OPERATOR,
    SERVICES,
    agency_principal,
    court_principal,
    is_managed,
    service_principal,
)
from courtbus.wire.messages import FLOWS

CLUSTER = "kafka-cluster"  # the one name of Kafka's CLUSTER resource
ANY_NAME = "*"  # a LITERAL "*" matches every topic (group, transactional id)


class Resource(StrEnum):
    """Kafka's ACL resource types the bus uses."""

    TOPIC = "TOPIC"
    GROUP = "GROUP"
    TRANSACTIONAL_ID = "TRANSACTIONAL_ID"
    CLUSTER = "CLUSTER"
    UNKNOWN = "UNKNOWN"  # a type the client cannot name (delegation tokens, users): reported


class Pattern(StrEnum):
    """How a binding's resource name matches: exactly, or as a prefix."""

    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"
    UNKNOWN = "UNKNOWN"


class Operation(StrEnum):
    """Kafka's ACL operations (those named in a plan; a cluster may hold others)."""

    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DELETE = "DELETE"
    ALTER = "ALTER"
    DESCRIBE = "DESCRIBE"
    CLUSTER_ACTION = "CLUSTER_ACTION"
    DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"
    ALTER_CONFIGS = "ALTER_CONFIGS"
    IDEMPOTENT_WRITE = "IDEMPOTENT_WRITE"
    ALL = "ALL"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True, order=True)
class Binding:
    """One ACL: ``principal`` (its name, without ``User:``) may (or may not) do ``operation``
    on a resource, from ``host``."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation
    allow: bool = True
    host: str = "*"

    def describe(self) -> str:
        """``court.32 READ TOPIC court.32.inbox`` (``PREFIXED`` noted, a DENY or a host too)."""
        text = f"{self.principal} {self.operation} {self.resource} {self.name}"
        if self.pattern is Pattern.PREFIXED:
            text += "* (prefixed)"
        if not self.allow:
            text = "DENY " + text
        if self.host != "*":
            text += f" from {self.host}"
        return text


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    """What one bus service reads and writes besides its changelogs.

    ``flow`` is its flow's name (``courtbus.runtime.Flow.name``): its group is
    ``courtbus-<flow>``, its changelogs ``bus.<flow>.<store>.changelog``. ``notices``: it
    refuses records and tells their senders, so it writes every court's inbox and every
    agency's notices (``agency.<id>.feed``); ``outboxes``: it reads every outbox (the gateway);
    ``feeds``: it writes every granted agency feed and every court group's list (the router).
    """

    flow: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    notices: bool = True
    outboxes: bool = False
    feeds: bool = False


_RESTRICTION_VIEW = RESTRICTION_VIEW
_DISTRIBUTION_VIEW = DISTRIBUTION_VIEW
_ALWAYS = (DEADLETTER_TOPIC, ALERTS_TOPIC)  # the engine's refusals and alerts, any service

# Every service's topics, from its flow (services/*/flow.py: ``inputs``, ``raw_topics``, what
# ``on_event``/``on_tick`` return); tests/unit/test_acl.py holds this table to the flows.
SERVICE_ACCESS: dict[str, ServiceAccess] = {
    "gateway": ServiceAccess(
        "gateway", outputs=(*(flow_topic(f) for f in FLOWS), *_ALWAYS), outboxes=True
    ),
    "delegation": ServiceAccess(
        "delegation",
        inputs=(flow_topic("delegation"), "bus.delegation.caps"),
        outputs=(flow_topic("delegation"), "bus.delegation.caps", *_ALWAYS),
    ),
    "blacklist": ServiceAccess(
        "blacklist",
        inputs=(flow_topic("blacklist"), "bus.blacklist.debtors", BLACKLIST_VIEW),
        outputs=(BLACKLIST_VIEW, "bus.blacklist.debtors", *_ALWAYS),
    ),
    "restriction": ServiceAccess(
        "restriction",
        inputs=(flow_topic("restriction"), BLACKLIST_VIEW),
        outputs=(_RESTRICTION_VIEW, *_ALWAYS),
    ),
    "distribution": ServiceAccess(
        "distribution",
        inputs=(flow_topic("distribution"),),
        outputs=(flow_topic("distribution"), _DISTRIBUTION_VIEW, *_ALWAYS),
    ),
    "feeds": ServiceAccess(
        "feeds",
        inputs=(BLACKLIST_VIEW, _RESTRICTION_VIEW),
        outputs=_ALWAYS,
        notices=False,  # it tells nobody: what it cannot route goes to the dead letters
        feeds=True,
    ),
    "projector": ServiceAccess(
        "projector",
        inputs=(
            flow_topic("delegation"),
            DEADLETTER_TOPIC,
            ALERTS_TOPIC,
            BLACKLIST_VIEW,
            _RESTRICTION_VIEW,
            _DISTRIBUTION_VIEW,
        ),
        outputs=_ALWAYS,
    ),
    "watchdog": ServiceAccess(
        "watchdog",
        inputs=(
            flow_topic("casestatus"),
            "bus.watchdog.items",
            BLACKLIST_VIEW,
            _RESTRICTION_VIEW,
            flow_topic("delegation"),
        ),
        outputs=("bus.watchdog.items", *_ALWAYS),
    ),
}


def service_group(flow: str) -> str:
    """The consumer group of a service's workers: ``courtbus-<flow>`` (the runtime's default)."""
    return f"courtbus-{flow}"


def restore_group(flow: str) -> str:
    """The ``group.id`` of a service's restore consumer, ``courtbus-<flow>-restore``: it only
    reads assigned changelog ranges and joins nothing, but librdkafka still looks its group's
    coordinator up (FindCoordinator needs DESCRIBE on the group), and a refusal there is an
    error the restore gives up on."""
    return f"{service_group(flow)}-restore"


def transactional_prefix(flow: str) -> str:
    """The prefix of a service's transactional ids: ``courtbus-<flow>-`` (the worker's are
    ``<group>-<state slot id>``), ending in the delimiter so no other flow's ids match."""
    return f"{service_group(flow)}-"


def court_group_prefix(court_id: str) -> str:
    """The prefix of the consumer groups a court may use: ``court.<id>.``."""
    return f"{court_principal(court_id)}."


def agency_group_prefix(agency_id: str) -> str:
    """The prefix of the consumer groups an agency may use: ``agency.<id>.``."""
    return f"{agency_principal(agency_id)}."


def changelogs(catalogue: Catalogue, flow: str) -> tuple[str, ...]:
    """The changelog topics of a flow's stores, as the catalogue lists them."""
    start = f"bus.{flow}."
    return tuple(
        sorted(t for t in catalogue.bus if t.startswith(start) and t.endswith(".changelog"))
    )


def _topic(principal: str, name: str, *ops: Operation) -> list[Binding]:
    return [Binding(principal, Resource.TOPIC, name, Pattern.LITERAL, op) for op in ops]


def court_bindings(directory: Directory, court_id: str) -> list[Binding]:
    """A court's ACLs (see the module docstring)."""
    who = court_principal(court_id)
    found = [
        *_topic(who, f"court.{court_id}.outbox", Operation.WRITE, Operation.DESCRIBE),
        *_topic(who, inbox_topic("court", court_id), Operation.READ),
        Binding(
            who, Resource.GROUP, court_group_prefix(court_id), Pattern.PREFIXED, Operation.READ
        ),
    ]
    for group, members in directory.groups.items():
        if court_id in members:
            for flow in GROUP_FLOWS:
                found += _topic(who, group_topic(group, flow), Operation.READ)
    return found


def agency_bindings(directory: Directory, agency_id: str) -> list[Binding]:
    """An agency's ACLs (see the module docstring)."""
    who = agency_principal(agency_id)
    found = [
        *_topic(who, f"agency.{agency_id}.outbox", Operation.WRITE),
        *_topic(who, inbox_topic("agency", agency_id), Operation.READ),
        Binding(
            who, Resource.GROUP, agency_group_prefix(agency_id), Pattern.PREFIXED, Operation.READ
        ),
    ]
    for feed in directory.feeds:
        if feed.agency == agency_id:
            found += _topic(who, feed_topic(agency_id, feed.flow), Operation.READ)
    return found


def service_bindings(directory: Directory, catalogue: Catalogue, name: str) -> list[Binding]:
    """A bus service's ACLs (see the module docstring)."""
    who = service_principal(name)
    access = SERVICE_ACCESS[name]
    reads = set(access.inputs)
    writes = set(access.outputs)
    own = changelogs(catalogue, access.flow)
    reads.update(own)
    writes.update(own)
    if access.outboxes:
        reads.update(f"court.{c.id}.outbox" for c in directory.courts)
        reads.update(f"agency.{a.id}.outbox" for a in directory.agencies)
    if access.notices:
        writes.update(inbox_topic("court", c.id) for c in directory.courts)
        writes.update(inbox_topic("agency", a.id) for a in directory.agencies)
    if access.feeds:
        writes.update(feed_topic(f.agency, f.flow) for f in directory.feeds)
        writes.update(group_topic(g, flow) for g in directory.groups for flow in GROUP_FLOWS)
    found = [b for t in sorted(reads) for b in _topic(who, t, Operation.READ)]
    found += [b for t in sorted(writes) for b in _topic(who, t, Operation.WRITE)]
    for group in (service_group(access.flow), restore_group(access.flow)):
        found.append(Binding(who, Resource.GROUP, group, Pattern.LITERAL, Operation.READ))
    prefix = transactional_prefix(access.flow)
    for op in (Operation.WRITE, Operation.DESCRIBE):
        found.append(Binding(who, Resource.TRANSACTIONAL_ID, prefix, Pattern.PREFIXED, op))
    return found


def operator_bindings() -> list[Binding]:
    """The operator's ACLs, which a node grants it when a secure stack starts
    (``courtbus.access.bootstrap``) and ``apply`` keeps: on the cluster ALTER (ACLs, SCRAM
    users), ALTER_CONFIGS, CREATE, DESCRIBE, DESCRIBE_CONFIGS and IDEMPOTENT_WRITE; ALL on every
    topic, consumer group and transactional id (it creates topics, replays dead letters, and
    the registry's storage runs under it)."""
    cluster_ops = (
        Operation.ALTER,
        Operation.ALTER_CONFIGS,
        Operation.CREATE,
        Operation.DESCRIBE,
        Operation.DESCRIBE_CONFIGS,
        Operation.IDEMPOTENT_WRITE,
    )
    found = [
        Binding(OPERATOR, Resource.CLUSTER, CLUSTER, Pattern.LITERAL, op) for op in cluster_ops
    ]
    for kind in (Resource.TOPIC, Resource.GROUP, Resource.TRANSACTIONAL_ID):
        found.append(Binding(OPERATOR, kind, ANY_NAME, Pattern.LITERAL, Operation.ALL))
    return found


def desired(directory: Directory, catalogue: Catalogue) -> frozenset[Binding]:
    """Every ACL the bus wants for this directory."""
    found: list[Binding] = []
    for court in directory.courts:
        found += court_bindings(directory, court.id)
    for agency in directory.agencies:
        found += agency_bindings(directory, agency.id)
    for name in SERVICES:
        found += service_bindings(directory, catalogue, name)
    found += operator_bindings()
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class AclPlan:
    """How a cluster's ACLs differ from the wanted ones.

    ``add``: wanted and missing; ``remove``: held for a principal the bus manages
    (``principals.is_managed``) and not wanted; ``foreign``: held for anyone else (another
    application, a node, an administrator), or of a kind the client cannot name: reported,
    never removed; ``kept``: wanted and held.
    """

    add: tuple[Binding, ...]
    remove: tuple[Binding, ...]
    foreign: tuple[Binding, ...] = ()
    kept: int = 0
    principals: tuple[str, ...] = field(default=())

    @property
    def in_sync(self) -> bool:
        """Nothing to add and nothing to remove."""
        return not self.add and not self.remove


def _nameable(b: Binding) -> bool:
    unknown = (Resource.UNKNOWN, Pattern.UNKNOWN, Operation.UNKNOWN)
    return not any(part in unknown for part in (b.resource, b.pattern, b.operation))


def plan(wanted: Iterable[Binding], current: Iterable[Binding]) -> AclPlan:
    """The changes that make ``current`` (a cluster's bindings) hold ``wanted``."""
    want = frozenset(wanted)
    have = frozenset(current)
    ours = {b for b in have if is_managed(b.principal) and _nameable(b)}
    return AclPlan(
        add=tuple(sorted(want - have)),
        remove=tuple(sorted(ours - want)),
        foreign=tuple(sorted(have - ours)),
        kept=len(want & have),
        principals=tuple(sorted({b.principal for b in want})),
    )
