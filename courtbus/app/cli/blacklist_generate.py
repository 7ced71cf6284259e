"""`courtbus blacklist generate`: synthetic national-list entries to a JSON-lines file or to
Kafka (registered on ``blacklist_app``; the generator is ``courtbus.synth.blacklist``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from courtbus.app.cli.blacklist import blacklist_app
from courtbus.app.cli.common import cli_connection, out
from courtbus.errors import ValidationError

VIEW_TOPIC = "blacklist.entries"


class _EntryRate(ProgressColumn):
    """Entries per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} entries/s", style="progress.data.speed")


def _check(count: int, out_file: Path | None, topic: str | None, listings: bool) -> None:
    """The options, checked before anything is written or connected.

    Raises:
        ValidationError: ``SYNTH_INVALID``.
    """
    problem = None
    if count < 1:
        problem = f"--count must be at least 1, got {count}"
    elif out_file is not None and topic is not None:
        problem = "give --out FILE or --topic TOPIC, not both"
    elif out_file is not None and not out_file.parent.is_dir():
        problem = f"--out: folder {out_file.parent} does not exist"
    elif out_file is None and listings and topic is None:
        problem = (
            "--listings to Kafka needs --topic (listings are not what blacklist.entries holds)"
        )
    if problem is not None:
        raise ValidationError(problem, code="SYNTH_INVALID")


@blacklist_app.command("generate")
def generate(
    count: Annotated[
        int, typer.Option("--count", help="How many entries (the 2023 national list: 8600000).")
    ],
    seed: Annotated[int, typer.Option(help="Same seed, same entries; ids are bl-SEED-INDEX.")] = 0,
    start: Annotated[
        int, typer.Option(help="First index: write entries START..START+COUNT-1 (to shard).")
    ] = 0,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write JSON lines here instead of to Kafka (dates as ISO 8601). ID numbers are "
            "written in full: the people and companies are synthetic, the IDs only valid in form.",
        ),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(help=f"Kafka topic (default {VIEW_TOPIC}) on the configured bus."),
    ] = None,
    listings: Annotated[
        bool,
        typer.Option(
            "--listings", help="DebtorListed payloads (a court's listing) instead of entries."
        ),
    ] = False,
) -> None:
    """Generate realistic synthetic dishonest-debtor entries (valid ID and credit-code check
    characters, real county codes, court designations, names and case numbers)."""
    _check(count, out_file, topic, listings)
    what = "listings" if listings else "entries"
    columns = (TextColumn(f"generating {what}"), BarColumn(), MofNCompleteColumn(),
               _EntryRate(), TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    started = time.monotonic()
    if out_file is not None:
        with Progress(*columns, console=out) as progress:
            task = progress.add_task("generate", total=count)
            written = _write_jsonl(out_file, count, seed, start, listings, progress, task)
        where = str(out_file)
    else:
        from courtbus.synth.kafka import write_entries

        target = topic or VIEW_TOPIC
        conn = cli_connection()
        with Progress(*columns, console=out) as progress:
            task = progress.add_task("produce", total=count)
            written = write_entries(
                conn, count, topic=target, seed=seed, start=start, listings=listings,
                progress=lambda n: progress.advance(task, n),
            )  # fmt: skip
        where = target
    elapsed = max(time.monotonic() - started, 1e-9)
    out.print(
        f"[green]wrote[/green] {written:,} synthetic {what} to {where} in {elapsed:.1f} s "
        f"({written / elapsed:,.0f} {what}/s)",
        highlight=False,
    )


def _write_jsonl(
    path: Path, count: int, seed: int, start: int, listings: bool, progress: Progress, task: TaskID
) -> int:
    """JSON lines of the payloads, in chunks (one write per chunk); the count written."""
    from courtbus.synth.blacklist import entry_payloads, jsonable, listing_payloads

    make = listing_payloads if listings else entry_payloads
    chunk: list[str] = []
    written = 0
    with path.open("w", encoding="utf-8") as f:
        for payload in make(count, seed=seed, start=start):
            chunk.append(json.dumps(jsonable(payload), ensure_ascii=False))
            if len(chunk) == 5_000:
                f.write("\n".join(chunk) + "\n")
                written += len(chunk)
                progress.advance(task, len(chunk))
                chunk = []
        if chunk:
            f.write("\n".join(chunk) + "\n")
            written += len(chunk)
            progress.advance(task, len(chunk))
    return written
