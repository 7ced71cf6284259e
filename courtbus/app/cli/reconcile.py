"""``courtbus reconcile``: is every message the participants sent where it must be, once?"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from courtbus.app.cli.common import Store, cli_connection, store_url

out = Console()


def reconcile(
    store: Store = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Judge the topics only, not the read model.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to keep reconciling until everything holds (records still "
            "in flight count as lost until the services catch up).",
            min=0,
        ),
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """From what every court and agency sent (their outboxes), check what must exist in the
    flow topics, dead letters, inboxes, views and the read model: per flow and check, expected,
    present, lost, duplicated, unexpected. Exit code 1 if anything is lost, duplicated or
    unexpected."""
    from courtbus.app.reconcile import reconcile as run

    url = None if no_store else store_url(store)
    with Progress(
        "reading topics",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("read", total=None)
        report = run(
            cli_connection(),
            url,
            wait_s=wait,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        body = {
            "ok": report.ok,
            "records": report.records,
            "ledgers": [
                {
                    "flow": g.flow,
                    "check": g.check,
                    "expected": g.expected,
                    "present": g.present,
                    "lost": g.lost,
                    "duplicated": g.duplicated,
                    "unexpected": g.unexpected,
                    "samples": g.samples,
                }
                for g in report.ledgers
            ],
        }
        out.print_json(json.dumps(body, ensure_ascii=False))
    else:
        table = Table(title=f"reconciled {report.records:,} records")
        for name in (
            "flow",
            "check",
            "expected",
            "present",
            "lost",
            "duplicated",
            "unexpected",
            "",
        ):
            table.add_column(
                name,
                justify="right"
                if name in ("expected", "present", "lost", "duplicated", "unexpected")
                else "left",
            )
        for g in report.ledgers:
            mark = "[green]✓[/green]" if g.ok else "[red]✗[/red]"
            table.add_row(
                g.flow,
                g.check,
                f"{g.expected:,}",
                f"{g.present:,}",
                str(g.lost),
                str(g.duplicated),
                str(g.unexpected),
                mark,
            )
        out.print(table)
        for g in report.ledgers:
            for sample in g.samples:
                out.print(f"  [red]{g.flow} {g.check}[/red] {sample}", highlight=False)
        out.print(
            "[green]✓ nothing lost, nothing duplicated[/green]"
            if report.ok
            else "[red]✗ the bus does not reconcile[/red]"
        )
    if not report.ok:
        raise typer.Exit(1)
