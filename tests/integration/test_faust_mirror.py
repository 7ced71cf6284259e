"""The Faust mirror example (courtbus[faust]) against the real broker, registry and feed
router: it keeps the active set of icbc's feed ``agency.icbc.blacklist`` (projected: no
``status``, a ``delisted_at``), follows later changes, skips a redelivered ``ce_id``, survives a
SIGKILL, and ends holding the same set as ``courtbus blacklist sync icbc``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

pytest.importorskip("faust")

from courtbus.config import REPO_ROOT, Connection
from courtbus.wire import values as v
from courtbus.wire.client import make_envelope, make_producer, send_many
from courtbus.wire.envelope import Envelope, OutgoingRecord
from courtbus.wire.events import EventHeaders
from tests.integration.conftest import StartServices
from tests.integration.helpers import TopicReader, mirror_rows, wait_until

pytestmark = pytest.mark.integration

TOPIC = "blacklist.entries"
AGENCY = "icbc"
ENTRY = "cn.court.bus.blacklist.BlacklistEntry"
SOURCE = "bus:blacklist"
PERSON_ID = "320583199303121234"  # valid checksum; not a real person


def _ensure_view_topic(conn: Connection) -> None:
    """The view topic as the catalogue makes it (other tests of the session may have)."""
    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        admin.create_topics([NewTopic(TOPIC, 6, 1, topic_configs={"cleanup.policy": "compact"})])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def _entry(entry_id: str, n: int, status: str, version: int) -> dict[str, Any]:
    t = v.now()
    return {
        "entry_id": entry_id,
        "status": status,
        "case_number": v.case_number(f"(2024)苏05执{n + 1}号"),
        "listing_court": v.court("3205"),
        "debtor": v.debtor("PERSON", "张三", PERSON_ID),
        "legal_representative": None,
        "legal_representative_id": None,
        # the version as the period: icbc's projection has no version field
        "ground": "REFUSED_WITH_ABILITY",
        "serious": False,
        "period_months": 12 * version,
        "obligation": "支付人民币 1,000.00 元",
        "performance": "全部未履行",
        "conduct": "有履行能力而拒不履行",
        "title_issuer": "江苏省苏州市中级人民法院",
        "title_number": f"(2023)苏05民初{n + 1}号",
        "filed_at": t - timedelta(days=90),
        "listed_at": t,
        "expires_at": None,
        "updated_at": t,
        "delisted_at": t if status == "DELISTED" else None,
        "reason": "PERFORMED" if status == "DELISTED" else None,
        "version": version,
    }


class View:
    """What the test wrote to the view, and the active set it expects: entry id -> version."""

    def __init__(self, conn: Connection, envelope: Envelope, run: str) -> None:
        self.envelope, self.run = envelope, run
        self.producer = make_producer(conn)
        self.expected: dict[str, int] = {}
        self.versions: dict[str, int] = {}
        self.duplicates = 0

    def eid(self, n: int) -> str:
        return f"bl-{self.run}-{n:03d}"

    def record(self, n: int, status: str) -> OutgoingRecord:
        eid = self.eid(n)
        self.versions[eid] = self.versions.get(eid, 0) + 1
        if status == "ACTIVE":
            self.expected[eid] = self.versions[eid]
        else:
            self.expected.pop(eid, None)
        return self.envelope.build(TOPIC, ENTRY, _entry(eid, n, status, self.versions[eid]), SOURCE)

    def tombstone(self, n: int) -> OutgoingRecord:
        eid = self.eid(n)
        self.expected.pop(eid, None)
        event = EventHeaders.new(SOURCE, "cn.court.blacklist.entry")  # not sent: no headers
        return OutgoingRecord(TOPIC, eid.encode(), None, [], event)  # type: ignore[arg-type]

    def send(self, records: list[OutgoingRecord]) -> None:
        send_many(self.producer, records, timeout_s=30)

    def close(self) -> None:
        self.producer.close()


@pytest.fixture
def view(conn: Connection) -> Iterator[View]:
    _ensure_view_topic(conn)
    envelope = make_envelope(conn, auto_register=True)
    made = View(conn, envelope, uuid.uuid4().hex[:8])
    yield made
    made.close()
    envelope.codec.registry.close()  # type: ignore[attr-defined]


class Mirror:
    """The example app as a Faust worker process, its state and log under ``home``."""

    def __init__(self, conn: Connection, home: Path, run: str) -> None:
        self.snapshot, self.log = home / "snapshot.json", home / "mirror.log"
        self.env = {
            **os.environ,
            "COURTBUS_BOOTSTRAP": conn.bootstrap,
            "COURTBUS_REGISTRY_URL": conn.registry_url or "",
            "COURTBUS_MIRROR_AGENCY": AGENCY,
            "COURTBUS_MIRROR_APP_ID": f"mirror-{run}",
            "COURTBUS_MIRROR_DATA": str(home / "data"),
            "COURTBUS_MIRROR_SNAPSHOT": str(self.snapshot),
            # the restarted worker gets the killed one's partitions after this, not Faust's 60 s
            "COURTBUS_MIRROR_SESSION_TIMEOUT_S": "10",
        }
        self.prefix = f"bl-{run}-"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "examples.faust_mirror.app", "worker", "-l", "info"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.snapshot.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            return {"active": {}}

    def active(self) -> dict[str, int]:
        """Our run's active entries in the worker's table: entry id -> version."""
        return {
            eid: int(entry["period_months"]) // 12
            for eid, entry in self.state()["active"].items()
            if eid.startswith(self.prefix)
        }

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def wait_for(self, expected: dict[str, int], timeout_s: float) -> None:
        def matches() -> bool:
            assert self.proc is not None and self.proc.poll() is None, (
                f"the mirror exited:\n{self.tail()}"
            )
            return self.active() == expected

        def why() -> str:
            got = self.active()
            wrong = sorted(set(got.items()) ^ set(expected.items()))[:10]
            return (
                f"the mirror's active set ({len(got)} vs {len(expected)}; {wrong}):\n{self.tail()}"
            )

        wait_until(matches, timeout_s, why, interval_s=0.2)

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _redeliver_first_copies(conn: Connection, view: View, keys: list[bytes]) -> None:
    """Produce again, byte for byte (key, value, headers with their ce_id), the feed router's
    first copy of each of ``keys`` on icbc's feed."""
    feed = f"agency.{AGENCY}.blacklist"
    reader = TopicReader(conn, feed)
    first: dict[bytes, Any] = {}

    def found() -> bool:
        reader.poll()
        for r in reader.records:
            if r.key in keys and r.key not in first and r.value is not None:
                first[r.key] = r
        return len(first) == len(keys)

    try:
        wait_until(found, 60, lambda: f"the router's copies of {len(keys)} entries on {feed}")
    finally:
        reader.close()
    for r in first.values():
        view.producer.send(feed, key=r.key, value=r.value, headers=list(r.headers))
    view.producer.flush(timeout=30)


def test_the_faust_mirror_keeps_and_follows_the_active_set(
    conn: Connection, view: View, start_services: StartServices, tmp_path: Path
) -> None:
    start_services("faust", which=("feeds",))
    # 200 listings, the feed's copies of 10 of them delivered twice (as a producer's retry
    # would: the router itself sends an unchanged copy once), 40 delisted, 30 tombstoned
    view.send([view.record(n, "ACTIVE") for n in range(200)])
    _redeliver_first_copies(conn, view, [view.eid(n).encode() for n in range(10)])
    view.send([view.record(n, "DELISTED") for n in range(40)])
    view.send([view.tombstone(n) for n in range(20, 50)])
    assert len(view.expected) == 150  # 0-39 delisted, 40-49 gone

    mirror = Mirror(conn, tmp_path, view.run)
    mirror.start()
    try:
        mirror.wait_for(view.expected, timeout_s=90)
        assert mirror.state()["duplicate"] >= 10  # the redelivered ce_ids were skipped

        # it follows: new listings, a relisting, an update, a delisting, tombstones
        more = [view.record(n, "ACTIVE") for n in range(200, 205)]
        more += [view.record(0, "ACTIVE"), view.record(100, "ACTIVE")]
        more += [view.record(101, "DELISTED"), view.tombstone(102), view.tombstone(200)]
        view.send(more)
        assert view.expected[view.eid(100)] == 2 and view.eid(0) in view.expected
        mirror.wait_for(view.expected, timeout_s=30)

        # killed, it misses changes; restarted, it rebuilds its tables from their changelogs
        # and replays from its last committed offsets (at least once) to the same active set
        mirror.kill()
        view.send([view.record(n, "ACTIVE") for n in range(205, 210)] + [view.tombstone(150)])
        mirror.start()
        mirror.wait_for(view.expected, timeout_s=60)
    finally:
        mirror.stop()

    # the same set, and the same values, as the SDK's mirror of the same feed
    url = f"sqlite:///{tmp_path / 'icbc.db'}"
    env = {
        **os.environ,
        "COURTBUS_BOOTSTRAP": conn.bootstrap,
        "COURTBUS_REGISTRY_URL": conn.registry_url or "",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "courtbus", "blacklist", "sync", AGENCY, "--db", url, "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = mirror_rows(url, mirror.prefix)
    assert {eid: row["period_months"] // 12 for eid, row in rows.items()} == mirror.active()
    faust_entries = mirror.state()["active"]
    assert all(
        faust_entries[eid]["case_number"] == json.loads(row["case_number"])
        for eid, row in rows.items()
    )
