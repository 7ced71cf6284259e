"""The stack's settings and files on disk: config, state, node folders, broker properties, identity."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from courtbus.errors import StackError
from courtbus.security import pki
from courtbus.security.principals import OPERATOR, SERVICES, node_principal, service_principal
from courtbus.stack import artifacts
from courtbus.stack.processes import ProcessRecord, java_command

if TYPE_CHECKING:
    from courtbus.config import Connection

ADMIN_USER = "admin"  # the SCRAM admin of stacks made before TLS (state.json may still name it)
# CN=<principal>,OU=<kind>,O=courtbus -> User:<principal>; any other subject matches no rule
# and its connection fails authentication (no DEFAULT: a foreign DN never becomes a principal)
PRINCIPAL_MAPPING = "RULE:^CN=([^,]+),OU=[^,]+,O=courtbus$/$1/"
# the JDK's own revocation checking for every TLS handshake a node's JVM verifies: each
# certificate of the bus CA names its CRL file (a file: URI), read without any network
REVOCATION_JVM_FLAGS = (
    "-Dcom.sun.net.ssl.checkRevocation=true",
    "-Dcom.sun.security.enableCRLDP=true",
)
LOG4J = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.authn.name = org.apache.kafka.common.network.Selector
logger.authn.level = INFO
"""


@dataclass(frozen=True, slots=True)
class StackConfig:
    """How to run a stack: where, how many brokers, which ports, secured or not."""

    home: Path
    nodes: int = 1
    secure: bool = False  # TLS with client certificates on every port, ACLs (the CLI's default)
    port_base: int = 9092  # broker i listens on base+2i, its controller on base+2i+1
    registry_port: int = 8081  # its management (health) interface listens on the next port
    registry: bool = True
    registry_storage: str = "kafkasql"  # "kafkasql": kept in Kafka, restart-safe; "memory": tests
    cache: Path = field(default_factory=artifacts.default_cache_dir)
    broker_heap: str = "768m"
    registry_heap: str = "512m"
    start_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.nodes not in (1, 3):
            raise StackError(f"--nodes must be 1 or 3, not {self.nodes}", code="STACK_CONFIG")
        if self.registry_storage not in ("kafkasql", "memory"):
            raise StackError(
                f"registry storage must be kafkasql or memory, not {self.registry_storage!r}",
                code="STACK_CONFIG",
            )

    def client_port(self, node: int) -> int:
        """Client (broker) port of node ``node`` (1-based)."""
        return self.port_base + 2 * (node - 1)

    def controller_port(self, node: int) -> int:
        """KRaft controller port of node ``node`` (1-based)."""
        return self.port_base + 2 * (node - 1) + 1

    def scram_port(self, node: int) -> int:
        """SASL_SSL (SCRAM-SHA-512) port of node ``node`` on a secure stack: after every
        node's client and controller ports (base+2n+i-1 for n nodes)."""
        return self.port_base + 2 * self.nodes + (node - 1)

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers string for clients."""
        return ",".join(f"127.0.0.1:{self.client_port(n)}" for n in range(1, self.nodes + 1))

    @property
    def scram_bootstrap(self) -> str | None:
        """Bootstrap servers of the SCRAM listener (secure stacks only)."""
        if not self.secure:
            return None
        return ",".join(f"127.0.0.1:{self.scram_port(n)}" for n in range(1, self.nodes + 1))

    @property
    def registry_url(self) -> str:
        """Base URL of the Confluent-compatible registry API (https on a secure stack)."""
        scheme = "https" if self.secure else "http"
        return f"{scheme}://127.0.0.1:{self.registry_port}/apis/ccompat/v7"

    def ports(self) -> list[int]:
        """Every port the stack will listen on."""
        ports = [self.client_port(n) for n in range(1, self.nodes + 1)]
        ports += [self.controller_port(n) for n in range(1, self.nodes + 1)]
        if self.secure:
            ports += [self.scram_port(n) for n in range(1, self.nodes + 1)]
        return ports + ([self.registry_port, self.registry_port + 1] if self.registry else [])


@dataclass(slots=True)
class StackState:
    """What a running stack recorded about itself in ``state.json``."""

    nodes: int
    secure: bool
    bootstrap: str
    registry_url: str | None
    cluster_id: str
    admin_password: str | None
    brokers: list[ProcessRecord]
    registry: ProcessRecord | None
    # secure stacks: the CA folder (``pki.Authority``) and the SCRAM listener's bootstrap
    pki: str | None = None
    scram_bootstrap: str | None = None

    def to_json(self) -> str:
        """Serialise for ``state.json``."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> StackState:
        """Read ``state.json``."""
        raw = json.loads(text)
        raw["brokers"] = [ProcessRecord(**b) for b in raw["brokers"]]
        raw["registry"] = ProcessRecord(**raw["registry"]) if raw["registry"] else None
        return cls(**raw)

    def connection(self, principal: str = OPERATOR) -> Connection:
        """How ``principal`` reaches this stack: its certificate from the stack's CA on a
        secure stack (the operator by default), plaintext otherwise.

        Raises:
            StackError: ``CREDENTIALS_UNKNOWN`` if no certificate was issued to ``principal``.
        """
        from courtbus.config import Connection

        if not self.secure:
            return Connection(self.bootstrap, self.registry_url)
        if self.pki is None:  # a stack made before TLS: its SCRAM admin
            return Connection(self.bootstrap, self.registry_url, ADMIN_USER, self.admin_password)
        creds = pki.Authority(Path(self.pki)).credentials(principal)
        if creds is None:
            raise StackError(
                f"no certificate issued to {principal} in {self.pki}: "
                f"`courtbus credentials issue {principal}`",
                code="CREDENTIALS_UNKNOWN",
            )
        secret = creds.folder / "registry.password"
        user, password = (
            (principal, secret.read_text().strip()) if secret.exists() else (None, None)
        )
        return Connection.from_credentials(
            self.bootstrap,
            self.registry_url,
            creds,
            registry_username=user,
            registry_password=password,
        )

    def login(self, principal: str) -> Connection:
        """:meth:`connection` of ``principal``, its certificate issued by the stack's CA first if
        it has none (the local stack plays every participant's IT, as the demo does; a real
        participant gets its folder from ``courtbus credentials issue``). Plaintext stacks:
        the one plaintext connection.

        Raises:
            ConfigError: ``PRINCIPAL_INVALID`` for a name no principal has.
        """
        if self.secure and self.pki is not None:
            ca = pki.Authority(Path(self.pki))
            if ca.credentials(principal) is None:
                ca.issue(principal)
        return self.connection(principal)

    def client_settings(self, principal: str = OPERATOR) -> dict[str, Any]:
        """kafka-python settings for a client of this stack acting as ``principal``."""
        return self.connection(principal).kafka_settings()


# -- files in the home folder -----------------------------------------------------------------


def state_file(home: Path) -> Path:
    """Where the running stack's pids and ports are kept."""
    return home / "state.json"


def identity_file(home: Path) -> Path:
    """Kept across ``down``/``up``: cluster id, layout and admin password of the data."""
    return home / "cluster.json"


def log4j_file(home: Path) -> Path:
    """The brokers' log4j2 configuration."""
    return home / "log4j2.properties"


def node_dir(home: Path, node: int) -> Path:
    """Data, ``server.properties`` and ``broker.log`` of node ``node`` (1-based)."""
    return home / f"node-{node}"


def read_state(home: Path) -> StackState | None:
    """The recorded state, or None if no stack was started here."""
    path = state_file(home)
    if not path.exists():
        return None
    return StackState.from_json(path.read_text())


def write_state(home: Path, state: StackState) -> None:
    """Record ``state`` in ``state.json``."""
    state_file(home).write_text(state.to_json())


def config_from_state(home: Path, state: StackState) -> StackConfig:
    """The port layout of a recorded stack (first bootstrap port is the base)."""
    base = int(state.bootstrap.split(",")[0].rsplit(":", 1)[1])
    return StackConfig(home, nodes=state.nodes, secure=state.secure, port_base=base, registry=False)


def broker_java(config: StackConfig, kafka_dir: Path, heap: str) -> list[str]:
    """The ``java`` command line, up to the main class, for a Kafka JVM of this stack (with
    the JDK's CRL checking on a secure stack)."""
    cmd = java_command(kafka_dir, heap, log_config=log4j_file(config.home), logs_dir=config.home)
    if config.secure:
        cmd[1:1] = REVOCATION_JVM_FLAGS
    return cmd


# -- broker properties ------------------------------------------------------------------------


def node_keystore(home: Path, node: int) -> Path:
    """Node ``node``'s PEM key store: its (unencrypted, 0600) key and certificate chain."""
    return pki.pki_dir(home) / "issued" / node_principal(node) / "keystore.pem"


def properties(config: StackConfig, node: int, password: str | None) -> str:
    """``server.properties`` of node ``node``.

    Secure (``config.secure``): TLS with required client certificates on the client
    (inter-broker) and controller listeners, a SASL_SSL SCRAM-SHA-512 listener for
    participants without a certificate, the subject mapped to ``User:<CN>``, the
    StandardAuthorizer denying what no ACL allows, the nodes as the only super users.
    A ``password`` (stacks made before TLS) keeps their SASL_PLAINTEXT admin listener.
    """
    if config.secure and password is None:
        return _properties(config, node) + _tls_properties(config, node)
    return _properties(config, node, legacy_password=password)


def _properties(config: StackConfig, node: int, legacy_password: str | None = None) -> str:
    cfg = config
    n = cfg.nodes
    voters = ",".join(f"{i}@127.0.0.1:{cfg.controller_port(i)}" for i in range(1, n + 1))
    client, controller = "PLAINTEXT", "PLAINTEXT"
    listeners = (
        f"CLIENT://127.0.0.1:{cfg.client_port(node)},"
        f"CONTROLLER://127.0.0.1:{cfg.controller_port(node)}"
    )
    advertised = f"CLIENT://127.0.0.1:{cfg.client_port(node)}"
    protocols = f"CLIENT:{client},CONTROLLER:{controller}"
    if cfg.secure and legacy_password:
        protocols = "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    elif cfg.secure:
        listeners += f",SCRAM://127.0.0.1:{cfg.scram_port(node)}"
        advertised += f",SCRAM://127.0.0.1:{cfg.scram_port(node)}"
        protocols = "CLIENT:SSL,CONTROLLER:SSL,SCRAM:SASL_SSL"
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(node),
        "controller.quorum.voters": voters,
        "listeners": listeners,
        "advertised.listeners": advertised,
        "listener.security.protocol.map": protocols,
        "inter.broker.listener.name": "CLIENT",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(node_dir(cfg.home, node) / "data"),
        "num.partitions": "1",
        "default.replication.factor": str(n),
        "min.insync.replicas": "2" if n >= 3 else "1",
        "offsets.topic.replication.factor": str(n),
        "transaction.state.log.replication.factor": str(n),
        "transaction.state.log.min.isr": "2" if n >= 3 else "1",
        "share.coordinator.state.topic.replication.factor": str(n),
        "share.coordinator.state.topic.min.isr": "2" if n >= 3 else "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    if legacy_password:
        password = legacy_password
        lines.update(
            {
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                "listener.name.client.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{ADMIN_USER}" password="{password}";',
                "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found": "false",
                "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
            }
        )
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def _tls_properties(config: StackConfig, node: int) -> str:
    home = config.home
    supers = ";".join(f"User:{node_principal(i)}" for i in range(1, config.nodes + 1))
    lines = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(node_keystore(home, node)),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.Authority(pki.pki_dir(home)).ca_cert),
        "ssl.client.auth": "required",
        "ssl.endpoint.identification.algorithm": "https",  # node certs name 127.0.0.1
        "ssl.principal.mapping.rules": PRINCIPAL_MAPPING,
        "listener.name.scram.ssl.client.auth": "none",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.scram.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.scram.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": supers,
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def prepare_pki(config: StackConfig) -> pki.Authority:
    """The CA of a secure stack (created on the first start), a fresh certificate for each node
    (SAN 127.0.0.1 and localhost, unencrypted key in its PEM key store) and one for the
    operator and each bus service that has none; the CRL is re-signed so its next update
    stays ahead."""
    ca = pki.authority(config.home, create=True)
    for node in range(1, config.nodes + 1):
        creds = ca.issue(node_principal(node), hosts=("127.0.0.1", "localhost"), encrypt_key=False)
        store = node_keystore(config.home, node)
        pki.write_private(store, creds.key.read_bytes() + creds.cert.read_bytes())
    for principal in (OPERATOR, *(service_principal(name) for name in SERVICES)):
        if ca.credentials(principal) is None:  # services run locally with COURTBUS_PRINCIPAL
            ca.issue(principal)
    ca.refresh_crl()
    return ca


# -- identity: the formatted cluster kept across down/up --------------------------------------


def layout_settings(config: StackConfig) -> dict[str, object]:
    """The settings formatted data is bound to: a stack must be restarted with the same ones."""
    return {
        "nodes": config.nodes,
        "secure": config.secure,
        "port_base": config.port_base,
    }


def recorded_settings(home: Path) -> dict[str, Any]:
    """What the stack in ``home`` was made with (``nodes``, ``secure``, ``port_base`` from
    ``cluster.json``) and its registry port (recorded there, else in a running stack's
    ``state.json``); empty if no stack was made here."""
    path = identity_file(home)
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    found: dict[str, Any] = {k: saved[k] for k in ("nodes", "secure", "port_base") if k in saved}
    if isinstance(saved.get("registry_port"), int):
        found["registry_port"] = saved["registry_port"]
    else:
        state = read_state(home)
        if state is not None and state.registry_url:
            port = urlsplit(state.registry_url).port
            if port is not None:
                found["registry_port"] = port
    return found


def stack_config(
    home: Path,
    *,
    nodes: int | None = None,
    secure: bool | None = None,
    port_base: int | None = None,
    registry_port: int | None = None,
    registry: bool = True,
    default_secure: bool = False,
) -> StackConfig:
    """The config to (re)start the stack in ``home``: each setting not given is the one the
    stack there was made with, else the default; so ``stack up`` with only the home (e.g.
    ``COURTBUS_STACK_HOME``) reuses the recorded ports. A setting given that differs from the
    data's is refused by :func:`check_layout`. ``default_secure``: whether a new stack is
    secure (the CLI's default; the library's and the tests' is plaintext)."""
    recorded = recorded_settings(home)
    default = StackConfig(home)
    return StackConfig(
        home,
        nodes=_first(nodes, recorded.get("nodes"), default.nodes),
        secure=_first(secure, recorded.get("secure"), default_secure),
        port_base=_first(port_base, recorded.get("port_base"), default.port_base),
        registry_port=_first(registry_port, recorded.get("registry_port"), default.registry_port),
        registry=registry,
    )


def _first(given: Any, recorded: Any, default: Any) -> Any:
    return given if given is not None else recorded if recorded is not None else default


def check_layout(config: StackConfig) -> None:
    """Refuse to start data made with other settings.

    Raises:
        StackError: ``STACK_CONFIG_MISMATCH``.
    """
    path = identity_file(config.home)
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    layout = layout_settings(config)
    if {k: saved.get(k) for k in layout} != layout:
        raise StackError(
            f"the stack in {config.home} was created with nodes={saved.get('nodes')}, "
            f"secure={saved.get('secure')}, port_base={saved.get('port_base')}; start it "
            "the same way (without --nodes, --secure or --port-base it reuses them), or wipe "
            "it first with `courtbus stack down --wipe`",
            code="STACK_CONFIG_MISMATCH",
        )


def kafka_cluster_id() -> str:
    """A Kafka cluster id: url-safe base64 of a random UUID, like ``StorageTool random-uuid``."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def identity(
    config: StackConfig, kafka_dir: Path, say: Callable[[str], None]
) -> tuple[str, str | None]:
    """Reuse the formatted cluster in ``home`` (data survives down/up), or format a new one.

    Returns the cluster id and the SCRAM admin password (None, except for a secure stack
    made before TLS, which keeps its SASL_PLAINTEXT admin). A secure stack's certificates
    are (re)issued first (:func:`prepare_pki`).

    Raises:
        StackError: formatting the storage failed or timed out.
    """
    path = identity_file(config.home)
    layout = layout_settings(config)
    if config.secure:
        prepare_pki(config)
    if path.exists():
        saved = json.loads(path.read_text())
        if config.registry and saved.get("registry_port") != config.registry_port:
            saved["registry_port"] = config.registry_port  # what a bare `stack up` reuses
            path.write_text(json.dumps(saved, indent=2))
        for node in range(1, config.nodes + 1):  # ports or paths may have moved
            (node_dir(config.home, node) / "server.properties").write_text(
                properties(config, node, saved.get("admin_password"))
            )
        return str(saved["cluster_id"]), saved.get("admin_password")
    cluster_id = kafka_cluster_id()
    password = None  # a secure stack authenticates by certificate: no shared SCRAM admin
    say(f"formatting KRaft storage for {config.nodes} node(s)")
    format_storage(config, kafka_dir, cluster_id, password)
    saved = {
        **layout,
        "registry_port": config.registry_port,
        "cluster_id": cluster_id,
        "admin_password": password,
    }
    path.write_text(json.dumps(saved, indent=2))
    path.chmod(0o600)
    return cluster_id, password


def format_storage(
    config: StackConfig, kafka_dir: Path, cluster_id: str, password: str | None
) -> None:
    """Wipe and format every node's KRaft storage (in parallel), writing its properties first.

    Raises:
        StackError: ``STACK_START_TIMEOUT`` or ``STACK_START_FAILED``.
    """
    procs = []
    for node in range(1, config.nodes + 1):
        ndir = node_dir(config.home, node)
        if ndir.exists():
            shutil.rmtree(ndir)
        ndir.mkdir(parents=True)
        props = ndir / "server.properties"
        props.write_text(properties(config, node, password))
        cmd = [
            *broker_java(config, kafka_dir, "256m"),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(props),
        ]
        if password:
            cmd += ["-S", f"SCRAM-SHA-512=[name={ADMIN_USER},password={password}]"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    try:
        for proc in procs:
            try:
                out, _ = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired as exc:
                raise StackError(
                    "formatting KRaft storage took over 120 s", code="STACK_START_TIMEOUT"
                ) from exc
            if proc.returncode != 0:
                raise StackError(
                    f"formatting KRaft storage failed: {out.decode(errors='replace').strip()}",
                    code="STACK_START_FAILED",
                )
    finally:
        for proc in procs:  # never leave a formatting JVM behind
            if proc.poll() is None:
                proc.kill()
                proc.wait()
