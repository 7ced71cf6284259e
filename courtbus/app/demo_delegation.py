"""The demo's delegation scene: six delegations between courts in several provinces, through
every kind of ending, and the read model's summary of them.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from courtbus.app.participants import Participants
from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.errors import StackError
from courtbus.sdk import CourtClient
from courtbus.store import ReadModelQueries

DEMO_PERSON = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
DEMO_FIRM = {"kind": "ORGANISATION", "name": "湛江某贸易有限公司", "id_number": FIRM_CODE}


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
        c["320583"].delegation.request_delegation(
            delegation_id=ids["freeze"],
            case_number="(2024)苏0583执200号",
            executing_court="6101",
            matter="FREEZE",
            debtor=DEMO_PERSON,
            asset_kind="DEPOSIT",
            amount="120000.00",
            freeze_period_days=365,
        )
        c["4408"].delegation.request_delegation(
            delegation_id=ids["search"],
            case_number="(2024)粤08执201号",
            executing_court="50",
            matter="SEARCH",
            debtor=DEMO_FIRM,
        )
        c["3174"].delegation.request_delegation(
            delegation_id=ids["seal"],
            case_number="(2024)沪74执202号",
            executing_court="6104",
            matter="SEAL",
            debtor=DEMO_FIRM,
            asset_kind="IMMOVABLE",
            freeze_period_days=730,
        )
        # A court system that does not check the regional rules itself (the SDK would refuse
        # this before sending): the bus refuses it, with a dead letter and a notice.
        unchecked, c["320583"].sender.policies = c["320583"].sender.policies, None
        # Chongqing freezes a housing fund for 1 year at most (regional.yaml, report:796-798).
        c["320583"].delegation.request_delegation(
            delegation_id=ids["fund"],
            case_number="(2024)苏0583执203号",
            executing_court="50",
            matter="FREEZE",
            debtor=DEMO_PERSON,
            asset_kind="HOUSING_FUND",
            freeze_period_days=400,
        )
        c["320583"].sender.policies = unchecked
        c["50"].delegation.request_delegation(
            delegation_id=ids["late"],
            case_number="(2024)渝执204号",
            executing_court="1408",
            matter="SEARCH",
            debtor=DEMO_FIRM,
        )
        c["3205"].delegation.request_delegation(
            delegation_id=ids["cancel"],
            case_number="(2024)苏05执205号",
            executing_court="6205",
            matter="SEARCH",
            debtor=DEMO_PERSON,
        )
        out.print("[green]✓[/green] 6 delegation requests sent from 5 courts in 4 provinces")
        _await_inbox(c["6101"], ids["freeze"])
        c["6101"].delegation.accept(ids["freeze"], handler="西安中院 王法官")
        c["6101"].delegation.report_progress(ids["freeze"], "已冻结 80,000.00 元", "80000.00")
        c["6101"].delegation.complete(ids["freeze"], "冻结完毕", "120000.00")
        _await_inbox(c["50"], ids["search"])
        c["50"].delegation.accept(ids["search"])
        c["50"].delegation.complete(ids["search"], "查询到银行账户 2 个")
        _await_inbox(c["6104"], ids["seal"])
        # An executing court may not refuse (不得拒绝); it asks for what is missing (补正).
        c["6104"].delegation.request_materials(
            ids["seal"], ["不动产坐落及不动产权证号"], "请补充查封标的信息"
        )
        _await_inbox(c["6205"], ids["cancel"])
        c["3205"].delegation.cancel(ids["cancel"], "双方已达成和解")
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
    raise StackError(
        f"{delegation_id} never reached court {client.sender.court.id}", code="DEMO_FAILED"
    )


def print_summary(
    out: Console, store_url: str, expected: dict[str, str], timeout_s: float = 90
) -> None:
    """Wait for the read model to reach the expected end, then print it."""
    names = {c.id: c.designation for c in load_directory().courts}
    model = ReadModelQueries(store_url)
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
