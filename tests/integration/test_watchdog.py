"""Case status and the "not lifted" watchdog on the real stack (report:380-386): a case with a
list entry and a delegated freeze is concluded as performed; the watchdog alerts the handling
court with both, again after the (shortened) repeat, and stops once both are lifted; a resumed
case stops its alerts; bad statuses are refused with their codes.

The freeze's grace and the repeat are shortened (2 s, 4 s); the list entry's grace is the law's
3 working days, so the cases are concluded ten days ago."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.wire import values as v
from tests.integration.conftest import StartServices
from tests.integration.helpers import (
    Services,
    WatchdogAlerts,
    dead_letter_code,
    wait_until,
)

pytestmark = pytest.mark.integration
KUNSHAN, XIAN = "320583", "6101"
REPEAT_S = 4.0
DEBTOR = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    env = {
        "COURTBUS_WATCHDOG_FREEZE_GRACE_SECONDS": "2",
        "COURTBUS_WATCHDOG_REPEAT_SECONDS": str(REPEAT_S),
    }
    return start_services(
        "watchdog", env=env, which=("gateway", "blacklist", "delegation", "watchdog")
    )


@pytest.fixture(scope="module")
def courts(conn: Connection, services: Services) -> Iterator[dict[str, CourtClient]]:
    clients = {c: CourtClient(c, conn) for c in (KUNSHAN, XIAN)}
    yield clients
    for client in clients.values():
        client.close()


def _case() -> str:
    return f"(2024)苏0583执{uuid.uuid4().int % 90000 + 10000}号"


def _list(court: CourtClient, case: str) -> str:
    eid = f"wd-{uuid.uuid4().hex[:10]}"
    court.blacklist.list_debtor(
        eid,
        case,
        DEBTOR,
        "REFUSED_WITH_ABILITY",
        obligation="给付 10,000.00 元",
        performance="全部未履行",
        conduct="有履行能力而拒不履行",
        title_issuer="江苏省昆山市人民法院",
        title_number="(2023)苏0583民初9号",
        filed_at=v.now() - timedelta(days=90),
    )
    return eid


def test_a_performed_case_is_watched_until_everything_is_lifted(
    courts: dict[str, CourtClient], conn: Connection
) -> None:
    kunshan, xian = courts[KUNSHAN], courts[XIAN]
    case = _case()
    kunshan.casestatus.file_case(case, filed_at=v.now() - timedelta(days=100))
    eid = _list(kunshan, case)
    did = f"wd-dg-{uuid.uuid4().hex[:8]}"
    kunshan.delegation.request_delegation(
        delegation_id=did,
        case_number=case,
        executing_court=XIAN,
        matter="FREEZE",
        debtor=DEBTOR,
        asset_kind="DEPOSIT",
        freeze_period_days=365,
    )
    wait_until(lambda: any(e.key == did for e in xian.inbox(timeout_s=0.5)), 60, "the request")
    xian.delegation.accept(did)
    xian.delegation.complete(
        did, "冻结银行存款", measure_until=datetime.now(UTC) + timedelta(days=300)
    )
    alerts = WatchdogAlerts(kunshan, case, REPEAT_S)
    kunshan.casestatus.conclude_case(case, "PERFORMED", concluded_at=v.now() - timedelta(days=10))

    both = alerts.wait_listing({f"blacklist:{eid}", f"freeze:{did}"}).payload
    assert both["court"]["court_id"] == KUNSHAN and PERSON_ID not in both["detail"]
    numbers = [e.payload["alert_number"] for e in alerts.wait(both["alert_number"] + 1)]
    assert numbers == list(range(1, len(numbers) + 1))  # repeated until lifted, counted

    kunshan.blacklist.delist(eid, "PERFORMED")
    kunshan.delegation.request_release(did, "案件已执行完毕")
    wait_until(
        lambda: any(
            e.key == did and e.record.endswith("ReleaseRequested")
            for e in xian.inbox(timeout_s=0.5)
        ),
        60,
        "the release request",
    )
    xian.delegation.report_released(did, "已解除冻结")
    alerts.quiet()
    last = alerts.poll()[-1].payload
    assert last["alert_number"] >= 2

    # a conclusion cannot follow a conclusion
    again = kunshan.casestatus.conclude_case(case, "PERFORMED")
    assert dead_letter_code(conn, again.event_id) == "CASE_ILLEGAL_TRANSITION"


def test_a_resumed_case_stops_its_alerts_and_only_its_court_speaks_for_it(
    courts: dict[str, CourtClient], conn: Connection
) -> None:
    kunshan = courts[KUNSHAN]
    case = _case()
    _list(kunshan, case)
    alerts = WatchdogAlerts(kunshan, case, REPEAT_S)
    kunshan.casestatus.conclude_case(case, "PERFORMED", concluded_at=v.now() - timedelta(days=10))
    alerts.wait(1)
    kunshan.casestatus.resume_case(case, f"(2024)苏0583执恢{uuid.uuid4().int % 9000 + 1000}号")
    alerts.quiet()
    stranger = courts[XIAN].send_record(
        "cn.court.bus.casestatus.CaseConcluded",
        {
            "case_number": v.case_number(case),
            "court": v.court(XIAN),
            "outcome": "PERFORMED",
            "concluded_at": v.now(),
        },
    )
    # the gateway refuses it first: the case number carries Kunshan's 代字 (issue 21 item 1);
    # the watchdog's own CASE_NOT_HANDLING_COURT stays behind it (unit tests)
    assert dead_letter_code(conn, stranger.event_id) == "CASE_NOT_SENDERS"
