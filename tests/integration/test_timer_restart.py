"""Deadline timers survive a SIGKILL: after a restart no notice is sent twice and none is lost."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.wire.envelope import Envelope
from tests.integration.conftest import StartServices
from tests.integration.helpers import GroupProgress, Services, TopicReader, wait_until

pytestmark = pytest.mark.integration
REQUESTER, EXECUTOR = "court.3205.inbox", "court.6103.inbox"
ALERTS = "bus.alerts"
WARNING, OVERDUE = ("START", "WARNING"), ("START", "OVERDUE")


@pytest.fixture(scope="module")
def services(start_services: StartServices, tmp_path_factory: pytest.TempPathFactory) -> Services:
    home = tmp_path_factory.mktemp("timer")
    deadlines = home / "deadlines.yaml"
    deadlines.write_text("default: {start: 10s, report: 120s, warn_before: 6s}\n")
    env = {"COURTBUS_DEADLINES": str(deadlines), "COURTBUS_TICK_SECONDS": "0.5"}
    return start_services(home, env=env, which=("gateway", "delegation"))


class Notices:
    """The deadline notices about some delegations, by topic, as they are committed."""

    def __init__(self, conn: Connection, envelope: Envelope) -> None:
        self.reader = TopicReader(conn, REQUESTER, EXECUTOR, ALERTS, from_end=True)
        self.envelope = envelope

    def of(self, topic: str, did: str, records: list[Any] | None = None) -> list[tuple[str, str]]:
        if records is None:
            self.reader.poll()
            records = self.reader.records
        mine = [self.envelope.read(r) for r in records if (r.topic, r.key) == (topic, did.encode())]
        return [
            (e.payload["deadline"], e.payload["notice"])
            for e in mine
            if e.record.endswith("DeadlineNotice")
        ]


def _request(court: CourtClient, did: str) -> None:
    court.delegation.request_delegation(
        delegation_id=did,
        case_number="(2024)苏05执600号",
        executing_court="6103",
        matter="SEARCH",
        debtor={"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
    )


def test_notices_are_neither_repeated_nor_lost_across_a_sigkill(
    services: Services, conn: Connection, envelope: Envelope
) -> None:
    did, probe = (f"dlg-timer-{uuid.uuid4().hex[:8]}" for _ in range(2))
    notices = Notices(conn, envelope)
    try:
        with CourtClient("3205", conn) as requester:
            _request(requester, did)
            wait_until(lambda: WARNING in notices.of(EXECUTOR, did), 45, "the warning")
            services["delegation"].kill()  # after the warning, before the deadline
            services["delegation"].start()
            wait_until(lambda: OVERDUE in notices.of(EXECUTOR, did), 60, "the overdue notice")
            # A notice repeated by the restarted worker would come from a tick no later than
            # the one that warns about a delegation requested now (4 s after its delivery).
            _request(requester, probe)
            wait_until(lambda: WARNING in notices.of(EXECUTOR, probe), 45, "the probe's warning")
        with GroupProgress(conn) as progress:
            wait_until(
                lambda: not progress.lag(services.group("delegation"), ["bus.delegation.events"]),
                30,
                "the delegation service to process every event",
                interval_s=0.2,
            )
        records = notices.reader.read_to_end()
    finally:
        notices.reader.close()
    assert notices.of(EXECUTOR, did, records) == [WARNING, OVERDUE]
    assert notices.of(REQUESTER, did, records) == [WARNING, OVERDUE]
    assert notices.of(ALERTS, did, records) == [OVERDUE]  # an alert for an overdue deadline
    for topic in (EXECUTOR, REQUESTER):  # the probe's, so far: none twice
        assert notices.of(topic, probe, records) in ([WARNING], [WARNING, OVERDUE]), topic
