"""The distribution flow: participation in distribution (参与分配) and an enterprise debtor's
path (执转破 or the sealing order) between courts, over ``bus.distribution.events``.

**One task per distribution.** Courts key every message by ``distribution_id``, so one
distribution's state (``courtbus.domain.distribution``) lives in one task. Each message is one
domain step, taken at the bus's time; a step the rules refuse is dead-lettered with the domain's
code (``DISTRIBUTION_NOT_PRESIDING``, ``DISTRIBUTION_CLAIM_TOO_LATE``, …) and the sender gets a
``MessageRejected``. The flow adds ``DISTRIBUTION_UNKNOWN`` (a step before the opening),
``DISTRIBUTION_ALREADY_OPEN``, ``DISTRIBUTION_CLAIM_CLASS_INVALID`` (costs filed as a claim) and
``DISTRIBUTION_HANDOVER_ALREADY_REQUESTED``.

**Routing** (to ``court.<id>.inbox``, ``ce_source`` ``bus:distribution``):

- a claim from another court goes to the presiding court; its admission or rejection back to
  the claimant's court;
- the plan the bus computed (and each revision, and the finalization) to every party's court
  (the presiding court speaks for the debtor); a service to the recipient's court; objections,
  oppositions, suits and hand-over requests to the presiding court;
- on 执转破, a ``DistributionNotice`` TRANSFERRED to every court in ``courts_to_notify``, and the
  bankruptcy court's answer to them and the presiding court;
- when the plan is final or a suit runs, a ``DistributionNotice`` PAYABLE to the presiding
  court: what to pay now and what to deposit (提存, Art. 510).

**Timers.** Each distribution's timer is set to its next deadline (``next_deadline``): when a
window's last 15 days run out the bus takes ``WINDOW_CLOSED`` itself and publishes
``DistributionWindowClosed``; an overdue duty of ``pending`` (the bankruptcy court's 30-day
answer) and a hand-over not made 15 days after the request (法释〔2016〕6号 (version unverified) 第二条) send an
OVERDUE or HANDOVER_OVERDUE notice to the courts concerned and ``bus.alerts``, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from courtbus.bus.records import Output, output_of
from courtbus.bus.topics import ALERTS_TOPIC, flow_topic, inbox_topic
from courtbus.domain import distribution as dm
from courtbus.domain import distribution_plan as dp
from courtbus.domain.id_types import DebtorKind
from courtbus.domain.masking import mask_ids_in_text
from courtbus.domain.money import Money
from courtbus.errors import ValidationError
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec
from courtbus.wire import values as v
from courtbus.wire.envelope import Envelope
from courtbus.wire.events import sender_court
from services.distribution.state import Kept, dump_kept, load_kept
from services.distribution.view import (
    VIEW_RECORD,
    VIEW_TOPIC,
    allocation,
    share,
    view_payload,
    yuan,
)

log = logging.getLogger("courtbus.distribution")
EVENTS = flow_topic("distribution")
NS = "cn.court.bus.distribution."
DISTRIBUTIONS: StoreSpec[Kept] = StoreSpec("distributions", dump_kept, load_kept)
HANDOVER = "HANDOVER"  # the alerted key of an overdue hand-over

# message -> the domain step it is; the detail comes from ``_detail``
STEPS = {
    "DistributionClaimFiled": dm.Step.CLAIM_FILED,
    "DistributionClaimAdmitted": dm.Step.CLAIM_ADMITTED,
    "DistributionClaimRejected": dm.Step.CLAIM_REJECTED,
    "DistributionEnterpriseAssessed": dm.Step.ENTERPRISE_ASSESSED,
    "DistributionBankruptcyAnswered": dm.Step.BANKRUPTCY_ANSWERED,
    "DistributionPlanIssued": dm.Step.PLAN_ISSUED,
    "DistributionPlanServed": dm.Step.SERVED,
    "DistributionObjectionFiled": dm.Step.OBJECTED,
    "DistributionOppositionFiled": dm.Step.OPPOSED,
    "DistributionSuitReported": dm.Step.SUED,
    "DistributionPlanRevised": dm.Step.PLAN_REVISED,
    "DistributionSuitDecided": dm.Step.SUIT_DECIDED,
    "DistributionExecutionEnded": dm.Step.EXECUTION_ENDED,
    "DistributionPaidOut": dm.Step.PAID_OUT,
}
_PHASE = {
    dm.State.PLAN_ISSUED: dm.Phase.OBJECTION,
    dm.State.OBJECTION_WINDOW: dm.Phase.OBJECTION,
    dm.State.OPPOSITION_WINDOW: dm.Phase.OPPOSITION,
    dm.State.SUIT_WINDOW: dm.Phase.SUIT,
}


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def fen(amount: Decimal) -> int:
    """Integer fen of a decoded ``Money`` (Avro decimal(18,2))."""
    return Money.parse(amount).fen


def party(x: dict[str, Any]) -> dp.Party:
    """The domain party of a decoded ``Debtor`` record (checked: ``Party.of``)."""
    return dp.Party.of(
        DebtorKind(x["kind"]),
        str(x["name"]),
        str(x["id_number"]),
        x.get("id_type"),
        x.get("nationality"),
    )


def _court_id(x: dict[str, Any] | None) -> str | None:
    return None if x is None else str(x["court_id"])


class DistributionFlow(Flow):
    """One distribution per task: the domain's steps, routing between courts, deadlines."""

    name = "distribution"
    source = "bus:distribution"
    inputs = Inputs(topics=(EVENTS,))
    stores = (DISTRIBUTIONS,)
    timers = True

    def __init__(self, envelope: Envelope, periods: dp.Periods = dp.PERIODS) -> None:
        super().__init__(envelope)
        self.periods = periods

    # -- inputs ------------------------------------------------------------------------------

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Take the message's step; raise ``ValidationError`` with the domain's code to refuse."""
        event = record.decoded
        p = event.payload
        short = event.record.removeprefix(NS)
        court = sender_court(event.headers.source)
        did = str(p["distribution_id"])
        kept = state.table(DISTRIBUTIONS).get(did)
        if short == "DistributionOpened":
            if kept is not None:
                raise _refuse(f"distribution {did} is already open", "DISTRIBUTION_ALREADY_OPEN")
            return self._keep(state, self._open(p, state.now), ())
        if kept is None:
            raise _refuse(f"no distribution {did} is open", "DISTRIBUTION_UNKNOWN")
        if short in STEPS:
            return self._step(state, kept, short, court, p)
        return self._handover(state, kept, short, court, p)

    def _open(self, p: dict[str, Any], now: datetime) -> Kept:
        """The opening. A start of enforcement later than the bus's own time (a court's clock
        ahead of the bus's) is taken as the bus's time, since claims are timed by the bus
        (Art. 507)."""
        debtor = party(p["debtor"])
        form_text = p.get("debtor_form")
        if form_text is None and debtor.kind is not DebtorKind.PERSON:
            raise _refuse(
                "an organisation debtor needs its form (other organisation or "
                "enterprise legal person)",
                "DISTRIBUTION_DETAIL_MISSING",
            )
        form = dp.DebtorForm(form_text or "CITIZEN")
        started = min(p.get("enforcement_started_at") or p["opened_at"], now)
        d = dm.open_distribution(
            str(p["distribution_id"]), str(p["presiding_court"]["court_id"]), debtor, form, started
        )
        return Kept(d, str(p["case_number"]["text"]), p.get("sealed_at"))

    def _step(
        self, state: State, kept: Kept, short: str, court: str | None, p: dict[str, Any]
    ) -> list[Output]:
        step = STEPS[short]
        now, before = state.now, kept.d.state
        d = dm.apply(kept.d, step, court, now, self._detail(kept.d, step, court, p), self.periods)
        kept = replace(kept, d=d)
        self._check(kept.d, step, p)
        return self._keep(state, kept, self._route(kept, short, p, now), before)

    def _detail(
        self, d: dm.Distribution, step: dm.Step, court: str | None, p: dict[str, Any]
    ) -> dm.Detail:
        """What the state machine needs of the message."""
        shares = tuple((str(s["claim_id"]), fen(s["amount"])) for s in p.get("shares") or ())
        match step:
            case dm.Step.CLAIM_FILED:
                return dm.Detail(claim=self._claim(p))
            case dm.Step.CLAIM_ADMITTED | dm.Step.CLAIM_REJECTED:
                return dm.Detail(claim_id=str(p["claim_id"]))
            case dm.Step.PLAN_ISSUED:
                costs = p.get("costs")
                return dm.Detail(proceeds=fen(p["proceeds"]), costs=fen(costs) if costs else 0)
            case dm.Step.SERVED:
                return dm.Detail(recipient=party(p["recipient"]).key)
            case dm.Step.OBJECTED:
                return self._objection(d, court, p)
            case dm.Step.OPPOSED:
                return dm.Detail(recipient=party(p["opponent"]).key)
            case dm.Step.SUED:
                return dm.Detail(recipient=party(p["plaintiff"]).key)
            case dm.Step.PLAN_REVISED | dm.Step.SUIT_DECIDED:
                return dm.Detail(allocated=shares)
            case dm.Step.ENTERPRISE_ASSESSED:
                consent = p.get("consent_by")
                return dm.Detail(
                    bankruptcy_test_met=bool(p["bankruptcy_test_met"]),
                    consent_by=party(consent).key if consent else None,
                    bankruptcy_court=_court_id(p.get("bankruptcy_court")),
                )
            case dm.Step.BANKRUPTCY_ANSWERED:
                return dm.Detail(accepted=bool(p["accepted"]))
        return dm.Detail()

    def _claim(self, p: dict[str, Any]) -> dp.Claim:
        """A filed claim (Art. 506): a typed claimant, its class and rank."""
        if p.get("claimant") is None:
            raise _refuse(
                "a claim names its claimant as a typed party (kind, name, ID)",
                "DISTRIBUTION_DETAIL_MISSING",
            )
        klass = str(p["claim_class"])
        if klass == "EXECUTION_COSTS":
            raise _refuse(
                "execution costs are the plan's (its costs), not a claim",
                "DISTRIBUTION_CLAIM_CLASS_INVALID",
            )
        if klass == "PRIORITY":
            klass = str(p.get("priority_kind") or dp.ClaimClass.SECURED.value)
        return dp.Claim(
            claim_id=str(p["claim_id"]),
            claimant=party(p["claimant"]),
            court_id=str(p["claiming_court"]["court_id"]),
            amount=fen(p["amount"]),
            filed_at=p["filed_at"],
            klass=dp.ClaimClass(klass),
            rank=int(p.get("rank") or 0),
            has_title=bool(p.get("has_title", True)),
            seal_order=p.get("seal_order"),
            case_number=str(p["case_number"]["text"]),
        )

    def _objection(self, d: dm.Distribution, court: str | None, p: dict[str, Any]) -> dm.Detail:
        """Who objects (the named party, else the one creditor of the objecting court) and the
        part of ``claim_id``'s allocation disputed (the whole of it if not given)."""
        if p.get("objector") is not None:
            who = party(p["objector"]).key
        else:
            own = {c.claimant.key for c in d.admitted() if c.court_id == court}
            if len(own) != 1:
                raise _refuse(
                    f"court {court} speaks for {len(own)} creditors: name the objector",
                    "DISTRIBUTION_NOT_A_RECIPIENT",
                )
            (who,) = own
        claim_id = str(p["claim_id"])
        amount = p.get("disputed_amount")
        if amount is None:
            if d.plan is None:
                raise _refuse("no plan on record", "DISTRIBUTION_NO_PLAN")
            disputed = d.plan.allocation(claim_id).allocated
        else:
            disputed = fen(amount)
        return dm.Detail(recipient=who, disputes=(dp.Dispute(claim_id, disputed),))

    def _check(self, d: dm.Distribution, step: dm.Step, p: dict[str, Any]) -> None:
        """What the message says beyond the step, checked against what the bus computed."""
        if step is dm.Step.CLAIM_ADMITTED:
            claim = d.filing(str(p["claim_id"])).claim
            if fen(p["admitted_amount"]) != claim.amount:
                raise _refuse(
                    f"claim {claim.claim_id} asks {claim.amount} fen; it is admitted as filed",
                    "DISTRIBUTION_CLAIM_AMOUNT_INVALID",
                )
        if step is dm.Step.PLAN_ISSUED and p["allocations"] and d.plan is not None:
            theirs = {str(a["claim_id"]): fen(a["allocated"]) for a in p["allocations"]}
            ours = {a.claim_id: a.allocated for a in d.plan.allocations}
            if theirs != ours:
                raise _refuse(
                    f"the plan's allocations are not Art. 508's: the bus computes {ours} fen",
                    "DISTRIBUTION_PLAN_INVALID",
                )

    # -- routing -----------------------------------------------------------------------------

    def _route(self, kept: Kept, short: str, p: dict[str, Any], now: datetime) -> list[Output]:
        d, step = kept.d, STEPS[short]
        presiding = [d.presiding_court]
        match step:
            case dm.Step.CLAIM_FILED:
                claim = d.filings[-1].claim
                to = presiding if claim.court_id != d.presiding_court else []
                return self._send(short, p, to)
            case dm.Step.CLAIM_ADMITTED | dm.Step.CLAIM_REJECTED:
                return self._send(short, p, [d.filing(str(p["claim_id"])).claim.court_id])
            case dm.Step.PLAN_ISSUED:
                return self._send("DistributionPlanIssued", self._plan(d, p, now), courts(d))
            case dm.Step.SERVED:
                return self._send(short, p, [d.court_of(party(p["recipient"]).key) or ""])
            case dm.Step.OBJECTED | dm.Step.OPPOSED | dm.Step.SUED:
                return self._send(short, p, presiding)
            case dm.Step.PLAN_REVISED | dm.Step.SUIT_DECIDED:
                return self._send(short, self._revision(d, p), courts(d))
            case dm.Step.ENTERPRISE_ASSESSED:
                return self._transfer(d, now)
            case dm.Step.BANKRUPTCY_ANSWERED:
                e = d.enterprise
                notify = [*presiding, *(e.courts_to_notify if e else ())]
                sender = _court_id(p.get("bankruptcy_court"))
                return self._send(short, p, [c for c in notify if c != sender])
            case dm.Step.PAID_OUT:
                return self._send(short, p, courts(d)[1:])
        return []

    def _send(self, short: str, payload: dict[str, Any], to: list[str]) -> list[Output]:
        """``payload`` as the bus's ``short`` record to each court of ``to`` (once each)."""
        targets = [c for c in dict.fromkeys(to) if c]
        if not targets:
            return []
        built = self.envelope.build(
            inbox_topic("court", targets[0]), NS + short, payload, self.source
        )
        return [output_of(built, inbox_topic("court", c)) for c in targets]

    def _plan(self, d: dm.Distribution, p: dict[str, Any], now: datetime) -> dict[str, Any]:
        plan = d.plan
        if plan is None:  # PLAN_ISSUED always leaves one
            raise _refuse("no plan on record", "DISTRIBUTION_NO_PLAN")
        return {
            "distribution_id": d.distribution_id,
            "plan_version": plan.version,
            "issued_at": now,
            "proceeds": yuan(plan.proceeds),
            "allocations": [allocation(a) for a in plan.allocations],
            "objection_deadline": p["objection_deadline"],
            "bankruptcy_recommended": False,
            "costs": yuan(plan.costs),
            "costs_paid": yuan(plan.costs_paid),
            "surplus": yuan(plan.surplus),
            "ordinary_order": plan.order.value,
        }

    def _revision(self, d: dm.Distribution, p: dict[str, Any]) -> dict[str, Any]:
        plan = d.plan
        if plan is None:
            raise _refuse("no plan on record", "DISTRIBUTION_NO_PLAN")
        return p | {
            "shares": [share(a.claim_id, a.allocated) for a in plan.allocations],
            "plan_version": plan.version,
            "surplus": yuan(plan.surplus),
        }

    def _transfer(self, d: dm.Distribution, now: datetime) -> list[Output]:
        """执转破: every court involved is told (法发〔2017〕2号 (version unverified) 第8条)."""
        e = d.enterprise
        if e is None or not e.transfer:
            return []
        detail = (
            f"distribution {d.distribution_id}: enforcement against {d.debtor.name} is "
            f"suspended and the case goes to court {e.bankruptcy_court} ({dp.ART_511}); "
            f"stop enforcing against this debtor ({dp.NOTIFY_ALL_COURTS})"
        )
        return [
            self._notice(d, c, "TRANSFERRED", now, detail, subject=e.bankruptcy_court)
            for c in e.courts_to_notify
        ]

    def _notice(
        self,
        d: dm.Distribution,
        court: str,
        kind: str,
        now: datetime,
        detail: str,
        *,
        due: datetime | None = None,
        subject: str | None = None,
        paid: tuple[tuple[str, int], ...] = (),
        held: tuple[tuple[str, int], ...] = (),
    ) -> Output:
        payload = {
            "distribution_id": d.distribution_id,
            "court": v.court(court),
            "notice": kind,
            "due_at": due,
            "sent_at": now,
            "subject": subject,
            "paid": [share(c, a) for c, a in paid],
            "held": [share(c, a) for c, a in held],
            "detail": mask_ids_in_text(detail),
        }
        built = self.envelope.build(
            inbox_topic("court", court), NS + "DistributionNotice", payload, self.source
        )
        return output_of(built)

    # -- hand-over of disposal (法释〔2016〕6号) ------------------------------------------

    def _handover(
        self, state: State, kept: Kept, short: str, court: str | None, p: dict[str, Any]
    ) -> list[Output]:
        d, now = kept.d, state.now
        if short == "DistributionHandoverRequested":
            if kept.handover_requested_at is not None:
                raise _refuse(
                    f"court {kept.handover_by} asked on {kept.handover_requested_at.isoformat()}",
                    "DISTRIBUTION_HANDOVER_ALREADY_REQUESTED",
                )
            claim = d.filing(str(p["claim_id"]))
            if claim.claim.court_id != court:
                raise _refuse(
                    f"claim {claim.claim.claim_id} is not court {court}'s",
                    "DISTRIBUTION_WRONG_COURT",
                )
            if kept.sealed_at is None:
                raise _refuse(
                    "the opening did not say when the asset was first sealed",
                    "DISTRIBUTION_DETAIL_MISSING",
                )
            priority = (
                claim.claim.klass is not dp.ClaimClass.ORDINARY
                and claim.status is not dm.ClaimStatus.REJECTED
            )
            dp.check_handover_request(
                kept.sealed_at, now, kept.auction_published, priority, self.periods
            )
            kept = replace(kept, handover_by=court, handover_requested_at=now)
            return self._keep(state, kept, self._send(short, p, [d.presiding_court]))
        if court != d.presiding_court:
            raise _refuse(
                f"{short} must come from the presiding (first sealing) court "
                f"{d.presiding_court}, not {court}",
                "DISTRIBUTION_NOT_PRESIDING",
            )
        if short == "DistributionAuctionPublished":
            return self._keep(state, replace(kept, auction_published=True), ())
        asked_by = kept.handover_by
        if asked_by is None or kept.handed_over:
            raise _refuse("no hand-over is asked", "DISTRIBUTION_ILLEGAL_TRANSITION")
        kept = replace(kept, handed_over=True)
        return self._keep(state, kept, self._send(short, p, [asked_by]))

    # -- keeping, timers ---------------------------------------------------------------------

    def _keep(
        self,
        state: State,
        kept: Kept,
        outputs: Iterable[Output],
        before: dm.State | None = None,
    ) -> list[Output]:
        """Store ``kept`` and set its timer; on reaching FINALIZED or IN_SUIT (from ``before``),
        add the finalization and what to pay and deposit; publish the view record."""
        state.table(DISTRIBUTIONS).put(kept.d.distribution_id, kept)
        due = self._next(kept)
        if due is None:
            state.timers.cancel(kept.d.distribution_id)
        else:
            state.timers.schedule(kept.d.distribution_id, due)
        out = list(outputs)
        if before is not None and kept.d.state is not before:
            out += self._payable(kept.d, state.now)
        view = view_payload(kept.d, kept.case_number, state.now, kept.d.events)
        out.append(
            output_of(
                self.envelope.build(
                    VIEW_TOPIC, VIEW_RECORD, view, self.source, key=kept.d.distribution_id
                )
            )
        )
        return out

    def _payable(self, d: dm.Distribution, now: datetime) -> list[Output]:
        """The finalization to every party's court; to the presiding court, what to pay now and
        what to deposit while a suit runs (Art. 510)."""
        pay = dm.payable(d)
        if pay is None or d.plan is None:
            return []
        out: list[Output] = []
        if d.state is dm.State.FINALIZED:
            final = {
                "distribution_id": d.distribution_id,
                "plan_version": d.plan.version,
                "finalized_at": now,
            }
            out += self._send("DistributionFinalized", final, courts(d))
        paid = sum(a for _, a in pay.paid)
        detail = (
            f"distribution {d.distribution_id} ({d.state.value}): pay {paid} "
            f"fen to claims, {pay.costs} fen of costs, {pay.surplus} fen back to the debtor; "
            f"deposit {pay.deposit} fen until the suit ends ({dp.ART_510})"
        )
        out.append(
            self._notice(d, d.presiding_court, "PAYABLE", now, detail, paid=pay.paid, held=pay.held)
        )
        return out

    def _next(self, kept: Kept) -> datetime | None:
        """When the timer fires: the next window's end or deadline not yet alerted."""
        far = datetime.max.replace(tzinfo=kept.d.started_at.tzinfo)
        dues = [
            x.due
            for x in dm.pending(kept.d, far, self.periods)
            if x.due is not None
            and (x.duty is dm.Duty.CLOSE_WINDOW or alert_key(x) not in kept.alerted)
        ]
        if kept.handover_requested_at and not kept.handed_over and HANDOVER not in kept.alerted:
            dues.append(dp.handover_due(kept.handover_requested_at, self.periods))
        return min(dues, default=None)

    def on_tick(self, now: datetime, state: State) -> list[Output]:
        """Windows to close, overdue duties and hand-overs whose time has come."""
        outputs: list[Output] = []
        table = state.table(DISTRIBUTIONS)
        for due in state.timers.due_entries(table, now):
            kept = due.value
            before = kept.d.state
            out: list[Output] = []
            for x in dm.pending(kept.d, now, self.periods):
                if not x.overdue:
                    continue
                if x.duty is dm.Duty.CLOSE_WINDOW:
                    kept, closed = self._close(kept, now)
                    out += closed
                elif alert_key(x) not in kept.alerted:
                    kept = replace(kept, alerted=(*kept.alerted, alert_key(x)))
                    out += self._overdue(kept.d, x, now)
            late = kept.handover_requested_at
            if (
                late
                and HANDOVER not in kept.alerted
                and dp.handover_overdue(late, now, kept.handed_over, self.periods)
            ):
                kept = replace(kept, alerted=(*kept.alerted, HANDOVER))
                out += self._handover_overdue(kept, late, now)
            outputs += self._keep(state, kept, out, before)
        return outputs

    def _close(self, kept: Kept, now: datetime) -> tuple[Kept, list[Output]]:
        """The bus closes a window whose last 15 days ran out (Arts. 509-510)."""
        d = kept.d
        phase = _PHASE[d.state]
        responded = any(r.phase is phase for r in d.responses)
        d = dm.apply(d, dm.Step.WINDOW_CLOSED, None, now, periods=self.periods)
        payload = {
            "distribution_id": d.distribution_id,
            "phase": phase.value,
            "responded": responded,
            "next_state": d.state.value,
            "closed_at": now,
        }
        record = NS + "DistributionWindowClosed"
        built = self.envelope.build(EVENTS, record, payload, self.source)
        log.info("distribution %s: %s window closed, now %s", d.distribution_id, phase, d.state)
        return replace(kept, d=d), [
            output_of(built),
            *self._send("DistributionWindowClosed", payload, courts(d)),
        ]

    def _overdue(self, d: dm.Distribution, x: dm.Pending, now: datetime) -> list[Output]:
        """A duty past its deadline (the bankruptcy court's answer, Art. 512): to the court that
        owes it, the presiding court and bus.alerts."""
        source = f" ({dp.ART_512})" if x.duty is dm.Duty.ANSWER_BANKRUPTCY else ""
        when = x.due.isoformat() if x.due else "-"
        detail = (
            f"distribution {d.distribution_id}: {x.duty.value} by the {x.actor.value} "
            f"{x.subject or ''} was due at {when}{source}"
        )
        to = [c for c in dict.fromkeys([x.subject or "", d.presiding_court]) if c.isdigit()]
        return self._alerting(d, to, "OVERDUE", now, detail, x.due, x.subject)

    def _handover_overdue(self, kept: Kept, requested: datetime, now: datetime) -> list[Output]:
        """The first sealing court did not hand the disposal over within 15 days."""
        d = kept.d
        due = dp.handover_due(requested, self.periods)
        detail = (
            f"distribution {d.distribution_id}: court {kept.handover_by} asked court "
            f"{d.presiding_court} for the disposal on {requested.isoformat()}; not handed "
            f"over by {due.isoformat()} ({dp.HANDOVER_REPLY})"
        )
        to = [d.presiding_court, kept.handover_by or ""]
        return self._alerting(d, to, "HANDOVER_OVERDUE", now, detail, due, kept.handover_by)

    def _alerting(
        self,
        d: dm.Distribution,
        to: list[str],
        kind: str,
        now: datetime,
        detail: str,
        due: datetime | None,
        subject: str | None,
    ) -> list[Output]:
        courts_ = [c for c in dict.fromkeys(to) if c]
        out = [self._notice(d, c, kind, now, detail, due=due, subject=subject) for c in courts_]
        log.info("distribution %s: %s", d.distribution_id, kind)
        first = out[0]
        return [*out, Output(ALERTS_TOPIC, first.key, first.value, first.headers)]


def courts(d: dm.Distribution) -> list[str]:
    """Every party's court: the presiding court (for the debtor), then the admitted claimants'."""
    return list(dict.fromkeys([d.presiding_court, *(c.court_id for c in d.admitted())]))


def alert_key(x: dm.Pending) -> str:
    """How ``Kept.alerted`` names an overdue duty."""
    return f"{x.duty.value}:{x.subject or ''}"
