"""Bulk delegation requests through a real broker: 2,000 sent without waiting per record.

Court 3205 (Suzhou intermediate) asks 6104 (Xianyang intermediate) for 2,000 freezes with
``request_delegations``; every one must be in ``court.3205.outbox`` exactly once, where its
``Sent`` says. The rate of bulk against single sends is printed (not asserted: shared CI).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from courtbus.app import ops
from courtbus.app.cli import app
from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.errors import ValidationError
from courtbus.sdk import CourtClient
from courtbus.wire.envelope import Envelope
from tests.integration.helpers import TopicReader

pytestmark = pytest.mark.integration
OUTBOX = "court.3205.outbox"
BULK = 2000
SINGLE = 20


@pytest.fixture(scope="module")
def suzhou(conn: Connection, registered: dict[str, int]) -> Iterator[CourtClient]:
    ops.apply_topics(conn, ops.plan_topics(conn))
    with CourtClient("3205", conn) as client:
        yield client


def _request(run: str, n: int) -> dict[str, Any]:
    return {
        "delegation_id": f"dlg-{run}-{n:05d}",
        "case_number": f"(2024)苏05执{n}号",
        "executing_court": "6104",
        "matter": "FREEZE",
        "debtor": {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
        "asset_kind": "DEPOSIT",
        "amount": "50000.00",
        "freeze_period_days": 365,
    }


def _key(record: Any) -> str:
    return bytes(record.key or b"").decode()


@pytest.mark.timeout(300)
def test_bulk_send_2000_requests_read_back_exactly(
    suzhou: CourtClient, conn: Connection, envelope: Envelope
) -> None:
    run = uuid.uuid4().hex[:8]
    # metadata, schema id: not timed
    suzhou.delegation.request_delegation(**_request(f"{run}-warm", 1))

    started = time.perf_counter()
    for n in range(1, SINGLE + 1):
        suzhou.delegation.request_delegation(**_request(f"{run}-single", n))
    single_rate = SINGLE / (time.perf_counter() - started)

    requests = [_request(f"{run}-bulk", n) for n in range(1, BULK + 1)]
    acknowledged: list[bool] = []
    started = time.perf_counter()
    sent = suzhou.delegation.request_delegations(requests, on_done=acknowledged.append)
    bulk_rate = BULK / (time.perf_counter() - started)
    print(
        f"\nsingle sends: {single_rate:,.0f} msgs/s ({SINGLE} records); "
        f"bulk send: {bulk_rate:,.0f} msgs/s ({BULK} records, validation and encoding "
        f"included); {bulk_rate / single_rate:,.1f}x"
    )

    expected = [r["delegation_id"] for r in requests]
    assert [s.key for s in sent] == expected
    assert len(acknowledged) == BULK and all(acknowledged)
    assert len({s.event_id for s in sent}) == BULK
    assert len({(s.partition, s.offset) for s in sent}) == BULK

    reader = TopicReader(conn, OUTBOX)
    try:
        prefix = f"dlg-{run}-bulk-"
        reader.wait_for(lambda r: _key(r).startswith(prefix), timeout_s=60, count=BULK)
        time.sleep(1)
        reader.poll()  # anything extra (a duplicate) would show up now
        records = [r for r in reader.records if _key(r).startswith(prefix)]
    finally:
        reader.close()
    assert len(records) == BULK
    assert sorted(_key(r) for r in records) == sorted(expected)
    by_position = {(r.partition, r.offset): r for r in records}
    for s in sent:
        event = envelope.read(by_position[(s.partition, s.offset)])
        assert event.key == s.key == event.payload["delegation_id"]
        assert event.headers.id == s.event_id
        assert event.record == "cn.court.bus.delegation.DelegationRequested"
        assert event.payload["requesting_court"]["court_id"] == "3205"
        assert event.payload["executing_court"]["court_id"] == "6104"


@pytest.mark.timeout(300)
def test_cli_send_many(
    suzhou: CourtClient, conn: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "COURTBUS_BOOTSTRAP", conn.bootstrap)
    monkeypatch.setitem(os.environ, "COURTBUS_REGISTRY_URL", conn.registry_url or "")
    run = uuid.uuid4().hex[:8]
    lines = [
        {
            "to": "6104",
            "case": f"(2024)苏05执{n}号",
            "matter": "SEARCH",
            "debtor_name": "张三",
            "debtor_id": PERSON_ID,
            "delegation_id": f"dlg-{run}-cli-{n:03d}",
        }
        for n in range(1, 101)
    ]
    file, out = tmp_path / "requests.jsonl", tmp_path / "sent.jsonl"
    file.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["delegation", "send-many", "--court", "3205", "--file", str(file), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "sent 100 delegation requests from 3205" in result.output
    assert PERSON_ID not in result.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["delegation_id"] for r in rows] == [x["delegation_id"] for x in lines]

    reader = TopicReader(conn, OUTBOX)
    try:
        found = reader.wait_for(lambda r: _key(r).startswith(f"dlg-{run}-cli-"), count=100)
    finally:
        reader.close()
    assert {(r.partition, r.offset) for r in found} == {(r["partition"], r["offset"]) for r in rows}


@pytest.mark.timeout(120)
def test_an_oversized_record_is_refused_before_sending_and_the_client_goes_on(
    suzhou: CourtClient, conn: Connection
) -> None:
    """The SDK checks the gateway's size limit itself: nothing reaches the producer, whose
    later sends go on (kafka-python 3.0's producer failed every send after one broker-refused
    MessageSizeTooLargeError). The valid requests sent just before and after are in the
    outbox exactly once each, and nothing else is."""
    reader = TopicReader(conn, OUTBOX, from_end=True)
    first = suzhou.delegation.request_delegation(**_request("before-big", 4))
    big = {**_request("big", 1), "note": "执" * 100_000}  # ~300 KB of UTF-8
    with pytest.raises(ValidationError) as raised:
        suzhou.delegation.request_delegation(**big)
    assert raised.value.code == "RECORD_TOO_LARGE"
    with pytest.raises(ValidationError) as bulk:
        suzhou.delegation.request_delegations([_request("big", 2), big])
    assert bulk.value.code == "RECORD_TOO_LARGE" and "#1" in bulk.value.reason
    sent = suzhou.delegation.request_delegation(**_request("after-big", 3))
    records = reader.read_to_end()
    assert sorted(_key(r) for r in records) == sorted([first.key, sent.key])  # the bulk: none
