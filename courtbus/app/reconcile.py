"""``courtbus reconcile``: read every outbox, flow topic, inbox, view and the read model, and
judge them with ``courtbus.bus.reconcile`` (what must exist, what does).

Topics are read under ``read_committed`` from their start to the end they had when the reading
began; the read model from SQL. Run it once the flows are quiet (nothing in flight), or the
newest records count as lost until the services catch up: ``wait_s`` reconciles again until
everything holds or the time runs out.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from courtbus.bus import reconcile as judge
from courtbus.bus.deadletters import parse_dead_letter
from courtbus.bus.reconcile import Decision, Ledger, Seen, ViewRecord
from courtbus.bus.refusals import header_text
from courtbus.bus.topics import BLACKLIST_VIEW, DISTRIBUTION_VIEW, RESTRICTION_VIEW
from courtbus.config import Connection
from courtbus.domain.courts import superior_of
from courtbus.errors import ClusterError, CourtbusError
from courtbus.gateway import record_digest
from courtbus.store.queries import ReadModelQueries, StoredKeys
from courtbus.wire.client import make_envelope
from courtbus.wire.envelope import Envelope, RawRecord
from courtbus.wire.messages import by_ce_type, by_record

DELEGATION_EVENTS = "bus.delegation.events"
DECIDED = "cn.court.bus.delegation.DelegationDecided"
# a court's record that creates an entity of a view: (its flow's topic, its ce_type, the
# field naming the entity, the view, the check's name)
CREATED = (
    (
        "bus.blacklist.events",
        by_record("cn.court.bus.blacklist.DebtorListed").ce_type,
        "entry_id",
        BLACKLIST_VIEW,
        "listings applied",
    ),
    (
        "bus.restriction.events",
        by_record("cn.court.bus.restriction.RestrictionIssued").ce_type,
        "control_id",
        RESTRICTION_VIEW,
        "bans applied",
    ),
)
VIEWS = {  # view topic → (flow, the table's check name)
    BLACKLIST_VIEW: ("blacklist", "listings in SQL"),
    RESTRICTION_VIEW: ("restriction", "restrictions in SQL"),
    DISTRIBUTION_VIEW: ("distribution", "distributions in SQL"),
}
Progress = Callable[[int, int], None]  # (records read, records to read)


@dataclass
class Report:
    """Every ledger, and how many records were read."""

    ledgers: list[Ledger]
    records: int

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated or unexpected anywhere."""
        return all(g.ok for g in self.ledgers)


def _wanted(topic: str) -> bool:
    return (
        judge.is_outbox(topic)
        or (topic.startswith("bus.") and topic.endswith(".events"))
        or topic == judge.DEADLETTER
        or (topic.startswith("court.") and topic.endswith(".inbox"))
        or topic in VIEWS
    )


def read_all(conn: Connection, progress: Progress | None = None) -> dict[str, list[Any]]:
    """Every committed record of the topics the reconciler judges, by topic.

    Raises:
        ClusterError: ``CLUSTER_UNREACHABLE``.
    """
    try:
        consumer = KafkaConsumer(
            **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
        )
    except KafkaError as exc:
        raise ClusterError(
            f"cannot reach Kafka at {conn.bootstrap}: {exc}", code="CLUSTER_UNREACHABLE"
        ) from exc
    found: dict[str, list[Any]] = defaultdict(list)
    try:
        topics = sorted(t for t in consumer.topics() if _wanted(t))
        parts = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        if not parts:
            return {}
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends, starts = consumer.end_offsets(parts), consumer.beginning_offsets(parts)
        total, read = sum(ends[tp] - starts[tp] for tp in parts), 0
        quiet = time.monotonic()
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            batches = consumer.poll(timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                found[tp.topic] += [r for r in records if r.offset < ends[tp]]
                read += len(records)
            if batches:
                quiet = time.monotonic()
            elif time.monotonic() - quiet > 30:
                raise ClusterError(
                    "reading the topics stalled for 30 s", code="CLUSTER_UNREACHABLE"
                )
            if progress is not None:
                progress(min(read, total), total)
    except KafkaError as exc:
        raise ClusterError(f"cannot read the topics: {exc}", code="CLUSTER_UNREACHABLE") from exc
    finally:
        consumer.close()
    return found


def seen(r: Any) -> Seen:
    """A consumed record as the judge sees it."""
    raw = cast(RawRecord, r)
    ce_type = header_text(raw, "ce_type")
    try:
        flow = by_ce_type(ce_type).flow if ce_type else None
    except CourtbusError:
        flow = None
    dead_from = None
    if r.topic == judge.DEADLETTER:
        dead = parse_dead_letter(r)
        dead_from = (dead.source_topic, dead.source_partition, dead.source_offset)
    return Seen(
        r.topic,
        r.partition,
        r.offset,
        header_text(raw, "ce_id"),
        header_text(raw, "ce_source"),
        flow,
        record_digest(raw),
        dead_from,
    )


def _decision(envelope: Envelope, r: Any) -> Decision | None:
    event = envelope.read(r)
    if event.record != DECIDED:
        return None
    p = event.payload
    return Decision(
        event.headers.id,
        str(p["delegation_id"]),
        str(p["step"]),
        str(p["decided_event_id"]),
        bool(p["applied"]),
        p.get("by_court"),
        p.get("requesting_court"),
        p.get("executing_court"),
    )


def judge_all(
    envelope: Envelope, topics: dict[str, list[Any]], stored: StoredKeys | None
) -> list[Ledger]:
    """Every ledger over ``topics`` (as ``read_all`` gives them) and the read model's keys
    (None: no read model, its checks left out)."""
    every = {t: [seen(r) for r in records] for t, records in topics.items()}
    outboxes = [s for t, rs in every.items() if judge.is_outbox(t) for s in rs]
    flows = [
        s for t, rs in every.items() if t.startswith("bus.") and t.endswith(".events") for s in rs
    ]
    dead = every.get(judge.DEADLETTER, [])
    ledgers = judge.gateway_ledgers(outboxes, flows, dead)
    decisions: list[Decision] = []
    steps: list[Seen] = []
    for r, s in zip(
        topics.get(DELEGATION_EVENTS, []), every.get(DELEGATION_EVENTS, []), strict=True
    ):
        d = _decision(envelope, r)
        if d is not None:
            decisions.append(d)
        else:
            steps.append(s)
    ledgers.append(judge.decision_ledger(steps, decisions))
    inboxes = {t.split(".")[1]: rs for t, rs in every.items() if t.endswith(".inbox")}
    ledgers.append(judge.delivery_ledger(decisions, inboxes, superior_of))
    views = {topic: _view_records(envelope, topic, topics.get(topic, [])) for topic in VIEWS}
    ledgers += _view_ledgers(envelope, topics, every, views, dead)
    if stored is not None:
        ledgers += _stored_ledgers(views, stored, dead, decisions)
    return ledgers


def _view_records(envelope: Envelope, topic: str, records: list[Any]) -> list[ViewRecord]:
    """A view's records, each decoded once for its version (None: a tombstone)."""
    return [
        ViewRecord(
            (r.key or b"").decode(),
            None if r.value is None else int(envelope.read(r).payload["version"]),
            (topic, r.partition, r.offset),
        )
        for r in records
    ]


def _view_ledgers(
    envelope: Envelope,
    topics: dict[str, list[Any]],
    every: dict[str, list[Seen]],
    views: dict[str, list[ViewRecord]],
    dead: list[Seen],
) -> list[Ledger]:
    """Each view's records (no effect twice), and the courts' listings and bans against their
    views."""
    ledgers = []
    for topic, (flow, _check) in VIEWS.items():
        if views[topic]:
            ledgers.append(judge.view_ledger(flow, views[topic]))
    for flow_topic, ce_type, field, view, check in CREATED:
        created = []
        pairs = zip(topics.get(flow_topic, []), every.get(flow_topic, []), strict=True)
        for r, s in pairs:
            court = s.source is not None and s.source.startswith("court:")
            if court and header_text(r, "ce_type") == ce_type:
                created.append((str(envelope.read(r).payload[field]), s))
        if created:
            keys = {v.key for v in views[view]}
            ledgers.append(
                judge.created_ledger(flow_topic.split(".")[1], check, created, keys, dead)
            )
    return ledgers


def _stored_ledgers(
    views: dict[str, list[ViewRecord]],
    stored: StoredKeys,
    dead: list[Seen],
    decisions: list[Decision],
) -> list[Ledger]:
    rows: list[Ledger] = []
    positions: dict[str, list[int]] = defaultdict(list)
    for pos in stored.dead_letters:
        positions[":".join(map(str, pos))].append(0)
    rows.append(
        judge.rows_ledger(
            "bus",
            "dead letters in SQL",
            {":".join(map(str, d.dead_from or ())): None for d in dead if d.dead_from is not None},
            positions,
        )
    )
    history: dict[str, list[int]] = defaultdict(list)
    for ce_id in stored.decisions:
        history[ce_id].append(0)
    rows.append(
        judge.rows_ledger(
            "delegation", "history in SQL", {d.ce_id: None for d in decisions}, history
        )
    )
    dead_at = {d.dead_from for d in dead if d.dead_from is not None}
    kept = {
        BLACKLIST_VIEW: stored.listings,
        RESTRICTION_VIEW: stored.restrictions,
        DISTRIBUTION_VIEW: stored.distributions,
    }
    for topic, (flow, check) in VIEWS.items():
        latest = {v.key: v for v in views[topic]}  # a key's records are in offset order
        want: dict[str, int | None] = {}
        gone: set[str] = set()
        for key, v in latest.items():
            if v.position in dead_at:
                continue  # the projector could not store it and said so in a dead letter
            if v.version is None:
                if topic == BLACKLIST_VIEW:  # a tombstone deletes the entry's row
                    gone.add(key)
                continue  # a lifted control, an ended distribution: the row stays
            want[key] = v.version
        have: dict[str, list[int]] = defaultdict(list)
        for key, version in kept[topic]:
            have[key].append(version)
        ledger = judge.rows_ledger(flow, check, want, have)
        for key in gone & set(have):
            ledger.problem("unexpected", f"{key}: a row for an entry the view deleted")
        rows.append(ledger)
    return rows


def reconcile(
    conn: Connection,
    store_url: str | None,
    *,
    wait_s: float = 0,
    progress: Progress | None = None,
    envelope: Envelope | None = None,
) -> Report:
    """Read and judge; with ``wait_s``, again every few seconds until all holds or the time
    is up (the last report is returned).

    Raises:
        ClusterError, RegistryError, StoreError: what cannot be read.
    """
    envelope = envelope or make_envelope(conn)
    queries = ReadModelQueries(store_url) if store_url else None
    deadline = time.monotonic() + wait_s
    try:
        while True:
            topics = read_all(conn, progress)
            stored = queries.stored_keys() if queries is not None else None
            report = Report(
                judge_all(envelope, topics, stored), sum(len(rs) for rs in topics.values())
            )
            if report.ok or time.monotonic() >= deadline:
                return report
            time.sleep(2)
    finally:
        if queries is not None:
            queries.close()


def flows_of(ledgers: Iterable[Ledger]) -> list[str]:
    """The flows the ledgers cover, in order of first appearance."""
    return list(dict.fromkeys(g.flow for g in ledgers))
