"""Deadline timers survive a SIGKILL: after a restart no notice is sent twice and none is lost."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from courtbus import ops
from courtbus.config import Connection
from courtbus.samples import PERSON_ID
from courtbus.sdk import CourtClient
from tests.integration.helpers import ServiceProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def services(
    conn: Connection, registered: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    ops.apply_topics(conn, ops.plan_topics(conn))
    home = tmp_path_factory.mktemp("timer")
    deadlines = home / "deadlines.yaml"
    deadlines.write_text("default: {start: 10s, report: 120s, warn_before: 6s}\n")
    env = {"COURTBUS_DEADLINES": str(deadlines), "COURTBUS_TICK_SECONDS": "0.5"}
    procs = {
        "gateway": ServiceProcess(
            "services.gateway", conn, home / "gateway.log", "courtbus-gateway consuming", env
        ),
        "delegation": ServiceProcess(
            "services.delegation",
            conn,
            home / "delegation.log",
            "courtbus-delegation consuming",
            env,
        ),
    }
    for p in procs.values():
        p.start()
    yield procs
    for p in procs.values():
        p.stop()


def _notices(court: CourtClient, did: str) -> list[tuple[str, str]]:
    return [
        (e.payload["deadline"], e.payload["notice"])
        for e in court.inbox(timeout_s=1)
        if e.key == did and e.record.endswith("DeadlineNotice")
    ]


def test_notices_are_neither_repeated_nor_lost_across_a_sigkill(
    services: dict[str, ServiceProcess], conn: Connection
) -> None:
    did = f"dlg-timer-{uuid.uuid4().hex[:8]}"
    with CourtClient("3205", conn) as requester, CourtClient("6103", conn) as executor:
        requester.request_delegation(delegation_id=did, case_number="(2024)苏05执600号", executing_court="6103", matter="SEARCH",
                                     debtor={"kind": "PERSON", "name": "张三", "id_number": PERSON_ID})  # fmt: skip
        deadline = time.monotonic() + 45
        while ("START", "WARNING") not in _notices(executor, did):
            assert time.monotonic() < deadline, "no warning"
        services["delegation"].kill()  # after the warning, before the deadline
        time.sleep(1)
        services["delegation"].start()
        deadline = time.monotonic() + 45
        while ("START", "OVERDUE") not in _notices(executor, did):
            assert time.monotonic() < deadline, "no overdue notice after the restart"
        time.sleep(2)  # a repeated warning would show up by now
        assert _notices(executor, did) == [("START", "WARNING"), ("START", "OVERDUE")]
        assert _notices(requester, did) == [("START", "WARNING"), ("START", "OVERDUE")]
