"""The projector flow over a SQLite read model, batches fed as the worker feeds them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from courtbus.bus.topics import BLACKLIST_VIEW, DEADLETTER_TOPIC
from courtbus.errors import TransientError
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.store import ReadModelQueries, ReadModelWriter
from courtbus.synth.blacklist import entry_payloads
from courtbus.wire import values as v
from courtbus.wire.envelope import OutgoingRecord
from services.projector.flow import ProjectorFlow
from tests.builders import one_per_flow

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
EVENTS = "bus.delegation.events"
NS = "cn.court.bus.delegation."
Raw = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'read.db'}"


@pytest.fixture
def harness(db: str) -> Iterator[FlowHarness]:
    model = ReadModelWriter(db)
    model.migrate()
    yield FlowHarness(ProjectorFlow(memory_envelope(), model), start=T0)
    model.close()


def count(db: str, table: str) -> int:
    engine = create_engine(db)
    with engine.connect() as conn:
        found = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    engine.dispose()
    return int(found or 0)


def raw(out: OutgoingRecord) -> Raw:
    return (out.topic, out.key, out.value, out.headers)


def request(h: FlowHarness, did: str) -> OutgoingRecord:
    _, _, record, payload = one_per_flow()[0]
    return h.envelope.build(EVENTS, record, {**payload, "delegation_id": did}, "court:320583")


def decision(
    h: FlowHarness, about: OutgoingRecord, did: str, *, step: str = "DelegationRequested"
) -> OutgoingRecord:
    """The delegation service's decision on ``about``; ``step`` other than the request's
    makes it a decision that does not match its stored step (found only in the database)."""
    payload: dict[str, Any] = {
        "delegation_id": did,
        "step": step,
        "decided_event_id": about.event.id,
        "applied": True,
        "state": "REQUESTED",
        "by_court": "320583",
        "requesting_court": "320583",
        "executing_court": "6101",
        "matter": "FREEZE",
        "start_due": None,
        "report_due": None,
        "error_code": None,
        "reason": None,
        "decided_at": v.now(),
    }
    return h.envelope.build(EVENTS, NS + "DelegationDecided", payload, "bus:delegation")


def entry(h: FlowHarness, index: int) -> OutgoingRecord:
    payload = list(entry_payloads(index + 1))[index]
    return h.envelope.build(
        BLACKLIST_VIEW, "cn.court.bus.blacklist.BlacklistEntry", payload, "bus:blacklist"
    )


def dead_letters(outputs: list[Any]) -> list[tuple[bytes, bytes | None]]:
    return [(dict(o.headers)["dlq_code"], o.key) for o in outputs if o.topic == DEADLETTER_TOPIC]


def test_a_batch_is_written_together(harness: FlowHarness, db: str) -> None:
    records: list[Raw] = []
    for n in range(20):
        req = request(harness, f"d-{n}")
        records += [raw(req), raw(decision(harness, req, f"d-{n}")), raw(entry(harness, n))]
    assert harness.feed_batch(records) == []
    assert count(db, "events") == 40 and count(db, "delegations") == 20
    assert count(db, "blacklist_entries") == 20
    assert harness.feed_batch(records) == []  # a replay: no-ops
    assert count(db, "events") == 40 and count(db, "delegation_history") == 20


def test_a_bad_record_in_a_batch_is_dead_lettered_alone(harness: FlowHarness, db: str) -> None:
    """A decision naming the wrong step fails only against the database, when the batch is
    written: the batch is retried one record at a time, the bad record refused with its own
    code, the others applied; the next batch is written together again."""
    good, bad = request(harness, "d-good"), request(harness, "d-bad")
    wrong = decision(harness, bad, "d-bad", step="DelegationAccepted")
    batch = [
        raw(good),
        raw(decision(harness, good, "d-good")),
        raw(entry(harness, 0)),
        raw(bad),
        raw(wrong),
        raw(entry(harness, 1)),
    ]
    outputs = harness.feed_batch(batch)
    assert dead_letters(outputs) == [(b"DELEGATION_DECISION_MISMATCH", b"d-bad")]
    writer = harness.flow.model  # type: ignore[attr-defined]  # ProjectorFlow's
    queries = ReadModelQueries(writer.database)
    row = queries.delegation("d-good")
    assert row is not None and row.state == "REQUESTED"
    assert (row.kind, row.enforced_suit) == ("MATTER", "(2023)苏0583民初456号")  # from the request
    assert queries.delegation("d-bad") is None
    assert count(db, "events") == 3  # both requests, the good decision
    assert count(db, "blacklist_entries") == 2
    later = request(harness, "d-later")
    assert harness.feed_batch([raw(later), raw(decision(harness, later, "d-later"))]) == []
    assert queries.delegation("d-later") is not None


def test_a_record_refused_by_its_own_checks_leaves_the_batch_whole(
    harness: FlowHarness, db: str
) -> None:
    """A record refused as it comes (here its Avro body) never fails the batch's write."""
    req = request(harness, "d-1")
    broken = (EVENTS, b"d-2", b"\x00\x00\x00\x00\x01garbage", list(req.headers))
    outputs = harness.feed_batch([raw(req), broken, raw(decision(harness, req, "d-1"))])
    assert dead_letters(outputs) == [(b"AVRO_DECODE_FAILED", b"d-2")]
    assert count(db, "events") == 2 and count(db, "delegations") == 1


def test_the_database_down_retries_the_batch(harness: FlowHarness, db: str, tmp_path: Path) -> None:
    """A failed commit is a ``TransientError``: nothing applied, nothing dead-lettered."""
    model = harness.flow.model  # type: ignore[attr-defined]
    failing = ReadModelWriter(f"sqlite:///{tmp_path / 'missing' / 'read.db'}")
    harness.flow.model = failing  # type: ignore[attr-defined]
    req = request(harness, "d-1")
    with pytest.raises(TransientError):
        harness.feed_batch([raw(req)], attempts=2)
    harness.flow.model = model  # type: ignore[attr-defined]
    assert harness.feed_batch([raw(req)]) == []
    assert count(db, "events") == 1
