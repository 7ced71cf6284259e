"""The dishonest-debtor list's rules, each with its article of 最高人民法院关于公布失信被执行人名单
信息的若干规定 (法释〔2017〕7号): grounds and periods (art. 2), exclusions (art. 3, 4), published
fields (art. 6), deletion (art. 10), correction (art. 11-12)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from courtbus.domain import blacklist as bl
from courtbus.domain.blacklist import Ground, Listing, NoticeKind, Reason, Status
from courtbus.errors import ValidationError
from tests.builders import FIRM_CODE, PERSON_ID

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # Friday 10:00 China time
MINOR_ID = "320583201003121232"  # born 2010-03-12: 13 at T0 (fictitious, valid checksum)
COURT, OTHER = "320583", "6101"


def _listing(**change: object) -> Listing:
    base = Listing(
        debtor_kind="PERSON",
        debtor_id=PERSON_ID,
        ground=Ground.OBSTRUCTED_EXECUTION,
        serious=False,
        period_months=24,
        listed_at=T0,
        performance="全部未履行",
        conduct="以暴力方法妨碍执行",
        title_issuer="江苏省昆山市人民法院",
        title_number="(2023)苏0583民初100号",
        filed_at=T0 - timedelta(days=60),
    )
    return replace(base, **change)  # type: ignore[arg-type]


# (name, change, code, article cited in the reason)
REFUSED = [
    ("a minor (art. 4)", {"debtor_id": MINOR_ID}, "BLACKLIST_MINOR", "第四条"),
    (
        "ground 1 with adequate security (art. 3(1))",
        {"ground": Ground.REFUSED_WITH_ABILITY, "period_months": None, "security_provided": True},
        "BLACKLIST_EXCLUDED_SECURITY",
        "第三条",
    ),
    (
        "ground 1 with sufficient sealed property (art. 3(2))",
        {
            "ground": Ground.REFUSED_WITH_ABILITY,
            "period_months": None,
            "sealed_property_sufficient": True,
        },
        "BLACKLIST_EXCLUDED_SEALED_PROPERTY",
        "第三条",
    ),
    # issue 21, citations 8: art. 3 has four exclusions
    (
        "ground 1 when the debtor is later in the order of performance (art. 3(3))",
        {"ground": Ground.REFUSED_WITH_ABILITY, "period_months": None, "later_in_order": True},
        "BLACKLIST_EXCLUDED_LATER_IN_ORDER",
        "第三条(三)",
    ),
    (
        "ground 1 when it is otherwise no refusal with ability (art. 3(4))",
        {
            "ground": Ground.REFUSED_WITH_ABILITY,
            "period_months": None,
            "otherwise_not_refusal": True,
        },
        "BLACKLIST_EXCLUDED_OTHER",
        "第三条(四)",
    ),
    (
        "ground 1 with a period (art. 2)",
        {"ground": Ground.REFUSED_WITH_ABILITY},
        "BLACKLIST_PERIOD_INVALID",
        "第二条",
    ),
    (
        "ground 2 without a period (art. 2)",
        {"period_months": None},
        "BLACKLIST_PERIOD_INVALID",
        "第二条",
    ),
    (
        "ground 2 for 36 months, not serious (art. 2)",
        {"period_months": 36},
        "BLACKLIST_PERIOD_INVALID",
        "第二条",
    ),
    (
        "a serious case past 5 years (art. 2)",
        {"serious": True, "period_months": 61},
        "BLACKLIST_PERIOD_INVALID",
        "第二条",
    ),
    (
        "a serious case extended by less than a year (art. 2)",
        {"serious": True, "period_months": 30},
        "BLACKLIST_PERIOD_INVALID",
        "第二条",
    ),
    ("no specific conduct (art. 6(4))", {"conduct": " "}, "BLACKLIST_FIELD_MISSING", "第六条"),
    (
        "no enforcement title number (art. 6(5))",
        {"title_number": None},
        "BLACKLIST_FIELD_MISSING",
        "第六条",
    ),
    (
        "an organisation without its legal representative (art. 6(1))",
        {"debtor_kind": "ORGANISATION", "debtor_id": FIRM_CODE},
        "BLACKLIST_FIELD_MISSING",
        "第六条",
    ),
]


@pytest.mark.parametrize(("name", "change", "code", "cited"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_listings_name_their_rule(
    name: str, change: dict[str, object], code: str, cited: str
) -> None:
    with pytest.raises(ValidationError) as info:
        bl.check_listing(_listing(**change))
    assert info.value.code == code
    assert cited in info.value.reason and "法释〔2017〕7号" in info.value.reason


ALLOWED = [
    ("ground 2, 2 years", {}),
    ("ground 1 until performed", {"ground": Ground.REFUSED_WITH_ABILITY, "period_months": None}),
    ("a serious case, 3 years", {"serious": True, "period_months": 36}),
    ("a serious case, 5 years", {"serious": True, "period_months": 60}),
    (
        "security does not exclude ground 2 (art. 3 covers ground 1 only)",
        {"security_provided": True},
    ),
    (
        "18 on the day of listing",
        {"debtor_id": "320583200603010013", "listed_at": datetime(2024, 3, 1, 2, tzinfo=UTC)},
    ),
    (
        "an organisation with its legal representative",
        {"debtor_kind": "ORGANISATION", "debtor_id": FIRM_CODE, "legal_representative": "李四"},
    ),
]


@pytest.mark.parametrize(("name", "change"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed_listings(name: str, change: dict[str, object]) -> None:
    bl.check_listing(_listing(**change))


@pytest.mark.parametrize(
    ("person_id", "born"),
    [
        (PERSON_ID, date(1993, 3, 12)),
        ("320583930312123", date(1993, 3, 12)),  # 15-digit legacy ID
        ("E12345678", None),  # a passport carries no birth date
    ],
)
def test_birth_dates_from_ids(person_id: str, born: date | None) -> None:
    assert bl.birth_date(person_id) == born


def test_a_minor_on_the_day_before_the_18th_birthday() -> None:
    eighteenth = datetime(2028, 3, 11, 16, 0, tzinfo=UTC)  # 2028-03-12 00:00 China
    with pytest.raises(ValidationError):
        bl.check_listing(_listing(debtor_id=MINOR_ID, listed_at=eighteenth - timedelta(seconds=1)))
    bl.check_listing(_listing(debtor_id=MINOR_ID, listed_at=eighteenth))


def test_the_period_runs_by_calendar_months_and_ground_1_never_expires() -> None:
    e = bl.listed("bl-1", COURT, _listing())
    # 民法典 201-202: from the day after 2024-03-01; last day 2026-03-01; ends 03-02 00:00 China
    assert e.expires_at == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    forever = bl.listed(
        "bl-2", COURT, _listing(ground=Ground.REFUSED_WITH_ABILITY, period_months=None)
    )
    assert forever.expires_at is None and bl.next_due(forever) is None


def test_only_the_listing_court_updates_corrects_or_delists() -> None:
    e = bl.listed("bl-1", COURT, _listing())
    for attempt in (
        lambda: bl.delist(e, OTHER, Reason.PERFORMED, T0),
        lambda: bl.update(e, OTHER, T0, period_months=24, serious=None, period_given=True),
        lambda: bl.correction_applied(e, OTHER, T0),
    ):
        with pytest.raises(ValidationError) as info:
            attempt()
        assert info.value.code == "BLACKLIST_NOT_OWNER"
    gone = bl.delist(e, COURT, Reason.PERFORMED, T0)
    assert (gone.status, gone.reason, gone.version) == (Status.DELISTED, Reason.PERFORMED, 2)
    with pytest.raises(ValidationError) as info:
        bl.delist(gone, COURT, Reason.PERFORMED, T0)
    assert info.value.code == "BLACKLIST_NOT_ACTIVE"


def test_a_court_cannot_call_an_entry_expired_early() -> None:
    e = bl.listed("bl-1", COURT, _listing())
    with pytest.raises(ValidationError) as info:
        bl.delist(e, COURT, Reason.EXPIRED, T0 + timedelta(days=30))
    assert info.value.code == "BLACKLIST_NOT_EXPIRED"
    assert e.expires_at is not None
    assert bl.delist(e, None, Reason.EXPIRED, e.expires_at).status is Status.DELISTED


def test_a_deletion_reason_is_due_in_3_working_days_past_the_national_day() -> None:
    """Art. 10: reported Friday 2024-09-27; 09-29 (Sunday) is a 调休 working day, 10-01..07 the
    holiday: the third working day is 10-08, so the deletion is overdue from 10-09 00:00."""
    e = bl.listed("bl-1", COURT, _listing(ground=Ground.REFUSED_WITH_ABILITY, period_months=None))
    arisen = datetime(2024, 9, 27, 2, 0, tzinfo=UTC)
    due = bl.deletion_reason(e, Reason.PERFORMED, arisen)
    assert due.deletion_due == datetime(2024, 10, 8, 16, 0, tzinfo=UTC)
    assert bl.next_due(due) == due.deletion_due
    assert bl.overdue(due, datetime(2024, 10, 8, 15, 59, tzinfo=UTC))[1] == []
    marked, kinds = bl.overdue(due, datetime(2024, 10, 8, 16, 0, tzinfo=UTC))
    assert kinds == [NoticeKind.DELETION_OVERDUE]
    assert bl.overdue(marked, datetime(2024, 10, 20, tzinfo=UTC))[1] == []  # once
    assert bl.next_due(marked) is None


def test_an_entry_with_a_period_has_no_deletion_deadline() -> None:
    """Art. 10: 有纳入期限的，不适用前款规定 — it leaves at the end of its period."""
    e = bl.listed("bl-1", COURT, _listing())
    assert bl.deletion_reason(e, Reason.PERFORMED, T0).deletion_due is None


@pytest.mark.parametrize("reason", [Reason.EXPIRED, Reason.CORRECTION])
def test_only_article_10_reasons_are_reported(reason: Reason) -> None:
    e = bl.listed("bl-1", COURT, _listing())
    with pytest.raises(ValidationError) as info:
        bl.deletion_reason(e, reason, T0)
    assert info.value.code == "BLACKLIST_REASON_INVALID"


def test_correction_review_in_15_days_then_correction_in_3_working_days() -> None:
    """Art. 12: reviewed within 15 days of the written application; upheld, corrected within
    3 working days; an update or a delisting does it."""
    e = bl.listed("bl-1", COURT, _listing())
    applied = bl.correction_applied(e, COURT, T0)  # Friday 03-01: day 15 is Saturday 03-16
    assert applied.review_due == datetime(2024, 3, 18, 16, 0, tzinfo=UTC)  # moved to Monday
    with pytest.raises(ValidationError) as info:
        bl.correction_decided(e, COURT, True, T0)
    assert info.value.code == "BLACKLIST_NO_CORRECTION_PENDING"
    upheld = bl.correction_decided(applied, COURT, True, T0 + timedelta(days=3))  # Monday 03-04
    assert upheld.review_due is None
    assert upheld.correction_due == datetime(2024, 3, 7, 16, 0, tzinfo=UTC)  # end of Thursday
    corrected = bl.update(upheld, COURT, T0, period_months=None, serious=None, period_given=False)
    assert corrected.correction_due is None and corrected.version == 2
    dismissed = bl.correction_decided(applied, COURT, False, T0)
    assert dismissed.correction_due is None and dismissed.review_due is None


def test_the_lockout_lasts_6_months() -> None:
    assert bl.lockout_until(T0) == datetime(2024, 9, 1, 16, 0, tzinfo=UTC)
