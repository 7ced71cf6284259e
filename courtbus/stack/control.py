"""Starting and stopping the stack's JVMs: brokers, the schema registry, and ``down``."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from courtbus.errors import StackError
from courtbus.security import pki
from courtbus.security.principals import (
    OPERATOR,
    SERVICES,
    agency_principal,
    court_principal,
    service_principal,
)
from courtbus.stack import artifacts
from courtbus.stack.layout import (
    ADMIN_USER,
    REVOCATION_JVM_FLAGS,
    StackConfig,
    StackState,
    broker_java,
    identity_file,
    node_dir,
    read_state,
    state_file,
)
from courtbus.stack.processes import ProcessRecord, spawn, stop

if TYPE_CHECKING:
    from courtbus.catalogue.directory import Directory


def start_broker(config: StackConfig, kafka_dir: Path, node: int) -> ProcessRecord:
    """Spawn broker ``node`` from its ``server.properties``, logging to its ``broker.log``."""
    ndir = node_dir(config.home, node)
    cmd = [
        *broker_java(config, kafka_dir, config.broker_heap),
        "kafka.Kafka",
        str(ndir / "server.properties"),
    ]
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
        props.update(
            {
                "apicurio.storage.kind": "kafkasql",
                "apicurio.kafkasql.bootstrap.servers": state.bootstrap,
                "apicurio.kafkasql.topic": "bus.registry.journal",
                "apicurio.kafkasql.snapshots.topic": "bus.registry.snapshots",
                "apicurio.kafkasql.topic.auto-create": "true",
            }
        )
    if state.pki is not None:
        props.update(secure_registry_properties(config, state))
    elif state.secure and state.admin_password:
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{state.admin_password}";'
        )
        props.update(
            {
                "apicurio.kafka.common.security.protocol": "SASL_PLAINTEXT",
                "apicurio.kafka.common.sasl.mechanism": "SCRAM-SHA-512",
                "apicurio.kafka.common.sasl.jaas.config": jaas,
            }
        )
    java = artifacts.find_java(artifacts.REGISTRY_MIN_JAVA)
    cmd = [java, f"-Xms{heap}", f"-Xmx{heap}"]
    if state.pki is not None:
        # secrets (key store password, user hashes) go in the registry's own config file,
        # read from ./config/ (Quarkus), not on a command line every process can see
        cmd += list(REVOCATION_JVM_FLAGS)
        conf = config.home / "config" / "application.properties"
        conf.parent.mkdir(mode=0o700, exist_ok=True)
        pki.write_private(conf, "".join(f"{k}={v}\n" for k, v in props.items()).encode())
    else:
        cmd += [f"-D{k}={v}" for k, v in props.items()]
    cmd += ["-jar", str(registry_dir / "quarkus-run.jar")]
    return spawn("registry", cmd, config.home / "registry.log", cwd=config.home)


REGISTRY_PRINCIPAL = "registry"  # its HTTPS server certificate: CN=registry,OU=registry
REGISTRY_REALM = "Quarkus"  # the embedded realm's name: part of each stored password hash


def registry_readers(directory: Directory | None = None) -> list[str]:
    """Who may read schemas: every court and agency of the directory and every bus service."""
    from courtbus.catalogue.directory import load_directory

    found = directory or load_directory()
    return [
        *(court_principal(c.id) for c in found.courts),
        *(agency_principal(a.id) for a in found.agencies),
        *(service_principal(name) for name in SERVICES),
    ]


def _password_hash(user: str, password: str) -> str:
    """What Quarkus's embedded realm stores for ``digest-sha-512``: hex SHA-512 of
    ``user:realm:password``."""
    return hashlib.sha512(f"{user}:{REGISTRY_REALM}:{password}".encode()).hexdigest()


def secure_registry_properties(config: StackConfig, state: StackState) -> dict[str, str]:
    """The registry of a secure stack: HTTPS only (a server certificate from the bus CA, the
    JDK's CRL check), HTTP basic authentication against users the stack provisions (the
    operator as ``sr-admin``, every participant and service as ``sr-readonly``, each with its
    own password in ``pki/issued/<principal>/registry.password``), role-based authorization;
    its Kafka storage connects with the operator's certificate.

    Client certificates on the registry's HTTPS port cannot be required with the stock jar:
    ``quarkus.http.ssl.client-auth`` is fixed when Quarkus builds the application (see
    README, Security).
    """
    ca = pki.Authority(Path(str(state.pki)))
    server = ca.issue(REGISTRY_PRINCIPAL, hosts=("127.0.0.1", "localhost"), encrypt_key=False)
    operator = ca.credentials(OPERATOR)
    if operator is None:
        raise StackError("the operator has no certificate", code="CREDENTIALS_UNKNOWN")
    keystore = operator.pkcs12()
    kafka = "apicurio.kafka.common."
    props = {
        f"{kafka}security.protocol": "SSL",
        f"{kafka}ssl.keystore.type": "PKCS12",
        f"{kafka}ssl.keystore.location": str(keystore),
        f"{kafka}ssl.keystore.password": operator.key_password() or "",
        f"{kafka}ssl.truststore.type": "PEM",
        f"{kafka}ssl.truststore.location": str(ca.ca_cert),
        "quarkus.http.insecure-requests": "disabled",
        "quarkus.http.ssl-port": str(config.registry_port),
        "quarkus.http.ssl.certificate.files": str(server.cert),
        "quarkus.http.ssl.certificate.key-files": str(server.key),
        "quarkus.http.auth.basic": "true",
        "apicurio.authn.mechanism.priority": "basic",
        "apicurio.auth.role-based-authorization": "true",
        "apicurio.auth.role-source": "token",
        "quarkus.security.users.embedded.enabled": "true",
        "quarkus.security.users.embedded.plain-text": "false",
        "quarkus.security.users.embedded.algorithm": "digest-sha-512",
        "quarkus.security.users.embedded.realm-name": REGISTRY_REALM,
    }
    roles = {OPERATOR: "sr-admin", **{p: "sr-readonly" for p in registry_readers()}}
    for principal, role in roles.items():
        digest = _password_hash(principal, ca.registry_password(principal))
        props[f'quarkus.security.users.embedded.users."{principal}"'] = digest
        props[f'quarkus.security.users.embedded.roles."{principal}"'] = role
    return props


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
