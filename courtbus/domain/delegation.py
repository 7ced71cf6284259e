"""The delegation state machine (委托执行 and 事项委托) and its legal deadlines. Pure: no I/O, no clocks.

Deadlines in days are counted as the law counts days (``courtbus.domain.calendar``): from the
day after delivery, China time, to the end of the last day, moved past a rest day.

requested → delivered → accepted → in progress → completed | failed; cancelled by the
requesting court at any point before an end state. The executing court may not refuse (民事诉讼法
委托执行条: 不得拒绝): it may ask for missing materials (补正) and return the delegation only if
they are not supplied within 30 days (法释〔2011〕11号 (2020 修正) 第八条). If it has not started within 15
days, the requesting court may ask the executing court's superior court to order it to execute
(指令执行, 民事诉讼法 ibid. 第二款); if it has not executed to the end in 6 months, the
applicant may ask that court to set a time limit, take the case up or assign another court
(法释〔2011〕11号 (2020 修正) 第十一条): two rules, and only the second takes the case away. A completed freeze, seal or seizure with an end date is watched until it is
released or lapses; renewal must come before its end (民诉法解释 (2022 修正) 第四百八十五条) and keeps the
original priority (法释〔2011〕11号 (2020 修正) 第六条第二款).

Two kinds (``Kind``, 法释〔2011〕11号 (2020 修正) 第二条): a whole case delegated (``CASE``,
委托执行: the executing court files it within 7 days, 第七条, then every clock above) or help
with one act (``MATTER``, 事项委托: 查询、冻结、查封、调查、送达 are not filed as a case but
assisted actively, 第二条第二款, through the 执行指挥中心 platform, 第四条第二款; no filing,
start, report or materials period, no escalation, no return; a measure's end is still watched).
A request of no kind (every one sent before kinds) keeps the clocks it always had.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from courtbus.domain.calendar import Due, months_end, reckon
from courtbus.domain.courts import superior_of
from courtbus.errors import ValidationError


class State(StrEnum):
    """Where a delegation stands (at most 16 characters: the read model's column)."""

    REQUESTED = "REQUESTED"
    DELIVERED = "DELIVERED"
    ACCEPTED = "ACCEPTED"
    MATERIALS_ASKED = "MATERIALS_ASKED"  # 补正: the executing court asked for missing materials
    REJECTED = "REJECTED"  # no longer reachable (受托法院不得拒绝); kept for stored delegations
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    RETURNED = "RETURNED"  # 退回: materials never supplied (委托执行规定 (2020 修正) 第八条)
    TRANSFERRED = "TRANSFERRED"  # the superior court took it up or assigned another court


END_STATES = frozenset(
    {
        State.REJECTED,
        State.COMPLETED,
        State.FAILED,
        State.CANCELLED,
        State.RETURNED,
        State.TRANSFERRED,
    }
)

# The sources of the delegation rules, cited in refusals and notices.
CPL_DELEGATION = (
    "民事诉讼法 (2023 修正) 第二百四十条 (2021 版 第二百三十六条, 2017 版 第二百二十九条): 受委托人民法院收到委托函件后，必须在十五日内开始执行，"
    "不得拒绝……自收到委托函件之日起十五日内不执行的，委托人民法院可以请求受委托人民法院的上级人民法院指令"
    "受委托人民法院执行"
)
SPC_2011_ART_8 = (
    "最高人民法院关于委托执行若干问题的规定 (法释〔2011〕11号, 2020 修正) 第八条: 受托法院如发现委托执行的手续、材料不全，"
    "可以要求委托法院补办。委托法院应当在30日内完成补办事项……既不补办又不说明原因的，视为撤回委托，受托法院"
    "可以将委托材料退回委托法院"
)
SPC_2011_ART_6_2 = (
    "法释〔2011〕11号 (2020 修正) 第六条第二款: 续封续冻时，仍为原委托法院的查封冻结顺序"
)
# Checked on a CASE request's handed_over_measures (check_handover): the measures the requesting
# court took itself and hands over with the whole case (委托执行).
SPC_2011_ART_6_3 = (
    "法释〔2011〕11号 (2020 修正) 第六条第三款: 查封、扣押、冻结等措施的有效期限在移交受托法院时不足1个月的，"
    "委托法院应当先行续封或者续冻，再移交受托法院"
)
SPC_2011_ART_11 = (
    "法释〔2011〕11号 (2020 修正) 第十一条: 受托法院未能在6个月内将受托案件执结的，申请执行人有权请求受托法院的"
    "上一级人民法院提级执行或者指定执行，上一级人民法院应当立案审查，发现受托法院无正当理由不予执行的，应当限期"
    "执行或者作出裁定提级执行或者指定执行"
)
CPL_DELEGATION_ORDER = (
    "民事诉讼法 (2023 修正) 第二百四十条第二款 (2021 版 第二百三十六条, 2017 版 第二百二十九条): 受委托人民法院自收到"
    "委托函件之日起十五日内不执行的，委托人民法院可以请求受委托人民法院的上级人民法院指令受委托人民法院执行"
)
TRANSFER_MONTHS = 6  # 法释〔2011〕11号 (2020 修正) 第十一条: 未能在6个月内将受托案件执结的 (counted here from delivery)
ART_485_RENEWAL = (
    "民诉法解释 (2022 修正) 第四百八十五条: 人民法院应当在查封、扣押、冻结期限届满前办理续行查封、扣押、冻结"
    "手续，续行期限不得超过前款规定的期限"
)
SPC_2011_ART_9 = (
    "法释〔2011〕11号 (2020 修正) 第九条: 受托法院退回委托的，应当层报所在辖区高级人民法院审批。高级人民法院同意"
    "退回后，受托法院应当在15日内将有关委托手续和案卷材料退回委托法院，并作出书面说明"
)
SUPPLY_DAYS = 30  # 法释〔2011〕11号 (2020 修正) 第八条: 委托法院应当在30日内完成补办事项
FILES_BACK_DAYS = 15  # 法释〔2011〕11号 (2020 修正) 第九条: 高级人民法院同意退回后……15日内……退回 (the FILES clock)
MEASURE_MATTERS = frozenset({"FREEZE", "SEAL", "SEIZE"})  # 查封、扣押、冻结 (Art. 485): a term

SPC_2011_ART_2 = (
    "最高人民法院关于委托执行若干问题的规定 (法释〔2011〕11号, 2020 修正) 第二条: 案件委托执行后，受托法院应当"
    "依法立案，委托法院应当在收到受托法院的立案通知书后作销案处理。委托异地法院协助查询、冻结、查封、调查或者送达"
    "法律文书等有关事项的，受托法院不作为委托执行案件立案办理，但应当积极予以协助"
)
# Cited in the kinds' docs and the README, not enforced: the platform of 第四条第二款 is off the
# bus (the bus is the channel), and 第七条's notices to the applicant are the courts' own.
SPC_2011_ART_4 = (
    "法释〔2011〕11号 (2020 修正) 第四条: 委托执行案件应当由委托法院直接向受托法院办理委托手续，并层报各自所在的"
    "高级人民法院备案。事项委托应当通过人民法院执行指挥中心综合管理平台办理委托事项的相关手续"
)
SPC_2011_ART_7 = (
    "法释〔2011〕11号 (2020 修正) 第七条第一款: 受托法院收到委托执行函后，应当在7日内予以立案，并及时将立案通知书"
    "通过委托法院送达申请执行人，同时将指定的承办人、联系电话等书面告知委托法院"
)
FILE_DAYS = 7  # 法释〔2011〕11号 (2020 修正) 第七条第一款: 收到委托执行函后，应当在7日内予以立案
# 第二条第二款's list (查询、冻结、查封、调查或者送达法律文书等): the bus's matters for those acts
# (SEARCH is 查询, as the demo's results say; 调查 has no matter of its own). Its 等 leaves the
# list open, so other matters may be either kind.
ART_2_MATTERS = frozenset({"SEARCH", "FREEZE", "SEAL", "SERVE"})


class Kind(StrEnum):
    """Which delegation of 法释〔2011〕11号 (2020 修正) 第二条 a request is."""

    CASE = "CASE"  # 委托执行: the whole case, filed by the executing court (第二条第一款, 第七条)
    MATTER = "MATTER"  # 事项委托: help with one act, not filed as a case (第二条第二款)


class Step(StrEnum):
    """What happened to a delegation: the short names of its message types."""

    REQUESTED = "DelegationRequested"
    DELIVERED = "DelegationDelivered"
    ACCEPTED = "DelegationAccepted"
    REJECTED = "DelegationRejected"
    MATERIALS_REQUESTED = "DelegationMaterialsRequested"
    MATERIALS_SUPPLIED = "DelegationMaterialsSupplied"
    RETURNED = "DelegationReturned"
    PROGRESS = "DelegationProgressReported"
    COMPLETED = "DelegationCompleted"
    FAILED = "DelegationFailed"
    CANCELLED = "DelegationCancelled"
    ESCALATED = "DelegationEscalated"
    ESCALATION_ANSWERED = "DelegationEscalationAnswered"
    RENEWAL_REQUESTED = "DelegationRenewalRequested"
    RENEWED = "DelegationRenewed"
    RELEASE_REQUESTED = "DelegationReleaseRequested"
    RELEASED = "DelegationReleased"
    FILES_RETURNED = "DelegationFilesReturned"


class Actor(StrEnum):
    """Who may take a step."""

    REQUESTING = "requesting court"
    EXECUTING = "executing court"
    SUPERIOR = "executing court's superior court"
    BUS = "the bus"


_NOT_STARTED = frozenset({State.DELIVERED, State.ACCEPTED, State.MATERIALS_ASKED})
NOT_STARTED = _NOT_STARTED  # delivered and not started yet: the start deadline still runs

# step -> (who may take it, states it may follow, state it leads to; None: the state stays)
TRANSITIONS: dict[Step, tuple[Actor, frozenset[State], State | None]] = {
    Step.DELIVERED: (Actor.BUS, frozenset({State.REQUESTED}), State.DELIVERED),
    Step.ACCEPTED: (Actor.EXECUTING, frozenset({State.DELIVERED}), State.ACCEPTED),
    Step.MATERIALS_REQUESTED: (
        Actor.EXECUTING,
        frozenset({State.DELIVERED, State.ACCEPTED}),
        State.MATERIALS_ASKED,
    ),
    Step.MATERIALS_SUPPLIED: (Actor.REQUESTING, frozenset({State.MATERIALS_ASKED}), None),
    Step.RETURNED: (Actor.EXECUTING, frozenset({State.MATERIALS_ASKED}), State.RETURNED),
    Step.PROGRESS: (
        Actor.EXECUTING,
        frozenset({State.ACCEPTED, State.IN_PROGRESS}),
        State.IN_PROGRESS,
    ),
    Step.COMPLETED: (
        Actor.EXECUTING,
        frozenset({State.ACCEPTED, State.IN_PROGRESS}),
        State.COMPLETED,
    ),
    Step.FAILED: (Actor.EXECUTING, frozenset({State.ACCEPTED, State.IN_PROGRESS}), State.FAILED),
    Step.CANCELLED: (
        Actor.REQUESTING,
        frozenset(
            {
                State.REQUESTED,
                State.DELIVERED,
                State.ACCEPTED,
                State.MATERIALS_ASKED,
                State.IN_PROGRESS,
            }
        ),
        State.CANCELLED,
    ),
    Step.ESCALATED: (Actor.REQUESTING, _NOT_STARTED, None),
    # rule (a), CPL art. 240 para. 2: unstarted; rule (b), 法释〔2011〕11号 (2020 修正) art. 11: not executed
    # to the end in 6 months (so also in progress); _answered tells them apart
    Step.ESCALATION_ANSWERED: (Actor.SUPERIOR, _NOT_STARTED | {State.IN_PROGRESS}, None),
    Step.RENEWAL_REQUESTED: (Actor.REQUESTING, frozenset({State.COMPLETED}), None),
    Step.RENEWED: (Actor.EXECUTING, frozenset({State.COMPLETED}), None),
    Step.RELEASE_REQUESTED: (Actor.REQUESTING, frozenset({State.COMPLETED}), None),
    Step.RELEASED: (Actor.EXECUTING, frozenset({State.COMPLETED}), None),
    # 第九条: after an approved return the files go back within 15 days (the FILES clock)
    Step.FILES_RETURNED: (Actor.EXECUTING, frozenset({State.RETURNED}), None),
}


class MeasureStatus(StrEnum):
    """Where a freeze, seal or seizure the executing court imposed stands."""

    ACTIVE = "ACTIVE"
    RENEWAL_REQUESTED = "RENEWAL_REQUESTED"  # 续冻/续封 asked, not yet reported done
    RELEASE_REQUESTED = "RELEASE_REQUESTED"  # 解冻/解封 asked, not yet reported done
    RELEASED = "RELEASED"
    LAPSED = "LAPSED"  # its term ended unrenewed: the creditor lost its place in line


LIVE_MEASURE = frozenset(
    {MeasureStatus.ACTIVE, MeasureStatus.RENEWAL_REQUESTED, MeasureStatus.RELEASE_REQUESTED}
)

# Which measure statuses each measure step may follow, and the status it leads to.
_MEASURE_STEPS: dict[Step, tuple[frozenset[MeasureStatus], MeasureStatus]] = {
    Step.RENEWAL_REQUESTED: (frozenset({MeasureStatus.ACTIVE}), MeasureStatus.RENEWAL_REQUESTED),
    Step.RENEWED: (frozenset({MeasureStatus.RENEWAL_REQUESTED}), MeasureStatus.ACTIVE),
    Step.RELEASE_REQUESTED: (
        frozenset({MeasureStatus.ACTIVE, MeasureStatus.RENEWAL_REQUESTED}),
        MeasureStatus.RELEASE_REQUESTED,
    ),
    Step.RELEASED: (frozenset({MeasureStatus.RELEASE_REQUESTED}), MeasureStatus.RELEASED),
}


class EscalationDecision(StrEnum):
    """What the superior court decides. Two rules, each with its own decisions:

    (a) 15 days unstarted: the *requesting court* may ask it to order execution (指令执行,
        ``CPL_DELEGATION_ORDER``): ORDERED or NOT_WARRANTED;
    (b) 6 months not executed to the end: the *applicant* may ask it to set a time limit, take
        the case up or assign another court (``SPC_2011_ART_11``): ORDERED (限期执行), TAKEN_UP,
        ASSIGNED or NOT_WARRANTED. TAKEN_UP and ASSIGNED belong to (b) only.
    """

    ORDERED = "ORDERED"  # 指令执行 (a) / 限期执行 (b): the executing court must execute (by a date)
    TAKEN_UP = "TAKEN_UP"  # 提级执行, rule (b) only: the superior executes itself
    ASSIGNED = "ASSIGNED"  # 指定执行, rule (b) only: another court executes
    NOT_WARRANTED = "NOT_WARRANTED"  # the executing court had a proper reason


TRANSFERS = frozenset({EscalationDecision.TAKEN_UP, EscalationDecision.ASSIGNED})


def transfer_open_at(d: Delegation) -> datetime | None:
    """From when rule (b) may be invoked: 6 months after delivery (法释〔2011〕11号 (2020 修正) 第十一条
    says 6 months, not from when: the bus counts from the executing court's receipt, the
    delivery, the earliest reading). None: not delivered."""
    return None if d.delivered_at is None else months_end(d.delivered_at, TRANSFER_MONTHS)


class DeadlineKind(StrEnum):
    """The deadlines the bus watches on a delegation."""

    START = "START"  # the executing court starts within 15 days of delivery
    REPORT = "REPORT"  # and reports the outcome (or progress) within 30 days
    SUPPLY = "SUPPLY"  # the requesting court supplies missing materials within 30 days
    LAPSE = "LAPSE"  # a freeze, seal or seizure ends unless renewed before
    FILE = (
        "FILE"  # CASE: filed (立案) within 7 days of delivery (法释〔2011〕11号 (2020 修正) 第七条)
    )
    FILES = "FILES"  # returned: the files go back within 15 days of approval (第九条)


# The clocks set at delivery, by kind. CASE: 第七条 (FILE) and 民事诉讼法 (2023 修正) 第二百四十条 (START,
# REPORT), which governs 委托执行 (issue 21 item 9's reading). MATTER: none (第二条第二款 sets no
# period: 应当积极予以协助). None (sent before kinds): what every delegation had, START and REPORT.
DELIVERY_CLOCKS: dict[Kind | None, tuple[DeadlineKind, ...]] = {
    None: (DeadlineKind.START, DeadlineKind.REPORT),
    Kind.CASE: (DeadlineKind.FILE, DeadlineKind.START, DeadlineKind.REPORT),
    Kind.MATTER: (),
}


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """Time allowed from delivery to start and to report, and how long before each to warn.

    ``file`` (a ``CASE`` only), ``files_back`` (after an approved return), ``start`` and ``report`` in whole days are periods counted as the law counts days
    (``courtbus.domain.calendar.reckon``; provisional past the holiday data); other spans (the demo's seconds) are plain
    offsets. ``warn_before`` is always a plain offset before the due time; ``lapse_warn_before``
    is how long before a freeze ends both courts are warned (an operational choice, not law).
    """

    start: timedelta = timedelta(days=15)
    report: timedelta = timedelta(days=30)
    warn_before: timedelta = timedelta(days=3)
    supply: timedelta = timedelta(days=SUPPLY_DAYS)
    lapse_warn_before: timedelta = timedelta(days=15)
    file: timedelta = timedelta(days=FILE_DAYS)
    files_back: timedelta = timedelta(days=FILES_BACK_DAYS)

    def period(self, kind: DeadlineKind) -> timedelta:
        """The period of a clock set at delivery (FILE, START or REPORT)."""
        return {DeadlineKind.FILE: self.file, DeadlineKind.START: self.start}.get(kind, self.report)


@dataclass(frozen=True, slots=True)
class Deadline:
    """One deadline of one delegation and which notices about it were already sent."""

    kind: DeadlineKind
    due: datetime
    warned: bool = False
    overdue_sent: bool = False
    # Why the deadline is only provisional (counted into a year without holiday data), or None.
    provisional: str | None = None


@dataclass(frozen=True, slots=True)
class Measure:
    """The freeze, seal or seizure a completed delegation left in force, until ``until``."""

    until: datetime
    status: MeasureStatus = MeasureStatus.ACTIVE
    renewals: int = 0


@dataclass(frozen=True, slots=True)
class Delegation:
    """A delegation as the bus knows it."""

    delegation_id: str
    requesting_court: str
    executing_court: str
    matter: str
    state: State
    requested_at: datetime
    delivered_at: datetime | None = None
    reported: bool = False  # a progress report or an outcome arrived
    deadlines: tuple[Deadline, ...] = field(default_factory=tuple)
    events: int = 1
    asset_kind: str | None = None
    resume_state: State | None = None  # MATERIALS_ASKED: the state to return to once supplied
    escalated: bool = False  # the requesting court asked the superior court, no answer yet
    measure: Measure | None = None
    kind: Kind | None = None  # None: sent before kinds; the clocks it always had

    @property
    def finished(self) -> bool:
        """Ended, with no freeze left in force and no files owed back (or their overdue
        notice sent): nothing more is watched on it."""
        live = self.measure is not None and self.measure.status in LIVE_MEASURE
        files = _deadline(self, DeadlineKind.FILES)
        owed = files is not None and not files.overdue_sent
        return self.state in END_STATES and not live and not owed


@dataclass(frozen=True, slots=True)
class Detail:
    """What a step carries besides its type, as far as the state machine needs it."""

    until: datetime | None = None  # Completed, Renewed: the measure's new end
    decision: EscalationDecision | None = None  # EscalationAnswered
    execute_by: datetime | None = None  # EscalationAnswered ORDERED: the time limit, if set
    approved_at: datetime | None = None  # Returned: the 高级人民法院's approval (art. 9)


def check_not_self(requesting_court: str, executing_court: str) -> None:
    """A court cannot entrust itself: delegation is between two courts.

    Raises:
        ValidationError: ``DELEGATION_SELF``.
    """
    if requesting_court == executing_court:
        raise ValidationError(
            f"court {requesting_court} cannot delegate to itself", code="DELEGATION_SELF"
        )


def check_kind(kind: Kind | str | None, matter: str) -> Kind | None:
    """The kind of a request for ``matter``; None (no kind given) passes as it always did.

    Raises:
        ValidationError: ``DELEGATION_KIND_INVALID`` (not CASE or MATTER),
            ``DELEGATION_KIND_NOT_ALLOWED`` (a ``CASE`` for 查询、冻结、查封 or 送达: those are
            not filed as a 委托执行 case, 法释〔2011〕11号 (2020 修正) 第二条第二款).
    """
    if kind is None:
        return None
    try:
        kind = Kind(kind)
    except ValueError:
        raise ValidationError(
            f"delegation kind {kind!r} is neither CASE (委托执行) nor MATTER (事项委托)",
            code="DELEGATION_KIND_INVALID",
        ) from None
    if kind is Kind.CASE and matter in ART_2_MATTERS:
        raise ValidationError(
            f"a {matter} request is a 事项委托 (kind MATTER), not a case delegation: "
            f"{SPC_2011_ART_2}",
            code="DELEGATION_KIND_NOT_ALLOWED",
        )
    return kind


@dataclass(frozen=True, slots=True)
class HandedOver:
    """A freeze, seal or seizure the requesting court hands over with a case delegation."""

    measure: str  # FREEZE, SEAL or SEIZE
    until: datetime  # when its term ends


HANDOVER_MONTHS = 1  # 第六条第三款: 有效期限在移交受托法院时不足1个月的 (counted by months_end)


def check_handover(kind: Kind | str | None, measures: Sequence[HandedOver], at: datetime) -> None:
    """The measures a request hands over, at ``at`` (the hand-over: the request's time).

    法释〔2011〕11号 (2020 修正) 第六条第三款: a measure with under a month of its term left at the
    hand-over is renewed by the requesting court first. "A month" runs out as
    ``calendar.months_end`` counts it (民法典 (2020) 第二百零一条、第二百零二条).

    Raises:
        ValidationError: ``DELEGATION_HANDOVER_NEEDS_CASE`` (measures on a request that is not
            a case delegation: only a 委托执行 hands a case's measures over),
            ``DELEGATION_HANDOVER_INVALID`` (not a freeze, seal or seizure),
            ``DELEGATION_MEASURE_LAPSED`` (its term already ended) or
            ``DELEGATION_MEASURE_NOT_RENEWED`` (under a month left).
    """
    if not measures:
        return
    if kind != Kind.CASE:  # a StrEnum: "CASE" as well
        raise ValidationError(
            "only a case delegation (kind CASE, 委托执行) hands over the case's freezes, seals "
            f"and seizures ({SPC_2011_ART_6_3})",
            code="DELEGATION_HANDOVER_NEEDS_CASE",
        )
    enough = months_end(at, HANDOVER_MONTHS)
    for i, m in enumerate(measures, start=1):
        where = f"handed-over measure {i} ({m.measure}, until {m.until.isoformat()})"
        if m.measure not in MEASURE_MATTERS:
            raise ValidationError(
                f"{where}: only a freeze, seal or seizure (FREEZE, SEAL, SEIZE) is handed over "
                "with its term",
                code="DELEGATION_HANDOVER_INVALID",
            )
        if m.until <= at:
            raise ValidationError(
                f"{where}: its term has already ended; a lapsed measure cannot be handed over "
                f"or renewed ({ART_485_RENEWAL})",
                code="DELEGATION_MEASURE_LAPSED",
            )
        if m.until < enough:
            raise ValidationError(
                f"{where}: under a month of its term is left (a month from the hand-over runs "
                f"out at {enough.isoformat()}); renew it first (续封/续冻) and hand over the "
                f"renewed term ({SPC_2011_ART_6_3})",
                code="DELEGATION_MEASURE_NOT_RENEWED",
            )


def request(
    delegation_id: str,
    requesting_court: str,
    executing_court: str,
    matter: str,
    requested_at: datetime,
    asset_kind: str | None = None,
    kind: Kind | str | None = None,
) -> Delegation:
    """A new delegation; ``kind`` None for a request that names none (its old clocks).

    Raises:
        ValidationError: ``DELEGATION_SELF`` if a court delegates to itself, or a code of
            :func:`check_kind`.
    """
    check_not_self(requesting_court, executing_court)
    checked = check_kind(kind, matter)
    return Delegation(
        delegation_id,
        requesting_court,
        executing_court,
        matter,
        State.REQUESTED,
        requested_at,
        asset_kind=asset_kind,
        kind=checked,
    )


def actor_of(delegation: Delegation, court_id: str | None) -> Actor | None:
    """Which role ``court_id`` plays in ``delegation`` (None for a stranger)."""
    if court_id is None:
        return Actor.BUS
    if court_id == delegation.requesting_court:
        return Actor.REQUESTING
    if court_id == delegation.executing_court:
        return Actor.EXECUTING
    if court_id == superior_of(delegation.executing_court):
        return Actor.SUPERIOR
    return None


def _refuse(d: Delegation, step: Step, why: str, code: str) -> ValidationError:
    return ValidationError(f"{step.value} on delegation {d.delegation_id}: {why}", code=code)


def _deadline(d: Delegation, kind: DeadlineKind) -> Deadline | None:
    return next((dl for dl in d.deadlines if dl.kind is kind), None)


def _set_deadline(d: Delegation, kind: DeadlineKind, due: datetime | Due | None) -> Delegation:
    """Replace (or with ``due`` None, drop) the ``kind`` deadline, its notices not yet sent.

    A ``datetime`` is a date a court gave (a measure's end, a superior court's order), never
    provisional; a ``Due`` was counted on the calendar.
    """
    kept = tuple(dl for dl in d.deadlines if dl.kind is not kind)
    if due is not None:
        kept += (_counted(kind, due if isinstance(due, Due) else Due(due)),)
    return replace(d, deadlines=kept)


def _counted(kind: DeadlineKind, due: Due) -> Deadline:
    return Deadline(kind, due.at, provisional=due.provisional)


def apply(
    delegation: Delegation,
    step: Step,
    by_court: str | None,
    at: datetime,
    rule: DeadlineRule | None = None,
    detail: Detail | None = None,
) -> Delegation:
    """Take one step at ``at`` (the bus's time).

    ``by_court`` is the court that sent the step (None when the bus itself sends it).

    Raises:
        ValidationError: ``DELEGATION_WRONG_COURT`` (a court not allowed to take this step,
            e.g. a third court answering), ``DELEGATION_ILLEGAL_TRANSITION`` (e.g. completing
            a cancelled delegation), ``DELEGATION_REFUSAL_NOT_ALLOWED`` (受托法院不得拒绝),
            or a step's own code (``DELEGATION_RETURN_TOO_EARLY``,
            ``DELEGATION_ESCALATION_TOO_EARLY``, ``DELEGATION_NOT_ESCALATED``,
            ``DELEGATION_ALREADY_ESCALATED``, ``DELEGATION_NO_MEASURE``,
            ``DELEGATION_MEASURE_ILLEGAL_TRANSITION``, ``DELEGATION_MEASURE_LAPSED``,
            ``DELEGATION_DETAIL_MISSING``, ``DELEGATION_FILES_NOT_OWED``,
            ``DELEGATION_NOT_FOR_MATTER``: an escalation, its
            answer or a return of a 事项委托).
    """
    rule = rule or DeadlineRule()
    detail = detail or Detail()
    if step is Step.REQUESTED:
        raise ValidationError(
            f"delegation {delegation.delegation_id} already exists", code="DELEGATION_DUPLICATE"
        )
    if step is Step.REJECTED:
        raise _refuse(
            delegation,
            step,
            f"the executing court may not refuse a delegation ({CPL_DELEGATION}); ask for missing "
            f"materials (DelegationMaterialsRequested) and return it only if they are not "
            f"supplied ({SPC_2011_ART_8})",
            "DELEGATION_REFUSAL_NOT_ALLOWED",
        )
    who, sources, target = TRANSITIONS[step]
    actor = actor_of(delegation, by_court)
    if actor is not who:
        sender = f"court {by_court}" if by_court else "the bus"
        raise ValidationError(
            f"{step.value} on delegation {delegation.delegation_id} must come from the {who.value}"
            f", not {sender}",
            code="DELEGATION_WRONG_COURT",
        )
    if delegation.state not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise ValidationError(
            f"{step.value} is not allowed on delegation {delegation.delegation_id} in state "
            f"{delegation.state.value} (only from {allowed})",
            code="DELEGATION_ILLEGAL_TRANSITION",
        )
    changed = replace(delegation, events=delegation.events + 1)
    if target is not None:
        changed = replace(changed, state=target)
    return _STEP_EFFECTS.get(step, _no_effect)(delegation, changed, step, at, rule, detail)


def _no_effect(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    return changed


def _delivered(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    clocks = DELIVERY_CLOCKS[d.kind]
    return replace(
        changed,
        delivered_at=at,
        deadlines=tuple(_counted(k, reckon(at, rule.period(k))) for k in clocks),
    )


def _reported(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    return replace(changed, reported=True)


def _completed(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    changed = replace(changed, reported=True)
    if x.until is None:
        return changed
    if d.matter not in MEASURE_MATTERS:
        raise _refuse(
            d,
            step,
            f"a {d.matter} delegation leaves no freeze, seal or seizure with an end date",
            "DELEGATION_MEASURE_NOT_APPLICABLE",
        )
    if x.until <= at:
        raise _refuse(
            d, step, "the measure's end date has already passed", "DELEGATION_MEASURE_LAPSED"
        )
    return _set_deadline(replace(changed, measure=Measure(x.until)), DeadlineKind.LAPSE, x.until)


def _materials_requested(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    changed = replace(changed, resume_state=d.state)
    if d.kind is Kind.MATTER:  # 第八条's 30 days are for 委托执行 (委托执行的手续、材料不全)
        return changed
    return _set_deadline(changed, DeadlineKind.SUPPLY, reckon(at, rule.supply))


def _not_for_matter(d: Delegation, step: Step, what: str) -> None:
    """Refuse a case-delegation step on a 事项委托.

    Raises:
        ValidationError: ``DELEGATION_NOT_FOR_MATTER``.
    """
    if d.kind is Kind.MATTER:
        raise _refuse(
            d,
            step,
            f"a 事项委托 (kind MATTER) has no {what}: it is not filed as a 委托执行 case "
            f"but assisted actively ({SPC_2011_ART_2})",
            "DELEGATION_NOT_FOR_MATTER",
        )


def _materials_supplied(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    changed = replace(changed, state=d.resume_state or State.DELIVERED, resume_state=None)
    return _set_deadline(changed, DeadlineKind.SUPPLY, None)


def _returned(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    _not_for_matter(d, step, f"return (a 委托执行's, {SPC_2011_ART_8})")
    supply = _deadline(d, DeadlineKind.SUPPLY)
    if supply is not None and at < supply.due:
        raise _refuse(
            d,
            step,
            f"the requesting court has until {supply.due.isoformat()} to supply the materials or "
            f"explain ({SPC_2011_ART_8})",
            "DELEGATION_RETURN_TOO_EARLY",
        )
    if x.approved_at is None or x.approved_at > at:
        raise _refuse(
            d,
            step,
            "a return needs the approval of the executing court's 高级人民法院, given before it "
            f"(approved_at; {SPC_2011_ART_9})",
            "DELEGATION_RETURN_NOT_APPROVED",
        )
    # the clocks of a live delegation end with it; the files are owed back from the approval
    changed = replace(changed, deadlines=())
    return _set_deadline(changed, DeadlineKind.FILES, reckon(x.approved_at, rule.files_back))


def _files_returned(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    if _deadline(d, DeadlineKind.FILES) is None:
        raise _refuse(
            d,
            step,
            f"no files are owed back on it (already reported returned, or returned "
            f"before the bus watched them; {SPC_2011_ART_9})",
            "DELEGATION_FILES_NOT_OWED",
        )
    return _set_deadline(changed, DeadlineKind.FILES, None)


def _escalated(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    _not_for_matter(d, step, f"escalation ({CPL_DELEGATION_ORDER}; {SPC_2011_ART_11})")
    if d.escalated:
        raise _refuse(
            d,
            step,
            "the superior court has not answered the last escalation yet",
            "DELEGATION_ALREADY_ESCALATED",
        )
    start = _deadline(d, DeadlineKind.START)
    if start is None or at < start.due:
        due = start.due.isoformat() if start else "delivery plus 15 days"
        raise _refuse(
            d,
            step,
            f"the executing court has until {due} to start ({CPL_DELEGATION})",
            "DELEGATION_ESCALATION_TOO_EARLY",
        )
    if superior_of(d.executing_court) is None:
        raise _refuse(
            d,
            step,
            f"court {d.executing_court} has no superior court on the bus",
            "DELEGATION_NO_SUPERIOR",
        )
    return replace(changed, escalated=True)


def _answered(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    _not_for_matter(d, step, f"escalation to answer ({SPC_2011_ART_11} is for 受托案件)")
    if x.decision is None and not d.escalated:
        raise _refuse(d, step, "nobody escalated this delegation", "DELEGATION_NOT_ESCALATED")
    if x.decision is None:
        raise _refuse(d, step, "the answer carries no decision", "DELEGATION_DETAIL_MISSING")
    opens = transfer_open_at(d)
    rule_b = opens is not None and at >= opens  # the applicant may have asked (art. 11)
    if x.decision in TRANSFERS and not rule_b:
        when = opens.isoformat() if opens else "6 months after delivery"
        raise _refuse(
            d,
            step,
            f"{x.decision.value} (提级执行 / 指定执行) is rule (b): for a delegation not executed to "
            f"the end in 6 months, on the applicant's request, from {when} ({SPC_2011_ART_11}). "
            f"Before that the superior court orders execution: answer ORDERED or NOT_WARRANTED "
            f"({CPL_DELEGATION_ORDER})",
            "DELEGATION_TRANSFER_TOO_EARLY",
        )
    if not d.escalated and not rule_b:
        raise _refuse(
            d,
            step,
            "nobody escalated this delegation (rule (a), "
            f"{CPL_DELEGATION_ORDER}), and 6 months have not passed (rule (b))",
            "DELEGATION_NOT_ESCALATED",
        )
    if d.state is State.IN_PROGRESS and not rule_b:
        raise _refuse(
            d,
            step,
            "the executing court has started: an order to execute (rule (a)) "
            "is for an unstarted delegation",
            "DELEGATION_ILLEGAL_TRANSITION",
        )
    changed = replace(changed, escalated=False)
    if x.decision in TRANSFERS:
        return replace(changed, state=State.TRANSFERRED, resume_state=None)
    if x.decision is EscalationDecision.ORDERED and x.execute_by is not None:
        return _set_deadline(changed, DeadlineKind.START, x.execute_by)
    return changed


def _measure_step(
    d: Delegation, changed: Delegation, step: Step, at: datetime, rule: DeadlineRule, x: Detail
) -> Delegation:
    m = d.measure
    if m is None:
        raise _refuse(
            d,
            step,
            "no freeze, seal or seizure of this delegation is on record",
            "DELEGATION_NO_MEASURE",
        )
    sources, target = _MEASURE_STEPS[step]
    if step in (Step.RENEWAL_REQUESTED, Step.RENEWED) and (
        m.status is MeasureStatus.LAPSED or at >= m.until
    ):
        raise _refuse(
            d,
            step,
            f"the measure ended at {m.until.isoformat()}; renewal must come before its "
            f"end ({ART_485_RENEWAL})",
            "DELEGATION_MEASURE_LAPSED",
        )
    if m.status not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise _refuse(
            d,
            step,
            f"the measure is {m.status.value} (only from {allowed})",
            "DELEGATION_MEASURE_ILLEGAL_TRANSITION",
        )
    measure = replace(m, status=target)
    if step is Step.RENEWED:
        if x.until is None or x.until <= m.until:
            raise _refuse(
                d,
                step,
                "a renewal must report a new end date later than the current "
                f"{m.until.isoformat()}",
                "DELEGATION_DETAIL_MISSING",
            )
        measure = replace(measure, until=x.until, renewals=m.renewals + 1)
        return _set_deadline(replace(changed, measure=measure), DeadlineKind.LAPSE, x.until)
    if step is Step.RELEASED:
        return _set_deadline(replace(changed, measure=measure), DeadlineKind.LAPSE, None)
    return replace(changed, measure=measure)


_Effect = Callable[[Delegation, Delegation, Step, datetime, DeadlineRule, Detail], Delegation]
_STEP_EFFECTS: dict[Step, _Effect] = {
    Step.DELIVERED: _delivered,
    Step.PROGRESS: _reported,
    Step.FAILED: _reported,
    Step.COMPLETED: _completed,
    Step.MATERIALS_REQUESTED: _materials_requested,
    Step.MATERIALS_SUPPLIED: _materials_supplied,
    Step.RETURNED: _returned,
    Step.FILES_RETURNED: _files_returned,
    Step.ESCALATED: _escalated,
    Step.ESCALATION_ANSWERED: _answered,
    Step.RENEWAL_REQUESTED: _measure_step,
    Step.RENEWED: _measure_step,
    Step.RELEASE_REQUESTED: _measure_step,
    Step.RELEASED: _measure_step,
}


class NoticeKind(StrEnum):
    """What a deadline notice says."""

    WARNING = "WARNING"  # the deadline is near
    OVERDUE = "OVERDUE"  # the deadline has passed (LAPSE: the measure lapsed)


@dataclass(frozen=True, slots=True)
class Notice:
    """A deadline notice to send (to both courts; an overdue one also to ``bus.alerts``)."""

    delegation_id: str
    deadline: DeadlineKind
    kind: NoticeKind
    due: datetime
    provisional: str | None = None  # as the deadline's


def _settled(d: Delegation, kind: DeadlineKind) -> bool:
    if kind is DeadlineKind.FILE:  # filed (立案) once accepted, also while materials are asked
        unaccepted = d.state is State.DELIVERED or (
            d.state is State.MATERIALS_ASKED and d.resume_state is State.DELIVERED
        )
        return not unaccepted
    if kind is DeadlineKind.START:
        return d.state not in _NOT_STARTED
    if kind is DeadlineKind.REPORT:
        return d.reported or d.state in END_STATES
    if kind is DeadlineKind.SUPPLY:
        return d.state is not State.MATERIALS_ASKED
    if kind is DeadlineKind.FILES:
        return False  # dropped when the files are reported back (DelegationFilesReturned)
    return d.measure is None or d.measure.status not in (
        MeasureStatus.ACTIVE,
        MeasureStatus.RENEWAL_REQUESTED,
    )


def _warn_before(kind: DeadlineKind, rule: DeadlineRule) -> timedelta:
    return rule.lapse_warn_before if kind is DeadlineKind.LAPSE else rule.warn_before


def due_notices(
    delegation: Delegation, now: datetime, rule: DeadlineRule | None = None
) -> tuple[Delegation, list[Notice]]:
    """The notices due at ``now`` that were not sent yet, and the delegation marking them sent.

    A measure whose LAPSE deadline passes becomes ``LAPSED``. Calling it again with the
    returned delegation yields no notice twice.
    """
    rule = rule or DeadlineRule()
    notices: list[Notice] = []
    updated: list[Deadline] = []
    d = delegation
    for dl in delegation.deadlines:
        if _settled(delegation, dl.kind):
            updated.append(dl)
            continue
        if now >= dl.due and not dl.overdue_sent:
            notices.append(
                Notice(
                    delegation.delegation_id, dl.kind, NoticeKind.OVERDUE, dl.due, dl.provisional
                )
            )
            dl = replace(dl, overdue_sent=True, warned=True)
            if dl.kind is DeadlineKind.LAPSE and d.measure is not None:
                d = replace(d, measure=replace(d.measure, status=MeasureStatus.LAPSED))
        elif now >= dl.due - _warn_before(dl.kind, rule) and not dl.warned:
            notices.append(
                Notice(
                    delegation.delegation_id, dl.kind, NoticeKind.WARNING, dl.due, dl.provisional
                )
            )
            dl = replace(dl, warned=True)
        updated.append(dl)
    return replace(d, deadlines=tuple(updated)), notices


def next_notice_at(delegation: Delegation, rule: DeadlineRule | None = None) -> datetime | None:
    """When the next deadline notice of ``delegation`` falls due (None: no more notices).

    What the delegation timer is scheduled at: a warning before a deadline, then the overdue
    notice at the deadline, for each deadline not yet settled.
    """
    rule = rule or DeadlineRule()
    times: list[datetime] = []
    for d in delegation.deadlines:
        if _settled(delegation, d.kind) or d.overdue_sent:
            continue
        times.append(d.due if d.warned else d.due - _warn_before(d.kind, rule))
    return min(times, default=None)
