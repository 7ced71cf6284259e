"""`courtbus blacklist verify <court>`: compare a court's active entries with the national view
by digest, print the differences, and re-send the entries the view lacks."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from courtbus.app.cli.common import check_court, court_client, out, plural
from courtbus.errors import ValidationError


def read_ids(path: Path) -> list[str]:
    """One active entry id per line (blank lines and ``#`` comments skipped).

    Raises:
        ValidationError: ``FILE_UNREADABLE``.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValidationError(
            f"cannot read {path}: {exc.strerror}", code="FILE_UNREADABLE"
        ) from exc
    return [s for line in lines if (s := line.strip()) and not s.startswith("#")]


def read_listings(path: Path | None) -> dict[str, dict[str, Any]]:
    """``--listings``: JSON lines of ``CourtClient.blacklist.list_debtor`` keyword arguments, by
    entry id.

    Raises:
        ValidationError: ``FILE_UNREADABLE`` or ``LINE_NOT_JSON``.
    """
    if path is None:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(read_ids(path), start=1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{path}:{number}: not JSON: {exc.msg}", code="LINE_NOT_JSON"
            ) from exc
        for name in ("filed_at", "listed_at"):
            if isinstance(obj.get(name), str):
                obj[name] = datetime.fromisoformat(obj[name])
        found[str(obj["entry_id"])] = obj
    return found


def verify(
    court: str,
    entries: Annotated[Path, typer.Option(help="The court's active entry ids, one per line.")],
    listings: Annotated[
        Path | None,
        typer.Option(help="JSON lines of the court's listings, to re-send what the view lacks."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the bus's answer.")] = 60,
) -> None:
    """Send the court's digest, wait for the drift report, re-send missing entries."""
    check_court(court)
    active = read_ids(entries)
    known = read_listings(listings)
    with court_client(court) as client:
        client.blacklist.publish_digest(active)
        report = _await_report(client, timeout)
        if report is None:
            out.print(
                f"[red]no drift report within {timeout:.0f}s[/red] (is the blacklist service running?)"
            )
            raise typer.Exit(1)
        from courtbus.sdk.blacklist import missing_and_extra

        missing, extra = missing_and_extra(report, active)
        if report["in_sync"]:
            out.print(
                f"[green]✓ in sync[/green]: {plural(len(active), 'active entry', 'active entries')}"
                f" of court {court}"
            )
            return
        out.print(
            f"{plural(len(report['differing']), 'bucket')} differ: "
            f"{plural(len(missing), 'entry', 'entries')} missing from the view, "
            f"{len(extra):,} in the view but not active here",
            highlight=False,
        )
        for eid in extra:
            out.print(
                f"  in the view only: {eid} (delist it, or add it to --entries)", highlight=False
            )
        resent = 0
        for eid in missing:
            if eid in known:
                fields = {k: val for k, val in known[eid].items() if k != "entry_id"}
                client.blacklist.list_debtor(eid, **fields)
                resent += 1
            else:
                out.print(
                    f"  missing from the view: {eid} (give its listing with --listings)",
                    highlight=False,
                )
        out.print(
            f"re-sent {plural(resent, 'listing')}; run verify again to confirm", highlight=False
        )
        if resent < len(missing) or extra:
            raise typer.Exit(1)


def _await_report(client: Any, timeout_s: float) -> dict[str, Any] | None:
    """The drift report for this court's latest digest (by its digest id) from the inbox."""
    deadline = time.monotonic() + timeout_s
    digest_id = client.blacklist.last_digest_id
    while time.monotonic() < deadline:
        for event in client.inbox(timeout_s=1):
            if (
                event.record.endswith("BlacklistDriftReport")
                and event.payload["digest_id"] == digest_id
            ):
                return dict(event.payload)
    return None
