"""Signing keys on disk: the public keys' file the directory reads, and private key files.

The public keys file (``$COURTBUS_KEYS``, default ``<stack home>/keys/public.yaml``) lists each
participant's Ed25519 public keys with their validity windows; it holds nothing secret and is
what ``courtbus keys new``, ``courtbus keys rotate`` and ``courtbus keys retire`` edit. A
private key is a PEM file (PKCS#8, mode 0600, optionally encrypted with
``$COURTBUS_SIGNING_KEY_PASSWORD``) that only its owner holds: never in the repository. Rotation and retirement are pure functions over the key list.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from courtbus.errors import ConfigError
from courtbus.resources import default_home
from courtbus.security.signing import PublicKey, Signer, generate, keyid_of
from courtbus.yaml_files import read_yaml

DEFAULT_LIFETIME = timedelta(days=365)  # a new key's window
DEFAULT_ROLLOVER = timedelta(days=7)  # how long the old key stays valid after a rotation
KEY_PASSWORD_ENV = "COURTBUS_SIGNING_KEY_PASSWORD"
SIGNING_KEY_ENV = "COURTBUS_SIGNING_KEY"
KEYS_ENV = "COURTBUS_KEYS"
_HEADER = (
    "# courtbus public signing keys (Ed25519): written by `courtbus keys new` and its siblings.\n"
    "# Public keys only; every private key stays with its owner.\n"
)


def keys_path() -> Path:
    """``$COURTBUS_KEYS``, else ``<stack home>/keys/public.yaml``."""
    if path := os.environ.get(KEYS_ENV):
        return Path(path)
    home = Path(os.environ.get("COURTBUS_STACK_HOME") or default_home())
    return home / "keys" / "public.yaml"


def private_dir() -> Path:
    """``$COURTBUS_PRIVATE_KEYS``, else ``<stack home>/keys/private``: where ``keys new``
    writes private keys unless told otherwise."""
    if path := os.environ.get("COURTBUS_PRIVATE_KEYS"):
        return Path(path)
    return keys_path().parent / "private"


def _time(value: Any, where: str, problems: list[str]) -> datetime | None:
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"{where}: {value!r} is not an ISO 8601 time")
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_keys(raw: Any, source: str = "<memory>") -> tuple[PublicKey, ...]:
    """The keys of a public keys file's data.

    Raises:
        ConfigError: ``KEYS_INVALID`` listing every problem (entry and what is wrong).
    """
    if raw is None:
        return ()
    entries = raw.get("keys") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: must be a mapping with a list `keys`", code="KEYS_INVALID")
    problems: list[str] = []
    keys: list[PublicKey] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{source}: keys[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        missing = [k for k in ("owner", "keyid", "public_key", "not_before") if not entry.get(k)]
        unknown = sorted(set(entry) - {"owner", "keyid", "public_key", "not_before", "not_after"})
        if missing or unknown:
            problems.append(
                f"{where}: "
                + "; ".join(
                    ([f"missing {', '.join(missing)}"] if missing else [])
                    + ([f"unknown field(s) {', '.join(unknown)}"] if unknown else [])
                )
            )
            continue
        try:
            raw_key = base64.b64decode(str(entry["public_key"]), validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"{where}: public_key is not Base64")
            continue
        owner, keyid = str(entry["owner"]), str(entry["keyid"])
        if len(raw_key) != 32:
            problems.append(f"{where}: public_key is not a raw Ed25519 key (32 bytes)")
            continue
        if keyid != keyid_of(owner, raw_key):
            problems.append(f"{where}: keyid must be {keyid_of(owner, raw_key)} for this key")
            continue
        if keyid in seen:
            problems.append(f"{where}: duplicate keyid {keyid}")
            continue
        seen.add(keyid)
        start = _time(entry["not_before"], f"{where}.not_before", problems)
        end = None
        if entry.get("not_after") is not None:
            end = _time(entry["not_after"], f"{where}.not_after", problems)
            if end is None:
                continue
        if start is None:
            continue
        if end is not None and end < start:
            problems.append(f"{where}: not_after is before not_before")
            continue
        keys.append(PublicKey(keyid, owner, raw_key, start, end))
    if problems:
        raise ConfigError("invalid public keys:\n  " + "\n  ".join(problems), code="KEYS_INVALID")
    return tuple(keys)


def load_keys(path: Path | None = None) -> tuple[PublicKey, ...]:
    """The keys of a public keys file; none if the file does not exist.

    Raises:
        ConfigError: ``KEYS_INVALID`` or ``CONFIG_UNREADABLE``.
    """
    path = path or keys_path()
    if not path.exists():
        return ()
    return parse_keys(read_yaml(path), str(path))


def dump_keys(keys: Iterable[PublicKey]) -> str:
    """The public keys file's text."""
    entries = [
        {
            "owner": k.owner,
            "keyid": k.keyid,
            "public_key": base64.b64encode(k.raw).decode(),
            "not_before": k.not_before.astimezone(UTC).isoformat(),
            "not_after": k.not_after.astimezone(UTC).isoformat() if k.not_after else None,
        }
        for k in sorted(keys, key=lambda k: (k.owner, k.not_before, k.keyid))
    ]
    return _HEADER + yaml.safe_dump({"keys": entries}, sort_keys=False, allow_unicode=True)


def write_keys(path: Path, keys: Iterable[PublicKey]) -> None:
    """Replace the public keys file atomically (a gateway reading it sees the old or the new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(dump_keys(keys))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_private(path: Path, signer: Signer, password: str | None = None) -> Path:
    """Write ``signer``'s private key as PEM (PKCS#8) with mode 0600; never overwrites.

    Raises:
        ConfigError: ``KEY_FILE_EXISTS`` or ``KEY_FILE_UNWRITABLE``.
    """
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    pem = signer.private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(f"{path} exists: not overwritten", code="KEY_FILE_EXISTS") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}", code="KEY_FILE_UNWRITABLE") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path


def load_signer(path: Path, owner: str, password: str | None = None) -> Signer:
    """The signer of a private key file for ``owner`` (``court.320583``); the password from
    ``password`` or ``$COURTBUS_SIGNING_KEY_PASSWORD`` for an encrypted file.

    Raises:
        ConfigError: ``SIGNING_KEY_UNREADABLE`` (missing, unreadable, wrong password, not an
            Ed25519 key) or ``SIGNING_KEY_EXPOSED`` (readable by others than its owner).
    """
    password = password or os.environ.get(KEY_PASSWORD_ENV) or None
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"signing key {path}: {exc.strerror}", code="SIGNING_KEY_UNREADABLE"
        ) from exc
    if mode & 0o077:
        raise ConfigError(
            f"signing key {path} is readable by others (mode {mode & 0o777:o}): chmod 600 it",
            code="SIGNING_KEY_EXPOSED",
        )
    try:
        private = serialization.load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"signing key {path}: not a PEM private key, or the password is wrong "
            f"(${KEY_PASSWORD_ENV})",
            code="SIGNING_KEY_UNREADABLE",
        ) from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"signing key {path} is not Ed25519", code="SIGNING_KEY_UNREADABLE")
    return Signer(private, owner)


def public_of(signer: Signer, not_before: datetime, lifetime: timedelta | None) -> PublicKey:
    """The directory entry of ``signer``'s key, valid from ``not_before`` for ``lifetime``."""
    end = not_before + lifetime if lifetime is not None else None
    return PublicKey(signer.keyid, signer.owner, signer.raw_public, not_before, end)


def current(keys: Sequence[PublicKey], owner: str, at: datetime) -> list[PublicKey]:
    """``owner``'s keys valid at ``at``, newest first."""
    return sorted(
        (k for k in keys if k.owner == owner and k.valid_at(at)),
        key=lambda k: k.not_before,
        reverse=True,
    )


def add_key(
    keys: Sequence[PublicKey],
    owner: str,
    now: datetime,
    *,
    lifetime: timedelta | None = DEFAULT_LIFETIME,
) -> tuple[tuple[PublicKey, ...], Signer]:
    """``keys`` with a new key of ``owner`` valid from ``now`` (the others untouched)."""
    signer = generate(owner)
    return (*keys, public_of(signer, now, lifetime)), signer


def rotate(
    keys: Sequence[PublicKey],
    owner: str,
    now: datetime,
    *,
    rollover: timedelta = DEFAULT_ROLLOVER,
    lifetime: timedelta | None = DEFAULT_LIFETIME,
) -> tuple[tuple[PublicKey, ...], Signer]:
    """A new key for ``owner`` valid from ``now``; each key of ``owner`` valid now stays
    valid until ``now + rollover`` at the latest (two keys valid during the rollover window).

    Raises:
        ConfigError: ``KEY_NONE_VALID`` if ``owner`` has no key valid now (use ``keys new``).
    """
    valid = {k.keyid for k in current(keys, owner, now)}
    if not valid:
        raise ConfigError(
            f"{owner} has no key valid now to rotate: issue one with `courtbus keys new`",
            code="KEY_NONE_VALID",
        )
    until = now + rollover
    kept = tuple(
        replace(k, not_after=until)
        if k.keyid in valid and (k.not_after is None or k.not_after > until)
        else k
        for k in keys
    )
    return add_key(kept, owner, now, lifetime=lifetime)


def retire(
    keys: Sequence[PublicKey], owner: str, at: datetime, *, keyid: str | None = None
) -> tuple[tuple[PublicKey, ...], list[PublicKey]]:
    """End the validity of ``owner``'s keys (or of ``keyid`` alone) at ``at``; the keys
    retired. A record signed at or after ``at`` with them is refused (``KEY_EXPIRED``).

    Raises:
        ConfigError: ``KEY_UNKNOWN`` if no such key is valid at ``at``.
    """
    ended = [
        k
        for k in keys
        if k.owner == owner
        and (keyid is None or k.keyid == keyid)
        and (k.not_after is None or k.not_after > at)
    ]
    if not ended:
        what = keyid or f"any key of {owner}"
        raise ConfigError(f"no {what} is valid at {at.isoformat()}", code="KEY_UNKNOWN")
    ids = {k.keyid for k in ended}
    out = tuple(replace(k, not_after=max(at, k.not_before)) if k.keyid in ids else k for k in keys)
    return out, [k for k in out if k.keyid in ids]


def signer_for(
    owner: str,
    key: Path | str | Signer | None = None,
    listed: Sequence[PublicKey] = (),
    now: datetime | None = None,
) -> Signer | None:
    """The signer an SDK or a service uses: ``key`` (a ``Signer``, or a private key file),
    else the file named by ``$COURTBUS_SIGNING_KEY``, else None (records go unsigned).

    ``listed``: the directory's keys; when ``owner`` has keys there, the signer's must be one
    of them and valid now, so a key the gateway would refuse is reported before anything is
    sent.

    Raises:
        ConfigError: ``SIGNING_KEY_UNREADABLE``, ``SIGNING_KEY_EXPOSED`` (see
            ``load_signer``), ``SIGNING_KEY_OWNER`` (a signer of someone else) or
            ``SIGNING_KEY_NOT_LISTED`` (not among ``owner``'s keys, or outside its window).
    """
    if key is None:
        env = os.environ.get(SIGNING_KEY_ENV)
        if not env:
            return None
        key = Path(env)
    signer = key if isinstance(key, Signer) else load_signer(Path(key), owner)
    if signer.owner != owner:
        raise ConfigError(
            f"the signing key is {signer.owner}'s, not {owner}'s", code="SIGNING_KEY_OWNER"
        )
    mine = [k for k in listed if k.owner == owner]
    if mine:
        at = now or datetime.now(UTC)
        entry = next((k for k in mine if k.keyid == signer.keyid), None)
        if entry is None or not entry.valid_at(at):
            state = "not in the directory" if entry is None else entry.window()
            raise ConfigError(
                f"signing key {signer.keyid} is {state}: the gateway would refuse every "
                f"record (valid keys of {owner}: "
                f"{', '.join(k.keyid for k in current(mine, owner, at)) or 'none'})",
                code="SIGNING_KEY_NOT_LISTED",
            )
    return signer
