"""Issue 21 items 1, 3, 4 and 5 on the real stack: the exact bad inputs the live run saw accepted.

Item 1: a court acting on another court's case number (a restriction from 3205 on a 粤08 case,
a listing from 4408 on a 苏0583 case, a delegation from 320583 on a 粤08 case, a distribution
from 50 on a 苏0583 case) is refused by the gateway with ``CASE_NOT_SENDERS``. Item 3: a
distribution against 湛江某贸易有限公司 (a company: an enterprise legal person) declared
``OTHER_ORGANISATION`` is refused by the distribution service with
``DISTRIBUTION_DEBTOR_FORM_CONTRADICTED``. Item 4: a debtor's credit code with the letter I
(``9I110000100000000R``, in a DebtorListed and a DistributionOpened), produced raw into the
outbox as the SDK would encode it (the SDK's own check refuses it before sending), is refused
by the gateway with ``CREDIT_CODE_INVALID``, not ``INTERNAL_ERROR``. Item 5: an exit ban naming
``agencies = ["fbi"]`` is refused by the restriction service with
``RESTRICTION_AGENCY_UNKNOWN``, one naming caac (an agency of the directory that enforces
consumption bans, not exit bans) with ``RESTRICTION_AGENCY_NOT_ENTITLED``. Each time: the dead
letter holds the original bytes, the sender's inbox gets the ``MessageRejected`` notice naming
the code, and the valid record sent right after lands exactly once (in its flow topic, and in
the service's state where a service holds it).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaProducer

from courtbus.app.samples import FIRM_CODE, one_per_flow
from courtbus.bus.topics import flow_topic
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.sdk.sent import Sent
from courtbus.wire import values as v
from courtbus.wire.envelope import Envelope
from courtbus.wire.messages import by_record
from tests.integration.conftest import StartServices
from tests.integration.helpers import Services, TopicReader, header

pytestmark = pytest.mark.integration
KEYS = {  # the entity id field of each sample record
    "DelegationRequested": "delegation_id",
    "DebtorListed": "entry_id",
    "RestrictionIssued": "control_id",
    "DistributionOpened": "distribution_id",
}
GATEWAY_CODES = {"CASE_NOT_SENDERS", "CREDIT_CODE_INVALID"}  # the gateway's refusals here
BAD_USCC = "9I110000100000000R"  # issue 21 item 4: I is not in GB 32100's alphabet
FOREIGN = [  # (record, another court's case number): the four
    ("RestrictionIssued", "(2024)粤08执{n}号"),  # from court 3205
    ("DebtorListed", "(2024)苏0583执{n}号"),  # from court 4408
    ("DelegationRequested", "(2024)粤08执{n}号"),  # from court 320583
    ("DistributionOpened", "(2024)苏0583执{n}号"),  # from court 50
]


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    return start_services("refusals21", which=("gateway", "distribution", "restriction"))


@pytest.fixture(scope="module")
def producer(conn: Connection) -> Iterator[KafkaProducer]:
    p = KafkaProducer(**conn.kafka_settings(), acks="all")
    yield p
    p.close()


def _n() -> int:
    return uuid.uuid4().int % 90000 + 10000


def _sample(short: str) -> tuple[str, str, dict[str, Any]]:
    """(court id, record, payload with a fresh entity id) of the sample of ``short``."""
    ((source, _, record, payload),) = [s for s in one_per_flow() if s[2].endswith("." + short)]
    payload = copy.deepcopy(payload)
    payload[KEYS[short]] = f"{payload[KEYS[short]]}-{uuid.uuid4().hex[:8]}"
    return source.split(":", 1)[1], record, payload


def _check_refused(
    conn: Connection, envelope: Envelope, court: str, bad: Sent, code: str, good: Sent, record: str
) -> None:
    """The dead letter (code, original bytes), the notice, and the good record once."""
    outbox = f"court.{court}.outbox"
    flow = flow_topic(by_record(record).flow)
    reader = TopicReader(conn, "bus.deadletter", f"court.{court}.inbox", flow, outbox)
    try:
        (sent,) = reader.wait_for(
            lambda r: r.topic == outbox and r.offset == bad.offset and r.partition == bad.partition
        )
        (dead,) = reader.wait_for(
            lambda r: (
                r.topic == "bus.deadletter"
                and dict(r.headers).get("ce_id") == bad.event_id.encode()
            )
        )
        assert header(dead, "dlq_code") == code
        assert dead.value == sent.value and dead.key == sent.key  # the original bytes
        notices = reader.wait_for(
            lambda r: (
                r.topic == f"court.{court}.inbox"
                and envelope.read(r).payload.get("rejected_event_id") == bad.event_id
            )
        )
        assert envelope.read(notices[0]).payload["error_code"] == code
        reader.wait_for(
            lambda r: r.topic == flow and dict(r.headers).get("ce_id") == good.event_id.encode()
        )
        reader.read_to_end()
        copies = [
            r
            for r in reader.records
            if r.topic == flow and dict(r.headers).get("ce_id") == good.event_id.encode()
        ]
        assert len(copies) == 1
        assert not [
            r
            for r in reader.records
            if r.topic == "bus.deadletter"
            and dict(r.headers).get("ce_id") == good.event_id.encode()
        ]
        if code in GATEWAY_CODES:  # refused at the gateway: never reaches the flow
            assert not [
                r
                for r in reader.records
                if r.topic == flow and dict(r.headers).get("ce_id") == bad.event_id.encode()
            ]
    finally:
        reader.close()


@pytest.mark.parametrize(("short", "case"), FOREIGN, ids=[f[0] for f in FOREIGN])
def test_a_court_acting_on_another_courts_case_is_refused(
    short: str, case: str, services: Services, conn: Connection, envelope: Envelope
) -> None:
    court, record, good = _sample(short)
    _, _, bad = _sample(short)
    bad["case_number"] = v.case_number(case.format(n=_n()))
    with CourtClient(court, conn) as client:
        refused = client.send_record(record, bad)
        accepted = client.send_record(record, good)
    _check_refused(conn, envelope, court, refused, "CASE_NOT_SENDERS", accepted, record)


def test_a_company_declared_an_other_organisation_is_refused(
    services: Services, conn: Connection, envelope: Envelope
) -> None:
    _, record, bad = _sample("DistributionOpened")
    bad.update(
        case_number=v.case_number(f"(2024)粤08执{_n()}号"),
        presiding_court=v.court("4408"),
        debtor=v.debtor("ORGANISATION", "湛江某贸易有限公司", FIRM_CODE),
        debtor_form="OTHER_ORGANISATION",
    )
    good = {
        **copy.deepcopy(bad),
        "debtor_form": "ENTERPRISE_LEGAL_PERSON",
        "distribution_id": f"dist-4408-{uuid.uuid4().hex[:8]}",
        "case_number": v.case_number(f"(2024)粤08执{_n()}号"),
    }
    with CourtClient("4408", conn) as client:
        refused = client.send_record(record, bad)
        accepted = client.send_record(record, good)
    _check_refused(
        conn, envelope, "4408", refused, "DISTRIBUTION_DEBTOR_FORM_CONTRADICTED", accepted, record
    )
    # the valid opening is held by the distribution service, once
    changes = TopicReader(conn, "bus.distribution.distributions.changelog")
    try:
        changes.wait_for(lambda r: (r.key or b"").endswith(good["distribution_id"].encode()))
        assert not [
            r
            for r in changes.read_to_end()
            if (r.key or b"").endswith(bad["distribution_id"].encode())
        ]
    finally:
        changes.close()


def _send_raw(
    producer: KafkaProducer, envelope: Envelope, court: str, record: str, payload: dict[str, Any]
) -> Sent:
    """Encode ``payload`` as the SDK does (bound ce_id, registry schema id) and produce it
    into the court's outbox without the SDK's checks."""
    out = envelope.build(f"court.{court}.outbox", record, payload, f"court:{court}")
    meta = producer.send(out.topic, key=out.key, value=out.value, headers=out.headers).get(
        timeout=10
    )
    return Sent(out.event.id, (out.key or b"").decode(), meta.partition, meta.offset)


@pytest.mark.parametrize("short", ["DebtorListed", "DistributionOpened"])
def test_a_credit_code_with_the_letter_i_is_refused_by_the_gateway(
    short: str,
    services: Services,
    conn: Connection,
    envelope: Envelope,
    producer: KafkaProducer,
) -> None:
    court, record, good = _sample(short)
    _, _, bad = _sample(short)
    # built by hand: v.debtor checks the code, as the SDK does before sending
    bad["debtor"] = {**bad["debtor"], "id_number": BAD_USCC}
    refused = _send_raw(producer, envelope, court, record, bad)
    accepted = _send_raw(producer, envelope, court, record, good)
    _check_refused(conn, envelope, court, refused, "CREDIT_CODE_INVALID", accepted, record)
    assert services["gateway"].alive


AGENCIES = [(["fbi"], "RESTRICTION_AGENCY_UNKNOWN"), (["caac"], "RESTRICTION_AGENCY_NOT_ENTITLED")]


@pytest.mark.parametrize(("named", "code"), AGENCIES, ids=[a[1] for a in AGENCIES])
def test_an_exit_ban_naming_an_unknown_or_unentitled_agency_is_refused(
    named: list[str], code: str, services: Services, conn: Connection, envelope: Envelope
) -> None:
    court, record, good = _sample("RestrictionIssued")  # an exit ban of 3205, naming nia
    _, _, bad = _sample("RestrictionIssued")
    bad["agencies"] = named
    with CourtClient(court, conn) as client:
        refused = client.send_record(record, bad)
        accepted = client.send_record(record, good)
    _check_refused(conn, envelope, court, refused, code, accepted, record)
    # the restriction service holds the valid ban in its view, once, and not the refused one
    controls = TopicReader(conn, "restriction.controls")
    try:
        controls.wait_for(lambda r: r.key == good["control_id"].encode())
        assert not [r for r in controls.read_to_end() if r.key == bad["control_id"].encode()]
    finally:
        controls.close()
    assert services["restriction"].alive
