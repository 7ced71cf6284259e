"""``courtbus metrics targets``: where the running local services serve their metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.table import Table

from courtbus.app.cli.common import out
from courtbus.config import default_stack_home
from courtbus.runtime.metrics import live_targets, targets_dir

metrics_app = typer.Typer(help="The services' Prometheus metrics.", no_args_is_help=True)


def _state_dir(home: Path | None) -> Path:
    if home is None and (env := os.environ.get("COURTBUS_STATE_DIR")):
        return Path(env)
    return (home or default_stack_home()) / "state"


@metrics_app.command("targets")
def targets(
    home: Annotated[
        Path | None, typer.Option("--home", help="Stack folder (its state/ holds the list).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Prometheus file_sd JSON (a scrape config's file).")
    ] = False,
) -> None:
    """List the running services that serve /metrics (``COURTBUS_METRICS_PORT`` set), each
    checked with a request; ``--json`` prints them for Prometheus's ``file_sd_configs``."""
    state = _state_dir(home)
    found = live_targets(state)
    if as_json:
        entries = [{"targets": [t.address], "labels": {"service": t.flow}} for t in found]
        typer.echo(json.dumps(entries, indent=2))
        return
    if not found:
        out.print(
            f"no service serves metrics from {targets_dir(state)} (start one with "
            "COURTBUS_METRICS_PORT=0 courtbus serve <service>)",
            highlight=False,
        )
        raise typer.Exit(1)
    table = Table("service", "metrics", "pid", "answers")
    for t in found:
        url = f"http://{t.address}/metrics"
        try:
            ok = httpx.get(url, timeout=3).status_code == 200
        except httpx.HTTPError:
            ok = False
        table.add_row(t.flow, url, str(t.pid), "yes" if ok else "[red]no[/red]")
    out.print(table)
    out.print(
        f"Prometheus: file_sd_configs: [{{files: ['{targets_dir(state)}/*.json']}}]",
        highlight=False,
    )
