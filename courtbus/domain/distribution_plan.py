"""Participation in distribution (参与分配) and the enterprise path: the parties, who may claim
and when, the exact plan in fen, its revision and payout, the enterprise decision (执转破 or the
sealing order) and the hand-over of disposal. ``courtbus.domain.distribution`` is the state
machine that uses them. Pure: no I/O, no clocks (every function takes the time); imports only
the domain and errors.

Sources (民诉法解释 = 最高人民法院关于适用《中华人民共和国民事诉讼法》的解释, 2022 修正):

- Art. 506: a debtor who is a citizen or an other organisation (其他组织); creditors with an
  enforcement title apply; creditors with a priority right or a security interest in the
  sealed property apply directly (no title);
- Art. 507: after enforcement starts, before the execution of the property ends;
- Art. 508: costs, then priority claims, then ordinary claims pro rata;
- Arts. 509-510: the plan, 15 days to object, 15 days to oppose, 15 days to sue, deposit (提存);
- Arts. 511-514: an enterprise legal person: 执转破 with consent, else the sealing order;
- 法释〔2016〕6号: the first sealing court hands the disposal over to a priority creditor's court.

Periods are counted as the law counts days (民事诉讼法 (2023 修正) 第八十五条, ``courtbus.domain.calendar``):
the day of receipt is not counted, a last day on a rest day moves to the next working day, and
a deadline is 00:00 China time after the last day. Spans that are not whole days (a demo's or a
test's shortened clock) are plain offsets (``due_after``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from courtbus.domain.calendar import due_after
from courtbus.domain.credit_codes import OrganisationForm, credit_code_category
from courtbus.domain.id_types import DebtorKind
from courtbus.domain.identity import validate_debtor_id
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
BANKRUPTCY_TEST = "企业破产法 (2006) 第二条第一款: 不能清偿到期债务，并且资产不足以清偿全部债务或者明显缺乏清偿能力"
NOTIFY_ALL_COURTS = (
    # UNVERIFIED: the article number (no text of 法发〔2017〕2号 was read)
    "最高人民法院关于执行案件移送破产审查若干问题的指导意见 (法发〔2017〕2号, version unverified) 第8条 (article number unverified): 执行法院作出移送"
    "决定后，应当书面通知所有已知执行法院，执行法院均应中止对被执行人的执行程序"
)
# 最高人民法院关于审理建设工程施工合同纠纷案件适用法律问题的解释（一） (2020-12-25) 第三十六条 and
# 民法典 (2020) 第八百零七条 were read in LawRefBook/Laws; UNVERIFIED: its document number 法释〔2020〕25号
# (the text read does not carry it)
CONSTRUCTION_PRIORITY = "民法典 (2020) 第八百零七条; 建设工程施工合同解释（一） (法释〔2020〕25号, document number unverified) 第三十六条: 承包人……享有的建设工程价款优先受偿权优于抵押权和其他债权"
MORTGAGE_ORDER = (
    "民法典 (2020) 第四百一十四条: 抵押权已经登记的，按照登记的时间先后确定清偿顺序；已经登记的先于未登记的受偿；未登记"
    "的，按照债权比例清偿 (第四百一十五条: 抵押权与质权按照登记、交付的时间先后)"
)
HANDOVER_REPLY = (
    "最高人民法院关于首先查封法院与优先债权执行法院处分查封财产有关问题的批复 (法释〔2016〕6号, version unverified) 第一条: 自首先"
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
    handover_wait: timedelta = timedelta(days=60)  # 法释〔2016〕6号 (version unverified) 第一条
    handover: timedelta = timedelta(days=15)  # 法释〔2016〕6号 (version unverified) 第二条


PERIODS = Periods()


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


# --- parties and who may claim (Art. 506) ---------------------------------------------------


class DebtorForm(StrEnum):
    """The debtor's legal form, which decides the procedure (Arts. 506, 511)."""

    CITIZEN = "CITIZEN"  # 公民 (natural person)
    OTHER_ORGANISATION = (
        "OTHER_ORGANISATION"  # 其他组织 (民诉法解释 (2022 修正) 第五十二条: 合伙企业, 分支机构…)
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
    id_type: str | None = None  # the wire's IdType; None: told from the number's shape
    nationality: str | None = None  # a passport's issuing state (ISO 3166-1 alpha-3)

    @classmethod
    def of(
        cls,
        kind: DebtorKind | str,
        name: str,
        id_number: str,
        id_type: str | None = None,
        nationality: str | None = None,
    ) -> Party:
        """A party with its ID checked and canonicalised (``validate_debtor_id``); a foreign
        person named by passport gives ``id_type="PASSPORT"`` and ``nationality``.

        Raises:
            ValidationError: ``DISTRIBUTION_PARTY_NAME_MISSING``, ``DEBTOR_KIND_INVALID`` or
                the ID's own code (``RESIDENT_ID_INVALID``, ``PASSPORT_INVALID``, …).
        """
        if not name.strip():
            raise _refuse("a party needs a name", "DISTRIBUTION_PARTY_NAME_MISSING")
        try:
            checked = DebtorKind(kind)
        except ValueError as exc:
            raise _refuse(f"party kind {kind!r}", "DEBTOR_KIND_INVALID") from exc
        number = validate_debtor_id(checked, id_number, id_type=id_type, nationality=nationality)
        return cls(checked, name.strip(), number, id_type, nationality)

    @property
    def key(self) -> str:
        """How the plan's recipients and objections name this party (a passport with its
        issuing state: two states may issue one number)."""
        tail = f":{self.nationality}" if self.id_type == "PASSPORT" else ""
        return f"{self.kind.value}:{self.id_number}{tail}"


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


# A declared form the debtor's name or credit code contradicts (issue 21 item 3). Read in
# LawRefBook/Laws: 公司法 (2023 修订) 第二条 (本法所称公司，是指……有限责任公司和股份有限公司),
# 第三条 (公司是企业法人), 第十三条第二款 (分公司不具有法人资格); 民法典 (2020) 第七十六条第二款
# (营利法人包括有限责任公司、股份有限公司和其他企业法人等), 第一百零二条第二款 (非法人组织包括
# 个人独资企业、合伙企业……). GB 32100-2015 附录 A: a code's 9 + 1 is 企业 (courtbus.domain.credit_codes).
COMPANY_LAW = "公司法 (2023 修订) 第二条、第三条: 有限责任公司和股份有限公司是公司，公司是企业法人"
BRANCH_LAW = "公司法 (2023 修订) 第十三条第二款: 分公司不具有法人资格"
USCC_ENTERPRISE = "GB 32100-2015 附录 A: 登记管理部门代码 9 (工商) + 机构类别代码 1 (企业)"
# 股份有限公司 ends in 有限公司; a branch's name (…有限公司某某分公司) ends in 分公司
COMPANY_SUFFIXES = ("有限责任公司", "有限公司")
BRANCH_SUFFIX = "分公司"


def is_company_name(name: str) -> bool:
    """Whether an organisation's name says it is a company (有限责任公司 or 股份有限公司), not
    a branch of one (分公司, which is not a legal person: 公司法 (2023 修订) 第十三条第二款)."""
    name = name.strip()
    return name.endswith(COMPANY_SUFFIXES) and not name.endswith(BRANCH_SUFFIX)


def check_declared_form(debtor: Party, form: DebtorForm) -> None:
    """The declared form is not contradicted by the debtor's name or credit code.

    * A name ending in 有限责任公司 / 有限公司 (not 分公司) is a company, an enterprise legal
      person (``COMPANY_LAW``): declared otherwise, it is refused, since 参与分配 is not for it.
    * ENTERPRISE_LEGAL_PERSON needs a credit code whose first two characters are 91, an
      enterprise (``USCC_ENTERPRISE``): 92 个体工商户, 93 农民专业合作社 (a special legal person,
      民法典 (2020) 第九十六条), 5x social organisations (non-profit legal persons, 第八十七条), 1x organs
      (special legal persons) are not enterprise legal persons.

    The code alone cannot tell a 企业法人 from a partnership or a branch (all 91): an
    OTHER_ORGANISATION with a 91 code and a name that is not a company's passes.

    Raises:
        ValidationError: ``DISTRIBUTION_DEBTOR_FORM_CONTRADICTED``, saying what to declare and
            which path the distribution then takes.
    """
    if debtor.kind is not DebtorKind.ORGANISATION:
        return
    if form is not DebtorForm.ENTERPRISE_LEGAL_PERSON and is_company_name(debtor.name):
        raise _refuse(
            f"{debtor.name} is declared {form.value}, but its name says it is a company, an "
            f"enterprise legal person ({COMPANY_LAW}; a branch's name ends in 分公司, {BRANCH_LAW}): "
            f"参与分配 is not for it ({ART_506}). Declare ENTERPRISE_LEGAL_PERSON: with the consent "
            "of one applicant or of the debtor the case is transferred for bankruptcy (执转破, "
            f"{ART_511}); otherwise ordinary claims are paid in the order of sealing ({ART_514})",
            "DISTRIBUTION_DEBTOR_FORM_CONTRADICTED",
        )
    if form is DebtorForm.ENTERPRISE_LEGAL_PERSON:
        category = credit_code_category(debtor.id_number)
        if category.form is not OrganisationForm.ENTERPRISE:
            raise _refuse(
                f"{debtor.name} is declared ENTERPRISE_LEGAL_PERSON, but its credit code's first "
                f"two characters ({debtor.id_number[:2]}: {category.department}, "
                f"{category.category}) say it is not an enterprise ({USCC_ENTERPRISE}). Declare "
                f"OTHER_ORGANISATION: the proceeds are then distributed by 参与分配 ({ART_506})",
                "DISTRIBUTION_DEBTOR_FORM_CONTRADICTED",
            )


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

    ``rank`` orders claims within a priority class (1 first, e.g. mortgage registration order).
    Claims of equal rank share pro rata. The law says so only of unregistered mortgages (民法典 (2020)
    第四百一十四条第一款第三项: 抵押权未登记的，按照债权比例清偿); for any other claims a court
    gives one rank (two mortgages registered at one time, two statutory priorities of one kind)
    pro rata is the bus's choice, which the presiding court avoids by ranking them apart. ``seal_order`` is the place
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


def check_claim(claim: Claim, debtor: Party | None) -> None:
    """Whether ``claim`` may be filed at all (Art. 506); the time is ``check_claim_time``'s.
    ``debtor`` None: not known where this is checked (a claimant's court before sending), so
    whether the claimant is the debtor is left to the bus.

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
    if debtor is not None and claim.claimant.key == debtor.key:
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
        raise _refuse(
            "a transfer names the court of the debtor's domicile", "DISTRIBUTION_DETAIL_MISSING"
        )
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
    the disposal of the asset (法释〔2016〕6号 (version unverified) 第一条): more than 60 days since the first seal and
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
        raise _refuse(
            f"only a priority creditor's court may ask ({HANDOVER_REPLY})",
            "DISTRIBUTION_HANDOVER_NOT_PRIORITY",
        )
    if auction_published:
        raise _refuse(
            f"the first sealing court has published an auction or entered a sale "
            f"({HANDOVER_REPLY})",
            "DISTRIBUTION_HANDOVER_AUCTION_PUBLISHED",
        )
    start = handover_request_from(sealed_at, periods)
    if now < start:
        raise _refuse(
            f"a request may come from {start.isoformat()} ({HANDOVER_REPLY})",
            "DISTRIBUTION_HANDOVER_TOO_EARLY",
        )


def handover_due(requested_at: datetime, periods: Periods = PERIODS) -> datetime:
    """When the first sealing court must have handed the asset over: 15 days from its receipt
    of the request (``requested_at``; 法释〔2016〕6号 (version unverified) 第二条)."""
    return due_after(requested_at, periods.handover)


def handover_overdue(
    requested_at: datetime, now: datetime, handed_over: bool, periods: Periods = PERIODS
) -> bool:
    """The hand-over is late: not done and its 15 days have run out."""
    return not handed_over and now >= handover_due(requested_at, periods)
