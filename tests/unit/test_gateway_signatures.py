"""The gateway verifies signatures: each refusal with its code, a dead letter with the original
bytes and a notice to the sender; replays told apart from retries; the rotation window.

Through ``GatewayFlow`` and ``FlowHarness`` (the engine's refusal path), in-memory registry.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from courtbus.bus.records import Output
from courtbus.errors import ConfigError
from courtbus.gateway import SignaturePolicy
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.security import keys as keyfile
from courtbus.security.signing import HEADER, PublicKey, Signer, generate
from courtbus.wire.envelope import Envelope
from services.gateway.flow import GatewayFlow
from tests.gateway_cases import Raw, build

COURT = "court.320583"
NOW = datetime.now(UTC)  # records carry the real time of their building; see fresh_now


@pytest.fixture(autouse=True)
def fresh_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOW read again for each test: taken once at import, it fell behind the records' real
    signing time by more than the staleness limit (5 minutes) in a long suite run."""
    monkeypatch.setattr(sys.modules[__name__], "NOW", datetime.now(UTC))


class Bus:
    """A gateway over a keys file, and signers of the keys it lists."""

    def __init__(self, tmp: Path, policy: SignaturePolicy | None = None) -> None:
        self.keys_file = tmp / "public.yaml"
        self.court, court_key = self.issue(COURT)
        self.other, other_key = self.issue("court.3205")
        self.keys: tuple[PublicKey, ...] = (court_key, other_key)
        keyfile.write_keys(self.keys_file, self.keys)
        self.flow = GatewayFlow(
            memory_envelope(), keys_file=self.keys_file, signatures=policy or SignaturePolicy()
        )
        self.harness = FlowHarness(self.flow, start=NOW)

    @staticmethod
    def issue(owner: str, start: datetime = NOW - timedelta(days=1)) -> tuple[Signer, PublicKey]:
        signer = generate(owner)
        return signer, keyfile.public_of(signer, start, keyfile.DEFAULT_LIFETIME)

    def rekey(self, keys: tuple[PublicKey, ...]) -> None:
        self.keys = keys
        keyfile.write_keys(self.keys_file, keys)
        self.flow.gateway = self.flow._load_rules()

    def signed(self, signer: Signer | None = None, **kw: str) -> Raw:
        envelope = Envelope(self.harness.envelope.codec, signer or self.court)
        return build(envelope, **kw)  # type: ignore[arg-type]

    def feed(self, raw: Raw) -> list[Output]:
        return self.harness.feed_raw(raw.topic, raw.key, raw.value, raw.headers)


@pytest.fixture
def bus(tmp_path: Path) -> Bus:
    return Bus(tmp_path)


def refusal(outputs: list[Output]) -> tuple[str, Output, Output]:
    """(code, dead letter, notice) of a refusal."""
    letters = [o for o in outputs if o.topic == "bus.deadletter"]
    notices = [o for o in outputs if o.topic == "court.320583.inbox"]
    assert len(letters) == 1 and len(notices) == 1, outputs
    return dict(letters[0].headers)["dlq_code"].decode(), letters[0], notices[0]


def test_a_signed_record_is_forwarded_with_its_signature(bus: Bus) -> None:
    raw = bus.signed()
    (out,) = bus.feed(raw)
    assert out.topic == "bus.delegation.events"
    assert dict(out.headers)[HEADER] == dict(raw.headers)[HEADER]
    assert (out.key, out.value) == (raw.key, raw.value)
    assert (bus.flow.verified, bus.flow.unsigned) == (1, 0)


def _with(raw: Raw, name: str, value: bytes) -> Raw:
    return Raw(
        raw.topic,
        raw.key,
        raw.value,
        [(k, v) for k, v in raw.headers if k != name] + [(name, value)],
    )


def _wrong_key(bus: Bus) -> Raw:
    return bus.signed(bus.other)  # court 320583's outbox, court 3205's key


def _tampered_value(bus: Bus) -> Raw:
    raw = bus.signed()
    value = raw.value or b""
    return Raw(raw.topic, raw.key, value[:-1] + bytes([value[-1] ^ 1]), raw.headers)


def _tampered_header(bus: Bus) -> Raw:
    raw = bus.signed()
    return _with(raw, "ce_subject", "(2024)苏0583执9号".encode())


def _missing(bus: Bus) -> Raw:
    raw = bus.signed()
    return Raw(raw.topic, raw.key, raw.value, [(k, v) for k, v in raw.headers if k != HEADER])


def _malformed(bus: Bus) -> Raw:
    return _with(bus.signed(), HEADER, b"bm90IGEgRFNTRSBlbnZlbG9wZQ==")


def _expired(bus: Bus) -> Raw:
    ended, _ = keyfile.retire(bus.keys, COURT, NOW - timedelta(hours=1))
    bus.rekey(ended)
    return bus.signed()


CASES: list[tuple[str, Callable[[Bus], Raw], str]] = [
    ("another court's key", _wrong_key, "SIGNATURE_WRONG_KEY"),
    ("tampered value", _tampered_value, "SIGNATURE_TAMPERED"),
    ("tampered header", _tampered_header, "SIGNATURE_TAMPERED"),
    ("signature stripped", _missing, "SIGNATURE_MISSING"),
    ("malformed", _malformed, "SIGNATURE_MALFORMED"),
    ("key past its window", _expired, "SIGNATURE_KEY_EXPIRED"),
]


@pytest.mark.parametrize(("name", "make", "code"), CASES, ids=[c[0] for c in CASES])
def test_each_refusal_has_its_code_dead_letter_and_notice(
    name: str, make: Callable[[Bus], Raw], code: str, bus: Bus
) -> None:
    raw = make(bus)
    got, letter, notice = refusal(bus.feed(raw))
    assert got == code
    assert (letter.key, letter.value) == (raw.key, raw.value)
    assert [h for h in letter.headers if not h[0].startswith("dlq_")] == raw.headers
    payload = bus.harness.envelope.codec.decode(notice.value or b"").payload
    assert payload["error_code"] == code
    assert bus.flow.refused[code] == 1


def test_a_replay_after_the_retry_window_is_refused_a_retry_within_it_dropped(bus: Bus) -> None:
    raw = bus.signed()
    assert [o.topic for o in bus.feed(raw)] == ["bus.delegation.events"]
    bus.harness.now = NOW + timedelta(minutes=10)
    assert bus.feed(raw) == []  # a resend within 15 minutes: a retry, dropped
    bus.harness.now = NOW + timedelta(minutes=16)
    code, letter, _ = refusal(bus.feed(raw))
    assert code == "SIGNATURE_REPLAYED"
    assert letter.value == raw.value


def test_a_record_signed_too_long_ago_is_stale(bus: Bus) -> None:
    raw = bus.signed()
    bus.harness.now = NOW + timedelta(hours=25)
    code, _, _ = refusal(bus.feed(raw))
    assert code == "SIGNATURE_STALE"


def test_during_a_rotation_both_keys_pass_after_it_only_the_new(bus: Bus) -> None:
    keys, new = keyfile.rotate(
        bus.keys, COURT, NOW - timedelta(minutes=1), rollover=timedelta(hours=2)
    )
    bus.rekey(keys)
    for signer in (bus.court, new):
        assert [o.topic for o in bus.feed(bus.signed(signer))] == ["bus.delegation.events"]
    bus.harness.now = NOW + timedelta(hours=3)
    code, _, _ = refusal(bus.feed(bus.signed(bus.court)))
    assert code == "SIGNATURE_KEY_EXPIRED"
    assert [o.topic for o in bus.feed(bus.signed(new))] == ["bus.delegation.events"]


def test_migration_unsigned_passes_only_from_a_participant_without_a_key(tmp_path: Path) -> None:
    bus = Bus(tmp_path, SignaturePolicy(required=False))
    # court 320583 has a key: its unsigned record is refused even when signatures are optional
    code, _, _ = refusal(bus.feed(build(bus.harness.envelope)))
    assert code == "SIGNATURE_MISSING"
    bus.rekey(tuple(k for k in bus.keys if k.owner != COURT))
    assert [o.topic for o in bus.feed(build(bus.harness.envelope))] == ["bus.delegation.events"]
    assert bus.flow.unsigned == 1


def test_required_refuses_unsigned_from_everyone(tmp_path: Path) -> None:
    bus = Bus(tmp_path, SignaturePolicy(required=True))
    bus.rekey(tuple(k for k in bus.keys if k.owner != COURT))
    code, _, _ = refusal(bus.feed(build(bus.harness.envelope)))
    assert code == "SIGNATURE_MISSING"


def test_the_policy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.gateway.settings import GatewaySettings

    monkeypatch.delenv("COURTBUS_SIGNATURES", raising=False)
    assert GatewaySettings.load().signature_policy(secure=True).required
    assert not GatewaySettings.load().signature_policy(secure=False).required
    monkeypatch.setenv("COURTBUS_SIGNATURES", "optional")
    assert not GatewaySettings.load().signature_policy(secure=True).required
    monkeypatch.setenv("COURTBUS_SIGNATURES", "always")
    with pytest.raises(ConfigError) as info:
        GatewaySettings.load()
    assert info.value.code == "SIGNATURES_INVALID"


def test_an_age_limit_not_below_the_dedup_retention_is_refused(tmp_path: Path) -> None:
    policy = replace(SignaturePolicy(), max_age=timedelta(days=8))
    with pytest.raises(ConfigError) as info:
        GatewayFlow(memory_envelope(), keys_file=tmp_path / "none.yaml", signatures=policy)
    assert info.value.code == "SIGNATURES_INVALID"


def test_a_receiver_verifies_an_event_it_read_and_a_service_signed_notice(bus: Bus) -> None:
    from courtbus.sdk.verify import verify_record
    from courtbus.security.signing import KeyRing

    raw = bus.signed()
    (out,) = bus.feed(raw)
    event = bus.harness.envelope.read(Raw(out.topic, out.key, out.value, out.headers))
    ring = KeyRing(bus.keys)
    assert verify_record(event, ring).keyid == bus.court.keyid
    # a notice the gateway writes, signed with the gateway's own key
    gateway, gateway_key = bus.issue("service.gateway")
    bus.flow.envelope.signer = gateway
    outputs = bus.feed(_tampered_value(bus))
    notice = next(o for o in outputs if o.topic == "court.320583.inbox")
    proof = verify_record(
        Raw(notice.topic, notice.key, notice.value, notice.headers),
        KeyRing([*bus.keys, gateway_key]),
    )
    assert proof.owner == "service.gateway"


def test_a_service_signs_with_its_own_key_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.main import sign_outputs
    from services.settings import ServiceSettings

    flow = GatewayFlow(memory_envelope(), keys_file=tmp_path / "none.yaml")
    monkeypatch.delenv("COURTBUS_SIGNING_KEY", raising=False)
    sign_outputs(flow, ServiceSettings.load().signing_key)
    assert flow.envelope.signer is None  # no key, no signature
    signer = generate("service.gateway")
    monkeypatch.setenv(
        "COURTBUS_SIGNING_KEY", str(keyfile.write_private(tmp_path / "gw.pem", signer))
    )
    sign_outputs(flow, ServiceSettings.load().signing_key)
    assert isinstance(flow.envelope.signer, Signer)
    assert flow.envelope.signer.keyid == signer.keyid
