"""The listing → ban initial load survives a crash exactly once (issue 17, item 6).

A fresh restriction worker meets a backlog of the list's view (entries last changed long ago,
so the bulk path: a task's records of a batch at once, the rest of each fetch carried in the
worker). It is SIGKILLed inside an open transaction while the backlog is half done, then
started again over the same state folder: every ACTIVE entry's ban is in
``restriction.controls`` exactly once (the issue, version 1), a delisted entry has none, and
the group has processed the whole backlog. A carry whose records were committed past, or
read again, would lose a ban or issue one twice.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from kafka import KafkaProducer

from courtbus.config import Connection
from courtbus.synth.blacklist import entry_payloads
from courtbus.wire.client import make_envelope
from courtbus.wire.envelope import Envelope
from tests.integration.conftest import StartServices
from tests.integration.helpers import GroupProgress, Services, TopicReader, wait_until

pytestmark = pytest.mark.integration
VIEW, CONTROLS = "blacklist.entries", "restriction.controls"
GROUP = "courtbus-restriction"
ENTRIES = 4000
# Each transaction stays open 100 ms after "transaction open", so the kill lands inside one;
# a killed worker's partitions move after 6 s, the least the broker allows.
ENV = {"COURTBUS_TEST_HOLD_OPEN_MS": "100", "COURTBUS_SESSION_TIMEOUT_MS": "6000"}


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    return start_services("listing-load", env=ENV, which=("restriction",))


def _write(conn: Connection, envelope: Envelope, seed: int) -> tuple[set[str], set[str]]:
    """A backlog of the view: ``ENTRIES`` entries of ``seed``, one in ten delisted; the ids
    (ACTIVE, DELISTED)."""
    payloads = list(entry_payloads(ENTRIES, seed=seed, courts=["320583", "6101"]))
    delisted = {p["entry_id"] for p in payloads[::10]}
    producer = KafkaProducer(**conn.kafka_settings(), linger_ms=20)
    try:
        for p in payloads:
            if p["entry_id"] in delisted:
                p |= {"status": "DELISTED", "delisted_at": p["updated_at"], "reason": "EXPIRED"}
            out = envelope.build(VIEW, "cn.court.bus.blacklist.BlacklistEntry", p, "bus:blacklist")
            producer.send(VIEW, key=out.key, value=out.value, headers=out.headers)
        producer.flush()
    finally:
        producer.close()
    return {p["entry_id"] for p in payloads} - delisted, delisted


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_load_issues_each_ban_exactly_once(
    conn: Connection, services: Services
) -> None:
    seed = uuid.uuid4().int % 10**6 + 10**6  # entry ids of this run only
    prefix = f"bl-{seed}-".encode()
    envelope = make_envelope(conn, auto_register=True)
    worker = services["restriction"]
    controls = TopicReader(conn, CONTROLS, from_end=True)
    try:
        active, delisted = _write(conn, envelope, seed)

        def half_done() -> bool:
            controls.poll()
            return sum(1 for r in controls.records if r.key.startswith(prefix)) >= ENTRIES // 4

        wait_until(half_done, 120, "a quarter of the backlog's bans")
        opened = worker.count("transaction open")
        wait_until(lambda: worker.count("transaction open") > opened, 30, "an open transaction")
        worker.kill()
        worker.start(timeout_s=120)
        with GroupProgress(conn) as progress:
            wait_until(
                lambda: progress.lag(GROUP, [VIEW]) == [],
                300,
                lambda: f"the backlog processed: {progress.lag(GROUP, [VIEW])}",
            )
        controls.read_to_end(60)
        issued = Counter(
            r.key.decode()
            for r in controls.records
            if r.key.startswith(prefix) and r.value is not None
        )
    finally:
        controls.close()
    assert set(issued) == active and not set(issued) & delisted
    assert [k for k, n in issued.items() if n != 1] == []  # none twice, after the kill too
    assert worker.alive
