"""Where the bus is: Kafka bootstrap servers, credentials and the schema registry URL.

Resolution order: explicit arguments, then environment (``COURTBUS_BOOTSTRAP``,
``COURTBUS_REGISTRY_URL``, the TLS files ``COURTBUS_SSL_CA``, ``COURTBUS_SSL_CERT``,
``COURTBUS_SSL_KEY`` and the key's password in the file ``COURTBUS_SSL_KEY_PASSWORD_FILE`` (or,
less safely, ``COURTBUS_SSL_KEY_PASSWORD``), SCRAM ``COURTBUS_SASL_USERNAME`` with
``COURTBUS_SASL_PASSWORD_FILE`` or ``COURTBUS_SASL_PASSWORD``, the registry's
``COURTBUS_REGISTRY_USERNAME`` with ``COURTBUS_REGISTRY_PASSWORD_FILE``), then the local stack
started by ``courtbus stack up`` (``COURTBUS_STACK_HOME``, default ``.stack/`` in a source
checkout, else the user's data folder: see ``courtbus.resources.default_home``): on a secure
stack, the certificate its CA issued to ``COURTBUS_PRINCIPAL`` (default ``operator``).

``Connection`` is the one place both Kafka clients (kafka-python: ``kafka_settings``;
librdkafka: ``librdkafka_settings``) and the registry's HTTP client (``http_settings``) take
their settings from: plaintext, TLS with a client certificate (``SSL``), SCRAM-SHA-512 over
TLS (``SASL_SSL``), or SCRAM without TLS (``SASL_PLAINTEXT``, stacks made before TLS).
Every bootstrap list and registry URL is checked here, once, whoever builds the ``Connection``
(``BOOTSTRAP_INVALID``, ``REGISTRY_URL_INVALID``); ``probe`` asks the brokers' ports whether
anything listens, so a caller can say at once that the cluster is unreachable.

The services' own settings (graces, deadlines, retentions) are read by their settings classes
(``courtbus.settings``).
"""

from __future__ import annotations

import os
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from courtbus.errors import ClusterError, ConfigError
from courtbus.resources import PACKAGE_PARENT, default_home

if TYPE_CHECKING:
    from courtbus.security.pki import Credentials

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


def read_secret(path: str | Path, *, source: str) -> str:
    """The secret held in the file ``path`` (surrounding whitespace dropped).

    Raises:
        ConfigError: ``SECRET_FILE_UNREADABLE``, naming ``source`` (the variable or option).
    """
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"{source}: cannot read {path}: {exc.strerror or exc}", code="SECRET_FILE_UNREADABLE"
        ) from exc


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach the bus. The bootstrap list, the registry URL and the TLS files are checked
    on creation. ``ssl_ca`` (the CA certificate file) turns TLS on; ``ssl_cert`` and ``ssl_key``
    (PEM files; ``ssl_key_password`` if the key is encrypted) authenticate by certificate;
    ``username``/``password`` by SCRAM-SHA-512 (over TLS when ``ssl_ca`` is set).
    ``registry_username``/``registry_password``: HTTP basic authentication to the registry.

    Raises:
        ConfigError: ``BOOTSTRAP_INVALID``, ``REGISTRY_URL_INVALID``, ``SSL_INCOMPLETE`` (a
            certificate without its key or the reverse, or a certificate without a CA) or
            ``SSL_FILE_MISSING``.
    """

    bootstrap: str
    registry_url: str | None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    connect_timeout_s: float | None = None  # how long to wait for the first broker (None: 30 s)
    ssl_ca: str | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
    registry_username: str | None = None
    registry_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parse_bootstrap(self.bootstrap)
        if self.registry_url:
            check_registry_url(self.registry_url)
        if bool(self.ssl_cert) != bool(self.ssl_key) or (self.ssl_cert and not self.ssl_ca):
            raise ConfigError(
                "TLS settings incomplete: a client certificate needs its key and the CA "
                "certificate (COURTBUS_SSL_CERT, COURTBUS_SSL_KEY, COURTBUS_SSL_CA)",
                code="SSL_INCOMPLETE",
            )
        for what, path in (
            ("CA certificate", self.ssl_ca),
            ("certificate", self.ssl_cert),
            ("key", self.ssl_key),
        ):
            if path and not Path(path).is_file():
                raise ConfigError(f"TLS {what} file {path} not found", code="SSL_FILE_MISSING")

    @classmethod
    def from_credentials(
        cls, bootstrap: str, registry_url: str | None, creds: Credentials, **options: Any
    ) -> Connection:
        """A connection authenticated by the certificate in ``creds`` (see
        ``courtbus.security.pki``); ``options`` are further fields (``connect_timeout_s``)."""
        return cls(
            bootstrap,
            registry_url,
            ssl_ca=str(creds.ca),
            ssl_cert=str(creds.cert),
            ssl_key=str(creds.key),
            ssl_key_password=creds.key_password(),
            **options,
        )

    @property
    def security_protocol(self) -> str:
        """Kafka's name for how this connection authenticates: PLAINTEXT, SSL, SASL_SSL or
        SASL_PLAINTEXT."""
        scram = bool(self.username and self.password)
        if self.ssl_ca:
            return "SASL_SSL" if scram else "SSL"
        return "SASL_PLAINTEXT" if scram else "PLAINTEXT"

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
        protocol = self.security_protocol
        if protocol != "PLAINTEXT":
            settings["security_protocol"] = protocol
        if protocol.startswith("SASL"):
            settings.update(
                sasl_mechanism="SCRAM-SHA-512",
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        if self.ssl_ca:
            settings.update(ssl_cafile=self.ssl_ca, ssl_check_hostname=True)
        if self.ssl_cert:
            settings.update(ssl_certfile=self.ssl_cert, ssl_keyfile=self.ssl_key)
            if self.ssl_key_password:
                settings["ssl_password"] = self.ssl_key_password
        return settings

    def librdkafka_settings(self) -> dict[str, Any]:
        """The same connection as configuration for confluent-kafka (librdkafka) clients.

        ``socket.nagle.disable``: librdkafka leaves Nagle's algorithm on by default (the Java
        client and kafka-python set TCP_NODELAY), and a small request then waits for the
        peer's delayed ACK (up to 40 ms on Linux) behind the previous one: a transaction's
        AddPartitions, produce, offsets and EndTxn requests are exactly such small requests.
        """
        settings: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "socket.nagle.disable": True,
        }
        if self.connect_timeout_s is not None:
            settings["socket.connection.setup.timeout.ms"] = int(self.connect_timeout_s * 1000)
        protocol = self.security_protocol
        if protocol != "PLAINTEXT":
            settings["security.protocol"] = protocol.lower()
        if protocol.startswith("SASL"):
            settings.update(
                {
                    "sasl.mechanism": "SCRAM-SHA-512",
                    "sasl.username": self.username,
                    "sasl.password": self.password,
                }
            )
        if self.ssl_ca:
            settings.update(
                {"ssl.ca.location": self.ssl_ca, "ssl.endpoint.identification.algorithm": "https"}
            )
        if self.ssl_cert:
            settings.update(
                {"ssl.certificate.location": self.ssl_cert, "ssl.key.location": self.ssl_key}
            )
            if self.ssl_key_password:
                settings["ssl.key.password"] = self.ssl_key_password
        return settings

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context trusting ``ssl_ca`` and presenting the client certificate (for
        HTTPS to the registry), or None without TLS settings."""
        if not self.ssl_ca:
            return None
        context = ssl.create_default_context(cafile=self.ssl_ca)
        if self.ssl_cert and self.ssl_key:
            context.load_cert_chain(self.ssl_cert, self.ssl_key, password=self.ssl_key_password)
        return context

    def http_settings(self) -> dict[str, Any]:
        """Keyword arguments for an ``httpx.Client`` talking to the registry: TLS (``verify``,
        the context of :meth:`ssl_context`) and basic authentication if configured."""
        settings: dict[str, Any] = {}
        context = self.ssl_context()
        if context is not None:
            settings["verify"] = context
        if self.registry_username and self.registry_password:
            settings["auth"] = (self.registry_username, self.registry_password)
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
    from courtbus.stack.runner import Stack, StackConfig

    # Checked here too, so the message names where the bad value came from.
    if bootstrap:
        parse_bootstrap(bootstrap, source="--bootstrap")
    elif bootstrap := os.environ.get("COURTBUS_BOOTSTRAP"):
        parse_bootstrap(bootstrap, source="COURTBUS_BOOTSTRAP")
    if registry_url:
        check_registry_url(registry_url, source="--registry")
    elif registry_url := os.environ.get("COURTBUS_REGISTRY_URL"):
        check_registry_url(registry_url, source="COURTBUS_REGISTRY_URL")
    env = _environment_credentials()
    if bootstrap:
        return Connection(bootstrap, registry_url, **env)
    home = stack_home or default_stack_home()
    state = Stack(StackConfig(home, registry=False)).state()
    if state is None:
        raise ConfigError(
            "no Kafka cluster configured: run `courtbus stack up` or set COURTBUS_BOOTSTRAP",
            code="BUS_NOT_CONFIGURED",
        )
    return stack_connection(state, registry_url, env)


def stack_connection(
    state: Any, registry_url: str | None = None, env: dict[str, Any] | None = None
) -> Connection:
    """How to reach the local stack recorded in ``state`` (a ``StackState``).

    Credentials from the environment (``env``, as :func:`resolve` reads them) win; a SCRAM
    user of a secure stack goes to its SASL_SSL listener. Else, on a secure stack, the
    certificate issued to ``$COURTBUS_PRINCIPAL`` (default the operator), with the registry
    password the stack keeps for it, if any.

    Raises:
        StackError: ``CREDENTIALS_UNKNOWN`` if nothing was issued to that principal.
    """
    from courtbus.security import pki
    from courtbus.security.principals import OPERATOR
    from courtbus.stack.layout import ADMIN_USER

    env = dict(env or {})
    registry = registry_url or state.registry_url
    if not state.secure:
        return Connection(state.bootstrap, registry, **env)
    if getattr(state, "pki", None) is None:  # a stack made before TLS: its SCRAM admin
        return Connection(
            state.bootstrap,
            registry,
            **{"username": ADMIN_USER, "password": state.admin_password, **env},
        )
    ca = str(pki.Authority(Path(state.pki)).ca_cert)
    if env.get("username"):
        return Connection(state.scram_bootstrap, registry, **{"ssl_ca": ca, **env})
    if env.get("ssl_cert"):
        return Connection(state.bootstrap, registry, **{"ssl_ca": ca, **env})
    conn: Connection = state.connection(os.environ.get("COURTBUS_PRINCIPAL") or OPERATOR)
    if env.get("registry_username"):
        conn = replace(
            conn,
            registry_username=env["registry_username"],
            registry_password=env.get("registry_password"),
        )
    return replace(conn, registry_url=registry)


def env_http_settings() -> dict[str, Any]:
    """``httpx.Client`` settings for a registry named by URL alone (``--registry``): the TLS
    files and registry credentials of the environment, if any (see the module docstring)."""
    env = _environment_credentials()
    tls = {k: env[k] for k in ("ssl_ca", "ssl_cert", "ssl_key", "ssl_key_password") if k in env}
    auth = {k: env[k] for k in ("registry_username", "registry_password") if k in env}
    if not tls and not auth:
        return {}
    return Connection("127.0.0.1:9092", None, **tls, **auth).http_settings()


def _environment_credentials() -> dict[str, Any]:
    """The ``Connection`` fields set by ``COURTBUS_SSL_*``, ``COURTBUS_SASL_*`` and
    ``COURTBUS_REGISTRY_USERNAME``/``_PASSWORD_FILE`` (see the module docstring)."""
    env = os.environ
    found: dict[str, Any] = {}
    for name, key in (
        ("COURTBUS_SSL_CA", "ssl_ca"),
        ("COURTBUS_SSL_CERT", "ssl_cert"),
        ("COURTBUS_SSL_KEY", "ssl_key"),
    ):
        if env.get(name):
            found[key] = env[name]
    secrets = (
        ("ssl_key_password", "COURTBUS_SSL_KEY_PASSWORD"),
        ("password", "COURTBUS_SASL_PASSWORD"),
        ("registry_password", "COURTBUS_REGISTRY_PASSWORD"),
    )
    for key, name in secrets:
        if env.get(f"{name}_FILE"):
            found[key] = read_secret(env[f"{name}_FILE"], source=f"{name}_FILE")
        elif env.get(name):
            found[key] = env[name]
    if env.get("COURTBUS_SASL_USERNAME"):
        found["username"] = env["COURTBUS_SASL_USERNAME"]
    if env.get("COURTBUS_REGISTRY_USERNAME"):
        found["registry_username"] = env["COURTBUS_REGISTRY_USERNAME"]
    return found
