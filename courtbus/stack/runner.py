"""``courtbus stack up|down|status``: KRaft brokers and the schema registry on 127.0.0.1.

The stack lives in one home folder: ``state.json`` (pids, ports, cluster id), one data and
log folder per node, the registry log. Jars come from the shared cache (see ``artifacts``).
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from courtbus.errors import StackError
from courtbus.stack import artifacts
from courtbus.stack.processes import (
    ProcessRecord,
    log_tail,
    port_free,
    port_open,
    spawn,
    stop,
)

ADMIN_USER = "admin"
_LOG4J = """\
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
"""


@dataclass(frozen=True, slots=True)
class StackConfig:
    """How to run a stack: where, how many brokers, which ports, secured or not."""

    home: Path
    nodes: int = 1
    secure: bool = False
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

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers string for clients."""
        return ",".join(f"127.0.0.1:{self.client_port(n)}" for n in range(1, self.nodes + 1))

    @property
    def registry_url(self) -> str:
        """Base URL of the Confluent-compatible registry API."""
        return f"http://127.0.0.1:{self.registry_port}/apis/ccompat/v7"

    def ports(self) -> list[int]:
        """Every port the stack will listen on."""
        ports = [self.client_port(n) for n in range(1, self.nodes + 1)]
        ports += [self.controller_port(n) for n in range(1, self.nodes + 1)]
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

    def client_settings(self) -> dict[str, str]:
        """kafka-python settings for an admin client of this stack."""
        settings = {"bootstrap_servers": self.bootstrap}
        if self.secure and self.admin_password:
            settings.update(
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-512",
                sasl_plain_username=ADMIN_USER,
                sasl_plain_password=self.admin_password,
            )
        return settings


def _count_started(log: Path) -> int:
    """How many times a broker log says the broker finished starting."""
    try:
        return log.read_bytes().count(b"Kafka Server started")
    except OSError:
        return 0


def _kafka_cluster_id() -> str:
    """A Kafka cluster id: url-safe base64 of a random UUID, like ``StorageTool random-uuid``."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class Stack:
    """One local stack rooted at ``config.home``."""

    def __init__(self, config: StackConfig, progress: Callable[[str], None] | None = None):
        self.config = config
        self.home = config.home
        self._say = progress or (lambda _msg: None)
        self._marks: dict[int, int] = {}  # "Kafka Server started" lines in each log before a start

    @property
    def state_file(self) -> Path:
        """Where the running stack's pids and ports are kept."""
        return self.home / "state.json"

    def state(self) -> StackState | None:
        """The recorded state, or None if no stack was started here."""
        if not self.state_file.exists():
            return None
        return StackState.from_json(self.state_file.read_text())

    # -- up ---------------------------------------------------------------------------------

    def up(self) -> StackState:
        """Fetch jars, format storage, start brokers and registry, wait until ready.

        Idempotent: if this stack already runs healthy, returns its state unchanged.

        Raises:
            StackError: a missing tool, a busy port, a failed download or a start timeout.
        """
        self._check_layout()
        current = self.state()
        if current is not None:
            if all(b.alive() for b in current.brokers) and (
                current.registry is None or current.registry.alive()
            ):
                self._say("stack already running")
                return current
            self._say("stale stack state found: stopping its leftovers")
            self.down()
        artifacts.require_tool("java")
        busy = [p for p in self.config.ports() if not port_free(p)]
        if busy:
            raise StackError(
                f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 already in use; stop what "
                "holds them or pick other ports (--port-base / --registry-port)",
                code="STACK_PORT_BUSY",
            )
        self._say("fetching Kafka jars (cached after the first run)")
        kafka_dir = artifacts.ensure_kafka(self.config.cache)
        registry_dir = None
        if self.config.registry:
            self._say("fetching Apicurio Registry (cached after the first run)")
            registry_dir = artifacts.ensure_registry(self.config.cache)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.properties").write_text(_LOG4J)
        cluster_id, password = self._identity(kafka_dir)
        state = StackState(
            nodes=self.config.nodes, secure=self.config.secure, bootstrap=self.config.bootstrap,
            registry_url=self.config.registry_url if self.config.registry else None,
            cluster_id=cluster_id, admin_password=password, brokers=[], registry=None,
        )  # fmt: skip
        try:
            for node in range(1, self.config.nodes + 1):
                state.brokers.append(self._start_broker(kafka_dir, node))
                self.state_file.write_text(state.to_json())
            self._say("waiting for brokers")
            for node, rec in enumerate(state.brokers, start=1):
                self._wait_broker(node, rec)
            self._wait_cluster(state)
            if registry_dir is not None:
                self._say("starting schema registry")
                state.registry = self._start_registry(registry_dir, state)
                self.state_file.write_text(state.to_json())
                self._wait_registry(state.registry)
        except BaseException:
            self.state_file.write_text(state.to_json())
            self.down()
            raise
        self.state_file.write_text(state.to_json())
        return state

    def _node_dir(self, node: int) -> Path:
        return self.home / f"node-{node}"

    def _properties(self, node: int, password: str | None) -> str:
        cfg = self.config
        n = cfg.nodes
        voters = ",".join(f"{i}@127.0.0.1:{cfg.controller_port(i)}" for i in range(1, n + 1))
        client = "SASL_PLAINTEXT" if cfg.secure else "PLAINTEXT"
        lines = {
            "process.roles": "broker,controller",
            "node.id": str(node),
            "controller.quorum.voters": voters,
            "listeners": f"CLIENT://127.0.0.1:{cfg.client_port(node)},"
            f"CONTROLLER://127.0.0.1:{cfg.controller_port(node)}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{cfg.client_port(node)}",
            "listener.security.protocol.map": f"CLIENT:{client},CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "CLIENT",
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(self._node_dir(node) / "data"),
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
        if password:
            lines.update({
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                "listener.name.client.scram-sha-512.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required "
                    f'username="{ADMIN_USER}" password="{password}";',
                "authorizer.class.name":
                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found": "false",
                "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
            })  # fmt: skip
        return "".join(f"{k}={v}\n" for k, v in lines.items())

    def _java(self, classpath: Path, heap: str) -> list[str]:
        return [
            artifacts.require_tool("java"), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home}", "-cp", f"{classpath}/*",
        ]  # fmt: skip

    @property
    def identity_file(self) -> Path:
        """Kept across ``down``/``up``: cluster id, layout and admin password of the data."""
        return self.home / "cluster.json"

    def _layout(self) -> dict[str, object]:
        return {
            "nodes": self.config.nodes,
            "secure": self.config.secure,
            "port_base": self.config.port_base,
        }

    def _check_layout(self) -> None:
        """Refuse to start data made with other settings.

        Raises:
            StackError: ``STACK_CONFIG_MISMATCH``.
        """
        if not self.identity_file.exists():
            return
        saved = json.loads(self.identity_file.read_text())
        layout = self._layout()
        if {k: saved.get(k) for k in layout} != layout:
            raise StackError(
                f"the stack in {self.home} was created with nodes={saved.get('nodes')}, "
                f"secure={saved.get('secure')}, port_base={saved.get('port_base')}; start it "
                "the same way, or wipe it first with `courtbus stack down --wipe`",
                code="STACK_CONFIG_MISMATCH",
            )

    def _identity(self, kafka_dir: Path) -> tuple[str, str | None]:
        """Reuse the formatted cluster in ``home`` (data survives down/up), or format a new one.

        Raises:
            StackError: ``STACK_CONFIG_MISMATCH`` if the data was made with other settings.
        """
        layout = self._layout()
        if self.identity_file.exists():
            saved = json.loads(self.identity_file.read_text())
            for node in range(1, self.config.nodes + 1):  # ports or paths may have moved
                (self._node_dir(node) / "server.properties").write_text(
                    self._properties(node, saved.get("admin_password"))
                )
            return str(saved["cluster_id"]), saved.get("admin_password")
        cluster_id = _kafka_cluster_id()
        password = secrets.token_urlsafe(18) if self.config.secure else None
        self._say(f"formatting KRaft storage for {self.config.nodes} node(s)")
        self._format(kafka_dir, cluster_id, password)
        identity = {**layout, "cluster_id": cluster_id, "admin_password": password}
        self.identity_file.write_text(json.dumps(identity, indent=2))
        self.identity_file.chmod(0o600)
        return cluster_id, password

    def _format(self, kafka_dir: Path, cluster_id: str, password: str | None) -> None:
        procs = []
        for node in range(1, self.config.nodes + 1):
            ndir = self._node_dir(node)
            if ndir.exists():
                shutil.rmtree(ndir)
            ndir.mkdir(parents=True)
            props = ndir / "server.properties"
            props.write_text(self._properties(node, password))
            cmd = [
                *self._java(kafka_dir, "256m"), "kafka.tools.StorageTool", "format",
                "-t", cluster_id, "-c", str(props),
            ]  # fmt: skip
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

    def _start_broker(self, kafka_dir: Path, node: int) -> ProcessRecord:
        ndir = self._node_dir(node)
        self._marks[node] = _count_started(ndir / "broker.log")
        cmd = [*self._java(kafka_dir, self.config.broker_heap), "kafka.Kafka",
               str(ndir / "server.properties")]  # fmt: skip
        return spawn(f"broker-{node}", cmd, ndir / "broker.log")

    def start_broker(self, node: int) -> None:
        """(Re)start one broker of a running stack, e.g. after ``stop_broker`` in a fault test.

        Raises:
            StackError: no stack here, or the broker does not come up in time.
        """
        state = self._require_state()
        kafka_dir = artifacts.ensure_kafka(self.config.cache)
        rec = self._start_broker(kafka_dir, node)
        state.brokers[node - 1] = rec
        self.state_file.write_text(state.to_json())
        self._wait_broker(node, rec)

    def stop_broker(self, node: int, *, kill: bool = False) -> None:
        """Stop one broker (SIGTERM: controlled shutdown; ``kill``: SIGKILL)."""
        state = self._require_state()
        stop([state.brokers[node - 1]], kill=kill)

    def _require_state(self) -> StackState:
        state = self.state()
        if state is None:
            raise StackError(f"no stack recorded in {self.home}", code="STACK_NOT_RUNNING")
        return state

    def _wait(self, what: str, rec: ProcessRecord, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.config.start_timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            if not rec.alive():
                raise StackError(
                    f"{what} exited during start-up; last lines of {rec.log}:\n"
                    f"{log_tail(Path(rec.log))}",
                    code="STACK_START_FAILED",
                )
            time.sleep(0.25)
        raise StackError(
            f"{what} not ready within {self.config.start_timeout_s:.0f}s; see {rec.log}",
            code="STACK_START_TIMEOUT",
        )

    def _wait_broker(self, node: int, rec: ProcessRecord) -> None:
        log = Path(rec.log)
        marks = self._marks.get(node, 0)

        def ready() -> bool:
            return _count_started(log) > marks and port_open(self.config.client_port(node))

        self._wait(f"broker {node}", rec, ready)

    def _wait_cluster(self, state: StackState) -> None:
        from kafka import KafkaAdminClient

        deadline = time.monotonic() + self.config.start_timeout_s
        last: object = None
        while time.monotonic() < deadline:
            try:
                admin = KafkaAdminClient(**state.client_settings(), request_timeout_ms=5000)
                try:
                    brokers = admin.describe_cluster()["brokers"]
                finally:
                    admin.close()
                if len(brokers) == state.nodes:
                    return
                last = f"{len(brokers)} of {state.nodes} brokers registered"
            except Exception as exc:  # broker still settling: retry until the deadline
                last = exc
            time.sleep(0.5)
        raise StackError(f"cluster did not form in time: {last}", code="STACK_START_TIMEOUT")

    def _start_registry(self, registry_dir: Path, state: StackState) -> ProcessRecord:
        heap = self.config.registry_heap
        props = {
            "quarkus.http.port": str(self.config.registry_port),
            "quarkus.http.host": "127.0.0.1",
            "quarkus.management.port": str(self.config.registry_port + 1),
            "quarkus.management.host": "127.0.0.1",
            "apicurio.events.kafka.topic": "bus.registry.events",
            "apicurio.ccompat.legacy-id-mode.enabled": "true",
            "apicurio.rest.deletion.artifact.enabled": "true",
            "apicurio.rest.deletion.artifact-version.enabled": "true",
            "quarkus.log.level": "WARN",
            'quarkus.log.category."io.apicurio".level': "INFO",
        }
        if self.config.registry_storage == "kafkasql":
            props.update({
                "apicurio.storage.kind": "kafkasql",
                "apicurio.kafkasql.bootstrap.servers": state.bootstrap,
                "apicurio.kafkasql.topic": "bus.registry.journal",
                "apicurio.kafkasql.snapshots.topic": "bus.registry.snapshots",
                "apicurio.kafkasql.topic.auto-create": "true",
            })  # fmt: skip
        if state.secure and state.admin_password:
            jaas = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{ADMIN_USER}" password="{state.admin_password}";'
            )
            props.update({
                "apicurio.kafka.common.security.protocol": "SASL_PLAINTEXT",
                "apicurio.kafka.common.sasl.mechanism": "SCRAM-SHA-512",
                "apicurio.kafka.common.sasl.jaas.config": jaas,
            })  # fmt: skip
        java = artifacts.find_java(artifacts.REGISTRY_MIN_JAVA)
        cmd = [java, f"-Xms{heap}", f"-Xmx{heap}"]
        cmd += [f"-D{k}={v}" for k, v in props.items()]
        cmd += ["-jar", str(registry_dir / "quarkus-run.jar")]
        return spawn("registry", cmd, self.home / "registry.log", cwd=self.home)

    def _wait_registry(self, rec: ProcessRecord) -> None:
        url = f"{self.config.registry_url}/subjects"

        def ready() -> bool:
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        self._wait("schema registry", rec, ready)

    # -- down / status ----------------------------------------------------------------------

    def down(self, *, wipe: bool = False) -> list[str]:
        """Stop every process this stack started (registry first); ``wipe`` also deletes data.

        Returns the names of the processes that were running.
        """
        state = self.state()
        running: list[str] = []
        if state is not None:
            running = [r.name for r in self._records(state) if r.alive()]
            if state.registry is not None:
                stop([state.registry], timeout_s=15)
            stop(state.brokers, timeout_s=30)
            self.state_file.unlink(missing_ok=True)
        if wipe:
            for path in self.home.glob("node-*"):
                shutil.rmtree(path)
            self.identity_file.unlink(missing_ok=True)
            (self.home / "registry.log").unlink(missing_ok=True)
        return running

    @staticmethod
    def _records(state: StackState) -> Iterator[ProcessRecord]:
        yield from state.brokers
        if state.registry is not None:
            yield state.registry

    def status(self) -> list[tuple[str, str, str]]:
        """(process, endpoint, up/down) for each recorded process; empty if none."""
        state = self.state()
        if state is None:
            return []
        rows = []
        for node, rec in enumerate(state.brokers, start=1):
            endpoint = f"127.0.0.1:{self.config_from_state(state).client_port(node)}"
            rows.append((rec.name, endpoint, "up" if rec.alive() else "down"))
        if state.registry is not None:
            up = "up" if state.registry.alive() else "down"
            rows.append(("registry", state.registry_url or "", up))
        return rows

    def config_from_state(self, state: StackState) -> StackConfig:
        """The port layout of a recorded stack (first bootstrap port is the base)."""
        base = int(state.bootstrap.split(",")[0].rsplit(":", 1)[1])
        return StackConfig(self.home, nodes=state.nodes, port_base=base, registry=False)
