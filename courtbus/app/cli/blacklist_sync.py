"""`courtbus blacklist sync <agency> --db URL`: a partner agency's SQL mirror of its list feed
(registered on blacklist_app): bootstrap with a progress bar, then follow changes."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from courtbus.app.cli.blacklist import blacklist_app
from courtbus.app.cli.common import cli_connection, out
from courtbus.errors import ValidationError

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

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


def _columns() -> tuple[Any, ...]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Rate(ProgressColumn):
        """Entries per second."""

        def render(self, task: Task) -> Text:
            return Text(f"{task.speed or 0:,.0f} entries/s", style="progress.data.speed")

    return (TextColumn("bootstrapping"), BarColumn(), MofNCompleteColumn(),
            TextColumn("entries"), _Rate(), TimeRemainingColumn())  # fmt: skip


@blacklist_app.command("sync")
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
    """Mirror the agency's list feed into its own SQL table (partner_blacklist), then follow."""  # fmt: skip
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
            Progress(*_columns(), console=out, transient=False) as progress,
        ):
            task = progress.add_task("bootstrap", total=None)
            said = {"following": False}

            def show(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)
                if done >= total and not said["following"]:
                    said["following"] = True
                    progress.stop()
                    out.print(f"bootstrapped {total:,} record(s) of {client.topic(FLOW)}")
                    if not once:
                        out.print("following changes (Ctrl-C to stop)")

            result = client.sync(
                FLOW, db, region=region, follow=not once, progress=show,
                stop=lambda: stopping["asked"],
            )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    out.print(
        f"[green]mirror[/green] {result.rows:,} entr(ies) in partner_blacklist: read "
        f"{result.read:,} record(s), wrote {result.written:,}, deleted {result.deleted:,} "
        f"(bootstrap {result.bootstrap_s:.1f} s)",
        highlight=False,
    )


@blacklist_app.command("verify-mirror")
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
        Progress(*_columns(), console=out, transient=True) as progress,
    ):
        task = progress.add_task("reading", total=None)
        check = client.verify_mirror(
            FLOW, db, region=region, repair=repair, against="view" if against == "view" else "feed",
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
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
        out.print(f"[green]in sync[/green] with {basis}: {check.mirror_rows:,} entr(ies){skipped}")
        return
    out.print(
        f"drift from {basis}: {len(check.missing)} entr(ies) missing from the mirror, "
        f"{len(check.changed)} held with other content, {len(check.extra)} it should not have "
        f"(expected {check.feed_rows:,}, mirror {check.mirror_rows:,})",
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
