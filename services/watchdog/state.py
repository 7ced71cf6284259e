"""The watchdog's stored values, as JSON: a case (status and the items in force) in the case's
task, and a delegation's link to its case in the delegation's task."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from courtbus.domain import casestatus as cs


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _d(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def item_json(item: cs.Item) -> dict[str, Any]:
    """An item, JSON-safe (also the body of the internal ``item`` record)."""
    return {
        "item_id": item.item_id,
        "kind": item.kind.value,
        "label": item.label,
        "court": item.court,
        "since": _t(item.since),
        "until": _t(item.until),
    }


def item_of(d: dict[str, Any]) -> cs.Item:
    """Read back ``item_json``."""
    since = _d(d["since"])
    assert since is not None
    return cs.Item(
        str(d["item_id"]),
        cs.ItemKind(str(d["kind"])),
        str(d["label"]),
        str(d["court"]),
        since,
        _d(d.get("until")),
    )


def dump_case(case: cs.Case) -> bytes:
    """Serialise for the state topic."""
    return json.dumps(
        {
            "case_number": case.case_number,
            "court": case.court,
            "status": case.status.value if case.status else None,
            "outcome": case.outcome.value if case.outcome else None,
            "concluded_at": _t(case.concluded_at),
            "alerts": case.alerts,
            "last_alert": _t(case.last_alert),
            "items": [item_json(i) for i in case.items.values()],
        },
        ensure_ascii=False,
    ).encode()


def load_case(data: bytes) -> cs.Case:
    """Read back ``dump_case``."""
    d = json.loads(data)
    items = [item_of(i) for i in d["items"]]
    return cs.Case(
        case_number=str(d["case_number"]),
        court=d["court"],
        status=cs.Status(d["status"]) if d["status"] else None,
        outcome=cs.Outcome(d["outcome"]) if d["outcome"] else None,
        concluded_at=_d(d["concluded_at"]),
        alerts=int(d["alerts"]),
        last_alert=_d(d["last_alert"]),
        items={i.item_id: i for i in items},
    )


@dataclass(frozen=True, slots=True)
class Link:
    """A delegation as the watchdog knows it: the requesting court's case and matter, and the
    end of its measure once the executing court reported it (pending until decided)."""

    case: str
    court: str
    executing_court: str
    matter: str
    until: datetime | None = None
    since: datetime | None = None


def dump_link(link: Link) -> bytes:
    """Serialise for the state topic."""
    return json.dumps(
        {
            "case": link.case,
            "court": link.court,
            "executing_court": link.executing_court,
            "matter": link.matter,
            "until": _t(link.until),
            "since": _t(link.since),
        },
        ensure_ascii=False,
    ).encode()


def load_link(data: bytes) -> Link:
    """Read back ``dump_link``."""
    d = json.loads(data)
    return Link(
        str(d["case"]),
        str(d["court"]),
        str(d["executing_court"]),
        str(d["matter"]),
        _d(d["until"]),
        _d(d["since"]),
    )
