"""The flow part of ``make demo``: services up (``demo_services``), then the scenes: the
delegations (``demo_delegation``), the blacklist (``demo_blacklist``), restrictions
(``demo_restriction``) and distributions (``demo_distribution``); then messages kept flowing
while the dashboard shows them, and the services stopped.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from courtbus.app.demo_blacklist import print_blacklist, run_blacklist_scenario
from courtbus.app.demo_delegation import print_summary, run_scenario
from courtbus.app.demo_services import SERVICES, running_services
from courtbus.app.participants import Participants
from courtbus.config import Connection, default_stack_home
from courtbus.runtime.metrics import live_targets

__all__ = ["explore_line", "run_flow_demo"]


def run_flow_demo(
    out: Console,
    conn: Connection,
    home: Path,
    who: Participants | None = None,
    *,
    web_port: int = 8000,
    keep_running_s: float = 60.0,
) -> None:
    """Services, the web app, scenes, summaries, then messages kept flowing for
    ``keep_running_s``. ``who``: on a secure stack, each participant's own connection (its
    certificate) and signing key; None: everyone on ``conn`` (plaintext)."""
    from courtbus.app import demo_distribution as dd
    from courtbus.app.demo_restriction import print_restrictions, run_restriction_scene
    from courtbus.app.demo_web import keep_flowing, web_front

    store_url = os.environ.get("COURTBUS_STORE_URL") or f"sqlite:///{home / 'readmodel.db'}"
    tag = uuid.uuid4().hex[:6]
    with (
        running_services(conn, home, store_url, secure=who is not None),
        web_front(conn, home, store_url, who, web_port) as web,
    ):
        out.print(
            f"[green]✓[/green] services running: {', '.join(SERVICES)} (deadlines shortened to seconds)"
        )
        out.print(
            f"[green]✓[/green] web API on {web.url} (OpenAPI at {web.url}/docs); "
            f"the coordination dashboard: {web.dashboard}",
            highlight=False,
            soft_wrap=True,
        )
        served = live_targets(home / "state")
        out.print(
            f"  their metrics: {len(served)} /metrics endpoints "
            f"(`courtbus metrics targets --home {home}` while they run)",
            highlight=False,
        )
        expected = run_scenario(out, conn, tag, who)
        print_summary(out, store_url, expected)
        listed = run_blacklist_scenario(out, conn, tag, who)
        print_blacklist(out, store_url, listed)
        _timed(out, lambda: print_restrictions(out, run_restriction_scene(out, conn, tag, who)))
        _timed(
            out,
            lambda: dd.print_participation(out, dd.run_participation_scene(out, conn, tag, who)),
        )
        _timed(out, lambda: dd.print_transfer(out, dd.run_transfer_scene(out, conn, tag, who)))
        if keep_running_s > 0:
            out.print(
                f"  keeping a multi-court scenario flowing for {keep_running_s:.0f}s: watch "
                f"{web.dashboard}",
                highlight=False,
                soft_wrap=True,
            )
            sent, stored = keep_flowing(out, conn, who, keep_running_s, tag, store_url)
            mark = "[green]✓[/green]" if stored == sent else "[red]✗[/red]"
            out.print(
                f"{mark} {sent} more delegation requests sent while it ran, {stored} of "
                "them in the read model"
            )
            if stored != sent:
                raise SystemExit(1)
    out.print(explore_line(home), highlight=False)


def _timed(out: Console, scene: Callable[[], None]) -> None:
    """Run a scene and say how long it took."""
    began = time.monotonic()
    scene()
    out.print(f"  scene done in {time.monotonic() - began:.1f}s", highlight=False)


def explore_line(home: Path) -> str:
    """The commands to look around after the flow demo; they name ``home`` unless it is the
    default stack home (where the CLI finds the stack and the read model by itself)."""
    env = "" if home.resolve() == default_stack_home().resolve() else f"COURTBUS_STACK_HOME={home} "
    hints = ", ".join(
        f"`{env}courtbus {cmd}`"
        for cmd in (
            "delegation list",
            "delegation show <id>",
            "inbox 320583",
            "dlq list",
            "restrictions list --court 3205",
            "watchdog alerts",
            "feed nia",
            "distribution list --court 320583",
            "inbox 4408",
        )
    )
    return f"[green]✓ flow scenes done[/green]; explore with {hints}"
