"""An output to a topic that does not exist stalls no service (issue 22, blocker 2).

Zhanjiang (4408) keeps its outbox but its inbox is deleted, and pbccrc's list feed is deleted,
before seven services start. For each service a record whose output would go there is
dead-lettered with ``OUTPUT_TOPIC_MISSING`` (after the bounded lookups), and a valid record
right behind it comes through within seconds. Before, kafka-python blocked 60 s on the missing
topic's metadata, aborted the transaction and was handed the same batch again, for ever.

The projector is not here: it writes SQL, and its only Kafka outputs are dead letters.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer

from courtbus.app import ops
from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.wire import values as v
from tests.integration.conftest import StartServices
from tests.integration.helpers import Services, TopicReader, header, wait_until

pytestmark = pytest.mark.integration
GHOST, SUZHOU, KUNSHAN, XIAN = "4408", "3205", "320583", "6101"
DELETED = (f"court.{GHOST}.inbox", "agency.pbccrc.blacklist")
MISSING = "OUTPUT_TOPIC_MISSING"
FLOWS_WITHIN_S = 20.0  # a valid record behind a refused one: seconds, not a 60 s stall
PERSON = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
FIRM = {"kind": "ORGANISATION", "name": "湛江某贸易合伙企业", "id_number": FIRM_CODE}


@pytest.fixture(scope="module")
def services(start_services: StartServices, conn: Connection) -> Iterator[Services]:
    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        ops.apply_topics(conn, ops.plan_topics(conn))  # every topic there, then two gone
        admin.delete_topics(list(DELETED))
        wait_until(lambda: not set(DELETED) & set(admin.list_topics()), 30, "the deletion")
        env = {
            "COURTBUS_WATCHDOG_RESTRICTION_GRACE_SECONDS": "2",
            "COURTBUS_WATCHDOG_REPEAT_SECONDS": "60",
        }
        which = (
            "gateway",
            "delegation",
            "blacklist",
            "restriction",
            "distribution",
            "watchdog",
            "feeds",
        )
        yield start_services("missing-outputs", env=env, which=which)
    finally:
        ops.apply_topics(conn, ops.plan_topics(conn))  # the next module finds them again
        admin.close()


@pytest.fixture(scope="module")
def courts(conn: Connection, services: Services) -> Iterator[dict[str, CourtClient]]:
    clients = {c: CourtClient(c, conn) for c in (GHOST, SUZHOU, KUNSHAN, XIAN)}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def dead(conn: Connection, services: Services) -> Iterator[TopicReader]:
    reader = TopicReader(conn, "bus.deadletter")
    yield reader
    reader.close()


def _id(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def _case(court: str) -> str:
    prefix = {GHOST: "粤08", SUZHOU: "苏05", KUNSHAN: "苏0583"}[court]
    return f"(2024){prefix}执{uuid.uuid4().int % 90000 + 10000}号"


def _dead_letter(dead: TopicReader, match: Callable[[Any], bool], what: str) -> Any:
    """The first dead letter ``match`` accepts (waits for it)."""
    return dead.wait_for(match, timeout_s=60)[0]


def _of_event(event_id: str) -> Callable[[Any], bool]:
    return lambda r: header(r, "ce_id") == event_id


def _arrives(reader: TopicReader, key: str, what: str) -> float:
    """Seconds until a record keyed ``key`` arrives on the reader's topics."""
    started = time.monotonic()
    reader.wait_for(lambda r: r.key == key.encode(), timeout_s=60)
    took = time.monotonic() - started
    assert took < FLOWS_WITHIN_S, f"{what} took {took:.1f}s"
    return took


def _request(court: CourtClient, executing: str) -> Any:
    return court.delegation.request_delegation(
        delegation_id=_id("dlg"),
        case_number=_case(court.sender.court.id),
        executing_court=executing,
        matter="SEARCH",
        debtor=PERSON,
    )


def test_gateway_refusal_whose_notice_has_no_inbox(
    conn: Connection, courts: dict[str, CourtClient], dead: TopicReader
) -> None:
    producer = KafkaProducer(**conn.kafka_settings())
    event_id = str(uuid.uuid4())
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_source", f"court:{GHOST}".encode()),
        ("ce_type", b"cn.court.delegation.requested"),
    ]
    producer.send(f"court.{GHOST}.outbox", key=b"x", value=b"\x00garbage", headers=headers)
    producer.flush()
    producer.close()
    letter = _dead_letter(dead, _of_event(event_id), "the garbage's dead letter")
    assert header(letter, "dlq_service") == "bus:gateway" and letter.value == b"\x00garbage"
    inbox = TopicReader(conn, f"court.{XIAN}.inbox", from_end=True)
    try:
        sent = _request(courts[SUZHOU], XIAN)
        _arrives(inbox, sent.key, "a valid request after the refusal")
    finally:
        inbox.close()


def test_delegation_to_a_court_without_an_inbox(
    conn: Connection, courts: dict[str, CourtClient], dead: TopicReader
) -> None:
    inbox = TopicReader(conn, f"court.{XIAN}.inbox", from_end=True)
    try:
        refused = _request(courts[SUZHOU], GHOST)
        letter = _dead_letter(dead, _of_event(refused.event_id), "the request's dead letter")
        assert header(letter, "dlq_code") == MISSING
        assert header(letter, "dlq_service") == "bus:delegation"
        assert f"court.{GHOST}.inbox" in (header(letter, "dlq_reason") or "")
        sent = _request(courts[SUZHOU], XIAN)
        _arrives(inbox, sent.key, "the next request")
    finally:
        inbox.close()
    # the requesting court hears why
    notices = wait_until(
        lambda: [
            e
            for e in courts[SUZHOU].inbox(timeout_s=0.5)
            if e.payload.get("rejected_event_id") == refused.event_id
        ],
        60,
        "the MessageRejected in Suzhou's inbox",
    )
    assert notices[0].payload["error_code"] == MISSING


def _listing(court: CourtClient, eid: str, case: str) -> Any:
    return court.blacklist.list_debtor(
        eid,
        case,
        {"kind": "PERSON", "name": "赵六", "id_number": "320583198801011236"},
        "REFUSED_WITH_ABILITY",
        obligation="给付 5,000.00 元",
        performance="全部未履行",
        conduct="有履行能力而拒不履行",
        title_issuer="人民法院",
        title_number="(2023)苏0583民初7号",
        filed_at=v.now() - timedelta(days=60),
    )


def test_blacklist_drift_report_for_a_court_without_an_inbox(
    conn: Connection, courts: dict[str, CourtClient], dead: TopicReader
) -> None:
    refused = courts[GHOST].blacklist.publish_digest([])
    letter = _dead_letter(dead, _of_event(refused.event_id), "the digest's dead letter")
    assert (header(letter, "dlq_code"), header(letter, "dlq_service")) == (MISSING, "bus:blacklist")
    view = TopicReader(conn, "blacklist.entries", from_end=True)
    try:
        eid = _id("bl-next")
        _listing(courts[SUZHOU], eid, _case(SUZHOU))
        _arrives(view, eid, "the next listing in the national view")
    finally:
        view.close()


def test_restrictions_listing_ban_for_a_court_without_an_inbox(
    conn: Connection, courts: dict[str, CourtClient], dead: TopicReader
) -> None:
    """The issue's case: a listing whose court has no inbox (as `blacklist generate` wrote)."""
    ghost_entry = _id("bl-ghost")
    _listing(courts[GHOST], ghost_entry, _case(GHOST))
    letter = _dead_letter(
        dead,
        lambda r: r.key == ghost_entry.encode() and header(r, "dlq_service") == "bus:restriction",
        "the restriction service's dead letter of the listing",
    )
    assert header(letter, "dlq_code") == MISSING
    assert header(letter, "dlq_topic") == "blacklist.entries"
    controls = TopicReader(conn, "restriction.controls", from_end=True)
    try:
        eid = _id("bl-ok")
        _listing(courts[SUZHOU], eid, _case(SUZHOU))
        _arrives(controls, eid, "the next listing's consumption ban")
    finally:
        controls.close()


def test_feeds_dead_letter_only_the_missing_feed(
    conn: Connection, courts: dict[str, CourtClient], dead: TopicReader
) -> None:
    icbc = TopicReader(conn, "agency.icbc.blacklist", from_end=True)
    try:
        eid = _id("bl-feed")
        _listing(courts[SUZHOU], eid, _case(SUZHOU))
        _arrives(icbc, eid, "the listing on icbc's feed")
    finally:
        icbc.close()
    letter = _dead_letter(
        dead,
        lambda r: r.key == eid.encode() and header(r, "dlq_topic") == "agency.pbccrc.blacklist",
        "the dead letter of pbccrc's copy",
    )
    assert header(letter, "dlq_code") == MISSING and header(letter, "dlq_service") == "bus:feeds"
    assert letter.value  # the projected copy itself, to replay once the feed exists


def test_distribution_claim_for_a_presiding_court_without_an_inbox(
    conn: Connection, courts: dict[str, CourtClient], dead: TopicReader
) -> None:
    view = TopicReader(conn, "distribution.cases", from_end=True)
    inbox = TopicReader(conn, f"court.{KUNSHAN}.inbox", from_end=True)
    try:
        for presiding in (GHOST, KUNSHAN):
            did = _id(f"dist-{presiding}")
            courts[presiding].distribution.open_distribution(
                did,
                _case(presiding),
                FIRM,
                "查封的厂房一处",
                claim_deadline=date(2030, 6, 30),
                debtor_form="OTHER_ORGANISATION",
            )
            view.wait_for(lambda r, d=did: (r.key or b"").endswith(d.encode()), timeout_s=60)
            claim = courts[SUZHOU].distribution.file_claim(
                did, "a1", _case(SUZHOU), PERSON, "1000.00"
            )
            if presiding == GHOST:
                letter = _dead_letter(dead, _of_event(claim.event_id), "the claim's dead letter")
                assert header(letter, "dlq_code") == MISSING
                assert header(letter, "dlq_service") == "bus:distribution"
            else:
                started = time.monotonic()
                inbox.wait_for(lambda r, d=did: (r.key or b"").endswith(d.encode()), 60)
                assert time.monotonic() - started < FLOWS_WITHIN_S
    finally:
        view.close()
        inbox.close()


def test_watchdog_alert_for_a_court_without_an_inbox_goes_to_the_dead_letters(
    conn: Connection, courts: dict[str, CourtClient], dead: TopicReader
) -> None:
    """A timer's output: the alert for the ghost court is dead-lettered itself, its copy on
    bus.alerts still goes."""
    ghost = courts[GHOST]
    case = _case(GHOST)
    ghost.casestatus.file_case(case, debtors=[{**PERSON, "id_type": None, "nationality": None}])
    ghost.restriction.issue_exit_ban(
        _id("rc"), case, PERSON, {"type": "HK_MACAU_PERMIT", "number": "C12345678"}
    )
    ghost.casestatus.conclude_case(case, "PERFORMED", concluded_at=v.now() - timedelta(seconds=5))

    def about_case(r: Any) -> bool:
        return case in (r.key or b"").decode() or header(r, "ce_subject") == case

    alerts = TopicReader(conn, "bus.alerts")
    try:
        letter = _dead_letter(
            dead,
            lambda r: (
                header(r, "dlq_topic") == f"court.{GHOST}.inbox"
                and header(r, "dlq_service") == "bus:watchdog"
                and about_case(r)
            ),
            "the watchdog alert's dead letter",
        )
        assert header(letter, "dlq_code") == MISSING
        alerts.wait_for(lambda r: about_case(r) and header(r, "dlq_code") is None, timeout_s=60)
    finally:
        alerts.close()
