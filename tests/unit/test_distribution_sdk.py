"""``DistributionClient`` (the court SDK's distribution steps) without a broker: bad input refused
before sending with its code; what is sent passes the gateway's checks and the Avro schemas and
drives the distribution flow (in the harness) from opening to payout, with the plan computed by
hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from courtbus.bus.records import Output
from courtbus.catalogue.directory import load_directory
from courtbus.domain import distribution as dm
from courtbus.domain import distribution_plan as dp
from courtbus.domain.text import normalize_payload
from courtbus.errors import ValidationError
from courtbus.gateway.rules import check_identities, check_sender, check_values
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.sdk.distribution import DistributionClient, objection_last_day
from courtbus.sdk.sent import Sent
from courtbus.wire import values as v
from services.distribution.flow import DISTRIBUTIONS, EVENTS, NS, DistributionFlow
from services.distribution.state import dump_kept, load_kept

KUNSHAN, SUZHOU, XIAN = "320583", "3205", "6101"
DID = "dist-sdk-1"
CASE = "(2024)苏0583执1号"
SECONDS = dp.Periods(
    objection=timedelta(seconds=30),
    opposition=timedelta(seconds=30),
    suit=timedelta(seconds=30),
    bankruptcy_answer=timedelta(seconds=60),
    handover_wait=timedelta(seconds=60),
    handover=timedelta(seconds=30),
)
DEBTOR = {"kind": "PERSON", "name": "王某", "id_number": "320583199303121234"}
PARTNERSHIP = {"kind": "ORGANISATION", "name": "某合伙企业", "id_number": "91440800MA4UABCD1B"}
A = {"kind": "PERSON", "name": "张某", "id_number": "11010519491231002X"}
B = {"kind": "PERSON", "name": "李某", "id_number": "110101199003074514"}
BANK = {"kind": "ORGANISATION", "name": "某银行", "id_number": "91110105MA00ABCD1G"}
DIRECTORY = load_directory()


class GatewaySender:
    """Stands in for a court's ``CourtSender``: what it is given goes through the gateway's
    checks and, with a harness, into the distribution flow."""

    def __init__(self, court_id: str, harness: FlowHarness | None = None) -> None:
        self.directory = DIRECTORY
        self.court_id = court_id
        self.harness = harness
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.outputs: list[Output] = []

    def me(self) -> dict[str, str]:
        return v.court(self.court_id)

    def send_record(self, record: str, payload: dict[str, Any]) -> Sent:
        clean: dict[str, Any] = normalize_payload(payload)
        check_values(clean)
        check_sender(record, "court", self.court_id, clean)
        check_identities(clean, self.directory)
        source = f"court:{self.court_id}"
        if self.harness is None:
            memory_envelope().build(f"court.{self.court_id}.outbox", record, clean, source)
        else:
            self.outputs = self.harness.send(EVENTS, record, clean, source)
        self.sent.append((record.removeprefix(NS), clean))
        return Sent("-", str(clean["distribution_id"]), 0, 0)


class Court(DistributionClient):
    """The distribution client as ``CourtClient.distribution`` is, over a ``GatewaySender``
    (``sent``, ``outputs``, ``harness``: the sender's)."""

    def __init__(self, court_id: str, harness: FlowHarness | None = None) -> None:
        self.gateway = GatewaySender(court_id, harness)
        super().__init__(self.gateway)  # type: ignore[arg-type]  # a stand-in CourtSender

    @property
    def sent(self) -> list[tuple[str, dict[str, Any]]]:
        return self.gateway.sent

    @property
    def outputs(self) -> list[Output]:
        return self.gateway.outputs

    @property
    def harness(self) -> FlowHarness | None:
        return self.gateway.harness


def test_the_distribution_client_has_the_steps() -> None:
    for name in (
        "open_distribution",
        "file_claim",
        "admit_claim",
        "reject_claim",
        "issue_plan",
        "object",
        "oppose",
        "report_suit",
        "finalize",
        "request_handover",
    ):
        assert callable(getattr(DistributionClient, name)), name
    assert DistributionClient.object is DistributionClient.file_objection


def _refusal(call: Any) -> str | None:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.code


BAD: list[tuple[str, Any]] = [
    (
        "DISTRIBUTION_ENTERPRISE_DEBTOR",
        lambda c: c.open_distribution(
            DID,
            CASE,
            PARTNERSHIP,
            "房产",
            claim_deadline=date(2024, 5, 1),
            debtor_form="ENTERPRISE_LEGAL_PERSON",
            procedure="PARTICIPATION",
        ),
    ),
    (
        "DISTRIBUTION_DETAIL_MISSING",
        lambda c: c.open_distribution(
            DID, CASE, PARTNERSHIP, "房产", claim_deadline=date(2024, 5, 1)
        ),
    ),
    (
        "DISTRIBUTION_DEBTOR_FORM_MISMATCH",
        lambda c: c.open_distribution(
            DID,
            CASE,
            DEBTOR,
            "房产",
            claim_deadline=date(2024, 5, 1),
            debtor_form="OTHER_ORGANISATION",
        ),
    ),
    (
        "RESIDENT_ID_INVALID",
        lambda c: c.open_distribution(
            DID,
            CASE,
            {**DEBTOR, "id_number": "320583199303121235"},
            "房产",
            claim_deadline=date(2024, 5, 1),
        ),
    ),
    (
        "DISTRIBUTION_PARTY_NAME_MISSING",
        lambda c: c.file_claim(DID, "c1", "(2024)陕01执5号", {**A, "name": " "}, "100.00"),
    ),
    (
        "DISTRIBUTION_TITLE_MISSING",
        lambda c: c.file_claim(DID, "c1", "(2024)陕01执5号", A, "100.00", has_title=False),
    ),
    (
        "DISTRIBUTION_CLAIM_AMOUNT_INVALID",
        lambda c: c.file_claim(DID, "c1", "(2024)陕01执5号", A, "0"),
    ),
    (
        "DISTRIBUTION_RANK_INVALID",
        lambda c: c.file_claim(
            DID, "c1", "(2024)陕01执5号", BANK, "100.00", claim_class="SECURED", rank=-1
        ),
    ),
    (
        "DISTRIBUTION_CLAIM_CLASS_INVALID",
        lambda c: c.file_claim(
            DID, "c1", "(2024)陕01执5号", A, "100.00", claim_class="EXECUTION_COSTS"
        ),
    ),
    ("MONEY_INVALID", lambda c: c.file_claim(DID, "c1", "(2024)陕01执5号", A, "1.005")),
    (
        "DISTRIBUTION_DISPUTE_INVALID",
        lambda c: c.file_objection(DID, "c1", "异议", disputed_amount="0.00"),
    ),
    ("DISTRIBUTION_DETAIL_MISSING", lambda c: c.finalize(DID, after="REVISION")),
    ("DISTRIBUTION_DETAIL_MISSING", lambda c: c.assess_enterprise(DID, True, consent_by=A)),
    ("COURT_UNKNOWN", lambda c: c.assess_enterprise(DID, True, bankruptcy_court="329999")),
    (
        "DISTRIBUTION_HANDOVER_TOO_EARLY",
        lambda c: c.request_handover(DID, "m1", sealed_at=v.now() - timedelta(days=30)),
    ),
    ("DISTRIBUTION_PHASE_INVALID", lambda c: c.serve(DID, A, "APPEAL")),
    ("DISTRIBUTION_DETAIL_MISSING", lambda c: c.reject_claim(DID, "c1", "", "没有执行依据")),
]


@pytest.mark.parametrize(("code", "call"), BAD, ids=[f"{i}-{c}" for i, (c, _) in enumerate(BAD)])
def test_bad_input_is_refused_before_sending(code: str, call: Any) -> None:
    court = Court(XIAN)
    assert _refusal(lambda: call(court)) == code
    assert court.sent == []


def test_a_refusal_masks_the_id_numbers() -> None:
    court = Court(KUNSHAN)
    with pytest.raises(ValidationError) as info:
        court.open_distribution(
            DID, CASE, {**DEBTOR, "kind": "ORGANISATION"}, "房产", claim_deadline=date(2024, 5, 1)
        )
    assert "320583199303121234" not in str(info.value)


def test_the_objection_deadline_is_the_last_of_fifteen_days() -> None:
    # received Friday 1 March 2024 (China): the 15th day is Saturday 16 March, a rest day, so
    # the last day moves to Monday 18 March (民事诉讼法 第八十五条)
    assert objection_last_day(datetime.fromisoformat("2024-03-01T02:00+00:00")) == date(2024, 3, 18)


def test_every_step_passes_the_gateway_and_the_schemas() -> None:
    court = Court(KUNSHAN)
    court.open_distribution(
        DID,
        CASE,
        PARTNERSHIP,
        "某合伙企业名下房产",
        claim_deadline=date(2024, 5, 1),
        debtor_form="OTHER_ORGANISATION",
        proceeds="1.00",
        sealed_at=v.now(),
    )
    court.file_claim(
        DID, "m1", CASE, BANK, "5000.00", claim_class="SECURED", rank=1, has_title=False
    )
    court.admit_claim(DID, "m1", "5000.00", claim_class="SECURED")
    court.reject_claim(DID, "m2", "NO_TITLE", "没有执行依据")
    court.end_execution(DID)
    court.issue_plan(DID, "100.00", costs="1.00", plan=dp.compute_plan(10000, 100, ()))
    court.serve(DID, A)
    court.object(DID, "m1", "有争议", disputed_amount="10.00", objector=A)
    court.oppose(DID, B, "反对")
    court.report_suit(DID, A)
    court.finalize(DID, after="SUIT", shares={"m1": "90.00"})
    court.finalize(DID, after="REVISION", shares={"m1": "90.00"})
    court.pay_out(DID)
    court.assess_enterprise(DID, True, consent_by=A, bankruptcy_court=SUZHOU)
    court.answer_bankruptcy(DID, False)
    court.publish_auction(DID)
    court.request_handover(DID, "m1")
    court.hand_over(DID)
    sent = [short for short, _ in court.sent]
    assert len(sent) == 18
    (claim,) = [p for s, p in court.sent if s == "DistributionClaimFiled"]
    assert (claim["claim_class"], claim["priority_kind"], claim["has_title"]) == (
        "PRIORITY",
        "SECURED",
        False,
    )


def _kept(h: FlowHarness) -> dm.Distribution:
    for state in h.states.values():
        found = state.table(DISTRIBUTIONS).get(DID)
        if found is not None:
            return found.d
    raise AssertionError("no distribution kept")


def _to(court: Court, topic_court: str) -> list[str]:
    return [
        court.harness.decode(o).record.removeprefix(NS)  # type: ignore[union-attr]
        for o in court.outputs
        if o.topic == f"court.{topic_court}.inbox"
    ]


def test_the_steps_drive_the_flow_from_opening_to_payout() -> None:
    h = FlowHarness(DistributionFlow(memory_envelope(), SECONDS), start=v.now(), partitions=3)
    kunshan, suzhou, xian = (Court(c, h) for c in (KUNSHAN, SUZHOU, XIAN))
    kunshan.open_distribution(
        DID,
        CASE,
        DEBTOR,
        "昆山某房产拍卖价款",
        claim_deadline=date(2024, 5, 1),
        sealed_at=h.now,
        enforcement_started_at=h.now,
    )  # the harness's clock
    suzhou.file_claim(DID, "a1", "(2024)苏05执7号", A, "1000.00")
    assert _to(suzhou, KUNSHAN) == ["DistributionClaimFiled"]
    xian.file_claim(DID, "b1", "(2024)陕01执8号", B, "2000.00")
    kunshan.admit_claim(DID, "a1", "1000.00")
    assert _to(kunshan, SUZHOU) == ["DistributionClaimAdmitted"]
    kunshan.admit_claim(DID, "b1", "2000.00")
    kunshan.end_execution(DID)
    h.advance(seconds=1)
    xian.file_claim(DID, "c1", "(2024)陕01执9号", BANK, "50.00")
    assert [dict(o.headers)["dlq_code"] for o in xian.outputs if o.topic == "bus.deadletter"] == [
        b"DISTRIBUTION_CLAIM_TOO_LATE"
    ]
    # 1000.00 proceeds, 100.00 costs: 900.00 pro rata 1:2 -> 300.00 and 600.00
    plan = dp.compute_plan(
        100000,
        10000,
        [
            dp.Claim("a1", dp.Party.of("PERSON", A["name"], A["id_number"]), SUZHOU, 100000, h.now),
            dp.Claim("b1", dp.Party.of("PERSON", B["name"], B["id_number"]), XIAN, 200000, h.now),
        ],
    )
    kunshan.issue_plan(DID, "1000.00", costs="100.00", plan=plan)
    (issued,) = [h.decode(o).payload for o in kunshan.outputs if o.topic == "court.6101.inbox"]
    assert {a["claim_id"]: a["allocated"] for a in issued["allocations"]} == {
        "a1": Decimal("300.00"),
        "b1": Decimal("600.00"),
    }
    for who in (A, B, DEBTOR):
        kunshan.serve(DID, who)
    suzhou.object(DID, "b1", "李某的债权已部分清偿", disputed_amount="200.00")
    h.advance(seconds=31)
    assert _kept(h).state is dm.State.OPPOSITION_WINDOW
    for who in (B, DEBTOR):
        kunshan.serve(DID, who, "OPPOSITION")
    xian.oppose(DID, B, "债权未清偿")
    kunshan.oppose(DID, DEBTOR, "同意李某")
    h.advance(seconds=1)
    kunshan.serve(DID, A, "SUIT")
    suzhou.report_suit(DID, A)
    out = h.advance(seconds=1)
    assert _kept(h).state is dm.State.IN_SUIT
    (payable,) = [
        h.decode(o).payload
        for o in out
        if o.topic == "court.320583.inbox" and h.decode(o).record == NS + "DistributionNotice"
    ]
    assert {s["claim_id"]: s["amount"] for s in payable["held"]} == {"b1": Decimal("200.00")}
    kunshan.finalize(DID, after="SUIT", shares={"b1": "500.00"})
    assert "DistributionFinalized" in _to(kunshan, XIAN)
    kunshan.pay_out(DID)
    assert _kept(h).state is dm.State.PAID_OUT
    assert _kept(h).plan is not None and _kept(h).plan.surplus == 10000  # type: ignore[union-attr]


FOREIGNER = {
    "kind": "PERSON",
    "name": "John Smith",
    "id_number": "E12345678",
    "id_type": "PASSPORT",
    "nationality": " usa ",
}


def test_a_creditor_named_by_passport_claims_is_served_and_kept() -> None:
    h = FlowHarness(DistributionFlow(memory_envelope(), SECONDS), start=v.now(), partitions=3)
    kunshan, xian = Court(KUNSHAN, h), Court(XIAN, h)
    kunshan.open_distribution(
        DID,
        CASE,
        DEBTOR,
        "昆山某房产拍卖价款",
        claim_deadline=date(2024, 5, 1),
        enforcement_started_at=h.now,
    )
    xian.file_claim(DID, "f1", "(2024)陕01执8号", FOREIGNER, "2000.00")
    (_, filed) = xian.sent[-1]
    assert (filed["claimant"]["id_type"], filed["claimant"]["nationality"]) == ("PASSPORT", "USA")
    assert _to(xian, KUNSHAN) == ["DistributionClaimFiled"]
    kunshan.admit_claim(DID, "f1", "2000.00")
    kunshan.issue_plan(DID, "1000.00")
    kunshan.serve(DID, FOREIGNER)
    assert _to(kunshan, XIAN) == ["DistributionPlanServed"]
    d = _kept(h)
    (claim,) = d.admitted()
    assert (claim.claimant.id_type, claim.claimant.nationality) == ("PASSPORT", "USA")
    assert claim.claimant.key == "PERSON:E12345678:USA"
    assert [r.recipient for r in d.receipts] == [claim.claimant.key]
    (kept,) = [k for s in h.states.values() if (k := s.table(DISTRIBUTIONS).get(DID))]
    assert load_kept(dump_kept(kept)) == kept
