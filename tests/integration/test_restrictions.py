"""Exit and consumption restrictions end to end on the real stack (issue 9): a court's bans
reach nia, caac and rail through the feed router, each with exactly its fields; the agencies'
acknowledgements and an interception reach the court; the case concludes as performed and the
watchdog lists what is still in force; the court lifts everything, the alerts stop and the lift
acknowledgements arrive, and the read model holds it all. A ban rail never acknowledges raises the overdue alert and the negative
receipt; a listing triggers a consumption ban; bad input gets its code and a dead letter.

Shortened: the acknowledgement deadline (8 s), the watchdog's grace for restrictions (2 s) and
its repeat (4 s)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.sdk import AgencyClient, CourtClient
from courtbus.wire import values as v
from courtbus.wire.envelope import Event
from tests.integration.conftest import StartServices
from tests.integration.helpers import (
    Services,
    TopicReader,
    WatchdogAlerts,
    dead_letter_code,
    wait_until,
)

pytestmark = pytest.mark.integration
KUNSHAN, XIAN = "320583", "6101"
REPEAT_S = 4.0
FIRM = {"kind": "ORGANISATION", "name": "昆山某机械有限公司", "id_number": FIRM_CODE}
REP = {"kind": "PERSON", "name": "李四", "id_number": PERSON_ID}
PERMIT = {"type": "HK_MACAU_PERMIT", "number": "C12345678"}
NS = "cn.court.bus.restriction."


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    env = {
        "COURTBUS_RESTRICTION_ACK_SECONDS": "8",
        "COURTBUS_WATCHDOG_RESTRICTION_GRACE_SECONDS": "2",
        "COURTBUS_WATCHDOG_REPEAT_SECONDS": str(REPEAT_S),
    }
    which = ("gateway", "restriction", "feeds", "watchdog", "blacklist", "projector")
    return start_services("restrictions", env=env, which=which)


@pytest.fixture(scope="module")
def kunshan(conn: Connection, services: Services) -> Iterator[CourtClient]:
    with CourtClient(KUNSHAN, conn) as client:
        yield client


@pytest.fixture(scope="module")
def agencies(conn: Connection, services: Services) -> Iterator[dict[str, AgencyClient]]:
    clients = {a: AgencyClient(a, conn) for a in ("nia", "caac", "rail", "icbc")}
    yield clients
    for client in clients.values():
        client.close()


def _id(tag: str) -> str:
    return f"rc-{tag}-{uuid.uuid4().hex[:8]}"


def _case() -> str:
    return f"(2024)苏0583执{uuid.uuid4().int % 90000 + 10000}号"


def _grant(agency: str) -> set[str]:
    (feed,) = [f for f in load_directory().feeds if f.agency == agency and f.flow == "restriction"]
    return set(feed.fields)


def _feed(client: AgencyClient, control_id: str, count: int = 1) -> list[dict[str, Any] | None]:
    """The payloads of ``control_id`` on the agency's restriction feed, once there are ``count``."""

    def found() -> list[dict[str, Any] | None]:
        got = [e.payload for e in client.feed("restriction", timeout_s=1) if e.key == control_id]
        return got if len(got) >= count else []

    return wait_until(found, 60, f"{count} record(s) of {control_id} on {client.agency.id}'s feed")


def _inbox(court: CourtClient, control_id: str, short: str, count: int = 1) -> list[Event]:
    def found() -> list[Event]:
        got = [
            e for e in court.inbox(timeout_s=0.5) if e.key == control_id and e.record == NS + short
        ]
        return got if len(got) >= count else []

    return wait_until(found, 60, f"{count} {short} for {control_id} in the court's inbox")


def test_bans_reach_their_agencies_are_answered_watched_and_lifted(
    services: Services, kunshan: CourtClient, agencies: dict[str, AgencyClient]
) -> None:
    case = _case()
    exit_ban, spend_ban = _id("exit"), _id("spend")
    kunshan.casestatus.file_case(case, debtors=[{**FIRM, "id_type": None, "nationality": None}])
    kunshan.restriction.issue_exit_ban(
        exit_ban, case, REP, PERMIT, role="LEGAL_REPRESENTATIVE", debtor=FIRM
    )
    kunshan.restriction.issue_consumption_ban(
        spend_ban, case, REP, role="LEGAL_REPRESENTATIVE", debtor=FIRM
    )

    # each agency receives exactly its projection, and only the kinds it is granted
    (to_nia,) = _feed(agencies["nia"], exit_ban)
    assert to_nia is not None and set(to_nia) == _grant("nia")
    assert to_nia["travel_document"]["number"] == "C12345678" and "prohibited" not in to_nia
    for agency in ("caac", "rail"):
        (ban,) = _feed(agencies[agency], spend_ban)
        assert ban is not None and set(ban) == _grant(agency), agency
        assert "travel_document" not in ban and "acknowledgements" not in ban
        assert not [
            e for e in agencies[agency].feed("restriction", timeout_s=1) if e.key == exit_ban
        ]
    assert not [e for e in agencies["nia"].feed("restriction", timeout_s=1) if e.key == spend_ban]

    # the answers reach the court
    agencies["nia"].acknowledge(exit_ban, reference="NIA-2024-001")
    agencies["caac"].acknowledge(spend_ban, reference="CAAC-77")
    agencies["rail"].acknowledge(spend_ban, reference="12306-88")
    agencies["nia"].report_interception(exit_ban, "BORDER_PORT", "罗湖口岸")
    (ack,) = _inbox(kunshan, exit_ban, "RestrictionAcknowledged")
    assert ack.payload["reference"] == "NIA-2024-001"
    assert len(_inbox(kunshan, spend_ban, "RestrictionAcknowledged", 2)) == 2
    (stopped,) = _inbox(kunshan, exit_ban, "InterceptionReported")
    assert stopped.payload["location"] == "罗湖口岸"

    # performed: the watchdog lists both bans, until they are lifted
    alerts = WatchdogAlerts(kunshan, case, REPEAT_S)
    kunshan.casestatus.conclude_case(case, "PERFORMED", concluded_at=v.now() - timedelta(seconds=5))
    alerts.wait_listing({f"restriction:{exit_ban}", f"restriction:{spend_ban}"})
    kunshan.restriction.lift_restriction(exit_ban, "PERFORMED")
    kunshan.restriction.lift_restriction(spend_ban, "PERFORMED")
    for agency, control in (("nia", exit_ban), ("caac", spend_ban), ("rail", spend_ban)):
        lifted = _feed(agencies[agency], control, 2)[-1]
        assert lifted is not None and lifted["lifted_at"] is not None
        agencies[agency].acknowledge(control, target="LIFT")
    assert len(_inbox(kunshan, spend_ban, "RestrictionAcknowledged", 4)) == 4
    assert len(_inbox(kunshan, exit_ban, "RestrictionAcknowledged", 2)) == 2

    alerts.quiet()
    _read_model_matches(services, case, exit_ban, spend_ban)


def _read_model_matches(services: Services, case: str, exit_ban: str, spend_ban: str) -> None:
    """The projector's rows: both bans lifted with every answer, the interception, the alerts."""
    from courtbus.store import ReadModelQueries

    model = ReadModelQueries(services.store_url)
    try:

        def answers() -> dict[str, set[tuple[str, str, str]]]:
            rows = {r.control_id: r for r in model.restrictions(court=KUNSHAN)}
            return {
                cid: {(a.agency_id, a.target, a.state) for a in rows[cid].acks}
                for cid in (exit_ban, spend_ban)
                if cid in rows
            }

        done = {
            exit_ban: {("nia", t, "ACKNOWLEDGED") for t in ("ISSUE", "LIFT")},
            spend_ban: {
                (a, t, "ACKNOWLEDGED") for a in ("caac", "rail") for t in ("ISSUE", "LIFT")
            },
        }
        wait_until(lambda: answers() == done, 60, lambda: f"{answers()} != {done}")
        row = model.restriction(exit_ban)
        assert row is not None and (row.status, row.lift_reason) == ("LIFTED", "PERFORMED")
        assert (row.person_id, row.document_number) == (PERSON_ID, "C12345678")
        assert [(i.agency_id, i.location) for i in row.interceptions] == [("nia", "罗湖口岸")]
        refs = {(a.agency_id, a.target): a.reference for a in row.acks}
        assert refs[("nia", "ISSUE")] == "NIA-2024-001"
        listed = wait_until(
            lambda: [a for a in model.watchdog_alerts(court=KUNSHAN) if a.case_number == case],
            60,
            "the watchdog's alerts",
        )
        assert {f"restriction:{exit_ban}", f"restriction:{spend_ban}"} <= {
            i["item_id"] for a in listed for i in a.items
        }
    finally:
        model.close()


def test_a_ban_rail_never_acknowledges_raises_the_alert_and_the_negative_receipt(
    kunshan: CourtClient, agencies: dict[str, AgencyClient], conn: Connection
) -> None:
    control = _id("g-seat")
    kunshan.restriction.issue_consumption_ban(
        control, _case(), {**REP, "name": "王五"}, prohibited=["HIGH_SPEED_RAIL"]
    )
    _feed(agencies["rail"], control)
    (receipt,) = _inbox(kunshan, control, "RestrictionNotice")
    assert (receipt.payload["notice"], receipt.payload["agency_id"]) == ("ACK_OVERDUE", "rail")
    alerts = TopicReader(conn, "bus.alerts")
    try:
        found = alerts.wait_for(lambda r: r.key.decode().startswith(control), timeout_s=30)
        assert [r.key.decode() for r in found] == [f"{control}:rail:ISSUE"]
    finally:
        alerts.close()


def test_a_listing_triggers_a_consumption_ban(
    kunshan: CourtClient, agencies: dict[str, AgencyClient]
) -> None:
    eid = f"bl-rc-{uuid.uuid4().hex[:8]}"
    kunshan.blacklist.list_debtor(
        eid,
        _case(),
        {"kind": "PERSON", "name": "赵六", "id_number": "320583198801011236"},
        "REFUSED_WITH_ABILITY",
        obligation="给付 5,000.00 元",
        performance="全部未履行",
        conduct="有履行能力而拒不履行",
        title_issuer="江苏省昆山市人民法院",
        title_number="(2023)苏0583民初7号",
        filed_at=v.now() - timedelta(days=60),
    )
    (ban,) = _feed(agencies["caac"], eid)
    assert ban is not None and ban["kind"] == "CONSUMPTION_BAN"
    assert ban["issuing_court"]["court_id"] == KUNSHAN and ban["lifted_at"] is None


def test_bad_input_gets_its_code_and_a_dead_letter(
    kunshan: CourtClient, agencies: dict[str, AgencyClient], conn: Connection, services: Services
) -> None:
    case = _case()
    control = _id("bad")
    kunshan.restriction.issue_consumption_ban(control, case, {**REP, "name": "孙七"})
    _feed(agencies["caac"], control)
    with CourtClient(XIAN, conn) as xian:
        other = xian.send_record(
            NS + "RestrictionLifted",
            {
                "control_id": control,
                "issuing_court": v.court(XIAN),
                "lifted_at": v.now(),
                "reason": "PERFORMED",
                "note": None,
            },
        )
    assert dead_letter_code(conn, other.event_id) == "RESTRICTION_NOT_ISSUER"
    assert (
        dead_letter_code(conn, agencies["icbc"].acknowledge(control))
        == "RESTRICTION_AGENCY_NOT_ENTITLED"
    )
    assert (
        dead_letter_code(conn, agencies["caac"].acknowledge(_id("nowhere")))
        == "RESTRICTION_UNKNOWN"
    )
    no_person = kunshan.send_record(
        NS + "RestrictionIssued",
        {
            "control_id": _id("org"),
            "case_number": v.case_number(case),
            "issuing_court": v.court(KUNSHAN),
            "kind": "EXIT_BAN",
            "subject": {**FIRM, "id_type": None, "nationality": None},
            "travel_document": None,
            "agencies": [],
            "issued_at": v.now(),
            "effective_from": v.now().date(),
            "effective_until": None,
            "reason": "未履行",
            "role": "DEBTOR",
            "debtor": None,
            "document": None,
            "prohibited": [],
        },
    )
    assert dead_letter_code(conn, no_person.event_id) == "RESTRICTION_NO_PERSON"
    kunshan.restriction.lift_restriction(control, "PERFORMED")
    _feed(agencies["caac"], control, 2)
    late = kunshan.restriction.decide_exemption(
        control,
        "ex-1",
        True,
        kinds=["PREMIUM_TRANSPORT"],
        valid_from=v.now(),
        valid_until=v.now() + timedelta(days=3),
        reason="就医",
    )
    assert dead_letter_code(conn, late.event_id) == "RESTRICTION_NOT_ACTIVE"
    assert all(services[name].alive for name in ("gateway", "restriction", "feeds"))


def test_a_backlog_of_the_list_reaches_the_agencies_each_ban_once(
    conn: Connection, agencies: dict[str, AgencyClient], services: Services
) -> None:
    """Entries last changed long ago, written to the list's view as a fresh service over an
    existing list meets them: the restriction worker takes them in bulk, caac's feed gets the
    ban of every ACTIVE one, exactly once, and none for a delisted one."""
    from courtbus.synth.blacklist import entry_payloads
    from courtbus.wire.client import make_envelope, make_producer

    seed = uuid.uuid4().int % 10**6 + 1000  # entry ids of this run only
    payloads = list(entry_payloads(300, seed=seed, courts=[KUNSHAN, XIAN]))
    delisted = {p["entry_id"] for p in payloads[::10]}
    for p in payloads:
        if p["entry_id"] in delisted:
            p |= {"status": "DELISTED", "delisted_at": p["updated_at"], "reason": "PERFORMED"}
    envelope = make_envelope(conn, auto_register=True)
    producer = make_producer(conn)
    try:
        for p in payloads:
            out = envelope.build(
                "blacklist.entries", "cn.court.bus.blacklist.BlacklistEntry", p, "bus:blacklist"
            )
            producer.send("blacklist.entries", key=out.key, value=out.value, headers=out.headers)
        producer.flush()
    finally:
        producer.close()
    active = {p["entry_id"] for p in payloads} - delisted

    def fed() -> list[Any]:
        got = [
            e
            for e in agencies["caac"].feed("restriction", timeout_s=1)
            if e.key and e.key.startswith(f"bl-{seed}-")
        ]
        return got if {e.key for e in got} >= active else []

    got = wait_until(fed, 120, f"caac's feed to hold the bans of {len(active)} entries")
    assert sorted(e.key for e in got) == sorted(active)  # each once, no delisted one
    assert all(
        e.payload["kind"] == "CONSUMPTION_BAN" and e.payload["lifted_at"] is None for e in got
    )
    assert services["restriction"].alive
