"""SIGKILL a service mid-stream and restart it: no delegation lost, none delivered twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from courtbus import ops
from courtbus.config import Connection
from courtbus.samples import PERSON_ID
from courtbus.sdk import CourtClient
from tests.integration.helpers import ServiceProcess, TopicReader

pytestmark = pytest.mark.integration
N = 120
READ_DB: list[str] = []


@pytest.fixture(scope="module")
def services(
    conn: Connection, registered: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    ops.apply_topics(conn, ops.plan_topics(conn))
    home = tmp_path_factory.mktemp("crash")
    READ_DB.append(f"sqlite:///{home / 'read.db'}")
    env = {
        "COURTBUS_STORE_URL": READ_DB[0],
        "COURTBUS_PROJECTOR_GROUP": f"projector-{uuid.uuid4().hex[:6]}",
    }
    procs = {
        "projector": ServiceProcess(
            "services.projector", conn, home / "projector.log", "consuming", env
        ),
        "gateway": ServiceProcess(
            "services.gateway", conn, home / "gateway.log", "courtbus-gateway consuming"
        ),
        "delegation": ServiceProcess(
            "services.delegation", conn, home / "delegation.log", "courtbus-delegation consuming"
        ),
    }
    for p in procs.values():
        p.start()
    yield procs
    for p in procs.values():
        p.stop()


@pytest.mark.parametrize("victim", ["delegation", "gateway", "projector"])
def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(
    victim: str, services: dict[str, ServiceProcess], conn: Connection
) -> None:
    tag = uuid.uuid4().hex[:6]
    ids = [f"dlg-crash-{tag}-{i:03d}" for i in range(N)]

    def produce() -> None:
        with CourtClient("3205", conn) as court:
            for did in ids:
                time.sleep(0.025)  # a steady stream, so the kill lands in the middle of it
                court.request_delegation(delegation_id=did, case_number="(2024)苏05执500号", executing_court="6104",
                                         matter="SEARCH", debtor={"kind": "PERSON", "name": "张三", "id_number": PERSON_ID})  # fmt: skip

    sender = threading.Thread(target=produce)
    sender.start()
    time.sleep(1.0)
    assert sender.is_alive(), "the stream must still be flowing when the service is killed"
    services[victim].kill()  # SIGKILL while requests are flowing
    time.sleep(1.0)
    services[victim].start()
    sender.join(timeout=120)

    wanted = set(ids)
    reader = TopicReader(conn, "court.6104.inbox", "court.3205.inbox")
    try:
        reader.wait_for(
            lambda r: r.topic == "court.6104.inbox" and r.key.decode() in wanted,
            count=N,
            timeout_s=90,
        )
        reader.wait_for(
            lambda r: r.topic == "court.3205.inbox" and r.key.decode() in wanted,
            count=N,
            timeout_s=60,
        )
        time.sleep(2)  # anything duplicated would arrive now
        reader.poll()
        delivered = Counter(
            r.key.decode()
            for r in reader.records
            if r.topic == "court.6104.inbox" and r.key.decode() in wanted
        )
        receipts = Counter(
            r.key.decode()
            for r in reader.records
            if r.topic == "court.3205.inbox" and r.key.decode() in wanted
        )
    finally:
        reader.close()
    assert set(delivered) == wanted and set(delivered.values()) == {1}, (
        "each request delivered exactly once"
    )
    assert set(receipts) == wanted and set(receipts.values()) == {1}, (
        "each delivery receipt sent exactly once"
    )
