"""The distribution flow in the harness: claims routed between courts (one too late), the plan
to every party, an objection with an opposition and a suit (the disputed amount deposited, the
rest paid), finalization; 执转破 notices to every court; an overdue bankruptcy answer and an
overdue hand-over alerted on a shortened clock; a plan from another court refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from courtbus.bus.records import Output
from courtbus.domain import distribution as dm
from courtbus.domain.distribution_plan import Periods
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire import values as v
from services.distribution.flow import DISTRIBUTIONS, EVENTS, NS, DistributionFlow
from services.distribution.state import Kept

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # Friday 10:00 China time
PRESIDING, BEIJING, SHENZHEN, DOMICILE = "320583", "110105", "440305", "3205"
DID = "dist-320583-2024-1"
HOURS = Periods(
    objection=timedelta(hours=2),
    opposition=timedelta(hours=2),
    suit=timedelta(hours=2),
    bankruptcy_answer=timedelta(hours=5),
    handover_wait=timedelta(hours=6),
    handover=timedelta(hours=3),
)
CITIZEN = v.debtor("PERSON", "王某", "320583199303121234")
COMPANY = v.debtor("ORGANISATION", "某有限公司", "91440800MA4UABCD1B")
A = v.debtor("PERSON", "张某", "11010519491231002X")  # Beijing's creditor
B = v.debtor("PERSON", "李某", "110101199003074514")  # Shenzhen's creditor
C = v.debtor("ORGANISATION", "某银行", "91110105MA00ABCD1G")  # Shenzhen's bank


def inbox(court: str) -> str:
    return f"court.{court}.inbox"


def harness() -> FlowHarness:
    return FlowHarness(DistributionFlow(memory_envelope(), HOURS), start=T0, partitions=3)


def send(h: FlowHarness, short: str, court: str, **payload: Any) -> list[Output]:
    return h.send(EVENTS, NS + short, {"distribution_id": DID, **payload}, f"court:{court}")


def open_(h: FlowHarness, debtor: dict[str, Any], form: str | None = None) -> list[Output]:
    return send(
        h,
        "DistributionOpened",
        PRESIDING,
        case_number=v.case_number("(2024)苏0583执1号"),
        presiding_court=v.court(PRESIDING),
        debtor=debtor,
        asset_description="某房产拍卖价款",
        proceeds=v.money("10000.00"),
        claim_deadline=date(2024, 4, 1),
        opened_at=h.now,
        debtor_form=form,
        sealed_at=h.now,
    )


def claim(
    h: FlowHarness, cid: str, court: str, claimant: dict[str, Any], yuan: str, **extra: Any
) -> list[Output]:
    fields: dict[str, Any] = {
        "claim_id": cid,
        "claiming_court": v.court(court),
        "case_number": v.case_number(
            "(2024)京0105执9号" if court == BEIJING else "(2024)粤0305执9号"
        ),
        "creditor": claimant["name"],
        "claim_class": "ORDINARY",
        "amount": v.money(yuan),
        "filed_at": h.now,
        "claimant": claimant,
    }
    return send(h, "DistributionClaimFiled", court, **(fields | extra))


def admit(h: FlowHarness, cid: str, yuan: str) -> list[Output]:
    return send(
        h,
        "DistributionClaimAdmitted",
        PRESIDING,
        claim_id=cid,
        claim_class="ORDINARY",
        admitted_amount=v.money(yuan),
        admitted_at=h.now,
    )


def plan(h: FlowHarness, court: str = PRESIDING) -> list[Output]:
    return send(
        h,
        "DistributionPlanIssued",
        court,
        plan_version=1,
        issued_at=h.now,
        proceeds=v.money("10000.00"),
        allocations=[],
        costs=v.money("100.00"),
        objection_deadline=date(2024, 4, 1),
    )


def serve(h: FlowHarness, recipient: dict[str, Any], phase: str) -> list[Output]:
    return send(
        h,
        "DistributionPlanServed",
        PRESIDING,
        presiding_court=v.court(PRESIDING),
        recipient=recipient,
        phase=phase,
        served_at=h.now,
    )


def refused(outputs: list[Output]) -> list[str]:
    return [dict(o.headers)["dlq_code"].decode() for o in outputs if o.topic == "bus.deadletter"]


def records(h: FlowHarness, outputs: list[Output]) -> list[tuple[str, str]]:
    """(topic, record short name) of what went to courts and the alerts."""
    return [
        (o.topic, h.decode(o).record.removeprefix(NS))
        for o in outputs
        if o.topic.startswith("court.") or o.topic == "bus.alerts"
    ]


def kept(h: FlowHarness) -> Kept:
    for state in h.states.values():
        found = state.table(DISTRIBUTIONS).get(DID)
        if found is not None:
            return found
    raise AssertionError("no distribution kept")


def shares(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {r["claim_id"]: r["amount"] for r in rows}


def test_claims_plan_objection_opposition_suit_and_finalization_between_three_courts() -> None:
    h = harness()
    assert refused(claim(h, "a1", BEIJING, A, "6000.00")) == ["DISTRIBUTION_UNKNOWN"]
    open_(h, CITIZEN)
    # a claim from another court goes to the presiding court; its admission back
    assert records(h, claim(h, "a1", BEIJING, A, "6000.00")) == [
        (inbox(PRESIDING), "DistributionClaimFiled")
    ]
    claim(h, "b1", SHENZHEN, B, "4000.00")
    assert records(h, admit(h, "a1", "6000.00")) == [(inbox(BEIJING), "DistributionClaimAdmitted")]
    assert refused(admit(h, "b1", "3000.00")) == ["DISTRIBUTION_CLAIM_AMOUNT_INVALID"]
    assert records(h, admit(h, "b1", "4000.00")) == [(inbox(SHENZHEN), "DistributionClaimAdmitted")]
    send(
        h,
        "DistributionExecutionEnded",
        PRESIDING,
        presiding_court=v.court(PRESIDING),
        ended_at=h.now,
    )
    h.advance(minutes=1)
    assert refused(claim(h, "c1", SHENZHEN, C, "1000.00")) == ["DISTRIBUTION_CLAIM_TOO_LATE"]
    # only the presiding court issues the plan; the bus computes it (Art. 508) for every party
    assert refused(plan(h, court=BEIJING)) == ["DISTRIBUTION_NOT_PRESIDING"]
    out = plan(h)
    assert sorted(t for t, _ in records(h, out)) == [
        inbox(BEIJING),
        inbox(PRESIDING),
        inbox(SHENZHEN),
    ]
    issued = h.decode(out[0]).payload
    assert {a["claim_id"]: a["allocated"] for a in issued["allocations"]} == {
        "a1": Decimal("5940.00"),
        "b1": Decimal("3960.00"),
    }
    assert issued["costs_paid"] == Decimal("100.00") and issued["surplus"] == Decimal("0.00")
    # the plan served on everyone (the service forwarded to the recipient's court)
    assert records(h, serve(h, A, "OBJECTION")) == [(inbox(BEIJING), "DistributionPlanServed")]
    for who in (B, CITIZEN):
        serve(h, who, "OBJECTION")
    assert kept(h).d.state is dm.State.OBJECTION_WINDOW
    objection = send(
        h,
        "DistributionObjectionFiled",
        BEIJING,
        plan_version=1,
        claim_id="b1",
        objecting_court=v.court(BEIJING),
        filed_at=h.now,
        reason="b1 的债权有争议",
        disputed_amount=v.money("1000.00"),
    )
    assert records(h, objection) == [(inbox(PRESIDING), "DistributionObjectionFiled")]
    # the window closes when everyone's 2 hours ran out; the bus takes the step
    assert records(h, h.advance(hours=1)) == []
    closed = [e.payload for e in h.on(EVENTS, h.advance(hours=1, minutes=1))]
    assert [(c["phase"], c["next_state"]) for c in closed] == [("OBJECTION", "OPPOSITION_WINDOW")]
    for who in (B, CITIZEN):
        serve(h, who, "OPPOSITION")
    send(
        h,
        "DistributionOppositionFiled",
        SHENZHEN,
        opposing_court=v.court(SHENZHEN),
        opponent=B,
        filed_at=h.now,
        reason="反对",
    )
    h.advance(hours=2, minutes=1)
    assert kept(h).d.state is dm.State.SUIT_WINDOW
    serve(h, A, "SUIT")
    send(
        h,
        "DistributionSuitReported",
        BEIJING,
        reporting_court=v.court(BEIJING),
        plaintiff=A,
        filed_at=h.now,
    )
    out = h.advance(hours=2, minutes=1)
    assert kept(h).d.state is dm.State.IN_SUIT
    (payable,) = [e.payload for e in h.on(inbox(PRESIDING), out) if e.payload.get("notice")]
    assert payable["notice"] == "PAYABLE"
    assert shares(payable["paid"]) == {"a1": Decimal("5940.00"), "b1": Decimal("2960.00")}
    assert shares(payable["held"]) == {"b1": Decimal("1000.00")}
    # the judgment upholds the plan: final, to every party, everything payable
    out = send(
        h,
        "DistributionSuitDecided",
        PRESIDING,
        presiding_court=v.court(PRESIDING),
        shares=[],
        decided_at=h.now,
    )
    assert ("court.110105.inbox", "DistributionFinalized") in records(h, out)
    (final,) = [e.payload for e in h.on(inbox(PRESIDING), out) if e.payload.get("notice")]
    assert final["held"] == [] and shares(final["paid"])["b1"] == Decimal("3960.00")
    send(h, "DistributionPaidOut", PRESIDING, presiding_court=v.court(PRESIDING), paid_at=h.now)
    assert kept(h).d.state is dm.State.PAID_OUT and h.timers() == []


def test_an_enterprise_debtor_with_consent_is_transferred_and_every_court_told() -> None:
    h = harness()
    assert refused(open_(h, COMPANY)) == ["DISTRIBUTION_DETAIL_MISSING"]  # which form?
    open_(h, COMPANY, form="ENTERPRISE_LEGAL_PERSON")
    claim(h, "a1", BEIJING, A, "6000.00")
    claim(h, "c1", SHENZHEN, C, "4000.00")
    admit(h, "a1", "6000.00")
    admit(h, "c1", "4000.00")
    assert refused(plan(h)) == ["DISTRIBUTION_BANKRUPTCY_NOT_ASSESSED"]
    out = send(
        h,
        "DistributionEnterpriseAssessed",
        PRESIDING,
        presiding_court=v.court(PRESIDING),
        bankruptcy_test_met=True,
        consent_by=A,
        bankruptcy_court=v.court(DOMICILE),
        assessed_at=h.now,
    )
    notices = [
        (o.topic, h.decode(o).payload["notice"]) for o in out if o.topic.startswith("court.")
    ]
    assert notices == [(inbox(c), "TRANSFERRED") for c in sorted([BEIJING, DOMICILE, SHENZHEN])]
    assert kept(h).d.state is dm.State.TRANSFERRED_TO_BANKRUPTCY
    # the bankruptcy court's 30 days (here 5 hours) run out: told, with the presiding court
    out = h.advance(hours=5, minutes=1)
    assert records(h, out) == [
        (inbox(DOMICILE), "DistributionNotice"),
        (inbox(PRESIDING), "DistributionNotice"),
        ("bus.alerts", "DistributionNotice"),
    ]
    assert records(h, h.advance(hours=5)) == []  # once
    out = send(
        h,
        "DistributionBankruptcyAnswered",
        DOMICILE,
        bankruptcy_court=v.court(DOMICILE),
        accepted=False,
        answered_at=h.now,
    )
    assert inbox(PRESIDING) in [t for t, _ in records(h, out)]
    assert kept(h).d.state is dm.State.CLAIMS  # enforcement resumes: sealing order (Art. 514)


def test_a_handover_asked_after_the_wait_and_not_made_is_alerted() -> None:
    h = harness()
    open_(h, CITIZEN)
    claim(
        h,
        "m1",
        BEIJING,
        C,
        "5000.00",
        claim_class="PRIORITY",
        priority_kind="SECURED",
        rank=1,
        has_title=False,
    )
    claim(h, "o1", SHENZHEN, B, "5000.00")

    def ask(court: str, cid: str) -> list[Output]:
        return send(
            h,
            "DistributionHandoverRequested",
            court,
            requesting_court=v.court(court),
            claim_id=cid,
            requested_at=h.now,
        )

    assert refused(ask(BEIJING, "m1")) == ["DISTRIBUTION_HANDOVER_TOO_EARLY"]
    h.advance(hours=6)
    assert refused(ask(SHENZHEN, "o1")) == ["DISTRIBUTION_HANDOVER_NOT_PRIORITY"]
    assert refused(ask(SHENZHEN, "m1")) == ["DISTRIBUTION_WRONG_COURT"]
    assert records(h, ask(BEIJING, "m1")) == [(inbox(PRESIDING), "DistributionHandoverRequested")]
    assert records(h, h.advance(hours=2)) == []
    out = h.advance(hours=1, minutes=1)
    assert records(h, out) == [
        (inbox(PRESIDING), "DistributionNotice"),
        (inbox(BEIJING), "DistributionNotice"),
        ("bus.alerts", "DistributionNotice"),
    ]
    assert h.decode(out[0]).payload["notice"] == "HANDOVER_OVERDUE"
    assert records(h, h.advance(hours=3)) == []  # once
    handed = send(
        h,
        "DistributionHandedOver",
        PRESIDING,
        presiding_court=v.court(PRESIDING),
        handed_over_at=h.now,
    )
    assert records(h, handed) == [(inbox(BEIJING), "DistributionHandedOver")]


def test_a_court_clock_ahead_of_the_bus_does_not_make_a_claim_too_early() -> None:
    h = harness()
    send(
        h,
        "DistributionOpened",
        PRESIDING,
        case_number=v.case_number("(2024)苏0583执1号"),
        presiding_court=v.court(PRESIDING),
        debtor=CITIZEN,
        asset_description="某房产拍卖价款",
        proceeds=v.money("10000.00"),
        claim_deadline=date(2024, 4, 1),
        opened_at=h.now + timedelta(minutes=2),
        debtor_form=None,
        sealed_at=h.now,
    )
    assert kept(h).d.started_at == h.now
    assert records(h, claim(h, "a1", BEIJING, A, "6000.00")) == [
        (inbox(PRESIDING), "DistributionClaimFiled")
    ]


def test_a_declared_form_the_name_or_credit_code_contradicts_is_refused() -> None:
    # issue 21 item 3: a 有限公司 declared an other organisation would be opened as 参与分配
    h = harness()
    firm = v.debtor("ORGANISATION", "湛江某贸易有限公司", "91440800MA4UABCD1B")
    outputs = open_(h, firm, form="OTHER_ORGANISATION")
    assert refused(outputs) == ["DISTRIBUTION_DEBTOR_FORM_CONTRADICTED"]
    (notice,) = [o for o in outputs if o.topic == inbox(PRESIDING)]
    reason = h.decode(notice).payload["reason"]
    assert "执转破" in reason and "ENTERPRISE_LEGAL_PERSON" in reason
    # a social organisation's code (52: 民办非企业单位) is no enterprise legal person
    school = v.debtor("ORGANISATION", "湛江某培训中心", "52440800MA4UABCD1C")
    assert refused(open_(h, school, form="ENTERPRISE_LEGAL_PERSON")) == [
        "DISTRIBUTION_DEBTOR_FORM_CONTRADICTED"
    ]
    assert refused(open_(h, firm, form="ENTERPRISE_LEGAL_PERSON")) == []
