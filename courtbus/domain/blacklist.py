"""The dishonest-debtor list (失信被执行人名单): who may be listed, for how long, and what must
happen to an entry and when. Pure: no I/O, no clocks (every function takes the time).

Every rule cites 最高人民法院关于公布失信被执行人名单信息的若干规定 (法释〔2017〕7号, the 2017
revision; "art. N" below):

- art. 1: six grounds (``ListingGround``); art. 2: grounds (2)-(6) list for 2 years, extendable
  by 1-3 years for violent or threatening obstruction in serious circumstances or several
  dishonest acts; ground (1) has no fixed period (until the debtor performs);
- art. 3: a ground (1) listing is excluded if (一) adequate security was provided, (二) property
  already sealed, seized or frozen suffices, (三) the debtor is later in the order of
  performance and may not by law be enforced against yet, or (四) it is otherwise not a refusal
  with ability (read in the 2017 决定's text on law-firm pages: 不得依据本规定第一条第一项的规定将
  被执行人纳入失信被执行人名单); art. 4: minors are never listed;
- art. 6: the published fields;
- art. 10: deletion within 3 working days of a reason (1)-(7); "有纳入期限的，不适用前款规定。纳入
  期限届满后三个工作日内，人民法院应当删除失信信息" (an entry with a period leaves when it ends);
  after a deletion on the applicant's written request (reason (3)), that applicant cannot have
  the debtor relisted for 6 months;
- art. 11-12: a party may apply for correction; the court reviews within 15 days and, the
  application upheld, corrects within 3 working days.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from courtbus.domain.calendar import CHINA, due_after, months_end, working_days_end
from courtbus.errors import ValidationError

PROVISIONS = "最高人民法院关于公布失信被执行人名单信息的若干规定 (法释〔2017〕7号)"


def art(number: str) -> str:
    """A citation of one article of the provisions, e.g. ``art("十")``."""
    return f"{PROVISIONS} 第{number}条"


PERIOD_MONTHS = 24  # art. 2: 纳入失信被执行人名单的期限为二年
EXTENSION_MONTHS = (12, 36)  # art. 2: 可以延长一至三年
LOCKOUT_MONTHS = 6  # art. 10: 删除失信信息后六个月内……不予支持
DELETION_WORKING_DAYS = 3  # art. 10: 三个工作日内删除
REVIEW_DAYS = 15  # art. 12: 自收到书面纠正申请之日起十五日内审查
CORRECTION_WORKING_DAYS = 3  # art. 12: 理由成立的，应当在三个工作日内纠正
ADULT_AGE = 18  # art. 4: 被执行人为未成年人的，人民法院不得将其纳入失信被执行人名单


class Ground(StrEnum):
    """The six grounds of art. 1, in its order."""

    REFUSED_WITH_ABILITY = "REFUSED_WITH_ABILITY"  # (一) 有履行能力而拒不履行
    OBSTRUCTED_EXECUTION = "OBSTRUCTED_EXECUTION"  # (二) 妨碍、抗拒执行
    EVADED_EXECUTION = "EVADED_EXECUTION"  # (三) 规避执行
    VIOLATED_PROPERTY_REPORTING = "VIOLATED_PROPERTY_REPORTING"  # (四) 违反财产报告制度
    VIOLATED_CONSUMPTION_BAN = "VIOLATED_CONSUMPTION_BAN"  # (五) 违反限制消费令
    BREACHED_SETTLEMENT = "BREACHED_SETTLEMENT"  # (六) 无正当理由拒不履行执行和解协议


class Reason(StrEnum):
    """Why an entry leaves the list."""

    PERFORMED = "PERFORMED"  # art. 10(1)
    SETTLEMENT_PERFORMED = "SETTLEMENT_PERFORMED"  # art. 10(2)
    CREDITOR_REQUEST = "CREDITOR_REQUEST"  # art. 10(3): starts the applicant's 6-month lockout
    NO_PROPERTY_CONCLUDED = "NO_PROPERTY_CONCLUDED"  # art. 10(4)
    SUSPENDED = "SUSPENDED"  # art. 10(5)
    NON_EXECUTION_RULING = "NON_EXECUTION_RULING"  # art. 10(6)
    TERMINATED = "TERMINATED"  # art. 10(7)
    EXPIRED = "EXPIRED"  # art. 10, second paragraph: the period ended (the service delists)
    CORRECTION = (
        "CORRECTION"  # art. 11-12: a correction upheld (e.g. should never have been listed)
    )


class Status(StrEnum):
    """An entry is published (ACTIVE) or deleted (DELISTED, kept for a grace period)."""

    ACTIVE = "ACTIVE"
    DELISTED = "DELISTED"


class NoticeKind(StrEnum):
    """What a blacklist notice tells the listing court."""

    DELETION_DUE = "DELETION_DUE"
    DELETION_OVERDUE = "DELETION_OVERDUE"
    CORRECTION_REVIEW_DUE = "CORRECTION_REVIEW_DUE"
    CORRECTION_REVIEW_OVERDUE = "CORRECTION_REVIEW_OVERDUE"
    CORRECTION_OVERDUE = "CORRECTION_OVERDUE"
    EXPIRED = "EXPIRED"


OVERDUE = frozenset(
    {
        NoticeKind.DELETION_OVERDUE,
        NoticeKind.CORRECTION_REVIEW_OVERDUE,
        NoticeKind.CORRECTION_OVERDUE,
    }
)


@dataclass(frozen=True, slots=True)
class Listing:
    """What a listing court says about a debtor, as the rules need it."""

    debtor_kind: str  # PERSON or ORGANISATION
    debtor_id: str  # canonical
    ground: Ground
    serious: bool
    period_months: int | None
    listed_at: datetime
    legal_representative: str | None = None
    performance: str | None = None
    conduct: str | None = None
    title_issuer: str | None = None
    title_number: str | None = None
    filed_at: datetime | None = None
    security_provided: bool = False
    sealed_property_sufficient: bool = False
    later_in_order: bool = False  # art. 3(3)
    otherwise_not_refusal: bool = False  # art. 3(4)


def birth_date(person_id: str) -> date | None:
    """The birth date a person's ID number carries (18-digit resident IDs, 港澳台 residence
    permits and new foreign permanent-residence IDs at digits 7-14; 15-digit IDs 19YYMMDD at
    7-12), or None (a passport, an old foreign ID)."""
    digits = person_id[6:14] if len(person_id) == 18 else "19" + person_id[6:12]
    if len(person_id) not in (15, 18) or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def age_on(born: date, day: date) -> int:
    """Full years of age on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _refuse(code: str, why: str, source: str) -> ValidationError:
    return ValidationError(f"{why} ({source})", code=code)


def check_listing(listing: Listing) -> None:
    """Refuse a listing the provisions do not allow, naming the exclusion or the rule.

    Raises:
        ValidationError: ``BLACKLIST_MINOR`` (art. 4), ``BLACKLIST_EXCLUDED_SECURITY``,
            ``BLACKLIST_EXCLUDED_SEALED_PROPERTY``, ``BLACKLIST_EXCLUDED_LATER_IN_ORDER`` or
            ``BLACKLIST_EXCLUDED_OTHER`` (art. 3 (一)-(四)), ``BLACKLIST_PERIOD_INVALID``
            (art. 2), ``BLACKLIST_FIELD_MISSING`` (art. 6).
    """
    if listing.debtor_kind == "PERSON":
        born = birth_date(listing.debtor_id)
        listed_day = listing.listed_at.astimezone(CHINA).date()
        if born is not None and age_on(born, listed_day) < ADULT_AGE:
            raise _refuse(
                "BLACKLIST_MINOR",
                f"the debtor is {age_on(born, listed_day)}: a minor is never listed",
                art("四"),
            )
    if listing.ground is Ground.REFUSED_WITH_ABILITY:
        if listing.security_provided:
            raise _refuse(
                "BLACKLIST_EXCLUDED_SECURITY",
                "the debtor provided adequate security, "
                "so cannot be listed for refusing with ability",
                art("三") + "(一)",
            )
        if listing.sealed_property_sufficient:
            raise _refuse(
                "BLACKLIST_EXCLUDED_SEALED_PROPERTY",
                "property already sealed, seized or frozen "
                "suffices to pay, so the debtor cannot be listed for refusing with ability",
                art("三") + "(二)",
            )
        if listing.later_in_order:
            raise _refuse(
                "BLACKLIST_EXCLUDED_LATER_IN_ORDER",
                "the debtor is later in the order of "
                "performance and may not by law be enforced against yet, so cannot be listed for "
                "refusing with ability",
                art("三") + "(三)",
            )
        if listing.otherwise_not_refusal:
            raise _refuse(
                "BLACKLIST_EXCLUDED_OTHER",
                "the listing court found the debtor's conduct is not a "
                "refusal to perform with ability, so it cannot be listed on that ground",
                art("三") + "(四)",
            )
    check_period(listing.ground, listing.serious, listing.period_months)
    missing = [
        name
        for name, value in (
            ("performance", listing.performance),
            ("conduct", listing.conduct),
            ("title_issuer", listing.title_issuer),
            ("title_number", listing.title_number),
            ("filed_at", listing.filed_at),
        )
        if value is None or (isinstance(value, str) and not value.strip())
    ]
    if listing.debtor_kind == "ORGANISATION" and not (listing.legal_representative or "").strip():
        missing.append("legal_representative")
    if missing:
        raise _refuse(
            "BLACKLIST_FIELD_MISSING",
            f"the published entry must state {', '.join(missing)}",
            art("六"),
        )


def check_period(ground: Ground, serious: bool, period_months: int | None) -> None:
    """The listing period art. 2 gives the ground.

    Raises:
        ValidationError: ``BLACKLIST_PERIOD_INVALID``.
    """
    if ground is Ground.REFUSED_WITH_ABILITY:
        if period_months is not None:
            raise _refuse(
                "BLACKLIST_PERIOD_INVALID",
                "ground (1) has no fixed period: the entry "
                "stays until the debtor performs; leave period_months empty",
                art("二"),
            )
        return
    low, high = PERIOD_MONTHS + EXTENSION_MONTHS[0], PERIOD_MONTHS + EXTENSION_MONTHS[1]
    if period_months == PERIOD_MONTHS or (serious and period_months in range(low, high + 1)):
        return
    allowed = f"{PERIOD_MONTHS}" + (f", or {low}-{high} for a serious case" if serious else "")
    raise _refuse(
        "BLACKLIST_PERIOD_INVALID",
        f"a {ground.value} listing is {PERIOD_MONTHS} months, extendable by 12-36 months only in a "
        f"serious case; got {period_months}; allowed: {allowed}",
        art("二"),
    )


def expires_at(listed_at: datetime, period_months: int | None) -> datetime | None:
    """When the listing period ends (None: until performed), counted by 民法典 (2020) 第二百零一条、第二百零二条
    (:func:`courtbus.domain.calendar.months_end`: the holiday rule, 第二百零三条, not applied)."""
    return None if period_months is None else months_end(listed_at, period_months)


def lockout_until(deleted_at: datetime) -> datetime:
    """The end of the 6 months in which the applicant cannot have the debtor relisted."""
    return months_end(deleted_at, LOCKOUT_MONTHS)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry as the blacklist service keeps it, with the deadlines it watches."""

    entry_id: str
    listing_court: str
    status: Status
    ground: Ground
    serious: bool
    period_months: int | None
    listed_at: datetime
    expires_at: datetime | None
    updated_at: datetime
    version: int = 1
    delisted_at: datetime | None = None
    reason: Reason | None = None
    deletion_due: datetime | None = None  # a reported art. 10 reason: delete by then
    deletion_reason: Reason | None = None
    review_due: datetime | None = None  # a correction application: review by then
    correction_due: datetime | None = None  # an upheld correction: correct by then
    overdue_sent: frozenset[NoticeKind] = frozenset()


def listed(entry_id: str, listing_court: str, listing: Listing) -> Entry:
    """A new entry, once ``check_listing`` passed."""
    return Entry(
        entry_id,
        listing_court,
        Status.ACTIVE,
        listing.ground,
        listing.serious,
        listing.period_months,
        listing.listed_at,
        expires_at(listing.listed_at, listing.period_months),
        listing.listed_at,
    )


def check_owner(entry: Entry, court: str | None, what: str) -> None:
    """Only the listing court may change, correct or delist its entry.

    Raises:
        ValidationError: ``BLACKLIST_NOT_OWNER`` or ``BLACKLIST_NOT_ACTIVE``.
    """
    if court != entry.listing_court:
        raise ValidationError(
            f"only the listing court {entry.listing_court} may {what} entry {entry.entry_id}, "
            f"not {court or 'an unknown sender'}",
            code="BLACKLIST_NOT_OWNER",
        )
    if entry.status is not Status.ACTIVE:
        raise ValidationError(
            f"entry {entry.entry_id} is already delisted", code="BLACKLIST_NOT_ACTIVE"
        )


def update(
    entry: Entry,
    court: str | None,
    at: datetime,
    *,
    period_months: int | None,
    serious: bool | None,
    period_given: bool,
) -> Entry:
    """The listing court changes its entry (period, seriousness, obligation); a pending
    correction is done by it.

    Raises:
        ValidationError: as ``check_owner`` and ``check_period``.
    """
    check_owner(entry, court, "update")
    new_serious = entry.serious if serious is None else serious
    new_period = period_months if period_given else entry.period_months
    check_period(entry.ground, new_serious, new_period)
    return replace(
        entry,
        serious=new_serious,
        period_months=new_period,
        expires_at=expires_at(entry.listed_at, new_period),
        updated_at=at,
        version=entry.version + 1,
        correction_due=None,
    )


def delist(entry: Entry, court: str | None, reason: Reason, at: datetime) -> Entry:
    """The listing court deletes its entry (or the service, at expiry: ``court`` None).

    Raises:
        ValidationError: as ``check_owner``; ``BLACKLIST_NOT_EXPIRED`` for EXPIRED before the
            period's end.
    """
    if court is not None or entry.status is not Status.ACTIVE:
        check_owner(entry, court, "delist")
    if reason is Reason.EXPIRED and (entry.expires_at is None or at < entry.expires_at):
        raise ValidationError(
            f"entry {entry.entry_id} has not expired"
            + (
                f" (its period ends {entry.expires_at.isoformat()})"
                if entry.expires_at
                else " (ground (1): it stays until the debtor performs)"
            ),
            code="BLACKLIST_NOT_EXPIRED",
        )
    return replace(
        entry,
        status=Status.DELISTED,
        delisted_at=at,
        reason=reason,
        updated_at=at,
        version=entry.version + 1,
        deletion_due=None,
        deletion_reason=None,
        review_due=None,
        correction_due=None,
    )


def correction_applied(entry: Entry, court: str | None, applied_at: datetime) -> Entry:
    """A party applied for correction (art. 11): the court reviews within 15 days (art. 12).

    Raises:
        ValidationError: as ``check_owner``.
    """
    check_owner(entry, court, "record a correction application for")
    due = due_after(applied_at, timedelta(days=REVIEW_DAYS))
    return replace(entry, review_due=due, overdue_sent=entry.overdue_sent - _REVIEW)


def correction_decided(entry: Entry, court: str | None, upheld: bool, at: datetime) -> Entry:
    """The court decided an application (art. 12): upheld, it corrects within 3 working days.

    Raises:
        ValidationError: as ``check_owner``; ``BLACKLIST_NO_CORRECTION_PENDING``.
    """
    check_owner(entry, court, "decide a correction of")
    if entry.review_due is None:
        raise ValidationError(
            f"no application for correction of entry {entry.entry_id} is pending",
            code="BLACKLIST_NO_CORRECTION_PENDING",
        )
    due = working_days_end(at, CORRECTION_WORKING_DAYS) if upheld else None
    return replace(entry, review_due=None, correction_due=due)


def deletion_reason(entry: Entry, reason: Reason, arisen_at: datetime) -> Entry:
    """A reason of art. 10(1) arose. Without a fixed period the entry must be deleted within 3
    working days; with one, art. 10 does not apply (the court may still delete early, art. 2).

    Raises:
        ValidationError: ``BLACKLIST_NOT_ACTIVE``; ``BLACKLIST_REASON_INVALID`` for EXPIRED or
            CORRECTION (not art. 10(1) reasons).
    """
    if entry.status is not Status.ACTIVE:
        raise ValidationError(
            f"entry {entry.entry_id} is already delisted", code="BLACKLIST_NOT_ACTIVE"
        )
    if reason in (Reason.EXPIRED, Reason.CORRECTION):
        raise ValidationError(
            f"{reason.value} is not a reason of {art('十')} first paragraph",
            code="BLACKLIST_REASON_INVALID",
        )
    if entry.period_months is not None:
        return entry
    due = working_days_end(arisen_at, DELETION_WORKING_DAYS)
    if entry.deletion_due is not None and entry.deletion_due <= due:
        return entry  # an earlier reason already set an earlier deadline
    return replace(entry, deletion_due=due, deletion_reason=reason)


_REVIEW = frozenset({NoticeKind.CORRECTION_REVIEW_OVERDUE})


def overdue(entry: Entry, now: datetime) -> tuple[Entry, list[NoticeKind]]:
    """The overdue notices due at ``now`` not yet sent, and the entry marking them sent."""
    found = [
        kind
        for kind, due in (
            (NoticeKind.DELETION_OVERDUE, entry.deletion_due),
            (NoticeKind.CORRECTION_REVIEW_OVERDUE, entry.review_due),
            (NoticeKind.CORRECTION_OVERDUE, entry.correction_due),
        )
        if due is not None and now >= due and kind not in entry.overdue_sent
    ]
    if entry.status is not Status.ACTIVE:
        return entry, []
    return replace(entry, overdue_sent=entry.overdue_sent | frozenset(found)), found


def next_due(entry: Entry) -> datetime | None:
    """When the service must next look at ``entry``: its expiry or an unsent overdue notice."""
    if entry.status is not Status.ACTIVE:
        return None
    times = [entry.expires_at] if entry.expires_at is not None else []
    for kind, due in (
        (NoticeKind.DELETION_OVERDUE, entry.deletion_due),
        (NoticeKind.CORRECTION_REVIEW_OVERDUE, entry.review_due),
        (NoticeKind.CORRECTION_OVERDUE, entry.correction_due),
    ):
        if due is not None and kind not in entry.overdue_sent:
            times.append(due)
    return min(times, default=None)
