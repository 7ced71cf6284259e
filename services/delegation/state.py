"""The delegation flow's stored value: a delegation and its cap reservation, as JSON.

Fields added later (asset kind, materials, escalation, measure, a deadline's provisional
reason, the kind) are optional when read, so
entries stored by an older version still load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from courtbus.domain.delegation import (
    Deadline,
    DeadlineKind,
    Delegation,
    Kind,
    Measure,
    MeasureStatus,
    State,
)


@dataclass(frozen=True, slots=True)
class Tracked:
    """A delegation plus what the service needs besides the state machine."""

    delegation: Delegation
    cap_keys: tuple[str, ...] = ()  # deduction-cap counters this delegation reserved against
    reserved_fen: int = 0
    cap_route: str | None = None  # key of the caps task holding those counters (debtor:year)
    pending: dict[str, Any] | None = None  # the request, while its cap reservation is asked


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _measure(raw: dict[str, Any] | None) -> Measure | None:
    if raw is None:
        return None
    return Measure(
        datetime.fromisoformat(raw["until"]), MeasureStatus(raw["status"]), int(raw["renewals"])
    )


def dump(tracked: Tracked) -> bytes:
    """Serialise for the state topic."""
    x = tracked.delegation
    d = {  # by hand: dataclasses.asdict deep-copies and took most of a request's CPU time
        "delegation_id": x.delegation_id,
        "requesting_court": x.requesting_court,
        "executing_court": x.executing_court,
        "matter": x.matter,
        "state": x.state.value,
        "requested_at": x.requested_at.isoformat(),
        "delivered_at": x.delivered_at.isoformat() if x.delivered_at else None,
        "reported": x.reported,
        "deadlines": [
            {
                "kind": dl.kind.value,
                "due": dl.due.isoformat(),
                "warned": dl.warned,
                "overdue_sent": dl.overdue_sent,
                "provisional": dl.provisional,
            }
            for dl in x.deadlines
        ],
        "events": x.events,
        "asset_kind": x.asset_kind,
        "resume_state": x.resume_state.value if x.resume_state else None,
        "escalated": x.escalated,
        "measure": None
        if x.measure is None
        else {
            "until": x.measure.until.isoformat(),
            "status": x.measure.status.value,
            "renewals": x.measure.renewals,
        },
        "kind": x.kind.value if x.kind else None,
    }
    return json.dumps(
        {
            "delegation": d,
            "cap_keys": list(tracked.cap_keys),
            "reserved_fen": tracked.reserved_fen,
            "cap_route": tracked.cap_route,
            "pending": tracked.pending,
        }
    ).encode()


def load(data: bytes) -> Tracked:
    """Read a state record."""
    raw: dict[str, Any] = json.loads(data)
    d = raw["delegation"]
    delegation = Delegation(
        delegation_id=d["delegation_id"],
        requesting_court=d["requesting_court"],
        executing_court=d["executing_court"],
        matter=d["matter"],
        state=State(d["state"]),
        requested_at=datetime.fromisoformat(d["requested_at"]),
        delivered_at=_time(d["delivered_at"]),
        reported=d["reported"],
        events=d["events"],
        deadlines=tuple(
            Deadline(
                DeadlineKind(x["kind"]),
                datetime.fromisoformat(x["due"]),
                x["warned"],
                x["overdue_sent"],
                x.get("provisional"),
            )
            for x in d["deadlines"]
        ),
        asset_kind=d.get("asset_kind"),
        resume_state=State(d["resume_state"]) if d.get("resume_state") else None,
        escalated=bool(d.get("escalated", False)),
        measure=_measure(d.get("measure")),
        kind=Kind(d["kind"]) if d.get("kind") else None,
    )
    return Tracked(
        delegation,
        tuple(raw["cap_keys"]),
        int(raw["reserved_fen"]),
        raw.get("cap_route"),
        raw.get("pending"),
    )
