"""Distributions (参与分配) in the read model: the rows readers get, and the functions the writer
and the queries run inside their session.

A distribution comes from the view ``distribution.cases`` (``DistributionView``): a record with
a higher ``version`` replaces the row, its claims, objections and deposits; each plan version
is stored the first time it is seen and kept when the plan is revised. An older or equal
record changes nothing (a replay is a no-op).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from courtbus.store.jsonify import to_json
from courtbus.store.models import (
    AllocationRecord,
    DepositRecord,
    DistributionClaimRecord,
    DistributionPlanRecord,
    DistributionRecord,
    ObjectionRecord,
)
from courtbus.store.region import Region
from courtbus.store.upsert import clear_children, pick, put_row


@dataclass(frozen=True)
class ClaimRow:
    """A filed claim: the claimant's court and case, its class and rank, the amount claimed
    and the presiding court's decision (FILED, ADMITTED or REJECTED). ``claimant_id`` is in
    full: mask it for display."""

    claim_id: str
    court_id: str
    case_number: str | None
    claimant_name: str
    claimant_id: str
    claim_class: str
    priority_kind: str | None
    rank: int
    claimed: Decimal
    status: str
    filed_at: datetime


@dataclass(frozen=True)
class AllocationRow:
    """What one claim gets under one plan version, in payment order."""

    claim_id: str
    claim_class: str
    priority_kind: str | None
    rank: int
    claimed: Decimal
    allocated: Decimal


@dataclass(frozen=True)
class PlanRow:
    """One version of the plan: ``costs_paid + sum(allocated) + surplus == proceeds``."""

    version: int
    proceeds: Decimal
    costs: Decimal
    costs_paid: Decimal
    surplus: Decimal
    ordinary_order: str
    seen_at: datetime
    allocations: tuple[AllocationRow, ...]


@dataclass(frozen=True)
class ObjectionRow:
    """An objection, opposition or suit (``phase``) by the party a court speaks for."""

    phase: str
    court_id: str | None
    at: datetime
    disputes: tuple[tuple[str, Decimal], ...]  # (claim id, disputed yuan)


@dataclass(frozen=True)
class DistributionRow:
    """A distribution with its claims, every plan version (oldest first), objections and what
    is deposited (提存) while a suit runs. ``debtor_id`` in full: mask it for display."""

    distribution_id: str
    state: str
    presiding_court: str
    case_number: str
    debtor_name: str
    debtor_id: str
    debtor_form: str
    started_at: datetime
    ended_at: datetime | None
    transferred_to: str | None
    current_plan: int | None
    version: int
    updated_at: datetime
    claims: tuple[ClaimRow, ...] = ()
    plans: tuple[PlanRow, ...] = ()
    objections: tuple[ObjectionRow, ...] = ()
    deposits: tuple[tuple[str, Decimal], ...] = ()

    def plan(self, version: int | None = None) -> PlanRow | None:
        """Plan ``version`` (default: the current one), or None."""
        wanted = self.current_plan if version is None else version
        return next((p for p in self.plans if p.version == wanted), None)


def put_distribution(session: Session, view: dict[str, Any], seen_at: datetime) -> bool:
    """Upsert one decoded ``DistributionView``; False if not newer than the stored one."""
    did = str(view["distribution_id"])
    found = session.get(DistributionRecord, did)
    if found is not None and found.version >= int(view["version"]):
        return False
    plan = view["plan"]
    values = {
        "distribution_id": did,
        "debtor_name": view["debtor"]["name"],
        "debtor_id": view["debtor"]["id_number"],
        "current_plan": plan["version"] if plan else None,
        **pick(view, "state", "presiding_court", "case_number", "debtor_form", "started_at"),
        **pick(view, "ended_at", "transferred_to", "version", "updated_at"),
    }
    put_row(session, DistributionRecord, found, values)
    clear_children(
        session, (DistributionClaimRecord, ObjectionRecord, DepositRecord), "distribution_id", did
    )
    session.add_all(
        DistributionClaimRecord(
            distribution_id=did,
            claimant_name=c["claimant"]["name"],
            claimant_id=c["claimant"]["id_number"],
            **pick(c, "claim_id", "court_id", "case_number", "claim_class", "priority_kind"),
            **pick(c, "rank", "claimed", "status", "filed_at"),
        )
        for c in view["claims"]
    )
    session.add_all(
        ObjectionRecord(
            distribution_id=did,
            seq=n,
            disputes=to_json(r["disputes"]),
            **pick(r, "phase", "court_id", "at"),
        )
        for n, r in enumerate(view["responses"], 1)
    )
    session.add_all(
        DepositRecord(distribution_id=did, **pick(s, "claim_id", "amount"))
        for s in view["deposited"]
    )
    if plan and session.get(DistributionPlanRecord, (did, plan["version"])) is None:
        session.add(
            DistributionPlanRecord(
                distribution_id=did,
                plan_version=plan["version"],
                seen_at=seen_at,
                **pick(plan, "proceeds", "costs", "costs_paid", "surplus", "ordinary_order"),
            )
        )
        session.flush()
        session.add_all(
            AllocationRecord(
                distribution_id=did,
                plan_version=plan["version"],
                position=n,
                claimed=a["admitted"],
                **pick(a, "claim_id", "claim_class", "priority_kind", "rank", "allocated"),
            )
            for n, a in enumerate(plan["allocations"], 1)
        )
    return True


def find_distributions(
    session: Session,
    *,
    court: str | None = None,
    region: Region | None = None,
    states: tuple[str, ...] | None = None,
    started_before: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[DistributionRow]:
    """Distributions, newest change first; ``court``: presiding, or a claimant's court;
    ``region`` likewise for a region's courts; ``states``: in one of those states; ``limit``
    rows from ``offset``."""
    query = distributions_query(court, region, states, started_before)
    query = query.order_by(DistributionRecord.updated_at.desc(), DistributionRecord.distribution_id)
    query = query.offset(offset or None).limit(limit)
    return [_row(session, r) for r in session.scalars(query)]


def distributions_query(
    court: str | None,
    region: Region | None = None,
    states: tuple[str, ...] | None = None,
    started_before: datetime | None = None,
) -> Select[Any]:
    """The distributions that match the filters, unordered (listed and counted alike)."""
    query = select(DistributionRecord)
    if started_before is not None:
        query = query.where(DistributionRecord.started_at < started_before)
    if states is not None:
        query = query.where(DistributionRecord.state.in_(states))
    if (
        region is not None
        and (where := region.clause(DistributionRecord.presiding_court)) is not None
    ):
        claimed_here = region.clause(DistributionClaimRecord.court_id)
        assert claimed_here is not None
        claims = select(DistributionClaimRecord.distribution_id).where(claimed_here)
        query = query.where(where | DistributionRecord.distribution_id.in_(claims))
    if court is not None:
        claimed = select(DistributionClaimRecord.distribution_id).where(
            DistributionClaimRecord.court_id == court
        )
        query = query.where(
            (DistributionRecord.presiding_court == court)
            | DistributionRecord.distribution_id.in_(claimed)
        )
    return query


def find_distribution(session: Session, distribution_id: str) -> DistributionRow | None:
    """One distribution with everything under it, or None."""
    found = session.get(DistributionRecord, distribution_id)
    return None if found is None else _row(session, found)


def _row(session: Session, r: DistributionRecord) -> DistributionRow:
    did = r.distribution_id
    claims = session.scalars(
        select(DistributionClaimRecord)
        .where(DistributionClaimRecord.distribution_id == did)
        .order_by(DistributionClaimRecord.filed_at, DistributionClaimRecord.claim_id)
    )
    plans = session.scalars(
        select(DistributionPlanRecord)
        .where(DistributionPlanRecord.distribution_id == did)
        .order_by(DistributionPlanRecord.plan_version)
    )
    objections = session.scalars(
        select(ObjectionRecord)
        .where(ObjectionRecord.distribution_id == did)
        .order_by(ObjectionRecord.seq)
    )
    deposits = session.scalars(
        select(DepositRecord)
        .where(DepositRecord.distribution_id == did)
        .order_by(DepositRecord.claim_id)
    )
    return DistributionRow(
        did,
        r.state,
        r.presiding_court,
        r.case_number,
        r.debtor_name,
        r.debtor_id,
        r.debtor_form,
        r.started_at,
        r.ended_at,
        r.transferred_to,
        r.current_plan,
        r.version,
        r.updated_at,
        claims=tuple(
            ClaimRow(
                c.claim_id,
                c.court_id,
                c.case_number,
                c.claimant_name,
                c.claimant_id,
                c.claim_class,
                c.priority_kind,
                c.rank,
                c.claimed,
                c.status,
                c.filed_at,
            )
            for c in claims
        ),
        plans=tuple(
            PlanRow(
                p.plan_version,
                p.proceeds,
                p.costs,
                p.costs_paid,
                p.surplus,
                p.ordinary_order,
                p.seen_at,
                _allocations(session, did, p.plan_version),
            )
            for p in plans
        ),
        objections=tuple(
            ObjectionRow(
                o.phase,
                o.court_id,
                o.at,
                tuple((d["claim_id"], Decimal(d["amount"])) for d in json.loads(o.disputes)),
            )
            for o in objections
        ),
        deposits=tuple((d.claim_id, d.amount) for d in deposits),
    )


def _allocations(session: Session, did: str, version: int) -> tuple[AllocationRow, ...]:
    found = session.scalars(
        select(AllocationRecord)
        .where(AllocationRecord.distribution_id == did, AllocationRecord.plan_version == version)
        .order_by(AllocationRecord.position)
    )
    return tuple(
        AllocationRow(a.claim_id, a.claim_class, a.priority_kind, a.rank, a.claimed, a.allocated)
        for a in found
    )
