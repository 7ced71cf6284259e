"""Participation in distribution (参与分配) and the enterprise path (执转破 / sealing order): who
may claim, when, the exact plan in fen, the objection state machine, the hand-over of disposal.
Pure: no I/O, no clocks (every function takes the time); imports only the domain and errors.

Sources (民诉法解释 = 最高人民法院关于适用《中华人民共和国民事诉讼法》的解释, 2022 修正):

- Art. 506: a debtor who is a citizen or an other organisation (其他组织); creditors with an
  enforcement title apply; creditors with a priority right or a security interest in the
  sealed property apply directly (no title);
- Art. 507: after enforcement starts, before the execution of the property ends;
- Art. 508: costs, then priority claims, then ordinary claims pro rata;
- Arts. 509-510: the plan, 15 days to object, 15 days to oppose, 15 days to sue, deposit (提存);
- Arts. 511-514: an enterprise legal person: 执转破 with consent, else the sealing order;
- 法释〔2016〕6号: the first sealing court hands the disposal over to a priority creditor's court.

Periods are counted as the law counts days (民事诉讼法 第八十五条, ``courtbus.domain.calendar``):
the day of receipt is not counted, a last day on a rest day moves to the next working day, and
a deadline is 00:00 China time after the last day, so a step at any moment of the last day is
in time (``at < due``). Each recipient's window runs from its own receipt. Spans that are not
whole days (a demo's or a test's shortened clock) are plain offsets (``due_after``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from courtbus.domain.calendar import due_after
from courtbus.domain.identity import DebtorKind, validate_debtor_id
from courtbus.domain.money import MAX_FEN
from courtbus.errors import ValidationError

INTERPRETATION = "民诉法解释 (2022 修正)"
ART_506 = (
    f"{INTERPRETATION} 第五百零六条: 被执行人为公民或者其他组织……已经取得执行依据的债权人……可以向人民法院"
    "申请参与分配。对人民法院查封、扣押、冻结的财产有优先权、担保物权的债权人，可以直接申请参与分配，主张优先受偿权"
)
ART_507 = (
    f"{INTERPRETATION} 第五百零七条: 参与分配申请应当在执行程序开始后，被执行人的财产执行终结前提出"
)
ART_508 = (
    f"{INTERPRETATION} 第五百零八条: 执行所得价款扣除执行费用，并清偿应当优先受偿的债权后，对于普通债权，原则上"
    "按照其占全部申请参与分配债权数额的比例受偿"
)
ART_509 = (
    f"{INTERPRETATION} 第五百零九条: 执行法院应当制作财产分配方案，并送达各债权人和被执行人……应当自收到分配"
    "方案之日起十五日内向执行法院提出书面异议"
)
ART_510 = (
    f"{INTERPRETATION} 第五百一十条: 未提出异议的债权人、被执行人自收到通知之日起十五日内未提出反对意见的，执行"
    "法院依异议人的意见对分配方案审查修正后进行分配；提出反对意见的……异议人可以自收到通知之日起十五日内……提起"
    "诉讼；异议人逾期未提起诉讼的，执行法院按照原分配方案进行分配。诉讼期间进行分配的，执行法院应当提存与争议"
    "债权数额相应的款项"
)
ART_511 = (
    f"{INTERPRETATION} 第五百一十一条: 作为被执行人的企业法人符合企业破产法第二条第一款规定情形的，执行法院经申请"
    "执行人之一或者被执行人同意，应当裁定中止对该被执行人的执行，将执行案件相关材料移送被执行人住所地人民法院"
)
ART_512 = f"{INTERPRETATION} 第五百一十二条: 被执行人住所地人民法院应当自收到执行案件相关材料之日起三十日内，将是否受理破产案件的裁定告知执行法院"
ART_513 = (
    f"{INTERPRETATION} 第五百一十三条: 被执行人住所地人民法院不受理破产案件的，执行法院应当恢复执行"
)
ART_514 = (
    f"{INTERPRETATION} 第五百一十四条: 当事人不同意移送破产或者被执行人住所地人民法院不受理破产案件的，执行法院就"
    "执行变价所得财产，在扣除执行费用及清偿优先受偿的债权后，对于普通债权，按照财产保全和执行中查封、扣押、冻结"
    "财产的先后顺序清偿"
)
BANKRUPTCY_TEST = (
    "企业破产法 第二条第一款: 不能清偿到期债务，并且资产不足以清偿全部债务或者明显缺乏清偿能力"
)
NOTIFY_ALL_COURTS = (
    "最高人民法院关于执行案件移送破产审查若干问题的指导意见 (法发〔2017〕2号) 第8条 (verify): 执行法院作出移送"
    "决定后，应当书面通知所有已知执行法院，执行法院均应中止对被执行人的执行程序"
)
CONSTRUCTION_PRIORITY = "民法典 第八百零七条; 法释〔2020〕25号 第三十六条: 承包人……享有的建设工程价款优先受偿权优于抵押权和其他债权"
MORTGAGE_ORDER = (
    "民法典 第四百一十四条: 抵押权已经登记的，按照登记的时间先后确定清偿顺序；已经登记的先于未登记的受偿；未登记"
    "的，按照债权比例清偿 (第四百一十五条: 抵押权与质权按照登记、交付的时间先后)"
)
HANDOVER_REPLY = (
    "最高人民法院关于首先查封法院与优先债权执行法院处分查封财产有关问题的批复 (法释〔2016〕6号) 第一条: 自首先"
    "查封之日起已超过60日，且首先查封法院就该查封财产尚未发布拍卖公告或者进入变卖程序的，优先债权执行法院可以"
    "要求将该查封财产移送执行; 第二条: 首先查封法院应当在收到……商请移送执行函之日起15日内出具移送执行函"
)


@dataclass(frozen=True, slots=True)
class Periods:
    """The periods of the procedure; whole days are counted as the law counts days."""

    objection: timedelta = timedelta(days=15)  # Art. 509
    opposition: timedelta = timedelta(days=15)  # Art. 510
    suit: timedelta = timedelta(days=15)  # Art. 510
    bankruptcy_answer: timedelta = timedelta(days=30)  # Art. 512
    handover_wait: timedelta = timedelta(days=60)  # 法释〔2016〕6号 第一条
    handover: timedelta = timedelta(days=15)  # 法释〔2016〕6号 第二条


PERIODS = Periods()


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


# --- parties and who may claim (Art. 506) ---------------------------------------------------


class DebtorForm(StrEnum):
    """The debtor's legal form, which decides the procedure (Arts. 506, 511)."""

    CITIZEN = "CITIZEN"  # 公民 (natural person)
    OTHER_ORGANISATION = (
        "OTHER_ORGANISATION"  # 其他组织 (民诉法解释 第五十二条: 合伙企业, 分支机构…)
    )
    ENTERPRISE_LEGAL_PERSON = "ENTERPRISE_LEGAL_PERSON"  # 企业法人: Arts. 511-514


class Procedure(StrEnum):
    """Which procedure distributes the proceeds."""

    PARTICIPATION = "PARTICIPATION"  # 参与分配, Arts. 506-510: ordinary claims pro rata
    ENTERPRISE = "ENTERPRISE"  # Arts. 511-514: 执转破, or ordinary claims in sealing order


@dataclass(frozen=True, slots=True)
class Party:
    """A claimant or a debtor: a natural person or an organisation with its ID."""

    kind: DebtorKind
    name: str
    id_number: str

    @classmethod
    def of(cls, kind: DebtorKind | str, name: str, id_number: str) -> Party:
        """A party with its ID checked and canonicalised (``validate_debtor_id``).

        Raises:
            ValidationError: ``DISTRIBUTION_PARTY_NAME_MISSING``, ``DEBTOR_KIND_INVALID`` or
                the ID's own code (``RESIDENT_ID_INVALID``, ``CREDIT_CODE_INVALID``, …).
        """
        if not name.strip():
            raise _refuse("a party needs a name", "DISTRIBUTION_PARTY_NAME_MISSING")
        try:
            checked = DebtorKind(kind)
        except ValueError as exc:
            raise _refuse(f"party kind {kind!r}", "DEBTOR_KIND_INVALID") from exc
        return cls(checked, name.strip(), validate_debtor_id(checked, id_number))

    @property
    def key(self) -> str:
        """How the plan's recipients and objections name this party."""
        return f"{self.kind.value}:{self.id_number}"


def procedure_for(debtor: Party, form: DebtorForm) -> Procedure:
    """The procedure for a debtor of ``form`` (Arts. 506, 511).

    Raises:
        ValidationError: ``DISTRIBUTION_DEBTOR_FORM_MISMATCH`` (a citizen who is not a person,
            or an organisation form held by a person).
    """
    person = debtor.kind is DebtorKind.PERSON
    if person != (form is DebtorForm.CITIZEN):
        raise _refuse(
            f"a {debtor.kind.value} debtor cannot be of form {form.value}",
            "DISTRIBUTION_DEBTOR_FORM_MISMATCH",
        )
    if form is DebtorForm.ENTERPRISE_LEGAL_PERSON:
        return Procedure.ENTERPRISE
    return Procedure.PARTICIPATION


def check_participation(debtor: Party, form: DebtorForm) -> None:
    """参与分配 may be opened against this debtor (Art. 506).

    Raises:
        ValidationError: ``DISTRIBUTION_ENTERPRISE_DEBTOR`` (an enterprise legal person: no
            pro rata, Arts. 511-514) or ``DISTRIBUTION_DEBTOR_FORM_MISMATCH``.
    """
    if procedure_for(debtor, form) is Procedure.ENTERPRISE:
        raise _refuse(
            f"{debtor.name} is an enterprise legal person: no participation in distribution "
            f"({ART_506}); it takes the 执转破 or sealing-order path ({ART_511}; {ART_514})",
            "DISTRIBUTION_ENTERPRISE_DEBTOR",
        )


class ClaimClass(StrEnum):
    """The classes of Art. 508, in payment order (costs come before all, outside any class)."""

    STATUTORY_PRIORITY = "STATUTORY_PRIORITY"  # outranks security, e.g. CONSTRUCTION_PRIORITY
    SECURED = "SECURED"  # 抵押权、质权、留置权, by rank: MORTGAGE_ORDER
    ORDINARY = "ORDINARY"  # pro rata (Art. 508) or sealing order (Art. 514)


CLASS_ORDER = (ClaimClass.STATUTORY_PRIORITY, ClaimClass.SECURED, ClaimClass.ORDINARY)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim on the proceeds of one asset.

    ``rank`` orders claims within a priority class (1 first, e.g. mortgage registration order);
    claims of equal rank share pro rata (民法典 第四百一十四条第三项). ``seal_order`` is the place
    of the claimant's seal, seizure or freeze on the asset (1 first), used under Art. 514.
    """

    claim_id: str
    claimant: Party
    court_id: str  # the claimant's court: it files, and hears back
    amount: int  # fen claimed
    filed_at: datetime  # on the bus: Step.CLAIM_FILED sets it to the step's time
    klass: ClaimClass = ClaimClass.ORDINARY
    rank: int = 0
    has_title: bool = True  # 执行依据 (Art. 506)
    seal_order: int | None = None
    case_number: str | None = None


def check_claim(claim: Claim, debtor: Party) -> None:
    """Whether ``claim`` may be filed at all (Art. 506); the time is ``check_claim_time``'s.

    Raises:
        ValidationError: ``DISTRIBUTION_CLAIM_AMOUNT_INVALID``, ``DISTRIBUTION_TITLE_MISSING``
            (an ordinary claim without an enforcement title), ``DISTRIBUTION_RANK_INVALID`` or
            ``DISTRIBUTION_CLAIMANT_IS_DEBTOR``.
    """
    if isinstance(claim.amount, bool) or not 0 < claim.amount <= MAX_FEN:
        raise _refuse(
            f"claim {claim.claim_id} asks {claim.amount} fen (1 … {MAX_FEN})",
            "DISTRIBUTION_CLAIM_AMOUNT_INVALID",
        )
    if claim.klass is ClaimClass.ORDINARY and not claim.has_title:
        raise _refuse(
            f"claim {claim.claim_id} is ordinary and has no enforcement title; only a creditor "
            f"with a priority right or a security interest may apply without one ({ART_506})",
            "DISTRIBUTION_TITLE_MISSING",
        )
    if claim.rank < 0 or (claim.seal_order is not None and claim.seal_order < 1):
        raise _refuse(f"claim {claim.claim_id}: rank and seal order", "DISTRIBUTION_RANK_INVALID")
    if claim.claimant.key == debtor.key:
        raise _refuse(
            f"claim {claim.claim_id}: the debtor cannot claim against itself",
            "DISTRIBUTION_CLAIMANT_IS_DEBTOR",
        )


def check_claim_time(at: datetime, started_at: datetime, ended_at: datetime | None) -> None:
    """A claim is filed after enforcement starts and before the execution of the property ends
    (Art. 507). When it ends is the presiding court's record (``Step.EXECUTION_ENDED``) or the
    payout (verify: the SPC reads 执行终结前 as before the proceeds are paid out).

    Raises:
        ValidationError: ``DISTRIBUTION_CLAIM_TOO_EARLY`` or ``DISTRIBUTION_CLAIM_TOO_LATE``.
    """
    if at < started_at:
        raise _refuse(
            f"filed at {at.isoformat()}, before enforcement started ({ART_507})",
            "DISTRIBUTION_CLAIM_TOO_EARLY",
        )
    if ended_at is not None and at >= ended_at:
        raise _refuse(
            f"filed at {at.isoformat()}, after the execution of the property ended at "
            f"{ended_at.isoformat()} ({ART_507})",
            "DISTRIBUTION_CLAIM_TOO_LATE",
        )


# --- the plan (Arts. 508, 514) --------------------------------------------------------------


class OrdinaryOrder(StrEnum):
    """How ordinary claims share what is left after costs and priority claims."""

    PRO_RATA = "PRO_RATA"  # Art. 508
    SEALING_ORDER = "SEALING_ORDER"  # Art. 514: in the order of sealing; unsealed last, pro rata


@dataclass(frozen=True, slots=True)
class Allocation:
    """What one claim gets under a plan."""

    claim_id: str
    klass: ClaimClass
    rank: int
    claimed: int
    allocated: int

    @property
    def short(self) -> int:
        """Fen the claim goes without (the debtor still owes it, Art. 508)."""
        return self.claimed - self.allocated


@dataclass(frozen=True, slots=True)
class Plan:
    """A distribution plan in fen: ``costs_paid + sum(allocated) + surplus == proceeds``."""

    proceeds: int
    costs: int
    costs_paid: int
    allocations: tuple[Allocation, ...]  # in payment order
    surplus: int  # returned to the debtor
    order: OrdinaryOrder = OrdinaryOrder.PRO_RATA
    version: int = 1

    @property
    def distributable(self) -> int:
        """The proceeds less the execution costs paid."""
        return self.proceeds - self.costs_paid

    @property
    def allocated(self) -> int:
        """Fen allocated to claims."""
        return sum(a.allocated for a in self.allocations)

    def allocation(self, claim_id: str) -> Allocation:
        """The allocation of ``claim_id``.

        Raises:
            ValidationError: ``DISTRIBUTION_CLAIM_UNKNOWN``.
        """
        for a in self.allocations:
            if a.claim_id == claim_id:
                return a
        raise _refuse(f"claim {claim_id} is not in the plan", "DISTRIBUTION_CLAIM_UNKNOWN")


def _check_fen(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FEN:
        raise _refuse(f"{what} is {value!r} fen (0 … {MAX_FEN})", "DISTRIBUTION_AMOUNT_INVALID")


def largest_remainder(available: int, claims: Sequence[Claim]) -> list[int]:
    """Shares of ``available`` fen pro rata to ``claims`` (in the given order), each capped at
    its claim: floor shares, then one fen each to the largest remainders, ties to the earlier
    filing (then the earlier in ``claims``). Every share is within one fen of exact.
    """
    total = sum(c.amount for c in claims)
    if available >= total:
        return [c.amount for c in claims]
    shares = [available * c.amount // total for c in claims]
    remainders = [available * c.amount % total for c in claims]
    left = available - sum(shares)
    order = sorted(range(len(claims)), key=lambda i: (-remainders[i], claims[i].filed_at, i))
    for i in order[:left]:
        shares[i] += 1
    return shares


def _groups(claims: Sequence[Claim], order: OrdinaryOrder) -> list[list[Claim]]:
    """Claims in payment groups: each group is paid in full before the next gets anything."""
    ranked: dict[tuple[int, int, int], list[Claim]] = {}
    for c in sorted(claims, key=lambda c: (c.filed_at, c.claim_id)):
        level = CLASS_ORDER.index(c.klass)
        if c.klass is not ClaimClass.ORDINARY:
            key = (level, 0, c.rank)
        elif order is OrdinaryOrder.SEALING_ORDER:
            key = (level, 1, c.seal_order) if c.seal_order is not None else (level, 2, 0)
        else:
            key = (level, 0, 0)
        ranked.setdefault(key, []).append(c)
    return [ranked[k] for k in sorted(ranked)]


def compute_plan(
    proceeds: int,
    costs: int,
    claims: Sequence[Claim],
    order: OrdinaryOrder = OrdinaryOrder.PRO_RATA,
) -> Plan:
    """The plan for ``proceeds`` fen: execution costs first, then the statutory priorities, the
    security interests by rank, then the ordinary claims (Art. 508 pro rata, or Art. 514 in
    sealing order); each group paid fully before the next, a short group shared by
    ``largest_remainder``. What is left after every claim is paid is the debtor's surplus.

    Raises:
        ValidationError: ``DISTRIBUTION_AMOUNT_INVALID``, ``DISTRIBUTION_CLAIM_AMOUNT_INVALID``
            or ``DISTRIBUTION_CLAIM_DUPLICATE``.
    """
    _check_fen(proceeds, "the proceeds")
    _check_fen(costs, "the execution costs")
    ids = [c.claim_id for c in claims]
    if len(set(ids)) != len(ids):
        raise _refuse("a claim is listed twice", "DISTRIBUTION_CLAIM_DUPLICATE")
    for c in claims:
        if isinstance(c.amount, bool) or not 0 < c.amount <= MAX_FEN:
            raise _refuse(f"claim {c.claim_id}", "DISTRIBUTION_CLAIM_AMOUNT_INVALID")
    costs_paid = min(costs, proceeds)
    left = proceeds - costs_paid
    allocations: list[Allocation] = []
    for group in _groups(claims, order):
        for c, share in zip(group, largest_remainder(left, group), strict=True):
            allocations.append(Allocation(c.claim_id, c.klass, c.rank, c.amount, share))
        left -= sum(a.allocated for a in allocations[-len(group) :])
    return Plan(proceeds, costs, costs_paid, tuple(allocations), left, order)


def revise_plan(plan: Plan, allocated: dict[str, int]) -> Plan:
    """``plan`` with the allocations the presiding court set on review (Art. 510: as the
    objection asks, or as the judgment decides); claims not named keep theirs, the rest of the
    distributable amount becomes the surplus.

    Raises:
        ValidationError: ``DISTRIBUTION_CLAIM_UNKNOWN`` or ``DISTRIBUTION_PLAN_INVALID`` (an
            allocation above its claim or below zero, or more than is distributable).
    """
    known = {a.claim_id for a in plan.allocations}
    unknown = sorted(set(allocated) - known)
    if unknown:
        raise _refuse(f"claims {unknown} are not in the plan", "DISTRIBUTION_CLAIM_UNKNOWN")
    new = tuple(
        replace(a, allocated=allocated.get(a.claim_id, a.allocated)) for a in plan.allocations
    )
    for a in new:
        if isinstance(a.allocated, bool) or not 0 <= a.allocated <= a.claimed:
            raise _refuse(
                f"claim {a.claim_id}: {a.allocated} fen of {a.claimed} claimed",
                "DISTRIBUTION_PLAN_INVALID",
            )
    surplus = plan.distributable - sum(a.allocated for a in new)
    if surplus < 0:
        raise _refuse(
            f"the revision allocates {-surplus} fen more than the {plan.distributable} "
            "distributable",
            "DISTRIBUTION_PLAN_INVALID",
        )
    return replace(plan, allocations=new, surplus=surplus, version=plan.version + 1)


@dataclass(frozen=True, slots=True)
class Dispute:
    """A part of one claim's allocation an objection disputes (争议债权数额, Art. 510)."""

    claim_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class Payout:
    """What is paid while a suit runs: the disputed amounts deposited (提存), the rest paid."""

    costs: int
    paid: tuple[tuple[str, int], ...]  # claim id, fen paid now
    held: tuple[tuple[str, int], ...]  # claim id, fen deposited
    surplus: int

    @property
    def deposit(self) -> int:
        """Fen deposited until the suit ends."""
        return sum(fen for _, fen in self.held)


def payout(plan: Plan, disputes: Iterable[Dispute]) -> Payout:
    """Pay ``plan`` but hold back each disputed part of an allocation (Art. 510: 提存与争议
    债权数额相应的款项), at most the allocation itself.

    Raises:
        ValidationError: ``DISTRIBUTION_CLAIM_UNKNOWN`` or ``DISTRIBUTION_AMOUNT_INVALID``.
    """
    disputed: dict[str, int] = {}
    for d in disputes:
        plan.allocation(d.claim_id)
        _check_fen(d.amount, f"the dispute over claim {d.claim_id}")
        disputed[d.claim_id] = disputed.get(d.claim_id, 0) + d.amount
    held = {a.claim_id: min(disputed.get(a.claim_id, 0), a.allocated) for a in plan.allocations}
    return Payout(
        plan.costs_paid,
        tuple((a.claim_id, a.allocated - held[a.claim_id]) for a in plan.allocations),
        tuple((cid, fen) for cid, fen in held.items() if fen),
        plan.surplus,
    )


# --- enterprise legal persons (Arts. 511-514) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class EnterpriseDecision:
    """The presiding court's Art. 511 decision on an enterprise debtor."""

    transfer: bool  # 执转破: enforcement suspended, materials to ``bankruptcy_court``
    bankruptcy_court: str | None
    courts_to_notify: tuple[str, ...]  # every other court involved (NOTIFY_ALL_COURTS)
    decided_at: datetime
    accepted: bool | None = None  # the bankruptcy court's answer (Arts. 512-513)


def assess_enterprise(
    *,
    bankruptcy_test_met: bool,
    consent_by: str | None,
    consenting_parties: Iterable[str],
    bankruptcy_court: str | None,
    presiding_court: str,
    courts_involved: Iterable[str],
    at: datetime,
) -> EnterpriseDecision:
    """Transfer to the bankruptcy court of the debtor's domicile when the bankruptcy test is met
    and one applicant creditor or the debtor consents (Art. 511), telling every other court
    involved; otherwise no transfer, and the ordinary claims go in sealing order (Art. 514).

    ``consenting_parties`` are the party keys whose consent counts (the debtor and creditors
    with an enforcement title).

    Raises:
        ValidationError: ``DISTRIBUTION_CONSENT_INVALID`` (consent by someone else) or
            ``DISTRIBUTION_DETAIL_MISSING`` (a transfer without the bankruptcy court).
    """
    if consent_by is not None and consent_by not in set(consenting_parties):
        raise _refuse(
            f"{consent_by} is neither the debtor nor an applicant creditor ({ART_511})",
            "DISTRIBUTION_CONSENT_INVALID",
        )
    if not (bankruptcy_test_met and consent_by is not None):
        return EnterpriseDecision(False, None, (), at)
    if not bankruptcy_court:
        raise _refuse("a transfer names the court of the debtor's domicile",
                      "DISTRIBUTION_DETAIL_MISSING")  # fmt: skip
    notify = sorted((set(courts_involved) | {bankruptcy_court}) - {presiding_court})
    return EnterpriseDecision(True, bankruptcy_court, tuple(notify), at)


# --- hand-over of disposal (法释〔2016〕6号) ---------------------------------------------------


def handover_request_from(sealed_at: datetime, periods: Periods = PERIODS) -> datetime:
    """From when a priority creditor's court may ask for the disposal: 60 days after the first
    seal have run out (第一条 "已超过60日"; the sealing day not counted)."""
    return due_after(sealed_at, periods.handover_wait)


def may_request_handover(
    sealed_at: datetime, now: datetime, auction_published: bool, periods: Periods = PERIODS
) -> bool:
    """Whether the court of a creditor with priority may now ask the first sealing court for
    the disposal of the asset (法释〔2016〕6号 第一条): more than 60 days since the first seal and
    no auction published or sale entered."""
    return not auction_published and now >= handover_request_from(sealed_at, periods)


def check_handover_request(
    sealed_at: datetime,
    now: datetime,
    auction_published: bool,
    has_priority: bool,
    periods: Periods = PERIODS,
) -> None:
    """A request for the disposal right is allowed now.

    Raises:
        ValidationError: ``DISTRIBUTION_HANDOVER_NOT_PRIORITY``,
            ``DISTRIBUTION_HANDOVER_AUCTION_PUBLISHED`` or ``DISTRIBUTION_HANDOVER_TOO_EARLY``.
    """
    if not has_priority:
        raise _refuse(f"only a priority creditor's court may ask ({HANDOVER_REPLY})",
                      "DISTRIBUTION_HANDOVER_NOT_PRIORITY")  # fmt: skip
    if auction_published:
        raise _refuse(f"the first sealing court has published an auction or entered a sale "
                      f"({HANDOVER_REPLY})", "DISTRIBUTION_HANDOVER_AUCTION_PUBLISHED")  # fmt: skip
    start = handover_request_from(sealed_at, periods)
    if now < start:
        raise _refuse(f"a request may come from {start.isoformat()} ({HANDOVER_REPLY})",
                      "DISTRIBUTION_HANDOVER_TOO_EARLY")  # fmt: skip


def handover_due(requested_at: datetime, periods: Periods = PERIODS) -> datetime:
    """When the first sealing court must have handed the asset over: 15 days from its receipt
    of the request (``requested_at``; 法释〔2016〕6号 第二条)."""
    return due_after(requested_at, periods.handover)


def handover_overdue(
    requested_at: datetime, now: datetime, handed_over: bool, periods: Periods = PERIODS
) -> bool:
    """The hand-over is late: not done and its 15 days have run out."""
    return not handed_over and now >= handover_due(requested_at, periods)


# --- the state machine of one distribution (Arts. 507-514) ----------------------------------


class State(StrEnum):
    """Where a distribution stands (at most 25 characters)."""

    OPENED = "OPENED"  # no claim yet
    CLAIMS = "CLAIMS"  # claims filed; no plan out
    PLAN_ISSUED = "PLAN_ISSUED"  # the plan is being served; served recipients may object
    OBJECTION_WINDOW = "OBJECTION_WINDOW"  # served on everyone, 15 days from each receipt
    OPPOSITION_WINDOW = "OPPOSITION_WINDOW"  # non-objectors notified, 15 days to oppose
    REVISION = "REVISION"  # nobody opposed: the presiding court revises as the objection asks
    SUIT_WINDOW = "SUIT_WINDOW"  # objectors told of the opposition, 15 days to sue
    IN_SUIT = "IN_SUIT"  # the disputed amount deposited (提存), the rest payable
    FINALIZED = "FINALIZED"  # the plan stands: payable
    PAID_OUT = "PAID_OUT"  # paid: the execution of the property has ended
    TRANSFERRED_TO_BANKRUPTCY = "TRANSFERRED_TO_BANKRUPTCY"  # 执转破 (Art. 511)


class Step(StrEnum):
    """What happened to a distribution."""

    CLAIM_FILED = "DistributionClaimFiled"
    CLAIM_ADMITTED = "DistributionClaimAdmitted"
    CLAIM_REJECTED = "DistributionClaimRejected"
    ENTERPRISE_ASSESSED = "DistributionEnterpriseAssessed"  # Art. 511
    BANKRUPTCY_ANSWERED = "DistributionBankruptcyAnswered"  # Arts. 512-513
    PLAN_ISSUED = "DistributionPlanIssued"
    SERVED = "DistributionServed"  # the plan, or a notice of Art. 510, reached a recipient
    OBJECTED = "DistributionObjectionFiled"
    OPPOSED = "DistributionOppositionFiled"
    SUED = "DistributionSuitFiled"
    WINDOW_CLOSED = "DistributionWindowClosed"  # the bus: every recipient's 15 days ran out
    PLAN_REVISED = "DistributionPlanRevised"
    SUIT_DECIDED = "DistributionSuitDecided"
    EXECUTION_ENDED = "DistributionExecutionEnded"  # Art. 507: later claims are too late
    PAID_OUT = "DistributionPaidOut"


class Actor(StrEnum):
    """Who may take a step."""

    PRESIDING = "presiding court"
    CLAIMANT = "claimant's court"
    RECIPIENT = "recipient's court or the presiding court"
    BANKRUPTCY = "bankruptcy court"
    BUS = "the bus"


class Phase(StrEnum):
    """The three 15-day windows of Arts. 509-510, each running from each recipient's receipt."""

    OBJECTION = "OBJECTION"  # the plan served on creditors and debtor (Art. 509)
    OPPOSITION = "OPPOSITION"  # the objection notified to those who did not object (Art. 510)
    SUIT = "SUIT"  # the opposition notified to the objectors (Art. 510)


_PHASE_OF = {
    State.PLAN_ISSUED: Phase.OBJECTION,
    State.OBJECTION_WINDOW: Phase.OBJECTION,
    State.OPPOSITION_WINDOW: Phase.OPPOSITION,
    State.SUIT_WINDOW: Phase.SUIT,
}
_RESPONSE_OF = {
    Step.OBJECTED: Phase.OBJECTION,
    Step.OPPOSED: Phase.OPPOSITION,
    Step.SUED: Phase.SUIT,
}
_LATE_CODE = {
    Phase.OBJECTION: "DISTRIBUTION_OBJECTION_TOO_LATE",
    Phase.OPPOSITION: "DISTRIBUTION_OPPOSITION_TOO_LATE",
    Phase.SUIT: "DISTRIBUTION_SUIT_TOO_LATE",
}
_LIVE = frozenset(State) - {State.PAID_OUT, State.TRANSFERRED_TO_BANKRUPTCY}
_BEFORE_PLAN = frozenset({State.OPENED, State.CLAIMS})
_ALL = frozenset(State)

# step -> (who may take it, states it may follow, state it leads to; None: decided by the step)
TRANSITIONS: dict[Step, tuple[frozenset[Actor], frozenset[State], State | None]] = {
    Step.CLAIM_FILED: (frozenset({Actor.CLAIMANT}), _LIVE, None),
    Step.CLAIM_ADMITTED: (frozenset({Actor.PRESIDING}), _LIVE, None),
    Step.CLAIM_REJECTED: (frozenset({Actor.PRESIDING}), _LIVE, None),
    Step.ENTERPRISE_ASSESSED: (frozenset({Actor.PRESIDING}), _BEFORE_PLAN, None),
    Step.BANKRUPTCY_ANSWERED: (
        frozenset({Actor.BANKRUPTCY}),
        frozenset({State.TRANSFERRED_TO_BANKRUPTCY}),
        None,
    ),
    Step.PLAN_ISSUED: (frozenset({Actor.PRESIDING}), frozenset({State.CLAIMS}), State.PLAN_ISSUED),
    Step.SERVED: (
        frozenset({Actor.PRESIDING, Actor.BUS}),
        frozenset({State.PLAN_ISSUED, State.OPPOSITION_WINDOW, State.SUIT_WINDOW}),
        None,
    ),
    Step.OBJECTED: (
        frozenset({Actor.RECIPIENT}),
        frozenset({State.PLAN_ISSUED, State.OBJECTION_WINDOW}),
        None,
    ),
    Step.OPPOSED: (frozenset({Actor.RECIPIENT}), frozenset({State.OPPOSITION_WINDOW}), None),
    Step.SUED: (frozenset({Actor.RECIPIENT}), frozenset({State.SUIT_WINDOW}), None),
    Step.WINDOW_CLOSED: (
        frozenset({Actor.BUS}),
        frozenset({State.OBJECTION_WINDOW, State.OPPOSITION_WINDOW, State.SUIT_WINDOW}),
        None,
    ),
    Step.PLAN_REVISED: (frozenset({Actor.PRESIDING}), frozenset({State.REVISION}), State.FINALIZED),
    Step.SUIT_DECIDED: (frozenset({Actor.PRESIDING}), frozenset({State.IN_SUIT}), State.FINALIZED),
    Step.EXECUTION_ENDED: (frozenset({Actor.PRESIDING}), _LIVE, None),
    Step.PAID_OUT: (frozenset({Actor.PRESIDING}), frozenset({State.FINALIZED}), State.PAID_OUT),
}


class ClaimStatus(StrEnum):
    """Where a filed claim stands."""

    FILED = "FILED"
    ADMITTED = "ADMITTED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class Filing:
    """A claim and the presiding court's decision on it."""

    claim: Claim
    status: ClaimStatus = ClaimStatus.FILED


@dataclass(frozen=True, slots=True)
class Receipt:
    """When a recipient received the plan (OBJECTION) or a notice (OPPOSITION, SUIT)."""

    phase: Phase
    recipient: str  # a Party.key
    at: datetime


@dataclass(frozen=True, slots=True)
class Response:
    """An objection, an opposition or a suit, by one recipient."""

    phase: Phase
    recipient: str
    at: datetime
    disputes: tuple[Dispute, ...] = ()  # objections: what they dispute


@dataclass(frozen=True, slots=True)
class Distribution:
    """One distribution of the proceeds of one asset, as the bus knows it."""

    distribution_id: str
    presiding_court: str
    debtor: Party
    debtor_form: DebtorForm
    procedure: Procedure
    started_at: datetime  # enforcement started (Art. 507)
    state: State = State.OPENED
    filings: tuple[Filing, ...] = ()
    plan: Plan | None = None
    plans_issued: int = 0
    receipts: tuple[Receipt, ...] = ()
    responses: tuple[Response, ...] = ()
    enterprise: EnterpriseDecision | None = None
    ended_at: datetime | None = None  # the execution of the property ended (Art. 507)
    events: int = 1

    def admitted(self) -> tuple[Claim, ...]:
        """The admitted claims, in filing order."""
        return tuple(f.claim for f in self.filings if f.status is ClaimStatus.ADMITTED)

    def filing(self, claim_id: str) -> Filing:
        """The filing of ``claim_id``.

        Raises:
            ValidationError: ``DISTRIBUTION_CLAIM_UNKNOWN``.
        """
        for f in self.filings:
            if f.claim.claim_id == claim_id:
                return f
        raise _refuse(f"no claim {claim_id} in distribution {self.distribution_id}",
                      "DISTRIBUTION_CLAIM_UNKNOWN")  # fmt: skip

    def recipients(self, phase: Phase) -> tuple[str, ...]:
        """Who receives in ``phase``: the plan goes to every creditor and the debtor; the
        objection notice to those who did not object; the opposition notice to the objectors."""
        served = [self.debtor.key] + [c.claimant.key for c in self.admitted()]
        everyone = tuple(dict.fromkeys(served))
        objectors = {r.recipient for r in self.responses if r.phase is Phase.OBJECTION}
        if phase is Phase.OBJECTION:
            return everyone
        if phase is Phase.OPPOSITION:
            return tuple(k for k in everyone if k not in objectors)
        return tuple(k for k in everyone if k in objectors)

    def court_of(self, recipient: str) -> str | None:
        """The court that speaks for ``recipient``: the debtor's is the presiding court."""
        if recipient == self.debtor.key:
            return self.presiding_court
        return next((c.court_id for c in self.admitted() if c.claimant.key == recipient), None)

    def disputes_in_suit(self) -> tuple[Dispute, ...]:
        """What the objectors who sued dispute: the amounts to deposit (Art. 510)."""
        sued = {r.recipient for r in self.responses if r.phase is Phase.SUIT}
        return tuple(
            d
            for r in self.responses
            if r.phase is Phase.OBJECTION and r.recipient in sued
            for d in r.disputes
        )


@dataclass(frozen=True, slots=True)
class Detail:
    """What a step carries besides its type, as far as the state machine needs it."""

    claim: Claim | None = None  # CLAIM_FILED
    claim_id: str | None = None  # CLAIM_ADMITTED, CLAIM_REJECTED
    proceeds: int | None = None  # PLAN_ISSUED
    costs: int = 0  # PLAN_ISSUED: execution costs
    recipient: str | None = None  # SERVED, OBJECTED, OPPOSED, SUED: a Party.key
    disputes: tuple[Dispute, ...] = ()  # OBJECTED
    allocated: tuple[tuple[str, int], ...] = ()  # PLAN_REVISED, SUIT_DECIDED
    bankruptcy_test_met: bool = False  # ENTERPRISE_ASSESSED
    consent_by: str | None = None  # ENTERPRISE_ASSESSED: a Party.key
    bankruptcy_court: str | None = None  # ENTERPRISE_ASSESSED
    accepted: bool | None = None  # BANKRUPTCY_ANSWERED


def open_distribution(
    distribution_id: str,
    presiding_court: str,
    debtor: Party,
    debtor_form: DebtorForm,
    started_at: datetime,
    procedure: Procedure | None = None,
) -> Distribution:
    """A new distribution before the presiding court (the court disposing of the asset).

    ``procedure`` None takes the debtor's (``procedure_for``); PARTICIPATION asks for 参与分配
    explicitly, which an enterprise debtor cannot have.

    Raises:
        ValidationError: ``DISTRIBUTION_ENTERPRISE_DEBTOR``, ``DISTRIBUTION_DEBTOR_FORM_MISMATCH``
            or ``DISTRIBUTION_PROCEDURE_MISMATCH`` (ENTERPRISE for a citizen or an other
            organisation).
    """
    own = procedure_for(debtor, debtor_form)
    if procedure is Procedure.PARTICIPATION:
        check_participation(debtor, debtor_form)
    elif procedure is not None and procedure is not own:
        raise _refuse(f"a {debtor_form.value} debtor takes {own.value}",
                      "DISTRIBUTION_PROCEDURE_MISMATCH")  # fmt: skip
    return Distribution(distribution_id, presiding_court, debtor, debtor_form, own, started_at)


def actors_of(d: Distribution, court_id: str | None, detail: Detail) -> frozenset[Actor]:
    """The roles ``court_id`` plays for this step's ``detail`` (None: the bus)."""
    if court_id is None:
        return frozenset({Actor.BUS})
    roles: set[Actor] = set()
    if court_id == d.presiding_court:
        roles |= {Actor.PRESIDING, Actor.RECIPIENT}
    if detail.claim is not None and detail.claim.court_id == court_id:
        roles.add(Actor.CLAIMANT)
    if detail.recipient is not None and d.court_of(detail.recipient) == court_id:
        roles.add(Actor.RECIPIENT)
    if d.enterprise is not None and d.enterprise.bankruptcy_court == court_id:
        roles.add(Actor.BANKRUPTCY)
    return frozenset(roles)


def _window_due(phase: Phase, at: datetime, periods: Periods) -> datetime:
    span = {
        Phase.OBJECTION: periods.objection,
        Phase.OPPOSITION: periods.opposition,
        Phase.SUIT: periods.suit,
    }[phase]
    return due_after(at, span)


def window_deadlines(
    d: Distribution, periods: Periods = PERIODS
) -> tuple[tuple[str, datetime], ...]:
    """Each served recipient of the current window who has not responded, with the end of its
    15 days from its own receipt (Arts. 509-510)."""
    phase = _PHASE_OF.get(d.state)
    if phase is None:
        return ()
    done = {r.recipient for r in d.responses if r.phase is phase}
    return tuple(
        (r.recipient, _window_due(phase, r.at, periods))
        for r in d.receipts
        if r.phase is phase and r.recipient not in done
    )


def closes_at(d: Distribution, periods: Periods = PERIODS) -> datetime | None:
    """When the current window may be closed (None: no window, or someone is not served yet):
    the last of the recipients' deadlines, or at once if everyone has responded."""
    phase = _PHASE_OF.get(d.state)
    if phase is None or d.state is State.PLAN_ISSUED:
        return None
    served = {r.recipient for r in d.receipts if r.phase is phase}
    if not set(d.recipients(phase)) <= served:
        return None
    dues = [due for _, due in window_deadlines(d, periods)]
    if dues:
        return max(dues)
    times = [r.at for r in d.receipts if r.phase is phase]
    times += [r.at for r in d.responses if r.phase is phase]
    return max(times, default=d.started_at)  # everyone responded (or nobody to notify): at once


def _step_error(d: Distribution, step: Step, why: str, code: str) -> ValidationError:
    return _refuse(f"{step.value} on distribution {d.distribution_id}: {why}", code)


def apply(
    d: Distribution,
    step: Step,
    by_court: str | None,
    at: datetime,
    detail: Detail | None = None,
    periods: Periods = PERIODS,
) -> Distribution:
    """Take one step at ``at`` (the bus's time); ``by_court`` sent it (None: the bus).

    Raises:
        ValidationError: ``DISTRIBUTION_NOT_PRESIDING`` (a presiding court's step from another
            court), ``DISTRIBUTION_WRONG_COURT`` (any other step from the wrong court),
            ``DISTRIBUTION_ILLEGAL_TRANSITION``, ``DISTRIBUTION_CLAIM_TOO_LATE`` (also on a
            paid-out distribution), or a step's own code (see the step's function).
    """
    detail = detail or Detail()
    if step is Step.CLAIM_FILED and d.ended_at is not None:
        check_claim_time(at, d.started_at, d.ended_at)
    who, sources, target = TRANSITIONS[step]
    if not who & actors_of(d, by_court, detail):
        sender = f"court {by_court}" if by_court else "the bus"
        code = (
            "DISTRIBUTION_NOT_PRESIDING" if Actor.PRESIDING in who else "DISTRIBUTION_WRONG_COURT"
        )
        names = " or ".join(sorted(a.value for a in who))
        raise _step_error(d, step, f"must come from the {names}, not {sender}", code)
    if d.state not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise _step_error(d, step, f"not allowed in state {d.state.value} (only from {allowed})",
                          "DISTRIBUTION_ILLEGAL_TRANSITION")  # fmt: skip
    changed = replace(d, events=d.events + 1)
    if target is not None:
        changed = replace(changed, state=target)
    return _EFFECTS[step](d, changed, step, at, detail, periods)


_Effect = Callable[[Distribution, Distribution, Step, datetime, Detail, Periods], Distribution]


def _plan_of(d: Distribution, step: Step) -> Plan:
    if d.plan is None:  # every state from PLAN_ISSUED to FINALIZED holds one
        raise _step_error(d, step, "no plan on record", "DISTRIBUTION_NO_PLAN")
    return d.plan


def _void_plan(d: Distribution) -> Distribution:
    return replace(d, state=State.CLAIMS, plan=None, receipts=(), responses=())


def _claim_filed(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """Art. 506-507. Raises ``DISTRIBUTION_DETAIL_MISSING``, ``DISTRIBUTION_CLAIM_DUPLICATE``,
    ``check_claim``'s and ``check_claim_time``'s codes."""
    claim = x.claim
    if claim is None:
        raise _step_error(d, step, "no claim", "DISTRIBUTION_DETAIL_MISSING")
    check_claim(claim, d.debtor)
    check_claim_time(at, d.started_at, d.ended_at)
    if any(f.claim.claim_id == claim.claim_id for f in d.filings):
        raise _step_error(d, step, f"claim {claim.claim_id} is already filed",
                          "DISTRIBUTION_CLAIM_DUPLICATE")  # fmt: skip
    new = replace(new, filings=(*d.filings, Filing(replace(claim, filed_at=at))))
    return replace(new, state=State.CLAIMS) if d.state is State.OPENED else new


def _claim_decided(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """An admission after a plan voids it: the plan must cover every claim (Art. 507 lets a
    claim come until the execution of the property ends). Raises ``DISTRIBUTION_CLAIM_UNKNOWN``
    or ``DISTRIBUTION_CLAIM_ALREADY_DECIDED``."""
    filing = d.filing(x.claim_id or "")
    if filing.status is not ClaimStatus.FILED:
        raise _step_error(d, step, f"claim {x.claim_id} is already {filing.status.value}",
                          "DISTRIBUTION_CLAIM_ALREADY_DECIDED")  # fmt: skip
    admitted = step is Step.CLAIM_ADMITTED
    status = ClaimStatus.ADMITTED if admitted else ClaimStatus.REJECTED
    filings = tuple(replace(f, status=status) if f is filing else f for f in d.filings)
    new = replace(new, filings=filings)
    return _void_plan(new) if admitted and d.plan is not None else new


def _assessed(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """Art. 511. Raises ``DISTRIBUTION_NOT_ENTERPRISE`` and ``assess_enterprise``'s codes."""
    if d.procedure is not Procedure.ENTERPRISE:
        raise _step_error(d, step, f"the debtor is not an enterprise legal person ({ART_511})",
                          "DISTRIBUTION_NOT_ENTERPRISE")  # fmt: skip
    applicants = {f.claim.claimant.key for f in d.filings if f.claim.has_title}
    decision = assess_enterprise(
        bankruptcy_test_met=x.bankruptcy_test_met,
        consent_by=x.consent_by,
        consenting_parties=applicants | {d.debtor.key},
        bankruptcy_court=x.bankruptcy_court,
        presiding_court=d.presiding_court,
        courts_involved={f.claim.court_id for f in d.filings},
        at=at,
    )
    new = replace(new, enterprise=decision)
    return replace(new, state=State.TRANSFERRED_TO_BANKRUPTCY) if decision.transfer else new


def _bankruptcy_answered(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """Arts. 512-514: accepted, the transfer stands; refused, enforcement resumes and ordinary
    claims go in sealing order. Raises ``DISTRIBUTION_DETAIL_MISSING``,
    ``DISTRIBUTION_ALREADY_ANSWERED``."""
    decision = d.enterprise
    if decision is None or x.accepted is None:
        raise _step_error(d, step, "the answer says neither accepted nor refused",
                          "DISTRIBUTION_DETAIL_MISSING")  # fmt: skip
    if decision.accepted is not None:
        raise _step_error(d, step, "already answered", "DISTRIBUTION_ALREADY_ANSWERED")
    new = replace(new, enterprise=replace(decision, accepted=x.accepted))
    if x.accepted:
        return new
    return replace(new, state=State.CLAIMS if d.filings else State.OPENED)


def ordinary_order(d: Distribution) -> OrdinaryOrder:
    """How this distribution's ordinary claims are paid (Art. 508 or Art. 514).

    Raises:
        ValidationError: ``DISTRIBUTION_BANKRUPTCY_NOT_ASSESSED`` (an enterprise debtor before
            the Art. 511 decision) or ``DISTRIBUTION_TRANSFERRED`` (enforcement suspended).
    """
    if d.procedure is Procedure.PARTICIPATION:
        return OrdinaryOrder.PRO_RATA
    if d.enterprise is None:
        raise _refuse(f"decide on 执转破 first ({ART_511})", "DISTRIBUTION_BANKRUPTCY_NOT_ASSESSED")
    if d.enterprise.transfer and d.enterprise.accepted is not False:
        raise _refuse(f"enforcement is suspended ({ART_511})", "DISTRIBUTION_TRANSFERRED")
    return OrdinaryOrder.SEALING_ORDER


def _plan_issued(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """Art. 509 (a 514 plan takes the same steps here; whether Arts. 509-510 govern it rather
    than an 执行异议 is not settled (verify)). Raises ``DISTRIBUTION_DETAIL_MISSING``,
    ``DISTRIBUTION_CLAIMS_PENDING``, ``DISTRIBUTION_NO_CLAIMS``, ``ordinary_order``'s and
    ``compute_plan``'s codes."""
    if x.proceeds is None:
        raise _step_error(d, step, "no proceeds", "DISTRIBUTION_DETAIL_MISSING")
    pending = [f.claim.claim_id for f in d.filings if f.status is ClaimStatus.FILED]
    if pending:
        raise _step_error(d, step, f"admit or reject claims {pending} first",
                          "DISTRIBUTION_CLAIMS_PENDING")  # fmt: skip
    if not d.admitted():
        raise _step_error(d, step, "no admitted claim", "DISTRIBUTION_NO_CLAIMS")
    plan = compute_plan(x.proceeds, x.costs, d.admitted(), ordinary_order(d))
    plan = replace(plan, version=d.plans_issued + 1)
    return replace(new, plan=plan, plans_issued=plan.version, receipts=(), responses=())


def _served(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """Raises ``DISTRIBUTION_NOT_A_RECIPIENT``, ``DISTRIBUTION_ALREADY_SERVED``."""
    phase = _PHASE_OF[d.state]
    if x.recipient not in d.recipients(phase):
        raise _step_error(d, step, f"{x.recipient} receives nothing in the {phase.value} phase",
                          "DISTRIBUTION_NOT_A_RECIPIENT")  # fmt: skip
    if any(r.phase is phase and r.recipient == x.recipient for r in d.receipts):
        raise _step_error(d, step, f"{x.recipient} was already served",
                          "DISTRIBUTION_ALREADY_SERVED")  # fmt: skip
    new = replace(new, receipts=(*d.receipts, Receipt(phase, x.recipient, at)))
    served = {r.recipient for r in new.receipts if r.phase is phase}
    if d.state is State.PLAN_ISSUED and set(d.recipients(phase)) <= served:
        return replace(new, state=State.OBJECTION_WINDOW)
    return new


def _responded(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """Raises ``DISTRIBUTION_NOT_A_RECIPIENT``, ``DISTRIBUTION_NOT_SERVED``,
    ``DISTRIBUTION_ALREADY_RESPONDED``, the phase's ``…_TOO_LATE`` code and
    ``DISTRIBUTION_DISPUTE_INVALID`` (an objection that disputes nothing or more than a claim)."""
    phase = _RESPONSE_OF[step]
    who = x.recipient or ""
    if who not in d.recipients(phase):
        raise _step_error(d, step, f"{who} may not do this", "DISTRIBUTION_NOT_A_RECIPIENT")
    receipt = next((r for r in d.receipts if r.phase is phase and r.recipient == who), None)
    if receipt is None:
        raise _step_error(d, step, f"{who} has not been served", "DISTRIBUTION_NOT_SERVED")
    if any(r.phase is phase and r.recipient == who for r in d.responses):
        raise _step_error(d, step, f"{who} already did", "DISTRIBUTION_ALREADY_RESPONDED")
    due = _window_due(phase, receipt.at, p)
    if at >= due:
        source = ART_509 if phase is Phase.OBJECTION else ART_510
        raise _step_error(d, step, f"{who}'s 15 days ran out at {due.isoformat()} ({source})",
                          _LATE_CODE[phase])  # fmt: skip
    disputes: tuple[Dispute, ...] = ()
    if phase is Phase.OBJECTION:
        disputes = x.disputes
        plan = _plan_of(d, step)
        bad = [q for q in disputes if not 0 < q.amount <= plan.allocation(q.claim_id).claimed]
        if not disputes or bad:
            raise _step_error(d, step, "an objection disputes 1 fen up to a claim's amount",
                              "DISTRIBUTION_DISPUTE_INVALID")  # fmt: skip
    return replace(new, responses=(*d.responses, Response(phase, who, at, disputes)))


def _window_closed(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """Art. 509-510. Raises ``DISTRIBUTION_WINDOW_OPEN``."""
    end = closes_at(d, p)
    if end is None or at < end:
        when = end.isoformat() if end else "everyone is served"
        raise _step_error(d, step, f"the window is open until {when}", "DISTRIBUTION_WINDOW_OPEN")
    phase = _PHASE_OF[d.state]
    responded = any(r.phase is phase for r in d.responses)
    if phase is Phase.OBJECTION:
        return replace(new, state=State.OPPOSITION_WINDOW if responded else State.FINALIZED)
    if phase is Phase.OPPOSITION:
        return replace(new, state=State.SUIT_WINDOW if responded else State.REVISION)
    return replace(new, state=State.IN_SUIT if responded else State.FINALIZED)


def _revised(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    """Art. 510. Raises ``revise_plan``'s codes."""
    plan = _plan_of(d, step)
    if not x.allocated:
        return new  # the suit upheld the plan
    return replace(new, plan=revise_plan(plan, dict(x.allocated)))


def _execution_ended(
    d: Distribution, new: Distribution, step: Step, at: datetime, x: Detail, p: Periods
) -> Distribution:
    return replace(new, ended_at=d.ended_at or at)


_EFFECTS: dict[Step, _Effect] = {
    Step.CLAIM_FILED: _claim_filed,
    Step.CLAIM_ADMITTED: _claim_decided,
    Step.CLAIM_REJECTED: _claim_decided,
    Step.ENTERPRISE_ASSESSED: _assessed,
    Step.BANKRUPTCY_ANSWERED: _bankruptcy_answered,
    Step.PLAN_ISSUED: _plan_issued,
    Step.SERVED: _served,
    Step.OBJECTED: _responded,
    Step.OPPOSED: _responded,
    Step.SUED: _responded,
    Step.WINDOW_CLOSED: _window_closed,
    Step.PLAN_REVISED: _revised,
    Step.SUIT_DECIDED: _revised,
    Step.EXECUTION_ENDED: _execution_ended,
    Step.PAID_OUT: _execution_ended,
}


def payable(d: Distribution) -> Payout | None:
    """What may be paid now: the whole plan once final; during a suit, all but the disputed
    amounts, which are deposited (Art. 510); None otherwise."""
    if d.plan is None:
        return None
    if d.state is State.FINALIZED:
        return payout(d.plan, ())
    if d.state is State.IN_SUIT:
        return payout(d.plan, d.disputes_in_suit())
    return None


class Duty(StrEnum):
    """What someone must do next on a distribution."""

    DECIDE_CLAIM = "DECIDE_CLAIM"
    ASSESS_ENTERPRISE = "ASSESS_ENTERPRISE"
    SERVE = "SERVE"
    CLOSE_WINDOW = "CLOSE_WINDOW"
    REVISE_PLAN = "REVISE_PLAN"
    DECIDE_SUIT = "DECIDE_SUIT"
    PAY_OUT = "PAY_OUT"
    ANSWER_BANKRUPTCY = "ANSWER_BANKRUPTCY"


@dataclass(frozen=True, slots=True)
class Pending:
    """One thing to do: by whom, about what (a claim id or a Party.key), and when it falls due
    (None: no time limit in law); ``overdue`` is ``now >= due``."""

    duty: Duty
    actor: Actor
    subject: str | None = None
    due: datetime | None = None
    overdue: bool = False


def pending(d: Distribution, now: datetime, periods: Periods = PERIODS) -> tuple[Pending, ...]:
    """What is due on ``d`` at ``now``: the windows' closing (for the bus's timer), services
    outstanding, the presiding court's decisions and the bankruptcy court's answer (Art. 512)."""
    out: list[Pending] = []
    if d.state in _LIVE:
        out += [
            Pending(Duty.DECIDE_CLAIM, Actor.PRESIDING, f.claim.claim_id)
            for f in d.filings
            if f.status is ClaimStatus.FILED
        ]
    if d.state in _BEFORE_PLAN and d.procedure is Procedure.ENTERPRISE and d.enterprise is None:
        out.append(Pending(Duty.ASSESS_ENTERPRISE, Actor.PRESIDING))
    phase = _PHASE_OF.get(d.state)
    if phase is not None:
        served = {r.recipient for r in d.receipts if r.phase is phase}
        out += [
            Pending(Duty.SERVE, Actor.PRESIDING, k) for k in d.recipients(phase) if k not in served
        ]
        end = closes_at(d, periods)
        if end is not None:
            out.append(Pending(Duty.CLOSE_WINDOW, Actor.BUS, None, end, now >= end))
    single = {
        State.REVISION: Duty.REVISE_PLAN,
        State.IN_SUIT: Duty.DECIDE_SUIT,
        State.FINALIZED: Duty.PAY_OUT,
    }
    if d.state in single:
        out.append(Pending(single[d.state], Actor.PRESIDING))
    e = d.enterprise
    if d.state is State.TRANSFERRED_TO_BANKRUPTCY and e is not None and e.accepted is None:
        due = due_after(e.decided_at, periods.bankruptcy_answer)
        out.append(Pending(Duty.ANSWER_BANKRUPTCY, Actor.BANKRUPTCY, e.bankruptcy_court, due,
                           now >= due))  # fmt: skip
    return tuple(out)


def next_deadline(d: Distribution, periods: Periods = PERIODS) -> datetime | None:
    """When the next timed duty of ``d`` falls due (what the flow's timer is set to)."""
    far = datetime.max.replace(tzinfo=d.started_at.tzinfo)
    dues = [p.due for p in pending(d, far, periods) if p.due is not None]
    return min(dues, default=None)
