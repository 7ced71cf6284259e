"""The delegation flow's stored value: a delegation and its cap reservation, as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from courtbus.domain.delegation import Deadline, DeadlineKind, Delegation, State


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


def dump(tracked: Tracked) -> bytes:
    """Serialise for the state topic."""
    x = tracked.delegation
    d = {  # by hand: dataclasses.asdict deep-copies and took most of a request's CPU time
        "delegation_id": x.delegation_id, "requesting_court": x.requesting_court,
        "executing_court": x.executing_court, "matter": x.matter, "state": x.state.value,
        "requested_at": x.requested_at.isoformat(),
        "delivered_at": x.delivered_at.isoformat() if x.delivered_at else None,
        "reported": x.reported,
        "deadlines": [
            {"kind": dl.kind.value, "due": dl.due.isoformat(), "warned": dl.warned,
             "overdue_sent": dl.overdue_sent}
            for dl in x.deadlines
        ],
        "events": x.events,
    }  # fmt: skip
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
        delegation_id=d["delegation_id"], requesting_court=d["requesting_court"],
        executing_court=d["executing_court"], matter=d["matter"], state=State(d["state"]),
        requested_at=datetime.fromisoformat(d["requested_at"]), delivered_at=_time(d["delivered_at"]),
        reported=d["reported"], events=d["events"],
        deadlines=tuple(
            Deadline(DeadlineKind(x["kind"]), datetime.fromisoformat(x["due"]), x["warned"], x["overdue_sent"])
            for x in d["deadlines"]
        ),
    )  # fmt: skip
    return Tracked(
        delegation,
        tuple(raw["cap_keys"]),
        int(raw["reserved_fen"]),
        raw.get("cap_route"),
        raw.get("pending"),
    )
