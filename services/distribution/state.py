"""The distribution flow's stored value, as JSON: the domain's ``Distribution`` with what the
flow adds (the case, the first seal and the hand-over, the overdue notices already sent).
Imports only the domain (and the view's Debtor form of a party, itself pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from courtbus.domain import distribution as dm
from courtbus.domain import distribution_plan as dp
from courtbus.domain.id_types import DebtorKind
from services.distribution.view import debtor


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _d(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class Kept:
    """A distribution as the service keeps it.

    ``sealed_at`` is the first seal of the asset (法释〔2016〕6号); ``handover_by`` the
    priority creditor's court that asked for the disposal at ``handover_requested_at``;
    ``alerted`` the overdue notices already sent (``"<duty>:<subject>"``), so each goes once.
    """

    d: dm.Distribution
    case_number: str
    sealed_at: datetime | None = None
    auction_published: bool = False
    handover_by: str | None = None
    handover_requested_at: datetime | None = None
    handed_over: bool = False
    alerted: tuple[str, ...] = ()


def _party_of(x: dict[str, Any]) -> dp.Party:
    return dp.Party(
        DebtorKind(x["kind"]), x["name"], x["id_number"], x.get("id_type"), x.get("nationality")
    )


def _claim(c: dp.Claim) -> dict[str, Any]:
    return {
        "claim_id": c.claim_id,
        "claimant": debtor(c.claimant),
        "court_id": c.court_id,
        "amount": c.amount,
        "filed_at": _t(c.filed_at),
        "klass": c.klass.value,
        "rank": c.rank,
        "has_title": c.has_title,
        "seal_order": c.seal_order,
        "case_number": c.case_number,
    }


def _claim_of(x: dict[str, Any]) -> dp.Claim:
    return dp.Claim(
        x["claim_id"],
        _party_of(x["claimant"]),
        x["court_id"],
        int(x["amount"]),
        _at(x["filed_at"]),
        dp.ClaimClass(x["klass"]),
        int(x["rank"]),
        bool(x["has_title"]),
        x["seal_order"],
        x["case_number"],
    )


def _plan(p: dp.Plan | None) -> dict[str, Any] | None:
    if p is None:
        return None
    allocations = [
        [a.claim_id, a.klass.value, a.rank, a.claimed, a.allocated] for a in p.allocations
    ]
    return {
        "proceeds": p.proceeds,
        "costs": p.costs,
        "costs_paid": p.costs_paid,
        "allocations": allocations,
        "surplus": p.surplus,
        "order": p.order.value,
        "version": p.version,
    }


def _plan_of(x: dict[str, Any] | None) -> dp.Plan | None:
    if x is None:
        return None
    allocations = tuple(
        dp.Allocation(cid, dp.ClaimClass(k), int(r), int(c), int(a))
        for cid, k, r, c, a in x["allocations"]
    )
    return dp.Plan(
        int(x["proceeds"]),
        int(x["costs"]),
        int(x["costs_paid"]),
        allocations,
        int(x["surplus"]),
        dp.OrdinaryOrder(x["order"]),
        int(x["version"]),
    )


def _enterprise(e: dp.EnterpriseDecision | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "transfer": e.transfer,
        "bankruptcy_court": e.bankruptcy_court,
        "courts_to_notify": list(e.courts_to_notify),
        "decided_at": _t(e.decided_at),
        "accepted": e.accepted,
    }


def _enterprise_of(x: dict[str, Any] | None) -> dp.EnterpriseDecision | None:
    if x is None:
        return None
    return dp.EnterpriseDecision(
        bool(x["transfer"]),
        x["bankruptcy_court"],
        tuple(x["courts_to_notify"]),
        _at(x["decided_at"]),
        x["accepted"],
    )


def dump_kept(kept: Kept) -> bytes:
    """Serialise for the state topic."""
    d = kept.d
    body = {
        "distribution_id": d.distribution_id,
        "presiding_court": d.presiding_court,
        "debtor": debtor(d.debtor),
        "debtor_form": d.debtor_form.value,
        "procedure": d.procedure.value,
        "started_at": _t(d.started_at),
        "state": d.state.value,
        "filings": [[_claim(f.claim), f.status.value] for f in d.filings],
        "plan": _plan(d.plan),
        "plans_issued": d.plans_issued,
        "receipts": [[r.phase.value, r.recipient, _t(r.at)] for r in d.receipts],
        "responses": [
            [r.phase.value, r.recipient, _t(r.at), [[q.claim_id, q.amount] for q in r.disputes]]
            for r in d.responses
        ],
        "enterprise": _enterprise(d.enterprise),
        "ended_at": _t(d.ended_at),
        "events": d.events,
    }
    return json.dumps(
        {
            "d": body,
            "case_number": kept.case_number,
            "sealed_at": _t(kept.sealed_at),
            "auction_published": kept.auction_published,
            "handover_by": kept.handover_by,
            "handover_requested_at": _t(kept.handover_requested_at),
            "handed_over": kept.handed_over,
            "alerted": list(kept.alerted),
        },
        ensure_ascii=False,
    ).encode()


def load_kept(data: bytes) -> Kept:
    """Read a stored distribution."""
    raw: dict[str, Any] = json.loads(data)
    x = raw["d"]
    d = dm.Distribution(
        distribution_id=x["distribution_id"],
        presiding_court=x["presiding_court"],
        debtor=_party_of(x["debtor"]),
        debtor_form=dp.DebtorForm(x["debtor_form"]),
        procedure=dp.Procedure(x["procedure"]),
        started_at=_at(x["started_at"]),
        state=dm.State(x["state"]),
        filings=tuple(dm.Filing(_claim_of(c), dm.ClaimStatus(s)) for c, s in x["filings"]),
        plan=_plan_of(x["plan"]),
        plans_issued=int(x["plans_issued"]),
        receipts=tuple(dm.Receipt(dm.Phase(p), k, _at(t)) for p, k, t in x["receipts"]),
        responses=tuple(
            dm.Response(dm.Phase(p), k, _at(t), tuple(dp.Dispute(c, int(a)) for c, a in q))
            for p, k, t, q in x["responses"]
        ),
        enterprise=_enterprise_of(x["enterprise"]),
        ended_at=_d(x["ended_at"]),
        events=int(x["events"]),
    )
    return Kept(
        d,
        raw["case_number"],
        _d(raw["sealed_at"]),
        bool(raw["auction_published"]),
        raw["handover_by"],
        _d(raw["handover_requested_at"]),
        bool(raw["handed_over"]),
        tuple(raw["alerted"]),
    )
