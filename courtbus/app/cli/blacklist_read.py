"""`courtbus blacklist list|show`: the dishonest-debtor list in the read model (kept by the
projector from the view ``blacklist.entries``). ID numbers are masked unless ``--show-ids``."""

from __future__ import annotations

from typing import Annotated, Any

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
    read_model,
    shown_id,
)
from courtbus.app.cli.delegation import china_time
from courtbus.errors import ValidationError


def region_filter(region: str | None) -> dict[str, tuple[str, ...]]:
    """``--region``: a province code (32), a province name (江苏省) or a sharing group's name.

    Raises:
        ValidationError: ``REGION_UNKNOWN``.
    """
    if region is None:
        return {}
    from courtbus.catalogue.directory import load_directory
    from courtbus.domain.regions import BY_NAME

    directory = load_directory()
    if region in directory.groups:
        return {"courts": tuple(directory.groups[region])}
    if region.isdigit() and len(region) == 2:
        return {"provinces": (region,)}
    found = BY_NAME.get(region)
    if found is not None:
        return {"provinces": (found.code,)}
    groups = ", ".join(sorted(directory.groups))
    raise ValidationError(
        f"unknown region {region!r}: a province code (32), a province name (江苏省) or a group "
        f"({groups})",
        code="REGION_UNKNOWN",
    )


STATUSES = ("ACTIVE", "DELISTED")  # cn.court.bus.blacklist.EntryStatus


def list_(
    court: Annotated[str | None, typer.Option(help="Only entries this court listed.")] = None,
    region: Annotated[
        str | None, typer.Option(help="Province code or name, or a sharing group.")
    ] = None,
    debtor: Annotated[
        str | None, typer.Option(help="Only this debtor's ID number or credit code.")
    ] = None,
    nationality: Annotated[
        str | None, typer.Option(help="--debtor is a passport of this state (e.g. USA).")
    ] = None,
    status: Annotated[str | None, typer.Option(help="ACTIVE or DELISTED.")] = None,
    limit: Limit = 200,
    page: PageNo = 1,
    show_ids: ShowIds = False,
    store: Store = None,
) -> None:
    """Entries of the dishonest-debtor list, newest first, a page at a time.

    Every filter is checked first: an unknown court (``COURT_UNKNOWN``) or region
    (``REGION_UNKNOWN``), a bad ID (the ID checks' codes) or status (``CLI_OPTION_INVALID``).
    """
    filters: dict[str, Any] = {
        "court": check_court_filter(court),
        "status": check_choice(status, STATUSES, "status"),
        "debtor_id": check_id_filter(debtor, nationality),
        **region_filter(region),
    }
    model = read_model(store)
    try:
        total = model.blacklist_count(**filters)
        rows = model.blacklist_entries(limit=limit, offset=(page - 1) * limit, **filters)
    finally:
        model.close()
    table = Table(
        id_column("entry", (r.entry_id for r in rows)),
        "court",
        "case",
        "debtor",
        "ID",
        "ground",
        "status",
        "listed",
        "ends",
    )
    for r in rows:
        table.add_row(
            r.entry_id,
            r.listing_court,
            r.case_number,
            r.debtor_name,
            shown_id(r.debtor_id, show_ids),
            r.ground,
            r.status,
            china_time(r.listed_at),
            china_time(r.expires_at) or "履行为止",
        )
    out.print(table)
    out.print(page_summary(len(rows), total, page, limit, "entry", "entries"), highlight=False)


def show(entry_id: str, show_ids: ShowIds = False, store: Store = None) -> None:
    """One entry with every published field."""
    model = read_model(store)
    try:
        row = model.blacklist_entry(entry_id)
    finally:
        model.close()
    if row is None:
        out.print(f"[red]no entry {entry_id} in the read model[/red]")
        raise typer.Exit(1)
    e = row.entry
    fields = [
        ("status", f"{row.status} {row.reason or ''}".strip()),
        ("court", row.listing_court),
        ("case", row.case_number),
        ("debtor", f"{row.debtor_name} {shown_id(row.debtor_id, show_ids)}"),
        (
            "legal rep.",
            f"{e.get('legal_representative') or ''} "
            f"{shown_id(e.get('legal_representative_id') or '', show_ids)}".strip(),
        ),
        ("ground", f"{row.ground}{' (serious)' if row.serious else ''}"),
        ("period", f"{row.period_months} months" if row.period_months else "until performed"),
        ("obligation", e.get("obligation", "")),
        ("performance", e.get("performance", "")),
        ("conduct", e.get("conduct", "")),
        ("title", f"{e.get('title_issuer', '')} {e.get('title_number', '')}"),
        ("filed", china_time(_time(e.get("filed_at")))),
        ("listed", china_time(row.listed_at)),
        ("ends", china_time(row.expires_at)),
        ("delisted", china_time(row.delisted_at)),
        ("version", str(row.version)),
    ]
    for label, value in fields:
        out.print(f"[bold]{label:>11}[/bold]  {value}", highlight=False)


def _time(value: Any) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else value
