"""The distribution flow's view ``distribution.cases`` (compacted, key: distribution id): one
``DistributionView`` record per change, for the read model (the projector), never sent to
agencies. Also the wire forms of the plan's money (``yuan``, ``share``, ``allocation``) that the
flow's messages share with the view. Imports only the domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from courtbus.bus.topics import DISTRIBUTION_VIEW
from courtbus.domain import distribution as dm
from courtbus.domain import distribution_plan as dp
from courtbus.domain.money import Money

VIEW_TOPIC = DISTRIBUTION_VIEW
VIEW_RECORD = "cn.court.bus.distribution.DistributionView"


def yuan(amount: int) -> Decimal:
    """The ``Money`` value of ``amount`` fen."""
    return Money(amount).yuan


def share(claim_id: str, amount: int) -> dict[str, Any]:
    """A ``Share`` record."""
    return {"claim_id": claim_id, "amount": yuan(amount)}


def _priority(klass: dp.ClaimClass) -> tuple[str, str | None]:
    ordinary = klass is dp.ClaimClass.ORDINARY
    return ("ORDINARY", None) if ordinary else ("PRIORITY", klass.value)


def allocation(a: dp.Allocation) -> dict[str, Any]:
    """An ``Allocation`` record of the plan."""
    claim_class, kind = _priority(a.klass)
    return {
        "claim_id": a.claim_id,
        "claim_class": claim_class,
        "admitted": yuan(a.claimed),
        "allocated": yuan(a.allocated),
        "priority_kind": kind,
        "rank": a.rank,
    }


def debtor(p: dp.Party) -> dict[str, Any]:
    """A ``Debtor`` record of a party."""
    return {
        "kind": p.kind.value,
        "name": p.name,
        "id_number": p.id_number,
        "id_type": p.id_type,
        "nationality": p.nationality,
    }


def view_payload(
    d: dm.Distribution, case_number: str, now: datetime, version: int
) -> dict[str, Any]:
    """The ``DistributionView`` of ``d`` at ``now``: its claims, the current plan, every
    objection, opposition and suit, and what is payable and deposited (Art. 510)."""
    claims = []
    for f in d.filings:
        c = f.claim
        claim_class, kind = _priority(c.klass)
        claims.append(
            {
                "claim_id": c.claim_id,
                "court_id": c.court_id,
                "case_number": c.case_number,
                "claimant": debtor(c.claimant),
                "claim_class": claim_class,
                "priority_kind": kind,
                "rank": c.rank,
                "claimed": yuan(c.amount),
                "status": f.status.value,
                "filed_at": c.filed_at,
            }
        )
    plan = None
    if d.plan is not None:
        p = d.plan
        plan = {
            "version": p.version,
            "proceeds": yuan(p.proceeds),
            "costs": yuan(p.costs),
            "costs_paid": yuan(p.costs_paid),
            "surplus": yuan(p.surplus),
            "ordinary_order": p.order.value,
            "allocations": [allocation(a) for a in p.allocations],
        }
    responses = [
        {
            "phase": r.phase.value,
            "court_id": d.court_of(r.recipient),
            "at": r.at,
            "disputes": [share(x.claim_id, x.amount) for x in r.disputes],
        }
        for r in d.responses
    ]
    pay = dm.payable(d)
    e = d.enterprise
    return {
        "distribution_id": d.distribution_id,
        "state": d.state.value,
        "presiding_court": d.presiding_court,
        "case_number": case_number,
        "debtor": debtor(d.debtor),
        "debtor_form": d.debtor_form.value,
        "started_at": d.started_at,
        "ended_at": d.ended_at,
        "claims": claims,
        "plan": plan,
        "responses": responses,
        "paid": [share(c, a) for c, a in pay.paid] if pay else [],
        "deposited": [share(c, a) for c, a in pay.held] if pay else [],
        "transferred_to": e.bankruptcy_court if e is not None and e.transfer else None,
        "updated_at": now,
        "version": version,
    }
