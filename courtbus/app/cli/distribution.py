"""`courtbus distribution list|show`: distributions (参与分配) from the read model (kept by the
projector from the view ``distribution.cases``). ``show`` prints the plan as a table: class,
rank, claimant court, case, claimed, allocated and held back (deposited while a suit runs,
民诉法解释 (2022 修正) 第五百一十条). ID numbers are masked unless ``--show-ids``."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from courtbus.app.cli.common import (
    Limit,
    PageNo,
    ShowIds,
    Store,
    check_court_filter,
    id_column,
    out,
    page_summary,
    read_model,
    shown_id,
)
from courtbus.app.cli.delegation import china_time

if TYPE_CHECKING:
    from courtbus.store.distribution_rows import DistributionRow, PlanRow

distribution_app = typer.Typer(
    help="Participation in distribution (参与分配): distributions, claims and plans.",
    no_args_is_help=True,
)


def _yuan(amount: Decimal) -> str:
    return f"{amount:,.2f}"


@distribution_app.command("list")
def list_(
    court: Annotated[
        str | None, typer.Option(help="Only distributions this court presides or claims in.")
    ] = None,
    limit: Limit = 200,
    page: PageNo = 1,
    store: Store = None,
) -> None:
    """Distributions, newest change first. An unknown ``--court`` is ``COURT_UNKNOWN``."""
    check_court_filter(court)
    model = read_model(store)
    try:
        total = model.distribution_count(court=court)
        rows = model.distributions(court=court, limit=limit, offset=(page - 1) * limit)
    finally:
        model.close()
    table = Table(
        id_column("distribution", (r.distribution_id for r in rows)),
        "presiding",
        "case",
        "debtor",
        "state",
        "claims",
        "plan",
        "proceeds",
    )
    for r in rows:
        plan = r.plan()
        table.add_row(
            r.distribution_id,
            r.presiding_court,
            r.case_number,
            r.debtor_name,
            r.state,
            str(len(r.claims)),
            f"v{plan.version}" if plan else "",
            _yuan(plan.proceeds) if plan else "",
        )
    out.print(table)
    out.print(
        page_summary(len(rows), total, page, limit, "distribution", "distributions"),
        highlight=False,
    )


def plan_table(row: DistributionRow, plan: PlanRow) -> Table:
    """The plan as a table: one line per claim in payment order, then costs and surplus."""
    claims = {c.claim_id: c for c in row.claims}
    held = dict(row.deposits) if plan.version == row.current_plan else {}
    table = Table(
        "claim",
        "class",
        "rank",
        "claimant court",
        "case",
        "claimed",
        "allocated",
        "held back",
        title=f"plan v{plan.version} ({plan.ordinary_order})",
    )
    table.add_row(
        "—",
        "EXECUTION_COSTS",
        "",
        row.presiding_court,
        row.case_number,
        _yuan(plan.costs),
        _yuan(plan.costs_paid),
        "",
    )
    for a in plan.allocations:
        c = claims.get(a.claim_id)
        table.add_row(
            a.claim_id,
            a.priority_kind or a.claim_class,
            str(a.rank),
            c.court_id if c else "",
            (c.case_number or "") if c else "",
            _yuan(a.claimed),
            _yuan(a.allocated),
            _yuan(held[a.claim_id]) if a.claim_id in held else "",
        )
    table.add_row("—", "SURPLUS (to the debtor)", "", "", "", "", _yuan(plan.surplus), "")
    return table


@distribution_app.command("show")
def show(
    distribution_id: str,
    version: Annotated[
        int | None, typer.Option(help="This plan version (default: the current one).")
    ] = None,
    show_ids: ShowIds = False,
    store: Store = None,
) -> None:
    """One distribution: its claims, its plan as a table, objections and deposits."""
    model = read_model(store)
    try:
        row = model.distribution(distribution_id)
    finally:
        model.close()
    if row is None:
        out.print(f"[red]no distribution {distribution_id} in the read model[/red]")
        raise typer.Exit(1)
    fields = [
        ("state", row.state),
        ("presiding", row.presiding_court),
        ("case", row.case_number),
        ("debtor", f"{row.debtor_name} {shown_id(row.debtor_id, show_ids)} ({row.debtor_form})"),
        ("started", china_time(row.started_at)),
        ("ended", china_time(row.ended_at)),
        ("transferred", row.transferred_to or ""),
        ("plans", ", ".join(f"v{p.version}" for p in row.plans)),
    ]
    for label, value in fields:
        out.print(f"[bold]{label:>11}[/bold]  {value}", highlight=False)
    claims = Table(
        "claim",
        "claimant",
        "ID",
        "court",
        "case",
        "class",
        "rank",
        "claimed",
        "status",
        title="claims",
    )
    for c in row.claims:
        claims.add_row(
            c.claim_id,
            c.claimant_name,
            shown_id(c.claimant_id, show_ids),
            c.court_id,
            c.case_number or "",
            c.priority_kind or c.claim_class,
            str(c.rank),
            _yuan(c.claimed),
            c.status,
        )
    out.print(claims)
    plan = row.plan(version)
    if plan is None:
        wanted = f"plan v{version}" if version is not None else "a plan"
        out.print(f"no {wanted} yet" if version is None else f"[red]no {wanted}[/red]")
        if version is not None:
            raise typer.Exit(1)
    else:
        out.print(plan_table(row, plan))
    if row.objections:
        objections = Table("phase", "court", "when", "disputed", title="objections")
        for o in row.objections:
            disputed = ", ".join(f"{cid} {_yuan(amount)}" for cid, amount in o.disputes)
            objections.add_row(o.phase, o.court_id or "", china_time(o.at), disputed)
        out.print(objections)
