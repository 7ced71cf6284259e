"""The delegation flow end to end: courts (SDK) → gateway → delegation service → inboxes.

Four courts in three provinces run every path of the state machine through the real broker,
registry and services; deadlines are shortened to seconds so the overdue path runs too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from courtbus.app import ops
from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.bus.deadletters import DeadLetter, read_dead_letters
from courtbus.catalogue.directory import DEFAULT_PATH as DEFAULT_DIRECTORY
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.wire import values as v
from courtbus.wire.envelope import Event
from tests.integration.conftest import StartServices
from tests.integration.helpers import Services, TopicReader, header, wait_until

pytestmark = pytest.mark.integration
NS = "cn.court.bus.delegation."
# delegation id -> (end state, steps the read model applied, in order); filled by the path tests
EXPECTED: dict[str, tuple[str, list[str]]] = {}
READ_DB: list[str] = []
DIRECTORIES: list[Path] = []  # the services' directory file, and a fixed one that adds court 3206
COURTS = ("320583", "3205", "6101", "4408", "50")  # Jiangsu, Shaanxi, Guangdong, Chongqing
# lapse_warn_before: a freeze ending in 20 s is warned 12 s before its end; EVICT (only the
# files test asks it) has 4 s to supply materials and 8 s to send the files back after a return
SHORT_DEADLINES = (
    "default: {start: 8s, report: 16s, warn_before: 4s, lapse_warn_before: 12s}\n"
    "matters: {EVICT: {start: 60s, report: 120s, warn_before: 4s, supply: 4s, files_back: 8s}}\n"
)


@pytest.fixture(scope="module")
def services(start_services: StartServices, tmp_path_factory: pytest.TempPathFactory) -> Services:
    home = tmp_path_factory.mktemp("flow")
    deadlines = home / "deadlines.yaml"
    deadlines.write_text(SHORT_DEADLINES)
    gateway_directory = home / "directory.yaml"
    gateway_directory.write_text(DEFAULT_DIRECTORY.read_text(encoding="utf-8"), encoding="utf-8")
    fixed = home / "directory-fixed.yaml"
    fixed.write_text(
        DEFAULT_DIRECTORY.read_text(encoding="utf-8").replace(
            "  # Shanghai\n",
            '  - {id: "3206", designation: 苏06, name: 江苏省南通市中级人民法院, province: 江苏省, level: intermediate}\n  # Shanghai\n',
        ),
        encoding="utf-8",
    )
    DIRECTORIES.extend([gateway_directory, fixed])
    env = {
        "COURTBUS_DEADLINES": str(deadlines),
        "COURTBUS_TICK_SECONDS": "0.5",
        "COURTBUS_DIRECTORY": str(gateway_directory),
    }
    services = start_services(home, env=env)
    READ_DB.append(services.store_url)
    return services


@pytest.fixture(scope="module")
def courts(conn: Connection, services: Services) -> Iterator[dict[str, CourtClient]]:
    clients = {c: CourtClient(c, conn) for c in COURTS}
    yield clients
    for client in clients.values():
        client.close()


def _id(tag: str) -> str:
    return f"dlg-{tag}-{uuid.uuid4().hex[:8]}"


def _person() -> dict[str, str]:
    return {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}


def _firm() -> dict[str, str]:
    return {"kind": "ORGANISATION", "name": "湛江某贸易有限公司", "id_number": FIRM_CODE}


def wait_inbox(
    client: CourtClient,
    delegation_id: str,
    count: int,
    timeout_s: float = 45,
    notices: bool = False,
) -> list[Event]:
    """The events about one delegation in a court's inbox, once there are ``count``.

    Deadline notices only with ``notices``: the deadlines here are seconds, so a warning may
    fall between the steps of a path on a busy machine (the late path tests the notices).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = [
            e
            for e in client.inbox(timeout_s=1)
            if (e.payload.get("delegation_id") == delegation_id or e.key == delegation_id)
            and (notices or not e.record.endswith("DeadlineNotice"))
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def kinds(events: list[Event]) -> list[str]:
    return [e.record.rsplit(".", 1)[1] for e in events]


def test_completed_path(courts: dict[str, CourtClient]) -> None:
    did = _id("done")
    req, exe = courts["320583"], courts["6101"]
    req.delegation.request_delegation(
        delegation_id=did,
        case_number="(2024)苏0583执100号",
        executing_court="6101",
        matter="FREEZE",
        debtor=_person(),
        asset_kind="DEPOSIT",
        amount="50000.00",
        freeze_period_days=365,
        kind="MATTER",
        enforced_suit="(2023)苏0583民初7号",
    )
    delivered = wait_inbox(exe, did, 1)
    assert kinds(delivered) == ["DelegationRequested"]
    assert (delivered[0].payload["kind"], delivered[0].payload["enforced_suit"]) == (
        "MATTER",
        "(2023)苏0583民初7号",
    )
    assert kinds(wait_inbox(req, did, 1)) == ["DelegationDelivered"]
    exe.delegation.accept(did, handler="王法官")
    exe.delegation.report_progress(did, "已冻结 30,000.00 元", "30000.00")
    exe.delegation.complete(did, "冻结完毕", "50000.00")
    receipts = wait_inbox(req, did, 4)
    assert kinds(receipts) == [
        "DelegationDelivered",
        "DelegationAccepted",
        "DelegationProgressReported",
        "DelegationCompleted",
    ]
    assert str(receipts[-1].payload["amount_executed"]) == "50000.00"
    EXPECTED[did] = (
        "COMPLETED",
        ["Requested", "Delivered", "Accepted", "ProgressReported", "Completed"],
    )


def test_materials_failed_and_cancelled_paths(courts: dict[str, CourtClient]) -> None:
    rejected, failed, cancelled = _id("mat"), _id("fail"), _id("cancel")
    courts["4408"].delegation.request_delegation(
        delegation_id=rejected,
        case_number="(2024)粤08执7号",
        executing_court="50",
        matter="SEARCH",
        debtor=_firm(),
    )
    courts["50"].delegation.request_delegation(
        delegation_id=failed,
        case_number="(2024)渝执9号",
        executing_court="4408",
        matter="SEIZE",
        debtor=_firm(),
        asset_kind="VEHICLE",
    )
    courts["320583"].delegation.request_delegation(
        delegation_id=cancelled,
        case_number="(2024)苏0583执101号",
        executing_court="6101",
        matter="SEARCH",
        debtor=_person(),
    )
    wait_inbox(courts["50"], rejected, 1)
    # the executing court may not refuse (不得拒绝): it asks for what is missing (补正)
    courts["50"].delegation.request_materials(rejected, ["被执行人财产线索"], "请补充财产线索")
    wait_inbox(courts["4408"], failed, 1)
    courts["4408"].delegation.accept(failed)
    courts["4408"].delegation.fail(failed, "ASSET_GONE", "车辆已灭失")
    wait_inbox(courts["6101"], cancelled, 1)
    courts["320583"].delegation.cancel(cancelled, "已和解")
    assert kinds(wait_inbox(courts["4408"], rejected, 2)) == [
        "DelegationDelivered",
        "DelegationMaterialsRequested",
    ]
    courts["4408"].delegation.supply_materials(rejected, "已补充银行账户线索")
    assert kinds(wait_inbox(courts["50"], rejected, 2)) == [
        "DelegationRequested",
        "DelegationMaterialsSupplied",
    ]
    assert kinds(wait_inbox(courts["50"], failed, 3)) == [
        "DelegationDelivered",
        "DelegationAccepted",
        "DelegationFailed",
    ]
    assert kinds(wait_inbox(courts["6101"], cancelled, 2)) == [
        "DelegationRequested",
        "DelegationCancelled",
    ]
    EXPECTED[rejected] = (
        "DELIVERED",
        ["Requested", "Delivered", "MaterialsRequested", "MaterialsSupplied"],
    )
    EXPECTED[failed] = ("FAILED", ["Requested", "Delivered", "Accepted", "Failed"])
    EXPECTED[cancelled] = ("CANCELLED", ["Requested", "Delivered", "Cancelled"])


def test_cancelled_while_in_progress(courts: dict[str, CourtClient]) -> None:
    did = _id("midway")
    courts["6101"].delegation.request_delegation(
        delegation_id=did,
        case_number="(2024)陕01执66号",
        executing_court="320583",
        matter="FREEZE",
        debtor=_person(),
        asset_kind="IMMOVABLE",
        freeze_period_days=1095,
    )
    wait_inbox(courts["320583"], did, 1)
    courts["320583"].delegation.accept(did)
    courts["320583"].delegation.report_progress(did, "已查封房产一处")
    assert kinds(wait_inbox(courts["6101"], did, 3)) == [
        "DelegationDelivered",
        "DelegationAccepted",
        "DelegationProgressReported",
    ]
    courts["6101"].delegation.cancel(did, "申请执行人撤回申请")
    assert kinds(wait_inbox(courts["320583"], did, 2)) == [
        "DelegationRequested",
        "DelegationCancelled",
    ]
    EXPECTED[did] = (
        "CANCELLED",
        ["Requested", "Delivered", "Accepted", "ProgressReported", "Cancelled"],
    )


def test_illegal_steps_are_refused_with_codes(
    courts: dict[str, CourtClient], conn: Connection
) -> None:
    did = _id("illegal")
    courts["4408"].delegation.request_delegation(
        delegation_id=did,
        case_number="(2024)粤08执8号",
        executing_court="50",
        matter="SEARCH",
        debtor=_firm(),
    )
    wait_inbox(courts["50"], did, 1)
    third = courts["6101"].delegation.accept(did)  # a third court answering
    refusal = courts["50"].send_record(  # the SDK no longer offers it: 受托法院不得拒绝
        NS + "DelegationRejected",
        {
            "delegation_id": did,
            "executing_court": v.court("50"),
            "rejected_at": v.now(),
            "reason_code": "NO_ASSETS",
            "reason": "未发现财产",
        },
    )
    early = courts["50"].delegation.complete(did, "完成")  # completing before accepting
    courts["4408"].delegation.cancel(did, "撤回")
    wait_inbox(courts["50"], did, 2)  # the cancellation arrived
    late = courts["50"].delegation.complete(did, "完成")  # completing a cancelled delegation
    reader = TopicReader(conn, "bus.deadletter")
    try:
        for sent, code in (
            (third, "DELEGATION_WRONG_COURT"),
            (refusal, "DELEGATION_REFUSAL_NOT_ALLOWED"),
            (early, "DELEGATION_ILLEGAL_TRANSITION"),
            (late, "DELEGATION_ILLEGAL_TRANSITION"),
        ):
            dead = reader.wait_for(
                lambda r, s=sent: dict(r.headers).get("ce_id") == s.event_id.encode(), timeout_s=45
            )
            assert header(dead[0], "dlq_code") == code
    finally:
        reader.close()
    notices = [
        e
        for e in courts["50"].inbox(timeout_s=2)
        if e.record.endswith("MessageRejected") and e.payload["rejected_event_id"] == late.event_id
    ]
    assert [n.payload["error_code"] for n in notices] == ["DELEGATION_ILLEGAL_TRANSITION"]
    assert kinds(wait_inbox(courts["50"], did, 2)) == [
        "DelegationRequested",
        "DelegationCancelled",
    ]
    EXPECTED[did] = ("CANCELLED", ["Requested", "Delivered", "Cancelled"])


def test_unanswered_request_gets_warning_then_overdue_notices(
    courts: dict[str, CourtClient], conn: Connection
) -> None:
    did = _id("late")
    courts["320583"].delegation.request_delegation(
        delegation_id=did,
        case_number="(2024)苏0583执102号",
        executing_court="4408",
        matter="SEARCH",
        debtor=_person(),
    )
    notices = [
        e
        for e in wait_inbox(courts["4408"], did, 5, timeout_s=60, notices=True)
        if e.record.endswith("DeadlineNotice")
    ]
    seen = [(e.payload["deadline"], e.payload["notice"]) for e in notices]
    assert seen[:2] == [("START", "WARNING"), ("START", "OVERDUE")]
    assert ("REPORT", "OVERDUE") in seen
    req_notices = [
        e
        for e in wait_inbox(courts["320583"], did, 5, timeout_s=30, notices=True)
        if e.record.endswith("DeadlineNotice")
    ]
    assert [(e.payload["deadline"], e.payload["notice"]) for e in req_notices] == seen
    reader = TopicReader(conn, "bus.alerts")
    try:
        alerts = reader.wait_for(lambda r: r.key == did.encode(), count=2)
        assert len(alerts) == 2  # each overdue deadline raised once
    finally:
        reader.close()
    EXPECTED[did] = ("DELIVERED", ["Requested", "Delivered"])


def test_a_returned_case_delegation_owes_its_files_back_in_15_days(
    courts: dict[str, CourtClient], conn: Connection
) -> None:
    """法释〔2011〕11号 (2020 修正) 第九条: after the 高级人民法院 approved a return, the files go
    back within 15 days (8 s here): warned, alerted when overdue, settled by the report."""
    did = _id("files")
    courts["320583"].delegation.request_delegation(
        delegation_id=did,
        case_number="(2024)苏0583执103号",
        executing_court="6101",
        matter="EVICT",
        kind="CASE",
        debtor=_person(),
    )
    wait_inbox(courts["6101"], did, 1)
    courts["6101"].delegation.request_materials(did, ["腾退房屋的权属证明"], "请补充权属证明")

    def overdue(client: CourtClient, deadline: str) -> bool:
        return any(
            e.payload.get("deadline") == deadline and e.payload["notice"] == "OVERDUE"
            for e in wait_inbox(client, did, 1, timeout_s=1, notices=True)
        )

    wait_until(lambda: overdue(courts["6101"], "SUPPLY"), 60, "the supply deadline overdue")
    courts["6101"].delegation.return_delegation(did, "逾期未补办", approved_at=datetime.now(UTC))
    wait_until(lambda: overdue(courts["320583"], "FILES"), 60, "the files deadline overdue")
    files = [
        (e.payload["notice"], e.payload["deadline"])
        for e in wait_inbox(courts["6101"], did, 1, timeout_s=5, notices=True)
        if e.record.endswith("DeadlineNotice") and e.payload["deadline"] == "FILES"
    ]
    assert files == [("WARNING", "FILES"), ("OVERDUE", "FILES")]
    reader = TopicReader(conn, "bus.alerts")
    try:
        alerts = reader.wait_for(lambda r: r.key == did.encode(), count=2)
        assert len(alerts) == 2  # SUPPLY and FILES overdue, each once
        courts["6101"].delegation.report_files_returned(
            did, "委托法院逾期未补办，退回委托", tracking="EMS1234"
        )
        again = courts["6101"].delegation.report_files_returned(did, "再次报告")
        dead = TopicReader(conn, "bus.deadletter")
        try:
            found = dead.wait_for(lambda r: dict(r.headers).get("ce_id") == again.event_id.encode())
            assert header(found[0], "dlq_code") == "DELEGATION_FILES_NOT_OWED"
        finally:
            dead.close()
    finally:
        reader.close()
    assert kinds(wait_inbox(courts["320583"], did, 4)) == [
        "DelegationDelivered",
        "DelegationMaterialsRequested",
        "DelegationReturned",
        "DelegationFilesReturned",
    ]
    EXPECTED[did] = (
        "RETURNED",
        ["Requested", "Delivered", "MaterialsRequested", "Returned", "FilesReturned"],
    )


def test_escalation_to_the_superior_court(courts: dict[str, CourtClient]) -> None:
    """15 days (here 8 s) unstarted: the requesting court escalates to the executing court's
    superior (320583 → 3205), which orders execution by a date; both courts hear the answer."""
    did = _id("escalate")
    asker, kunshan, suzhou = courts["6101"], courts["320583"], courts["3205"]
    asker.delegation.request_delegation(
        delegation_id=did,
        case_number="(2024)陕01执67号",
        executing_court="320583",
        matter="SEARCH",
        debtor=_person(),
    )
    wait_inbox(kunshan, did, 1)

    def start_overdue() -> bool:
        return any(
            e.payload.get("deadline") == "START" and e.payload.get("notice") == "OVERDUE"
            for e in wait_inbox(asker, did, 1, timeout_s=1, notices=True)
        )

    wait_until(start_overdue, 60, "the START overdue notice")
    asker.delegation.escalate(did, "320583", "受托法院收到委托函件十五日内未执行")
    assert kinds(wait_inbox(suzhou, did, 1)) == ["DelegationEscalated"]
    assert "DelegationEscalated" in kinds(wait_inbox(kunshan, did, 2))
    limit = datetime.now(UTC) + timedelta(hours=1)
    suzhou.delegation.answer_escalation(
        did, "ORDERED", "指令昆山法院于一小时内执行", execute_by=limit
    )
    answered = [e for e in wait_inbox(asker, did, 2) if e.record.endswith("EscalationAnswered")]
    assert [e.payload["decision"] for e in answered] == ["ORDERED"]
    assert "DelegationEscalationAnswered" in kinds(wait_inbox(kunshan, did, 3))
    EXPECTED[did] = ("DELIVERED", ["Requested", "Delivered", "Escalated", "EscalationAnswered"])


def test_a_freeze_is_renewed_after_its_lapse_warning(courts: dict[str, CourtClient]) -> None:
    """A completed freeze ending in 20 s is warned 12 s before; renewed before its end, it is
    not reported lapsed when the old end passes."""
    did = _id("renew")
    req, exe = courts["320583"], courts["6101"]
    req.delegation.request_delegation(
        delegation_id=did,
        case_number="(2024)苏0583执106号",
        executing_court="6101",
        matter="FREEZE",
        debtor=_person(),
        asset_kind="DEPOSIT",
        freeze_period_days=365,
    )
    wait_inbox(exe, did, 1)
    exe.delegation.accept(did)
    old_end = datetime.now(UTC) + timedelta(seconds=20)
    exe.delegation.complete(did, "冻结完毕", measure_until=old_end)

    def lapse_notices(kind: str) -> list[Event]:
        return [
            e
            for e in wait_inbox(req, did, 1, timeout_s=1, notices=True)
            if e.payload.get("deadline") == "LAPSE" and e.payload.get("notice") == kind
        ]

    wait_until(lambda: lapse_notices("WARNING"), 30, "the LAPSE warning")
    req.delegation.request_renewal(did, 365, "申请续冻")
    assert "DelegationRenewalRequested" in kinds(wait_inbox(exe, did, 2))
    exe.delegation.report_renewed(did, datetime.now(UTC) + timedelta(days=365), "已续冻一年")
    assert kinds(wait_inbox(req, did, 4))[-1] == "DelegationRenewed"
    # the old end passes: no lapse (the timers tick every 0.5 s)
    wait_until(lambda: datetime.now(UTC) > old_end + timedelta(seconds=5), 40, "the old end")
    assert lapse_notices("OVERDUE") == []
    assert len(lapse_notices("WARNING")) == 1
    EXPECTED[did] = (
        "COMPLETED",
        ["Requested", "Delivered", "Accepted", "Completed", "RenewalRequested", "Renewed"],
    )


def test_regional_policy_refusal_reaches_the_sender(
    courts: dict[str, CourtClient], conn: Connection
) -> None:
    from courtbus.errors import ValidationError

    did = _id("policy")
    # Chongqing freezes a housing fund for 1 year at most (regional.yaml, report:796-798)
    ask: dict[str, Any] = {
        "delegation_id": did,
        "case_number": "(2024)苏0583执103号",
        "executing_court": "50",
        "matter": "FREEZE",
        "debtor": _person(),
        "asset_kind": "HOUSING_FUND",
        "freeze_period_days": 366,
    }
    with pytest.raises(ValidationError) as info:  # the SDK checks the regional rules first
        courts["320583"].delegation.request_delegation(**ask)
    assert info.value.code == "POLICY_FREEZE_TOO_LONG"
    with CourtClient("320583", conn) as unchecked:  # a client without the rule files sends it
        unchecked.sender.policies = None
        sent = unchecked.delegation.request_delegation(**ask)

    def notices() -> list[Event]:
        return [
            e
            for e in courts["320583"].inbox(timeout_s=1)
            if e.record.endswith("MessageRejected")
            and e.payload["rejected_event_id"] == sent.event_id
        ]

    found = wait_until(notices, 45, "the MessageRejected notice")
    assert [n.payload["error_code"] for n in found] == ["POLICY_FREEZE_TOO_LONG"]
    assert found[0].headers.source == "bus:gateway"
    assert "report:796-798" in found[0].payload["reason"]  # the refusal names its source
    assert wait_inbox(courts["50"], did, 1, timeout_s=3) == []  # never delivered


def test_a_case_handing_over_a_measure_with_under_a_month_left_is_refused(
    courts: dict[str, CourtClient], conn: Connection
) -> None:
    """法释〔2011〕11号 (2020 修正) 第六条第三款: renewed first, or the hand-over is refused; the
    gateway refuses what a client that skips the check sends, and the valid request after it
    is delivered once."""
    from courtbus.errors import ValidationError

    client = courts["320583"]
    bad_id, good_id = _id("handover-short"), _id("handover-ok")
    soon = datetime.now(UTC) + timedelta(days=10)

    def ask(did: str, until: datetime) -> dict[str, Any]:
        return {
            "delegation_id": did,
            "case_number": "(2024)苏0583执107号",
            "executing_court": "6101",
            "matter": "EVICT",
            "kind": "CASE",
            "debtor": _person(),
            "handed_over_measures": [
                {"measure": "SEAL", "asset_description": "昆山市某路1号房产", "until": until}
            ],
        }

    with pytest.raises(ValidationError) as info:
        client.delegation.request_delegation(**ask(bad_id, soon))
    assert info.value.code == "DELEGATION_MEASURE_NOT_RENEWED"
    # a client that skips the check: the payload of a valid request, its seal's term cut short
    payload = client.delegation._request_payload(
        client.delegation.check_request(**ask(bad_id, soon + timedelta(days=300)))
    )
    payload["handed_over_measures"][0]["until"] = soon
    bad = client.send_record(NS + "DelegationRequested", payload)
    good = client.delegation.request_delegation(
        **ask(good_id, datetime.now(UTC) + timedelta(days=300))
    )
    outbox = "court.320583.outbox"
    reader = TopicReader(conn, "bus.deadletter", outbox)
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
        assert header(dead, "dlq_code") == "DELEGATION_MEASURE_NOT_RENEWED"
        assert dead.value == sent.value and dead.key == sent.key  # the original bytes
    finally:
        reader.close()
    rejected = wait_until(
        lambda: [
            e
            for e in client.inbox(timeout_s=1)
            if e.record.endswith("MessageRejected")
            and e.payload["rejected_event_id"] == bad.event_id
        ],
        45,
        "the MessageRejected notice",
    )
    assert "第六条第三款" in rejected[0].payload["reason"]
    delivered = wait_inbox(courts["6101"], good_id, 1)
    assert [e.headers.id for e in delivered] == [good.event_id]
    assert delivered[0].payload["handed_over_measures"][0]["measure"] == "SEAL"
    assert wait_inbox(courts["6101"], bad_id, 1, timeout_s=3) == []  # never delivered
    EXPECTED[good_id] = ("DELIVERED", ["Requested", "Delivered"])


def test_sdk_refuses_bad_input_before_sending(
    courts: dict[str, CourtClient], tmp_path: Path
) -> None:
    from courtbus.errors import ValidationError

    cases = [
        ({"case_number": "(2024)苏0583民1号"}, "CASE_NUMBER_TYPE_CODE"),
        ({"debtor": {**_person(), "id_number": PERSON_ID[:-1] + "0"}}, "RESIDENT_ID_INVALID"),
        ({"amount": "1.001"}, "MONEY_INVALID"),
        ({"executing_court": "320583"}, "DELEGATION_SELF"),
        ({"executing_court": "1101"}, "COURT_UNKNOWN"),
        ({"matter": "TELEPORT"}, "REQUEST_INVALID"),
        ({"kind": "CASE"}, "DELEGATION_KIND_NOT_ALLOWED"),  # a SEARCH (第二条第二款)
        ({"enforced_suit": "(2023)苏0583执1号"}, "SUIT_NUMBER_INVALID"),
    ]
    base = {
        "case_number": "(2024)苏0583执104号",
        "executing_court": "6101",
        "matter": "SEARCH",
        "debtor": _person(),
    }
    for change, code in cases:
        with pytest.raises(ValidationError) as info:
            courts["320583"].delegation.request_delegation(**{**base, **change})
        assert info.value.code == code, change


def _cli(conn: Connection, *args: str) -> str:
    env = {
        **os.environ,
        "COURTBUS_BOOTSTRAP": conn.bootstrap,
        "COURTBUS_REGISTRY_URL": conn.registry_url or "",
        "COURTBUS_DIRECTORY": str(DIRECTORIES[1]),
        "COURTBUS_STORE_URL": READ_DB[0],
        "COLUMNS": "250",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "courtbus", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _poll(check: Callable[[], bool], timeout_s: float = 45) -> None:
    wait_until(check, timeout_s, interval_s=0.5)


def test_cli_and_dead_letter_replay_after_the_directory_is_fixed(
    services: Services, conn: Connection
) -> None:
    """A request to a court the bus does not know yet is dead-lettered; once the directory
    adds the court, `courtbus dlq replay` re-submits it and it is delivered."""
    did = _id("nantong")
    sent = _cli(
        conn,
        "delegation",
        "send",
        "--as",
        "320583",
        "--to",
        "3206",
        "--case",
        "(2024)苏0583执105号",
        "--matter",
        "SEARCH",
        "--debtor-name",
        "张三",
        "--debtor-id",
        PERSON_ID,
        "--delegation-id",
        did,
    )
    event_id = sent.split("(event ")[1].split(")")[0]
    found: list[DeadLetter] = []
    _poll(
        lambda: bool(
            found.extend(
                d for d in read_dead_letters(conn, timeout_s=1) if d.header("ce_id") == event_id
            )
            or found
        )
    )
    letter = found[0]
    assert letter.code == "COURT_UNKNOWN"
    assert "COURT_UNKNOWN" in _cli(conn, "dlq", "show", letter.ref)
    assert letter.ref in _cli(conn, "dlq", "list", "--code", "COURT_UNKNOWN")

    # fix the bus side: the directory gains Nantong, its topics are created, the gateway reloads
    ops.apply_topics(conn, ops.plan_topics(conn, directory=DIRECTORIES[1]))
    reloads = services["gateway"].count("directory/policy reloaded")
    DIRECTORIES[0].write_text(DIRECTORIES[1].read_text(encoding="utf-8"), encoding="utf-8")
    _poll(lambda: services["gateway"].count("directory/policy reloaded") > reloads)
    assert "replayed" in _cli(conn, "dlq", "replay", letter.ref)

    _poll(lambda: did in _cli(conn, "inbox", "3206"))
    assert "DelegationRequested" in _cli(conn, "inbox", "3206")
    _poll(lambda: "DELIVERED" in _cli(conn, "delegation", "show", did))
    listed = _cli(conn, "delegation", "list", "--court", "3206")
    assert did in listed and PERSON_ID not in listed


def test_read_model_matches_the_end_state_exactly(services: Services) -> None:
    """Every delegation of this module, its state, its history and the refused steps, in SQL."""
    from courtbus.store import ReadModelQueries

    model = ReadModelQueries(READ_DB[0])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = {did: model.delegation(did) for did in EXPECTED}
            if all(r is not None and r.state == EXPECTED[did][0] for did, r in rows.items()):
                break
            time.sleep(0.5)
        for did, (state, steps) in EXPECTED.items():
            row = model.delegation(did)
            assert row is not None and row.state == state, (did, row)
            applied = [h.record.removeprefix("Delegation") for h in model.history(did) if h.applied]
            assert applied == steps, did
            assert PERSON_ID not in repr(row)  # personal data is masked in SQL
        # the refused steps are in the history too, with their codes, and changed nothing
        illegal = next(did for did in EXPECTED if did.startswith("dlg-illegal"))
        refused = [(h.record, h.error_code) for h in model.history(illegal) if not h.applied]
        assert sorted(refused) == sorted(
            [
                ("DelegationAccepted", "DELEGATION_WRONG_COURT"),
                ("DelegationRejected", "DELEGATION_REFUSAL_NOT_ALLOWED"),
                ("DelegationCompleted", "DELEGATION_ILLEGAL_TRANSITION"),
                ("DelegationCompleted", "DELEGATION_ILLEGAL_TRANSITION"),
            ]
        )
        codes = {d.code for d in model.dead_letters()}
        assert {
            "DELEGATION_WRONG_COURT",
            "DELEGATION_ILLEGAL_TRANSITION",
            "POLICY_FREEZE_TOO_LONG",
        } <= codes
        late = next(did for did in EXPECTED if did.startswith("dlg-late"))
        assert {a.kind for a in model.alerts() if a.delegation_id == late} == {
            "START_OVERDUE",
            "REPORT_OVERDUE",
        }
        files = next(did for did in EXPECTED if did.startswith("dlg-files"))
        assert {a.kind for a in model.alerts() if a.delegation_id == files} == {
            "SUPPLY_OVERDUE",
            "FILES_OVERDUE",
        }
        assert len(EXPECTED) == 11  # every path of this module is checked
    finally:
        model.close()
