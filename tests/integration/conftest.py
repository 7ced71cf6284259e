"""One real Kafka broker + Apicurio Registry per test session, on free ports; the services
started as processes by ``start_services``.

Set ``COURTBUS_TEST_BOOTSTRAP`` and ``COURTBUS_TEST_REGISTRY`` to use a running stack instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from courtbus.app import ops
from courtbus.config import Connection
from courtbus.stack import Stack, StackConfig
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet
from tests.integration.helpers import ALL_SERVICES, Services
from tests.ports import free_block

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack_config(stack_home: Path) -> StackConfig:
    base = free_block(4)
    return StackConfig(
        stack_home, port_base=base, registry_port=base + 2, registry_storage="memory"
    )


@pytest.fixture(scope="session")
def conn(stack_config: StackConfig) -> Iterator[Connection]:
    bootstrap = os.environ.get("COURTBUS_TEST_BOOTSTRAP")
    if bootstrap:
        yield Connection(bootstrap, os.environ.get("COURTBUS_TEST_REGISTRY"))
        return
    stack = Stack(stack_config)
    state = stack.up()
    try:
        yield Connection(state.bootstrap, state.registry_url)
    finally:
        stack.down()


@pytest.fixture(scope="session")
def schemas() -> SchemaSet:
    return SchemaSet.load()


@pytest.fixture(scope="session")
def registered(conn: Connection, schemas: SchemaSet) -> dict[str, int]:
    """Every schema registered (FULL_TRANSITIVE) in the real registry."""
    return ops.register_schemas(conn.require_registry(), schemas)


@pytest.fixture
def envelope(
    conn: Connection, schemas: SchemaSet, registered: dict[str, int]
) -> Iterator[Envelope]:
    registry = RegistryClient(conn.require_registry())
    yield Envelope(AvroCodec(schemas, registry))
    registry.close()


@pytest.fixture
def topic(conn: Connection) -> str:
    """A fresh, uniquely named topic with 3 partitions."""
    name = f"test.{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        admin.create_topics([NewTopic(name, 3, 1)])
    finally:
        admin.close()
    return name


StartServices = Callable[..., Services]


@pytest.fixture(scope="module")
def start_services(
    conn: Connection, registered: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartServices]:
    """``start_services(home, env=None, which=("projector", "gateway", "delegation"),
    own_env=None)``: the bus's topics applied, then those services running as processes (see
    ``helpers.Services``; ``own_env``: settings of one service, by name), until the end of
    the test module.

    ``home`` is a folder (logs, worker state, the read model) or a name for a fresh one.
    """
    started: list[Services] = []
    ops.apply_topics(conn, ops.plan_topics(conn))

    def start(
        home: Path | str,
        env: dict[str, str] | None = None,
        which: Iterable[str] = ALL_SERVICES,
        own_env: Mapping[str, dict[str, str]] | None = None,
    ) -> Services:
        folder = home if isinstance(home, Path) else tmp_path_factory.mktemp(home)
        services = Services(conn, folder, env, which, own_env)
        started.append(services)
        services.start()
        return services

    yield start
    for services in reversed(started):
        services.stop()
