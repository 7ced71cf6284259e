"""The blacklist flow in the harness: the view, the per-debtor rules across partitions, the
owner rule, expiry, deletion and correction deadlines, the lockout and tombstones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from courtbus.bus.records import Output
from courtbus.catalogue.directory import load_directory
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire import values as v
from services.blacklist.flow import DEBTORS_TOPIC, ENTRIES, EVENTS, NS, VIEW_TOPIC, BlacklistFlow
from tests.builders import FIRM_CODE, PERSON_ID

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # Friday 10:00 China time
COURT, OTHER, SUPERIOR = "320583", "6101", "3205"
DEADLETTER = "bus.deadletter"
CREDITOR = {
    "kind": "ORGANISATION",
    "name": "某银行",
    "id_number": FIRM_CODE,
    "id_type": None,
    "nationality": None,
}


def harness(
    partitions: int = 3, grace: timedelta = timedelta(days=7), start: datetime = T0
) -> FlowHarness:
    flow = BlacklistFlow(memory_envelope(), load_directory(), grace=grace)
    return FlowHarness(flow, start=start, partitions=partitions)


def listing(eid: str, **change: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "entry_id": eid,
        "case_number": v.case_number("(2024)苏0583执100号"),
        "listing_court": v.court(COURT),
        "debtor": {
            "kind": "PERSON",
            "name": "张三",
            "id_number": PERSON_ID,
            "id_type": None,
            "nationality": None,
        },
        "legal_representative": None,
        "ground": "OBSTRUCTED_EXECUTION",
        "serious": False,
        "period_months": 24,
        "obligation": "给付 100,000.00 元",
        "listed_at": T0,
        "legal_representative_id": None,
        "performance": "全部未履行",
        "conduct": "以暴力方法妨碍执行",
        "title_issuer": "江苏省昆山市人民法院",
        "title_number": "(2023)苏0583民初100号",
        "filed_at": T0 - timedelta(days=60),
        "applicant": None,
        "security_provided": False,
        "sealed_property_sufficient": False,
    }
    return base | change


def send(h: FlowHarness, record: str, payload: dict[str, Any], court: str = COURT) -> list[Output]:
    return h.send(EVENTS, NS + record, payload, f"court:{court}")


def delist(h: FlowHarness, eid: str, reason: str = "PERFORMED", court: str = COURT) -> list[Output]:
    payload = {
        "entry_id": eid,
        "listing_court": v.court(court),
        "delisted_at": h.now,
        "reason": reason,
        "note": None,
    }
    return send(h, "DebtorDelisted", payload, court)


def view(h: FlowHarness, outputs: list[Output]) -> list[dict[str, Any]]:
    return [h.decode(o).payload for o in outputs if o.topic == VIEW_TOPIC and o.value]


def refused(outputs: list[Output]) -> list[str]:
    return [dict(o.headers)["dlq_code"].decode() for o in outputs if o.topic == DEADLETTER]


def notices(h: FlowHarness, outputs: list[Output]) -> list[tuple[str, str]]:
    return [
        (o.topic, h.decode(o).payload["notice"])
        for o in outputs
        if o.topic not in (VIEW_TOPIC, DEBTORS_TOPIC, DEADLETTER)
        and o.value
        and h.decode(o).record == NS + "BlacklistNotice"
    ]


def test_a_listing_is_published_in_the_view_with_its_expiry() -> None:
    h = harness()
    out = send(h, "DebtorListed", listing("bl-1"))
    # ask the debtor's task, its answer, the view, the court's task told it is listed
    assert [o.topic for o in out] == [DEBTORS_TOPIC, DEBTORS_TOPIC, VIEW_TOPIC, DEBTORS_TOPIC]
    (entry,) = view(h, out)
    assert entry["status"] == "ACTIVE" and entry["version"] == 1
    assert entry["expires_at"] == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert entry["conduct"] == "以暴力方法妨碍执行"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            {
                "debtor": {
                    "kind": "PERSON",
                    "name": "小明",
                    "id_number": "320583201003121232",
                    "id_type": None,
                    "nationality": None,
                }
            },
            "BLACKLIST_MINOR",
        ),
        (
            {"ground": "REFUSED_WITH_ABILITY", "period_months": None, "security_provided": True},
            "BLACKLIST_EXCLUDED_SECURITY",
        ),
        ({"period_months": 40}, "BLACKLIST_PERIOD_INVALID"),
        ({"conduct": None}, "BLACKLIST_FIELD_MISSING"),
    ],
)
def test_refused_listings_leave_nothing(change: dict[str, Any], code: str) -> None:
    h = harness()
    out = send(h, "DebtorListed", listing("bl-1", **change))
    assert refused(out) == [code]
    assert view(h, out) == [] and h.count(ENTRIES.name) == 0


def test_one_listing_per_debtor_and_case_across_partitions() -> None:
    h = harness(partitions=6)
    ids = [f"bl-{i}" for i in range(12)]
    other = next(i for i in ids[1:] if h.partition_of(i.encode()) != h.partition_of(b"bl-0"))
    assert view(h, send(h, "DebtorListed", listing("bl-0")))
    assert refused(send(h, "DebtorListed", listing(other))) == ["BLACKLIST_DUPLICATE"]
    # another case of the same debtor is another listing
    second = listing(other, case_number=v.case_number("(2024)苏0583执101号"))
    assert view(h, send(h, "DebtorListed", second))
    # once delisted, the case may be listed again
    delist(h, "bl-0")
    third = next(i for i in ids if i not in ("bl-0", other))
    assert view(h, send(h, "DebtorListed", listing(third)))


def test_only_the_listing_court_changes_or_delists() -> None:
    h = harness()
    send(h, "DebtorListed", listing("bl-1"))
    assert refused(delist(h, "bl-1", court=OTHER)) == ["BLACKLIST_NOT_OWNER"]
    update = {
        "entry_id": "bl-1",
        "listing_court": v.court(OTHER),
        "updated_at": T0,
        "period_months": 36,
        "serious": True,
        "obligation": None,
        "note": None,
    }
    assert refused(send(h, "DebtorListingUpdated", update, OTHER)) == ["BLACKLIST_NOT_OWNER"]
    mine = update | {"listing_court": v.court(COURT)}
    (changed,) = view(h, send(h, "DebtorListingUpdated", mine))
    assert (changed["period_months"], changed["serious"], changed["version"]) == (36, True, 2)


def test_the_applicant_is_locked_out_for_6_months_after_a_deletion_at_its_request() -> None:
    h = harness()
    send(h, "DebtorListed", listing("bl-1", applicant=CREDITOR))
    (gone,) = view(h, delist(h, "bl-1", "CREDITOR_REQUEST"))
    assert gone["status"] == "DELISTED" and gone["reason"] == "CREDITOR_REQUEST"
    h.advance(days=30)
    again = listing("bl-2", applicant=CREDITOR, listed_at=h.now)
    assert refused(send(h, "DebtorListed", again)) == ["BLACKLIST_RELIST_LOCKED"]
    # the court may relist on its own motion, or for another applicant (art. 10)
    assert view(h, send(h, "DebtorListed", listing("bl-3", listed_at=h.now)))
    delist(h, "bl-3")
    h.advance(days=160)  # past 2024-09-01: the lockout is over
    later = listing("bl-4", applicant=CREDITOR, listed_at=h.now)
    assert view(h, send(h, "DebtorListed", later))


def test_an_entry_expires_on_time_then_its_tombstone_follows_the_grace() -> None:
    h = harness(grace=timedelta(days=2))
    send(h, "DebtorListed", listing("bl-1"))
    expiry = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    h.now = expiry - timedelta(minutes=1)
    assert view(h, h.tick()) == []
    h.now = expiry
    out = h.tick()
    (expired,) = view(h, out)
    assert (expired["status"], expired["reason"]) == ("DELISTED", "EXPIRED")
    assert notices(h, out) == [(f"court.{COURT}.inbox", "EXPIRED")]
    h.advance(days=1)
    assert [o for o in h.tick() if o.topic == VIEW_TOPIC] == []
    out = h.advance(days=1, seconds=1)
    assert [(o.topic, o.key, o.value) for o in out if o.topic == VIEW_TOPIC] == [
        (VIEW_TOPIC, b"bl-1", None)
    ]
    assert h.count(ENTRIES.name) == 0 and h.timers() == []


def test_an_unprocessed_deletion_reason_alerts_the_court_then_its_superior() -> None:
    h = harness()
    send(h, "DebtorListed", listing("bl-1", ground="REFUSED_WITH_ABILITY", period_months=None))
    report = {
        "entry_id": "bl-1",
        "reporting_court": v.court(COURT),
        "reported_at": T0,
        "arisen_at": T0,
        "reason": "PERFORMED",
        "note": None,
    }
    out = send(h, "DebtorDeletionReasonReported", report)
    assert notices(h, out) == [(f"court.{COURT}.inbox", "DELETION_DUE")]
    # working days Monday 03-04 to Wednesday 03-06: overdue from Thursday 00:00 China time
    assert h.decode(out[-1]).payload["due_at"] == datetime(2024, 3, 6, 16, 0, tzinfo=UTC)
    h.now = datetime(2024, 3, 6, 15, 59, tzinfo=UTC)
    assert notices(h, h.tick()) == []
    out = h.advance(minutes=1)
    assert sorted(notices(h, out)) == [
        ("bus.alerts", "DELETION_OVERDUE"),
        (f"court.{SUPERIOR}.inbox", "DELETION_OVERDUE"),
        (f"court.{COURT}.inbox", "DELETION_OVERDUE"),
    ]
    assert notices(h, h.advance(days=5)) == []  # once


def test_working_days_into_a_year_without_holiday_data_are_marked_provisional() -> None:
    """Reported on 2198-12-30 (as on 2026-12-30 with chinesecalendar 1.11.0, which knows no
    2027): the three working days run into 2199, whose holidays no release knows."""
    at = datetime(2198, 12, 30, 2, 0, tzinfo=UTC)
    h = harness(start=at)
    send(
        h,
        "DebtorListed",
        listing(
            "bl-1",
            ground="REFUSED_WITH_ABILITY",
            period_months=None,
            listed_at=at,
            filed_at=at - timedelta(days=60),
        ),
    )
    report = {
        "entry_id": "bl-1",
        "reporting_court": v.court(COURT),
        "reported_at": at,
        "arisen_at": at,
        "reason": "PERFORMED",
        "note": None,
    }
    [due] = [
        h.decode(o)
        for o in send(h, "DebtorDeletionReasonReported", report)
        if o.topic == f"court.{COURT}.inbox"
    ]
    assert due.payload["detail"].endswith(
        "; the due time is provisional: no holiday data for 2199, only weekends counted as "
        "rest days"
    )
    alerts = [h.decode(o) for o in h.advance(days=10) if o.topic == "bus.alerts"]
    assert "provisional: no holiday data for 2199" in alerts[0].payload["detail"]


def test_a_correction_review_is_due_in_15_days() -> None:
    h = harness()
    send(h, "DebtorListed", listing("bl-1"))
    applied = {
        "entry_id": "bl-1",
        "listing_court": v.court(COURT),
        "applied_at": T0,
        "ground": "INACCURATE",
        "note": None,
    }
    out = send(h, "DebtorCorrectionApplied", applied)
    assert notices(h, out) == [(f"court.{COURT}.inbox", "CORRECTION_REVIEW_DUE")]
    assert "provisional" not in h.decode(out[-1]).payload["detail"]  # 2024 is known
    overdue = h.advance(days=18)  # past Monday 03-18 (day 15 was Saturday 03-16)
    assert (f"court.{COURT}.inbox", "CORRECTION_REVIEW_OVERDUE") in notices(h, overdue)
    decided = {
        "entry_id": "bl-1",
        "listing_court": v.court(COURT),
        "decided_at": h.now,
        "upheld": False,
        "reason": "理由不成立",
    }
    assert refused(send(h, "DebtorCorrectionDecided", decided)) == []
    assert refused(send(h, "DebtorCorrectionDecided", decided)) == [
        "BLACKLIST_NO_CORRECTION_PENDING"
    ]


def test_an_unknown_entry_is_refused() -> None:
    h = harness()
    assert refused(delist(h, "bl-nobody")) == ["BLACKLIST_UNKNOWN"]


def _digest(h: FlowHarness, ids: list[str], court: str = COURT) -> dict[str, Any]:
    from courtbus.domain.blacklist_digest import BUCKETS, digest

    payload = {
        "court_id": court,
        "court": v.court(court),
        "digest_id": f"d-{len(ids)}",
        "bucket_count": BUCKETS,
        "buckets": [
            {"bucket": b, "count": d.count, "hash": d.hash} for b, d in sorted(digest(ids).items())
        ],
        "computed_at": h.now,
    }
    (report,) = [
        h.decode(o).payload
        for o in send(h, "BlacklistDigest", payload, court)
        if o.topic == f"court.{court}.inbox"
    ]
    return report


def test_a_digest_finds_an_entry_lost_from_the_view_and_a_resend_repairs_it() -> None:
    from courtbus.sdk.blacklist import missing_and_extra

    h = harness(partitions=6)
    ids = [f"bl-{i}" for i in range(8)]
    for i, eid in enumerate(ids):
        send(
            h, "DebtorListed", listing(eid, case_number=v.case_number(f"(2024)苏0583执{100 + i}号"))
        )
    assert _digest(h, ids)["in_sync"] is True
    # someone removes bl-3 from the view (a tombstone not written by the service)
    h.feed_raw(VIEW_TOPIC, b"bl-3", None, [])
    report = _digest(h, ids)
    assert report["in_sync"] is False and len(report["differing"]) == 1
    assert missing_and_extra(report, ids) == (["bl-3"], [])
    # the court re-sends exactly that listing: the entry is republished, not refused
    again = send(
        h, "DebtorListed", listing("bl-3", case_number=v.case_number("(2024)苏0583执103号"))
    )
    assert refused(again) == [] and [e["entry_id"] for e in view(h, again)] == ["bl-3"]
    assert _digest(h, ids)["in_sync"] is True
    # an entry the court no longer has shows as extra; delisting it brings the digests level
    report = _digest(h, ids[:-1])
    assert missing_and_extra(report, ids[:-1]) == ([], ["bl-7"])
    delist(h, "bl-7")
    assert _digest(h, ids[:-1])["in_sync"] is True


def test_a_resend_of_an_entry_still_in_the_view_is_refused() -> None:
    h = harness()
    send(h, "DebtorListed", listing("bl-1"))
    assert refused(send(h, "DebtorListed", listing("bl-1"))) == ["BLACKLIST_ENTRY_EXISTS"]


def test_a_court_sends_only_its_own_digest() -> None:
    h = harness()
    payload = {
        "court_id": OTHER,
        "court": v.court(OTHER),
        "digest_id": "d",
        "bucket_count": 64,
        "buckets": [],
        "computed_at": T0,
    }
    assert refused(send(h, "BlacklistDigest", payload, COURT)) == ["SOURCE_NOT_PARTY"]
