"""`courtbus restrictions list|show` and `courtbus watchdog alerts`: exit and consumption bans
(限制出境, 限制高消费) and the watchdog's alerts, from the read model (kept by the projector from
the view ``restriction.controls`` and ``bus.alerts``). ID and travel-document numbers are
masked unless ``--show-ids``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from courtbus.app.cli.common import (
    Limit,
    PageNo,
    ShowIds,
    Store,
    check_choice,
    check_court_filter,
    check_id_filter,
    id_column,
    out,
    page_summary,
    plural,
    read_model,
    shown_id,
)
from courtbus.app.cli.delegation import china_time
from courtbus.domain.masking import mask_ids_in_text

if TYPE_CHECKING:
    from courtbus.store.restriction_rows import AckRow

restrictions_app = typer.Typer(
    help="Exit and consumption bans (限制出境, 限制高消费) in the read model.",
    no_args_is_help=True,
)
watchdog_app = typer.Typer(
    help="The case watchdog's alerts (执行完毕 with something still in force).",
    no_args_is_help=True,
)

_STATUSES = ("ACTIVE", "LIFTED")
_KINDS = {"exit": "EXIT_BAN", "consumption": "CONSUMPTION_BAN"}


def _acks(acks: tuple[AckRow, ...]) -> str:
    return " ".join(f"{a.agency_id}:{a.target[0]}={a.state}" for a in acks)


@restrictions_app.command("list")
def list_(
    court: Annotated[str | None, typer.Option(help="Only bans this court issued.")] = None,
    person: Annotated[
        str | None, typer.Option(help="Only bans binding this ID number (person or debtor).")
    ] = None,
    nationality: Annotated[
        str | None, typer.Option(help="--person is a passport of this state (e.g. USA).")
    ] = None,
    status: Annotated[str | None, typer.Option(help="ACTIVE or LIFTED.")] = None,
    kind: Annotated[str | None, typer.Option(help="exit or consumption.")] = None,
    limit: Limit = 200,
    page: PageNo = 1,
    show_ids: ShowIds = False,
    store: Store = None,
) -> None:
    """Bans, newest first, with each agency's answer (I: the issue, L: the lift).

    Every filter is checked first: an unknown court (``COURT_UNKNOWN``), a bad ID (the ID
    checks' codes), status or kind (``CLI_OPTION_INVALID``).
    """
    court_id = check_court_filter(court)
    person_id = check_id_filter(person, nationality)
    wanted = check_choice(status, _STATUSES, "status")
    kind_of = check_choice(_KINDS.get((kind or "").lower(), kind), _KINDS.values(), "kind")
    model = read_model(store)
    try:
        total = model.restriction_count(
            court=court_id, person_id=person_id, status=wanted, kind=kind_of
        )
        rows = model.restrictions(
            court=court_id,
            person_id=person_id,
            status=wanted,
            kind=kind_of,
            limit=limit,
            offset=(page - 1) * limit,
        )
    finally:
        model.close()
    table = Table(
        id_column("control", (r.control_id for r in rows)),
        "court",
        "case",
        "kind",
        "person",
        "ID",
        "status",
        "issued",
        "agencies",
        "stops",
    )
    for r in rows:
        table.add_row(
            r.control_id,
            r.issuing_court,
            r.case_number,
            r.kind,
            r.person_name,
            shown_id(r.person_id, show_ids),
            r.status,
            china_time(r.issued_at),
            _acks(r.acks),
            str(len(r.interceptions)),
        )
    out.print(table)
    out.print(page_summary(len(rows), total, page, limit, "control", "controls"), highlight=False)


@restrictions_app.command("show")
def show(control_id: str, show_ids: ShowIds = False, store: Store = None) -> None:
    """One ban with every agency's answer, its exemptions and interceptions."""
    model = read_model(store)
    try:
        r = model.restriction(control_id)
    finally:
        model.close()
    if r is None:
        out.print(f"[red]no control {control_id} in the read model[/red]")
        raise typer.Exit(1)
    document = (
        f"{r.document_type} {shown_id(r.document_number, show_ids)}" if r.document_type else ""
    )
    debtor = f"{r.debtor_name} {shown_id(r.debtor_id, show_ids)}" if r.debtor_name else ""
    until = str(r.effective_until) if r.effective_until else "until lifted"
    fields = [
        ("status", f"{r.status} {r.lift_reason or ''}".strip()),
        ("kind", r.kind),
        ("court", r.issuing_court),
        ("case", r.case_number),
        ("person", f"{r.person_name} {shown_id(r.person_id, show_ids)} ({r.role})"),
        ("debtor", debtor),
        ("document", document),
        ("prohibited", ", ".join(r.prohibited)),
        ("effective", f"{r.effective_from} – {until}"),
        ("issued", china_time(r.issued_at)),
        ("lifted", china_time(r.lifted_at)),
        ("listing", r.entry_id or ""),
        ("reason", r.reason),
        ("version", str(r.version)),
    ]
    for label, value in fields:
        out.print(f"[bold]{label:>10}[/bold]  {value}", highlight=False)
    answers = Table("agency", "step", "state", "due", "reference", "answered", title="answers")
    for a in r.acks:
        answers.add_row(
            a.agency_id,
            a.target,
            a.state,
            china_time(a.due_at),
            a.reference or "",
            china_time(a.answered_at),
        )
    out.print(answers)
    if r.exemptions:
        granted = Table("exemption", "kinds", "agencies", "from", "until", title="exemptions")
        for e in r.exemptions:
            granted.add_row(
                e.exemption_id,
                ", ".join(e.kinds),
                ", ".join(e.agencies),
                china_time(e.valid_from),
                china_time(e.valid_until),
            )
        out.print(granted)
    if r.interceptions:
        stops = Table("agency", "when", "channel", "where", "outcome", title="interceptions")
        for i in r.interceptions:
            stops.add_row(
                i.agency_id, china_time(i.intercepted_at), i.channel, i.location, i.outcome or ""
            )
        out.print(stops)


@watchdog_app.command("alerts")
def alerts(
    court: Annotated[str | None, typer.Option(help="Only alerts to this court.")] = None,
    store: Store = None,
) -> None:
    """Watchdog alerts, oldest first, with what each listed as still in force.

    An unknown ``--court`` is ``COURT_UNKNOWN``.
    """
    check_court_filter(court)
    model = read_model(store)
    try:
        rows = model.watchdog_alerts(court=court)
    finally:
        model.close()
    table = Table("time", "court", "case", "#", "still in force")
    for a in rows:
        items = mask_ids_in_text("\n".join(f"{i['item_id']} ({i['court_id']})" for i in a.items))
        table.add_row(china_time(a.time), a.court_id, a.case_number, str(a.alert_number), items)
    out.print(table)
    out.print(plural(len(rows), "alert"), highlight=False)
