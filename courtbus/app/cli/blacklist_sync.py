"""`courtbus blacklist sync <agency> --db URL`: a partner agency's SQL mirror of its list feed
(registered on blacklist_app by courtbus.app.cli.blacklist): bootstrap with a progress bar, then follow changes."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from courtbus.app.cli.common import RateColumn, cli_connection, out, plural
from courtbus.errors import ValidationError

if TYPE_CHECKING:
    from courtbus.sdk.agency import SyncResult

FLOW = "blacklist"


def check_sync(agency: str, region: str | None) -> None:
    """The agency is in the directory, is granted the list, and the region is known (no Kafka).

    Raises:
        ValidationError: ``AGENCY_UNKNOWN``, ``FEED_NOT_GRANTED`` or ``REGION_UNKNOWN``.
    """
    from courtbus.catalogue.directory import load_directory
    from courtbus.errors import ValidationError
    from courtbus.sdk.agency import region_matcher

    directory = load_directory()
    directory.agency(agency)
    if not any(f.agency == agency and f.flow == FLOW for f in directory.feeds):
        raise ValidationError(
            f"agency {agency} is not granted the {FLOW} feed", code="FEED_NOT_GRANTED"
        )
    if region is not None:
        region_matcher(directory, region)


def _columns(what: str) -> tuple[Any, ...]:
    """A bar over the feed's offsets (more than its records: compaction, transaction markers),
    its rate shown once there is one to measure."""
    from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn

    return (
        TextColumn(what),
        BarColumn(),
        TaskProgressColumn(),
        RateColumn("offsets"),
        TimeRemainingColumn(),
    )


def sync_summary(result: SyncResult) -> str:
    """The end of a sync, in counts that add up: records read, and what they did to the
    mirror (a later record of an entry replaces an earlier one read in the same batch)."""
    line = (
        f"[green]mirror[/green] {plural(result.rows, 'entry', 'entries')} in partner_blacklist: "
        f"read {plural(result.read, 'record')}; wrote {plural(result.written, 'entry', 'entries')}, "
        f"retracted {result.deleted:,} (delisted or tombstoned)"
    )
    if result.read > result.written + result.deleted:
        line += f"; {result.read - result.written - result.deleted:,} replaced by a later record"
    return line + f" (bootstrap {result.bootstrap_s:.1f} s)"


def sync(
    agency: str,
    db: Annotated[
        str,
        typer.Option(
            "--db", help="The mirror's database URL (sqlite:///… or postgresql+psycopg://…)."
        ),
    ],
    region: Annotated[
        str | None,
        typer.Option(help="Keep only a province's entries (32 or 江苏省) or a court group's."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Stop after the bootstrap.")] = False,
) -> None:
    """Mirror the agency's list feed into its own SQL table (partner_blacklist), then follow."""
    from rich.progress import Progress

    from courtbus.sdk.agency import AgencyClient

    check_sync(agency, region)
    stopping = {"asked": False}

    def ask_stop(*_: object) -> None:
        stopping["asked"] = True

    previous = signal.signal(signal.SIGINT, ask_stop)
    try:
        with (
            AgencyClient(agency, cli_connection()) as client,
            Progress(*_columns("bootstrapping"), console=out, transient=False) as progress,
        ):
            task = progress.add_task("bootstrap", total=None)

            def show(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            def bootstrapped(so_far: SyncResult) -> None:
                progress.stop()
                out.print(
                    f"bootstrapped {client.topic(FLOW)}: read {plural(so_far.read, 'record')}, "
                    f"{plural(so_far.rows, 'entry', 'entries')} in the mirror",
                    highlight=False,
                )
                if not once:
                    out.print("following changes (Ctrl-C to stop)")

            result = client.sync(
                FLOW,
                db,
                region=region,
                follow=not once,
                progress=show,
                stop=lambda: stopping["asked"],
                bootstrapped=bootstrapped,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    out.print(sync_summary(result), highlight=False)


def verify_mirror(
    agency: str,
    db: Annotated[str, typer.Option("--db", help="The mirror's database URL.")],
    region: Annotated[
        str | None, typer.Option(help="The region the mirror was synced with, if any.")
    ] = None,
    repair: Annotated[
        bool, typer.Option(help="Write what the mirror lacks, delete what it should not have.")
    ] = True,
    against: Annotated[
        str,
        typer.Option(
            help="view: the national view as projected for the agency (syncs the "
            "mirror first; needs read access to the view); feed: the agency's feed "
            "up to the mirror's offsets (finds rows changed by hand, not a wrong feed)."
        ),
    ] = "view",
) -> None:
    """Compare a partner's mirror with the national view (or its feed) field by field; repair."""
    from rich.progress import Progress

    from courtbus.sdk.agency import AgencyClient

    check_sync(agency, region)
    if against not in ("view", "feed"):
        raise ValidationError(f"--against is view or feed, not {against!r}", code="OPTION_INVALID")
    with (
        AgencyClient(agency, cli_connection()) as client,
        Progress(*_columns("reading"), console=out, transient=True) as progress,
    ):
        task = progress.add_task("reading", total=None)
        check = client.verify_mirror(
            FLOW,
            db,
            region=region,
            repair=repair,
            against="view" if against == "view" else "feed",
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    basis = "the national view" if check.against == "view" else "its feed"
    if check.router_behind:
        out.print(
            f"[yellow]the feed router is {check.router_behind:,} view record(s) behind[/yellow]"
        )
    if check.in_sync:
        skipped = (
            f" ({check.in_flight:,} changed during the check, not compared)"
            if check.in_flight
            else ""
        )
        out.print(
            f"[green]in sync[/green] with {basis}: "
            f"{plural(check.mirror_rows, 'entry', 'entries')}{skipped}"
        )
        return
    out.print(
        f"drift from {basis}: {plural(len(check.missing), 'entry', 'entries')} missing from the "
        f"mirror, {len(check.changed):,} held with other content, {len(check.extra):,} it should "
        f"not have (expected {check.feed_rows:,}, mirror {check.mirror_rows:,})",
        highlight=False,
    )
    for eid in check.missing[:20]:
        out.print(f"  missing {eid}", highlight=False)
    for eid in check.changed[:20]:
        out.print(f"  changed {eid}", highlight=False)
    for eid in check.extra[:20]:
        out.print(f"  extra   {eid}", highlight=False)
    if check.repaired:
        out.print(
            f"[green]repaired[/green]: wrote {len(check.missing) + len(check.changed)}, "
            f"deleted {len(check.extra)}"
        )
    else:
        raise typer.Exit(1)
