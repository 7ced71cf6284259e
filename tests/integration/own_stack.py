"""Fixtures for a test module that needs a stack of its own instead of the session's shared one
(whose other modules leave records, views and restored timers behind that would move exact
counts). Import them into the module: ``from tests.integration.own_stack import own_conn,
own_registered  # noqa: F401`` (they are the fixtures ``conn`` and ``registered`` there); ``start_services`` and ``envelope`` then use that stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from courtbus.config import Connection
from tests.integration.helpers import private_stack


@pytest.fixture(scope="module", name="conn")
def own_conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """Kafka and a registry of the module's own (topics applied, schemas registered)."""
    with private_stack(tmp_path_factory.mktemp("own-stack")) as (_stack, own):
        yield own


@pytest.fixture(scope="module", name="registered")
def own_registered(conn: Connection) -> dict[str, int]:
    """Nothing to do: ``private_stack`` registered every schema."""
    return {}
