"""The secure stack on a real broker and registry: who may connect to which port.

A participant's certificate from the bus CA connects; a plaintext client, a client without a
certificate, one with a certificate from another CA (bearing the very same CA name), an
expired and a revoked certificate are refused on the client port and on the controller port
(with the TLS alert the JDK sends), while a certificate issued beside them connects. SCRAM-SHA-512 over TLS works on its own
listener. The registry refuses plain HTTP, anonymous and participants' writes, and takes the
operator's.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from courtbus.access import credentials
from courtbus.config import Connection
from courtbus.security import pki
from courtbus.stack import Stack, StackConfig, StackState
from tests.ports import free_block

pytestmark = pytest.mark.integration

GOOD, EXPIRED, REVOKED, LATE = "court.320583", "court.6101", "court.6103", "court.6104"
SCHEMA = '{"type": "record", "name": "Probe", "namespace": "test.tls", "fields": []}'


@dataclass
class Secure:
    stack: Stack
    state: StackState
    home: Path
    foreign: pki.Credentials  # a certificate of another CA with the same name


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    home = tmp_path_factory.mktemp("tls")
    base = free_block(12)
    # the CA exists before the brokers start: the revoked certificate is on the CRL they read
    ca = pki.authority(home, create=True)
    ca.issue(GOOD)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    ca.issue(EXPIRED, not_before=start, not_after=start + dt.timedelta(days=1))
    ca.revoke(ca.issue(REVOKED))
    foreign = pki.Authority.open(tmp_path_factory.mktemp("other-ca")).issue(GOOD)
    stack = Stack(StackConfig(home, secure=True, port_base=base, registry_port=base + 10))
    state = stack.up()
    try:
        yield Secure(stack, state, home, foreign)
    finally:
        stack.down()


def _creds(secure: Secure, principal: str) -> pki.Credentials:
    found = pki.credentials(secure.home, principal)
    assert found is not None
    return found


def _ca(secure: Secure) -> str:
    return str(pki.authority(secure.home).ca_cert)


# -- a raw Kafka request over TLS: what each port answers ---------------------------------------


def _api_versions(correlation: int) -> bytes:
    """An ApiVersions v0 request (api key 18), the first request every Kafka client sends."""
    client = b"tls-test"
    body = struct.pack(">hhih", 18, 0, correlation, len(client)) + client
    return struct.pack(">i", len(body)) + body


def kafka_over_tls(port: int, ca: str, creds: pki.Credentials | None = None) -> str:
    """ "kafka" if the port answers an ApiVersions request over TLS with this certificate (or
    none); otherwise the reason the connection failed (the TLS alert's name, or "closed")."""
    context = ssl.create_default_context(cafile=ca)
    if creds is not None:
        context.load_cert_chain(creds.cert, creds.key, password=creds.key_password())
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(_api_versions(7))
            head = tls.recv(8)  # TLS 1.3: a refused client certificate shows up here
            if len(head) < 8:
                return "closed"
            return "kafka" if struct.unpack(">i", head[4:8])[0] == 7 else "garbled"
    except ssl.SSLError as exc:
        return exc.reason or str(exc)
    except (ConnectionError, TimeoutError) as exc:
        return type(exc).__name__


def kafka_plaintext(port: int) -> str:
    """What a port answers a plaintext ApiVersions request: "kafka" or how it refused."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_api_versions(9))
        try:
            head = sock.recv(8)
        except ConnectionResetError:
            return "reset"
    if len(head) >= 8 and struct.unpack(">i", head[4:8])[0] == 9:
        return "kafka"
    return "refused"


# -- the client and controller ports ---------------------------------------------------------


def test_a_participant_certificate_connects_with_both_clients(secure: Secure) -> None:
    cfg = secure.stack.config
    assert kafka_over_tls(cfg.client_port(1), _ca(secure), _creds(secure, GOOD)) == "kafka"
    conn = Connection.from_credentials(secure.state.bootstrap, None, _creds(secure, GOOD))
    admin = KafkaAdminClient(**conn.kafka_settings(), request_timeout_ms=10000)
    try:
        assert len(admin.describe_cluster()["brokers"]) == 1
    finally:
        admin.close()
    metadata = AdminClient(conn.librdkafka_settings()).list_topics(timeout=10)
    assert list(metadata.brokers) == [1]


def test_a_connected_participant_without_acls_is_denied_not_let_in(secure: Secure) -> None:
    operator = secure.state.connection()
    admin = AdminClient(operator.librdkafka_settings())
    topic = "court.320583.outbox"
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    court = Connection.from_credentials(secure.state.bootstrap, None, _creds(secure, GOOD))
    producer = Producer({**court.librdkafka_settings(), "message.timeout.ms": 10000})
    errors: list[str] = []
    producer.produce(
        topic, b"x", on_delivery=lambda err, _m: errors.append(str(err and err.name()))
    )
    producer.flush(15)
    assert errors == ["TOPIC_AUTHORIZATION_FAILED"]


@pytest.mark.parametrize("port_kind", ["client", "controller"])
def test_every_bad_client_is_refused_on_every_port(secure: Secure, port_kind: str) -> None:
    cfg = secure.stack.config
    port = cfg.client_port(1) if port_kind == "client" else cfg.controller_port(1)
    ca = _ca(secure)
    assert kafka_plaintext(port) != "kafka"
    refused = {
        "no certificate": kafka_over_tls(port, ca),
        "another CA": kafka_over_tls(port, ca, secure.foreign),
        "expired": kafka_over_tls(port, ca, _creds(secure, EXPIRED)),
        "revoked": kafka_over_tls(port, ca, _creds(secure, REVOKED)),
    }
    # the JDK's server side sends bad_certificate for a missing certificate and
    # certificate_unknown whatever the validation failure (its reason is only in its debug
    # log): what tells them apart here is that GOOD, issued beside them by the same CA, passes
    assert refused == {
        "no certificate": "SSLV3_ALERT_BAD_CERTIFICATE",
        "another CA": "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "expired": "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "revoked": "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    }
    assert kafka_over_tls(port, ca, _creds(secure, GOOD)) == "kafka"


def test_the_kafka_clients_fail_to_connect_without_a_certificate(secure: Secure) -> None:
    no_cert = Connection(secure.state.bootstrap, None, ssl_ca=_ca(secure))
    with pytest.raises(KafkaError):
        KafkaAdminClient(
            **no_cert.kafka_settings(), request_timeout_ms=5000, api_version_auto_timeout_ms=5000
        ).describe_cluster()
    with pytest.raises(KafkaException):
        AdminClient(no_cert.librdkafka_settings()).list_topics(timeout=5)


def test_a_certificate_revoked_while_the_stack_runs_is_refused_within_30_s(
    secure: Secure,
) -> None:
    """The JDK re-reads the CRL file it caches (at most 30 s old): no restart needed."""
    port = secure.stack.config.client_port(1)
    creds = pki.issue(secure.home, LATE)
    assert kafka_over_tls(port, _ca(secure), creds) == "kafka"
    pki.revoke(secure.home, LATE)
    deadline = time.monotonic() + 60
    result = "kafka"
    while result == "kafka" and time.monotonic() < deadline:
        time.sleep(1)
        result = kafka_over_tls(port, _ca(secure), creds)
    assert result == "SSLV3_ALERT_CERTIFICATE_UNKNOWN"


# -- SCRAM over TLS --------------------------------------------------------------------------


def test_a_scram_participant_connects_over_tls_and_a_wrong_password_does_not(
    secure: Secure, tmp_path: Path
) -> None:
    bundle = credentials.issue_bundle(
        secure.home, secure.state, "agency.nia", tmp_path / "nia", scram=True
    )
    password = (bundle.folder / "scram.password").read_text()
    scram_port = secure.stack.config.scram_port(1)
    assert bundle.bootstrap == f"127.0.0.1:{scram_port}"
    good = Connection(
        bundle.bootstrap, None, "agency.nia", password, ssl_ca=str(bundle.folder / "ca.crt")
    )
    deadline = time.monotonic() + 30
    while True:  # SCRAM credentials reach every broker asynchronously
        try:
            AdminClient(good.librdkafka_settings()).list_topics(timeout=5)
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
    bad = Connection(bundle.bootstrap, None, "agency.nia", "wrong", ssl_ca=good.ssl_ca)
    with pytest.raises(KafkaException):
        AdminClient(bad.librdkafka_settings()).list_topics(timeout=5)
    assert kafka_plaintext(scram_port) != "kafka"


# -- the registry ----------------------------------------------------------------------------


def _register(secure: Secure, **http: object) -> httpx.Response:
    url = f"{secure.state.registry_url}/subjects/test.tls.Probe/versions"
    with httpx.Client(timeout=10, **http) as client:  # type: ignore[arg-type]
        return client.post(
            url,
            json={"schema": SCHEMA},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        )


def test_the_registry_refuses_plain_http(secure: Secure) -> None:
    url = secure.state.registry_url
    assert url is not None and url.startswith("https://")
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https://", "http://") + "/subjects", timeout=5)


def test_only_the_operator_registers_schemas_and_participants_read_them(
    secure: Secure, tmp_path: Path
) -> None:
    operator = secure.state.connection()
    ca = ssl.create_default_context(cafile=_ca(secure))
    assert _register(secure, verify=ca).status_code == 401  # anonymous
    court = credentials.issue_bundle(secure.home, secure.state, GOOD, tmp_path / "court")
    court_auth = (GOOD, (court.folder / "registry.password").read_text())
    assert _register(secure, verify=ca, auth=court_auth).status_code == 403
    assert _register(secure, verify=ca, auth=(GOOD, "wrong")).status_code == 401
    written = _register(secure, **operator.http_settings())
    assert written.status_code == 200, written.text
    with httpx.Client(timeout=10, verify=ca, auth=court_auth) as client:
        read = client.get(f"{secure.state.registry_url}/subjects")
    assert read.status_code == 200 and "test.tls.Probe" in read.json()
    with httpx.Client(timeout=10, verify=ca) as client:
        assert client.get(f"{secure.state.registry_url}/subjects").status_code == 401


# -- a service on the secure stack -------------------------------------------------------------


def test_a_service_starts_with_its_own_identity_from_the_stack(
    secure: Secure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`COURTBUS_PRINCIPAL=service.gateway courtbus serve gateway` on the stack's machine: the
    service's checks reach Kafka and the registry as service.gateway, not as the operator."""
    from services import main as service_main

    for name in ("COURTBUS_BOOTSTRAP", "COURTBUS_REGISTRY_URL", "COURTBUS_SSL_CERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURTBUS_STACK_HOME", str(secure.home))
    monkeypatch.setenv("COURTBUS_PRINCIPAL", "service.gateway")
    conn, registry = service_main.start_checks()
    try:
        assert conn.ssl_cert is not None and "/service.gateway/" in conn.ssl_cert
        assert conn.registry_username == "service.gateway"
        assert isinstance(registry.subjects(), list)  # read access with its own password
        metadata = AdminClient(conn.librdkafka_settings()).list_topics(timeout=10)
        assert list(metadata.brokers) == [1]
    finally:
        registry.close()


# -- the Java client.properties of `credentials issue` ----------------------------------------


def test_the_java_client_properties_consume_as_the_participant(
    secure: Secure, tmp_path: Path
) -> None:
    """Kafka's own console consumer with the issued client.properties (PKCS#12 key store,
    passwords through DirectoryConfigProvider) reads as User:court.320583 once an ACL lets it."""
    import subprocess

    from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
    from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

    from courtbus.stack import artifacts
    from courtbus.stack.processes import java_command

    bundle = credentials.issue_bundle(secure.home, secure.state, GOOD, tmp_path / "court")
    topic, group = "court.320583.inbox", "court.320583.console"
    operator = secure.state.connection()
    admin = AdminClient(operator.librdkafka_settings())
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    grants = [
        AclBinding(
            kind,
            name,
            ResourcePatternType.LITERAL,
            f"User:{GOOD}",
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        )
        for kind, name in ((ResourceType.TOPIC, topic), (ResourceType.GROUP, group))
    ]
    for future in admin.create_acls(grants).values():
        future.result(timeout=30)
    producer = Producer(operator.librdkafka_settings())
    producer.produce(topic, b"hello court")
    assert producer.flush(15) == 0
    kafka_dir = artifacts.ensure_kafka(secure.stack.config.cache)
    cmd = [
        *java_command(
            kafka_dir, "256m", log_config=secure.home / "log4j2.properties", logs_dir=tmp_path
        ),
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        bundle.bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--consumer.config",
        str(bundle.folder / "client.properties"),
        "--from-beginning",
        "--max-messages",
        "1",
        "--timeout-ms",
        "60000",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert run.stdout.strip() == "hello court", run.stderr[-2000:]
