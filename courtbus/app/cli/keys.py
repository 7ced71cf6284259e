"""`courtbus keys new`, `rotate`, `retire`, `list`: the participants' Ed25519 signing keys.

The public keys go to the keys file the directory reads (``$COURTBUS_KEYS``, default
``<stack home>/keys/public.yaml``); a new private key is written once, mode 0600, to
``--out`` or ``<keys folder>/private/<keyid>.pem`` (encrypted with
``$COURTBUS_SIGNING_KEY_PASSWORD`` when set), for its owner to take away. Nothing secret is
ever printed.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from courtbus.app.cli.common import out
from courtbus.errors import ConfigError
from courtbus.security import keys as keyfile
from courtbus.security.principals import SERVICES
from courtbus.security.signing import PublicKey, Signer

keys_app = typer.Typer(
    help="Signing keys (Ed25519) of courts, agencies and bus services.", no_args_is_help=True
)

Participant = Annotated[
    str,
    typer.Argument(
        help="Whose key: court.<id>, agency.<id> or service.<name> (a bare court id works too)."
    ),
]
KeysFile = Annotated[
    Path | None,
    typer.Option(
        "--keys",
        help="The public keys file (default $COURTBUS_KEYS, else <stack home>/keys/public.yaml).",
    ),
]
Out = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Where to write the new private key (default "
        "<keys folder>/private/<keyid>.pem); never overwritten.",
    ),
]
Days = Annotated[int, typer.Option("--days", min=1, help="How long the new key is valid.")]


def owner_of(participant: str) -> str:
    """The principal a participant argument names, checked against the directory.

    Raises:
        ConfigError: ``PARTICIPANT_UNKNOWN``.
    """
    from courtbus.catalogue.directory import load_directory

    name = participant.strip()
    if name.isdigit():
        name = f"court.{name}"
    kind, _, ident = name.partition(".")
    directory = load_directory()
    known = (
        (kind == "court" and ident in {c.id for c in directory.courts})
        or (kind == "agency" and ident in {a.id for a in directory.agencies})
        or (kind == "service" and ident in SERVICES)
    )
    if not known:
        raise ConfigError(
            f"{participant!r} is not a court, agency or service of the directory (write "
            f"court.<id>, agency.<id> or service.<{'|'.join(SERVICES)}>)",
            code="PARTICIPANT_UNKNOWN",
        )
    return name


def _write_private(signer: Signer, where: Path | None, keys_path: Path) -> Path:
    path = where or keys_path.parent / "private" / f"{signer.keyid.replace(':', '_')}.pem"
    password = os.environ.get(keyfile.KEY_PASSWORD_ENV) or None
    return keyfile.write_private(path, signer, password)


def _show(key: PublicKey, now: datetime) -> str:
    state = (
        "valid" if key.valid_at(now) else ("not yet valid" if now < key.not_before else "expired")
    )
    return f"{key.keyid} ({state}; {key.window()})"


def _issued(signer: Signer, private: Path, key: PublicKey, keys_path: Path, now: datetime) -> None:
    out.print(f"[green]new key[/green] {_show(key, now)}")
    out.print(
        f"  private key: {private} (mode 0600: give it to {signer.owner}'s IT, then "
        "delete this copy)"
    )
    out.print(f"  public key listed in {keys_path}")
    out.print(f"  sign with it: COURTBUS_SIGNING_KEY={private}")


@keys_app.command("new")
def new(
    participant: Participant,
    keys: KeysFile = None,
    out_file: Out = None,
    days: Days = 365,
) -> None:
    """Issue a participant a new key pair, valid from now (its other keys stay as they are)."""
    owner = owner_of(participant)
    path = keys or keyfile.keys_path()
    now = datetime.now(UTC).replace(microsecond=0)
    updated, signer = keyfile.add_key(
        keyfile.load_keys(path), owner, now, lifetime=timedelta(days=days)
    )
    private = _write_private(signer, out_file, path)
    keyfile.write_keys(path, updated)
    _issued(signer, private, updated[-1], path, now)


@keys_app.command("rotate")
def rotate(
    participant: Participant,
    keys: KeysFile = None,
    out_file: Out = None,
    days: Days = 365,
    rollover_days: Annotated[
        float,
        typer.Option(
            "--rollover-days",
            min=0,
            help="How long the current key stays valid beside the new one.",
        ),
    ] = keyfile.DEFAULT_ROLLOVER.days,
) -> None:
    """A new key valid from now; the current one stays valid for the rollover window
    (default 7 days), so records signed with either are accepted while systems switch."""
    owner = owner_of(participant)
    path = keys or keyfile.keys_path()
    now = datetime.now(UTC).replace(microsecond=0)
    updated, signer = keyfile.rotate(
        keyfile.load_keys(path),
        owner,
        now,
        rollover=timedelta(days=rollover_days),
        lifetime=timedelta(days=days),
    )
    private = _write_private(signer, out_file, path)
    keyfile.write_keys(path, updated)
    _issued(signer, private, updated[-1], path, now)
    for key in keyfile.current(updated, owner, now)[1:]:
        out.print(f"  still valid until the rollover ends: {_show(key, now)}")


@keys_app.command("retire")
def retire(
    participant: Participant,
    keys: KeysFile = None,
    keyid: Annotated[str | None, typer.Option(help="Only this key (default: all).")] = None,
    at: Annotated[
        str | None, typer.Option(help="When its validity ends (ISO 8601; default now).")
    ] = None,
) -> None:
    """End the validity of a participant's keys (all, or --keyid): records signed from then
    on are refused SIGNATURE_KEY_EXPIRED."""
    owner = owner_of(participant)
    path = keys or keyfile.keys_path()
    try:
        when = datetime.fromisoformat(at) if at else datetime.now(UTC).replace(microsecond=0)
    except ValueError as exc:
        raise ConfigError(f"--at {at!r} is not an ISO 8601 time", code="TIME_INVALID") from exc
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    updated, ended = keyfile.retire(keyfile.load_keys(path), owner, when, keyid=keyid)
    keyfile.write_keys(path, updated)
    for key in ended:
        out.print(f"[yellow]retired[/yellow] {_show(key, datetime.now(UTC))}")


@keys_app.command("list")
def list_(
    participant: Annotated[str | None, typer.Argument(help="Only this participant.")] = None,
    keys: KeysFile = None,
) -> None:
    """The public keys of the keys file, with their windows."""
    path = keys or keyfile.keys_path()
    owner = owner_of(participant) if participant else None
    now = datetime.now(UTC)
    rows = [k for k in keyfile.load_keys(path) if owner is None or k.owner == owner]
    table = Table("owner", "keyid", "state", "not before", "not after")
    for key in rows:
        state = "valid" if key.valid_at(now) else "not valid now"
        table.add_row(
            key.owner,
            key.keyid,
            state,
            key.not_before.isoformat(timespec="seconds"),
            key.not_after.isoformat(timespec="seconds") if key.not_after else "-",
        )
    out.print(table if rows else f"no keys in {path}")
