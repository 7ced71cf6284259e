"""``courtbus inbox | dlq ... | serve``: a court's inbox, the dead letters, the services."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer
from rich.table import Table

from courtbus.app.cli.common import check_court, cli_connection, court_client, out
from courtbus.bus.topics import inbox_topic
from courtbus.domain.identity import mask_ids_in_text

dlq_app = typer.Typer(help="Dead letters: list, show, replay.", no_args_is_help=True)


def inbox(
    court: Annotated[str, typer.Argument(help="Court id.")],
    follow: Annotated[bool, typer.Option(help="Keep waiting for new messages.")] = False,
    group: Annotated[
        str | None, typer.Option(help="Consumer group: remember what was read.")
    ] = None,
) -> None:
    """Print a court's inbox: requests, receipts, deadline notices, rejection notices."""
    check_court(court)
    with court_client(court) as client:
        count = 0
        for event in client.inbox(group_id=group, timeout_s=None if follow else 3):
            p = event.payload
            detail = p.get("error_code") or p.get("notice") or p.get("matter") or ""
            text = f"{event.headers.time:%Y-%m-%d %H:%M:%S}  {event.record.rsplit('.', 1)[1]:<28} {p.get('delegation_id') or event.key}  {detail}"
            out.print(mask_ids_in_text(text), highlight=False)
            count += 1
    out.print(f"{count} message(s)")


@dlq_app.command("list")
def dlq_list(
    code: Annotated[str | None, typer.Option(help="Only this error code.")] = None,
) -> None:
    """Every dead letter: where it came from and why it was refused."""
    from courtbus.bus.deadletters import read_dead_letters

    table = Table("ref", "code", "from", "reason")
    n = 0
    for letter in read_dead_letters(cli_connection()):
        if code and letter.code != code:
            continue
        table.add_row(
            letter.ref,
            letter.code,
            f"{letter.source_topic}@{letter.source_partition}:{letter.source_offset}",
            letter.reason[:120],
        )
        n += 1
    out.print(table)
    out.print(f"{n} dead letter(s)")


@dlq_app.command("show")
def dlq_show(
    ref: Annotated[
        str, typer.Argument(help="partition:offset in bus.deadletter (from `dlq list`).")
    ],
) -> None:
    """One dead letter in full: code, reason, original headers and size."""
    from courtbus.bus.deadletters import find

    letter = find(cli_connection(), ref)
    for label, value in (("code", letter.code), ("reason", letter.reason), ("from", f"{letter.source_topic}@{letter.source_partition}:{letter.source_offset}"),
                         ("time", str(letter.time)), ("key", repr(letter.key)), ("value", f"{len(letter.value)} bytes")):  # fmt: skip
        out.print(f"[bold]{label:>8}[/bold]  {value}", highlight=False)
    for k, v in letter.original_headers:
        out.print(
            f"[bold]{k:>8}[/bold]  {mask_ids_in_text(v.decode('utf-8', errors='replace'))}",
            highlight=False,
        )


@dlq_app.command("replay")
def dlq_replay(
    ref: Annotated[str, typer.Argument(help="partition:offset in bus.deadletter.")],
) -> None:
    """Re-submit a dead letter's original record once its cause is fixed on the bus side."""
    from courtbus.bus.deadletters import find, replay

    conn = cli_connection()
    letter = find(conn, ref)
    partition, offset = replay(conn, letter)
    out.print(
        f"[green]replayed[/green] {ref} ({letter.code}) to {letter.source_topic}@{partition}:{offset}"
    )


# The bus's services, each `python -m services.<name>`.
SERVICE_NAMES = (
    "gateway", "delegation", "projector", "blacklist", "feeds", "watchdog", "restrictions",
    "distribution",
)  # fmt: skip


def serve(
    service: Annotated[str, typer.Argument(help=", ".join(SERVICE_NAMES) + ".")],
) -> None:
    """Run one service in the foreground until Ctrl-C (same as `python -m services.<name>`).

    On POSIX the command becomes the service (exec), so SIGTERM from Docker or systemd reaches
    the worker itself and it stops cleanly.
    """
    if service not in SERVICE_NAMES:
        out.print(f"[red]unknown service {service!r}[/red]: {', '.join(SERVICE_NAMES)}")
        raise typer.Exit(2)
    argv = [sys.executable, "-m", f"services.{service}"]
    if os.name == "posix":
        sys.stdout.flush()
        os.execv(sys.executable, argv)
    raise typer.Exit(subprocess.call(argv))


def feed(
    agency: Annotated[str, typer.Argument(help="Agency id (see `courtbus directory show`).")],
    flow: Annotated[
        str | None, typer.Option(help="Only this flow's feed (default: every granted one).")
    ] = None,
    follow: Annotated[bool, typer.Option(help="Keep waiting for new records.")] = False,
    show_ids: Annotated[bool, typer.Option("--show-ids", help="Do not mask ID numbers.")] = False,
) -> None:
    """Print what the bus sends an agency: its notices (``agency.<id>.feed``: refusals of what
    it sent, answers) and each granted flow's feed (``agency.<id>.<flow>``), as the agency
    receives them (projected fields only; a tombstone retracts an entry)."""
    import json

    from courtbus.catalogue.directory import load_directory
    from courtbus.sdk.agency import AgencyClient
    from courtbus.store.jsonify import masked
    from courtbus.wire.client import read_from_start

    directory = load_directory()
    directory.agency(agency)
    granted = [f.flow for f in directory.feeds if f.agency == agency]
    if flow is not None and flow not in granted:
        out.print(
            f"[red]agency {agency} is not granted the {flow} feed[/red] ({', '.join(granted) or 'none'})"
        )
        raise typer.Exit(2)
    flows = [flow] if flow else granted
    topics = [inbox_topic("agency", agency), *(f"agency.{agency}.{f}" for f in flows)]
    count = 0
    with AgencyClient(agency, cli_connection(), directory=directory) as client:
        for raw in read_from_start(client.conn, topics, None if follow else 3):
            event = client.decode(raw)
            where = raw.topic.rsplit(".", 1)[1]
            if event.payload is None:
                text = f"{'':19}  {where:<11} {event.key}  (tombstone: retracted)"
            else:
                payload = event.payload if show_ids else masked(event.payload)
                body = json.dumps(payload, ensure_ascii=False, default=str, separators=(",", ":"))
                when = f"{event.headers.time:%Y-%m-%d %H:%M:%S}" if event.headers else ""
                short = (event.record or "").rsplit(".", 1)[-1]
                text = f"{when:19}  {where:<11} {event.key}  {short}  {body}"
            out.print(text if show_ids else mask_ids_in_text(text), highlight=False, markup=False)
            count += 1
    out.print(f"{count} record(s)")
