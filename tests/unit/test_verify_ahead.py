"""Ed25519 checks made ahead in a helper process give ``verify`` the same answers, sooner
(``courtbus.security.ahead``): a real ``spawn`` helper process, real signatures."""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import Iterator

import orjson
import pytest

from courtbus.errors import SignatureError
from courtbus.security.ahead import VerifyAhead
from courtbus.security.signing import HEADER, Ahead, KeyRing, Signer, check_to_make, verify
from tests.unit.test_signing import COURT, OTHER, T0, VALUE, headers, keyed, signed

Record = tuple[list[tuple[str, bytes]], bytes]


def forged(hdrs: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The same envelope with its signature's first byte flipped."""
    envelope = orjson.loads(base64.b64decode(dict(hdrs)[HEADER]))
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 0xFF
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    return [(k, base64.b64encode(orjson.dumps(envelope)) if k == HEADER else v) for k, v in hdrs]


def outcome(record: Record, ring: KeyRing, ahead: dict[bytes, Ahead] | None) -> str:
    try:
        return verify(record[0], record[1], ring, sender=COURT, now=T0, ahead=ahead).keyid
    except SignatureError as exc:
        return exc.code


@pytest.fixture
def court() -> tuple[Signer, KeyRing, Signer]:
    signer, public = keyed(COURT)
    other, other_public = keyed(OTHER)
    return signer, KeyRing([public, other_public]), other


@pytest.fixture
def helpers(court: tuple[Signer, KeyRing, Signer]) -> Iterator[VerifyAhead]:
    ahead = VerifyAhead(court[1], processes=1)
    yield ahead
    ahead.close()


def records(signer: Signer, other: Signer) -> list[Record]:
    good = [
        (signed(signer, headers(ce_id=f"0b7c6d1e-7f1a-4c55-9d7e-3b2a1c0d9e{i:02x}")), VALUE)
        for i in range(150)
    ]  # three chunks
    return [
        *good,
        (good[0][0], VALUE + b"x"),  # tampered value
        (forged(good[1][0]), VALUE),  # forged signature
        (signed(other), VALUE),  # another court's key
        (headers(), VALUE),  # not signed
    ]


def test_checks_made_ahead_give_the_answers_verify_gives_alone(
    court: tuple[Signer, KeyRing, Signer], helpers: VerifyAhead
) -> None:
    signer, ring, other = court
    batch = records(signer, other)
    alone = [outcome(r, ring, None) for r in batch]
    assert alone[:150] == [signer.keyid] * 150
    assert alone[150:] == [
        "SIGNATURE_TAMPERED",
        "SIGNATURE_INVALID",
        "SIGNATURE_WRONG_KEY",
        "SIGNATURE_MISSING",
    ]
    started = helpers.start((h, COURT) for h, _ in batch)
    assert started == 152  # the good ones, the tampered value and the forgery
    proofs = [helpers.found[dict(h)[HEADER]] for h, _ in batch[:150]]
    assert all(p.proven() for p in proofs)  # the helper verified them
    assert not helpers.found[dict(batch[151][0])[HEADER]].proven()  # and not the forgery
    assert [outcome(r, ring, helpers.found) for r in batch] == alone


def test_an_answer_for_another_signature_is_not_taken(
    court: tuple[Signer, KeyRing, Signer],
) -> None:
    """A proof is for one key and one signature: a forgery whose entry carries the genuine
    signature's proof (its own material, another signature) is checked again, and refused."""
    signer, ring, _ = court
    genuine = signed(signer)
    fake = forged(genuine)
    made, wanted = check_to_make(genuine, ring, COURT), check_to_make(fake, ring, COURT)
    assert made is not None and wanted is not None
    header, material, key, _ = wanted
    assert wanted[3] != made[3]
    mixed = {header: Ahead(material, key.keyid, made[3], lambda: True)}
    assert outcome((fake, VALUE), ring, mixed) == "SIGNATURE_INVALID"
    assert outcome((genuine, VALUE), ring, mixed) == signer.keyid  # no entry: checked here


def test_a_helper_killed_mid_batch_changes_no_answer(
    court: tuple[Signer, KeyRing, Signer], helpers: VerifyAhead
) -> None:
    signer, ring, other = court
    batch = records(signer, other)
    alone = [outcome(r, ring, None) for r in batch]
    helpers.start((h, COURT) for h, _ in batch[:2])  # the pool is up
    assert helpers._proc is not None and helpers._proc.pid is not None
    os.kill(helpers._proc.pid, signal.SIGKILL)
    helpers.start((h, COURT) for h, _ in batch)
    assert [outcome(r, ring, helpers.found) for r in batch] == alone
    helpers.start((h, COURT) for h, _ in batch)  # a broken pool is not used again
    assert helpers._broken and not helpers.found
    assert [outcome(r, ring, helpers.found) for r in batch] == alone


def test_no_helper_is_started_when_told_none(court: tuple[Signer, KeyRing, Signer]) -> None:
    signer, ring, other = court
    none = VerifyAhead(ring, processes=0)
    assert none.start((h, COURT) for h, _ in records(signer, other)) == 0
    assert none._proc is None and not none.found
