"""The demo's blacklist scene: courts list and delist debtors, and the national list's view
and read model show it.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from courtbus.app.demo_delegation import DEMO_FIRM, DEMO_PERSON
from courtbus.app.participants import Participants
from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.config import Connection
from courtbus.errors import StackError
from courtbus.store import ReadModelQueries


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
        zhanjiang.blacklist.list_debtor(
            ids["firm"],
            f"(2024)粤08执{n}号",
            DEMO_FIRM,
            "REFUSED_WITH_ABILITY",
            obligation="支付货款 860,000.00 元",
            conduct="有履行能力而拒不履行",
            legal_representative="李四",
            **art6,
        )
        kunshan.blacklist.list_debtor(
            ids["person"],
            f"(2024)苏0583执{n}号",
            DEMO_PERSON,
            "EVADED_EXECUTION",
            obligation="给付 120,000.00 元",
            conduct="以隐匿财产方法规避执行",
            **art6,
        )
        try:
            kunshan.blacklist.list_debtor(
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
        kunshan.blacklist.delist(ids["person"], "PERFORMED", note="被执行人已履行全部义务")
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

    model = ReadModelQueries(store_url)
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
