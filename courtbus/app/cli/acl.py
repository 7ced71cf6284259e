"""``courtbus acl plan|apply``: the cluster's ACLs against those the directory wants."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from courtbus.app.cli.common import out

if TYPE_CHECKING:
    from courtbus.access.acl import AclPlan, Binding
    from courtbus.catalogue.directory import Directory
    from courtbus.catalogue.topics import Catalogue

acl_app = typer.Typer(
    help="Kafka ACLs derived from the participant directory: plan and apply.",
    no_args_is_help=True,
)

BootstrapOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="Kafka bootstrap servers (default: $COURTBUS_BOOTSTRAP or the local stack).",
    ),
]
DirectoryOpt = Annotated[
    Path | None, typer.Option("--directory", help="Participant directory YAML.")
]
CatalogueOpt = Annotated[Path | None, typer.Option("--catalogue", help="Topic catalogue YAML.")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="Stack folder (the local stack).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

FOREIGN_NOTE = (
    "ACLs of principals courtbus does not manage (not court.*, agency.*, service.* or "
    "operator): reported, never removed"
)


def _inputs(directory: Path | None, catalogue: Path | None) -> tuple[Directory, Catalogue]:
    """Directory and catalogue read and checked before anything connects."""
    from courtbus.catalogue.directory import DEFAULT_PATH as DIRECTORY_PATH
    from courtbus.catalogue.directory import load_directory
    from courtbus.catalogue.topics import DEFAULT_PATH as CATALOGUE_PATH
    from courtbus.catalogue.topics import load_catalogue

    return load_directory(directory or DIRECTORY_PATH), load_catalogue(catalogue or CATALOGUE_PATH)


def _table(title: str, rows: Sequence[tuple[str, Binding]]) -> Table:
    table = Table(
        "change",
        "principal",
        "operation",
        "resource",
        "name",
        "pattern",
        "permission",
        "host",
        title=title,
    )
    colour = {"add": "green", "remove": "red", "foreign": "yellow"}
    for change, b in rows:
        table.add_row(
            f"[{colour[change]}]{change}[/{colour[change]}]",
            b.principal,
            b.operation.value,
            b.resource.value,
            b.name,
            b.pattern.value.lower(),
            "allow" if b.allow else "DENY",
            b.host,
        )
    return table


def _binding_json(b: Binding) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in asdict(b).items()}


def _plan_json(plan: AclPlan) -> dict[str, Any]:
    return {
        "in_sync": plan.in_sync,
        "add": [_binding_json(b) for b in plan.add],
        "remove": [_binding_json(b) for b in plan.remove],
        "foreign": [_binding_json(b) for b in plan.foreign],
        "kept": plan.kept,
        "principals": len(plan.principals),
    }


def _print_foreign(plan: AclPlan) -> None:
    if plan.foreign:
        out.print(_table("not managed by courtbus", [("foreign", b) for b in plan.foreign]))
        out.print(f"[yellow]{len(plan.foreign)} foreign ACL(s)[/yellow]: {FOREIGN_NOTE}")


def _plan(
    bootstrap: str | None, home: Path | None, directory: Path | None, catalogue: Path | None
) -> tuple[Any, AclPlan]:
    from courtbus.access import acl_admin
    from courtbus.app.cli.common import cli_connection

    dirs, cat = _inputs(directory, catalogue)
    conn = cli_connection(bootstrap, stack_home=home)
    return conn, acl_admin.plan(conn, dirs, cat)


@acl_app.command("plan")
def acl_plan(
    bootstrap: BootstrapOpt = None,
    directory: DirectoryOpt = None,
    catalogue: CatalogueOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show how the cluster's ACLs differ from those the directory wants (changes nothing)."""
    _conn, plan = _plan(bootstrap, home, directory, catalogue)
    if as_json:
        typer.echo(json.dumps(_plan_json(plan), indent=2))
        return
    changes = [("remove", b) for b in plan.remove] + [("add", b) for b in plan.add]
    if changes:
        out.print(_table("ACL changes", changes))
    _print_foreign(plan)
    if plan.in_sync:
        out.print(
            f"[green]no change[/green]: {plan.kept} ACL(s) of {len(plan.principals)} "
            "principal(s) match the directory"
        )
    else:
        out.print(
            f"{len(plan.add)} to add, {len(plan.remove)} to remove "
            "(`courtbus acl apply` makes them)"
        )


@acl_app.command("apply")
def acl_apply(
    bootstrap: BootstrapOpt = None,
    directory: DirectoryOpt = None,
    catalogue: CatalogueOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add the missing ACLs and remove the extra ones of managed principals (idempotent)."""
    from courtbus.access import acl_admin

    conn, plan = _plan(bootstrap, home, directory, catalogue)
    done = acl_admin.apply(conn, plan)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "added": [_binding_json(b) for b in done.added],
                    "removed": [_binding_json(b) for b in done.removed],
                    "foreign": [_binding_json(b) for b in plan.foreign],
                    "kept": plan.kept,
                },
                indent=2,
            )
        )
        return
    changes = [("remove", b) for b in done.removed] + [("add", b) for b in done.added]
    if changes:
        out.print(_table("ACLs changed", changes))
    _print_foreign(plan)
    if not changes:
        out.print(f"[green]no change[/green]: {plan.kept} ACL(s) already match the directory")
    else:
        out.print(f"added {len(done.added)}, removed {len(done.removed)} ACL(s)")
