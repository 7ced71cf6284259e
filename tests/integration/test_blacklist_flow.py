"""The dishonest-debtor list end to end: courts (SDK) → gateway → blacklist service → the view
``blacklist.entries``, refusals to the dead letters, notices to the courts and alerts; the feed
router → two agencies (icbc, pbccrc), each receiving exactly its projection; partners that
bootstrap their mirrors afterwards and follow later changes.

Three courts in three provinces: Kunshan (320583, superior 3205), Zhanjiang (4408) and Xi'an
(6101). Long periods are not shortened: an entry listed 24 months ago expires at once, and a
deletion reason that arose a week ago is overdue at once, as a court reporting late would see.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.config import Connection
from courtbus.errors import ValidationError
from courtbus.sdk import CourtClient
from courtbus.wire import values as v
from courtbus.wire.client import make_envelope
from courtbus.wire.envelope import Envelope, Event
from tests.integration.conftest import StartServices
from tests.integration.helpers import (
    MirrorSync,
    Services,
    TopicReader,
    dead_letter_code,
    mirror_rows,
    wait_until,
)

pytestmark = pytest.mark.integration
VIEW = "blacklist.entries"
COURTS = ("320583", "3205", "4408", "6101")
ADULT = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
MINOR = {"kind": "PERSON", "name": "小明", "id_number": "320583201003121232"}
FIRM = {"kind": "ORGANISATION", "name": "湛江某贸易有限公司", "id_number": FIRM_CODE}
CREDITOR = {"kind": "ORGANISATION", "name": "某银行股份有限公司", "id_number": "91440800MA4UABCD1B"}


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    return start_services("blacklist", which=("gateway", "blacklist", "projector", "feeds"))


@pytest.fixture(scope="module")
def courts(conn: Connection, services: Services) -> Iterator[dict[str, CourtClient]]:
    clients = {c: CourtClient(c, conn) for c in COURTS}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def envelope(conn: Connection) -> Envelope:
    return make_envelope(conn)


@pytest.fixture(scope="module")
def view(conn: Connection, services: Services) -> Iterator[TopicReader]:
    reader = TopicReader(conn, VIEW)
    yield reader
    reader.close()


RUN = uuid.uuid4().hex[:6]  # this module's entries: ids start with bl-<RUN>-
PREFIX = f"bl-{RUN}-"


def _id(tag: str) -> str:
    return f"{PREFIX}{tag}-{uuid.uuid4().hex[:8]}"


def _case(court: str) -> str:
    designation = {"320583": "苏0583", "3205": "苏05", "4408": "粤08", "6101": "陕01"}[court]
    return f"(2024){designation}执{uuid.uuid4().int % 90000 + 10000}号"


def _list(client: CourtClient, eid: str, debtor: dict[str, Any], **extra: Any) -> Any:
    fields: dict[str, Any] = {
        "obligation": "给付 100,000.00 元",
        "performance": "全部未履行",
        "conduct": "以虚假诉讼方法规避执行",
        "title_issuer": "江苏省昆山市人民法院",
        "title_number": "(2023)苏0583民初100号",
        "filed_at": v.now() - timedelta(days=90),
    }
    if debtor["kind"] == "ORGANISATION":
        fields["legal_representative"] = "李四"
    return client.blacklist.list_debtor(
        eid,
        extra.pop("case", _case(client.sender.court.id)),
        debtor,
        extra.pop("ground", "EVADED_EXECUTION"),
        **(fields | extra),
    )


def _versions(view: TopicReader, envelope: Envelope, eid: str, count: int) -> list[dict[str, Any]]:
    """The view records of ``eid`` (None for a tombstone), once there are ``count``."""
    found = view.wait_for(lambda r: r.key == eid.encode(), count=count, timeout_s=60)
    return [envelope.read(r).payload if r.value else {} for r in found]


def _notices(client: CourtClient, eid: str, kind: str) -> list[Event]:
    return [
        e
        for e in client.inbox(timeout_s=1)
        if e.record.endswith("BlacklistNotice") and e.key == eid and e.payload["notice"] == kind
    ]


def test_listing_update_correction_and_delisting(
    courts: dict[str, CourtClient], view: TopicReader, envelope: Envelope, conn: Connection
) -> None:
    eid = _id("life")
    kunshan = courts["320583"]
    _list(kunshan, eid, FIRM)
    (listed,) = _versions(view, envelope, eid, 1)
    assert (listed["status"], listed["version"], listed["period_months"]) == ("ACTIVE", 1, 24)
    assert listed["legal_representative"] == "李四"
    kunshan.blacklist.update_listing(eid, period_months=36, serious=True, note="多项失信行为")
    assert _versions(view, envelope, eid, 2)[-1]["period_months"] == 36
    kunshan.blacklist.record_correction_application(eid, "INACCURATE", note="履行情况记载不准确")
    wait_until(lambda: _notices(kunshan, eid, "CORRECTION_REVIEW_DUE"), 60, "the review notice")
    kunshan.blacklist.decide_correction(eid, True, "理由成立")
    kunshan.blacklist.update_listing(eid, obligation="给付 80,000.00 元")
    assert _versions(view, envelope, eid, 3)[-1]["version"] == 3
    # a non-owner's delisting is refused with its code; the owner's goes through
    assert (
        dead_letter_code(
            conn,
            courts["6101"]
            .send_record(
                "cn.court.bus.blacklist.DebtorDelisted",
                {
                    "entry_id": eid,
                    "listing_court": v.court("6101"),
                    "delisted_at": v.now(),
                    "reason": "PERFORMED",
                    "note": None,
                },
            )
            .event_id,
        )
        == "BLACKLIST_NOT_OWNER"
    )
    kunshan.blacklist.delist(eid, "PERFORMED")
    gone = _versions(view, envelope, eid, 4)[-1]
    assert (gone["status"], gone["reason"]) == ("DELISTED", "PERFORMED")


def test_a_minor_is_refused_by_the_sdk_and_by_the_bus(
    courts: dict[str, CourtClient], conn: Connection
) -> None:
    with pytest.raises(ValidationError) as info:
        _list(courts["4408"], _id("minor"), MINOR)
    assert info.value.code == "BLACKLIST_MINOR"
    sent = courts["4408"].send_record(  # a system that skips the SDK's check
        "cn.court.bus.blacklist.DebtorListed",
        {
            "entry_id": _id("minor"),
            "case_number": v.case_number(_case("4408")),
            "listing_court": v.court("4408"),
            "debtor": {**MINOR, "id_type": None, "nationality": None},
            "legal_representative": None,
            "ground": "EVADED_EXECUTION",
            "serious": False,
            "period_months": 24,
            "obligation": "给付",
            "listed_at": v.now(),
            "legal_representative_id": None,
            "performance": "未履行",
            "conduct": "规避执行",
            "title_issuer": "某法院",
            "title_number": "(2023)粤08民初1号",
            "filed_at": v.now(),
            "applicant": None,
            "security_provided": False,
            "sealed_property_sufficient": False,
        },
    )
    assert dead_letter_code(conn, sent.event_id) == "BLACKLIST_MINOR"


def test_a_relisting_inside_the_lockout_is_refused(
    courts: dict[str, CourtClient], view: TopicReader, envelope: Envelope, conn: Connection
) -> None:
    first = _id("lock")
    xian = courts["6101"]
    _list(xian, first, ADULT, applicant=CREDITOR)
    _versions(view, envelope, first, 1)
    xian.blacklist.delist(first, "CREDITOR_REQUEST", note="申请执行人书面申请删除")
    _versions(view, envelope, first, 2)
    again = _list(xian, _id("lock"), ADULT, applicant=CREDITOR)
    assert dead_letter_code(conn, again.event_id) == "BLACKLIST_RELIST_LOCKED"


def test_an_expired_entry_leaves_without_any_court_message(
    courts: dict[str, CourtClient], view: TopicReader, envelope: Envelope
) -> None:
    eid = _id("expired")
    # listed two years ago today (China time): its period ended at 00:00 today
    china_today = (datetime.now(UTC) + timedelta(hours=8)).date()
    listed_day = china_today.replace(year=china_today.year - 2) - timedelta(days=1)
    listed_at = datetime(listed_day.year, listed_day.month, listed_day.day, 4, tzinfo=UTC)
    _list(courts["4408"], eid, FIRM, listed_at=listed_at)
    versions = _versions(view, envelope, eid, 2)
    assert [(x["status"], x["reason"]) for x in versions] == [
        ("ACTIVE", None),
        ("DELISTED", "EXPIRED"),
    ]
    wait_until(lambda: _notices(courts["4408"], eid, "EXPIRED"), 60, "the EXPIRED notice")


def test_an_unprocessed_deletion_reason_alerts_the_court_and_its_superior(
    courts: dict[str, CourtClient], view: TopicReader, envelope: Envelope, conn: Connection
) -> None:
    eid = _id("overdue")
    kunshan = courts["320583"]
    _list(kunshan, eid, ADULT, ground="REFUSED_WITH_ABILITY")
    _versions(view, envelope, eid, 1)
    kunshan.blacklist.report_deletion_reason(
        eid, "PERFORMED", arisen_at=v.now() - timedelta(days=10)
    )
    wait_until(lambda: _notices(kunshan, eid, "DELETION_OVERDUE"), 60, "the overdue notice")
    assert _notices(kunshan, eid, "DELETION_DUE")
    assert len(_notices(courts["3205"], eid, "DELETION_OVERDUE")) == 1  # the superior court
    alerts = TopicReader(conn, "bus.alerts")
    try:
        found = alerts.wait_for(lambda r: r.key == eid.encode(), timeout_s=30)
        assert len(found) == 1
    finally:
        alerts.close()


def test_the_read_model_holds_exactly_the_view(
    services: Services, view: TopicReader, envelope: Envelope
) -> None:
    """Every entry of this module: the projector's SQL rows equal the view's latest records."""
    from courtbus.store import ReadModelQueries

    records = view.read_to_end()
    latest: dict[str, dict[str, Any] | None] = {}
    for r in records:
        latest[r.key.decode()] = envelope.read(r).payload if r.value else None
    expected = {eid: (p["status"], p["version"]) for eid, p in latest.items() if p is not None}
    model = ReadModelQueries(services.store_url)
    try:

        def stored() -> dict[str, tuple[str, int]]:
            return {r.entry_id: (r.status, r.version) for r in model.blacklist_entries()}

        wait_until(lambda: stored() == expected, 60, lambda: f"{stored()} != {expected}")
        assert len(expected) >= 4  # life, lock, expired, overdue (the refused ones never were)
    finally:
        model.close()


def test_drift_lost_from_the_view_is_found_by_digest_and_repaired(
    courts: dict[str, CourtClient],
    view: TopicReader,
    envelope: Envelope,
    conn: Connection,
    tmp_path: Path,
) -> None:
    """Five entries of Xi'an; one is removed from the view from outside (a tombstone); the
    court's digest finds it, `courtbus blacklist verify` re-sends exactly it, and afterwards
    the digests are equal."""
    from kafka import KafkaProducer

    xian = courts["6101"]
    listings = []
    for i in range(5):
        eid = _id(f"drift{i}")
        fields = {
            "case": _case("6101"),
            "conduct": "规避执行",
            "filed_at": v.now() - timedelta(days=9),
        }
        _list(xian, eid, ADULT if i % 2 else FIRM, **fields)
        listings.append(
            {
                "entry_id": eid,
                "case_number": fields["case"],
                "debtor": ADULT if i % 2 else FIRM,
                "ground": "EVADED_EXECUTION",
                "obligation": "给付",
                "performance": "未履行",
                "conduct": "规避执行",
                "title_issuer": "陕西省西安市中级人民法院",
                "title_number": "(2023)陕01民初1号",
                "filed_at": fields["filed_at"].isoformat(),
                **({"legal_representative": "李四"} if i % 2 == 0 else {}),
            }
        )
        _versions(view, envelope, eid, 1)
    ids = [x["entry_id"] for x in listings]
    lost = ids[2]
    producer = KafkaProducer(**conn.kafka_settings())
    producer.send(VIEW, key=lost.encode(), value=None).get(timeout=30)
    producer.close()
    entries = tmp_path / "active.txt"
    entries.write_text("\n".join(ids) + "\n", encoding="utf-8")
    lines = tmp_path / "listings.jsonl"
    lines.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in listings), encoding="utf-8"
    )
    first = _cli(
        conn, "blacklist", "verify", "6101", "--entries", str(entries), "--listings", str(lines)
    )
    assert "1 entry missing from the view" in first and "re-sent 1 listing" in first
    republished = view.wait_for(lambda r: r.key == lost.encode() and r.value is not None, count=2)
    assert envelope.read(republished[-1]).payload["status"] == "ACTIVE"
    assert "in sync" in _cli(conn, "blacklist", "verify", "6101", "--entries", str(entries))


def _cli(conn: Connection, *args: str) -> str:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "COURTBUS_BOOTSTRAP": conn.bootstrap,
        "COURTBUS_REGISTRY_URL": conn.registry_url or "",
        "COLUMNS": "200",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "courtbus", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _latest(view: TopicReader, envelope: Envelope) -> dict[str, dict[str, Any] | None]:
    """This module's entries in the view: the latest payload of each (None: tombstoned)."""
    latest: dict[str, dict[str, Any] | None] = {}
    for r in view.read_to_end():
        if r.key.decode().startswith(PREFIX):
            latest[r.key.decode()] = envelope.read(r).payload if r.value else None
    return latest


def _active(latest: dict[str, dict[str, Any] | None]) -> set[str]:
    return {eid for eid, p in latest.items() if p is not None and p["status"] == "ACTIVE"}


def _grant(agency: str) -> list[str]:
    from courtbus.catalogue.directory import load_directory

    (feed,) = [f for f in load_directory().feeds if f.agency == agency and f.flow == "blacklist"]
    return list(feed.fields)


def test_partners_bootstrap_afterwards_and_each_agency_gets_exactly_its_projection(
    courts: dict[str, CourtClient],
    view: TopicReader,
    envelope: Envelope,
    conn: Connection,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """After every test above (listings, updates, a correction, delistings, an expiry, a
    repaired drift), icbc's and pbccrc's partners bootstrap: each mirror holds exactly the
    active set, with only its agency's fields; icbc's keeps up with a new listing and a
    delisting; every record each agency received carries exactly its granted fields."""
    latest = _latest(view, envelope)
    active = _active(latest)
    assert len(active) >= 6 and len(latest) - len(active) >= 3  # some were delisted
    home = tmp_path_factory.mktemp("partners")
    icbc_url = f"sqlite:///{home / 'icbc.db'}"
    icbc = MirrorSync(conn, "icbc", icbc_url)
    try:
        icbc.wait_for(PREFIX, active)
        rows = mirror_rows(icbc_url, PREFIX)
        assert all(list(row) == _grant("icbc") for row in rows.values())
        for eid, row in rows.items():
            entry = latest[eid] or {}
            assert (row["ground"], row["period_months"]) == (
                entry["ground"],
                entry["period_months"],
            )
            assert json.loads(row["debtor"])["id_number"] == entry["debtor"]["id_number"]
        # later changes reach the running mirror: a new listing, a delisting by its owner
        late = _id("late")
        _list(courts["4408"], late, FIRM)
        gone = sorted(active)[0]
        owner = (latest[gone] or {})["listing_court"]["court_id"]
        courts[owner].blacklist.delist(gone, "PERFORMED")
        active = (active - {gone}) | {late}
        icbc.wait_for(PREFIX, active)
    finally:
        icbc.stop()

    # pbccrc bootstraps with the CLI, once
    pbccrc_url = f"sqlite:///{home / 'pbccrc.db'}"
    said = _cli(conn, "blacklist", "sync", "pbccrc", "--db", pbccrc_url, "--once")
    assert "bootstrapped" in said
    rows = mirror_rows(pbccrc_url, PREFIX)
    assert set(rows) == active
    assert all(list(row) == _grant("pbccrc") and row["status"] == "ACTIVE" for row in rows.values())

    # drift in the partner's store: one row deleted and one renamed by hand are found by the
    # digest and repaired, after which the digests are equal
    from sqlalchemy import create_engine, text

    lost = sorted(active)[:2]
    engine = create_engine(pbccrc_url)
    with engine.begin() as db:
        db.execute(text("DELETE FROM partner_blacklist WHERE entry_id = :a"), {"a": lost[0]})
        db.execute(
            text("UPDATE partner_blacklist SET entry_id = :e WHERE entry_id = :b"),
            {"e": PREFIX + "stray", "b": lost[1]},
        )
    engine.dispose()
    found = _cli(conn, "blacklist", "verify-mirror", "pbccrc", "--db", pbccrc_url)
    assert (
        "drift from the national view: 2 entries missing from the mirror, 0 held with other "
        "content, 1 it should not have" in found
    ), found
    assert "router" not in found  # caught up: not a word of it being behind
    assert f"missing {lost[0]}" in found and "repaired" in found
    assert set(mirror_rows(pbccrc_url, PREFIX)) == active
    assert "in sync" in _cli(conn, "blacklist", "verify-mirror", "pbccrc", "--db", pbccrc_url)

    # `courtbus feed`: what the agency receives, IDs masked
    shown = _cli(conn, "feed", "pbccrc", "--flow", "blacklist")
    assert late in shown and gone in shown and PERSON_ID not in shown and FIRM_CODE not in shown

    # exactly the projection: every field granted is present, every other is absent
    from courtbus.sdk import AgencyClient

    for agency in ("icbc", "pbccrc"):
        with AgencyClient(agency, conn) as client:
            feed = [e for e in client.feed("blacklist") if e.key.startswith(PREFIX)]
        values = [e.payload for e in feed if e.payload is not None]
        assert {e.key for e in feed} == set(latest) | {late}, agency
        assert values and all(set(p) == set(_grant(agency)) for p in values), agency
        assert not any("obligation" in p or "conduct" in p for p in values)
        delisted = [p for p in values if p["delisted_at"] is not None]
        assert delisted and all(p["reason"] for p in delisted), agency
        # icbc is not granted the status or the legal representative; pbccrc is
        has_status = {"status" in p or "legal_representative" in p for p in values}
        assert has_status == {agency == "pbccrc"}, agency
