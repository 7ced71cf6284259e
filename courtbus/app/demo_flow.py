"""The flow part of ``make demo``: services up, courts in several provinces at work.

Starts the bus's services (``SERVICES``) as child processes (deadlines shortened to seconds),
runs six delegations through every kind of ending, waits for the read model to show them,
prints a summary; then the blacklist, restriction (``demo_restriction``) and distribution
(``demo_distribution``) scenes; and stops the services.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from courtbus.app.demo_restriction import RESTRICTION_ENV
from courtbus.app.participants import Participants
from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection, default_stack_home
from courtbus.errors import StackError
from courtbus.flows.registry import LiveSequence, registered
from courtbus.runtime.metrics import live_targets
from courtbus.sdk import CourtClient
from courtbus.security.principals import service_principal
from courtbus.store import ReadModel

# how a service finds the bus: replaced in its environment by the demo's own settings
_CONNECTION_ENV = (
    "COURTBUS_BOOTSTRAP",
    "COURTBUS_REGISTRY_URL",
    "COURTBUS_SSL_",
    "COURTBUS_SASL_",
    "COURTBUS_REGISTRY_USERNAME",
    "COURTBUS_REGISTRY_PASSWORD",
    "COURTBUS_PRINCIPAL",
    "COURTBUS_STACK_HOME",
)


def _demo_services() -> tuple[str, ...]:
    """The gateway first, then each registered flow's service (``courtbus.flows``) in order,
    the feed router after the first flow with an agency feed, the watchdog after the last (it
    joins their views), the projector last."""
    flows = [s for s in registered() if s.service is not None]
    fed = [i for i, s in enumerate(flows) if s.view is not None and s.view.feed is not None]
    order: list[str] = ["gateway"]
    for i, spec in enumerate(flows):
        order.append(str(spec.service))
        if fed and i == fed[0]:
            order.append("feeds")
        if fed and i == fed[-1]:
            order.append("watchdog")
    order += [name for name in ("feeds", "watchdog") if name not in order]
    return (*order, "projector")


SERVICES: Sequence[str] = LiveSequence(_demo_services)
SHORT_DEADLINES = "default: {start: 8s, report: 20s, warn_before: 4s}\n"
_PERSON = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
_FIRM = {"kind": "ORGANISATION", "name": "湛江某贸易有限公司", "id_number": FIRM_CODE}


@contextmanager
def running_services(
    conn: Connection, home: Path, store_url: str, *, secure: bool = False
) -> Iterator[None]:
    """The ``SERVICES`` as child processes, logs in ``home/logs``; stopped on exit. On a secure
    stack (``secure``) each runs as its own principal (``COURTBUS_PRINCIPAL=service.<name>``:
    the certificate the stack issued it), else on ``conn``'s plaintext bootstrap."""
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    deadlines = home / "demo-deadlines.yaml"
    deadlines.write_text(SHORT_DEADLINES)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CONNECTION_ENV)}
    env |= {
        "COURTBUS_DEADLINES": str(deadlines),
        "COURTBUS_TICK_SECONDS": "0.5",
        "COURTBUS_STORE_URL": store_url,
        "COURTBUS_STATE_DIR": str(home / "state"),
        "COURTBUS_METRICS_PORT": "0",
        **RESTRICTION_ENV,
    }
    if secure:
        env["COURTBUS_STACK_HOME"] = str(home)
    else:
        env |= {
            "COURTBUS_BOOTSTRAP": conn.bootstrap,
            "COURTBUS_REGISTRY_URL": conn.registry_url or "",
        }
    env["COURTBUS_EXIT_WITH_PARENT"] = "1"  # a demo killed outright takes its services along
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in SERVICES:
            log = logs / f"{name}.log"
            mark = log.read_text().count("consuming") if log.exists() else 0
            with log.open("ab") as fh:
                procs[name] = subprocess.Popen(
                    [sys.executable, "-m", f"services.{name}"],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env={**env, "COURTBUS_PRINCIPAL": service_principal(name)} if secure else env,
                )
            _wait(_started(log, mark), procs[name], f"{name} service", log)
        yield
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _started(log: Path, mark: int) -> Callable[[], bool]:
    """True once the log says the service is consuming (one more time than ``mark``)."""
    return lambda: log.read_text().count("consuming") > mark


def _wait(
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    what: str,
    log: Path,
    timeout_s: float = 60,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise StackError(f"{what} did not start; see {log}", code="SERVICE_START_FAILED")
        time.sleep(0.2)


def run_scenario(
    out: Console, conn: Connection, tag: str, who: Participants | None = None
) -> dict[str, str]:
    """Six delegations across five provinces; returns delegation id → expected end state.
    ``who``: each court's own connection and key (default: ``conn`` for all, unsigned)."""
    ids = {k: f"dlg-demo-{tag}-{k}" for k in ("freeze", "search", "seal", "fund", "late", "cancel")}
    who = who or Participants(conn)
    clients = {
        c: who.court(c)
        for c in ("320583", "6101", "4408", "50", "3174", "6104", "4409", "1408", "3205", "6205")
    }
    try:
        c = clients
        c["320583"].request_delegation(
            delegation_id=ids["freeze"],
            case_number="(2024)苏0583执200号",
            executing_court="6101",
            matter="FREEZE",
            debtor=_PERSON,
            asset_kind="DEPOSIT",
            amount="120000.00",
            freeze_period_days=365,
        )
        c["4408"].request_delegation(
            delegation_id=ids["search"],
            case_number="(2024)粤08执201号",
            executing_court="50",
            matter="SEARCH",
            debtor=_FIRM,
        )
        c["3174"].request_delegation(
            delegation_id=ids["seal"],
            case_number="(2024)沪74执202号",
            executing_court="6104",
            matter="SEAL",
            debtor=_FIRM,
            asset_kind="IMMOVABLE",
            freeze_period_days=730,
        )
        # A court system that does not check the regional rules itself (the SDK would refuse
        # this before sending): the bus refuses it, with a dead letter and a notice.
        unchecked, c["320583"].policies = c["320583"].policies, None
        # Chongqing freezes a housing fund for 1 year at most (regional.yaml, report:796-798).
        c["320583"].request_delegation(
            delegation_id=ids["fund"],
            case_number="(2024)苏0583执203号",
            executing_court="50",
            matter="FREEZE",
            debtor=_PERSON,
            asset_kind="HOUSING_FUND",
            freeze_period_days=400,
        )
        c["320583"].policies = unchecked
        c["50"].request_delegation(
            delegation_id=ids["late"],
            case_number="(2024)渝执204号",
            executing_court="1408",
            matter="SEARCH",
            debtor=_FIRM,
        )
        c["3205"].request_delegation(
            delegation_id=ids["cancel"],
            case_number="(2024)苏05执205号",
            executing_court="6205",
            matter="SEARCH",
            debtor=_PERSON,
        )
        out.print("[green]✓[/green] 6 delegation requests sent from 5 courts in 4 provinces")
        _await_inbox(c["6101"], ids["freeze"])
        c["6101"].accept(ids["freeze"], handler="西安中院 王法官")
        c["6101"].report_progress(ids["freeze"], "已冻结 80,000.00 元", "80000.00")
        c["6101"].complete(ids["freeze"], "冻结完毕", "120000.00")
        _await_inbox(c["50"], ids["search"])
        c["50"].accept(ids["search"])
        c["50"].complete(ids["search"], "查询到银行账户 2 个")
        _await_inbox(c["6104"], ids["seal"])
        # An executing court may not refuse (不得拒绝); it asks for what is missing (补正).
        c["6104"].request_materials(ids["seal"], ["不动产坐落及不动产权证号"], "请补充查封标的信息")
        _await_inbox(c["6205"], ids["cancel"])
        c["3205"].cancel(ids["cancel"], "双方已达成和解")
        out.print(
            "[green]✓[/green] executing courts answered; 1 request left unanswered to go overdue"
        )
    finally:
        for client in clients.values():
            client.close()
    return {
        ids["freeze"]: "COMPLETED",
        ids["search"]: "COMPLETED",
        ids["seal"]: "MATERIALS_ASKED",
        ids["late"]: "DELIVERED",
        ids["cancel"]: "CANCELLED",
        ids["fund"]: "REFUSED",
    }


def _await_inbox(client: CourtClient, delegation_id: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(e.key == delegation_id for e in client.inbox(timeout_s=1)):
            return
    raise StackError(f"{delegation_id} never reached court {client.court.id}", code="DEMO_FAILED")


def print_summary(
    out: Console, store_url: str, expected: dict[str, str], timeout_s: float = 90
) -> None:
    """Wait for the read model to reach the expected end, then print it."""
    names = {c.id: c.designation for c in load_directory().courts}
    model = ReadModel(store_url)
    try:
        late = next(d for d, s in expected.items() if d.endswith("-late"))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rows = {d: model.delegation(d) for d in expected}
            states_ok = all(
                (r.state if r else "REFUSED") == s
                for (d, r), s in zip(rows.items(), expected.values(), strict=True)
            )
            alerts = [a for a in model.alerts() if a.delegation_id == late]
            if states_ok and {a.kind for a in alerts} >= {"START_OVERDUE"}:
                break
            time.sleep(0.5)
        else:
            raise StackError(
                "the read model did not reach the expected end state in time", code="DEMO_FAILED"
            )
        table = Table(title="delegations in the read model (SQL)", show_lines=True)
        for col in ("delegation", "from → to", "matter", "state", "events", "notes"):
            table.add_column(col, overflow="fold")
        dead = model.dead_letters()
        for did, row in rows.items():
            if row is None:
                codes = [d.code for d in dead if d.key == did.encode()]
                table.add_row(
                    did,
                    f"{names['320583']} → {names['50']}",
                    "FREEZE",
                    "[red]refused[/red]",
                    "0",
                    f"gateway: {', '.join(codes)}",
                )
                continue
            notes = ", ".join(sorted({a.kind for a in model.alerts() if a.delegation_id == did}))
            route = f"{names.get(row.requesting_court, row.requesting_court)} → {names.get(row.executing_court, row.executing_court)}"
            table.add_row(
                did,
                route,
                f"{row.matter} {row.asset_kind or ''}",
                row.state,
                str(row.event_count),
                notes,
            )
        out.print(table)
    finally:
        model.close()


def run_blacklist_scenario(
    out: Console, conn: Connection, tag: str, who: Participants | None = None
) -> dict[str, str]:
    """Two listings, a refused minor, a refused non-owner, a delisting; entry id → status."""
    from datetime import timedelta

    from courtbus.errors import ValidationError
    from courtbus.wire import values as v

    ids = {k: f"bl-demo-{tag}-{k}" for k in ("firm", "person")}
    n = int(tag, 16) % 90000 + 10000  # one case number per run: a debtor is listed once per case
    art6: dict[str, Any] = {
        "performance": "全部未履行",
        "title_issuer": "广东省湛江市中级人民法院",
        "title_number": "(2023)粤08民初12号",
        "filed_at": v.now() - timedelta(days=90),
    }
    who = who or Participants(conn)
    with who.court("4408") as zhanjiang, who.court("320583") as kunshan:
        zhanjiang.list_debtor(
            ids["firm"],
            f"(2024)粤08执{n}号",
            _FIRM,
            "REFUSED_WITH_ABILITY",
            obligation="支付货款 860,000.00 元",
            conduct="有履行能力而拒不履行",
            legal_representative="李四",
            **art6,
        )
        kunshan.list_debtor(
            ids["person"],
            f"(2024)苏0583执{n}号",
            _PERSON,
            "EVADED_EXECUTION",
            obligation="给付 120,000.00 元",
            conduct="以隐匿财产方法规避执行",
            **art6,
        )
        try:
            kunshan.list_debtor(
                f"bl-demo-{tag}-minor",
                f"(2024)苏0583执{n + 1}号",
                {"kind": "PERSON", "name": "小明", "id_number": "320583201003121232"},
                "EVADED_EXECUTION",
                obligation="给付",
                conduct="规避执行",
                **art6,
            )
        except ValidationError as exc:
            out.print(
                f"[green]✓[/green] the SDK refused a minor's listing: {exc.code}", highlight=False
            )
        out.print(
            "[green]✓[/green] 2 dishonest debtors listed (失信被执行人), one delisted after performing"
        )
        _await_view(conn, ids["person"])
        kunshan.delist(ids["person"], "PERFORMED", note="被执行人已履行全部义务")
    return {ids["firm"]: "ACTIVE", ids["person"]: "DELISTED"}


def _await_view(conn: Connection, entry_id: str, timeout_s: float = 60) -> None:
    from courtbus.wire.client import read_from_start

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(r.key == entry_id.encode() for r in read_from_start(conn, [BLACKLIST_VIEW], 1)):
            return
    raise StackError(f"{entry_id} never reached {BLACKLIST_VIEW}", code="DEMO_FAILED")


def print_blacklist(
    out: Console, store_url: str, expected: dict[str, str], timeout_s: float = 60
) -> None:
    """Wait for the read model's blacklist to reach ``expected``, then print it (IDs masked)."""
    from courtbus.domain.masking import mask_id

    model = ReadModel(store_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            rows = {e: model.blacklist_entry(e) for e in expected}
            if all(
                r is not None and r.status == s
                for (e, r), s in zip(rows.items(), expected.values(), strict=True)
            ):
                break
            if time.monotonic() > deadline:
                raise StackError(
                    "the blacklist did not reach the expected state in time", code="DEMO_FAILED"
                )
            time.sleep(0.5)
        table = Table(title="dishonest-debtor list in the read model (SQL)", show_lines=True)
        for col in ("entry", "court", "debtor", "ground", "status", "ends"):
            table.add_column(col, overflow="fold")
        for r in rows.values():
            assert r is not None
            ends = r.expires_at.date().isoformat() if r.expires_at else "until performed"
            table.add_row(
                r.entry_id,
                r.listing_court,
                f"{r.debtor_name} {mask_id(r.debtor_id)}",
                r.ground,
                f"{r.status} {r.reason or ''}".strip(),
                ends,
            )
        out.print(table)
    finally:
        model.close()


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
