"""The coordination summary (协调中心总览): what a coordination centre's dashboard shows of its
region, as JSON-ready dicts, from the grouped reads of ``courtbus.store.summary``.

A row is in a region as the API's coordinator routes have it: a delegation if its requesting
or executing court is; a dead letter if it came from one of the region's courts' outboxes
(every one for the SPC); a listing, restriction or watchdog alert by its court; a
distribution if its presiding court or a claiming court is. Nothing here shows an ID number:
the rows carry none, and free text is masked (``mask_ids_in_text``) all the same. Imports the
store and the domain only (not the app: ``courtbus.web.app`` calls this).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from courtbus.catalogue.directory import Directory
from courtbus.domain.courts import superior_of
from courtbus.domain.delegation import END_STATES
from courtbus.domain.distribution import State as DistributionState
from courtbus.domain.masking import mask_ids_in_text
from courtbus.domain.regions import BY_CODE
from courtbus.errors import CourtbusError
from courtbus.store.queries import passed_deadlines
from courtbus.store.region import Region as Scope
from courtbus.store.summary import BUCKETS, SummaryQueries

Sees = Callable[[str], bool]
# Open delegations by age since the request: (label, up to this many days).
AGES: tuple[tuple[str, float], ...] = (
    ("1天内", 1),
    ("1–7天", 7),
    ("7–15天", 15),
    ("15–30天", 30),
    ("30天以上", float("inf")),
)
OBJECTION_STATES = frozenset({DistributionState.PLAN_ISSUED, DistributionState.OBJECTION_WINDOW})
# 异议 → 反对 → 起诉: the windows of Arts. 509-510, after the objection window itself
LATER_WINDOWS = frozenset({DistributionState.OPPOSITION_WINDOW, DistributionState.SUIT_WINDOW})
PLAN_PENDING_STATES = frozenset(
    {DistributionState.OPENED, DistributionState.CLAIMS, DistributionState.REVISION}
)
DISTRIBUTION_ENDED = frozenset(
    {DistributionState.PAID_OUT, DistributionState.TRANSFERRED_TO_BANKRUPTCY}
)
OPEN_EXCLUDED = frozenset({*END_STATES, "REFUSED"})  # a refused request never opened
LIST_LIMIT = 20  # rows of each table shown
MAX_BUCKETS = 48  # points of a time series, at most
MIN_BUCKETS = 15  # and at least
TOP_CODES = 6  # dead-letter codes drawn apart; the rest is 其他


@dataclass(frozen=True, slots=True)
class Region:
    """A coordination centre's region: who, a label, and its courts (``scope``: the test of a
    court, and SQL's cut)."""

    principal: str
    label: str
    scope: Scope

    def sees(self, court: str) -> bool:
        """Whether ``court`` is in the region."""
        return self.scope.contains(court)

    @property
    def everything(self) -> bool:
        """The SPC's region: every court, and the bus's own dead letters too."""
        return self.scope.everywhere


def region_for(principal: str, scope: Scope) -> Region:
    """The ``Region`` of a coordinator whose courts are ``scope``
    (``courtbus.web.coordination.region_scope``), with its label."""
    rest = principal.removeprefix("coordinator.")
    if scope.everywhere:
        return Region(principal, "最高人民法院（全国）", scope)
    if rest.startswith("group."):
        return Region(principal, f"协作组 {rest.removeprefix('group.')}", scope)
    province = BY_CODE.get(rest)
    return Region(principal, province.name if province else rest, scope)


def bucket_size(first: datetime | None, now: datetime) -> str:
    """The bucket of a time series from ``first`` to ``now``: minutes for a span under two
    hours (a demo, a test), hours under three days, days under 90, else months."""
    span = now - (first or now)
    if span < timedelta(hours=2):
        return "minute"
    if span < timedelta(days=3):
        return "hour"
    return "day" if span < timedelta(days=90) else "month"


def _floor(at: datetime, size: str) -> datetime:
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    if size in ("hour", "day", "month"):
        at = at.replace(minute=0)
    if size in ("day", "month"):
        at = at.replace(hour=0)
    return at.replace(day=1) if size == "month" else at


def _before(at: datetime, size: str) -> datetime:
    if size == "month":
        return (at - timedelta(days=1)).replace(day=1)
    return (
        at
        - {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[
            size
        ]
    )


def bucket_keys(first: datetime | None, now: datetime, size: str) -> list[str]:
    """The bucket texts (as SQL writes them, UTC) from ``first``'s to ``now``'s, at least
    ``MIN_BUCKETS`` and at most ``MAX_BUCKETS`` of them (the latest), oldest first."""
    length = BUCKETS[size][0]
    start = _floor(first or now, size)
    at = _floor(now, size)
    keys: list[str] = []
    while len(keys) < MAX_BUCKETS and (at >= start or len(keys) < MIN_BUCKETS):
        keys.append(at.strftime("%Y-%m-%d %H:%M:%S")[:length])
        at = _before(at, size)
    return keys[::-1]


def _court_name(directory: Directory, court: str | None) -> str:
    if court is None:
        return ""
    try:
        return directory.court(court).name
    except CourtbusError:  # not (or no longer) in the directory: a high court by its province
        province = BY_CODE.get(court) if len(court) == 2 else None
        return f"{province.name}高级人民法院" if province else court


def _province(court: str) -> str:
    return court[:2]


def delegation_summary(
    q: SummaryQueries, region: Region, directory: Directory, now: datetime
) -> dict[str, Any]:
    """Open delegations by state and age, the overdue ones, escalations to superior courts,
    and the province × province matrix (requesting × executing) of the region's delegations."""
    sees = region.sees

    def mine(req: str, exe: str) -> bool:
        return sees(req) or sees(exe)

    open_rows = [
        r
        for r in q.open_delegations(OPEN_EXCLUDED, region.scope)
        if mine(r.requesting_court, r.executing_court)
    ]
    by_state: Counter[str] = Counter(r.state for r in open_rows)
    ages: dict[str, dict[str, Any]] = {
        label: {"label": label, "count": 0, "overdue": 0} for label, _ in AGES
    }
    overdue: list[dict[str, Any]] = []
    for r in open_rows:
        age_days = (now - r.requested_at).total_seconds() / 86400
        label = next(label for label, limit in AGES if age_days < limit)
        ages[label]["count"] += 1
        passed = passed_deadlines(r.state, r.start_due, r.report_due, now)
        if passed:
            ages[label]["overdue"] += 1
            kind, due = passed[-1]
            overdue.append(
                {
                    "delegation_id": r.delegation_id,
                    "case_number": r.case_number,
                    "requesting_court": r.requesting_court,
                    "executing_court": r.executing_court,
                    "requesting_name": _court_name(directory, r.requesting_court),
                    "executing_name": _court_name(directory, r.executing_court),
                    "state": r.state,
                    "matter": r.matter,
                    "deadline": kind,
                    "due": due.isoformat(),
                    "overdue_hours": round((now - due).total_seconds() / 3600, 1),
                }
            )
    overdue.sort(key=lambda o: -float(o["overdue_hours"]))
    pairs = [p for p in q.delegation_pairs(region.scope) if mine(p[0], p[1])]
    provinces = sorted({_province(c) for req, exe, _s, _n in pairs for c in (req, exe)})
    index = {p: i for i, p in enumerate(provinces)}
    cells = [[0] * len(provinces) for _ in provinces]
    open_cells = [[0] * len(provinces) for _ in provinces]
    for req, exe, state, n in pairs:
        if state == "REFUSED":
            continue
        cells[index[_province(req)]][index[_province(exe)]] += n
    for r in open_rows:
        open_cells[index[_province(r.requesting_court)]][index[_province(r.executing_court)]] += 1
    return {
        "open": len(open_rows),
        "overdue": len(overdue),
        "total": sum(n for _r, _e, s, n in pairs if s != "REFUSED"),
        "refused": sum(n for _r, _e, s, n in pairs if s == "REFUSED"),
        "by_state": dict(sorted(by_state.items())),
        "by_age": list(ages.values()),
        "overdue_items": overdue[:LIST_LIMIT],
        "escalations": _escalations(q, region, directory),
        "alerts": _alerts(q, region),
        "matrix": {
            "provinces": provinces,
            "names": [BY_CODE[p].name if p in BY_CODE else p for p in provinces],
            "cells": cells,
            "open": open_cells,
        },
    }


def _escalations(q: SummaryQueries, region: Region, directory: Directory) -> dict[str, Any]:
    """Escalations to the executing court's superior court (民事诉讼法 (2023 修正) 第二百四十条, 2021 版 第二百三十六条): each
    delegation's latest, pending until the superior answers."""
    latest: dict[str, dict[str, Any]] = {}
    for did, req, exe, state, step, time in q.escalation_steps(region.scope):
        if not (region.sees(req) or region.sees(exe)):
            continue
        if step == "DelegationEscalated":
            superior = superior_of(exe)
            latest[did] = {
                "delegation_id": did,
                "requesting_court": req,
                "executing_court": exe,
                "superior_court": superior,
                "superior_name": _court_name(directory, superior),
                "executing_name": _court_name(directory, exe),
                "state": state,
                "escalated_at": time.isoformat(),
                "answered": False,
            }
        elif did in latest:
            latest[did]["answered"] = True
    items = sorted(latest.values(), key=lambda e: str(e["escalated_at"]), reverse=True)
    return {
        "total": len(items),
        "pending": sum(not e["answered"] for e in items),
        "items": items[:LIST_LIMIT],
    }


def _alerts(q: SummaryQueries, region: Region) -> dict[str, int]:
    found: Counter[str] = Counter()
    for kind, court, n in q.alert_counts(region.scope):
        if court is not None and region.sees(court):
            found[kind] += n
    return dict(sorted(found.items()))


def blacklist_summary(q: SummaryQueries, region: Region, now: datetime) -> dict[str, Any]:
    """Active listings (失信名单) by province and over time: per bucket, the listings, the
    delistings and the active count at its end."""
    by_province: Counter[str] = Counter()
    active = delisted = 0
    for court, status, n in q.blacklist_by_court(region.scope):
        if not region.sees(court):
            continue
        if status == "ACTIVE":
            active += n
            by_province[_province(court)] += n
        else:
            delisted += n
    first = q.blacklist_first(region.scope)
    size = bucket_size(first, now)
    keys = bucket_keys(first, now, size)
    listed: Counter[str] = Counter()
    gone: Counter[str] = Counter()
    for court, what, key, n in q.blacklist_timeline(size, region.scope):
        if region.sees(court):
            (listed if what == "listed" else gone)[key] += n
    running = sum(n for k, n in listed.items() if k < keys[0]) - sum(
        n for k, n in gone.items() if k < keys[0]
    )
    series = []
    for key in keys:
        running += listed[key] - gone[key]
        series.append(
            {"bucket": key, "listed": listed[key], "delisted": gone[key], "active": running}
        )
    return {
        "active": active,
        "delisted": delisted,
        "by_province": [
            {"province": p, "name": BY_CODE[p].name if p in BY_CODE else p, "count": n}
            for p, n in by_province.most_common()
        ],
        "bucket": size,
        "over_time": series,
    }


def restriction_summary(q: SummaryQueries, region: Region, directory: Directory) -> dict[str, Any]:
    """Restrictions (限制出境 / 限制高消费) in force, answers awaited from agencies (pending or
    overdue), interceptions reported, and the watchdog's alerts."""
    sees = region.sees
    by_kind: Counter[str] = Counter()
    active = lifted = 0
    for court, kind, status, n in q.restriction_counts(region.scope):
        if sees(court):
            if status == "ACTIVE":
                active += n
                by_kind[kind] += n
            else:
                lifted += n
    awaiting: dict[str, dict[str, Any]] = {}
    for court, agency, target, state, n in q.pending_acks(region.scope):
        if sees(court):
            row = awaiting.setdefault(
                agency, {"agency": agency, "pending": 0, "overdue": 0, "issue": 0, "lift": 0}
            )
            row["overdue" if state == "OVERDUE" else "pending"] += n
            row["lift" if target == "LIFT" else "issue"] += n
    for row in awaiting.values():
        row["name"] = next(
            (a.name for a in directory.agencies if a.id == row["agency"]), row["agency"]
        )
    counts: Counter[str] = Counter()
    for court, agency, n in q.interception_counts(region.scope):
        if sees(court):
            counts[agency] += n
    recent = [
        {
            "court": court,
            "court_name": _court_name(directory, court),
            "case_number": case,
            "kind": kind,
            "agency": agency,
            "channel": channel,
            "location": mask_ids_in_text(location),
            "at": at.isoformat(),
        }
        for court, case, kind, agency, channel, location, at in q.interceptions(region.scope)
        if sees(court)
    ][:LIST_LIMIT]
    watchdog: list[dict[str, Any]] = [
        {
            "court": court,
            "court_name": _court_name(directory, court),
            "case_number": mask_ids_in_text(case),
            "alerts": n,
            "latest": latest.isoformat(),
        }
        for court, case, n, latest in q.watchdog_counts(region.scope)
        if sees(court)
    ]
    watchdog.sort(key=lambda w: str(w["latest"]), reverse=True)
    return {
        "active": active,
        "lifted": lifted,
        "by_kind": dict(sorted(by_kind.items())),
        "awaiting_ack": sum(r["pending"] + r["overdue"] for r in awaiting.values()),
        "ack_overdue": sum(r["overdue"] for r in awaiting.values()),
        "awaiting_by_agency": sorted(awaiting.values(), key=lambda r: str(r["agency"])),
        "interceptions": sum(counts.values()),
        "interceptions_by_agency": dict(sorted(counts.items())),
        "recent_interceptions": recent,
        "watchdog_alerts": sum(int(w["alerts"]) for w in watchdog),
        "watchdog_cases": len(watchdog),
        "watchdog_items": watchdog[:LIST_LIMIT],
    }


def distribution_summary(q: SummaryQueries, region: Region, directory: Directory) -> dict[str, Any]:
    """Distributions (参与分配) in their objection window, in a later window (opposition, suit),
    with a plan pending (no plan out yet, or one to revise), by state."""
    live = [
        d
        for d in q.live_distributions(DISTRIBUTION_ENDED, region.scope)
        if region.sees(d.presiding_court) or any(region.sees(c) for c in d.claim_courts)
    ]
    by_state: Counter[str] = Counter(d.state for d in live)
    ended = sum(
        n
        for court, state, n in q.distribution_states(region.scope)
        if state in DISTRIBUTION_ENDED and region.sees(court)
    )
    items = [
        {
            "distribution_id": d.distribution_id,
            "case_number": d.case_number,
            "presiding_court": d.presiding_court,
            "presiding_name": _court_name(directory, d.presiding_court),
            "state": d.state,
            "claims": len(d.claim_courts),
            "updated_at": d.updated_at.isoformat(),
        }
        for d in live
    ]
    return {
        "live": len(live),
        "ended": ended,
        "in_objection_window": sum(by_state[s] for s in OBJECTION_STATES),
        "in_later_window": sum(by_state[s] for s in LATER_WINDOWS),
        "plans_pending": sum(by_state[s] for s in PLAN_PENDING_STATES),
        "by_state": dict(sorted(by_state.items())),
        "items": items[:LIST_LIMIT],
    }


def _court_of_topic(topic: str) -> str | None:
    """The court whose outbox ``topic`` is (``court.320583.outbox`` → 320583), else None."""
    kind, _, rest = topic.partition(".")
    return rest.partition(".")[0] if kind == "court" else None


def dead_letter_summary(q: SummaryQueries, region: Region, now: datetime) -> dict[str, Any]:
    """Dead letters (死信) of the region by code, and per code over time."""
    first = q.dead_letter_first()
    size = bucket_size(first, now)
    keys = bucket_keys(first, now, size)
    by_code: Counter[str] = Counter()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for topic, code, key, n in q.dead_letter_timeline(size):
        court = _court_of_topic(topic)
        if region.everything or (court is not None and region.sees(court)):
            by_code[code] += n
            per[code][key] += n
    top = [c for c, _n in by_code.most_common(TOP_CODES)]
    series = {c: [per[c][k] for k in keys] for c in top}
    rest = [c for c in by_code if c not in top]
    if rest:
        series["其他"] = [sum(per[c][k] for c in rest) for k in keys]
    return {
        "total": sum(by_code.values()),
        "by_code": dict(by_code.most_common()),
        "bucket": size,
        "buckets": keys,
        "series": series,
    }


def build_summary(
    q: SummaryQueries,
    region: Region,
    directory: Directory,
    *,
    now: datetime | None = None,
    services: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole coordination summary of ``region`` at ``now`` (default: the clock).

    Raises:
        StoreError: ``STORE_UNAVAILABLE``.
    """
    at = now or datetime.now(UTC)
    return {
        "region": {"principal": region.principal, "label": region.label},
        "generated_at": at.isoformat(),
        "delegations": delegation_summary(q, region, directory, at),
        "blacklist": blacklist_summary(q, region, at),
        "restrictions": restriction_summary(q, region, directory),
        "distributions": distribution_summary(q, region, directory),
        "dead_letters": dead_letter_summary(q, region, at),
        "services": services or [],
    }
