"""The distribution scenes of ``make demo`` (issue 10), with the SDK only (``CourtClient``).

1. 参与分配 against an other organisation (a registered partnership, 其他组织): a mortgagee
   and two creditors in other provinces claim, the presiding court admits them, the bus computes
   the plan (民诉法解释 (2022 修正) 第五百零八条) and sends it to every party's court, and the plan is
   served (第五百零九条: 15 days from each receipt to object).
2. 执转破 for an enterprise legal person (企业法人, 第五百一十一条至第五百一十四条): creditors of
   two other courts claim, the presiding court finds the bankruptcy test met and one creditor
   consents, the case goes to the court of the debtor's domicile, the bus tells every court
   involved, and that court accepts the case.

The distribution service runs as one of the demo's child processes (``demo_flow``). What the
scenes show is read back from the courts' inboxes; the service's view ``distribution.cases``
says when an opening is stored. Imports no Kafka client itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from rich.console import Console
from rich.table import Table

from courtbus.app.demo_restriction import wait_for
from courtbus.app.participants import Participants
from courtbus.app.samples import FIRM_CODE
from courtbus.bus.topics import DISTRIBUTION_VIEW
from courtbus.config import Connection
from courtbus.domain.masking import mask_id
from courtbus.sdk import CourtClient
from courtbus.sdk.distribution import ClaimClassName
from courtbus.wire.client import read_from_start
from courtbus.wire.envelope import Event

NS = "cn.court.bus.distribution."
VIEW_TOPIC = DISTRIBUTION_VIEW  # the distribution service's view (services.distribution.view)
# Fictitious parties; each ID has a valid GB 32100 / GB 11643 check digit.
PARTNERSHIP = {
    "kind": "ORGANISATION",
    "name": "昆山某餐饮管理合伙企业（普通合伙）",
    "id_number": "91320583MA1PQRXT2R",
}
BANK = {
    "kind": "ORGANISATION",
    "name": "昆山某农村商业银行股份有限公司",
    "id_number": "91320583MA1WXYKL3M",
}
WANG = {"kind": "PERSON", "name": "王五", "id_number": "610102198507150015"}
SHAANXI_FIRM = {
    "kind": "ORGANISATION",
    "name": "陕西某建材有限公司",
    "id_number": "91610100MA6UABCD4X",
}
MAOMING_FIRM = {
    "kind": "ORGANISATION",
    "name": "茂名某建材有限公司",
    "id_number": "91440900MA4UEFGH5K",
}
ENTERPRISE = {"kind": "ORGANISATION", "name": "湛江某贸易有限公司", "id_number": FIRM_CODE}
KUNSHAN, SUZHOU, XIAN, MAOMING, ZHANJIANG = "320583", "3205", "6101", "4409", "4408"


@dataclass(frozen=True)
class Claimed:
    """One claim as the scene files it."""

    claim_id: str
    court: str
    claimant: dict[str, str]
    amount: str
    klass: ClaimClassName = "ORDINARY"


@dataclass(frozen=True)
class ParticipationOutcome:
    """The plan the bus computed, as the claimants' courts received it."""

    distribution_id: str
    claims: tuple[Claimed, ...]
    plan: dict[str, Any]  # the DistributionPlanIssued payload
    served: dict[str, int]  # court -> plans served on its parties


@dataclass(frozen=True)
class TransferOutcome:
    """What each court involved in the 执转破 received."""

    distribution_id: str
    told: dict[str, str]  # court -> what the bus told it


def _inbox(court: CourtClient, did: str, short: str, count: int = 1) -> list[Event]:
    """``short`` records of distribution ``did`` in the court's inbox, once there are ``count``."""
    got = [e for e in court.inbox(timeout_s=0.5) if e.key == did and e.record == NS + short]
    return got if len(got) >= count else []


def _arrive(court: CourtClient, did: str, short: str, count: int = 1) -> list[Event]:
    what = f"{count} {short} of {did} in court {court.sender.court.id}'s inbox"
    return wait_for(partial(_inbox, court, did, short, count), 60, what)


def _stored(conn: Connection, did: str) -> bool:
    """Whether the distribution service has stored ``did``: its view ``distribution.cases``
    (written in the same transaction as its state) has a record of it."""
    return any(r.key == did.encode() for r in read_from_start(conn, [VIEW_TOPIC], 0.5))


def _open(conn: Connection, presiding: CourtClient, did: str, *args: Any, **kw: Any) -> None:
    """Open ``did`` and wait until the distribution service has stored it: the opening sends
    nothing to an inbox, and another court's claim must not overtake it (the gateway keeps the
    order within one outbox, not across courts)."""
    presiding.distribution.open_distribution(did, *args, **kw)
    wait_for(partial(_stored, conn, did), 60, f"the opening of {did} in {VIEW_TOPIC}")


def run_participation_scene(
    out: Console, conn: Connection, tag: str, who: Participants | None = None
) -> ParticipationOutcome:
    """参与分配 against a partnership: claims from three courts, admissions, the bus's plan,
    service on every creditor and the debtor.

    Raises:
        StackError: ``DEMO_FAILED`` when a step's answer does not come in time.
    """
    n = int(tag, 16) % 90000 + 10000
    did = f"dist-demo-{tag}-pool"
    case = f"(2024)苏0583执{n + 1}号"
    claims = (
        # A mortgagee applies directly, without a title (第五百零六条).
        Claimed(f"{did}-bank", KUNSHAN, BANK, "600000.00", "SECURED"),
        Claimed(f"{did}-wang", XIAN, WANG, "300000.00"),
        Claimed(f"{did}-maoming", MAOMING, MAOMING_FIRM, "200000.00"),
    )
    cases = {KUNSHAN: case, XIAN: f"(2024)陕01执{n}号", MAOMING: f"(2024)粤09执{n}号"}
    who = who or Participants(conn)  # each court's own connection and key
    courts = {c: who.court(c) for c in (KUNSHAN, XIAN, MAOMING)}
    try:
        presiding = courts[KUNSHAN]
        # 第五百零六条: 参与分配 is for a citizen or an other organisation; a registered partnership
        # is one (第五十二条).
        _open(
            conn,
            presiding,
            did,
            case,
            PARTNERSHIP,
            "昆山市某商铺拍卖价款",
            claim_deadline=date.today() + timedelta(days=30),
            debtor_form="OTHER_ORGANISATION",
            proceeds="1000000.00",
        )
        for c in claims:
            courts[c.court].distribution.file_claim(
                did,
                c.claim_id,
                cases[c.court],
                c.claimant,
                c.amount,
                claim_class=c.klass,
                rank=1 if c.klass != "ORDINARY" else 0,
                has_title=c.klass == "ORDINARY",
            )
        # Claims from other courts reach the presiding court through the bus; it admits them.
        _arrive(presiding, did, "DistributionClaimFiled", 2)
        for c in claims:
            presiding.distribution.admit_claim(did, c.claim_id, c.amount, claim_class=c.klass)
        presiding.distribution.issue_plan(did, "1000000.00", costs="12000.00")
        (plan,) = _arrive(courts[XIAN], did, "DistributionPlanIssued")
        _arrive(courts[MAOMING], did, "DistributionPlanIssued")
        # 第五百零九条: the plan is served on every creditor and on the debtor.
        for party in (BANK, WANG, MAOMING_FIRM, PARTNERSHIP):
            presiding.distribution.serve(did, party)
        served = {
            c: len(_arrive(courts[c], did, "DistributionPlanServed")) for c in (XIAN, MAOMING)
        }
        out.print(
            f"[green]✓[/green] 参与分配 {did} against a partnership (其他组织): 3 claims "
            f"from {KUNSHAN}, {XIAN}, {MAOMING}; the bus computed the plan and it was served "
            "on every creditor and the debtor",
            highlight=False,
        )
        return ParticipationOutcome(did, claims, plan.payload, served)
    finally:
        for client in courts.values():
            client.close()


def run_transfer_scene(
    out: Console, conn: Connection, tag: str, who: Participants | None = None
) -> TransferOutcome:
    """执转破: an enterprise debtor meets the bankruptcy test, a creditor consents, the case goes
    to the court of its domicile and every court involved is told; that court accepts.

    Raises:
        StackError: ``DEMO_FAILED`` when a step's answer does not come in time.
    """
    n = int(tag, 16) % 90000 + 10000
    did = f"dist-demo-{tag}-ent"
    who = who or Participants(conn)
    courts = {c: who.court(c) for c in (SUZHOU, XIAN, MAOMING, ZHANJIANG)}
    try:
        presiding = courts[SUZHOU]
        _open(
            conn,
            presiding,
            did,
            f"(2024)苏05执{n + 2}号",
            ENTERPRISE,
            "苏州市某仓库存货变价款",
            claim_deadline=date.today() + timedelta(days=30),
            debtor_form="ENTERPRISE_LEGAL_PERSON",
            proceeds="2400000.00",
        )
        courts[XIAN].distribution.file_claim(
            did, f"{did}-shaanxi", f"(2024)陕01执{n + 2}号", SHAANXI_FIRM, "800000.00", seal_order=1
        )
        courts[MAOMING].distribution.file_claim(
            did, f"{did}-maoming", f"(2024)粤09执{n + 2}号", MAOMING_FIRM, "500000.00", seal_order=2
        )
        _arrive(presiding, did, "DistributionClaimFiled", 2)
        # 第五百一十一条: the enterprise meets 企业破产法 (2006) 第二条第一款 and an applicant creditor
        # consents, so enforcement is suspended and the case goes to the court of the debtor's
        # domicile (Zhanjiang, where the firm is registered).
        presiding.distribution.assess_enterprise(
            did, True, consent_by=SHAANXI_FIRM, bankruptcy_court=ZHANJIANG
        )
        told = {SUZHOU: "its own decision (DistributionEnterpriseAssessed)"}
        for c in (XIAN, MAOMING, ZHANJIANG):
            (notice,) = _arrive(courts[c], did, "DistributionNotice")
            told[c] = f"{notice.payload['notice']} → {notice.payload['subject']}"
        # 第五百一十二条: the court of the domicile says within 30 days whether it accepts.
        courts[ZHANJIANG].distribution.answer_bankruptcy(did, accepted=True)
        for c in (SUZHOU, XIAN, MAOMING):
            _arrive(courts[c], did, "DistributionBankruptcyAnswered")
            told[c] += "; bankruptcy case accepted"
        told[ZHANJIANG] += "; it accepted the bankruptcy case"
        out.print(
            f"[green]✓[/green] 执转破 {did}: {ENTERPRISE['name']} (企业法人) transferred "
            f"by {SUZHOU} to {ZHANJIANG} with a creditor's consent; every court told",
            highlight=False,
        )
        return TransferOutcome(did, told)
    finally:
        for client in courts.values():
            client.close()


def _party(p: dict[str, str]) -> str:
    return f"{p['name']} {mask_id(p['id_number'])}"


def _yuan(x: Any) -> str:
    return f"{Decimal(x):,.2f}" if x is not None else "-"


def print_participation(out: Console, result: ParticipationOutcome) -> None:
    """The plan as the claimants' courts received it (IDs masked)."""
    plan = result.plan
    title = (
        f"plan v{plan['plan_version']} of {result.distribution_id} (参与分配, 其他组织), "
        "computed by the bus (民诉法解释 (2022 修正) 第五百零八条)"
    )
    table = Table(title=title, show_lines=True)
    for col in ("claim", "court", "claimant", "class", "claimed", "allocated"):
        table.add_column(col, overflow="fold")
    by_id = {c.claim_id: c for c in result.claims}
    table.add_row(
        "execution costs", "-", "-", "COSTS", _yuan(plan["costs"]), _yuan(plan["costs_paid"])
    )
    for a in plan["allocations"]:
        c = by_id[a["claim_id"]]
        klass = a["priority_kind"] or a["claim_class"]
        if a["rank"]:
            klass += f" rank {a['rank']}"
        table.add_row(
            a["claim_id"],
            c.court,
            _party(c.claimant),
            klass,
            _yuan(a["admitted"]),
            _yuan(a["allocated"]),
        )
    table.add_row(
        "surplus to the debtor", "-", _party(PARTNERSHIP), "-", "-", _yuan(plan["surplus"])
    )
    out.print(table)
    out.print(
        f"proceeds {_yuan(plan['proceeds'])}; objections by "
        f"{plan['objection_deadline']} (15 days from each receipt, 第五百零九条); served in "
        f"{', '.join(sorted(result.served))}",
        highlight=False,
    )


def print_transfer(out: Console, result: TransferOutcome) -> None:
    """Who was told what about the 执转破."""
    table = Table(
        title=f"执转破 of {_party(ENTERPRISE)} ({result.distribution_id})", show_lines=True
    )
    for col in ("court", "role", "told"):
        table.add_column(col, overflow="fold")
    roles = {
        SUZHOU: "presiding (sealed the stock)",
        XIAN: "claimant's court (consented)",
        MAOMING: "claimant's court",
        ZHANJIANG: "court of the debtor's domicile",
    }
    for court, role in roles.items():
        table.add_row(court, role, result.told.get(court, "-"))
    out.print(table)
