"""`courtbus blacklist generate`: synthetic national-list entries to a JSON-lines file, or to
Kafka only when ``--topic`` names a topic (registered on ``blacklist_app`` by ``courtbus.app.cli.blacklist``; the generator is
``courtbus.synth.blacklist``).

The listing courts are the participant directory's (or those of ``--court``): entries of
courts the bus does not know would stall the services that route them, so other courts need
``--allow-unknown-courts`` (alone: the generator's national table of courts)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

from courtbus.app.cli.common import cli_connection, out
from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.catalogue.directory import load_directory
from courtbus.errors import ValidationError

if TYPE_CHECKING:
    from courtbus.synth.blacklist import SynthCourt


class _EntryRate(ProgressColumn):
    """Entries per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} entries/s", style="progress.data.speed")


def default_file(seed: int, listings: bool) -> Path:
    """Where entries go without ``--out`` or ``--topic``: the current folder."""
    return Path(f"blacklist-{'listings' if listings else 'entries'}-seed{seed}.jsonl")


def _check(count: int, out_file: Path | None, topic: str | None) -> None:
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
    elif topic is not None and not topic.strip():
        problem = "--topic needs a topic name"
    if problem is not None:
        raise ValidationError(problem, code="SYNTH_INVALID")


def listing_courts(court_ids: list[str], allow_unknown: bool) -> list[SynthCourt] | None:
    """The courts entries are listed by: ``court_ids`` (each in the participant directory
    unless ``allow_unknown``), else the directory's courts; None (the generator's national
    table) for ``allow_unknown`` without ``court_ids``.

    Raises:
        ValidationError: ``COURT_UNKNOWN`` for a court not in the directory, without
            ``allow_unknown``; ``COURT_ID_MALFORMED`` for an id that is not a province's court.
        ConfigError: the directory cannot be read.
    """
    from courtbus.synth.blacklist import synth_court

    if allow_unknown and not court_ids:
        return None
    directory = load_directory()
    names = {c.id: c.name for c in directory.courts}
    if not court_ids:
        return [synth_court(c.id, c.name) for c in directory.courts]
    unknown = [c for c in dict.fromkeys(court_ids) if c not in names]
    if unknown and not allow_unknown:
        raise ValidationError(
            f"court {', '.join(unknown)} is not in the participant directory: the bus's "
            "services cannot route its entries (give --allow-unknown-courts for a file or "
            "topic outside the bus)",
            code="COURT_UNKNOWN",
        )
    return [synth_court(c, names.get(c)) for c in dict.fromkeys(court_ids)]


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
            help="The JSON-lines file (default blacklist-entries-seedSEED.jsonl here; dates as "
            "ISO 8601). ID numbers are written in full: the people and companies are "
            "synthetic, the IDs only valid in form.",
        ),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(
            help=f"Produce to this Kafka topic of the configured bus instead of a file (e.g. "
            f"{BLACKLIST_VIEW}, the live national view: only on a test bus)."
        ),
    ] = None,
    courts: Annotated[
        list[str] | None,
        typer.Option(
            "--court", help="A listing court (repeat for more; default: the directory's courts)."
        ),
    ] = None,
    allow_unknown: Annotated[
        bool,
        typer.Option(
            "--allow-unknown-courts",
            help="Allow --court ids not in the directory; alone, list from the generator's "
            "national table of courts (for files and benchmarks, not a live bus).",
        ),
    ] = False,
    listings: Annotated[
        bool,
        typer.Option(
            "--listings", help="DebtorListed payloads (a court's listing) instead of entries."
        ),
    ] = False,
) -> None:
    """Generate realistic synthetic dishonest-debtor entries (valid ID and credit-code check
    characters, real county codes, court designations, names and case numbers) into a file,
    or with --topic into Kafka; listed by the directory's courts unless told otherwise."""
    _check(count, out_file, topic)
    chosen = listing_courts(courts or [], allow_unknown)
    what = "listings" if listings else "entries"
    columns = (
        TextColumn(f"generating {what}"),
        BarColumn(),
        MofNCompleteColumn(),
        _EntryRate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    started = time.monotonic()
    if topic is None:  # the default: a file
        path = out_file or default_file(seed, listings)
        with Progress(*columns, console=out) as progress:
            task = progress.add_task("generate", total=count)
            written = _write_jsonl(path, count, seed, start, listings, chosen, progress, task)
        where = str(path)
    else:
        from courtbus.synth.kafka import write_entries

        conn = cli_connection()
        with Progress(*columns, console=out) as progress:
            task = progress.add_task("produce", total=count)
            written = write_entries(
                conn,
                count,
                topic=topic,
                seed=seed,
                start=start,
                listings=listings,
                courts=chosen,
                progress=lambda n: progress.advance(task, n),
            )
        where = f"topic {topic}"
    elapsed = max(time.monotonic() - started, 1e-9)
    out.print(
        f"[green]wrote[/green] {written:,} synthetic {what} to {where} in {elapsed:.1f} s "
        f"({written / elapsed:,.0f} {what}/s)",
        highlight=False,
    )


def _write_jsonl(
    path: Path,
    count: int,
    seed: int,
    start: int,
    listings: bool,
    courts: list[SynthCourt] | None,
    progress: Progress,
    task: TaskID,
) -> int:
    """JSON lines of the payloads, in chunks (one write per chunk); the count written."""
    from courtbus.synth.blacklist import entry_payloads, jsonable, listing_payloads

    make = listing_payloads if listings else entry_payloads
    chunk: list[str] = []
    written = 0
    with path.open("w", encoding="utf-8") as f:
        for payload in make(count, seed=seed, start=start, courts=courts):
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
