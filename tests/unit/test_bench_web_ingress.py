"""The REST ingress bench's own logic (``bench.web_ingress``): the records it posts, the outbox
audit, Kafka's and py-spy's output read, a phase's figures. Pure: no broker, no API."""

from __future__ import annotations

import json
import math
import uuid

import pytest

from bench.web_ingress import (
    COURTS,
    RECORD,
    Phase,
    audit,
    by_thread,
    items,
    parse_producer_performance,
    top_frames,
)
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope, bind_event_id
from courtbus.wire.event_ids import bound_to
from courtbus.wire.memory import MemoryRegistry
from courtbus.wire.schemas import SchemaSet

PP_OUT = """\
47853 records sent, 9568.7 records/sec (1.59 MB/sec), 1200.5 ms avg latency, 2011.0 ms max latency.
200000 records sent, 54526.2 records/sec (9.07 MB/sec), 1011.23 ms avg latency, 1300.00 ms max \
latency, 1011 ms 50th, 1200 ms 95th, 1262 ms 99th, 1290 ms 99.9th.
"""


def test_each_record_has_its_own_id_and_the_courts_take_turns() -> None:
    made = items(9, "t")
    assert [i.court for i in made[:5]] == [*COURTS, COURTS[0]]
    assert len({i.event_id for i in made}) == 9
    assert len({i.payload["delegation_id"] for i in made}) == 9
    for item in made:
        uuid.UUID(item.event_id)
        assert item.payload["requesting_court"]["court_id"] == item.court
        assert item.payload["case_number"]["court_id"] == item.court


def test_the_body_is_json_values_with_the_id() -> None:
    item = items(1, "t")[0]
    body = json.loads(item.body())
    assert body["type"] == RECORD and body["id"] == item.event_id
    assert body["payload"]["amount"] == "120000.00"  # a decimal string, as JSON has it
    assert isinstance(body["payload"]["requested_at"], str)


def test_the_sdk_payload_encodes_as_the_schema_wants() -> None:
    item = items(1, "t")[0]
    envelope = Envelope(AvroCodec(SchemaSet.load(), MemoryRegistry(), auto_register=True))
    out = envelope.build(f"court.{item.court}.outbox", RECORD, item.payload, f"court:{item.court}")
    assert out.key == item.payload["delegation_id"].encode()


def test_an_exact_outbox_passes_the_audit() -> None:
    found = audit(["a", "b", "c"], ["c", "a", "b"])
    assert found.exact and (found.expected, found.found) == (3, 3)


def test_the_audit_names_what_is_missing_twice_or_not_sent() -> None:
    found = audit(["a", "b", "c"], ["a", "a", "b", "x"])
    assert not found.exact
    assert found.missing == ["c"] and found.unexpected == ["x"]
    assert found.duplicates == {"a": 2} and found.found == 4


def test_producer_performance_s_last_summary_is_read() -> None:
    pp = parse_producer_performance(PP_OUT)
    assert pp["records"] == 200_000 and pp["rate"] == 54526.2
    assert (pp["p50"], pp["p95"], pp["p99"], pp["p999"]) == (1011, 1200, 1262, 1290)
    assert pp["avg"] == 1011.23 and pp["max"] == 1300


def test_producer_performance_without_a_summary_is_an_error() -> None:
    with pytest.raises(ValueError, match="no ProducerPerformance summary"):
        parse_producer_performance("1000 records sent, 1.0 records/sec (0.00 MB/sec)\n")


RAW = """\
main (a.py:1);loop (a.py:9);parse (h.py:3) 6
main (a.py:1);loop (a.py:10);send (courtbus/x.py:4) 2
Thread._bootstrap (threading.py:1);WorkerThread.run (anyio.py:2);send (courtbus/x.py:5) 1
Thread._bootstrap (threading.py:1);Sender.run (kafka/sender.py:3);poll (kafka/net.py:4) 1
not a sample line
"""


def test_top_frames_merge_lines_of_a_function_and_rank_by_share() -> None:
    total, top = top_frames(RAW, 3)
    assert total == 10
    assert top == [("loop (a.py)", 0.8, 0.0), ("main (a.py)", 0.8, 0.0), ("parse (h.py)", 0.6, 0.6)]
    _, own = top_frames(RAW, 2, by_top=True)
    assert own == [("parse (h.py)", 0.6, 0.6), ("send (courtbus/x.py)", 0.3, 0.3)]
    _, ours = top_frames(RAW, 5, only="courtbus/")
    assert ours == [("send (courtbus/x.py)", 0.3, 0.3)]
    assert top_frames("", 3) == (0, [])


def test_samples_are_shared_out_by_kind_of_thread() -> None:
    shares = by_thread(RAW)
    assert list(shares.values()) == [0.1, 0.1, 0.8]  # sender, worker, event loop
    assert by_thread("") == {}


def test_a_phase_s_rate_percentiles_and_cpu_per_record() -> None:
    phase = Phase("REST", 2, seconds=2.0, latencies_ms=[4.0, 1.0, 3.0, 2.0], cpu_s={"API": 0.004})
    assert phase.rate == 2.0
    assert (phase.pct(0.5), phase.pct(0.99), phase.pct(1.0)) == (2.0, 4.0, 4.0)
    assert phase.cpu_us("API") == pytest.approx(1000.0)
    assert math.isnan(Phase("SDK", 1).cpu_us("API")) and Phase("SDK", 1).rate == 0.0


def test_each_item_is_sent_with_an_id_bound_to_its_key() -> None:
    """The API and the SDK keep a ce_id bound to the record's key and re-make any other, so
    the ids the audit expects are the ones the outbox holds only if they are bound already
    (an unbound one made every record of a run "missing" and "not sent")."""
    batch = items(20, "t")
    assert len({i.event_id for i in batch}) == 20
    assert all(bound_to(i.event_id, str(i.payload["delegation_id"]).encode()) for i in batch)
    assert all(
        bind_event_id(str(i.payload["delegation_id"]).encode(), i.event_id) == i.event_id
        for i in batch
    )
