"""Signed records: the CloudEvents verifiability extension (DSSE v1.0.2) with Ed25519 keys.

Pure: no Kafka client, no files (``courtbus.security.keys`` reads them); imports the error
tree, the principals' names, ``cryptography`` (signing) and PyNaCl (libsodium: verifying).

What is signed follows cloudevents/spec ``cloudevents/extensions/verifiability.md`` (merged
2026, payload type ``https://cloudevents.io/verifiability/dsse/v0.1``) exactly:

* ``CORE_DIGEST = SHA256(SHA256(id) + SHA256(source) + SHA256(specversion) + SHA256(type) +
  SHA256(datacontenttype) + SHA256(dataschema) + SHA256(subject) + SHA256(time) +
  SHA256(data))``, an absent attribute hashed as the empty byte sequence, ``time`` as RFC 3339
  in UTC at second precision (``2026-12-07T01:55:00Z``), ``data`` the record's value bytes as
  they are (the Confluent header and the Avro body);
* ``EXT_DIGEST = SHA256(SHA256(ext1) + SHA256(ext2) + ...)`` over the signed extension
  attributes, named in ``signedextattrs``; courtbus signs every ``ce_`` extension a record
  carries (``correlationid``, ``causationid``, ...);
* the verification material ``{"core": b64, "ext": b64, "signedextattrs": [...]}`` is signed
  with DSSE (``PAE("DSSEv1", payloadType, body)``) and travels as the DSSE JSON envelope
  ``{"payload", "payloadType", "signatures": [{"keyid", "sig"}]}``, Base64-encoded (the
  CloudEvents string form of a Binary attribute) in the Kafka header ``ce_dssematerial``
  (binary content mode: attribute ``x`` is header ``ce_x``; ``datacontenttype`` is
  ``content-type``).

The algorithm is Ed25519 (the extension leaves it to the deployment); a key id is
``<owner principal>:<16 hex of SHA-256 of the raw public key>``
(``court.320583:3f2a9c0e1b7d4a65``).

Refusal codes (each a ``SignatureError``): ``SIGNATURE_MISSING``, ``SIGNATURE_MALFORMED``,
``SIGNATURE_WRONG_KEY``, ``SIGNATURE_INVALID``, ``SIGNATURE_TAMPERED``,
``SIGNATURE_KEY_EXPIRED``, ``SIGNATURE_STALE`` and ``SIGNATURE_REPLAYED`` (the last one is
decided by the gateway, which remembers the ``ce_id`` values it accepted: ``replayed``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from courtbus.errors import SignatureError
from courtbus.security.principals import SERVICES

PAYLOAD_TYPE = "https://cloudevents.io/verifiability/dsse/v0.1"
HEADER = "ce_dssematerial"
ATTRIBUTE = "dssematerial"

MISSING = "SIGNATURE_MISSING"
MALFORMED = "SIGNATURE_MALFORMED"
WRONG_KEY = "SIGNATURE_WRONG_KEY"
INVALID = "SIGNATURE_INVALID"
TAMPERED = "SIGNATURE_TAMPERED"
KEY_EXPIRED = "SIGNATURE_KEY_EXPIRED"
STALE = "SIGNATURE_STALE"
REPLAYED = "SIGNATURE_REPLAYED"
CODES = (MISSING, MALFORMED, WRONG_KEY, INVALID, TAMPERED, KEY_EXPIRED, STALE, REPLAYED)

# how far a signed time may be ahead of the verifier's clock (clocks differ)
DEFAULT_SKEW = timedelta(minutes=5)

# (CloudEvents attribute, Kafka header) in the order CORE_DIGEST hashes them
_CORE = (
    ("id", "ce_id"),
    ("source", "ce_source"),
    ("specversion", "ce_specversion"),
    ("type", "ce_type"),
    ("datacontenttype", "content-type"),
    ("dataschema", "ce_dataschema"),
    ("subject", "ce_subject"),
    ("time", "ce_time"),
)
_CORE_NAMES = frozenset(name for name, _ in _CORE)
_CORE_HEADERS = frozenset(header for _, header in _CORE)
_EXT_NAME = re.compile(r"[a-z0-9]{1,20}")  # CloudEvents attribute naming (fullmatch)
_EMPTY = hashlib.sha256(b"").digest()
_ZULU = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,9})?Z"
)
_PAYLOAD_TYPE = PAYLOAD_TYPE.encode()
_PAE_PREFIX = b"DSSEv1 %d %s " % (len(_PAYLOAD_TYPE), _PAYLOAD_TYPE)

Headers = Sequence[tuple[str, bytes | None]]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pae(payload_type: bytes, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 SP LEN(type) SP type SP LEN(body) SP body``,
    lengths as ASCII decimals: the bytes a DSSE signature is made over."""
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(body), body)


def canonical_time(text: str) -> bytes:
    """RFC 3339 in UTC at second precision, as the extension hashes ``time``.

    ``2026-05-13T10:49:12.123456+01:00`` → ``2026-05-13T09:49:12Z``; a time without an offset
    is UTC.

    Raises:
        ValueError: ``text`` is not an RFC 3339 time.
    """
    if _ZULU.fullmatch(text):  # what courtbus writes: cut, no parse (a hot path)
        return text[:19].encode() + b"Z"
    when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()


def attributes(headers: Headers | None) -> dict[str, bytes]:
    """The record's CloudEvents headers (``ce_*`` and ``content-type``), names lower-cased.

    Raises:
        SignatureError: ``SIGNATURE_MALFORMED`` if one appears twice (which copy was signed?).
    """
    attrs: dict[str, bytes] = {}
    for name, value in headers or ():
        key = name.lower()
        if key[:3] != "ce_" and key != "content-type":
            continue
        if key in attrs:
            raise SignatureError(f"header {key} appears twice", code=MALFORMED)
        attrs[key] = value or b""
    return attrs


def core_digest(
    attrs: Mapping[str, bytes], value: bytes | None, time: bytes | None = None
) -> bytes:
    """``CORE_DIGEST`` of a record (see the module's docstring); ``time``: ``ce_time``
    already in its canonical form, if the caller has it.

    Raises:
        ValueError: ``ce_time`` is not an RFC 3339 time.
    """
    sha = hashlib.sha256
    parts = []
    for _, header in _CORE:
        raw = attrs.get(header)
        if not raw:
            parts.append(_EMPTY)
        elif header == "ce_time":
            canonical = time or canonical_time(raw.decode("utf-8", "replace"))
            parts.append(sha(canonical).digest())
        else:
            parts.append(sha(raw).digest())
    parts.append(sha(value or b"").digest())
    return sha(b"".join(parts)).digest()


def ext_digest(attrs: Mapping[str, bytes], names: Iterable[str]) -> bytes:
    """``EXT_DIGEST`` over the extension attributes ``names``, in that order (an absent one
    hashed as the empty byte sequence). Every courtbus extension is a String: its UTF-8 bytes."""
    sha = hashlib.sha256
    return sha(b"".join(sha(attrs.get("ce_" + name, b"")).digest() for name in names)).digest()


def extension_names(attrs: Mapping[str, bytes]) -> list[str]:
    """The extension attributes a record carries (sorted), which the signer signs."""
    return sorted(k[3:] for k in attrs if k[:3] == "ce_" and k not in _CORE_HEADERS and k != HEADER)


def fingerprint(raw_public: bytes) -> str:
    """16 hex digits of the SHA-256 of a raw Ed25519 public key."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


def keyid_of(owner: str, raw_public: bytes) -> str:
    """The DSSE ``keyid`` of an owner's key: ``<owner>:<fingerprint>``."""
    return f"{owner}:{fingerprint(raw_public)}"


def owner_of_source(source: str) -> str | None:
    """The principal that signs a CloudEvents ``source``: ``court:320583`` → ``court.320583``,
    ``agency:nia`` → ``agency.nia``, ``bus:<service>`` → ``service.<service>``; None for a
    source no key can own."""
    kind, sep, ident = source.partition(":")
    if not sep or not ident:
        return None
    if kind in ("court", "agency"):
        return f"{kind}.{ident}"
    if kind == "bus" and ident in SERVICES:  # every service writes as bus:<its name>
        return f"service.{ident}"
    return None


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A participant's public key as the directory lists it, with its validity window.

    ``not_after`` None: valid until retired. A key signs records whose signed time ``t`` has
    ``not_before <= t < not_after``.
    """

    keyid: str
    owner: str
    raw: bytes
    not_before: datetime
    not_after: datetime | None = None

    def valid_at(self, when: datetime) -> bool:
        """Whether the key may sign at ``when``."""
        return self.not_before <= when and (self.not_after is None or when < self.not_after)

    def window(self) -> str:
        """``from … until …``, for messages."""
        until = self.not_after.isoformat() if self.not_after else "retired"
        return f"valid from {self.not_before.isoformat()} until {until}"


def verify_ed25519(key: VerifyKey, sig: bytes, message: bytes) -> bool:
    """Whether ``sig`` (64 bytes) is ``key``'s Ed25519 signature of ``message``."""
    if len(sig) != 64:
        return False
    try:
        key.verify(message, sig)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


class KeyRing:
    """Public keys by key id, each parsed once (verifying looks a key up, never re-parses it).

    Raises:
        SignatureError: ``SIGNATURE_MALFORMED`` for a key that is not a raw Ed25519 public key
            (32 bytes), or whose key id is not the one its bytes give.
    """

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        self._keys: dict[str, tuple[PublicKey, VerifyKey]] = {}
        for key in keys:
            if len(key.raw) != 32:
                raise SignatureError(f"key {key.keyid}: not 32 bytes", code=MALFORMED)
            if key.keyid != keyid_of(key.owner, key.raw):
                raise SignatureError(
                    f"key {key.keyid}: its id must be {keyid_of(key.owner, key.raw)}",
                    code=MALFORMED,
                )
            self._keys[key.keyid] = (key, VerifyKey(key.raw))

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[PublicKey]:
        return (key for key, _ in self._keys.values())

    def get(self, keyid: str) -> PublicKey | None:
        """The key with ``keyid``, or None."""
        entry = self._keys.get(keyid)
        return entry[0] if entry else None

    def owners(self) -> frozenset[str]:
        """Every principal that has a key (valid or not)."""
        return frozenset(key.owner for key, _ in self._keys.values())

    def of(self, owner: str) -> list[PublicKey]:
        """The keys of ``owner``, oldest first."""
        return sorted(
            (k for k, _ in self._keys.values() if k.owner == owner), key=lambda k: k.not_before
        )

    def check(self, keyid: str, sig: bytes, message: bytes) -> bool:
        """Whether ``sig`` is key ``keyid``'s Ed25519 signature of ``message`` (libsodium's
        check: RFC 8032, canonical encodings only, as OpenSSL's signers make them).

        Raises:
            KeyError: no key ``keyid``.
        """
        return verify_ed25519(self._keys[keyid][1], sig, message)


class Signer:
    """Signs records with one owner's Ed25519 private key (what an SDK or a service holds)."""

    def __init__(self, private: Ed25519PrivateKey, owner: str) -> None:
        self.private = private
        self.owner = owner
        self.raw_public = private.public_key().public_bytes_raw()
        self.keyid = keyid_of(owner, self.raw_public)

    def sign(self, headers: Headers, value: bytes | None) -> bytes:
        """The ``ce_dssematerial`` header value for a record with these headers and value
        (any ``ce_dssematerial`` already among ``headers`` is ignored).

        Raises:
            ValueError: ``ce_time`` is not an RFC 3339 time.
        """
        attrs = attributes(headers)
        material: dict[str, object] = {"core": _b64(core_digest(attrs, value))}
        names = extension_names(attrs)
        if names:
            material["ext"] = _b64(ext_digest(attrs, names))
            material["signedextattrs"] = names
        body = orjson.dumps(material)
        sig = self.private.sign(pae(_PAYLOAD_TYPE, body))
        envelope = {
            "payload": _b64(body),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"keyid": self.keyid, "sig": _b64(sig)}],
        }
        return base64.b64encode(orjson.dumps(envelope))

    def __call__(self, headers: list[tuple[str, bytes]], value: bytes) -> list[tuple[str, bytes]]:
        """``headers`` with this signer's ``ce_dssematerial`` (replacing any there), placed
        before ``content-type``: the form ``Envelope`` takes as its ``signer``."""
        kept = [(k, v) for k, v in headers if k.lower() != HEADER]
        material = (HEADER, self.sign(kept, value))
        if kept and kept[-1][0] == "content-type":
            return [*kept[:-1], material, kept[-1]]
        return [*kept, material]


@dataclass(frozen=True, slots=True)
class Verified:
    """What a valid signature proves: who signed (``keyid``, ``owner``), when (``signed_at``,
    the signed ``ce_time``), and which extension attributes it covers."""

    keyid: str
    owner: str
    signed_at: datetime
    extensions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Material:
    payload: bytes
    core: bytes
    ext: bytes | None
    names: tuple[str, ...]
    signatures: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Ahead:
    """A record's signature header parsed, and its Ed25519 check started elsewhere, before the
    record's turn (``courtbus.security.ahead``). ``verify`` takes the parsed material from it,
    and skips its own Ed25519 check if ``proven()`` says this key's signature verified (it
    blocks until the answer is in; False on any failure, and ``verify`` checks again itself).
    """

    material: _Material
    keyid: str
    sig: bytes
    proven: Callable[[], bool]


def signed_message(material: _Material) -> bytes:
    """The bytes the Ed25519 signature is over: DSSE's ``PAE`` of the verification material."""
    return _PAE_PREFIX + b"%d %s" % (len(material.payload), material.payload)


def check_to_make(
    headers: Headers | None, ring: KeyRing, owner: str
) -> tuple[bytes, _Material, PublicKey, bytes] | None:
    """(signature header, its material, the key of ``owner`` it names, the signature) that
    ``verify(headers, ..., sender=owner)`` checks with Ed25519; None if it refuses the record
    before that (no signature, malformed, no key of ``owner``), which it then says itself."""
    header = attributes(headers).get(HEADER)
    if not header:
        return None
    try:
        material = parse_material(header)
        key, sig = _pick(material, ring, owner)
    except SignatureError:
        return None
    return header, material, key, sig


def _malformed(why: str) -> SignatureError:
    return SignatureError(f"ce_dssematerial {why}", code=MALFORMED)


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise _malformed(f"{what} is not a Base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(f"{what} is not Base64") from exc


def parse_material(header: bytes) -> _Material:
    """The DSSE envelope and verification material of a ``ce_dssematerial`` value, checked
    as the extension's verification protocol (steps 3-6) says.

    Raises:
        SignatureError: ``SIGNATURE_MALFORMED``.
    """
    try:
        envelope = orjson.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise _malformed("is not a Base64 DSSE JSON envelope") from exc
    if not isinstance(envelope, dict):
        raise _malformed("is not a DSSE JSON envelope")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise _malformed(f"payloadType {envelope.get('payloadType')!r} is not {PAYLOAD_TYPE}")
    payload = _unb64(envelope.get("payload"), "payload")
    try:
        material = orjson.loads(payload)
    except ValueError as exc:
        raise _malformed("payload is not JSON") from exc
    if not isinstance(material, dict):
        raise _malformed("payload is not a JSON object")
    core = _unb64(material.get("core"), "core")
    if len(core) != 32:
        raise _malformed("core is not a 32-byte digest")
    has_ext, has_names = "ext" in material, "signedextattrs" in material
    if has_ext != has_names:
        raise _malformed("has ext without signedextattrs, or signedextattrs without ext")
    ext: bytes | None = None
    names: tuple[str, ...] = ()
    if has_ext:
        ext = _unb64(material["ext"], "ext")
        if len(ext) != 32:
            raise _malformed("ext is not a 32-byte digest")
        raw_names = material["signedextattrs"]
        if not isinstance(raw_names, list) or not all(isinstance(n, str) for n in raw_names):
            raise _malformed("signedextattrs is not a list of names")
        names = tuple(str(n) for n in raw_names)
        if len(set(names)) != len(names):
            raise _malformed("signedextattrs repeats a name")
        bad = [n for n in names if n in _CORE_NAMES or n == ATTRIBUTE or not _EXT_NAME.fullmatch(n)]
        if bad:
            raise _malformed(f"signedextattrs names {', '.join(bad)}, which may not be signed")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise _malformed("has no signatures")
    sigs = []
    for entry in signatures:
        if not isinstance(entry, dict) or not isinstance(entry.get("keyid"), str):
            raise _malformed("has a signature without a keyid")
        sigs.append((str(entry["keyid"]), _unb64(entry.get("sig"), "sig")))
    return _Material(payload, core, ext, names, tuple(sigs))


def verify(
    headers: Headers | None,
    value: bytes | None,
    ring: KeyRing,
    *,
    sender: str | None = None,
    now: datetime | None = None,
    max_age: timedelta | None = None,
    skew: timedelta = DEFAULT_SKEW,
    strict: bool = True,
    ahead: Mapping[bytes, Ahead] | None = None,
) -> Verified:
    """Check a record's signature; what it proves.

    ``sender``: the principal that must have signed (the gateway: the outbox's owner); None
    takes the owner of the record's ``ce_source``. The key must be valid at the signed time;
    with ``now`` also at ``now``, and the signed time no older than ``max_age`` (if given) and
    no more than ``skew`` ahead of ``now``. ``strict``: every ``ce_`` extension on the record
    must be covered by the signature (an unsigned one could have been added by anyone).
    ``ahead``: checks started before, by signature header (``Ahead``); the same answers, sooner.

    Raises:
        SignatureError: ``SIGNATURE_MISSING`` (no ``ce_dssematerial``), ``SIGNATURE_MALFORMED``
            (not a DSSE envelope of the extension's payload type), ``SIGNATURE_WRONG_KEY``
            (signed with a key that is not the sender's: another participant's, or one the
            directory does not list), ``SIGNATURE_INVALID`` (the signature does not verify
            under the key it names: forged, or the envelope was altered),
            ``SIGNATURE_TAMPERED`` (the value or a signed header differs from what was signed,
            or an extension header is not signed), ``SIGNATURE_KEY_EXPIRED`` (the key is
            outside its validity window), ``SIGNATURE_STALE`` (signed too long ago, or in the
            future).
    """
    attrs = attributes(headers)
    header = attrs.get(HEADER)
    if not header:
        raise SignatureError("the record has no ce_dssematerial signature", code=MISSING)
    started = ahead.get(header) if ahead else None
    material = started.material if started is not None else parse_material(header)
    source = attrs.get("ce_source", b"").decode("utf-8", "replace")
    owner = sender or owner_of_source(source)
    if owner is None:
        raise SignatureError(f"no key can sign for ce_source {source!r}", code=WRONG_KEY)
    key, sig = _pick(material, ring, owner)
    keyid = key.keyid
    try:
        if not (
            started is not None
            and started.keyid == keyid
            and started.sig == sig
            and started.proven()
        ) and not ring.check(keyid, sig, signed_message(material)):
            raise InvalidSignature
    except InvalidSignature as exc:
        raise SignatureError(
            f"the signature does not verify under key {keyid}: forged, or the signature "
            "header was altered",
            code=INVALID,
        ) from exc
    if not attrs.get("ce_time"):  # the window is judged at the signed time: it must be there
        raise SignatureError("the record has no ce_time to judge its key by", code=MALFORMED)
    try:
        signed_time = canonical_time(attrs["ce_time"].decode("utf-8", "replace"))
    except ValueError as exc:
        raise SignatureError("ce_time is not an RFC 3339 time", code=TAMPERED) from exc
    if core_digest(attrs, value, signed_time) != material.core:
        raise SignatureError(
            "the value or a CloudEvents header (id, source, type, time, subject, ...) is not "
            "what was signed",
            code=TAMPERED,
        )
    if material.ext is not None and ext_digest(attrs, material.names) != material.ext:
        raise SignatureError(
            f"an extension header ({', '.join(material.names)}) is not what was signed",
            code=TAMPERED,
        )
    if strict:
        unsigned = [n for n in extension_names(attrs) if n not in material.names]
        if unsigned:
            raise SignatureError(
                f"header(s) {', '.join('ce_' + n for n in unsigned)} not covered by the signature",
                code=TAMPERED,
            )
    try:  # the fast path of canonical_time does not know February has no 31st
        signed_at = datetime.fromisoformat(signed_time.decode().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SignatureError("ce_time is not an RFC 3339 time", code=TAMPERED) from exc
    if not key.valid_at(signed_at):
        raise SignatureError(
            f"key {keyid} is {key.window()}; the record was signed at {signed_at.isoformat()}",
            code=KEY_EXPIRED,
        )
    if now is not None:
        if not key.valid_at(now):
            raise SignatureError(f"key {keyid} is {key.window()}", code=KEY_EXPIRED)
        if signed_at > now + skew:
            raise SignatureError(
                f"signed at {signed_at.isoformat()}, ahead of the bus's clock by more than {skew}",
                code=STALE,
            )
        if max_age is not None and signed_at < now - max_age:
            raise SignatureError(
                f"signed at {signed_at.isoformat()}, more than {max_age} ago: a replay of an old "
                "record, or one held back too long (send it anew)",
                code=STALE,
            )
    return Verified(keyid, owner, signed_at, material.names)


def _pick(material: _Material, ring: KeyRing, owner: str) -> tuple[PublicKey, bytes]:
    """The key and signature to check: the first signature by a key of ``owner``.

    Raises:
        SignatureError: ``SIGNATURE_WRONG_KEY``.
    """
    others = []
    for keyid, sig in material.signatures:
        key = ring.get(keyid)
        if key is not None and key.owner == owner:
            return key, sig
        others.append(f"{keyid} ({'of ' + key.owner if key else 'not in the directory'})")
    raise SignatureError(
        f"signed with {', '.join(others)}, not with a key of {owner}", code=WRONG_KEY
    )


def generate(owner: str) -> Signer:
    """A new key pair for ``owner``."""
    return Signer(Ed25519PrivateKey.generate(), owner)
