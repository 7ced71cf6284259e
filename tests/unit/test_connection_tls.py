"""Connection's TLS and SCRAM settings, rendered for kafka-python, librdkafka and HTTP, and
read from COURTBUS_SSL_* / COURTBUS_SASL_* / a secure stack's home."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from courtbus.config import Connection, env_http_settings, resolve, stack_connection
from courtbus.errors import ConfigError
from courtbus.security import pki
from courtbus.stack.layout import StackState

_VARS = (
    "COURTBUS_BOOTSTRAP",
    "COURTBUS_REGISTRY_URL",
    "COURTBUS_SSL_CA",
    "COURTBUS_SSL_CERT",
    "COURTBUS_SSL_KEY",
    "COURTBUS_SSL_KEY_PASSWORD",
    "COURTBUS_SSL_KEY_PASSWORD_FILE",
    "COURTBUS_SASL_USERNAME",
    "COURTBUS_SASL_PASSWORD",
    "COURTBUS_SASL_PASSWORD_FILE",
    "COURTBUS_REGISTRY_USERNAME",
    "COURTBUS_REGISTRY_PASSWORD",
    "COURTBUS_REGISTRY_PASSWORD_FILE",
    "COURTBUS_PRINCIPAL",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def creds(tmp_path: Path) -> pki.Credentials:
    return pki.authority(tmp_path, create=True).issue("court.320583")


def test_a_certificate_connection_renders_ssl_for_both_clients(creds: pki.Credentials) -> None:
    conn = Connection.from_credentials("127.0.0.1:9092", None, creds)
    assert conn.security_protocol == "SSL"
    password = creds.key_password()
    assert conn.kafka_settings() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "SSL",
        "ssl_cafile": str(creds.ca),
        "ssl_check_hostname": True,
        "ssl_certfile": str(creds.cert),
        "ssl_keyfile": str(creds.key),
        "ssl_password": password,
    }
    rd = conn.librdkafka_settings()
    assert {k: v for k, v in rd.items() if k.startswith(("security", "ssl"))} == {
        "security.protocol": "ssl",
        "ssl.ca.location": str(creds.ca),
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.certificate.location": str(creds.cert),
        "ssl.key.location": str(creds.key),
        "ssl.key.password": password,
    }


def test_scram_over_tls_is_sasl_ssl_and_without_a_ca_stays_sasl_plaintext(
    creds: pki.Credentials,
) -> None:
    over_tls = Connection("127.0.0.1:9094", None, "court.6101", "pw", ssl_ca=str(creds.ca))
    assert over_tls.kafka_settings()["security_protocol"] == "SASL_SSL"
    assert over_tls.kafka_settings()["sasl_mechanism"] == "SCRAM-SHA-512"
    assert "ssl_certfile" not in over_tls.kafka_settings()
    assert over_tls.librdkafka_settings()["security.protocol"] == "sasl_ssl"
    assert over_tls.librdkafka_settings()["sasl.username"] == "court.6101"
    legacy = Connection("127.0.0.1:9092", None, "admin", "pw")
    assert legacy.librdkafka_settings()["security.protocol"] == "sasl_plaintext"
    plain = Connection("127.0.0.1:9092", None)
    assert "security_protocol" not in plain.kafka_settings()
    assert "security.protocol" not in plain.librdkafka_settings()


def test_secrets_stay_out_of_the_repr(creds: pki.Credentials) -> None:
    conn = Connection.from_credentials(
        "127.0.0.1:9092", None, creds, registry_username="u", registry_password="reg-secret"
    )
    text = repr(Connection("127.0.0.1:9092", None, "u", "scram-secret")) + repr(conn)
    assert "scram-secret" not in text and "reg-secret" not in text
    assert str(creds.key_password()) not in text


def test_the_registry_client_gets_tls_with_the_certificate_and_basic_auth(
    creds: pki.Credentials,
) -> None:
    conn = Connection.from_credentials(
        "127.0.0.1:9092",
        "https://127.0.0.1:8081/apis/ccompat/v7",
        creds,
        registry_username="court.320583",
        registry_password="pw",
    )
    http = conn.http_settings()
    assert http["auth"] == ("court.320583", "pw")
    context = http["verify"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert Connection("127.0.0.1:9092", None).http_settings() == {}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"ssl_cert": "c.pem"}, "SSL_INCOMPLETE"),
        ({"ssl_cert": "c.pem", "ssl_key": "k.pem"}, "SSL_INCOMPLETE"),
        ({"ssl_ca": "/nonexistent/ca.crt"}, "SSL_FILE_MISSING"),
    ],
)
def test_incomplete_or_missing_tls_files_are_refused(fields: dict[str, Any], code: str) -> None:
    with pytest.raises(ConfigError) as info:
        Connection("127.0.0.1:9092", None, **fields)
    assert info.value.code == code


def test_resolve_reads_the_tls_files_and_the_key_password_file(
    monkeypatch: pytest.MonkeyPatch, creds: pki.Credentials
) -> None:
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", "10.0.0.1:9092")
    monkeypatch.setenv("COURTBUS_SSL_CA", str(creds.ca))
    monkeypatch.setenv("COURTBUS_SSL_CERT", str(creds.cert))
    monkeypatch.setenv("COURTBUS_SSL_KEY", str(creds.key))
    monkeypatch.setenv("COURTBUS_SSL_KEY_PASSWORD_FILE", str(creds.key_password_file))
    conn = resolve()
    assert conn.security_protocol == "SSL"
    assert conn.ssl_key_password == creds.key_password()
    assert conn.ssl_context() is not None  # the encrypted key opens with that password


def test_an_unreadable_password_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", "10.0.0.1:9092")
    monkeypatch.setenv("COURTBUS_SASL_USERNAME", "court.6101")
    monkeypatch.setenv("COURTBUS_SASL_PASSWORD_FILE", "/nonexistent/pw")
    with pytest.raises(ConfigError) as info:
        resolve()
    assert info.value.code == "SECRET_FILE_UNREADABLE"
    assert "COURTBUS_SASL_PASSWORD_FILE" in str(info.value)


def _secure_state(home: Path) -> StackState:
    ca = pki.authority(home, create=True)
    for principal in ("operator", "service.gateway"):
        ca.issue(principal)
    ca.registry_password("operator")
    return StackState(
        nodes=1,
        secure=True,
        bootstrap="127.0.0.1:21000",
        registry_url="https://127.0.0.1:21100/apis/ccompat/v7",
        cluster_id="c",
        admin_password=None,
        brokers=[],
        registry=None,
        pki=str(pki.pki_dir(home)),
        scram_bootstrap="127.0.0.1:21002",
    )


def test_a_secure_stack_connects_as_the_operator_by_default(tmp_path: Path) -> None:
    state = _secure_state(tmp_path)
    conn = stack_connection(state)
    assert conn.ssl_cert == str(pki.pki_dir(tmp_path) / "issued" / "operator" / "cert.pem")
    assert conn.registry_username == "operator" and conn.registry_password
    assert conn.bootstrap == "127.0.0.1:21000"


def test_a_service_picks_its_own_certificate_from_the_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COURTBUS_PRINCIPAL", "service.gateway")
    conn = stack_connection(_secure_state(tmp_path))
    assert conn.ssl_cert is not None and "/service.gateway/" in conn.ssl_cert
    assert conn.registry_username is None  # no registry password issued to it here


def test_a_scram_user_of_a_secure_stack_goes_to_the_sasl_ssl_listener(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COURTBUS_SASL_USERNAME", "court.6101")
    monkeypatch.setenv("COURTBUS_SASL_PASSWORD", "pw")
    state = _secure_state(tmp_path)
    conn = stack_connection(state, env={"username": "court.6101", "password": "pw"})
    assert conn.bootstrap == "127.0.0.1:21002" and conn.security_protocol == "SASL_SSL"


def test_a_registry_named_by_url_takes_its_tls_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, creds: pki.Credentials
) -> None:
    assert env_http_settings() == {}
    monkeypatch.setenv("COURTBUS_SSL_CA", str(creds.ca))
    monkeypatch.setenv("COURTBUS_REGISTRY_USERNAME", "operator")
    monkeypatch.setenv("COURTBUS_REGISTRY_PASSWORD", "pw")
    http = env_http_settings()
    assert isinstance(http["verify"], ssl.SSLContext) and http["auth"] == ("operator", "pw")
