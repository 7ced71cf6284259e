"""The state machine of one distribution (参与分配, or an enterprise debtor's 执转破 / sealing
order): who may take which step in which state, the objection, opposition and suit windows
(Arts. 509-510), the deposit during a suit, what is pending and when. The parties, the plan
maths, the enterprise decision and the hand-over are in ``courtbus.domain.distribution_plan``.
Pure: no I/O, no clocks (every function takes the time); imports only the domain and errors.

Periods are counted as the law counts days (民事诉讼法 (2023 修正) 第八十五条, ``courtbus.domain.calendar``):
the day of receipt is not counted, a last day on a rest day moves to the next working day, and
a deadline is 00:00 China time after the last day, so a step at any moment of the last day is
in time (``at < due``). Each recipient's window runs from its own receipt. Spans that are not
whole days (a demo's or a test's shortened clock) are plain offsets (``due_after``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from courtbus.domain.calendar import due_after
from courtbus.domain.distribution_plan import (
    ART_509,
    ART_510,
    ART_511,
    PERIODS,
    Claim,
    DebtorForm,
    Dispute,
    EnterpriseDecision,
    OrdinaryOrder,
    Party,
    Payout,
    Periods,
    Plan,
    Procedure,
    assess_enterprise,
    check_claim,
    check_claim_time,
    check_declared_form,
    check_participation,
    compute_plan,
    payout,
    procedure_for,
    revise_plan,
)
from courtbus.errors import ValidationError


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


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
        raise _refuse(
            f"no claim {claim_id} in distribution {self.distribution_id}",
            "DISTRIBUTION_CLAIM_UNKNOWN",
        )

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
        ValidationError: ``DISTRIBUTION_ENTERPRISE_DEBTOR``, ``DISTRIBUTION_DEBTOR_FORM_MISMATCH``,
            ``DISTRIBUTION_DEBTOR_FORM_CONTRADICTED`` (the debtor's name or credit code says
            another form: ``check_declared_form``) or ``DISTRIBUTION_PROCEDURE_MISMATCH``
            (ENTERPRISE for a citizen or an other organisation).
    """
    own = procedure_for(debtor, debtor_form)
    check_declared_form(debtor, debtor_form)
    if procedure is Procedure.PARTICIPATION:
        check_participation(debtor, debtor_form)
    elif procedure is not None and procedure is not own:
        raise _refuse(
            f"a {debtor_form.value} debtor takes {own.value}", "DISTRIBUTION_PROCEDURE_MISMATCH"
        )
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
        raise _step_error(
            d,
            step,
            f"not allowed in state {d.state.value} (only from {allowed})",
            "DISTRIBUTION_ILLEGAL_TRANSITION",
        )
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
        raise _step_error(
            d, step, f"claim {claim.claim_id} is already filed", "DISTRIBUTION_CLAIM_DUPLICATE"
        )
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
        raise _step_error(
            d,
            step,
            f"claim {x.claim_id} is already {filing.status.value}",
            "DISTRIBUTION_CLAIM_ALREADY_DECIDED",
        )
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
        raise _step_error(
            d,
            step,
            f"the debtor is not an enterprise legal person ({ART_511})",
            "DISTRIBUTION_NOT_ENTERPRISE",
        )
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
        raise _step_error(
            d, step, "the answer says neither accepted nor refused", "DISTRIBUTION_DETAIL_MISSING"
        )
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
        raise _step_error(
            d, step, f"admit or reject claims {pending} first", "DISTRIBUTION_CLAIMS_PENDING"
        )
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
        raise _step_error(
            d,
            step,
            f"{x.recipient} receives nothing in the {phase.value} phase",
            "DISTRIBUTION_NOT_A_RECIPIENT",
        )
    if any(r.phase is phase and r.recipient == x.recipient for r in d.receipts):
        raise _step_error(
            d, step, f"{x.recipient} was already served", "DISTRIBUTION_ALREADY_SERVED"
        )
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
        raise _step_error(
            d, step, f"{who}'s 15 days ran out at {due.isoformat()} ({source})", _LATE_CODE[phase]
        )
    disputes: tuple[Dispute, ...] = ()
    if phase is Phase.OBJECTION:
        disputes = x.disputes
        plan = _plan_of(d, step)
        bad = [q for q in disputes if not 0 < q.amount <= plan.allocation(q.claim_id).claimed]
        if not disputes or bad:
            raise _step_error(
                d,
                step,
                "an objection disputes 1 fen up to a claim's amount",
                "DISTRIBUTION_DISPUTE_INVALID",
            )
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
        out.append(
            Pending(Duty.ANSWER_BANKRUPTCY, Actor.BANKRUPTCY, e.bankruptcy_court, due, now >= due)
        )
    return tuple(out)


def next_deadline(d: Distribution, periods: Periods = PERIODS) -> datetime | None:
    """When the next timed duty of ``d`` falls due (what the flow's timer is set to)."""
    far = datetime.max.replace(tzinfo=d.started_at.tzinfo)
    dues = [p.due for p in pending(d, far, periods) if p.due is not None]
    return min(dues, default=None)
