"""Operations shared by the CLI, the demo and the tests: apply topics, register schemas.

Each takes explicit inputs and returns what it did; printing is the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from courtbus.catalogue import admin as adm
from courtbus.catalogue.directory import DEFAULT_PATH as DIRECTORY_PATH
from courtbus.catalogue.directory import Directory, load_directory
from courtbus.catalogue.feeds import feed_routes
from courtbus.catalogue.topics import DEFAULT_PATH as CATALOGUE_PATH
from courtbus.catalogue.topics import TopicSpec, load_catalogue
from courtbus.config import Connection, env_http_settings
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet


@dataclass(frozen=True, slots=True)
class TopicPlan:
    """The catalogue's topics and how the cluster differs from them."""

    specs: list[TopicSpec]
    actions: list[adm.Action]


def plan_topics(
    conn: Connection,
    catalogue: Path | None = None,
    directory: Path | None = None,
    profile: str = "auto",
) -> TopicPlan:
    """Compare catalogue + directory with the cluster.

    Raises:
        ConfigError: invalid catalogue or directory.
        ClusterError: the cluster is unreachable.
    """
    cat = load_catalogue(catalogue or CATALOGUE_PATH)
    dirs = load_directory(directory or DIRECTORY_PATH)
    client = adm.admin_client(conn.kafka_settings())
    try:
        specs = cat.specs(dirs, cat.profile(profile, adm.broker_count(client)))
        actions = adm.plan(specs, adm.cluster_state(client, [s.name for s in specs]))
    finally:
        client.close()
    return TopicPlan(specs, actions)


def apply_topics(conn: Connection, plan: TopicPlan) -> list[adm.Action]:
    """Carry out a plan's applicable actions; returns them.

    Raises:
        ClusterError: the cluster refused a change.
    """
    client = adm.admin_client(conn.kafka_settings())
    try:
        return adm.apply(client, plan.actions)
    finally:
        client.close()


def _registry(target: str | Connection) -> RegistryClient:
    """A registry client for a URL, or for a connection (with its TLS and credentials)."""
    if isinstance(target, Connection):
        return RegistryClient.for_connection(target)
    return RegistryClient(target, http=env_http_settings())


def register_schemas(
    registry_url: str | Connection,
    schemas: SchemaSet,
    compatibility: str = "FULL_TRANSITIVE",
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Register every message schema under its full name and set the subject's rule.

    Returns the schema id of each subject.

    Raises:
        RegistryError: ``REGISTRY_INCOMPATIBLE`` if a schema breaks the subject's rule.
    """
    ids: dict[str, int] = {}
    with _registry(registry_url) as client:
        for name, message in sorted(schemas.messages.items()):
            ids[name] = client.register(name, message.text)
            if client.compatibility(name) != compatibility:
                client.set_compatibility(name, compatibility)
            if progress:
                progress(name)
    return ids


def register_feed_schemas(
    registry_url: str | Connection, schemas: SchemaSet, directory: Directory | None = None
) -> dict[str, int]:
    """Register each agency feed's projected schema (``cn.court.bus.feed.<agency>.<Record>``,
    ``courtbus.catalogue.feeds.feed_routes``) for the directory's feeds; the id of each.

    The feed router registers them itself on a registry that lets it; on a secure stack only
    the operator may register, so the operator does it here (``schemas register``, the demo).

    Raises:
        RegistryError: the registry refused a schema or failed.
    """
    ids: dict[str, int] = {}
    with _registry(registry_url) as client:
        for route in feed_routes(directory or load_directory(), schemas):
            ids[route.schema.name] = client.register(route.schema.name, route.schema.text)
    return ids


def registry_released(
    registry_url: str | Connection, names: list[str]
) -> list[tuple[str, SchemaSet]]:
    """Every version the registry holds of each named subject, as one-message schema sets."""
    released = []
    with _registry(registry_url) as client:
        for name in names:
            for i, text in enumerate(client.versions(name), start=1):
                released.append((f"registry v{i}", SchemaSet.from_messages({name: text}, name)))
    return released
