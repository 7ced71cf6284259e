"""Issue 21 items 1 and 3 on the real stack: the exact bad inputs the live run saw accepted.

Item 1: a court acting on another court's case number (a restriction from 3205 on a 粤08 case,
a listing from 4408 on a 苏0583 case, a delegation from 320583 on a 粤08 case, a distribution
from 50 on a 苏0583 case) is refused by the gateway with ``CASE_NOT_SENDERS``. Item 3: a
distribution against 湛江某贸易有限公司 (a company: an enterprise legal person) declared
``OTHER_ORGANISATION`` is refused by the distribution service with
``DISTRIBUTION_DEBTOR_FORM_CONTRADICTED``. Each time: the dead letter holds the original bytes,
the sender's inbox gets the ``MessageRejected`` notice, and the valid record sent right after
lands exactly once.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

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
FOREIGN = [  # (record, another court's case number): the four
    ("RestrictionIssued", "(2024)粤08执{n}号"),  # from court 3205
    ("DebtorListed", "(2024)苏0583执{n}号"),  # from court 4408
    ("DelegationRequested", "(2024)粤08执{n}号"),  # from court 320583
    ("DistributionOpened", "(2024)苏0583执{n}号"),  # from court 50
]


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    return start_services("refusals21", which=("gateway", "distribution"))


def _n() -> int:
    return uuid.uuid4().int % 90000 + 10000


def _sample(short: str) -> tuple[str, str, dict[str, Any]]:
    """(court id, record, payload with a fresh entity id) of the sample of ``short``."""
    ((source, _, record, payload),) = [s for s in one_per_flow() if s[2].endswith("." + short)]
    payload = copy.deepcopy(payload)
    payload[KEYS[short]] = f"{payload[KEYS[short]]}-{uuid.uuid4().hex[:8]}"
    return source.split(":", 1)[1], record, payload


def _check_refused(conn: Connection, envelope: Envelope, court: str, bad: Sent, code: str,
                   good: Sent, record: str) -> None:  # fmt: skip
    """The dead letter (code, original bytes), the notice, and the good record once."""
    outbox = f"court.{court}.outbox"
    flow = flow_topic(by_record(record).flow)
    reader = TopicReader(conn, "bus.deadletter", f"court.{court}.inbox", flow, outbox)
    try:
        (sent,) = reader.wait_for(lambda r: r.topic == outbox and r.offset == bad.offset
                                  and r.partition == bad.partition)  # fmt: skip
        (dead,) = reader.wait_for(lambda r: r.topic == "bus.deadletter"
                                  and dict(r.headers).get("ce_id") == bad.event_id.encode())  # fmt: skip
        assert header(dead, "dlq_code") == code
        assert dead.value == sent.value and dead.key == sent.key  # the original bytes
        notices = reader.wait_for(
            lambda r: (
                r.topic == f"court.{court}.inbox"
                and envelope.read(r).payload.get("rejected_event_id") == bad.event_id
            )
        )
        assert envelope.read(notices[0]).payload["error_code"] == code
        reader.wait_for(lambda r: r.topic == flow
                        and dict(r.headers).get("ce_id") == good.event_id.encode())  # fmt: skip
        reader.read_to_end()
        copies = [r for r in reader.records
                  if r.topic == flow and dict(r.headers).get("ce_id") == good.event_id.encode()]  # fmt: skip
        assert len(copies) == 1
        assert not [r for r in reader.records if r.topic == "bus.deadletter"
                    and dict(r.headers).get("ce_id") == good.event_id.encode()]  # fmt: skip
        if code == "CASE_NOT_SENDERS":  # refused at the gateway: never reaches the flow
            assert not [r for r in reader.records if r.topic == flow
                        and dict(r.headers).get("ce_id") == bad.event_id.encode()]  # fmt: skip
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
        case_number=v.case_number(f"(2024)粤08执{_n()}号"), presiding_court=v.court("4408"),
        debtor=v.debtor("ORGANISATION", "湛江某贸易有限公司", FIRM_CODE),
        debtor_form="OTHER_ORGANISATION",
    )  # fmt: skip
    good = {**copy.deepcopy(bad), "debtor_form": "ENTERPRISE_LEGAL_PERSON",
            "distribution_id": f"dist-4408-{uuid.uuid4().hex[:8]}",
            "case_number": v.case_number(f"(2024)粤08执{_n()}号")}  # fmt: skip
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
        assert not [r for r in changes.read_to_end()
                    if (r.key or b"").endswith(bad["distribution_id"].encode())]  # fmt: skip
    finally:
        changes.close()
