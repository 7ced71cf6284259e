"""Participation in distribution (参与分配) and an enterprise debtor's path (执转破 or the
sealing order) as a court's system takes its steps, checked before sending against
``courtbus.domain.distribution_plan`` and ``courtbus.domain.distribution`` (the rules the
distribution service applies: typed parties with checked IDs, who may be a debtor, who may
claim without a title, exact amounts in fen, the enterprise decision, the hand-over's wait).

Sources: 民诉法解释 (2022 修正) 第五百零六条至第五百一十四条; 最高人民法院关于首先查封法院与优先债权
执行法院处分查封财产有关问题的批复 (法释〔2016〕6号). The texts are quoted in
``courtbus.domain.distribution_plan`` (``ART_506`` … ``ART_514``, ``HANDOVER_REPLY``).

Which court may take which step is the bus's to decide (only the presiding court issues or
revises a plan, a claimant's court speaks for its creditor); what can be checked without the
distribution's state is checked here. Imports no Kafka client: the sending is the court's
``CourtSender``'s (``courtbus.sdk.sender``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from courtbus.domain import distribution as dm
from courtbus.domain import distribution_plan as dp
from courtbus.domain.calendar import CHINA, due_after
from courtbus.domain.id_types import DebtorKind
from courtbus.domain.identity import canonical_nationality
from courtbus.domain.masking import mask_ids_in_text
from courtbus.domain.money import Money
from courtbus.errors import ValidationError
from courtbus.sdk.sent import Sent
from courtbus.wire import values as v

if TYPE_CHECKING:  # the type only: a flow client needs no Kafka client of its own
    from courtbus.sdk.sender import CourtSender

NS = "cn.court.bus.distribution."
Amount = str | Decimal | int  # yuan, at most two decimals: Money.parse
ClaimClassName = Literal["ORDINARY", "SECURED", "STATUTORY_PRIORITY"]
DebtorFormName = Literal["CITIZEN", "OTHER_ORGANISATION", "ENTERPRISE_LEGAL_PERSON"]
PhaseName = Literal["OBJECTION", "OPPOSITION", "SUIT"]


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(mask_ids_in_text(message), code=code)


def party_of(party: Mapping[str, Any]) -> tuple[dp.Party, dict[str, Any]]:
    """The domain party of a ``Debtor``-shaped dict (kind PERSON or ORGANISATION, name,
    id_number[, id_type, nationality: a passport names both]) and its wire record, the ID
    checked and in its canonical spelling.

    Raises:
        ValidationError: ``DISTRIBUTION_PARTY_NAME_MISSING``, ``DEBTOR_KIND_INVALID`` or the
            ID's own code (``RESIDENT_ID_INVALID``, ``CREDIT_CODE_INVALID``, …).
    """
    nationality = party.get("nationality")
    checked = dp.Party.of(
        str(party.get("kind", "")),
        str(party.get("name", "")),
        str(party.get("id_number", "")),
        party.get("id_type"),
        canonical_nationality(nationality) if nationality else None,
    )
    record = {
        "kind": checked.kind.value,
        "name": checked.name,
        "id_number": checked.id_number,
        "id_type": checked.id_type,
        "nationality": checked.nationality,
    }
    return checked, record


def fen_of(amount: Amount, what: str) -> int:
    """``amount`` yuan in fen (two decimals at most, not negative).

    Raises:
        ValidationError: ``MONEY_*`` (``Money.parse``'s codes), with ``what`` in the message.
    """
    try:
        return Money.parse(amount).fen
    except ValidationError as exc:
        raise ValidationError(f"{what}: {exc}", code=exc.code) from exc


def _klass(name: str) -> dp.ClaimClass:
    try:
        return dp.ClaimClass(name)
    except ValueError:
        known = ", ".join(k.value for k in dp.ClaimClass)
        raise _refuse(
            f"claim class {name!r}: one of {known} (execution costs are the plan's)",
            "DISTRIBUTION_CLAIM_CLASS_INVALID",
        ) from None


def wire_class(klass: dp.ClaimClass) -> tuple[str, str | None]:
    """The wire's ``claim_class`` and ``priority_kind`` of a domain class (Art. 508)."""
    if klass is dp.ClaimClass.ORDINARY:
        return "ORDINARY", None
    return "PRIORITY", klass.value


def objection_last_day(now: datetime, periods: dp.Periods = dp.PERIODS) -> date:
    """The last day (China time) of 15 days to object to a plan received at ``now`` (Art. 509):
    the day before the deadline's 00:00."""
    return (due_after(now, periods.objection).astimezone(CHINA) - timedelta(days=1)).date()


def shares_of(shares: Mapping[str, Amount] | None) -> list[dict[str, Any]]:
    """``Share`` records of claim id -> yuan, each checked as money.

    Raises:
        ValidationError: ``MONEY_*``.
    """
    return [
        {"claim_id": cid, "amount": Money(fen_of(amount, f"the share of claim {cid}")).yuan}
        for cid, amount in (shares or {}).items()
    ]


def plan_allocations(plan: dp.Plan) -> list[dict[str, Any]]:
    """The ``Allocation`` records of a plan computed with ``dp.compute_plan``."""
    out = []
    for a in plan.allocations:
        klass, kind = wire_class(a.klass)
        out.append(
            {
                "claim_id": a.claim_id,
                "claim_class": klass,
                "admitted": Money(a.claimed).yuan,
                "allocated": Money(a.allocated).yuan,
                "priority_kind": kind,
                "rank": a.rank,
            }
        )
    return out


class DistributionClient:
    """This court's steps in distributions, as the presiding court (the court disposing of
    the asset), a claimant's court, or the bankruptcy court; ``CourtClient.distribution``."""

    def __init__(self, sender: CourtSender) -> None:
        """Steps sent through ``sender`` (the court's one producer)."""
        self.sender = sender

    def _dist(self, short: str, distribution_id: str, **fields: Any) -> Sent:
        return self.sender.send_record(NS + short, {"distribution_id": distribution_id, **fields})

    def _court(self, court_id: str) -> dict[str, Any]:
        """A ``Court`` record of a court in the directory (``COURT_UNKNOWN`` otherwise)."""
        return v.court(self.sender.directory.court(court_id).id)

    # -- the presiding court opens, decides claims, plans (Arts. 506-509) ---------------------

    def open_distribution(
        self,
        distribution_id: str,
        case_number: str,
        debtor: Mapping[str, Any],
        asset_description: str,
        *,
        claim_deadline: date,
        debtor_form: DebtorFormName | None = None,
        proceeds: Amount = 0,
        enforcement_started_at: datetime | None = None,
        sealed_at: datetime | None = None,
        procedure: Literal["PARTICIPATION", "ENTERPRISE"] | None = None,
    ) -> Sent:
        """Open the distribution of the proceeds of one asset, this court presiding (it disposes
        of the asset; the first sealing court, 法释〔2016〕6号).

        ``debtor``: kind, name, id_number. ``debtor_form``: CITIZEN (a person, the default),
        OTHER_ORGANISATION (其他组织) or ENTERPRISE_LEGAL_PERSON (企业法人); an organisation must
        say which. 参与分配 is for a citizen or an other organisation (民诉法解释 (2022 修正) 第五百零六条);
        an enterprise legal person takes 执转破 or the sealing order (第五百一十一条至第五百一十四
        条): ``procedure="PARTICIPATION"`` asks for 参与分配 and is refused for one.
        ``enforcement_started_at`` (default: now) is when claims may start (第五百零七条);
        ``sealed_at`` the first seal, from which a priority creditor's court may ask for the
        disposal after 60 days (法释〔2016〕6号 (version unverified) 第一条). ``claim_deadline`` is the date this court
        announces; the bus refuses claims once ``end_execution`` is recorded (第五百零七条).

        Raises:
            ValidationError: ``DISTRIBUTION_ENTERPRISE_DEBTOR``,
                ``DISTRIBUTION_DEBTOR_FORM_MISMATCH``, ``DISTRIBUTION_PROCEDURE_MISMATCH``,
                ``DISTRIBUTION_DETAIL_MISSING`` (an organisation without its form), a party's
                or money code.
        """
        checked, record = party_of(debtor)
        if debtor_form is None and checked.kind is not DebtorKind.PERSON:
            raise _refuse(
                "an organisation debtor needs its form: OTHER_ORGANISATION (其他组织) "
                "or ENTERPRISE_LEGAL_PERSON (企业法人)",
                "DISTRIBUTION_DETAIL_MISSING",
            )
        try:
            form = dp.DebtorForm(debtor_form or "CITIZEN")
        except ValueError:
            raise _refuse(
                f"debtor form {debtor_form!r}", "DISTRIBUTION_DEBTOR_FORM_MISMATCH"
            ) from None
        now = v.now()
        started = enforcement_started_at or now
        dm.open_distribution(
            distribution_id,
            self.sender.me()["court_id"],
            checked,
            form,
            started,
            dp.Procedure(procedure) if procedure else None,
        )
        return self._dist(
            "DistributionOpened",
            distribution_id,
            case_number=v.case_number(case_number),
            presiding_court=self.sender.me(),
            debtor=record,
            asset_description=asset_description,
            proceeds=Money(fen_of(proceeds, "the proceeds")).yuan,
            claim_deadline=claim_deadline,
            opened_at=now,
            debtor_form=form.value,
            enforcement_started_at=started,
            sealed_at=sealed_at,
        )

    def admit_claim(
        self,
        distribution_id: str,
        claim_id: str,
        amount: Amount,
        *,
        claim_class: ClaimClassName = "ORDINARY",
    ) -> Sent:
        """Admit a claim as filed (民诉法解释 (2022 修正) 第五百零六条; the bus refuses another amount,
        ``DISTRIBUTION_CLAIM_AMOUNT_INVALID``); the admission goes back to the claimant's court.
        An admission after a plan voids it: the plan must cover every claim (第五百零七条).

        Raises:
            ValidationError: ``DISTRIBUTION_CLAIM_CLASS_INVALID``, ``MONEY_*``.
        """
        klass, _ = wire_class(_klass(claim_class))
        fen = fen_of(amount, f"the admitted amount of claim {claim_id}")
        return self._dist(
            "DistributionClaimAdmitted",
            distribution_id,
            claim_id=claim_id,
            claim_class=klass,
            admitted_amount=Money(fen).yuan,
            admitted_at=v.now(),
        )

    def reject_claim(
        self, distribution_id: str, claim_id: str, reason_code: str, reason: str
    ) -> Sent:
        """Reject a claim (e.g. no enforcement title and no priority, 民诉法解释 (2022 修正) 第五百零六条);
        the rejection goes back to the claimant's court."""
        if not reason_code.strip() or not reason.strip():
            raise _refuse("a rejection gives its code and reason", "DISTRIBUTION_DETAIL_MISSING")
        return self._dist(
            "DistributionClaimRejected",
            distribution_id,
            claim_id=claim_id,
            rejected_at=v.now(),
            reason_code=reason_code,
            reason=reason,
        )

    def end_execution(self, distribution_id: str) -> Sent:
        """Record that the execution of the property has ended: later claims are refused
        (``DISTRIBUTION_CLAIM_TOO_LATE``, 民诉法解释 (2022 修正) 第五百零七条)."""
        return self._dist(
            "DistributionExecutionEnded",
            distribution_id,
            presiding_court=self.sender.me(),
            ended_at=v.now(),
        )

    def issue_plan(
        self,
        distribution_id: str,
        proceeds: Amount,
        *,
        costs: Amount = 0,
        objection_deadline: date | None = None,
        plan: dp.Plan | None = None,
        plan_version: int = 1,
    ) -> Sent:
        """Issue the plan for ``proceeds`` yuan, ``costs`` of execution first (民诉法解释 (2022 修正)
        第五百零八条, 第五百零九条). The bus computes the allocations from the admitted claims
        (costs, statutory priorities, security interests by rank, ordinary claims pro rata in
        fen by largest remainder; the sealing order for an enterprise debtor, 第五百一十四条)
        and sends the plan to every party's court. With ``plan`` (``dp.compute_plan`` of the
        same proceeds and costs) its allocations are sent and the bus refuses them if they are
        not its own (``DISTRIBUTION_PLAN_INVALID``). ``objection_deadline`` (default: the last
        of 15 days from today) is informational: each recipient's 15 days run from its own
        receipt (第五百零九条).

        Raises:
            ValidationError: ``MONEY_*``, ``DISTRIBUTION_PLAN_INVALID`` (``plan`` is for other
                proceeds or costs).
        """
        total = fen_of(proceeds, "the proceeds")
        cost = fen_of(costs, "the execution costs")
        if plan is not None and (plan.proceeds, plan.costs) != (total, cost):
            raise _refuse(
                f"the plan is for {plan.proceeds} fen with {plan.costs} fen of costs, "
                f"not {total} and {cost}",
                "DISTRIBUTION_PLAN_INVALID",
            )
        now = v.now()
        return self._dist(
            "DistributionPlanIssued",
            distribution_id,
            plan_version=plan_version,
            issued_at=now,
            proceeds=Money(total).yuan,
            allocations=plan_allocations(plan) if plan else [],
            objection_deadline=objection_deadline or objection_last_day(now),
            costs=Money(cost).yuan,
        )

    def serve(
        self, distribution_id: str, recipient: Mapping[str, Any], phase: PhaseName = "OBJECTION"
    ) -> Sent:
        """Record that the plan (OBJECTION), the notice of an objection to those who did not
        object (OPPOSITION) or the notice of an opposition to the objectors (SUIT) reached
        ``recipient`` (a creditor or the debtor); its 15 days run from now (民诉法解释 (2022 修正) 第五百零九条,
        第五百一十条). The bus forwards it to the recipient's court.

        Raises:
            ValidationError: ``DISTRIBUTION_PHASE_INVALID``, a party's code.
        """
        if phase not in {p.value for p in dm.Phase}:
            raise _refuse(f"phase {phase!r}", "DISTRIBUTION_PHASE_INVALID")
        _, record = party_of(recipient)
        return self._dist(
            "DistributionPlanServed",
            distribution_id,
            presiding_court=self.sender.me(),
            recipient=record,
            phase=phase,
            served_at=v.now(),
        )

    # -- objections, oppositions, suits (Arts. 509-510) ---------------------------------------

    def file_objection(
        self,
        distribution_id: str,
        claim_id: str,
        reason: str,
        *,
        disputed_amount: Amount | None = None,
        objector: Mapping[str, Any] | None = None,
        plan_version: int = 1,
    ) -> Sent:
        """Object in writing to the plan's allocation to ``claim_id`` (民诉法解释 (2022 修正) 第五百零九条),
        within 15 days of the objector's receipt; ``disputed_amount`` (default: the whole
        allocation) is what is deposited if it comes to a suit (第五百一十条). ``objector``: the
        creditor or debtor this court speaks for (needed if it speaks for more than one).

        Raises:
            ValidationError: ``DISTRIBUTION_DISPUTE_INVALID`` (nothing disputed), ``MONEY_*``,
                a party's code.
        """
        disputed = None
        if disputed_amount is not None:
            fen = fen_of(disputed_amount, f"the disputed part of claim {claim_id}")
            if fen <= 0:
                raise _refuse(
                    "an objection disputes 1 fen up to a claim's amount",
                    "DISTRIBUTION_DISPUTE_INVALID",
                )
            disputed = Money(fen).yuan
        record = party_of(objector)[1] if objector is not None else None
        return self._dist(
            "DistributionObjectionFiled",
            distribution_id,
            plan_version=plan_version,
            claim_id=claim_id,
            objecting_court=self.sender.me(),
            filed_at=v.now(),
            reason=reason,
            objector=record,
            disputed_amount=disputed,
        )

    def oppose(self, distribution_id: str, opponent: Mapping[str, Any], reason: str) -> Sent:
        """A creditor or the debtor who did not object opposes the objection, within 15 days of
        its notice (民诉法解释 (2022 修正) 第五百一十条); the objectors are then told and may sue.

        Raises:
            ValidationError: a party's code.
        """
        _, record = party_of(opponent)
        return self._dist(
            "DistributionOppositionFiled",
            distribution_id,
            opposing_court=self.sender.me(),
            opponent=record,
            filed_at=v.now(),
            reason=reason,
        )

    def report_suit(
        self,
        distribution_id: str,
        plaintiff: Mapping[str, Any],
        *,
        suit_case_number: str | None = None,
    ) -> Sent:
        """The objector sued the opponents (分配方案异议之诉) within 15 days of the notice of the
        opposition (民诉法解释 (2022 修正) 第五百一十条): the disputed amount is deposited (提存) and the rest
        is payable while the suit runs. ``suit_case_number``: the wire's case numbers are
        enforcement case numbers (执, 执异, …), so a civil first-instance number (民初: the code
        case numbers print; UNVERIFIED against the annex of 法〔2015〕137号, not read) cannot be
        given yet.

        Raises:
            ValidationError: a party's or case number's code.
        """
        _, record = party_of(plaintiff)
        case = v.case_number(suit_case_number) if suit_case_number else None
        return self._dist(
            "DistributionSuitReported",
            distribution_id,
            reporting_court=self.sender.me(),
            plaintiff=record,
            suit_case_number=case,
            filed_at=v.now(),
        )

    def revise_plan(self, distribution_id: str, shares: Mapping[str, Amount]) -> Sent:
        """Nobody opposed: revise the plan as the objection asks (民诉法解释 (2022 修正) 第五百一十条),
        ``shares`` claim id -> yuan for the claims that change; the plan is then final.

        Raises:
            ValidationError: ``MONEY_*``.
        """
        return self._dist(
            "DistributionPlanRevised",
            distribution_id,
            presiding_court=self.sender.me(),
            shares=shares_of(shares),
            revised_at=v.now(),
        )

    def decide_suit(
        self,
        distribution_id: str,
        shares: Mapping[str, Amount] | None = None,
        *,
        judgment_case_number: str | None = None,
    ) -> Sent:
        """The suit is decided (民诉法解释 (2022 修正) 第五百一十条): ``shares`` as the judgment sets them
        (none: the plan is upheld); the plan is then final and the deposit is paid out by it.

        Raises:
            ValidationError: ``MONEY_*``, a case number's code.
        """
        case = v.case_number(judgment_case_number) if judgment_case_number else None
        return self._dist(
            "DistributionSuitDecided",
            distribution_id,
            presiding_court=self.sender.me(),
            shares=shares_of(shares),
            judgment_case_number=case,
            decided_at=v.now(),
        )

    def finalize(
        self,
        distribution_id: str,
        *,
        after: Literal["SUIT", "REVISION"],
        shares: Mapping[str, Amount] | None = None,
        judgment_case_number: str | None = None,
    ) -> Sent:
        """Make the plan final (民诉法解释 (2022 修正) 第五百一十条): after the suit (``decide_suit``) or
        after nobody opposed (``revise_plan``, as the objection asks). A plan nobody objected
        to is final when its window closes, without this step (the bus closes it); the bus
        then sends ``DistributionFinalized`` to every party's court.

        Raises:
            ValidationError: ``DISTRIBUTION_DETAIL_MISSING`` (a revision without shares),
                ``MONEY_*``.
        """
        if after == "SUIT":
            return self.decide_suit(
                distribution_id, shares, judgment_case_number=judgment_case_number
            )
        if not shares:
            raise _refuse(
                "a revision names the shares the objection asks for", "DISTRIBUTION_DETAIL_MISSING"
            )
        return self.revise_plan(distribution_id, shares)

    def pay_out(self, distribution_id: str) -> Sent:
        """The final plan is paid: the distribution ends (and with it the time to claim,
        民诉法解释 (2022 修正) 第五百零七条)."""
        return self._dist(
            "DistributionPaidOut",
            distribution_id,
            presiding_court=self.sender.me(),
            paid_at=v.now(),
        )

    # -- a claimant's court (Arts. 506-507) --------------------------------------------------

    def file_claim(
        self,
        distribution_id: str,
        claim_id: str,
        case_number: str,
        claimant: Mapping[str, Any],
        amount: Amount,
        *,
        claim_class: ClaimClassName = "ORDINARY",
        rank: int = 0,
        has_title: bool = True,
        seal_order: int | None = None,
    ) -> Sent:
        """Apply to take part in the distribution for this court's creditor (民诉法解释 (2022 修正)
        第五百零六条), after enforcement started and before the execution of the property ends
        (第五百零七条); the bus forwards it to the presiding court.

        ``claimant``: kind, name, id_number. ``claim_class``: ORDINARY (needs an enforcement
        title, ``case_number`` its enforcement case), SECURED (抵押权、质权、留置权; ``rank`` 1
        first, e.g. mortgage registration order, 民法典 (2020) 第四百一十四条) or STATUTORY_PRIORITY
        (outranks security, e.g. 民法典 (2020) 第八百零七条); a priority or secured creditor may apply
        without a title (``has_title=False``). ``seal_order``: this creditor's place in the
        order of seals on the asset (1 first), for an enterprise debtor (第五百一十四条).

        Raises:
            ValidationError: ``DISTRIBUTION_TITLE_MISSING``, ``DISTRIBUTION_CLAIM_AMOUNT_INVALID``,
                ``DISTRIBUTION_RANK_INVALID``, ``DISTRIBUTION_CLAIM_CLASS_INVALID``,
                ``MONEY_*``, a party's or case number's code.
        """
        checked, record = party_of(claimant)
        klass = _klass(claim_class)
        fen = fen_of(amount, f"claim {claim_id}")
        now = v.now()
        claim = dp.Claim(
            claim_id,
            checked,
            self.sender.me()["court_id"],
            fen,
            now,
            klass,
            rank,
            has_title,
            seal_order,
            case_number,
        )
        dp.check_claim(claim, None)  # whether the claimant is the debtor: the bus knows
        wire, kind = wire_class(klass)
        return self._dist(
            "DistributionClaimFiled",
            distribution_id,
            claim_id=claim_id,
            claiming_court=self.sender.me(),
            case_number=v.case_number(case_number),
            creditor=checked.name,
            claim_class=wire,
            amount=Money(fen).yuan,
            filed_at=now,
            claimant=record,
            priority_kind=kind,
            rank=rank,
            has_title=has_title,
            seal_order=seal_order,
        )

    # -- an enterprise legal person (Arts. 511-514) ------------------------------------------

    def assess_enterprise(
        self,
        distribution_id: str,
        bankruptcy_test_met: bool,
        *,
        consent_by: Mapping[str, Any] | None = None,
        bankruptcy_court: str | None = None,
    ) -> Sent:
        """Decide on 执转破 for an enterprise debtor (民诉法解释 (2022 修正) 第五百一十一条): if it meets the
        bankruptcy test (企业破产法 (2006) 第二条第一款) and an applicant creditor or the debtor
        (``consent_by``) consents, enforcement is suspended and the case goes to
        ``bankruptcy_court`` (the debtor's domicile); the bus tells every court involved.
        Otherwise ordinary claims are paid in sealing order (第五百一十四条).

        Raises:
            ValidationError: ``DISTRIBUTION_DETAIL_MISSING`` (a transfer without the
                bankruptcy court), ``COURT_UNKNOWN``, a party's code.
        """
        consent = party_of(consent_by) if consent_by is not None else None
        if bankruptcy_court is not None:
            self.sender.directory.court(bankruptcy_court)
        now = v.now()
        dp.assess_enterprise(
            bankruptcy_test_met=bankruptcy_test_met,
            consent_by=consent[0].key if consent else None,
            consenting_parties=[consent[0].key] if consent else [],  # who may: the bus knows
            bankruptcy_court=bankruptcy_court,
            presiding_court=self.sender.me()["court_id"],
            courts_involved=(),
            at=now,
        )
        return self._dist(
            "DistributionEnterpriseAssessed",
            distribution_id,
            presiding_court=self.sender.me(),
            bankruptcy_test_met=bankruptcy_test_met,
            consent_by=consent[1] if consent else None,
            bankruptcy_court=self._court(bankruptcy_court) if bankruptcy_court else None,
            assessed_at=now,
        )

    def answer_bankruptcy(self, distribution_id: str, accepted: bool) -> Sent:
        """As the court of the debtor's domicile, say whether it accepts the bankruptcy case
        (民诉法解释 (2022 修正) 第五百一十二条, within 30 days); refused, enforcement resumes and ordinary
        claims go in sealing order (第五百一十三条, 第五百一十四条)."""
        return self._dist(
            "DistributionBankruptcyAnswered",
            distribution_id,
            bankruptcy_court=self.sender.me(),
            accepted=accepted,
            answered_at=v.now(),
        )

    # -- hand-over of disposal (法释〔2016〕6号) -----------------------------------------------

    def publish_auction(self, distribution_id: str) -> Sent:
        """As the first sealing court, record that the auction is published or the sale
        entered: no hand-over may be asked any more (法释〔2016〕6号 (version unverified) 第一条)."""
        return self._dist(
            "DistributionAuctionPublished",
            distribution_id,
            presiding_court=self.sender.me(),
            published_at=v.now(),
        )

    def request_handover(
        self,
        distribution_id: str,
        claim_id: str,
        *,
        sealed_at: datetime | None = None,
        periods: dp.Periods = dp.PERIODS,
    ) -> Sent:
        """As the court of a creditor with priority (``claim_id``, a priority or secured claim
        this court filed), ask the first sealing court for the disposal of the asset: more than
        60 days after the first seal, no auction published or sale entered (法释〔2016〕6号 (version unverified)
        第一条). The first sealing court has 15 days to hand it over (第二条); the bus alerts
        both courts if it does not. With ``sealed_at`` (the first seal) the 60 days are checked
        here too.

        Raises:
            ValidationError: ``DISTRIBUTION_HANDOVER_TOO_EARLY``.
        """
        now = v.now()
        if sealed_at is not None:
            dp.check_handover_request(sealed_at, now, False, True, periods)
        return self._dist(
            "DistributionHandoverRequested",
            distribution_id,
            requesting_court=self.sender.me(),
            claim_id=claim_id,
            requested_at=now,
        )

    def hand_over(self, distribution_id: str) -> Sent:
        """As the first sealing court, hand the disposal over to the court that asked
        (法释〔2016〕6号 (version unverified) 第二条: 出具移送执行函 within 15 days)."""
        return self._dist(
            "DistributionHandedOver",
            distribution_id,
            presiding_court=self.sender.me(),
            handed_over_at=v.now(),
        )

    object = file_objection  # the issue's name: a method, so the builtin is not shadowed
