"""Where the bus is: Kafka bootstrap servers, credentials and the schema registry URL.

Resolution order: explicit arguments, then environment (``COURTBUS_BOOTSTRAP``,
``COURTBUS_REGISTRY_URL``, ``COURTBUS_SASL_USERNAME``/``COURTBUS_SASL_PASSWORD``), then the
local stack started by ``courtbus stack up`` (``COURTBUS_STACK_HOME``, default ``.stack/`` in a
source checkout, else the user's data folder: see ``courtbus.resources.default_home``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from courtbus.errors import ConfigError
from courtbus.resources import PACKAGE_PARENT, default_home

# The folder above the package: the repository in a source checkout (site-packages in a wheel).
REPO_ROOT = PACKAGE_PARENT


def default_stack_home() -> Path:
    """``$COURTBUS_STACK_HOME``, else ``<repo>/.stack`` in a source checkout, else the user's
    data folder (``~/.local/share/courtbus`` on Linux)."""
    return Path(os.environ.get("COURTBUS_STACK_HOME") or default_home())


def default_store_url() -> str:
    """``$COURTBUS_STORE_URL`` or a SQLite file beside the local stack (``.stack/readmodel.db``)."""
    if url := os.environ.get("COURTBUS_STORE_URL"):
        return url
    home = default_stack_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'readmodel.db'}"


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach the bus."""

    bootstrap: str
    registry_url: str | None
    username: str | None = None
    password: str | None = None
    connect_timeout_s: float | None = None  # how long to wait for the first broker (None: 30 s)

    def kafka_settings(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients."""
        settings: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.connect_timeout_s is not None:
            settings["bootstrap_timeout_ms"] = int(self.connect_timeout_s * 1000)
        if self.username and self.password:
            settings.update(
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-512",
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return settings

    def require_registry(self) -> str:
        """The registry URL.

        Raises:
            ConfigError: ``REGISTRY_NOT_CONFIGURED``.
        """
        if not self.registry_url:
            raise ConfigError(
                "no schema registry configured: set COURTBUS_REGISTRY_URL or pass --registry",
                code="REGISTRY_NOT_CONFIGURED",
            )
        return self.registry_url


def resolve(
    bootstrap: str | None = None,
    registry_url: str | None = None,
    stack_home: Path | None = None,
) -> Connection:
    """Find the bus (see module docstring).

    Raises:
        ConfigError: ``BUS_NOT_CONFIGURED`` if nothing names a cluster.
    """
    from courtbus.stack.runner import ADMIN_USER, Stack, StackConfig

    bootstrap = bootstrap or os.environ.get("COURTBUS_BOOTSTRAP")
    registry_url = registry_url or os.environ.get("COURTBUS_REGISTRY_URL")
    username = os.environ.get("COURTBUS_SASL_USERNAME")
    password = os.environ.get("COURTBUS_SASL_PASSWORD")
    if bootstrap:
        return Connection(bootstrap, registry_url, username, password)
    home = stack_home or default_stack_home()
    state = Stack(StackConfig(home, registry=False)).state()
    if state is None:
        raise ConfigError(
            "no Kafka cluster configured: run `courtbus stack up` or set COURTBUS_BOOTSTRAP",
            code="BUS_NOT_CONFIGURED",
        )
    user = ADMIN_USER if state.secure else None
    return Connection(
        state.bootstrap, registry_url or state.registry_url, user, state.admin_password
    )
