"""Signatures of records (courtbus.security.signing, keys): every refusal code, the rotation
window, the extension's DSSE construction, tamper detection (hypothesis)."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from courtbus.errors import ConfigError, SignatureError
from courtbus.security import keys as keyfile
from courtbus.security.signing import (
    HEADER,
    PAYLOAD_TYPE,
    KeyRing,
    PublicKey,
    Signer,
    canonical_time,
    core_digest,
    ext_digest,
    generate,
    owner_of_source,
    pae,
    verify,
)

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
COURT = "court.320583"
OTHER = "court.3205"


def headers(**change: str | None) -> list[tuple[str, bytes]]:
    base: dict[str, str | None] = {
        "ce_specversion": "1.0",
        "ce_id": "0b7c6d1e-7f1a-4c55-9d7e-3b2a1c0d9e8f",
        "ce_source": "court:320583",
        "ce_type": "cn.court.delegation.requested",
        "ce_time": "2026-12-07T02:00:00.123456Z",
        "ce_subject": "(2026)苏0583执1号",
        "ce_correlationid": "0b7c6d1e-7f1a-4c55-9d7e-3b2a1c0d9e8f",
        "content-type": "application/avro",
    }
    base.update(change)
    return [(k, v.encode()) for k, v in base.items() if v is not None]


VALUE = b"\x00\x00\x00\x00\x07avro body"


def keyed(
    owner: str, start: datetime = T0 - timedelta(days=1), end: datetime | None = None
) -> tuple[Signer, PublicKey]:
    signer = generate(owner)
    return signer, keyfile.public_of(signer, start, None if end is None else end - start)


@pytest.fixture
def court() -> tuple[Signer, PublicKey]:
    return keyed(COURT)


@pytest.fixture
def ring(court: tuple[Signer, PublicKey]) -> KeyRing:
    return KeyRing([court[1], keyed(OTHER)[1]])


def signed(
    signer: Signer, hdrs: list[tuple[str, bytes]] | None = None, value: bytes = VALUE
) -> list[tuple[str, bytes]]:
    return signer(hdrs if hdrs is not None else headers(), value)


def code_of(hdrs: list[tuple[str, bytes]], value: bytes, ring: KeyRing, **kw: object) -> str:
    with pytest.raises(SignatureError) as info:
        verify(hdrs, value, ring, **kw)  # type: ignore[arg-type]
    return info.value.code


def test_a_signed_record_verifies_and_says_who_signed_when(
    court: tuple[Signer, PublicKey], ring: KeyRing
) -> None:
    hdrs = signed(court[0])
    assert [k for k, _ in hdrs][-2:] == [HEADER, "content-type"]
    ok = verify(hdrs, VALUE, ring, now=T0)
    assert (ok.owner, ok.keyid) == (COURT, court[0].keyid)
    assert ok.keyid.startswith("court.320583:") and len(ok.keyid.split(":")[1]) == 16
    assert ok.signed_at == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert ok.extensions == ("correlationid",)


def test_the_header_is_the_extension_dsse_envelope(court: tuple[Signer, PublicKey]) -> None:
    material = dict(signed(court[0]))[HEADER]
    envelope = json.loads(base64.b64decode(material))
    assert envelope["payloadType"] == PAYLOAD_TYPE
    assert envelope["signatures"][0]["keyid"] == court[0].keyid
    body = json.loads(base64.b64decode(envelope["payload"]))
    assert set(body) == {"core", "ext", "signedextattrs"}
    assert body["signedextattrs"] == ["correlationid"]
    assert base64.b64decode(body["core"]) == core_digest({k: v for k, v in headers()}, VALUE)


def test_missing(ring: KeyRing) -> None:
    assert code_of(headers(), VALUE, ring) == "SIGNATURE_MISSING"


@pytest.mark.parametrize(
    "material",
    [
        b"not base64!",
        base64.b64encode(b"not json"),
        base64.b64encode(b"[1, 2]"),
        base64.b64encode(orjson.dumps({"payloadType": "other", "payload": "", "signatures": []})),
        base64.b64encode(
            orjson.dumps(
                {
                    "payloadType": PAYLOAD_TYPE,
                    "payload": "e30=",
                    "signatures": [{"keyid": "k", "sig": "AA=="}],
                }
            )
        ),
    ],
    ids=["not-base64", "not-json", "not-an-object", "other-payload-type", "no-core"],
)
def test_malformed(material: bytes, ring: KeyRing) -> None:
    assert code_of([*headers(), (HEADER, material)], VALUE, ring) == "SIGNATURE_MALFORMED"


@pytest.mark.parametrize(
    "body",
    [
        {"core": base64.b64encode(b"x" * 31).decode()},
        {"core": base64.b64encode(b"x" * 32).decode(), "signedextattrs": ["a"]},
        {"core": base64.b64encode(b"x" * 32).decode(), "ext": base64.b64encode(b"y" * 32).decode()},
        {
            "core": base64.b64encode(b"x" * 32).decode(),
            "ext": base64.b64encode(b"y" * 32).decode(),
            "signedextattrs": ["exta", "exta"],
        },
        {
            "core": base64.b64encode(b"x" * 32).decode(),
            "ext": base64.b64encode(b"y" * 32).decode(),
            "signedextattrs": ["exta", "id"],
        },
        {
            "core": base64.b64encode(b"x" * 32).decode(),
            "ext": base64.b64encode(b"y" * 32).decode(),
            "signedextattrs": ["dssematerial"],
        },
    ],
    ids=[
        "short-core",
        "names-without-ext",
        "ext-without-names",
        "8a-repeated",
        "8b-core-name",
        "8c-dssematerial",
    ],
)
def test_malformed_material_as_the_extension_case_8_lists(
    body: dict[str, object], court: tuple[Signer, PublicKey], ring: KeyRing
) -> None:
    payload = orjson.dumps(body)
    sig = court[0].private.sign(pae(PAYLOAD_TYPE.encode(), payload))
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": court[0].keyid, "sig": base64.b64encode(sig).decode()}],
    }
    material = base64.b64encode(orjson.dumps(envelope))
    assert code_of([*headers(), (HEADER, material)], VALUE, ring) == "SIGNATURE_MALFORMED"


def test_a_court_publishing_with_another_courts_key_is_wrong_key(ring: KeyRing) -> None:
    thief = Signer(generate(OTHER).private, OTHER)
    other_key = keyfile.public_of(thief, T0 - timedelta(days=1), None)
    ring = KeyRing([*ring, other_key])
    hdrs = signed(thief)  # ce_source court:320583, signed with court 3205's key
    assert code_of(hdrs, VALUE, ring) == "SIGNATURE_WRONG_KEY"
    assert code_of(hdrs, VALUE, ring, sender=COURT) == "SIGNATURE_WRONG_KEY"


def test_a_key_the_directory_does_not_list_is_wrong_key(ring: KeyRing) -> None:
    assert code_of(signed(generate(COURT)), VALUE, ring) == "SIGNATURE_WRONG_KEY"


def test_a_signature_made_with_another_key_under_the_owners_keyid_is_invalid(
    court: tuple[Signer, PublicKey], ring: KeyRing
) -> None:
    forger = generate(COURT)
    forger.keyid = court[0].keyid  # claims the court's key id
    assert code_of(signed(forger), VALUE, ring) == "SIGNATURE_INVALID"


@pytest.mark.parametrize(
    "change",
    [
        {"ce_type": "cn.court.delegation.cancelled"},
        {"ce_subject": "(2026)苏0583执2号"},
        {"ce_time": "2026-12-07T02:00:01Z"},
        {"ce_id": "1b7c6d1e-7f1a-4c55-9d7e-3b2a1c0d9e8f"},
        {"ce_source": "court:3205"},
        {"content-type": "application/json"},
        {"ce_correlationid": "2b7c6d1e-7f1a-4c55-9d7e-3b2a1c0d9e8f"},
        {"ce_subject": None},
        {"ce_causationid": "added-after-signing"},
    ],
    ids=[
        "type",
        "subject",
        "time",
        "id",
        "source",
        "content-type",
        "extension",
        "removed",
        "unsigned-extension-added",
    ],
)
def test_a_tampered_header_is_tampered(
    change: dict[str, str | None], court: tuple[Signer, PublicKey], ring: KeyRing
) -> None:
    material = dict(signed(court[0]))[HEADER]
    hdrs = [*headers(**change), (HEADER, material)]
    assert code_of(hdrs, VALUE, ring, sender=COURT) == "SIGNATURE_TAMPERED"


def test_time_is_signed_at_second_precision_as_the_extension_says(
    court: tuple[Signer, PublicKey], ring: KeyRing
) -> None:
    material = dict(signed(court[0]))[HEADER]
    same_second = [*headers(ce_time="2026-12-07T10:00:00.9+08:00"), (HEADER, material)]
    assert verify(same_second, VALUE, ring).owner == COURT
    assert canonical_time("2026-05-13T10:49:12.123456+01:00") == b"2026-05-13T09:49:12Z"
    assert canonical_time("2026-05-13T09:49:12") == b"2026-05-13T09:49:12Z"
    assert canonical_time("2026-05-13T09:49:12.999Z") == b"2026-05-13T09:49:12Z"


def test_an_impossible_or_absent_time_is_refused(
    court: tuple[Signer, PublicKey], ring: KeyRing
) -> None:
    material = dict(signed(court[0]))[HEADER]
    feb31 = [*headers(ce_time="2026-02-31T02:00:00Z"), (HEADER, material)]
    assert code_of(feb31, VALUE, ring) == "SIGNATURE_TAMPERED"
    untimed = [*headers(ce_time=None), (HEADER, material)]
    assert code_of(untimed, VALUE, ring) == "SIGNATURE_MALFORMED"


@settings(max_examples=60, deadline=None)
@given(value=st.binary(min_size=1, max_size=300), data=st.data())
def test_any_changed_byte_of_the_value_is_tampered(value: bytes, data: st.DataObject) -> None:
    signer, key = keyed(COURT)
    ring = KeyRing([key])
    hdrs = signer(headers(), value)
    assert verify(hdrs, value, ring).owner == COURT
    at = data.draw(st.integers(0, len(value) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = value[:at] + bytes([value[at] ^ flip]) + value[at + 1 :]
    assert code_of(hdrs, changed, ring) == "SIGNATURE_TAMPERED"
    assert code_of(hdrs, value + b"\x00", ring) == "SIGNATURE_TAMPERED"


def test_a_key_outside_its_window_is_expired() -> None:
    signer, key = keyed(COURT, start=T0 - timedelta(days=10), end=T0 - timedelta(days=1))
    ring = KeyRing([key])
    assert code_of(signed(signer), VALUE, ring) == "SIGNATURE_KEY_EXPIRED"  # signed after
    early_signer, early = keyed(COURT, start=T0 + timedelta(days=1))
    assert code_of(signed(early_signer), VALUE, KeyRing([early])) == "SIGNATURE_KEY_EXPIRED"
    # valid when signed, retired by the time the gateway sees it
    retired_signer, retired = keyed(
        COURT, start=T0 - timedelta(days=1), end=T0 + timedelta(hours=1)
    )
    hdrs = signed(retired_signer)
    ring = KeyRing([retired])
    assert verify(hdrs, VALUE, ring).owner == COURT  # a receiver, later: valid when signed
    late = T0 + timedelta(hours=2)
    assert code_of(hdrs, VALUE, ring, now=late) == "SIGNATURE_KEY_EXPIRED"


def test_a_record_signed_too_long_ago_or_in_the_future_is_stale(
    court: tuple[Signer, PublicKey], ring: KeyRing
) -> None:
    hdrs = signed(court[0])
    day = timedelta(hours=24)
    assert verify(hdrs, VALUE, ring, now=T0 + timedelta(hours=23), max_age=day)
    assert code_of(hdrs, VALUE, ring, now=T0 + timedelta(hours=25), max_age=day) == (
        "SIGNATURE_STALE"
    )
    assert code_of(hdrs, VALUE, ring, now=T0 - timedelta(minutes=6)) == "SIGNATURE_STALE"


def test_rotation_two_keys_valid_in_the_rollover_window_then_only_the_new() -> None:
    keys, old = keyfile.add_key((), COURT, T0 - timedelta(days=30))
    keys, new = keyfile.rotate(keys, COURT, T0, rollover=timedelta(days=7))
    assert [k.keyid for k in keyfile.current(keys, COURT, T0)] == [new.keyid, old.keyid]
    ring = KeyRing(keys)
    during = T0 + timedelta(days=3)
    for signer in (old, new):
        hdrs = signed(signer, headers(ce_time=during.isoformat()))
        assert verify(hdrs, VALUE, ring, now=during).keyid == signer.keyid
    after = T0 + timedelta(days=8)
    old_hdrs = signed(old, headers(ce_time=after.isoformat()))
    assert code_of(old_hdrs, VALUE, ring, now=after) == "SIGNATURE_KEY_EXPIRED"
    new_hdrs = signed(new, headers(ce_time=after.isoformat()))
    assert verify(new_hdrs, VALUE, ring, now=after).keyid == new.keyid


def test_retire_ends_a_key_and_rotate_needs_a_valid_one() -> None:
    keys, signer = keyfile.add_key((), COURT, T0 - timedelta(days=1))
    keys, ended = keyfile.retire(keys, COURT, T0)
    assert [k.not_after for k in ended] == [T0]
    assert keyfile.current(keys, COURT, T0) == []
    with pytest.raises(ConfigError) as info:
        keyfile.rotate(keys, COURT, T0)
    assert info.value.code == "KEY_NONE_VALID"
    with pytest.raises(ConfigError) as info:
        keyfile.retire(keys, COURT, T0)
    assert info.value.code == "KEY_UNKNOWN"
    assert signer.keyid == ended[0].keyid


def test_keys_file_round_trip_and_problems(tmp_path: Path) -> None:
    keys, _ = keyfile.add_key((), COURT, T0)
    keys, _ = keyfile.rotate(keys, COURT, T0 + timedelta(days=1))
    path = tmp_path / "public.yaml"
    keyfile.write_keys(path, keys)
    assert set(keyfile.load_keys(path)) == set(keys)
    assert keyfile.load_keys(tmp_path / "absent.yaml") == ()
    path.write_text(
        "keys:\n- owner: court.320583\n  keyid: court.320583:00\n"
        "  public_key: AAAA\n  not_before: 2026-12-07\n"
    )
    with pytest.raises(ConfigError) as info:
        keyfile.load_keys(path)
    assert info.value.code == "KEYS_INVALID"
    assert "keys[0]" in info.value.reason


def test_private_key_file_is_0600_never_overwritten_and_refused_when_exposed(
    tmp_path: Path,
) -> None:
    signer = generate(COURT)
    path = keyfile.write_private(tmp_path / "k" / f"{signer.keyid}.pem", signer)
    assert path.stat().st_mode & 0o777 == 0o600
    assert keyfile.load_signer(path, COURT).keyid == signer.keyid
    with pytest.raises(ConfigError) as info:
        keyfile.write_private(path, signer)
    assert info.value.code == "KEY_FILE_EXISTS"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError) as info:
        keyfile.load_signer(path, COURT)
    assert info.value.code == "SIGNING_KEY_EXPOSED"
    locked = keyfile.write_private(tmp_path / "locked.pem", signer, password="s3cret")
    with pytest.raises(ConfigError) as info:
        keyfile.load_signer(locked, COURT, password="wrong")
    assert info.value.code == "SIGNING_KEY_UNREADABLE"
    assert keyfile.load_signer(locked, COURT, password="s3cret").keyid == signer.keyid


def test_sources_map_to_their_signing_principal() -> None:
    assert owner_of_source("court:320583") == "court.320583"
    assert owner_of_source("agency:nia") == "agency.nia"
    assert owner_of_source("bus:gateway") == "service.gateway"
    assert owner_of_source("bus:restriction") == "service.restriction"
    assert owner_of_source("bus:synth") is None


# The extension's own examples (cloudevents/spec cloudevents/extensions/verifiability.md)
_P256 = (
    46950820868899156662930047687818585632848591499744589407958293238635476079160,
    5640078356564379163099075877009565129882514886557779369047442380624545832820,
)
_WALKTHROUGH_PAYLOAD = (
    "eyJjb3JlIjoidmpYckhOdC9rLzNyU1M5V2VqemVROHZKNHNVMXVRaCtKNTFWcXJ5N1huTT0iLCJleHQiOiJrVTFQ"
    "OGJEYUVueU5oZ2xXemRUSk5IaDc3a2hOV1NaZWJCVXh1ZlZNMnBVPSIsInNpZ25lZGV4dGF0dHJzIjpbImV4dGEiXX0="
)
_WALKTHROUGH_SIG = (
    "hHmGOmdE+Zp7FjCQ+SxwbYKzckKkUHLuOlaGUJ9Hc91K2vXvGX03vMLRimnQMaPudmfmwjRbcOqbd7Y7STXnxg=="
)


def test_pae_is_dsse_v1() -> None:
    # the DSSE protocol's own example
    assert pae(b"http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_the_extension_walkthrough_signature_verifies_over_our_pae_and_ext_digest() -> None:
    public = ec.EllipticCurvePublicNumbers(*_P256, ec.SECP256R1()).public_key()
    sig = base64.b64decode(_WALKTHROUGH_SIG)
    der = encode_dss_signature(int.from_bytes(sig[:32]), int.from_bytes(sig[32:]))
    body = base64.b64decode(_WALKTHROUGH_PAYLOAD)
    public.verify(der, pae(PAYLOAD_TYPE.encode(), body), ec.ECDSA(hashes.SHA256()))
    material = json.loads(body)
    assert base64.b64decode(material["ext"]) == ext_digest({"ce_exta": b"value1"}, ["exta"])


def test_the_signer_an_sdk_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys, signer = keyfile.add_key((), COURT, T0 - timedelta(days=1))
    path = keyfile.write_private(tmp_path / "court.pem", signer)
    monkeypatch.delenv("COURTBUS_SIGNING_KEY", raising=False)
    assert keyfile.signer_for(COURT) is None  # no key, no signature
    monkeypatch.setenv("COURTBUS_SIGNING_KEY", str(path))
    got = keyfile.signer_for(COURT, listed=keys, now=T0)
    assert got is not None and got.keyid == signer.keyid
    with pytest.raises(ConfigError) as info:
        keyfile.signer_for(COURT, signer, listed=keyfile.retire(keys, COURT, T0)[0], now=T0)
    assert info.value.code == "SIGNING_KEY_NOT_LISTED"
    with pytest.raises(ConfigError) as info:
        keyfile.signer_for(COURT, generate(COURT), listed=keys, now=T0)
    assert info.value.code == "SIGNING_KEY_NOT_LISTED"
    with pytest.raises(ConfigError) as info:
        keyfile.signer_for(OTHER, signer)
    assert info.value.code == "SIGNING_KEY_OWNER"


def test_the_directory_carries_the_keys_file(tmp_path: Path) -> None:
    from courtbus.catalogue.directory import DEFAULT_PATH, load_directory

    keys, _ = keyfile.add_key((), COURT, T0)
    path = tmp_path / "public.yaml"
    keyfile.write_keys(path, keys)
    assert load_directory(DEFAULT_PATH, path).keys == keys
    assert load_directory(DEFAULT_PATH, tmp_path / "none.yaml").keys == ()
    path.write_text("keys: 3\n")
    with pytest.raises(ConfigError) as info:
        load_directory(DEFAULT_PATH, path)
    assert info.value.code == "KEYS_INVALID"
