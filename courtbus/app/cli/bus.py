"""``courtbus inbox | dlq ... | serve``: a court's inbox, the dead letters, the services."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from courtbus.app.cli.common import (
    check_court,
    cli_connection,
    court_client,
    id_column,
    out,
    plural,
)
from courtbus.bus.topics import OUTBOX, inbox_topic
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import CourtbusError, TransientError
from courtbus.flows.registry import LiveSequence, flow_services

if TYPE_CHECKING:
    from courtbus.bus.deadletters import DeadLetter
    from courtbus.config import Connection
    from courtbus.gateway import Gateway
    from courtbus.wire.envelope import Event

err = Console(stderr=True)

dlq_app = typer.Typer(help="Dead letters: list, show, replay.", no_args_is_help=True)


def inbox(
    court: Annotated[str, typer.Argument(help="Court id.")],
    follow: Annotated[bool, typer.Option(help="Keep waiting for new messages.")] = False,
    group: Annotated[
        str | None, typer.Option(help="Consumer group: remember what was read.")
    ] = None,
) -> None:
    """Print a court's inbox in time order: requests, receipts, deadline notices, rejection
    notices. (The inbox has several partitions, read side by side: what is there is sorted by
    event time first; with --follow, what arrives after is printed as it comes.)"""
    check_court(court)
    with court_client(court) as client:
        backlog = in_time_order(client.inbox(group_id=group, timeout_s=3))
        for event in backlog:
            out.print(inbox_line(event), highlight=False, markup=False)
        count = len(backlog)
        if follow:
            seen = {(e.partition, e.offset) for e in backlog}
            for event in client.inbox(group_id=group, timeout_s=None):
                if (event.partition, event.offset) in seen:  # no group: read from the start again
                    continue
                out.print(inbox_line(event), highlight=False, markup=False)
                count += 1
    out.print(plural(count, "message"), highlight=False)


def in_time_order(events: Iterable[Event]) -> list[Event]:
    """Events by their ``ce_time``, then partition and offset (a stable order for equal times)."""
    return sorted(events, key=lambda e: (e.headers.time, e.partition, e.offset))


def inbox_line(event: Event) -> str:
    """One inbox message on one line, ID numbers masked."""
    p = event.payload
    detail = p.get("error_code") or p.get("notice") or p.get("matter") or ""
    if p.get("provisional"):  # a deadline counted without that year's holidays
        detail = f"{detail} ({p['provisional']})"
    short = event.record.rsplit(".", 1)[-1]
    text = f"{event.headers.time:%Y-%m-%d %H:%M:%S}  {short:<28} {p.get('delegation_id') or event.key}  {detail}"
    return mask_ids_in_text(text)


@dlq_app.command("list")
def dlq_list(
    code: Annotated[str | None, typer.Option(help="Only this error code.")] = None,
) -> None:
    """Every dead letter: where it came from and why it was refused."""
    from courtbus.bus.deadletters import read_dead_letters

    letters = [
        letter for letter in read_dead_letters(cli_connection()) if not code or letter.code == code
    ]
    table = Table(id_column("ref", (x.ref for x in letters)), "code", "from", "reason")
    for letter in letters:
        table.add_row(
            letter.ref,
            letter.code,
            f"{letter.source_topic}@{letter.source_partition}:{letter.source_offset}",
            mask_ids_in_text(letter.reason)[:120],
        )
    out.print(table)
    out.print(plural(len(letters), "dead letter"), highlight=False)


@dlq_app.command("show")
def dlq_show(
    ref: Annotated[
        str, typer.Argument(help="partition:offset in bus.deadletter (from `dlq list`).")
    ],
) -> None:
    """One dead letter in full: code, reason, original headers and size."""
    from courtbus.bus.deadletters import find, parse_ref

    parse_ref(ref)  # before connecting
    letter = find(cli_connection(), ref)
    for label, value in (
        ("code", letter.code),
        ("reason", mask_ids_in_text(letter.reason)),
        ("from", f"{letter.source_topic}@{letter.source_partition}:{letter.source_offset}"),
        ("time", str(letter.time)),
        ("key", repr(letter.key)),
        ("value", f"{len(letter.value)} bytes"),
    ):
        out.print(f"[bold]{label:>8}[/bold]  {value}", highlight=False)
    for k, v in letter.original_headers:
        out.print(
            f"[bold]{k:>8}[/bold]  {mask_ids_in_text(v.decode('utf-8', errors='replace'))}",
            highlight=False,
        )


def replay_gateway(conn: Connection) -> Gateway:
    """The gateway's checks as they stand now: the directory, the regional rules and the
    schemas (decoding by registry id)."""
    from courtbus.catalogue.directory import load_directory
    from courtbus.catalogue.policies import load_policies
    from courtbus.gateway import Gateway
    from courtbus.wire.client import make_envelope
    from courtbus.wire.schemas import SchemaSet

    directory = load_directory()
    return Gateway(make_envelope(conn, SchemaSet.load()), directory, load_policies(directory))


def recheck(gateway: Gateway, letter: DeadLetter) -> CourtbusError | None:
    """What the gateway says of a dead letter's original record today: None if it would
    forward it, else the refusal.

    Raises:
        TransientError: the registry (or another dependency) cannot be reached: no answer.
    """
    raw = SimpleNamespace(
        topic=letter.source_topic,
        partition=letter.source_partition,
        offset=letter.source_offset,
        key=letter.key,
        value=letter.value,
        headers=letter.original_headers,
    )
    try:
        gateway.check(raw)
    except TransientError:
        raise
    except CourtbusError as exc:
        return exc
    return None


@dlq_app.command("replay")
def dlq_replay(
    ref: Annotated[str, typer.Argument(help="partition:offset in bus.deadletter.")],
    force: Annotated[
        bool, typer.Option("--force", help="Resend even if the gateway would refuse it again.")
    ] = False,
) -> None:
    """Re-submit a dead letter's original record once its cause is fixed on the bus side.

    A record from an outbox is first put through the gateway's checks as they are now; if it
    would be refused again it is not resent (unless --force), and the refusal is shown.
    """
    from courtbus.bus.deadletters import find, parse_ref, replay

    parse_ref(ref)  # before connecting
    conn = cli_connection()
    letter = find(conn, ref)
    if OUTBOX.match(letter.source_topic) is None:
        out.print(
            f"{ref} was refused by a flow service on {letter.source_topic} ({letter.code}): "
            "its state decides, so it is not re-checked here",
            highlight=False,
        )
    elif (again := recheck(replay_gateway(conn), letter)) is not None:
        same = "again" if again.code == letter.code else f"now ({letter.code} before)"
        reason = mask_ids_in_text(" ".join(again.reason.split()))
        warning = f"the gateway would refuse {ref} {same}: {again.code}: {reason}"
        if not force:
            err.print(
                f"[yellow]not resent[/yellow]: {escape(warning)} (--force resends it anyway)",
                highlight=False,
            )
            raise typer.Exit(1)
        err.print(f"[yellow]resending anyway[/yellow]: {escape(warning)}", highlight=False)
    partition, offset = replay(conn, letter)
    out.print(
        f"[green]replayed[/green] {ref} ({letter.code}) to {letter.source_topic}@{partition}:{offset}"
    )


# The bus's services, each `python -m services.<name>`: the gateway, each registered flow's
# service (``FlowSpec.service``, ``courtbus.flows``: case status's is the watchdog), the feed
# router and the projector.
SERVICE_NAMES: Sequence[str] = LiveSequence(
    lambda: ("gateway", *flow_services(), "feeds", "projector")
)
WEB_SERVICES = ("web",)  # the REST API: not a flow worker


def serve(
    service: Annotated[str, typer.Argument(help=", ".join((*SERVICE_NAMES, *WEB_SERVICES)) + ".")],
) -> None:
    """Run one service in the foreground until Ctrl-C (same as `python -m services.<name>`).

    On POSIX the command becomes the service (exec), so SIGTERM from Docker or systemd reaches
    the worker itself and it stops cleanly.
    """
    names = (*SERVICE_NAMES, *WEB_SERVICES)
    if service not in names:
        # a name a deployment may still use (`restrictions`, before it was `restriction`)
        close = difflib.get_close_matches(service, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.print(
            f"[red]unknown service {escape(repr(service))}[/red]{hint}: one of {', '.join(names)}"
        )
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
    out.print(plural(count, "record"), highlight=False)
