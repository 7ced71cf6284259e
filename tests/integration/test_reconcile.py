"""The reconciler on a real stack of its own (issue 20, item 1): after delegations, steps and
garbage flowed through the gateway, the delegation service and the projector, everything
reconciles, with exact counts; a record repeated on purpose into an inbox is counted
duplicated, and one dropped from what was read is counted lost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaProducer

from courtbus.app.reconcile import judge_all, read_all, reconcile
from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.store.queries import ReadModelQueries
from courtbus.wire.client import make_envelope
from tests.integration.helpers import Services, TopicReader, private_stack, wait_until

pytestmark = pytest.mark.integration
PAIRS = (("320583", "6101"), ("4408", "50"), ("3174", "6104"))
REQUESTS = 9  # three per pair
GARBAGE = 2  # not Confluent-framed Avro: dead-lettered by the gateway


@dataclass
class Bus:
    conn: Connection
    services: Services


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bus]:
    home: Path = tmp_path_factory.mktemp("reconcile")
    with private_stack(home / "stack") as (_stack, conn):
        services = Services(conn, home, None, ("gateway", "delegation", "projector"))
        services.start()
        try:
            yield Bus(conn, services)
        finally:
            services.stop()


def _flow(conn: Connection) -> list[str]:
    """Nine requests from three courts, each executing court accepting one of its three, and
    two garbage records in an outbox. The delegation ids."""
    ids: list[str] = []
    clients = {c: CourtClient(c, conn) for pair in PAIRS for c in pair}
    try:
        for n in range(REQUESTS):
            req, exe = PAIRS[n % len(PAIRS)]
            did = f"dlg-rec-{uuid.uuid4().hex[:8]}"
            designation = clients[req].sender.court.designation
            clients[req].delegation.request_delegation(
                delegation_id=did,
                case_number=f"(2024){designation}执{300 + n}号",
                executing_court=exe,
                matter="SEARCH",
                debtor={"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
            )
            ids.append(did)
        for n, did in enumerate(ids[: len(PAIRS)]):
            exe = PAIRS[n % len(PAIRS)][1]
            wait_until(
                lambda did=did, exe=exe: _delivered(conn, exe, did),
                90,
                f"{did} in court {exe}'s inbox",
            )
            clients[exe].delegation.accept(did)
    finally:
        for client in clients.values():
            client.close()
    producer = KafkaProducer(**conn.kafka_settings())
    for n in range(GARBAGE):
        producer.send("court.3174.outbox", key=b"junk", value=b"not avro %d" % n).get(30)
    producer.close()
    return ids


def _delivered(conn: Connection, court: str, did: str) -> bool:
    reader = TopicReader(conn, f"court.{court}.inbox")
    try:
        return any(r.key == did.encode() for r in reader.read_to_end())
    finally:
        reader.close()


def test_everything_reconciles_with_exact_counts_and_a_fault_is_counted(bus: Bus) -> None:
    ids = _flow(bus.conn)
    report = reconcile(bus.conn, bus.services.store_url, wait_s=180)
    by = {(g.flow, g.check): g for g in report.ledgers}
    assert report.ok, [(k, g.samples) for k, g in by.items() if not g.ok]
    # what the courts sent: 9 requests + 3 acceptances (the garbage has no ce_type: flow "?")
    assert (by[("delegation", "gateway")].expected, by[("?", "gateway")].expected) == (12, GARBAGE)
    assert by[("delegation", "decisions")].expected == 12 + REQUESTS  # + the bus's receipts
    assert by[("delegation", "deliveries")].expected == 12 + REQUESTS
    assert by[("delegation", "history in SQL")].present == 12 + REQUESTS
    assert by[("bus", "dead letters in SQL")].present == GARBAGE
    model = ReadModelQueries(bus.services.store_url)
    try:
        assert {r.delegation_id for r in model.delegations()} == set(ids)
    finally:
        model.close()

    # repeated on purpose: one delivered request copied again into its court's inbox
    reader = TopicReader(bus.conn, "court.6101.inbox")
    try:
        copy = next(r for r in reader.read_to_end() if r.key == ids[0].encode())
    finally:
        reader.close()
    producer = KafkaProducer(**bus.conn.kafka_settings())
    producer.send(copy.topic, key=copy.key, value=copy.value, headers=copy.headers).get(30)
    producer.close()
    again = {(g.flow, g.check): g for g in reconcile(bus.conn, bus.services.store_url).ledgers}
    assert (
        again[("delegation", "deliveries")].duplicated,
        again[("delegation", "deliveries")].lost,
    ) == (1, 0)
    assert sum(g.duplicated + g.lost + g.unexpected for g in again.values()) == 1

    # dropped on purpose: one forwarded request removed from what the reconciler read
    topics = read_all(bus.conn)
    events = topics["bus.delegation.events"]
    forwarded = next(
        r
        for r in events
        if r.key == ids[1].encode() and dict(r.headers).get("ce_source", b"").startswith(b"court:")
    )
    topics["bus.delegation.events"] = [r for r in events if r is not forwarded]
    store = ReadModelQueries(bus.services.store_url)
    try:
        judged = {
            (g.flow, g.check): g
            for g in judge_all(make_envelope(bus.conn), topics, store.stored_keys())
        }
    finally:
        store.close()
    assert judged[("delegation", "gateway")].lost == 1
    assert judged[("delegation", "decisions")].unexpected == 1  # its decision names nothing now
