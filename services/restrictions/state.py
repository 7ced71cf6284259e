"""The restriction flow's stored value, as JSON: one control (the rules' state from
``courtbus.domain.restriction`` plus the fields it publishes) in the control's task. Imports
no Kafka client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from courtbus.domain import restriction as rs


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _d(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _pairs(pairs: frozenset[tuple[str, str]]) -> list[list[str]]:
    return [list(p) for p in sorted(pairs)]


def _unpairs(raw: list[list[str]]) -> frozenset[tuple[str, str]]:
    return frozenset((str(a), str(t)) for a, t in raw)


@dataclass(frozen=True, slots=True)
class Kept:
    """A control as the service keeps it.

    ``published``: the fields of the view record fixed at issue (case, court, kind, person,
    document, prohibited kinds, dates, reason), JSON-safe (times and dates as ISO text).
    ``answers``: ``"<agency>|<ISSUE|LIFT>"`` → the agency's reference (or rejection code) and
    when it answered. ``exemptions``: granted exemptions as published; ``applications``:
    exemption id → when applied (pending a decision). ``lifted_at`` is the court's time of
    the lift (the control's own ``lifted_at`` is the bus's, from which the deadline runs).
    ``listing``: the list entry whose listing required this ban, when the bus issued it.
    ``interceptions``: the agencies' reported interceptions, JSON-safe, oldest first.
    """

    control: rs.Control
    published: dict[str, Any]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    exemptions: list[dict[str, Any]] = field(default_factory=list)
    applications: dict[str, str] = field(default_factory=dict)
    lifted_at: datetime | None = None
    tombstone_at: datetime | None = None
    version: int = 1
    listing: str | None = None
    interceptions: list[dict[str, Any]] = field(default_factory=list)


def dump_kept(kept: Kept) -> bytes:
    """Serialise for the state topic."""
    c = kept.control
    control = {
        "control_id": c.control_id, "issuing_court": c.issuing_court, "kind": c.kind.value,
        "agencies": sorted(c.agencies), "issued_at": _t(c.issued_at), "status": c.status.value,
        "lifted_at": _t(c.lifted_at), "lift_reason": c.lift_reason.value if c.lift_reason else None,
        "acked": _pairs(c.acked), "rejected": _pairs(c.rejected),
        "overdue_sent": _pairs(c.overdue_sent), "exemptions": list(c.exemptions),
    }  # fmt: skip
    return json.dumps(
        {
            "control": control,
            "published": kept.published,
            "answers": kept.answers,
            "exemptions": kept.exemptions,
            "applications": kept.applications,
            "lifted_at": _t(kept.lifted_at),
            "tombstone_at": _t(kept.tombstone_at),
            "version": kept.version,
            "listing": kept.listing,
            "interceptions": kept.interceptions,
        },
        ensure_ascii=False,
    ).encode()


def load_kept(data: bytes) -> Kept:
    """Read a stored control."""
    raw: dict[str, Any] = json.loads(data)
    x = raw["control"]
    issued = datetime.fromisoformat(x["issued_at"])
    control = rs.Control(
        control_id=x["control_id"], issuing_court=x["issuing_court"], kind=rs.Kind(x["kind"]),
        agencies=frozenset(x["agencies"]), issued_at=issued, status=rs.Status(x["status"]),
        lifted_at=_d(x["lifted_at"]),
        lift_reason=rs.LiftReason(x["lift_reason"]) if x["lift_reason"] else None,
        acked=_unpairs(x["acked"]), rejected=_unpairs(x["rejected"]),
        overdue_sent=_unpairs(x["overdue_sent"]), exemptions=tuple(x["exemptions"]),
    )  # fmt: skip
    return Kept(
        control,
        raw["published"],
        dict(raw["answers"]),
        list(raw["exemptions"]),
        dict(raw["applications"]),
        _d(raw.get("lifted_at")),
        _d(raw.get("tombstone_at")),
        int(raw["version"]),
        raw.get("listing"),
        list(raw.get("interceptions", [])),
    )
