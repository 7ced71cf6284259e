"""The topic catalogue (``topics/catalogue.yaml``) and the topic specs it derives.

Pure: YAML data and a ``Directory`` in, frozen ``TopicSpec`` values out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from courtbus.catalogue.directory import Directory
from courtbus.errors import ConfigError
from courtbus.flows.registry import LiveSequence, registered
from courtbus.resources import catalogue_path
from courtbus.yaml_files import read_yaml

DEFAULT_PATH = catalogue_path()
_DURATION = re.compile(r"^(\d+)(d|h|m|s)$")
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
MANAGED_PREFIXES = ("court.", "agency.", "bus.", "blacklist.", "restriction.", "group.")
# The flows whose views the feed router (services/feeds) sends to groups of courts.
GROUP_FLOWS: Sequence[str] = LiveSequence(
    lambda: tuple(s.name for s in registered() if s.view and s.view.feed and s.view.feed.groups)
)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic as the catalogue wants it."""

    name: str
    partitions: int
    replication: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Profile:
    """Replication settings for one kind of cluster."""

    replication: int
    min_insync_replicas: int


def parse_duration_ms(value: Any, where: str) -> str:
    """``30d`` → ``"2592000000"``; ``forever`` → ``"-1"``.

    Raises:
        ConfigError: ``CATALOGUE_INVALID``.
    """
    text = str(value).strip()
    if text == "forever":
        return "-1"
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(
            f"{where}: retention {value!r} is not like 30d, 12h, 15m, 60s or forever",
            code="CATALOGUE_INVALID",
        )
    return str(int(match.group(1)) * _UNIT_MS[match.group(2)])


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The catalogue's rules; ``specs`` applies them to a directory."""

    profiles: dict[str, Profile]
    participants: dict[str, dict[str, dict[str, Any]]]
    bus: dict[str, dict[str, Any]]
    overrides: dict[str, dict[str, Any]]
    source: str = "<memory>"
    # ``agency``: the rule of ``agency.<id>.<flow>`` per directory feed; ``group``: of
    # ``group.<name>.<flow>`` per directory group (the feed router's outputs).
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)

    def profile(self, name: str, brokers: int | None = None) -> Profile:
        """A profile by name; ``auto`` picks ``cluster`` for 3+ brokers, else ``single``.

        Raises:
            ConfigError: ``CATALOGUE_INVALID`` for an unknown profile.
        """
        if name == "auto":
            name = "cluster" if (brokers or 1) >= 3 else "single"
        if name not in self.profiles:
            raise ConfigError(
                f"{self.source}: no profile {name!r}; have {', '.join(self.profiles)}",
                code="CATALOGUE_INVALID",
            )
        return self.profiles[name]

    def specs(self, directory: Directory, profile: Profile) -> list[TopicSpec]:
        """Every topic for this directory, sorted by name."""
        wanted: dict[str, dict[str, Any]] = {}
        for court in directory.courts:
            for role, rule in self.participants.get("court", {}).items():
                wanted[f"court.{court.id}.{role}"] = dict(rule)
        for agency in directory.agencies:
            for role, rule in self.participants.get("agency", {}).items():
                wanted[f"agency.{agency.id}.{role}"] = dict(rule)
        if "agency" in self.feeds:
            for feed in directory.feeds:
                wanted[f"agency.{feed.agency}.{feed.flow}"] = dict(self.feeds["agency"])
        if "group" in self.feeds:
            for group in directory.groups:
                for flow in GROUP_FLOWS:
                    wanted[f"group.{group}.{flow}"] = dict(self.feeds["group"])
        for name, rule in self.bus.items():
            wanted[name] = dict(rule)
        for name, rule in self.overrides.items():
            if name not in wanted:
                raise ConfigError(
                    f"{self.source}: overrides.{name}: no such topic in the catalogue",
                    code="CATALOGUE_INVALID",
                )
            wanted[name].update(rule)
        return [self._spec(name, rule, profile) for name, rule in sorted(wanted.items())]

    def _spec(self, name: str, rule: dict[str, Any], profile: Profile) -> TopicSpec:
        where = f"{self.source}: topic {name}"
        if not _TOPIC.match(name):
            raise ConfigError(f"{where}: not a legal Kafka topic name", code="CATALOGUE_INVALID")
        unknown = set(rule) - {"partitions", "retention", "compacted", "max_message_bytes"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown setting(s) {', '.join(sorted(unknown))}",
                code="CATALOGUE_INVALID",
            )
        partitions = rule.get("partitions", 3)
        if not isinstance(partitions, int) or partitions < 1:
            raise ConfigError(
                f"{where}: partitions must be a positive integer", code="CATALOGUE_INVALID"
            )
        configs = {"min.insync.replicas": str(profile.min_insync_replicas)}
        if rule.get("compacted") and "retention" in rule:
            configs["cleanup.policy"] = "compact,delete"
            configs["retention.ms"] = parse_duration_ms(rule["retention"], where)
        elif rule.get("compacted"):
            configs["cleanup.policy"] = "compact"
        else:
            configs["cleanup.policy"] = "delete"
            configs["retention.ms"] = parse_duration_ms(rule.get("retention", "7d"), where)
        if "max_message_bytes" in rule:
            configs["max.message.bytes"] = str(int(rule["max_message_bytes"]))
        return TopicSpec(name, partitions, profile.replication, configs)


# The rules of the topics each flow's spec implies (``flow_topics``): its events kept for ever,
# its service's own topics, its view and its stores' changelogs, all co-partitioned (6).
FLOW_EVENTS_RULE: dict[str, Any] = {"partitions": 6, "retention": "forever"}
FLOW_OWN_TOPIC_RULE: dict[str, Any] = {"partitions": 6, "retention": "30d"}
FLOW_COMPACTED_RULE: dict[str, Any] = {"partitions": 6, "compacted": True}


def flow_topics() -> dict[str, dict[str, Any]]:
    """The ``bus`` topics of every registered flow (``courtbus.flows``): ``bus.<flow>.events``,
    the flow service's own topics, the view and ``bus.<flow>.<store>.changelog`` per store. The
    catalogue's ``bus`` section adds to them and may change their rules."""
    wanted: dict[str, dict[str, Any]] = {}
    for spec in registered():
        wanted[spec.events_topic] = dict(FLOW_EVENTS_RULE)
        for topic in spec.own_topics:
            wanted[topic] = dict(FLOW_OWN_TOPIC_RULE)
        if spec.view is not None:
            wanted[spec.view.topic] = dict(FLOW_COMPACTED_RULE)
        for changelog in spec.changelogs:
            wanted[changelog] = dict(FLOW_COMPACTED_RULE)
    return wanted


def parse_catalogue(raw: Any, source: str = "<memory>") -> Catalogue:
    """Validate catalogue data already read from YAML; its ``bus`` topics are the registered
    flows' (``flow_topics``) and the file's.

    Raises:
        ConfigError: ``CATALOGUE_INVALID``.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: must be a mapping", code="CATALOGUE_INVALID")
    profiles = {}
    for name, p in (raw.get("profiles") or {}).items():
        try:
            profiles[str(name)] = Profile(int(p["replication"]), int(p["min_insync_replicas"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{source}: profiles.{name}: needs replication and min_insync_replicas",
                code="CATALOGUE_INVALID",
            ) from exc
    if not profiles:
        raise ConfigError(f"{source}: no profiles", code="CATALOGUE_INVALID")
    participants = raw.get("participants") or {}
    for kind in participants:
        if kind not in ("court", "agency"):
            raise ConfigError(
                f"{source}: participants.{kind}: only court and agency", code="CATALOGUE_INVALID"
            )
    feeds = raw.get("feeds") or {}
    for kind in feeds:
        if kind not in ("agency", "group"):
            raise ConfigError(
                f"{source}: feeds.{kind}: only agency and group", code="CATALOGUE_INVALID"
            )
    bus = {**flow_topics(), **(raw.get("bus") or {})}  # the flows' topics, then the file's
    return Catalogue(profiles, participants, bus, raw.get("overrides") or {}, source, feeds)


def load_catalogue(path: Path = DEFAULT_PATH) -> Catalogue:
    """Read and validate a catalogue YAML file.

    Raises:
        ConfigError: ``CATALOGUE_INVALID`` or ``CONFIG_UNREADABLE``.
    """
    return parse_catalogue(read_yaml(path), str(path))
