"""Issue 21 item 2 on the real stack: a ``ce_id`` reused with another entity is refused.

The live run sent a valid record A (entity X), then record B with A's ``ce_id`` but another
entity Y on another outbox partition: the gateway's memory is per partition, so B was forwarded
and applied in all four flows. Now every ``ce_id`` is bound to its record's key
(``courtbus.wire.event_ids``), and B is refused with ``EVENT_ID_CONFLICT`` whichever partition
it is on. For each flow: B's dead letter holds its original bytes, the sender's inbox gets the
``MessageRejected`` notice, ``bus.alerts`` the alert, B never reaches the flow's topic, and A
and a valid record C sent after B each reach it exactly once.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from kafka import KafkaProducer

from courtbus.bus.topics import flow_topic
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.sdk.sent import Sent
from courtbus.wire.envelope import Envelope
from courtbus.wire.messages import by_record
from tests.builders import one_per_flow
from tests.integration.conftest import StartServices
from tests.integration.helpers import Services, TopicReader, header

pytestmark = pytest.mark.integration
KEYS = {  # the entity id field of each sample record
    "DelegationRequested": "delegation_id",
    "DebtorListed": "entry_id",
    "RestrictionIssued": "control_id",
    "DistributionOpened": "distribution_id",
}


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    return start_services("reusedid", which=("gateway",))


def _sample(short: str) -> tuple[str, str, dict[str, Any]]:
    """(court id, record, payload with a fresh entity id) of the sample of ``short``."""
    ((source, _, record, payload),) = [s for s in one_per_flow() if s[2].endswith("." + short)]
    payload = copy.deepcopy(payload)
    payload[KEYS[short]] = f"{payload[KEYS[short]]}-{uuid.uuid4().hex[:8]}"
    return source.split(":", 1)[1], record, payload


def _ce_id(record: Any) -> bytes | None:
    return dict(record.headers).get("ce_id")


@pytest.mark.parametrize("short", list(KEYS))
def test_a_ce_id_reused_for_another_entity_on_another_partition_is_refused(
    short: str, services: Services, conn: Connection, envelope: Envelope
) -> None:
    court, record, first = _sample(short)
    _, _, other = _sample(short)
    _, _, later = _sample(short)
    outbox, inbox, flow = (
        f"court.{court}.outbox",
        f"court.{court}.inbox",
        flow_topic(by_record(record).flow),
    )
    reader = TopicReader(conn, "bus.deadletter", "bus.alerts", inbox, flow, outbox, from_end=True)
    producer = KafkaProducer(**conn.kafka_settings())
    try:
        with CourtClient(court, conn) as client:
            a = client.send_record(record, first)
            # B: another entity's record carrying A's ce_id, on a partition A is not on
            built = client.sender.envelope.build(outbox, record, other, f"court:{court}")
            reused = a.event_id.encode()
            headers = [
                (k, reused if k in ("ce_id", "ce_correlationid") else v) for k, v in built.headers
            ]
            partitions = sorted(producer.partitions_for(outbox))
            assert len(partitions) > 1, f"{outbox} has one partition: nothing to show"
            target = partitions[(partitions.index(a.partition) + 1) % len(partitions)]
            meta = producer.send(
                outbox, key=built.key, value=built.value, headers=headers, partition=target
            ).get(timeout=30)
            b = Sent(a.event_id, other[KEYS[short]], meta.partition, meta.offset)
            c = client.send_record(record, later)
        assert b.partition != a.partition
        (sent,) = reader.wait_for(
            lambda r: r.topic == outbox and (r.partition, r.offset) == (b.partition, b.offset)
        )
        (dead,) = reader.wait_for(
            lambda r: (
                r.topic == "bus.deadletter"
                and _ce_id(r) == reused
                and header(r, "dlq_offset") == str(b.offset)
            )
        )
        assert header(dead, "dlq_code") == "EVENT_ID_CONFLICT"
        assert "another record key" in (header(dead, "dlq_reason") or "")
        assert dead.value == sent.value and dead.key == sent.key  # the original bytes
        assert dict(dead.headers)["ce_id"] == reused
        (notice,) = reader.wait_for(
            lambda r: (
                r.topic == inbox and envelope.read(r).payload.get("rejected_event_id") == a.event_id
            )
        )
        assert envelope.read(notice).payload["error_code"] == "EVENT_ID_CONFLICT"
        (alert,) = reader.wait_for(
            lambda r: (
                r.topic == "bus.alerts"
                and envelope.read(r).payload.get("source_offset") == b.offset
                and envelope.read(r).payload.get("source_topic") == outbox
            )
        )
        assert envelope.read(alert).payload["code"] == "EVENT_ID_CONFLICT"
        reader.wait_for(lambda r: r.topic == flow and _ce_id(r) == c.event_id.encode())
        reader.read_to_end()
        on_flow = [r for r in reader.records if r.topic == flow]
        assert [r for r in on_flow if _ce_id(r) == reused] and all(
            r.key == a.key.encode() for r in on_flow if _ce_id(r) == reused
        ), "A reaches the flow with its own key, B never does"
        assert sum(_ce_id(r) == reused for r in on_flow) == 1
        assert sum(_ce_id(r) == c.event_id.encode() for r in on_flow) == 1
        assert not [r for r in on_flow if r.key == built.key]
        letters = [r for r in reader.records if r.topic == "bus.deadletter"]
        assert [header(r, "dlq_offset") for r in letters if _ce_id(r) == reused] == [str(b.offset)]
        assert not [r for r in letters if _ce_id(r) == c.event_id.encode()]
    finally:
        producer.close()
        reader.close()
