"""``courtbus stack up|down|status``: KRaft brokers and the schema registry on 127.0.0.1.

The stack lives in one home folder: ``state.json`` (pids, ports, cluster id), one data and
log folder per node, the registry log. Jars come from the shared cache (see ``artifacts``).
``Stack`` is the facade; the work is done in ``layout`` (settings and files), ``control``
(starting and stopping processes) and ``health`` (waiting for readiness, status).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from courtbus.access import bootstrap
from courtbus.errors import StackError
from courtbus.security import pki
from courtbus.security.principals import node_principal
from courtbus.stack import artifacts, control, health, layout
from courtbus.stack.layout import ADMIN_USER, StackConfig, StackState
from courtbus.stack.processes import ProcessRecord, port_free

__all__ = ["ADMIN_USER", "Stack", "StackConfig", "StackState"]


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
        return layout.state_file(self.home)

    @property
    def identity_file(self) -> Path:
        """Kept across ``down``/``up``: cluster id, layout and admin password of the data."""
        return layout.identity_file(self.home)

    def state(self) -> StackState | None:
        """The recorded state, or None if no stack was started here."""
        return layout.read_state(self.home)

    def config_from_state(self, state: StackState) -> StackConfig:
        """The port layout of a recorded stack (first bootstrap port is the base)."""
        return layout.config_from_state(self.home, state)

    def up(self) -> StackState:
        """Fetch jars, format storage, start brokers and registry, wait until ready.

        Idempotent: if this stack already runs healthy, returns its state unchanged.

        Raises:
            StackError: a missing tool, a busy port, a failed download or a start timeout.
        """
        layout.check_layout(self.config)
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
        ports = self.config.ports()
        clash = sorted({p for p in ports if ports.count(p) > 1})
        if clash:  # e.g. the SCRAM listener (after every node's two ports) on the registry's
            raise StackError(
                f"port(s) {', '.join(map(str, clash))} would serve two listeners: a secure stack "
                f"of {self.config.nodes} node(s) takes {', '.join(map(str, ports[:-2] if self.config.registry else ports))}"
                " for Kafka; pick another --registry-port (or --port-base)",
                code="STACK_PORT_CLASH",
            )
        busy = [p for p in ports if not port_free(p)]
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
        layout.log4j_file(self.home).write_text(layout.LOG4J)
        cluster_id, password = layout.identity(self.config, kafka_dir, self._say)
        state = StackState(
            nodes=self.config.nodes,
            secure=self.config.secure,
            bootstrap=self.config.bootstrap,
            registry_url=self.config.registry_url if self.config.registry else None,
            cluster_id=cluster_id,
            admin_password=password,
            brokers=[],
            registry=None,
        )
        if self.config.secure and password is None:
            state.pki = str(pki.pki_dir(self.home))
            state.scram_bootstrap = self.config.scram_bootstrap
        try:
            for node in range(1, self.config.nodes + 1):
                state.brokers.append(self._start_broker(kafka_dir, node))
                layout.write_state(self.home, state)
            self._say("waiting for brokers")
            for node, rec in enumerate(state.brokers, start=1):
                self._wait_broker(node, rec)
            health.wait_cluster(self.config, state)
            if state.pki is not None:
                self._say("granting the operator its ACLs")
                bootstrap.grant_operator(state.connection(node_principal(1)))
            if registry_dir is not None:
                self._say("starting schema registry")
                state.registry = control.start_registry(self.config, registry_dir, state)
                layout.write_state(self.home, state)
                http = state.connection().http_settings() if state.pki else None
                health.wait_registry(self.config, state.registry, http)
        except BaseException:
            layout.write_state(self.home, state)
            self.down()
            raise
        layout.write_state(self.home, state)
        return state

    def down(self, *, wipe: bool = False) -> list[str]:
        """Stop every process this stack started (registry first); ``wipe`` also deletes data.

        Returns the names of the processes that were running.
        """
        return control.down(self.home, wipe=wipe)

    def status(self) -> list[tuple[str, str, str]]:
        """(process, endpoint, up/down) for each recorded process; empty if none."""
        return health.status(self.home, self.state())

    def start_broker(self, node: int) -> None:
        """(Re)start one broker of a running stack, e.g. after ``stop_broker`` in a fault test.

        Raises:
            StackError: no stack here, or the broker does not come up in time.
        """
        state = self._require_state()
        kafka_dir = artifacts.ensure_kafka(self.config.cache)
        rec = self._start_broker(kafka_dir, node)
        state.brokers[node - 1] = rec
        layout.write_state(self.home, state)
        self._wait_broker(node, rec)

    def stop_broker(self, node: int, *, kill: bool = False) -> None:
        """Stop one broker (SIGTERM: controlled shutdown; ``kill``: SIGKILL)."""
        control.stop_broker(self._require_state(), node, kill=kill)

    def _properties(self, node: int, password: str | None) -> str:
        """``server.properties`` of one node (kept for the unit tests)."""
        return layout.properties(self.config, node, password)

    def _start_broker(self, kafka_dir: Path, node: int) -> ProcessRecord:
        log = layout.node_dir(self.home, node) / "broker.log"
        self._marks[node] = health.started_count(log)
        return control.start_broker(self.config, kafka_dir, node)

    def _wait_broker(self, node: int, rec: ProcessRecord) -> None:
        health.wait_broker(self.config, node, rec, self._marks.get(node, 0))

    def _require_state(self) -> StackState:
        state = self.state()
        if state is None:
            raise StackError(f"no stack recorded in {self.home}", code="STACK_NOT_RUNNING")
        return state
