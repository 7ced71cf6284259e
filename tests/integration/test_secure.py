"""`stack up --secure`: TLS with client certificates, a SCRAM listener over TLS and the
deny-by-default authorizer, on a real broker (the refusals per port: test_tls.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic, UserScramCredentialUpsertion
from kafka.errors import KafkaError

from courtbus.config import Connection
from courtbus.stack import Stack, StackConfig, StackState
from tests.ports import free_block

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    home: Path = tmp_path_factory.mktemp("secure")
    stack = Stack(StackConfig(home, secure=True, port_base=free_block(3), registry=False))
    state = stack.up()
    try:
        yield state
    finally:
        stack.down()


def test_admin_with_scram_credentials_can_manage_topics(secure: StackState) -> None:
    admin = KafkaAdminClient(**secure.client_settings())
    admin.create_topics([NewTopic("court.320583.outbox", 1, 1)])
    assert "court.320583.outbox" in admin.list_topics()
    admin.close()


def _scram(secure: StackState, user: str, password: str) -> dict[str, object]:
    """kafka-python settings for a SCRAM user on the stack's SASL_SSL listener."""
    assert secure.scram_bootstrap and secure.pki
    ca = str(Path(secure.pki) / "ca.crt")
    conn = Connection(secure.scram_bootstrap, None, user, password, ssl_ca=ca)
    return conn.kafka_settings()


def test_wrong_password_is_refused(secure: StackState) -> None:
    settings = _scram(secure, "court.6101", "wrong")
    with pytest.raises(KafkaError):
        KafkaAdminClient(
            **settings, request_timeout_ms=5000, api_version_auto_timeout_ms=5000
        ).list_topics()


def test_plaintext_client_cannot_talk_to_the_sasl_listener(secure: StackState) -> None:
    with pytest.raises(KafkaError):
        KafkaAdminClient(
            bootstrap_servers=secure.bootstrap,
            request_timeout_ms=5000,
            api_version_auto_timeout_ms=5000,
        ).list_topics()


def test_a_user_without_acls_is_denied_by_default(secure: StackState) -> None:
    """allow.everyone.if.no.acl.found=false: a valid login alone grants nothing."""
    admin = KafkaAdminClient(**secure.client_settings())
    result = admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion("court-6101", "SCRAM-SHA-512", "pw-6101")]
    )
    assert result.get("court-6101") is None, result
    admin.create_topics([NewTopic("court.6101.outbox", 1, 1)])
    admin.close()
    settings = _scram(secure, "court-6101", "pw-6101")
    deadline = time.monotonic() + 30
    while True:  # SCRAM credentials propagate asynchronously
        try:
            producer = KafkaProducer(**settings, max_block_ms=5000, acks="all")
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    with pytest.raises(KafkaError) as info:
        producer.send("court.6101.outbox", b"x").get(timeout=10)
    producer.close()
    assert "Authorization" in type(info.value).__name__ or "authoriz" in str(info.value).lower()
