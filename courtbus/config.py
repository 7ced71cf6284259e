"""Where the bus is: Kafka bootstrap servers, credentials and the schema registry URL.

Resolution order: explicit arguments, then environment (``COURTBUS_BOOTSTRAP``,
``COURTBUS_REGISTRY_URL``, ``COURTBUS_SASL_USERNAME``/``COURTBUS_SASL_PASSWORD``), then the
local stack started by ``courtbus stack up`` (``COURTBUS_STACK_HOME``, default ``.stack/`` in a
source checkout, else the user's data folder: see ``courtbus.resources.default_home``).
Every bootstrap list and registry URL is checked here, once, whoever builds the ``Connection``
(``BOOTSTRAP_INVALID``, ``REGISTRY_URL_INVALID``); ``probe`` asks the brokers' ports whether
anything listens, so a caller can say at once that the cluster is unreachable.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from courtbus.errors import ClusterError, ConfigError
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


# Where Apicurio Registry serves the Confluent-compatible API (a Confluent registry: at its root).
CCOMPAT_PATH = "/apis/ccompat/v7"
BOOTSTRAP_FORM = "host:port[,host:port...], e.g. 127.0.0.1:9092"


def parse_bootstrap(text: str, *, source: str = "bootstrap servers") -> tuple[tuple[str, int], ...]:
    """The (host, port) pairs of a bootstrap list ``host:port[,host:port...]``.

    ``source`` names where the list came from (``COURTBUS_BOOTSTRAP``, ``--bootstrap``) for
    the message. IPv6 hosts are written in brackets, ``[::1]:9092``.

    Raises:
        ConfigError: ``BOOTSTRAP_INVALID``, naming the bad entry.
    """
    entries = [e.strip() for e in text.split(",")]
    if not any(entries):
        raise ConfigError(f"{source} is empty: write {BOOTSTRAP_FORM}", code="BOOTSTRAP_INVALID")
    servers = []
    for entry in entries:
        problem = None
        try:
            parts = urlsplit(f"//{entry}")
            host, port = parts.hostname, parts.port
        except ValueError as exc:  # urllib: a bad IPv6 address, or a port not in 0-65535
            host, port = "", None
            problem = (
                "the IPv6 address is malformed (write [::1]:9092)"
                if "IPv6" in str(exc)
                else f"port {entry.rpartition(':')[2]!r} is not a number from 1 to 65535"
            )
        if problem is None:
            if not entry or parts.path or parts.query or parts.fragment or parts.username:
                problem = "it is not host:port"
            elif not host:
                problem = "the host is missing"
            elif port is None:
                problem = "the port is missing"
            elif not 1 <= port <= 65535:
                problem = f"port {port} is not a number from 1 to 65535"
        if problem is not None or host is None or port is None:
            raise ConfigError(
                f"{source} {text!r}: entry {entry!r}: {problem}; write {BOOTSTRAP_FORM}",
                code="BOOTSTRAP_INVALID",
            )
        servers.append((host, port))
    return tuple(servers)


def check_registry_url(url: str, *, source: str = "registry URL") -> str:
    """``url`` without a trailing slash, once it is an http(s) URL with a host and a valid port.

    Whether the path leads to a Confluent-compatible API (``…/apis/ccompat/v7`` on Apicurio)
    only the registry can say: ``RegistryClient`` reports that on its first answer.

    Raises:
        ConfigError: ``REGISTRY_URL_INVALID``.
    """
    problem = None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        problem, port = "its port is not a number from 1 to 65535", None
    if problem is None:
        if parts.scheme not in ("http", "https"):
            problem = "it does not start with http:// or https://"
        elif not parts.hostname:
            problem = "the host is missing"
        elif port == 0:
            problem = "its port is not a number from 1 to 65535"
    if problem is not None:
        raise ConfigError(
            f"{source} {url!r}: {problem}; write e.g. http://127.0.0.1:8081{CCOMPAT_PATH}",
            code="REGISTRY_URL_INVALID",
        )
    return url.strip().rstrip("/")


def _knock(host: str, port: int, timeout_s: float) -> str | None:
    """None if something accepts a TCP connection at host:port, else why not (a few words)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except TimeoutError:
        return f"no answer in {timeout_s:g} s"
    except socket.gaierror as exc:
        return f"unknown host ({exc.strerror})"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach the bus. The bootstrap list and the registry URL are checked on creation.

    Raises:
        ConfigError: ``BOOTSTRAP_INVALID`` or ``REGISTRY_URL_INVALID``.
    """

    bootstrap: str
    registry_url: str | None
    username: str | None = None
    password: str | None = None
    connect_timeout_s: float | None = None  # how long to wait for the first broker (None: 30 s)

    def __post_init__(self) -> None:
        parse_bootstrap(self.bootstrap)
        if self.registry_url:
            check_registry_url(self.registry_url)

    @property
    def servers(self) -> tuple[tuple[str, int], ...]:
        """The bootstrap servers as (host, port) pairs."""
        return parse_bootstrap(self.bootstrap)

    def probe(self, timeout_s: float = 5.0) -> None:
        """Return once one bootstrap server accepts a TCP connection (all are tried at once).

        A closed port answers at once; a host that drops packets is given ``timeout_s``. It
        proves nothing about Kafka beyond the port: the clients' own timeouts cover the rest.

        Raises:
            ClusterError: ``CLUSTER_UNREACHABLE``, naming each server and why it failed.
        """
        servers = self.servers
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            answers = list(pool.map(lambda s: _knock(s[0], s[1], timeout_s), servers))
        if any(answer is None for answer in answers):
            return
        why = "; ".join(
            f"{host}:{port} {answer}" if len(servers) > 1 else str(answer)
            for (host, port), answer in zip(servers, answers, strict=True)
        )
        raise ClusterError(
            f"cannot reach Kafka at {self.bootstrap}: {why}", code="CLUSTER_UNREACHABLE"
        )

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

    def librdkafka_settings(self) -> dict[str, Any]:
        """The same connection as configuration for confluent-kafka (librdkafka) clients.

        ``socket.nagle.disable``: librdkafka leaves Nagle's algorithm on by default (the Java
        client and kafka-python set TCP_NODELAY), and a small request then waits for the
        peer's delayed ACK (up to 40 ms on Linux) behind the previous one: a transaction's
        AddPartitions, produce, offsets and EndTxn requests are exactly such small requests.
        """
        settings: dict[str, Any] = {"bootstrap.servers": self.bootstrap,
                                    "socket.nagle.disable": True}  # fmt: skip
        if self.connect_timeout_s is not None:
            settings["socket.connection.setup.timeout.ms"] = int(self.connect_timeout_s * 1000)
        if self.username and self.password:
            settings.update({
                "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": self.username, "sasl.password": self.password,
            })  # fmt: skip
        return settings

    def require_registry(self, option: str | None = None) -> str:
        """The registry URL.

        ``option`` is the command's own option for it (``--registry``), named in the message
        only where the command has one.

        Raises:
            ConfigError: ``REGISTRY_NOT_CONFIGURED``.
        """
        if not self.registry_url:
            how = "set COURTBUS_REGISTRY_URL"
            if option:
                how = f"pass {option} or {how}"
            raise ConfigError(
                f"no schema registry configured: {how} (e.g. "
                f"http://127.0.0.1:8081{CCOMPAT_PATH}); the local stack's registry is used "
                "only when COURTBUS_BOOTSTRAP is not set",
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
        ConfigError: ``BUS_NOT_CONFIGURED`` if nothing names a cluster; ``BOOTSTRAP_INVALID``
            or ``REGISTRY_URL_INVALID``, naming the variable or option that holds the bad value.
    """
    from courtbus.stack.runner import ADMIN_USER, Stack, StackConfig

    # Checked here too, so the message names where the bad value came from.
    if bootstrap:
        parse_bootstrap(bootstrap, source="--bootstrap")
    elif bootstrap := os.environ.get("COURTBUS_BOOTSTRAP"):
        parse_bootstrap(bootstrap, source="COURTBUS_BOOTSTRAP")
    if registry_url:
        check_registry_url(registry_url, source="--registry")
    elif registry_url := os.environ.get("COURTBUS_REGISTRY_URL"):
        check_registry_url(registry_url, source="COURTBUS_REGISTRY_URL")
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
