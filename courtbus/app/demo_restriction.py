"""The restriction scene of ``make demo`` (issue 9): bans issued, acknowledged, intercepted,
watched and lifted, with the SDK only (``CourtClient``, ``AgencyClient``).

The services (gateway, restriction, feeds, watchdog) run as the demo's child processes
(``courtbus.app.demo_flow``) with the acknowledgement deadline, the watchdog's grace and its
repeat shortened to seconds (``RESTRICTION_ENV``). What the scene shows is read back from the
topics: the agencies' feeds and the issuing court's inbox. Imports no Kafka client itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from courtbus.app.participants import Participants
from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.config import Connection
from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.errors import StackError
from courtbus.sdk import AgencyClient, CourtClient
from courtbus.wire.envelope import Event

T = TypeVar("T")
NS = "cn.court.bus.restriction."
ALERT = "cn.court.bus.casestatus.CaseWatchdogAlert"
ACK_SECONDS, GRACE_SECONDS, REPEAT_SECONDS = 30, 2, 3
# The restriction service's acknowledgement deadline (default 12 hours) and the watchdog's
# grace for a restriction and its repeat (default one day each), shortened for the demo.
RESTRICTION_ENV = {
    "COURTBUS_RESTRICTION_ACK_SECONDS": str(ACK_SECONDS),
    "COURTBUS_WATCHDOG_RESTRICTION_GRACE_SECONDS": str(GRACE_SECONDS),
    "COURTBUS_WATCHDOG_REPEAT_SECONDS": str(REPEAT_SECONDS),
}
COURT = "3205"  # 苏州中院: its case numbers read (2024)苏05执…号
FIRM = {"kind": "ORGANISATION", "name": "苏州某精密机械有限公司", "id_number": FIRM_CODE}
REP = {"kind": "PERSON", "name": "李四", "id_number": PERSON_ID}
PERMIT = {"type": "HK_MACAU_PERMIT", "number": "C12345678"}  # 往来港澳通行证
AGENCIES = ("nia", "caac", "rail")


def wait_for(ready: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``ready`` until it returns something truthy, and return it.

    Raises:
        StackError: ``DEMO_FAILED`` naming ``what`` after ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = ready()
        if found:
            return found
        if time.monotonic() > deadline:
            raise StackError(
                f"timed out after {timeout_s:.0f}s waiting for {what} (a refused "
                "step is in `courtbus dlq list`)",
                code="DEMO_FAILED",
            )
        time.sleep(0.3)


@dataclass
class Control:
    """What the court learned about one control from its inbox and the agencies' feeds."""

    control_id: str
    kind: str
    entitled: tuple[str, ...]
    acks: dict[str, str] = field(default_factory=dict)  # agency -> its reference
    interceptions: list[str] = field(default_factory=list)
    lift_acks: list[str] = field(default_factory=list)
    lifted: str = ""


@dataclass
class RestrictionOutcome:
    """The scene's end: the controls, the watchdog's alerts before and after the lifts."""

    case: str
    controls: list[Control]
    alert_items: list[str]
    alerts_before_lift: int
    alerts_after_quiet: int
    quiet_s: float


def _answers(court: CourtClient, case: str, ids: set[str]) -> list[Event]:
    """The court's inbox (read from its start): the answers about the controls ``ids`` and the
    watchdog's alerts about ``case``."""
    return [
        e
        for e in court.inbox(timeout_s=0.5)
        if (e.record.startswith(NS) and e.payload.get("control_id") in ids)
        or (e.record == ALERT and e.payload["case_number"]["text"] == case)
    ]


def _on_feed(agency: AgencyClient, control_id: str, count: int) -> list[dict[str, Any]]:
    """The payloads of ``control_id`` on ``agency``'s restriction feed, once there are ``count``."""
    got = [
        e.payload
        for e in agency.feed("restriction", timeout_s=0.5)
        if e.key == control_id and e.payload is not None
    ]
    return got if len(got) >= count else []


def run_restriction_scene(
    out: Console, conn: Connection, tag: str, who: Participants | None = None
) -> RestrictionOutcome:
    """Issue an exit ban and a consumption ban on a firm's legal representative, have the
    agencies acknowledge them and report an interception, conclude the case as performed,
    wait for the watchdog's alert, lift both bans and collect the lift acknowledgements.

    Raises:
        StackError: ``DEMO_FAILED`` when a step's answer does not come in time.
    """
    case = f"(2024)苏05执{int(tag, 16) % 90000 + 10000}号"  # one case per run
    exit_ban = Control(f"rc-demo-{tag}-exit", "EXIT_BAN", ("nia",))
    spend_ban = Control(f"rc-demo-{tag}-spend", "CONSUMPTION_BAN", ("caac", "rail"))
    controls = (exit_ban, spend_ban)
    ids = {c.control_id for c in controls}
    who = who or Participants(conn)  # each participant's own connection and key
    court = who.court(COURT)
    agencies = {a: who.agency(a) for a in AGENCIES}
    try:
        court.casestatus.file_case(case, debtors=[{**FIRM, "id_type": None, "nationality": None}])
        # An exit ban binds natural persons: for an organisation debtor, its named persons
        # (民事诉讼法 (2023 修正) 第二百六十六条, see courtbus.domain.restriction.EXIT_BAN_SOURCE); an
        # organisation's consumption ban binds its legal representative (法释〔2015〕17号 (2015 修正) 第三条).
        court.restriction.issue_exit_ban(
            exit_ban.control_id, case, REP, PERMIT, role="LEGAL_REPRESENTATIVE", debtor=FIRM
        )
        court.restriction.issue_consumption_ban(
            spend_ban.control_id, case, REP, role="LEGAL_REPRESENTATIVE", debtor=FIRM
        )
        for c in controls:
            for a in c.entitled:
                wait_for(
                    partial(_on_feed, agencies[a], c.control_id, 1),
                    60,
                    f"{c.control_id} on {a}'s feed",
                )
                agencies[a].acknowledge(c.control_id, reference=f"{a.upper()}-{tag}")
        agencies["nia"].report_interception(exit_ban.control_id, "BORDER_PORT", "罗湖口岸")
        out.print(
            f"[green]✓[/green] restrictions: an exit ban (nia) and a consumption ban "
            f"(caac, rail) issued by {COURT} in {case}; acknowledged; nia reports an "
            "interception at 罗湖口岸",
            highlight=False,
        )

        def answered() -> list[Event]:
            got = _answers(court, case, ids)
            acks = [e for e in got if e.record == NS + "RestrictionAcknowledged"]
            stops = [e for e in got if e.record == NS + "InterceptionReported"]
            return got if len(acks) >= 3 and stops else []

        wait_for(answered, 60, "3 acknowledgements and the interception in court 3205's inbox")
        # 执行完毕 (法发〔2014〕26号 (version unverified) 第十四条): the watchdog lists what is still in force.
        court.casestatus.conclude_case(case, "PERFORMED")
        want = {f"restriction:{c.control_id}" for c in controls}

        def listing() -> list[Event]:
            alerts = [e for e in _answers(court, case, ids) if e.record == ALERT]
            full = [e for e in alerts if {i["item_id"] for i in e.payload["items"]} == want]
            return alerts if full else []

        alerts = wait_for(listing, 60, f"a watchdog alert for {case} listing both bans")
        out.print(
            f"[green]✓[/green] case concluded as performed; the watchdog alerts court "
            f"{COURT}: {len(want)} restriction(s) still in force",
            highlight=False,
        )
        for c in controls:
            # 法释〔2015〕17号 (2015 修正) 第九条: lifted once the obligation is performed.
            court.restriction.lift_restriction(c.control_id, "PERFORMED", note="已履行完毕")
        for c in controls:
            for a in c.entitled:
                wait_for(
                    partial(_on_feed, agencies[a], c.control_id, 2),
                    60,
                    f"the lift of {c.control_id} on {a}'s feed",
                )
                agencies[a].acknowledge(c.control_id, target="LIFT", reference=f"{a.upper()}-L")

        def lift_acked() -> list[Event]:
            got = _answers(court, case, ids)
            acks = [e for e in got if e.record == NS + "RestrictionAcknowledged"]
            return got if sum(e.payload["target"] == "LIFT" for e in acks) >= 3 else []

        wait_for(lift_acked, 60, "3 lift acknowledgements in court 3205's inbox")
        # Nothing is in force any more, so the alerts stop: none for two repeats.
        quiet_s = 2 * REPEAT_SECONDS
        got = _quiet(partial(_answers, court, case, ids), case, quiet_s)
        _collect(got, controls)
        return RestrictionOutcome(
            case,
            list(controls),
            sorted(want),
            len(alerts),
            sum(e.record == ALERT for e in got),
            quiet_s,
        )
    finally:
        court.close()
        for agency in agencies.values():
            agency.close()


def _quiet(
    answers: Callable[[], list[Event]], case: str, quiet_s: float, timeout_s: float = 40
) -> list[Event]:
    """``answers()`` once no new watchdog alert for ``case`` has come for ``quiet_s`` seconds."""
    seen: dict[str, float] = {}
    since = time.monotonic()

    def still() -> list[Event]:
        got = answers()
        for e in got:
            if e.record == ALERT and e.headers.id not in seen:
                seen[e.headers.id] = time.monotonic()
        last = max([since, *seen.values()])
        return got if time.monotonic() - last > quiet_s else []

    return wait_for(still, timeout_s, f"the watchdog's alerts for {case} to stop")


def _collect(events: list[Event], controls: tuple[Control, ...]) -> None:
    """Fill each control's answers from the court's inbox."""
    by_id = {c.control_id: c for c in controls}
    for e in events:
        c = by_id.get(str(e.payload.get("control_id")))
        if c is None:
            continue
        agency = str(e.payload.get("agency_id"))
        if e.record == NS + "RestrictionAcknowledged" and e.payload["target"] == "LIFT":
            c.lift_acks.append(agency)
        elif e.record == NS + "RestrictionAcknowledged":
            c.acks[agency] = str(e.payload.get("reference") or "-")
        elif e.record == NS + "InterceptionReported":
            c.interceptions.append(f"{agency}: {e.payload['location']} {e.payload['outcome']}")


def print_restrictions(out: Console, result: RestrictionOutcome) -> None:
    """The scene's summary as a table, ID numbers masked."""
    table = Table(
        title=f"restrictions of {result.case} (court {COURT}), from its inbox", show_lines=True
    )
    for col in ("control", "kind", "person", "acknowledged", "interceptions", "lift acknowledged"):
        table.add_column(col, overflow="fold")
    person = f"{REP['name']} {mask_id(REP['id_number'])} (法定代表人 of {FIRM['name']})"
    for c in result.controls:
        acks = ", ".join(f"{a} ({ref})" for a, ref in sorted(c.acks.items()))
        table.add_row(
            c.control_id,
            c.kind,
            mask_ids_in_text(person),
            acks,
            "; ".join(c.interceptions) or "-",
            ", ".join(sorted(c.lift_acks)),
        )
    out.print(table)
    out.print(
        f"watchdog: {result.alerts_before_lift} alert(s) listing {', '.join(result.alert_items)} "
        f"before the lifts; {result.alerts_after_quiet} in all, none in the last "
        f"{result.quiet_s:.0f}s after the lift acknowledgements",
        highlight=False,
    )
