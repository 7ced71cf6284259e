"""Starting and stopping the stack's JVMs: brokers, the schema registry, and ``down``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from courtbus.stack import artifacts
from courtbus.stack.layout import (
    ADMIN_USER,
    StackConfig,
    StackState,
    broker_java,
    identity_file,
    node_dir,
    read_state,
    state_file,
)
from courtbus.stack.processes import ProcessRecord, spawn, stop


def start_broker(config: StackConfig, kafka_dir: Path, node: int) -> ProcessRecord:
    """Spawn broker ``node`` from its ``server.properties``, logging to its ``broker.log``."""
    ndir = node_dir(config.home, node)
    cmd = [*broker_java(config, kafka_dir, config.broker_heap), "kafka.Kafka",
           str(ndir / "server.properties")]  # fmt: skip
    return spawn(f"broker-{node}", cmd, ndir / "broker.log")


def stop_broker(state: StackState, node: int, *, kill: bool = False) -> None:
    """Stop broker ``node`` of ``state`` (SIGTERM: controlled shutdown; ``kill``: SIGKILL)."""
    stop([state.brokers[node - 1]], kill=kill)


def start_registry(config: StackConfig, registry_dir: Path, state: StackState) -> ProcessRecord:
    """Spawn the Apicurio schema registry against the brokers of ``state``.

    Raises:
        StackError: no Java recent enough for the registry, or it exits at once.
    """
    heap = config.registry_heap
    props = {
        "quarkus.http.port": str(config.registry_port),
        "quarkus.http.host": "127.0.0.1",
        "quarkus.management.port": str(config.registry_port + 1),
        "quarkus.management.host": "127.0.0.1",
        "apicurio.events.kafka.topic": "bus.registry.events",
        "apicurio.ccompat.legacy-id-mode.enabled": "true",
        "apicurio.rest.deletion.artifact.enabled": "true",
        "apicurio.rest.deletion.artifact-version.enabled": "true",
        "quarkus.log.level": "WARN",
        'quarkus.log.category."io.apicurio".level': "INFO",
    }
    if config.registry_storage == "kafkasql":
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
    return spawn("registry", cmd, config.home / "registry.log", cwd=config.home)


def records(state: StackState) -> Iterator[ProcessRecord]:
    """Every process ``state`` recorded: the brokers, then the registry."""
    yield from state.brokers
    if state.registry is not None:
        yield state.registry


def down(home: Path, *, wipe: bool = False) -> list[str]:
    """Stop every process the stack in ``home`` started (registry first); ``wipe`` deletes data.

    Returns the names of the processes that were running.
    """
    state = read_state(home)
    running: list[str] = []
    if state is not None:
        running = [r.name for r in records(state) if r.alive()]
        if state.registry is not None:
            stop([state.registry], timeout_s=15)
        stop(state.brokers, timeout_s=30)
        state_file(home).unlink(missing_ok=True)
    if wipe:
        for path in home.glob("node-*"):
            shutil.rmtree(path)
        identity_file(home).unlink(missing_ok=True)
        (home / "registry.log").unlink(missing_ok=True)
    return running
