"""Signed records end to end on the real broker and registry: the gateway (signatures
required) refuses another court's key, a tampered value or header, a replay and a key past its
window, each with its code, a dead letter with the original bytes and a notice to the sender;
a record signed with the new key during a rotation window (and with the old one) passes; the
executing court's SDK verifies the request it received, as the requesting court signed it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.errors import SignatureError
from courtbus.sdk.court import CourtClient
from courtbus.security import keys as keyfile
from courtbus.security.signing import HEADER, PublicKey, Signer
from courtbus.wire.envelope import Envelope
from tests.gateway_cases import RECORD, Raw, build, valid_payload
from tests.integration.conftest import StartServices
from tests.integration.helpers import Services, TopicReader, header

pytestmark = pytest.mark.integration
COURT = "court.320583"
NOW = datetime.now(UTC)


class Keys:
    """The module's keys file: court 320583 mid-rotation (old and new key both valid for an
    hour), a key of court 320583 retired an hour ago, and court 3205's key."""

    def __init__(self, folder: Path) -> None:
        self.file = folder / "public.yaml"
        self.private = folder / "private"
        keys: tuple[PublicKey, ...] = ()
        keys, self.retired = keyfile.add_key(keys, COURT, NOW - timedelta(days=30))
        keys, _ = keyfile.retire(keys, COURT, NOW - timedelta(hours=1))
        keys, self.old = keyfile.add_key(keys, COURT, NOW - timedelta(days=10))
        keys, self.new = keyfile.rotate(keys, COURT, NOW, rollover=timedelta(hours=1))
        keys, self.other = keyfile.add_key(keys, "court.3205", NOW - timedelta(days=10))
        keyfile.write_keys(self.file, keys)
        self.new_file = keyfile.write_private(self.private / "new.pem", self.new)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def services(start_services: StartServices, keys: Keys) -> Services:
    env = {
        "COURTBUS_KEYS": str(keys.file),
        "COURTBUS_SIGNATURES": "required",
        "COURTBUS_RETRY_WINDOW_S": "0",  # any identical copy after the first is a replay
    }
    return start_services("signed", env=env, which=("gateway", "delegation"))


@pytest.fixture(scope="module")
def producer(conn: Connection) -> Iterator[KafkaProducer]:
    p = KafkaProducer(**conn.kafka_settings(), acks="all")
    yield p
    p.close()


def signed(envelope: Envelope, signer: Signer) -> Raw:
    payload = valid_payload(delegation_id=f"dlg-320583-{uuid.uuid4().hex[:8]}")
    return build(Envelope(envelope.codec, signer), payload)


def send(producer: KafkaProducer, raw: Raw) -> tuple[str, str]:
    headers = [(k, v if v is not None else b"") for k, v in raw.headers]
    meta = producer.send(raw.topic, key=raw.key, value=raw.value, headers=headers).get(timeout=10)
    return str(meta.partition), str(meta.offset)


def ce_id(raw: Any) -> str | None:
    return header(raw, "ce_id")


def forwarded(conn: Connection, raw: Raw) -> Any:
    """The copy of ``raw`` on the delegation flow's topic (waits for it)."""
    reader = TopicReader(conn, "bus.delegation.events")
    try:
        want = dict(raw.headers)["ce_id"].decode()  # type: ignore[union-attr]
        return reader.wait_for(lambda r: ce_id(r) == want)[0]
    finally:
        reader.close()


def refused(conn: Connection, envelope: Envelope, raw: Raw, where: tuple[str, str]) -> str:
    """The code of the dead letter of the record at ``where``, once its notice is in the
    sender's inbox too; checks the dead letter holds the original bytes and headers."""
    reader = TopicReader(conn, "bus.deadletter", "court.320583.inbox")
    try:
        dead = reader.wait_for(
            lambda r: (
                r.topic == "bus.deadletter"
                and header(r, "dlq_topic") == raw.topic
                and (header(r, "dlq_partition"), header(r, "dlq_offset")) == where
            )
        )[0]
        assert (dead.key, dead.value) == (raw.key, raw.value)
        original = [(k, bytes(v or b"")) for k, v in dead.headers if not k.startswith("dlq_")]
        assert original == [(k, v or b"") for k, v in raw.headers]
        code = header(dead, "dlq_code")
        notice = reader.wait_for(
            lambda r: (
                r.topic == "court.320583.inbox"
                and r.key == f"{raw.topic}:{where[0]}:{where[1]}".encode()
            )
        )[0]
        event = envelope.read(notice)
        assert event.payload["error_code"] == code
        assert event.headers.source == "bus:gateway"
        return str(code)
    finally:
        reader.close()


def _tampered_value(raw: Raw) -> Raw:
    value = raw.value or b""
    return Raw(raw.topic, raw.key, value[:-1] + bytes([value[-1] ^ 1]), raw.headers)


def _tampered_header(raw: Raw) -> Raw:
    hdrs = [(k, v) for k, v in raw.headers if k != "ce_subject"]
    return Raw(
        raw.topic, raw.key, raw.value, [*hdrs, ("ce_subject", "(2024)苏0583执77号".encode())]
    )


def _unsigned(raw: Raw) -> Raw:
    return Raw(raw.topic, raw.key, raw.value, [(k, v) for k, v in raw.headers if k != HEADER])


CASES: list[tuple[str, Callable[[Keys], Signer], Callable[[Raw], Raw], str]] = [
    ("another court's key", lambda k: k.other, lambda r: r, "SIGNATURE_WRONG_KEY"),
    ("tampered value", lambda k: k.new, _tampered_value, "SIGNATURE_TAMPERED"),
    ("tampered header", lambda k: k.new, _tampered_header, "SIGNATURE_TAMPERED"),
    ("key past its window", lambda k: k.retired, lambda r: r, "SIGNATURE_KEY_EXPIRED"),
    ("no signature", lambda k: k.new, _unsigned, "SIGNATURE_MISSING"),
]


@pytest.mark.parametrize(("name", "key", "change", "code"), CASES, ids=[c[0] for c in CASES])
def test_each_bad_signature_is_refused_with_its_code(
    name: str,
    key: Callable[[Keys], Signer],
    change: Callable[[Raw], Raw],
    code: str,
    services: Services,
    keys: Keys,
    producer: KafkaProducer,
    envelope: Envelope,
    conn: Connection,
) -> None:
    raw = change(signed(envelope, key(keys)))
    assert refused(conn, envelope, raw, send(producer, raw)) == code


def test_a_replay_is_refused(
    services: Services, keys: Keys, producer: KafkaProducer, envelope: Envelope, conn: Connection
) -> None:
    raw = signed(envelope, keys.new)
    send(producer, raw)
    forwarded(conn, raw)  # the first copy is accepted
    assert refused(conn, envelope, raw, send(producer, raw)) == "SIGNATURE_REPLAYED"


def test_both_keys_of_a_rotation_window_pass(
    services: Services, keys: Keys, producer: KafkaProducer, envelope: Envelope, conn: Connection
) -> None:
    for signer in (keys.new, keys.old):
        raw = signed(envelope, signer)
        send(producer, raw)
        assert header(forwarded(conn, raw), HEADER) == dict(raw.headers)[HEADER].decode()  # type: ignore[union-attr]


def test_the_receiving_courts_sdk_verifies_what_the_sending_courts_sdk_signed(
    services: Services, keys: Keys, conn: Connection
) -> None:
    directory = load_directory(keys_file=keys.file)
    payload = valid_payload(delegation_id=f"dlg-320583-{uuid.uuid4().hex[:8]}")
    with CourtClient("320583", conn, directory=directory, signing_key=keys.new_file) as sender:
        sent = sender.send_record(RECORD, payload)
    receiver = CourtClient("6101", conn, directory=directory)
    inbox = receiver.inbox(timeout_s=60)
    try:
        received = next(e for e in inbox if e.headers.id == sent.event_id)
        proof = receiver.verify(received)
        assert (proof.owner, proof.keyid) == (COURT, keys.new.keyid)
        forged = replace(received, value=(received.value or b"") + b"\x00")
        with pytest.raises(SignatureError) as info:
            receiver.verify(forged)
        assert info.value.code == "SIGNATURE_TAMPERED"
    finally:
        inbox.close()
        receiver.close()
