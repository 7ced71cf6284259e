"""The blacklist flow's stored values, as JSON: an entry (rules state plus the fields it
publishes) in the entry's task, and a debtor's open cases and lockouts in the debtor's task."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from courtbus.domain import blacklist as bl


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _d(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class Kept:
    """An entry as the service keeps it.

    ``published`` holds the fields of the view record that never change after listing (case,
    courts, debtor, art. 6 fields), JSON-safe (times as ISO text). ``pending`` is the listing
    record while the debtor's task is asked; ``tombstone_at`` when a delisted entry leaves the
    view.
    """

    entry: bl.Entry
    published: dict[str, Any]
    debtor_key: str
    case: str
    applicant_key: str | None = None
    pending: dict[str, Any] | None = None
    tombstone_at: datetime | None = None
    in_view: bool = True  # False once an outside tombstone removed it from the view


def dump_kept(kept: Kept) -> bytes:
    """Serialise for the state topic."""
    e = kept.entry
    entry = {
        "entry_id": e.entry_id,
        "listing_court": e.listing_court,
        "status": e.status.value,
        "ground": e.ground.value,
        "serious": e.serious,
        "period_months": e.period_months,
        "listed_at": _t(e.listed_at),
        "expires_at": _t(e.expires_at),
        "updated_at": _t(e.updated_at),
        "version": e.version,
        "delisted_at": _t(e.delisted_at),
        "reason": e.reason.value if e.reason else None,
        "deletion_due": _t(e.deletion_due),
        "deletion_reason": e.deletion_reason.value if e.deletion_reason else None,
        "review_due": _t(e.review_due),
        "correction_due": _t(e.correction_due),
        "overdue_sent": sorted(k.value for k in e.overdue_sent),
    }
    return json.dumps(
        {
            "entry": entry,
            "published": kept.published,
            "debtor_key": kept.debtor_key,
            "case": kept.case,
            "applicant_key": kept.applicant_key,
            "pending": kept.pending,
            "tombstone_at": _t(kept.tombstone_at),
            "in_view": kept.in_view,
        },
        ensure_ascii=False,
    ).encode()


def load_kept(data: bytes) -> Kept:
    """Read a stored entry."""
    raw: dict[str, Any] = json.loads(data)
    x = raw["entry"]
    entry = bl.Entry(
        entry_id=x["entry_id"],
        listing_court=x["listing_court"],
        status=bl.Status(x["status"]),
        ground=bl.Ground(x["ground"]),
        serious=bool(x["serious"]),
        period_months=x["period_months"],
        listed_at=datetime.fromisoformat(x["listed_at"]),
        expires_at=_d(x["expires_at"]),
        updated_at=datetime.fromisoformat(x["updated_at"]),
        version=int(x["version"]),
        delisted_at=_d(x["delisted_at"]),
        reason=bl.Reason(x["reason"]) if x["reason"] else None,
        deletion_due=_d(x["deletion_due"]),
        deletion_reason=bl.Reason(x["deletion_reason"]) if x["deletion_reason"] else None,
        review_due=_d(x["review_due"]),
        correction_due=_d(x["correction_due"]),
        overdue_sent=frozenset(bl.NoticeKind(k) for k in x["overdue_sent"]),
    )
    return Kept(
        entry,
        raw["published"],
        raw["debtor_key"],
        raw["case"],
        raw.get("applicant_key"),
        raw.get("pending"),
        _d(raw.get("tombstone_at")),
        bool(raw.get("in_view", True)),
    )


@dataclass
class Debtor:
    """One debtor's open listings (case → entry id) and lockouts (applicant → until)."""

    cases: dict[str, str] = field(default_factory=dict)
    lockouts: dict[str, str] = field(default_factory=dict)  # applicant key → ISO time

    def locked_until(self, applicant_key: str | None, now: datetime) -> datetime | None:
        """The end of ``applicant_key``'s lockout if it still runs at ``now``."""
        until = _d(self.lockouts.get(applicant_key or ""))
        return until if until is not None and until > now else None


def dump_debtor(debtor: Debtor) -> bytes:
    """Serialise for the state topic."""
    return json.dumps({"cases": debtor.cases, "lockouts": debtor.lockouts}).encode()


def load_debtor(data: bytes) -> Debtor:
    """Read a stored debtor."""
    raw = json.loads(data)
    return Debtor(dict(raw["cases"]), dict(raw["lockouts"]))
