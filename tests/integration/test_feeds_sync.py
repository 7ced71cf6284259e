"""The feed router and an agency's SQL mirror against the real broker and registry: entries
written to ``blacklist.entries`` reach ``agency.icbc.blacklist`` with only icbc's fields and a
group's list with only its members' entries; ``AgencyClient.sync`` bootstraps, follows
delistings, tombstones and new entries, and resumes from its offsets after a restart."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect

from courtbus.config import Connection
from courtbus.sdk import AgencyClient
from courtbus.wire import values as v
from courtbus.wire.client import make_envelope, make_producer, send_many
from courtbus.wire.envelope import Envelope, OutgoingRecord
from courtbus.wire.events import EventHeaders
from tests.integration.conftest import StartServices
from tests.integration.helpers import MirrorSync, TopicReader, mirror_rows

pytestmark = pytest.mark.integration

VIEW = "blacklist.entries"
ENTRY = "cn.court.bus.blacklist.BlacklistEntry"
PERSON_ID = "320583199303121234"  # valid checksum; not a real person
COURTS = ("3205", "320583", "4408", "4409", "4417", "6101")
WEST = {"4408", "4409", "4417"}
ICBC = [
    "entry_id",
    "case_number",
    "listing_court",
    "debtor",
    "ground",
    "period_months",
    "listed_at",
    "delisted_at",
    "reason",
]


def _entry(eid: str, n: int, status: str) -> dict[str, Any]:
    t = v.now()
    delisted = status == "DELISTED"
    return {
        "entry_id": eid,
        "status": status,
        "case_number": v.case_number(f"(2024)苏05执{n + 1}号"),
        "listing_court": v.court(COURTS[n % len(COURTS)]),
        "debtor": v.debtor("PERSON", "张三", PERSON_ID),
        "legal_representative": None,
        "legal_representative_id": None,
        "ground": "REFUSED_WITH_ABILITY",
        "serious": False,
        "period_months": None,
        "obligation": "支付人民币 1,000.00 元",
        "performance": "全部未履行",
        "conduct": "有履行能力而拒不履行",
        "title_issuer": "江苏省苏州市中级人民法院",
        "title_number": f"(2023)苏05民初{n + 1}号",
        "filed_at": t - timedelta(days=90),
        "listed_at": t,
        "expires_at": None,
        "updated_at": t,
        "delisted_at": t if delisted else None,
        "reason": "PERFORMED" if delisted else None,
        "version": 1,
    }


@dataclass
class View:
    """What the test wrote to the view and the active set it expects."""

    envelope: Envelope
    producer: Any
    run: str
    active: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)

    def eid(self, n: int) -> str:
        return f"fs-{self.run}-{n:04d}"

    def put(self, numbers: range | list[int], status: str = "ACTIVE") -> None:
        records = []
        for n in numbers:
            eid = self.eid(n)
            records.append(
                self.envelope.build(VIEW, ENTRY, _entry(eid, n, status), "bus:blacklist")
            )
            self.written.add(eid)
            (self.active.add if status == "ACTIVE" else self.active.discard)(eid)
        send_many(self.producer, records, timeout_s=30)

    def tombstone(self, numbers: list[int]) -> None:
        event = EventHeaders.new("bus:blacklist", "cn.court.blacklist.entry")
        records = [
            OutgoingRecord(VIEW, self.eid(n).encode(), None, [], event)  # type: ignore[arg-type]
            for n in numbers
        ]
        send_many(self.producer, records, timeout_s=30)
        self.active -= {self.eid(n) for n in numbers}


@pytest.fixture
def view(conn: Connection, registered: dict[str, int]) -> Iterator[View]:
    envelope = make_envelope(conn)
    producer = make_producer(conn)
    yield View(envelope, producer, uuid.uuid4().hex[:8])
    producer.close()
    envelope.codec.registry.close()  # type: ignore[attr-defined]


def until_mirror(syncing: MirrorSync, view: View) -> None:
    syncing.wait_for(f"fs-{view.run}-", view.active)


def test_feed_projection_group_and_a_resuming_mirror(
    conn: Connection, view: View, start_services: StartServices, tmp_path: Path
) -> None:
    services = start_services("feeds", which=("feeds",))
    prefix = f"fs-{view.run}-"
    view.put(range(300))
    view.put([n for n in range(300) if n % 10 == 0], status="DELISTED")  # 30 delisted
    url = f"sqlite:///{tmp_path / 'icbc.db'}"

    first = MirrorSync(conn, "icbc", url)
    until_mirror(first, view)
    columns = [c["name"] for c in inspect(create_engine(url)).get_columns("partner_blacklist")]
    assert columns == ICBC  # no obligation, conduct, status ...
    row = mirror_rows(url, prefix)[view.eid(1)]
    assert PERSON_ID in row["debtor"] and row["delisted_at"] is None

    # Follow: delist 20, tombstone 20 (of which 5 were delisted already), add 30.
    view.put(list(range(1, 41, 2)), status="DELISTED")
    view.tombstone([n for n in range(100, 140, 2)])
    view.put(range(300, 330))
    until_mirror(first, view)
    result = first.stop()
    assert result.read >= 300 + 30 + 20 + 20 + 30 and result.rows >= len(view.active)

    # The decoded feed: icbc's fields only, under its own record name.
    feed = [e for e in AgencyClient("icbc", conn).feed("blacklist") if e.key.startswith(prefix)]
    values = [e for e in feed if e.payload is not None]
    assert values and all(list(e.payload or {}) == ICBC for e in values)
    assert {e.record for e in values} == {"cn.court.bus.feed.icbc.BlacklistEntry"}
    assert all("obligation" not in (e.payload or {}) for e in values)
    assert any(e.payload is None for e in feed)  # the tombstones came through

    # Restart: resumes from the stored offsets, reads only what is new, no duplicates.
    view.put(range(330, 335))
    second = MirrorSync(conn, "icbc", url)
    until_mirror(second, view)
    again = second.stop()
    assert again.read < 50, again  # not everything again
    assert len(mirror_rows(url, prefix)) == len(view.active)

    # The group's list: exactly its members' entries (full records).
    reader = TopicReader(conn, "group.west-guangdong.blacklist")
    try:
        records = [r for r in reader.read_to_end() if r.key.decode().startswith(prefix)]
    finally:
        reader.close()
    members = {view.eid(n) for n in range(335) if COURTS[n % len(COURTS)] in WEST}
    assert {r.key.decode() for r in records} == members
    full = view.envelope.read(next(r for r in records if r.value is not None))
    assert full.payload["listing_court"]["court_id"] in WEST and "conduct" in full.payload
    assert services["feeds"].alive
