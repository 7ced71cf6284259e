"""`courtbus credentials issue|revoke`: a participant's certificate, key and settings in one
folder for its IT, from the local secure stack's CA; revocation through the CA's CRL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from courtbus.app.cli.common import out

credentials_app = typer.Typer(
    help="Issue and revoke participants' credentials (certificates, SCRAM users).",
    no_args_is_help=True,
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Stack folder (default: $COURTBUS_STACK_HOME, else .stack/)."),
]


def _state(home: Path | None) -> tuple[Path, object]:
    from courtbus.config import default_stack_home
    from courtbus.errors import StackError
    from courtbus.stack.layout import read_state

    folder = home or default_stack_home()
    state = read_state(folder)
    if state is None:
        raise StackError(
            f"no stack recorded in {folder}: start one with `courtbus stack up`",
            code="STACK_NOT_RUNNING",
        )
    return folder, state


@credentials_app.command("issue")
def issue(
    participant: Annotated[
        str,
        typer.Argument(help="court.<id>, agency.<id>, service.<name>, operator (or a bare id)."),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder to write (default: <stack home>/credentials/<principal>, outside any "
            "source tree: keys never belong in a repository).",
        ),
    ] = None,
    scram: Annotated[
        bool,
        typer.Option("--scram", help="A SCRAM-SHA-512 user (SASL_SSL) instead of a certificate."),
    ] = False,
    days: Annotated[int, typer.Option(help="Certificate validity in days.")] = 397,
    home: HomeOpt = None,
) -> None:
    """Write what a court's or an agency's IT needs: certificate, key, CA, courtbus.env,
    client.properties and a README.txt with the commands to test them."""
    from courtbus.access.credentials import issue_bundle
    from courtbus.access.credentials import participant as resolve_participant

    folder, state = _state(home)
    principal = resolve_participant(participant)
    target = out_dir or folder / "credentials" / principal
    bundle = issue_bundle(folder, state, principal, target, scram=scram, days=days)
    how = "SCRAM user" if bundle.scram else "certificate"
    out.print(f"[green]issued[/green] {how} for {bundle.principal} in {bundle.folder}")
    for name in bundle.files:
        out.print(f"  {name}")
    out.print(f"  test: see {bundle.folder / 'README.txt'}")


@credentials_app.command("revoke")
def revoke(
    participant: Annotated[str, typer.Argument(help="The principal whose certificate to revoke.")],
    home: HomeOpt = None,
) -> None:
    """Put a participant's current certificate on the CA's revocation list (brokers refuse it
    from the next handshake once their JDK re-reads the list, within 30 s)."""
    from courtbus.access.credentials import participant as resolve_participant
    from courtbus.security import pki

    folder, _ = _state(home)
    principal = resolve_participant(participant)
    creds = pki.revoke(folder, principal)
    out.print(f"[green]revoked[/green] {principal} (serial {creds.serial:x})")
