"""The restriction flow's stored value, in the control's task: one control as JSON (the
rules' state from ``courtbus.domain.restriction`` plus the fields it publishes), or, for a ban
the initial load issued and nothing changed since, the list entry it was issued for
(``Listed``: the entry's bytes as read, the time and the agencies; no JSON to write per ban).
Imports no Kafka client."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
        "control_id": c.control_id,
        "issuing_court": c.issuing_court,
        "kind": c.kind.value,
        "agencies": sorted(c.agencies),
        "issued_at": _t(c.issued_at),
        "status": c.status.value,
        "lifted_at": _t(c.lifted_at),
        "lift_reason": c.lift_reason.value if c.lift_reason else None,
        "acked": _pairs(c.acked),
        "rejected": _pairs(c.rejected),
        "overdue_sent": _pairs(c.overdue_sent),
        "exemptions": list(c.exemptions),
    }
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
        control_id=x["control_id"],
        issuing_court=x["issuing_court"],
        kind=rs.Kind(x["kind"]),
        agencies=frozenset(x["agencies"]),
        issued_at=issued,
        status=rs.Status(x["status"]),
        lifted_at=_d(x["lifted_at"]),
        lift_reason=rs.LiftReason(x["lift_reason"]) if x["lift_reason"] else None,
        acked=_unpairs(x["acked"]),
        rejected=_unpairs(x["rejected"]),
        overdue_sent=_unpairs(x["overdue_sent"]),
        exemptions=tuple(x["exemptions"]),
    )
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


@dataclass(frozen=True, slots=True)
class Listed:
    """A consumption ban issued by the initial load (``services.restriction.flow``, "Initial
    load") and not changed since: the list entry it was issued for as read from
    ``blacklist.entries`` (its registry-framed value: a ``BlacklistEntry``), when the bus
    issued it and the agencies it concerns. The flow makes the ``Kept`` of it when it needs
    one (the same as the live path stores), and stores that ``Kept`` on the first change."""

    entry: bytes
    issued_at: datetime
    agencies: frozenset[str]


_LISTED = b"\x01"  # a stored Kept is JSON: it starts with "{"
_HEAD = struct.Struct(">qH")  # µs since the epoch, length of the agencies' names
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def dump_control(value: Kept | Listed) -> bytes:
    """Serialise either kind of stored control."""
    if isinstance(value, Kept):
        return dump_kept(value)
    names = ",".join(sorted(value.agencies)).encode()
    return _LISTED + _HEAD.pack((value.issued_at - _EPOCH) // _US, len(names)) + names + value.entry


def load_control(data: bytes) -> Kept | Listed:
    """Read either kind of stored control."""
    if not data.startswith(_LISTED):
        return load_kept(data)
    us, size = _HEAD.unpack_from(data, 1)
    at = 1 + _HEAD.size
    names = data[at : at + size].decode()
    return Listed(
        data[at + size :], _EPOCH + us * _US, frozenset(names.split(",")) if names else frozenset()
    )
