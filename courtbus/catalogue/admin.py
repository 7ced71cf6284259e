"""Compare the topic catalogue with a live cluster (``plan``) and make them match (``apply``).

Never deletes a topic and never shrinks one: Kafka cannot remove partitions, and a topic the
catalogue no longer names may still hold records someone needs. Both are reported instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import KafkaError

from courtbus.catalogue.topics import MANAGED_PREFIXES, TopicSpec
from courtbus.errors import ClusterError


class ActionKind(StrEnum):
    """What ``apply`` will do, or what it can only report."""

    CREATE = "create"
    ADD_PARTITIONS = "add-partitions"
    ALTER_CONFIG = "alter-config"
    CANNOT_SHRINK = "cannot-shrink"  # reported only
    REPLICATION_DIFFERS = "replication-differs"  # reported only: needs a reassignment
    UNMANAGED = "not-in-catalogue"  # reported only: never deleted


REPORT_ONLY = frozenset(
    {ActionKind.CANNOT_SHRINK, ActionKind.REPLICATION_DIFFERS, ActionKind.UNMANAGED}
)


@dataclass(frozen=True, slots=True)
class Action:
    """One difference between catalogue and cluster."""

    kind: ActionKind
    topic: str
    detail: str
    spec: TopicSpec | None = None
    config: tuple[str, str] | None = None

    @property
    def applies(self) -> bool:
        """True if ``apply`` carries it out (others are only reported)."""
        return self.kind not in REPORT_ONLY


@dataclass(frozen=True, slots=True)
class TopicState:
    """A topic as the cluster has it."""

    partitions: int
    replication: int
    configs: dict[str, str]


def admin_client(settings: dict[str, Any]) -> KafkaAdminClient:
    """An admin client for ``settings`` (kafka-python keyword arguments).

    Raises:
        ClusterError: ``CLUSTER_UNREACHABLE``.
    """
    try:
        return KafkaAdminClient(**settings, request_timeout_ms=15000)
    except KafkaError as exc:
        raise ClusterError(
            f"cannot reach Kafka at {settings.get('bootstrap_servers')}: {exc}",
            code="CLUSTER_UNREACHABLE",
        ) from exc


def broker_count(admin: KafkaAdminClient) -> int:
    """Number of live brokers."""
    return len(admin.describe_cluster()["brokers"])


def cluster_state(admin: KafkaAdminClient, names: Sequence[str]) -> dict[str, TopicState]:
    """Partitions, replication and managed configs of every managed topic that exists."""
    existing = [t for t in admin.list_topics() if t.startswith(MANAGED_PREFIXES) or t in names]
    existing = [t for t in existing if not t.startswith("bus.registry.")]
    if not existing:
        return {}
    described = {d["name"]: d for d in admin.describe_topics(existing) if d["error_code"] == 0}
    resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in described]
    configs = admin.describe_configs(resources, config_filter="all")["topic"]
    states = {}
    for name, info in described.items():
        parts = info["partitions"]
        replication = max((len(p["replica_nodes"]) for p in parts), default=0)
        values = {k: str(v["value"]) for k, v in configs.get(name, {}).items()}
        states[name] = TopicState(len(parts), replication, values)
    return states


def plan(specs: Sequence[TopicSpec], state: dict[str, TopicState]) -> list[Action]:
    """The actions that make ``state`` match ``specs`` (pure; no I/O)."""
    actions: list[Action] = []
    wanted = {s.name for s in specs}
    for spec in specs:
        have = state.get(spec.name)
        if have is None:
            detail = f"{spec.partitions} partitions, replication {spec.replication}"
            actions.append(Action(ActionKind.CREATE, spec.name, detail, spec))
            continue
        if spec.partitions > have.partitions:
            actions.append(
                Action(
                    ActionKind.ADD_PARTITIONS,
                    spec.name,
                    f"{have.partitions} → {spec.partitions}",
                    spec,
                )
            )
        elif spec.partitions < have.partitions:
            actions.append(
                Action(
                    ActionKind.CANNOT_SHRINK,
                    spec.name,
                    f"has {have.partitions}, catalogue says {spec.partitions}",
                    spec,
                )
            )
        if spec.replication != have.replication:
            actions.append(
                Action(
                    ActionKind.REPLICATION_DIFFERS,
                    spec.name,
                    f"has {have.replication}, catalogue says {spec.replication}",
                    spec,
                )
            )
        for key, value in sorted(spec.configs.items()):
            current = have.configs.get(key)
            if current != value:
                actions.append(
                    Action(
                        ActionKind.ALTER_CONFIG,
                        spec.name,
                        f"{key}: {current} → {value}",
                        spec,
                        (key, value),
                    )
                )
    for name in sorted(set(state) - wanted):
        actions.append(
            Action(ActionKind.UNMANAGED, name, "exists but the catalogue does not name it")
        )
    return actions


def apply(
    admin: KafkaAdminClient,
    actions: Sequence[Action],
    progress: Callable[[Action], None] | None = None,
) -> list[Action]:
    """Carry out every applicable action; returns those carried out.

    Raises:
        ClusterError: ``CLUSTER_REFUSED`` naming the topic and the broker's reason.
    """
    done: list[Action] = []
    creates = [a for a in actions if a.kind is ActionKind.CREATE and a.spec]
    if creates:
        new = [
            NewTopic(
                a.topic, a.spec.partitions, a.spec.replication, topic_configs=dict(a.spec.configs)
            )
            for a in creates
            if a.spec
        ]
        result = admin.create_topics(new, raise_errors=False)
        for topic in result["topics"]:
            if topic["error_code"] not in (0, 36):  # 36: already exists (a concurrent apply)
                raise ClusterError(
                    f"creating {topic['name']}: {topic['error_message']}", code="CLUSTER_REFUSED"
                )
        done += creates
    adds = [a for a in actions if a.kind is ActionKind.ADD_PARTITIONS and a.spec]
    if adds:
        response = admin.create_partitions(
            {a.topic: NewPartitions(a.spec.partitions) for a in adds if a.spec}, raise_errors=False
        )
        for res in response.results:
            if res.error_code != 0:
                raise ClusterError(
                    f"adding partitions to {res.name}: {res.error_message}", code="CLUSTER_REFUSED"
                )
        done += adds
    alters: dict[str, dict[str, str]] = {}
    for a in actions:
        if a.kind is ActionKind.ALTER_CONFIG and a.config:
            alters.setdefault(a.topic, {})[a.config[0]] = a.config[1]
    if alters:
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, t, configs=c) for t, c in alters.items()
        ]
        result = admin.alter_configs(resources)
        for topic, outcome in result.get("topic", {}).items():
            if outcome != "OK":
                raise ClusterError(
                    f"altering configs of {topic}: {outcome}", code="CLUSTER_REFUSED"
                )
        done += [a for a in actions if a.kind is ActionKind.ALTER_CONFIG]
    for a in done:
        if progress:
            progress(a)
    return done
