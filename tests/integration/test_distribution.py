"""Participation in distribution (参与分配) end to end on the real stack (issue 10), between
three courts in two provinces: Kunshan (320583, Jiangsu) presides over the proceeds of a partner-
ship's property (an other organisation, 民诉法解释 第五百零六条); Suzhou Intermediate (3205,
Jiangsu) and Xi'an Intermediate (6101, Shaanxi) claim for their creditors.

The scenario: claims from the other courts reach the presiding court, admissions and a rejection
go back; a claim after the execution of the property ended is refused (第五百零七条); the plan the
bus computes is exact in fen (第五百零八条: costs, the secured claim, ordinary claims pro rata by
largest remainder); Suzhou objects, Xi'an opposes, Suzhou sues (第五百零九条, 第五百一十条): the
disputed amount is held back and the rest is payable; the judgment finalizes the plan and it is
paid out. Every court's inbox is asserted message by message, amounts exactly.

The hand-over: Xi'an, the court of a secured creditor, asks the first sealing court for the
disposal too early (refused), then after "60 days", and the first sealing court does not hand it
over within "15 days": both courts and ``bus.alerts`` get the HANDOVER_OVERDUE notice
(法释〔2016〕6号 第一条, 第二条).

Shortened clock (``COURTBUS_DISTRIBUTION_*_SECONDS``): each 15-day window 12 s, the 60 days of
the hand-over 10 s and its 15 days 6 s; timers tick every 0.5 s. The ids are module constants,
unique per run, so a read-model check can look the distribution up.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.wire import values as v
from courtbus.wire.envelope import Event
from tests.integration.conftest import StartServices
from tests.integration.helpers import Services, TopicReader, dead_letter_code, wait_until

pytestmark = pytest.mark.integration
NS = "cn.court.bus.distribution."
KUNSHAN, SUZHOU, XIAN = "320583", "3205", "6101"  # presiding (Jiangsu), Jiangsu, Shaanxi
WINDOW_S, HANDOVER_WAIT_S, HANDOVER_S = 12, 10, 6
RUN = uuid.uuid4().hex[:8]
DISTRIBUTION_ID = f"dist-it-{RUN}"  # the scenario's distribution
HANDOVER_ID = f"dist-it-ho-{RUN}"  # the hand-over's
CASE = f"(2024)苏0583执{int(RUN, 16) % 90000 + 10000}号"

DEBTOR = {"kind": "ORGANISATION", "name": "昆山某商贸合伙企业", "id_number": "91320583MA1ABCDE1B"}
A = {"kind": "PERSON", "name": "张某", "id_number": "320502198506120036"}  # Suzhou's creditor
D = {"kind": "PERSON", "name": "钱某", "id_number": "11010519491231002X"}  # Suzhou's, rejected
B = {"kind": "PERSON", "name": "李某", "id_number": "61010319900305002X"}  # Xi'an's creditor
BANK = {"kind": "ORGANISATION", "name": "某银行西安分行", "id_number": "91610103MA6TABCD1D"}
C = {"kind": "PERSON", "name": "王某", "id_number": "320583199303121234"}  # Kunshan's creditor
LATE = {"kind": "PERSON", "name": "孙某", "id_number": "610103197502030016"}  # Xi'an's, too late


def key_of(party: dict[str, str]) -> str:
    return f"{party['kind']}:{party['id_number']}"


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    env = {
        "COURTBUS_DISTRIBUTION_OBJECTION_SECONDS": str(WINDOW_S),
        "COURTBUS_DISTRIBUTION_OPPOSITION_SECONDS": str(WINDOW_S),
        "COURTBUS_DISTRIBUTION_SUIT_SECONDS": str(WINDOW_S),
        "COURTBUS_DISTRIBUTION_HANDOVER_WAIT_SECONDS": str(HANDOVER_WAIT_S),
        "COURTBUS_DISTRIBUTION_HANDOVER_SECONDS": str(HANDOVER_S),
        "COURTBUS_TICK_SECONDS": "0.5",
    }
    return start_services("distribution", env=env, which=("gateway", "distribution", "projector"))


@pytest.fixture(scope="module")
def courts(conn: Connection, services: Services) -> Iterator[dict[str, CourtClient]]:
    clients = {c: CourtClient(c, conn) for c in (KUNSHAN, SUZHOU, XIAN)}
    yield clients
    for client in clients.values():
        client.close()


class Inbox:
    """What one court receives (decoded), from when it was made, as it arrives."""

    def __init__(self, conn: Connection, court: CourtClient) -> None:
        self.court = court
        self.reader = TopicReader(conn, court.sender.inbox_topic, from_end=True)
        self.events: list[Event] = []

    def poll(self) -> list[Event]:
        self.reader.poll()
        for raw in self.reader.records[len(self.events) :]:
            self.events.append(self.court.sender.envelope.read(raw))
        return self.events

    def of(self, key: str, short: str | None = None) -> list[Event]:
        """The events about ``key`` (a distribution id) so far, of type ``short`` if given."""
        return [
            e for e in self.poll() if e.key == key and (short is None or e.record == NS + short)
        ]

    def wait(
        self, key: str, short: str, count: int = 1, where: Callable[[dict[str, Any]], bool] = bool
    ) -> list[Event]:
        """The ``short`` events about ``key`` whose payload passes ``where``, once there are
        ``count`` of them."""

        def found() -> list[Event]:
            got = [e for e in self.of(key, short) if where(e.payload)]
            return got if len(got) >= count else []

        return wait_until(
            found,
            60,
            lambda: (
                f"{count} {short} of {key} in {self.court.sender.inbox_topic}; got {self.kinds(key)}"
            ),
        )

    def kinds(self, key: str) -> Counter[str]:
        """How many events of each type about ``key`` arrived."""
        return Counter(e.record.removeprefix(NS) for e in self.of(key))

    def close(self) -> None:
        self.reader.close()


@pytest.fixture(scope="module")
def inboxes(conn: Connection, courts: dict[str, CourtClient]) -> Iterator[dict[str, Inbox]]:
    readers = {c: Inbox(conn, client) for c, client in courts.items()}
    yield readers
    for reader in readers.values():
        reader.close()


def open_and_wait(conn: Connection, court: CourtClient, did: str, **fields: Any) -> None:
    """Open ``did`` and wait until the distribution service has stored it (its changelog shows
    it): the opening sends nothing to an inbox, and another court's claim must not overtake it
    (the gateway keeps the order within one outbox, not across courts)."""
    changes = TopicReader(conn, "bus.distribution.distributions.changelog", from_end=True)
    try:
        court.distribution.open_distribution(
            did,
            CASE,
            DEBTOR,
            claim_deadline=date(2024, 6, 30),
            debtor_form="OTHER_ORGANISATION",
            **fields,
        )
        changes.wait_for(lambda r: (r.key or b"").endswith(did.encode()), timeout_s=60)
    finally:
        changes.close()


def yuan(text: str) -> Decimal:
    return Decimal(text)


def amounts(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {r["claim_id"]: r["amount"] for r in rows}


def test_claims_plan_objection_opposition_suit_and_payout_between_three_courts(
    services: Services, courts: dict[str, CourtClient], inboxes: dict[str, Inbox], conn: Connection
) -> None:
    did = DISTRIBUTION_ID
    kunshan, suzhou, xian = courts[KUNSHAN], courts[SUZHOU], courts[XIAN]
    to_kunshan, to_suzhou, to_xian = inboxes[KUNSHAN], inboxes[SUZHOU], inboxes[XIAN]

    # opening: an other organisation's property (Art. 506), first sealed by Kunshan
    open_and_wait(
        conn,
        kunshan,
        did,
        asset_description="合伙企业名下昆山市某商铺拍卖价款",
        proceeds="50000.01",
        sealed_at=v.now(),
    )

    # claims: the other courts' reach the presiding court; Kunshan's own creditor's does not
    suzhou.distribution.file_claim(did, "a1", "(2024)苏05执101号", A, "10000.00")
    suzhou.distribution.file_claim(did, "d1", "(2024)苏05执102号", D, "3000.00")
    xian.distribution.file_claim(did, "b1", "(2024)陕01执201号", B, "20000.00")
    xian.distribution.file_claim(
        did,
        "m1",
        "(2024)陕01执202号",
        BANK,
        "30000.00",
        claim_class="SECURED",
        rank=1,
        has_title=False,
    )
    kunshan.distribution.file_claim(did, "c1", "(2024)苏0583执301号", C, "5000.00")
    filed = to_kunshan.wait(did, "DistributionClaimFiled", 4)
    assert sorted(e.payload["claim_id"] for e in filed) == ["a1", "b1", "d1", "m1"]
    (secured,) = [e.payload for e in filed if e.payload["claim_id"] == "m1"]
    assert (secured["claim_class"], secured["priority_kind"], secured["has_title"]) == (
        "PRIORITY",
        "SECURED",
        False,
    )
    assert secured["claimant"]["id_number"] == BANK["id_number"]

    # admissions and the rejection go back to the claimant's court
    kunshan.distribution.admit_claim(did, "a1", "10000.00")
    kunshan.distribution.reject_claim(did, "d1", "NO_TITLE", "执行依据已被撤销")
    kunshan.distribution.admit_claim(did, "b1", "20000.00")
    kunshan.distribution.admit_claim(did, "m1", "30000.00", claim_class="SECURED")
    assert [e.payload["claim_id"] for e in to_suzhou.wait(did, "DistributionClaimAdmitted")] == [
        "a1"
    ]
    (rejected,) = to_suzhou.wait(did, "DistributionClaimRejected")
    assert (rejected.payload["claim_id"], rejected.payload["reason_code"]) == ("d1", "NO_TITLE")
    admitted = to_xian.wait(did, "DistributionClaimAdmitted", 2)
    assert sorted((e.payload["claim_id"], e.payload["claim_class"]) for e in admitted) == [
        ("b1", "ORDINARY"),
        ("m1", "PRIORITY"),
    ]

    # the execution of the property ends: a later claim is refused with its code (Art. 507)
    kunshan.distribution.end_execution(did)
    kunshan.distribution.admit_claim(
        did, "c1", "5000.00"
    )  # after the end, in order on Kunshan's outbox
    to_kunshan.wait(did, "DistributionClaimAdmitted")
    late = xian.distribution.file_claim(did, "l1", "(2024)陕01执203号", LATE, "8000.00")
    assert dead_letter_code(conn, late.event_id) == "DISTRIBUTION_CLAIM_TOO_LATE"
    (notice,) = wait_until(
        lambda: [e for e in to_xian.poll() if e.payload.get("rejected_event_id") == late.event_id],
        60,
        "the refusal of the late claim in Xi'an's inbox",
    )
    assert notice.payload["error_code"] == "DISTRIBUTION_CLAIM_TOO_LATE"
    assert LATE["id_number"] not in notice.payload["reason"]

    # the plan, by hand (Art. 508), in fen: 5,000,001 proceeds - 123,456 costs = 4,876,545;
    # m1 (secured, rank 1) in full: 3,000,000, leaving 1,876,545 for 3,500,000 of ordinary claims;
    # a1 1,876,545 x 10/35 = 536,155.71, b1 x 20/35 = 1,072,311.43, c1 x 5/35 = 268,077.86:
    # floors sum to 1,876,543, the 2 fen left go to the largest remainders, c1 (.86) and a1 (.71)
    kunshan.distribution.issue_plan(did, "50000.01", costs="1234.56")
    plans = {c: inboxes[c].wait(did, "DistributionPlanIssued")[0].payload for c in inboxes}
    plan = plans[KUNSHAN]
    assert plans[SUZHOU] == plan and plans[XIAN] == plan
    assert {a["claim_id"]: (a["admitted"], a["allocated"]) for a in plan["allocations"]} == {
        "m1": (yuan("30000.00"), yuan("30000.00")),
        "a1": (yuan("10000.00"), yuan("5361.56")),
        "b1": (yuan("20000.00"), yuan("10723.11")),
        "c1": (yuan("5000.00"), yuan("2680.78")),
    }
    assert [a["claim_id"] for a in plan["allocations"]] == ["m1", "a1", "b1", "c1"]
    assert (plan["proceeds"], plan["costs_paid"], plan["surplus"]) == (
        yuan("50000.01"),
        yuan("1234.56"),
        yuan("0.00"),
    )

    # served on every creditor and the debtor (Art. 509); Suzhou objects to b1's allocation
    for who in (A, B, BANK, C, DEBTOR):
        kunshan.distribution.serve(did, who)
    to_suzhou.wait(did, "DistributionPlanServed")
    suzhou.distribution.object(did, "b1", "李某的债权已部分清偿", disputed_amount="3000.00")
    (objection,) = to_kunshan.wait(did, "DistributionObjectionFiled")
    assert objection.payload["disputed_amount"] == yuan("3000.00")
    closed = to_kunshan.wait(did, "DistributionWindowClosed")
    assert (closed[0].payload["phase"], closed[0].payload["next_state"]) == (
        "OBJECTION",
        "OPPOSITION_WINDOW",
    )

    # the objection notified to those who did not object; Xi'an opposes for B (Art. 510)
    for who in (B, BANK, C, DEBTOR):
        kunshan.distribution.serve(did, who, "OPPOSITION")
    to_xian.wait(
        did,
        "DistributionPlanServed",
        where=lambda p: (
            p["phase"] == "OPPOSITION" and p["recipient"]["id_number"] == B["id_number"]
        ),
    )
    xian.distribution.oppose(did, B, "债权并未清偿")
    to_kunshan.wait(did, "DistributionOppositionFiled")
    closed = to_kunshan.wait(did, "DistributionWindowClosed", 2)
    assert closed[1].payload["next_state"] == "SUIT_WINDOW"

    # the opposition notified to the objector, who sues: b1's disputed 3,000.00 held back
    kunshan.distribution.serve(did, A, "SUIT")
    to_suzhou.wait(did, "DistributionPlanServed", where=lambda p: p["phase"] == "SUIT")
    suzhou.distribution.report_suit(did, A)
    to_kunshan.wait(did, "DistributionSuitReported")
    (payable,) = to_kunshan.wait(did, "DistributionNotice")
    assert payable.payload["notice"] == "PAYABLE"
    assert amounts(payable.payload["paid"]) == {
        "m1": yuan("30000.00"),
        "a1": yuan("5361.56"),
        "b1": yuan("7723.11"),
        "c1": yuan("2680.78"),
    }
    assert amounts(payable.payload["held"]) == {"b1": yuan("3000.00")}
    assert DEBTOR["id_number"] not in payable.payload["detail"]

    # the judgment: 1,000.00 of b1's allocation goes to a1; the plan is final and paid out
    kunshan.distribution.finalize(did, after="SUIT", shares={"a1": "6361.56", "b1": "9723.11"})
    for court in (KUNSHAN, SUZHOU, XIAN):
        (decided,) = inboxes[court].wait(did, "DistributionSuitDecided")
        assert amounts(decided.payload["shares"]) == {
            "m1": yuan("30000.00"),
            "a1": yuan("6361.56"),
            "b1": yuan("9723.11"),
            "c1": yuan("2680.78"),
        }
        assert decided.payload["plan_version"] == 2 and decided.payload["surplus"] == yuan("0")
        (final,) = inboxes[court].wait(did, "DistributionFinalized")
        assert final.payload["plan_version"] == 2
    (_, paid) = to_kunshan.wait(did, "DistributionNotice", 2)
    assert paid.payload["notice"] == "PAYABLE" and paid.payload["held"] == []
    assert amounts(paid.payload["paid"])["b1"] == yuan("9723.11")
    kunshan.distribution.pay_out(did)
    to_suzhou.wait(did, "DistributionPaidOut")
    to_xian.wait(did, "DistributionPaidOut")

    # what each court received about this distribution, message by message
    assert to_kunshan.kinds(did) == Counter(
        {
            "DistributionClaimFiled": 4,
            "DistributionClaimAdmitted": 1,
            "DistributionPlanIssued": 1,
            "DistributionPlanServed": 4,  # C and the debtor, twice
            "DistributionObjectionFiled": 1,
            "DistributionOppositionFiled": 1,
            "DistributionSuitReported": 1,
            "DistributionWindowClosed": 3,
            "DistributionNotice": 2,
            "DistributionSuitDecided": 1,
            "DistributionFinalized": 1,
        }
    )
    assert to_suzhou.kinds(did) == Counter(
        {
            "DistributionClaimAdmitted": 1,
            "DistributionClaimRejected": 1,
            "DistributionPlanIssued": 1,
            "DistributionPlanServed": 2,  # A: the plan, the opposition
            "DistributionWindowClosed": 3,
            "DistributionSuitDecided": 1,
            "DistributionFinalized": 1,
            "DistributionPaidOut": 1,
        }
    )
    assert to_xian.kinds(did) == Counter(
        {
            "DistributionClaimAdmitted": 2,
            "DistributionPlanIssued": 1,
            "DistributionPlanServed": 4,  # B and the bank, twice
            "DistributionWindowClosed": 3,
            "DistributionSuitDecided": 1,
            "DistributionFinalized": 1,
            "DistributionPaidOut": 1,
        }
    )
    served = [e.payload["recipient"] for e in to_xian.of(did, "DistributionPlanServed")]
    assert sorted(key_of(r) for r in served) == sorted([key_of(B), key_of(BANK)] * 2)
    _read_model_matches(services, did)


def _read_model_matches(services: Services, did: str) -> None:
    """The projector's rows: the claims with their decisions, both plan versions with their
    allocations, the objection, opposition and suit, nothing left deposited once paid out."""
    from courtbus.store import ReadModelQueries

    model = ReadModelQueries(services.store_url)
    try:
        row = wait_until(
            lambda: (r := model.distribution(did)) and r.state == "PAID_OUT" and r,
            60,
            "the paid-out distribution in the read model",
        )
        assert (row.presiding_court, row.debtor_form) == (KUNSHAN, "OTHER_ORGANISATION")
        assert {c.claim_id: (c.court_id, c.status) for c in row.claims} == {
            "a1": (SUZHOU, "ADMITTED"),
            "d1": (SUZHOU, "REJECTED"),
            "b1": (XIAN, "ADMITTED"),
            "m1": (XIAN, "ADMITTED"),
            "c1": (KUNSHAN, "ADMITTED"),
        }
        assert [p.version for p in row.plans] == [1, 2] and row.current_plan == 2
        first, final = row.plans
        assert {a.claim_id: a.allocated for a in first.allocations} == {
            "m1": yuan("30000.00"),
            "a1": yuan("5361.56"),
            "b1": yuan("10723.11"),
            "c1": yuan("2680.78"),
        }
        assert {a.claim_id: a.allocated for a in final.allocations} == {
            "m1": yuan("30000.00"),
            "a1": yuan("6361.56"),
            "b1": yuan("9723.11"),
            "c1": yuan("2680.78"),
        }
        assert (first.costs_paid, first.surplus) == (yuan("1234.56"), yuan("0.00"))
        assert [(o.phase, o.court_id) for o in row.objections] == [
            ("OBJECTION", SUZHOU),
            ("OPPOSITION", XIAN),
            ("SUIT", SUZHOU),
        ]
        assert row.objections[0].disputes == (("b1", yuan("3000.00")),)
        assert row.deposits == ()
    finally:
        model.close()


def test_a_handover_asked_after_sixty_days_and_not_made_in_fifteen_is_alerted(
    courts: dict[str, CourtClient], inboxes: dict[str, Inbox], conn: Connection
) -> None:
    did = HANDOVER_ID
    kunshan, suzhou, xian = courts[KUNSHAN], courts[SUZHOU], courts[XIAN]
    alerts = TopicReader(conn, "bus.alerts", from_end=True)
    try:
        sealed = v.now()
        open_and_wait(
            conn, kunshan, did, asset_description="合伙企业名下昆山市某厂房", sealed_at=sealed
        )

        # before the 60 days: refused (the request follows the claim on Xi'an's outbox)
        xian.distribution.file_claim(
            did,
            "m1",
            "(2024)陕01执204号",
            BANK,
            "30000.00",
            claim_class="SECURED",
            rank=1,
            has_title=False,
        )
        early = xian.distribution.request_handover(did, "m1")
        suzhou.distribution.file_claim(did, "o1", "(2024)苏05执103号", A, "10000.00")
        assert dead_letter_code(conn, early.event_id) == "DISTRIBUTION_HANDOVER_TOO_EARLY"
        inboxes[KUNSHAN].wait(did, "DistributionClaimFiled", 2)

        # the 60 days run out; an ordinary creditor's court may not ask even then
        wait_until(
            lambda: v.now() >= sealed + timedelta(seconds=HANDOVER_WAIT_S + 0.5),
            30,
            "the shortened 60 days after the first seal",
        )
        ordinary = suzhou.distribution.request_handover(did, "o1")
        assert dead_letter_code(conn, ordinary.event_id) == "DISTRIBUTION_HANDOVER_NOT_PRIORITY"

        # after them: the request reaches the first sealing court, which does not hand over
        xian.distribution.request_handover(did, "m1")
        (request,) = inboxes[KUNSHAN].wait(did, "DistributionHandoverRequested")
        assert request.payload["claim_id"] == "m1"
        assert request.payload["requesting_court"]["court_id"] == XIAN
        notices = {c: inboxes[c].wait(did, "DistributionNotice")[0] for c in (KUNSHAN, XIAN)}
        for notice in notices.values():
            p = notice.payload
            assert (p["notice"], p["subject"]) == ("HANDOVER_OVERDUE", XIAN)
            assert p["due_at"] is not None and p["sent_at"] >= p["due_at"]
            assert p["due_at"] - request.payload["requested_at"] >= timedelta(seconds=HANDOVER_S)
            assert "法释〔2016〕6号" in p["detail"]
        assert notices[KUNSHAN].payload["court"]["court_id"] == KUNSHAN
        assert notices[XIAN].payload["court"]["court_id"] == XIAN
        fired = alerts.wait_for(lambda r: r.key == did.encode(), timeout_s=30)
        (alert,) = [kunshan.sender.envelope.read(r) for r in fired]
        assert (alert.record, alert.payload["notice"]) == (
            NS + "DistributionNotice",
            "HANDOVER_OVERDUE",
        )

        # late, the first sealing court hands over: the asking court hears of it
        kunshan.distribution.hand_over(did)
        inboxes[XIAN].wait(did, "DistributionHandedOver")
        assert len(inboxes[XIAN].of(did, "DistributionNotice")) == 1  # alerted once
    finally:
        alerts.close()
