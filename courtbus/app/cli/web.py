"""``courtbus web token``: an API token for a court's system (the REST API, ``serve web``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from courtbus.app.cli.common import out
from courtbus.catalogue.directory import load_directory
from courtbus.web import tokens
from courtbus.web.app import region_of

web_app = typer.Typer(help="The REST API's tokens.", no_args_is_help=True)


@web_app.command("token")
def token(
    principal: Annotated[
        str,
        typer.Argument(
            help="court.<id>, or a coordination centre: coordinator.spc, "
            "coordinator.<province code>, coordinator.group.<name>."
        ),
    ],
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            "--tokens",
            help="The tokens file (default $COURTBUS_WEB_TOKENS, else "
            "<stack home>/web/tokens.yaml).",
        ),
    ] = None,
) -> None:
    """Make a token for ``principal``, add its SHA-256 to the tokens file and print the token
    once (it is not kept: give it to the court's IT, in a file or a secret store)."""
    kind, _, ident = principal.partition(".")
    directory = load_directory()
    if kind == "court" and ident:
        directory.court(ident)  # COURT_UNKNOWN if it is not in the directory
    elif kind == "agency" and ident:
        directory.agency(ident)  # AGENCY_UNKNOWN
    elif region_of(principal, directory) is None:
        out.print(
            f"[red]error PRINCIPAL_INVALID[/red]: {principal!r} is not court.<id> "
            "nor a coordination centre (coordinator.spc | .<province> | .group.<name>)"
        )
        raise typer.Exit(2)
    path = tokens_file or tokens.tokens_path()
    made = tokens.issue(principal, path)
    out.print(f"token for {principal} (shown once; its hash is in {path}):", highlight=False)
    typer.echo(made)
