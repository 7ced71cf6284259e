"""The reconciler's judgement (pure): from what the participants sent, what must exist
downstream, and what does; per flow, expected, present, lost, duplicated, unexpected.

Each check is a ledger of one hop of the bus:

* ``gateway`` (per flow): every record of a court's or agency's outbox is accounted for exactly
  once: forwarded to its flow's topic (``bus.<flow>.events``, the same ``ce_id`` from the same
  source), or dead-lettered (``bus.deadletter`` naming its topic, partition and offset), or, a
  later copy of a ``ce_id`` already accepted from that outbox partition, dropped (a
  byte-identical retry) or dead-lettered (a conflicting copy or a replay). Lost: none of these;
  duplicated: a ``ce_id`` forwarded twice, a position dead-lettered twice, or both forwarded and
  dead-lettered; unexpected: a participant's record on a flow topic that no outbox holds.
* ``decisions`` (delegation): every step on ``bus.delegation.events`` (the requests and steps
  forwarded, the bus's own receipts) has exactly one ``DelegationDecided`` naming it.
* ``deliveries`` (delegation): every applied step reached the inbox of the court it goes to, once
  (a request the executing court's, a receipt the requesting court's, a court's step the other
  party's; a request cancelled before delivery never goes out).
* ``listings applied`` (blacklist) and ``bans applied`` (restriction): every ``DebtorListed``
  and ``RestrictionIssued`` a court sent on its flow's topic is refused once (a dead letter
  naming its position) or, if not refused, in the view (a record of its entry in
  ``blacklist.entries``, of its control in ``restriction.controls``).
* ``view records`` (each flow with a view): no key of a compacted view at one version twice
  with no tombstone between (the flow's output applied twice), and no version going back.
* ``dead letters in SQL``, ``history in SQL`` and each view's table: every dead letter and
  every decision is one row of the read model; the latest version of each key of a compacted view
  (``blacklist.entries``, ``restriction.controls``, ``distribution.cases``) is its row, at that
  version.

Nothing here reads Kafka or SQL: ``courtbus.app.reconcile`` gathers the records and rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from courtbus.bus.topics import OUTBOX

DEADLETTER = "bus.deadletter"
SAMPLES = 20  # ids kept per kind of problem, for the report


@dataclass(frozen=True, slots=True)
class Seen:
    """One record as the reconciler needs it: where it is, its ``ce_*`` identity, its digest
    (``courtbus.gateway.record_digest``) and, for a dead letter, where it came from."""

    topic: str
    partition: int
    offset: int
    ce_id: str | None = None
    source: str | None = None
    flow: str | None = None  # the flow its ce_type belongs to (None: not a bus message)
    digest: str | None = None
    dead_from: tuple[str, int, int] | None = None  # a dead letter's dlq_topic/partition/offset

    @property
    def position(self) -> tuple[str, int, int]:
        """(topic, partition, offset)."""
        return (self.topic, self.partition, self.offset)


@dataclass(slots=True)
class Ledger:
    """One check of one flow: how many were expected, present, and the problems' samples."""

    flow: str
    check: str
    expected: int = 0
    present: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated or unexpected."""
        return not (self.lost or self.duplicated or self.unexpected)

    def problem(self, kind: str, what: str) -> None:
        """Count one ``lost``, ``duplicated`` or ``unexpected`` and keep a sample of it."""
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.samples) < SAMPLES:
            self.samples.append(f"{kind}: {what}")


def gateway_ledgers(
    outboxes: Iterable[Seen], flow_topics: Iterable[Seen], dead_letters: Iterable[Seen]
) -> list[Ledger]:
    """The gateway's ledger per flow (see the module docstring); ``flow_topics``: the records
    of every ``bus.<flow>.events`` topic, ``dead_letters`` those of ``bus.deadletter``."""
    forwarded: dict[str, list[Seen]] = defaultdict(list)
    for r in flow_topics:
        if r.ce_id is not None and r.source is not None and not r.source.startswith("bus:"):
            forwarded[r.ce_id].append(r)
    dead: Counter[tuple[str, int, int]] = Counter(
        d.dead_from for d in dead_letters if d.dead_from is not None
    )
    ledgers: dict[str, Ledger] = {}
    first: dict[tuple[str, int, str], Seen] = {}  # (outbox, partition, ce_id) → first copy
    sent: set[str] = set()
    for r in sorted(outboxes, key=lambda s: s.position):
        ledger = ledgers.setdefault(r.flow or "?", Ledger(r.flow or "?", "gateway"))
        ledger.expected += 1
        if r.ce_id is None:  # no identity: only a dead letter can account for it
            _account(ledger, r, 0, dead[r.position])
            continue
        sent.add(r.ce_id)
        earlier = first.setdefault((r.topic, r.partition, r.ce_id), r)
        copies = [f for f in forwarded.get(r.ce_id, ()) if f.source == r.source]
        if earlier is not r:  # a later copy: dropped (a retry) or dead-lettered
            if dead[r.position] > 1:
                ledger.problem("duplicated", f"{_where(r)} dead-lettered {dead[r.position]} times")
            else:
                ledger.present += 1
            continue
        _account(ledger, r, len(copies), dead[r.position])
    for ce_id, copies in forwarded.items():
        if ce_id not in sent:
            for c in copies:
                ledger = ledgers.setdefault(c.flow or "?", Ledger(c.flow or "?", "gateway"))
                ledger.problem("unexpected", f"{_where(c)} ce_id {ce_id} is in no outbox")
    return sorted(ledgers.values(), key=lambda g: g.flow)


def _account(ledger: Ledger, r: Seen, forwarded: int, dead: int) -> None:
    if forwarded + dead == 1:
        ledger.present += 1
    elif forwarded + dead == 0:
        ledger.problem("lost", f"{_where(r)} ce_id {r.ce_id}: neither forwarded nor dead-lettered")
    else:
        ledger.problem(
            "duplicated", f"{_where(r)} ce_id {r.ce_id}: forwarded {forwarded}×, dead {dead}×"
        )


def _where(r: Seen) -> str:
    return f"{r.topic}@{r.partition}:{r.offset}"


@dataclass(frozen=True, slots=True)
class Decision:
    """A ``DelegationDecided``, as the delegation checks need it."""

    ce_id: str
    delegation_id: str
    step: str
    decided_event_id: str
    applied: bool
    by_court: str | None
    requesting_court: str | None
    executing_court: str | None


def decision_ledger(steps: Iterable[Seen], decisions: Iterable[Decision]) -> Ledger:
    """Every step on the delegation topic decided exactly once; a decision about a court's
    step that is not there is unexpected."""
    ledger = Ledger("delegation", "decisions")
    decisions = list(decisions)
    count = Counter(d.decided_event_id for d in decisions)
    ids = set()
    for s in steps:
        if s.ce_id is None:
            continue
        ids.add(s.ce_id)
        ledger.expected += 1
        _once(ledger, count[s.ce_id], f"step {s.ce_id} ({_where(s)})", "decisions")
    courts = {d.decided_event_id for d in decisions if d.by_court is not None}
    for ce_id in count:
        if ce_id not in ids and ce_id in courts:  # the bus's own steps (timers) are not there
            ledger.problem(
                "unexpected", f"a decision about {ce_id}, a court's step not on the topic"
            )
    return ledger


def _once(ledger: Ledger, n: int, what: str, of: str) -> None:
    if n == 1:
        ledger.present += 1
    elif n == 0:
        ledger.problem("lost", f"{what}: no {of}")
    else:
        ledger.problem("duplicated", f"{what}: {n} {of}")


def delivery_ledger(
    decisions: Iterable[Decision],
    inboxes: Mapping[str, Iterable[Seen]],
    superior_of: Callable[[str], str | None] | None = None,
) -> Ledger:
    """Every applied step in the inbox of each court it goes to, once (``inboxes``: court id →
    its inbox's records)."""
    ledger = Ledger("delegation", "deliveries")
    held: Counter[tuple[str, str]] = Counter()
    for court, records in inboxes.items():
        held.update((court, r.ce_id) for r in records if r.ce_id is not None)
    applied = [d for d in decisions if d.applied]
    delivered = {d.delegation_id for d in applied if d.step == "DelegationDelivered"}
    for d in applied:
        to: list[str | None]
        req, exe = d.requesting_court, d.executing_court
        if d.step == "DelegationRequested":
            # a request waiting for the executing court's capacity and cancelled before its
            # delivery never reaches the executing court
            to = [exe] if d.delegation_id in delivered or not _cancelled(applied, d) else []
        elif d.step == "DelegationDelivered":
            to = [req]
        elif d.step == "DelegationEscalated":
            to = [superior_of(exe) if superior_of and exe else None, exe]
        elif d.step == "DelegationEscalationAnswered":
            to = [req, exe]
        elif d.step == "DelegationCancelled" and d.delegation_id not in delivered:
            to = []
        else:
            to = [exe if d.by_court == req else req]
        for target in to:
            if target is None:
                continue
            ledger.expected += 1
            _once(
                ledger,
                held[(target, d.decided_event_id)],
                f"{d.step} {d.decided_event_id} of {d.delegation_id} to court.{target}.inbox",
                "copies",
            )
    return ledger


def _cancelled(applied: list[Decision], request: Decision) -> bool:
    return any(
        d.delegation_id == request.delegation_id and d.step == "DelegationCancelled"
        for d in applied
    )


def rows_ledger(
    flow: str, check: str, expected: Mapping[str, int | None], present: Mapping[str, list[int]]
) -> Ledger:
    """A table of the read model against what it must hold: ``expected`` key → the version it
    must be at (None: any), ``present`` key → the versions of its rows (one row each)."""
    ledger = Ledger(flow, check)
    for key, version in expected.items():
        ledger.expected += 1
        rows = present.get(key, [])
        if len(rows) > 1:
            ledger.problem("duplicated", f"{key}: {len(rows)} rows")
        elif not rows:
            ledger.problem("lost", f"{key}: no row")
        elif version is not None and rows[0] != version:
            ledger.problem("lost", f"{key}: row at version {rows[0]}, the view at {version}")
        else:
            ledger.present += 1
    return ledger


@dataclass(frozen=True, slots=True)
class ViewRecord:
    """One record of a compacted view: its key, the version it carries (None: a tombstone)
    and where it is."""

    key: str
    version: int | None
    position: tuple[str, int, int]


def view_ledger(flow: str, records: Iterable[ViewRecord]) -> Ledger:
    """A view's records against the same effect written twice: per key, in offset order, a
    version seen already since the key's last tombstone is duplicated, one below the highest
    seen is unexpected (compaction only removes records, so neither comes from it)."""
    ledger = Ledger(flow, "view records")
    since: dict[str, set[int]] = {}
    for r in sorted(records, key=lambda v: v.position):
        if r.version is None:  # a tombstone: the key starts over
            since.pop(r.key, None)
            continue
        ledger.expected += 1
        versions = since.setdefault(r.key, set())
        where = f"{r.key} at version {r.version} ({r.position[0]}@{r.position[1]}:{r.position[2]})"
        if r.version in versions:
            ledger.problem("duplicated", f"{where}: that version is there already")
        elif versions and r.version < max(versions):
            ledger.problem("unexpected", f"{where}: after version {max(versions)}")
        else:
            ledger.present += 1
        versions.add(r.version)
    return ledger


def created_ledger(
    flow: str,
    check: str,
    created: Iterable[tuple[str, Seen]],
    view_keys: Iterable[str],
    dead_letters: Iterable[Seen],
) -> Ledger:
    """Every court's record that creates an entity of a view (``created``: (its key, where it
    is on the flow's topic), e.g. a ``DebtorListed`` by entry id) refused once (a dead letter
    naming its position) or, if not refused, in the view (its key one of ``view_keys``).
    Applied twice shows in ``view_ledger``."""
    ledger = Ledger(flow, check)
    present = set(view_keys)
    dead: Counter[tuple[str, int, int]] = Counter(
        d.dead_from for d in dead_letters if d.dead_from is not None
    )
    for key, r in created:
        ledger.expected += 1
        refused = dead[r.position]
        if refused > 1:
            ledger.problem("duplicated", f"{_where(r)} {key}: refused {refused}×")
        elif refused or key in present:
            ledger.present += 1
        else:
            ledger.problem("lost", f"{_where(r)} {key}: neither in the view nor refused")
    return ledger


def is_outbox(topic: str) -> bool:
    """A participant's outbox (``court.<id>.outbox``, ``agency.<id>.outbox``)."""
    return OUTBOX.match(topic) is not None
