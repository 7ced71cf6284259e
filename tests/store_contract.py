"""What every read-model backend must do: one test class, run on SQLite and on PostgreSQL.

Subclass ``ReadModelContract`` and give it a ``db_url`` fixture (a fresh, empty database per
test). Events are built by hand: minimal payloads with only the fields the store reads. The
delegation service's decisions (``DelegationDecided``) are built by hand too, with the states
and deadlines written out here: the store copies decisions, it never decides.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from courtbus.errors import ValidationError
from courtbus.store import (
    AlertRow,
    ApplyResult,
    Database,
    DeadLetterRow,
    DelegationRow,
    ReadModelQueries,
    ReadModelWriter,
    StoredEvent,
)
from courtbus.store.batch import PendingRows
from courtbus.store.models import Base, UTCDateTime

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
REQ, EXE, OTHER = "320583", "6101", "4408"
PERSON_ID = "320583199303121234"
PERSON_ID_MASKED = "320583********1234"
BUS = None  # by=None: the bus itself sends the step
DECIDED = "cn.court.bus.delegation.DelegationDecided"
# Deadlines the (test's) delegation service decides from delivery: deliberately not the legal
# defaults, so a test sees they are copied from the decision, not computed by the store.
START_AFTER, REPORT_AFTER = timedelta(days=8), timedelta(days=20)


def event(
    short: str,
    payload: dict[str, Any],
    *,
    by: str | None,
    hours: float = 0,
    flow: str = "delegation",
    event_id: str | None = None,
    key: str | None = None,
) -> StoredEvent:
    """A stored event of ``cn.court.bus.<flow>.<short>`` sent by court ``by`` (None: the bus)."""
    source = f"court:{by}" if by is not None else f"bus:{flow}"
    if by is not None and ":" in by:
        source = by  # a non-court sender, e.g. agency:nia
    return StoredEvent(
        event_id=event_id or str(uuid.uuid4()),
        topic=f"bus.{flow}.events",
        partition=0,
        offset=int(hours * 10),
        record=f"cn.court.bus.{flow}.{short}",
        ce_type=f"cn.court.{flow}.{short.lower()}",
        source=source,
        subject="(2023)苏0583执1234号",
        key=key if key is not None else payload.get("delegation_id"),
        time=T0 + timedelta(hours=hours),
        payload=payload,
    )


def requested(
    did: str = "d-1", req: str = REQ, exe: str = EXE, *, hours: float = 0, **kw: Any
) -> StoredEvent:
    """A DelegationRequested from ``req`` to ``exe`` with a person debtor and an amount."""
    payload = {
        "delegation_id": did,
        "case_number": {"text": "(2023)苏0583执1234号", "court_id": REQ},
        "requesting_court": {"court_id": req, "designation": "苏0583"},
        "executing_court": {"court_id": exe, "designation": "陕01"},
        "matter": "FREEZE",
        "debtor": {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
        "asset_kind": "DEPOSIT",
        "amount": Decimal("12345.60"),
        "requested_at": (T0 + timedelta(hours=hours)).astimezone(CST),
    }
    return event("DelegationRequested", payload, by=req, hours=hours, **kw)


def step(short: str, by: str | None, hours: float, did: str = "d-1", **kw: Any) -> StoredEvent:
    """A later step of delegation ``did`` (only ``delegation_id`` in the payload); the bus's
    DelegationDelivered receipt also says when it delivered."""
    payload: dict[str, Any] = {"delegation_id": did}
    if short == "DelegationDelivered" and by is BUS:
        payload["delivered_at"] = T0 + timedelta(hours=hours, seconds=-5)
    return event(short, payload, by=by, hours=hours, **kw)


def delivered_at(hours: float) -> datetime:
    """When the receipt ``step("DelegationDelivered", BUS, hours)`` says it delivered."""
    return T0 + timedelta(hours=hours, seconds=-5)


def decided(
    about: StoredEvent,
    state: str,
    *,
    applied: bool = True,
    code: str | None = None,
    reason: str | None = None,
    delivered: datetime | None = None,
    courts: tuple[str, str] | None = (REQ, EXE),
    event_id: str | None = None,
    did: str | None = None,
    **payload: Any,
) -> StoredEvent:
    """The delegation service's decision on ``about``: applied (leading to ``state``) or
    refused with ``code``; ``delivered`` gives the deadlines it carries (None: none yet)."""
    kind, _, ident = about.source.partition(":")
    by = ident if kind == "court" else None if kind == "bus" else about.source
    delegation = did or str(about.payload.get("delegation_id") or about.key)
    body: dict[str, Any] = {
        "delegation_id": delegation,
        "step": about.short_name,
        "decided_event_id": about.event_id,
        "applied": applied,
        "state": state,
        "by_court": by,
        "requesting_court": courts[0] if courts else None,
        "executing_court": courts[1] if courts else None,
        "matter": "FREEZE" if courts else None,
        "start_due": delivered + START_AFTER if delivered else None,
        "report_due": delivered + REPORT_AFTER if delivered else None,
        "error_code": code,
        "reason": reason if reason is not None else (f"{code}: refused" if code else None),
        "decided_at": about.time + timedelta(seconds=1),
    }
    body.update(payload)
    return StoredEvent(
        event_id=event_id or str(uuid.uuid4()),
        topic="bus.delegation.events",
        partition=0,
        offset=about.offset + 1,
        record=DECIDED,
        ce_type="cn.court.delegation.decided",
        source="bus:delegation",
        subject=None,
        key=delegation,
        time=about.time + timedelta(seconds=1),
        payload=body,
    )


STATE_AFTER = {
    "DelegationDelivered": "DELIVERED",
    "DelegationAccepted": "ACCEPTED",
    "DelegationRejected": "REJECTED",
    "DelegationProgressReported": "IN_PROGRESS",
    "DelegationCompleted": "COMPLETED",
    "DelegationFailed": "FAILED",
    "DelegationCancelled": "CANCELLED",
}

# Every way through the flow: (steps after the request, final state).
PATHS: list[tuple[list[tuple[str, str | None]], str]] = [
    (
        [
            ("DelegationDelivered", BUS),
            ("DelegationAccepted", EXE),
            ("DelegationProgressReported", EXE),
            ("DelegationProgressReported", EXE),
            ("DelegationCompleted", EXE),
        ],
        "COMPLETED",
    ),
    (
        [("DelegationDelivered", BUS), ("DelegationAccepted", EXE), ("DelegationCompleted", EXE)],
        "COMPLETED",
    ),
    (
        [("DelegationDelivered", BUS), ("DelegationAccepted", EXE), ("DelegationFailed", EXE)],
        "FAILED",
    ),
    (
        [
            ("DelegationDelivered", BUS),
            ("DelegationAccepted", EXE),
            ("DelegationProgressReported", EXE),
            ("DelegationFailed", EXE),
        ],
        "FAILED",
    ),
    ([("DelegationDelivered", BUS), ("DelegationRejected", EXE)], "REJECTED"),
    ([("DelegationCancelled", REQ)], "CANCELLED"),
    ([("DelegationDelivered", BUS), ("DelegationCancelled", REQ)], "CANCELLED"),
    (
        [("DelegationDelivered", BUS), ("DelegationAccepted", EXE), ("DelegationCancelled", REQ)],
        "CANCELLED",
    ),
    (
        [
            ("DelegationDelivered", BUS),
            ("DelegationAccepted", EXE),
            ("DelegationProgressReported", EXE),
            ("DelegationCancelled", REQ),
        ],
        "CANCELLED",
    ),
]

# (steps applied first, the refused step and its sender, the service's code)
REFUSALS: list[tuple[list[tuple[str, str | None]], tuple[str, str | None], str]] = [
    (
        [("DelegationDelivered", BUS), ("DelegationRejected", EXE)],
        ("DelegationCompleted", EXE),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    ([("DelegationDelivered", BUS)], ("DelegationAccepted", OTHER), "DELEGATION_WRONG_COURT"),
    (
        [("DelegationDelivered", BUS)],
        ("DelegationAccepted", "agency:nia"),
        "DELEGATION_WRONG_COURT",
    ),
    ([], ("DelegationAccepted", EXE), "DELEGATION_ILLEGAL_TRANSITION"),
    (
        [("DelegationDelivered", BUS), ("DelegationAccepted", EXE), ("DelegationCompleted", EXE)],
        ("DelegationCancelled", REQ),
        "DELEGATION_ILLEGAL_TRANSITION",
    ),
    ([("DelegationDelivered", BUS)], ("DelegationDelivered", BUS), "DELEGATION_ILLEGAL_TRANSITION"),
]


def flow(
    steps: list[tuple[str, str | None]], did: str = "d-1", *, start: float = 0, **kw: Any
) -> list[StoredEvent]:
    """A delegation's records as they reach the topic: the request, then each step, each
    followed by the service's decision (applied; deadlines once delivered)."""
    req = requested(did, hours=start, **kw)
    records = [req, decided(req, "REQUESTED")]
    delivered: datetime | None = None
    for i, (short, by) in enumerate(steps, start=1):
        ev = step(short, by, start + i, did)
        if short == "DelegationDelivered":
            delivered = delivered_at(start + i)
        records += [ev, decided(ev, STATE_AFTER[short], delivered=delivered)]
    return records


def dead_letter(offset: int = 7, code: str = "AVRO_DECODE_FAILED", **kw: Any) -> DeadLetterRow:
    """A dead letter from ``court.320583.outbox`` partition 1 at ``offset``."""
    values: dict[str, Any] = {
        "source_topic": "court.320583.outbox",
        "source_partition": 1,
        "source_offset": offset,
        "code": code,
        "reason": "Avro body is corrupt",
        "key": b"d-1",
        "value": b"\x00\x00\x00\x00\x07\xff\xfe",
        "dead_at": T0.astimezone(CST),
        "headers": [
            ("ce_id", b"abc"),
            ("ce_type", b"cn.court.delegation.requested"),
            ("bin", bytes(range(256))),
        ],
    }
    values.update(kw)
    return DeadLetterRow(**values)


def steps_of(rm: ReadModelQueries, did: str) -> list[tuple[str, bool, str | None, str | None]]:
    """A delegation's history as (step, applied, state after, error code)."""
    return [(h.record, h.applied, h.state_after, h.error_code) for h in rm.history(did)]


def writer_and_queries(db: Database | str) -> tuple[ReadModelWriter, ReadModelQueries]:
    """The read model's two sides over one ``Database`` (``db``, or one opened at that URL),
    migrated: for a test that writes as the projector does, then reads as the readers do.
    Closing either closes both (their pool is shared)."""
    writer = ReadModelWriter(db)
    writer.migrate()
    return writer, ReadModelQueries(writer.database)


class ReadModelContract:
    """The read model's behaviour; a subclass supplies ``db_url``."""

    @pytest.fixture
    def writer(self, db_url: str) -> Iterator[ReadModelWriter]:
        """The projector's side, migrated; ``queries`` reads through the same ``Database``."""
        writer = ReadModelWriter(db_url)
        writer.migrate()
        yield writer
        writer.close()

    @pytest.fixture
    def queries(self, writer: ReadModelWriter) -> ReadModelQueries:
        return ReadModelQueries(writer.database)

    @pytest.fixture
    def sql(self, db_url: str) -> Iterator[Callable[[str], list[Any]]]:
        """Run raw SQL against the same database (to look at what was really stored)."""
        engine = create_engine(db_url)

        def run(query: str) -> list[Any]:
            with engine.connect() as conn:
                return list(conn.execute(text(query)))

        yield run
        engine.dispose()

    def _apply(self, rm: ReadModelWriter, records: list[StoredEvent]) -> list[ApplyResult]:
        return [rm.apply_event(r) for r in records]

    # -- schema ---------------------------------------------------------------------------

    def test_migrate_twice_from_any_directory(
        self,
        writer: ReadModelWriter,
        queries: ReadModelQueries,
        tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.chdir(tmp_path)  # no alembic.ini anywhere: the package finds its scripts
        writer.migrate()
        assert queries.delegations() == []

    def test_models_match_migrations(self, writer: ReadModelWriter, db_url: str) -> None:
        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    def test_upgrade_from_0001_keeps_what_was_stored(self, db_url: str) -> None:
        writer = ReadModelWriter(db_url)
        queries = ReadModelQueries(writer.database)
        writer.migrate_to("0001")
        req = requested()
        assert writer.apply_event(req) is ApplyResult.APPLIED  # events are the same in 0001
        time = sa.column("time", UTCDateTime())
        delegations = sa.table(
            "delegations",
            *(
                sa.column(c)
                for c in (
                    "delegation_id",
                    "case_number",
                    "requesting_court",
                    "executing_court",
                    "matter",
                    "state",
                    "reported",
                    "last_event_id",
                    "event_count",
                )
            ),
            sa.column("requested_at", UTCDateTime()),
            sa.column("updated_at", UTCDateTime()),
        )
        history = sa.table(
            "delegation_history",
            *(
                sa.column(c)
                for c in ("delegation_id", "event_id", "record", "source", "applied", "state_after")
            ),
            time,
        )
        with writer.database.engine.begin() as conn:
            conn.execute(
                sa.insert(delegations).values(
                    delegation_id="d-1",
                    case_number="(2023)苏0583执1234号",
                    requesting_court=REQ,
                    executing_court=EXE,
                    matter="FREEZE",
                    state="REQUESTED",
                    reported=False,
                    last_event_id=req.event_id,
                    event_count=1,
                    requested_at=T0,
                    updated_at=T0,
                )
            )
            conn.execute(
                sa.insert(history).values(
                    delegation_id="d-1",
                    event_id=req.event_id,
                    record="DelegationRequested",
                    source=f"court:{REQ}",
                    applied=True,
                    state_after="REQUESTED",
                    time=T0,
                )
            )
        writer.migrate()
        row = queries.delegation("d-1")
        assert row is not None and (row.state, row.refusal_code, row.event_count) == (
            "REQUESTED",
            None,
            1,
        )
        [old] = queries.history("d-1")
        assert (old.event_id, old.decision_id, old.reason) == (req.event_id, None, None)
        # the old row already covers the request: its decision changes nothing
        assert writer.apply_event(decided(req, "REQUESTED")) is ApplyResult.DUPLICATE
        ev = step("DelegationCancelled", REQ, 1)
        self._apply(writer, [ev, decided(ev, "CANCELLED")])
        moved = queries.delegation("d-1")
        assert moved is not None and (moved.state, moved.event_count) == ("CANCELLED", 2)
        writer.close()

    # -- delegations from decisions -------------------------------------------------------

    @pytest.mark.parametrize(("steps", "final"), PATHS)
    def test_every_path(
        self,
        writer: ReadModelWriter,
        queries: ReadModelQueries,
        steps: list[tuple[str, str | None]],
        final: str,
    ) -> None:
        records = flow(steps)
        results = self._apply(writer, records)
        assert results == [ApplyResult.APPLIED] * len(records)
        row = queries.delegation("d-1")
        assert row is not None
        assert row.state == final
        assert row.event_count == len(steps) + 1
        assert row.updated_at == T0 + timedelta(hours=len(steps))
        assert (row.refusal_code, row.refusal_reason) == (None, None)
        history = queries.history("d-1")
        assert steps_of(queries, "d-1") == [
            ("DelegationRequested", True, "REQUESTED", None),
            *((s, True, STATE_AFTER[s], None) for s, _ in steps),
        ]
        assert [h.event_id for h in history] == [r.event_id for r in records[::2]]
        assert [h.decision_id for h in history] == [r.event_id for r in records[1::2]]
        assert [h.source for h in history] == [r.source for r in records[::2]]
        assert history[-1].event_id == row.last_event_id
        assert [r.delegation_id for r in queries.delegations()] == ["d-1"]

    def test_requested_row(self, writer: ReadModelWriter, queries: ReadModelQueries) -> None:
        ev = requested()
        assert writer.apply_event(ev) is ApplyResult.APPLIED
        assert queries.delegation("d-1") is None  # the court's request alone: no row yet
        assert writer.apply_event(decided(ev, "REQUESTED")) is ApplyResult.APPLIED
        assert queries.delegation("d-1") == DelegationRow(
            delegation_id="d-1",
            case_number="(2023)苏0583执1234号",
            requesting_court=REQ,
            executing_court=EXE,
            matter="FREEZE",
            asset_kind="DEPOSIT",
            amount=Decimal("12345.60"),
            debtor_name="张三",
            debtor_id_masked=PERSON_ID_MASKED,
            state="REQUESTED",
            reported=False,
            requested_at=T0,
            delivered_at=None,
            start_due=None,
            report_due=None,
            updated_at=T0,
            last_event_id=ev.event_id,
            event_count=1,
            refusal_code=None,
            refusal_reason=None,
        )
        row = queries.delegation("d-1")
        assert row is not None and row.requested_at.utcoffset() == timedelta(0)
        assert queries.delegation("nope") is None

    def test_large_amount_is_exact(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        ev = requested()
        ev.payload["amount"] = Decimal("9999999999999999.99")
        self._apply(writer, [ev, decided(ev, "REQUESTED")])
        row = queries.delegation("d-1")
        assert row is not None and row.amount == Decimal("9999999999999999.99")

    def test_deadlines_and_delivery_come_from_decisions(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        self._apply(writer, flow([("DelegationDelivered", BUS), ("DelegationAccepted", EXE)]))
        row = queries.delegation("d-1")
        assert row is not None
        delivered = delivered_at(1)  # the receipt's delivered_at, not its event time
        assert (row.delivered_at, row.reported) == (delivered, False)
        assert row.start_due == delivered + START_AFTER  # as decided, not the legal 15 days
        assert row.report_due == delivered + REPORT_AFTER
        ev = step("DelegationProgressReported", EXE, 3)
        self._apply(writer, [ev, decided(ev, "IN_PROGRESS", delivered=delivered)])
        after = queries.delegation("d-1")
        assert after is not None and after.reported and after.start_due == row.start_due
        # a later decision that moves the deadlines moves them on the row
        later = step("DelegationProgressReported", EXE, 4)
        moved = delivered + timedelta(days=2)
        self._apply(writer, [later, decided(later, "IN_PROGRESS", delivered=moved)])
        last = queries.delegation("d-1")
        assert last is not None and last.report_due == moved + REPORT_AFTER
        assert last.delivered_at == delivered

    def test_request_decided_straight_to_delivered(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        """A service that delivers in the same step: its receipt, then one decision."""
        req = requested()
        receipt = step("DelegationDelivered", BUS, 0.5)
        records = [req, receipt, decided(req, "DELIVERED", delivered=delivered_at(0.5))]
        assert self._apply(writer, records) == [ApplyResult.APPLIED] * 3
        row = queries.delegation("d-1")
        assert row is not None
        assert (row.state, row.delivered_at, row.event_count) == ("DELIVERED", delivered_at(0.5), 1)
        assert row.start_due == delivered_at(0.5) + START_AFTER
        assert steps_of(queries, "d-1") == [("DelegationRequested", True, "DELIVERED", None)]

    def test_court_steps_alone_change_nothing(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        """No state machine in the store: without decisions no delegation moves."""
        records = flow([("DelegationDelivered", BUS), ("DelegationAccepted", EXE)])[::2]
        assert self._apply(writer, records) == [ApplyResult.APPLIED] * 3
        assert queries.delegations() == []
        assert queries.history("d-1") == []

    def test_refused_request_on_deduction_cap(
        self, writer: ReadModelWriter, queries: ReadModelQueries, sql: Callable[[str], list[Any]]
    ) -> None:
        req = requested()
        refusal = decided(
            req,
            "REFUSED",
            applied=False,
            code="POLICY_DEDUCTION_CAP",
            reason=f"debtor {PERSON_ID} would pass the annual deduction cap of 50000.00",
        )
        assert self._apply(writer, [req, refusal]) == [
            ApplyResult.APPLIED,
            ApplyResult.REFUSED,
        ]
        masked_reason = f"debtor {PERSON_ID_MASKED} would pass the annual deduction cap of 50000.00"
        assert queries.delegation("d-1") == DelegationRow(
            delegation_id="d-1",
            case_number="(2023)苏0583执1234号",
            requesting_court=REQ,
            executing_court=EXE,
            matter="FREEZE",
            asset_kind="DEPOSIT",
            amount=Decimal("12345.60"),
            debtor_name="张三",
            debtor_id_masked=PERSON_ID_MASKED,
            state="REFUSED",
            reported=False,
            requested_at=T0,
            delivered_at=None,
            start_due=None,
            report_due=None,
            updated_at=T0,
            last_event_id=req.event_id,
            event_count=0,
            refusal_code="POLICY_DEDUCTION_CAP",
            refusal_reason=masked_reason,
        )
        [entry] = queries.history("d-1")
        assert (entry.record, entry.applied, entry.error_code, entry.state_after) == (
            "DelegationRequested",
            False,
            "POLICY_DEDUCTION_CAP",
            None,
        )
        assert (entry.reason, entry.decision_id) == (masked_reason, refusal.event_id)
        assert [r.delegation_id for r in queries.delegations(state="REFUSED")] == ["d-1"]
        assert queries.delegations(state="REQUESTED") == []
        assert self._apply(writer, [req, refusal]) == [ApplyResult.DUPLICATE] * 2
        stored = repr(sql("SELECT * FROM delegations")) + repr(sql("SELECT * FROM events"))
        stored += repr(sql("SELECT * FROM delegation_history"))
        assert PERSON_ID not in stored

    @pytest.mark.parametrize(("before", "refused", "code"), REFUSALS)
    def test_refused_step(
        self,
        writer: ReadModelWriter,
        queries: ReadModelQueries,
        before: list[tuple[str, str | None]],
        refused: tuple[str, str | None],
        code: str,
    ) -> None:
        records = flow(before)
        self._apply(writer, records)
        row = queries.delegation("d-1")
        assert row is not None
        bad = step(refused[0], refused[1], 10)
        refusal = decided(bad, row.state, applied=False, code=code)
        assert self._apply(writer, [bad, refusal]) == [
            ApplyResult.APPLIED,
            ApplyResult.REFUSED,
        ]
        assert queries.delegation("d-1") == row
        last = queries.history("d-1")[-1]
        assert (last.event_id, last.record, last.source, last.applied) == (
            bad.event_id,
            refused[0],
            bad.source,
            False,
        )
        assert (last.error_code, last.state_after, last.reason) == (code, None, f"{code}: refused")
        assert writer.apply_event(refusal) is ApplyResult.DUPLICATE
        assert len(queries.history("d-1")) == len(before) + 2

    def test_second_request_for_same_delegation_is_refused(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        self._apply(writer, flow([]))
        row = queries.delegation("d-1")
        again = requested(exe=OTHER, hours=1)
        refusal = decided(again, "REQUESTED", applied=False, code="DELEGATION_DUPLICATE")
        assert writer.apply_event(again) is ApplyResult.APPLIED
        assert writer.apply_event(refusal) is ApplyResult.REFUSED
        assert queries.delegation("d-1") == row
        assert steps_of(queries, "d-1") == [
            ("DelegationRequested", True, "REQUESTED", None),
            ("DelegationRequested", False, None, "DELEGATION_DUPLICATE"),
        ]

    def test_request_applied_after_a_refused_one_replaces_it(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        first = requested()
        self._apply(
            writer,
            [first, decided(first, "REFUSED", applied=False, code="POLICY_DEDUCTION_CAP")],
        )
        retry = requested(exe=OTHER, hours=2)
        retry.payload["amount"] = Decimal("100.00")
        ok = decided(retry, "REQUESTED", courts=(REQ, OTHER))
        assert self._apply(writer, [retry, ok]) == [ApplyResult.APPLIED] * 2
        row = queries.delegation("d-1")
        assert row is not None
        assert (row.state, row.executing_court, row.amount, row.event_count) == (
            "REQUESTED",
            OTHER,
            Decimal("100.00"),
            1,
        )
        assert (row.refusal_code, row.refusal_reason, row.requested_at) == (
            None,
            None,
            T0 + timedelta(hours=2),
        )
        assert [h.applied for h in queries.history("d-1")] == [False, True]

    def test_refused_step_of_unknown_delegation(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        ev = step("DelegationAccepted", EXE, 1, did="ghost")
        refusal = decided(ev, "REFUSED", applied=False, code="DELEGATION_UNKNOWN", courts=None)
        assert self._apply(writer, [ev, refusal]) == [
            ApplyResult.APPLIED,
            ApplyResult.REFUSED,
        ]
        assert queries.delegation("ghost") is None
        [entry] = queries.history("ghost")
        assert (entry.record, entry.error_code, entry.source) == (
            "DelegationAccepted",
            "DELEGATION_UNKNOWN",
            f"court:{EXE}",
        )
        assert writer.apply_event(refusal) is ApplyResult.DUPLICATE

    def test_second_decision_about_a_decided_step_changes_nothing(
        self, writer: ReadModelWriter, queries: ReadModelQueries, sql: Callable[[str], list[Any]]
    ) -> None:
        records = flow([("DelegationDelivered", BUS), ("DelegationAccepted", EXE)])
        self._apply(writer, records)
        before, history = queries.delegation("d-1"), queries.history("d-1")
        accepted = records[-2]
        other = decided(accepted, "IN_PROGRESS", delivered=T0)  # a new ce_id, the same step
        assert writer.apply_event(other) is ApplyResult.DUPLICATE
        assert writer.apply_event(other) is ApplyResult.DUPLICATE
        assert (queries.delegation("d-1"), queries.history("d-1")) == (before, history)
        assert sql(f"SELECT count(*) FROM events WHERE event_id = '{other.event_id}'") == [(1,)]

    def test_replay_of_everything_changes_nothing(
        self, writer: ReadModelWriter, queries: ReadModelQueries, sql: Callable[[str], list[Any]]
    ) -> None:
        done = flow(PATHS[0][0], "d-done")
        cancelled = flow([("DelegationCancelled", REQ)], "d-cancel", start=1)
        capped = requested("d-cap", hours=2)
        bad = step("DelegationCompleted", EXE, 3, "d-cancel")
        listed = event("DebtorListed", {"entry_id": "b-1"}, by=REQ, flow="blacklist")
        stream = [
            *done,
            *cancelled,
            capped,
            decided(capped, "REFUSED", applied=False, code="POLICY_DEDUCTION_CAP"),
            bad,
            decided(bad, "CANCELLED", applied=False, code="DELEGATION_ILLEGAL_TRANSITION"),
            listed,
        ]
        assert ApplyResult.DUPLICATE not in self._apply(writer, stream)

        def snapshot() -> Any:
            tables = ("events", "delegations", "delegation_history")
            return (
                queries.delegations(),
                {d: queries.history(d) for d in ("d-done", "d-cancel", "d-cap")},
                [sql(f"SELECT count(*) FROM {t}") for t in tables],
            )

        first = snapshot()
        assert self._apply(writer, stream) == [ApplyResult.DUPLICATE] * len(stream)
        assert snapshot() == first
        # each delegation stored once, with exactly its steps
        assert [(r.delegation_id, r.state) for r in queries.delegations()] == [
            ("d-done", "COMPLETED"),
            ("d-cancel", "CANCELLED"),
            ("d-cap", "REFUSED"),
        ]
        assert [h[:2] for h in steps_of(queries, "d-done")] == [
            ("DelegationRequested", True),
            ("DelegationDelivered", True),
            ("DelegationAccepted", True),
            ("DelegationProgressReported", True),
            ("DelegationProgressReported", True),
            ("DelegationCompleted", True),
        ]
        assert steps_of(queries, "d-cancel") == [
            ("DelegationRequested", True, "REQUESTED", None),
            ("DelegationCancelled", True, "CANCELLED", None),
            ("DelegationCompleted", False, None, "DELEGATION_ILLEGAL_TRANSITION"),
        ]
        assert steps_of(queries, "d-cap") == [
            ("DelegationRequested", False, None, "POLICY_DEDUCTION_CAP"),
        ]
        assert first[2] == [[(len(stream),)], [(3,)], [(10,)]]

    # -- decisions about steps the read model never stored --------------------------------

    def test_decision_for_a_request_never_stored(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        """Documented choice: the row is made from the decision's own fields; what only the
        request had (case number, debtor, asset, amount) stays empty, and ``requested_at`` is
        the decision's ``decided_at``."""
        lost = requested()  # never reaches the read model (e.g. dead-lettered, or expired)
        decision = decided(lost, "REQUESTED")
        assert writer.apply_event(decision) is ApplyResult.APPLIED
        decided_at = T0 + timedelta(seconds=1)
        assert queries.delegation("d-1") == DelegationRow(
            delegation_id="d-1",
            case_number=None,
            requesting_court=REQ,
            executing_court=EXE,
            matter="FREEZE",
            asset_kind=None,
            amount=None,
            debtor_name=None,
            debtor_id_masked=None,
            state="REQUESTED",
            reported=False,
            requested_at=decided_at,
            delivered_at=None,
            start_due=None,
            report_due=None,
            updated_at=decided_at,
            last_event_id=lost.event_id,
            event_count=1,
        )
        [entry] = queries.history("d-1")
        assert (entry.event_id, entry.record, entry.source, entry.time) == (
            lost.event_id,
            "DelegationRequested",
            f"court:{REQ}",
            decided_at,
        )
        assert writer.apply_event(lost) is ApplyResult.APPLIED  # arriving late: stored only
        assert queries.delegation("d-1") is not None
        ev = step("DelegationDelivered", BUS, 1)
        self._apply(writer, [ev, decided(ev, "DELIVERED", delivered=delivered_at(1))])
        row = queries.delegation("d-1")
        assert row is not None and (row.state, row.event_count) == ("DELIVERED", 2)
        assert writer.apply_event(decision) is ApplyResult.DUPLICATE

    def test_refused_request_never_stored(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        lost = requested()
        refusal = decided(lost, "REFUSED", applied=False, code="POLICY_DEDUCTION_CAP")
        assert writer.apply_event(refusal) is ApplyResult.REFUSED
        row = queries.delegation("d-1")
        assert row is not None
        assert (row.state, row.refusal_code, row.case_number, row.event_count) == (
            "REFUSED",
            "POLICY_DEDUCTION_CAP",
            None,
            0,
        )
        # without courts and matter there is nothing to show as a row: history only
        nameless = requested("d-2")
        bare = decided(nameless, "REFUSED", applied=False, code="SOURCE_NOT_PARTY", courts=None)
        assert writer.apply_event(bare) is ApplyResult.REFUSED
        assert queries.delegation("d-2") is None
        assert steps_of(queries, "d-2") == [
            ("DelegationRequested", False, None, "SOURCE_NOT_PARTY"),
        ]

    def test_applied_decision_for_unknown_delegation_without_courts_is_refused_outright(
        self, writer: ReadModelWriter, queries: ReadModelQueries, sql: Callable[[str], list[Any]]
    ) -> None:
        ev = step("DelegationAccepted", EXE, 1, did="ghost")
        writer.apply_event(ev)
        decision = decided(ev, "ACCEPTED", courts=None)
        with pytest.raises(ValidationError) as err:
            writer.apply_event(decision)
        assert err.value.code == "DELEGATION_DECISION_INVALID"
        assert queries.delegation("ghost") is None
        assert queries.history("ghost") == []
        assert sql(f"SELECT count(*) FROM events WHERE event_id = '{decision.event_id}'") == [(0,)]
        # with the courts and matter in the decision, the row is made from it
        assert writer.apply_event(decided(ev, "ACCEPTED")) is ApplyResult.APPLIED
        row = queries.delegation("ghost")
        assert row is not None and (row.state, row.case_number) == ("ACCEPTED", None)

    def test_decision_naming_another_step_is_refused_outright(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        req = requested()
        self._apply(writer, [req, decided(req, "REQUESTED")])
        wrong_step = decided(req, "ACCEPTED", step="DelegationAccepted")
        other_delegation = decided(req, "REQUESTED", did="d-2")
        for bad in (wrong_step, other_delegation):
            with pytest.raises(ValidationError) as err:
                writer.apply_event(bad)
            assert err.value.code == "DELEGATION_DECISION_MISMATCH"
        assert queries.delegation("d-2") is None
        assert len(queries.history("d-1")) == 1

    def test_request_values_that_cannot_be_stored(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        """Applied: refused outright (the service took what we cannot keep). Refused: the
        refusal is kept, without the unusable values (it may be why it was refused)."""
        req = requested()
        req.payload["amount"] = Decimal("1E+20")
        req.payload["asset_kind"] = "X" * 33
        writer.apply_event(req)
        with pytest.raises(ValidationError) as err:
            writer.apply_event(decided(req, "REQUESTED"))
        assert err.value.code == "DELEGATION_PAYLOAD_INVALID"
        assert queries.delegation("d-1") is None
        refusal = decided(req, "REFUSED", applied=False, code="DELEGATION_PAYLOAD_INVALID")
        assert writer.apply_event(refusal) is ApplyResult.REFUSED
        row = queries.delegation("d-1")
        assert row is not None
        assert (row.state, row.amount, row.asset_kind, row.case_number) == (
            "REFUSED",
            None,
            None,
            "(2023)苏0583执1234号",
        )

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            ({"step": None}, "DELEGATION_DECISION_INVALID"),
            ({"decided_event_id": ""}, "DELEGATION_DECISION_INVALID"),
            ({"state": None}, "DELEGATION_DECISION_INVALID"),
            ({"state": "X" * 17}, "DELEGATION_DECISION_INVALID"),
            ({"applied": "yes"}, "DELEGATION_DECISION_INVALID"),
            ({"decided_at": datetime(2024, 3, 1)}, "DELEGATION_DECISION_INVALID"),
            ({"decided_at": None}, "DELEGATION_DECISION_INVALID"),
            ({"start_due": "soon"}, "DELEGATION_DECISION_INVALID"),
            ({"error_code": "E" * 65}, "DELEGATION_DECISION_INVALID"),
            ({"requesting_court": "1" * 17}, "DELEGATION_DECISION_INVALID"),
        ],
    )
    def test_unusable_decision_is_refused_outright(
        self, writer: ReadModelWriter, queries: ReadModelQueries, change: dict[str, Any], code: str
    ) -> None:
        req = requested()
        writer.apply_event(req)
        bad = decided(req, "REQUESTED")
        bad.payload.update(change)
        with pytest.raises(ValidationError) as err:
            writer.apply_event(bad)
        assert err.value.code == code
        assert queries.delegation("d-1") is None
        assert writer.apply_event(decided(req, "REQUESTED")) is ApplyResult.APPLIED

    def test_decision_delegation_from_key_or_refused_outright(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        req = requested()
        writer.apply_event(req)
        keyed = decided(req, "REQUESTED", delegation_id=None)
        assert writer.apply_event(keyed) is ApplyResult.APPLIED
        assert queries.delegation("d-1") is not None
        ev = step("DelegationCancelled", REQ, 1)
        writer.apply_event(ev)
        nameless = decided(ev, "CANCELLED", delegation_id=None)
        nameless = StoredEvent(**{**_fields(nameless), "key": ""})
        with pytest.raises(ValidationError) as err:
            writer.apply_event(nameless)
        assert err.value.code == "DELEGATION_ID_MISSING"
        assert len(queries.history("d-1")) == 1

    def test_history_is_ordered_by_step_time(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        records = flow([("DelegationDelivered", BUS)])
        records[2] = step("DelegationDelivered", BUS, 2)
        records[3] = decided(records[2], "DELIVERED", delivered=delivered_at(2))
        self._apply(writer, records)
        late = step("DelegationAccepted", OTHER, 1)  # decided last, sent second
        refusal = decided(late, "DELIVERED", applied=False, code="DELEGATION_WRONG_COURT")
        assert self._apply(writer, [late, refusal])[-1] is ApplyResult.REFUSED
        records_seen = [(h.record, h.applied) for h in queries.history("d-1")]
        assert records_seen == [
            ("DelegationRequested", True),
            ("DelegationAccepted", False),
            ("DelegationDelivered", True),
        ]

    def test_delegations_filtered_and_ordered(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        for did, req, exe, hours in (
            ("d-late", REQ, EXE, 5),
            ("d-early", EXE, OTHER, 1),
            ("d-other", OTHER, "3205", 3),
        ):
            ev = requested(did, req, exe, hours=hours)
            self._apply(writer, [ev, decided(ev, "REQUESTED", courts=(req, exe))])
        cancel = step("DelegationCancelled", OTHER, 4, did="d-other")
        self._apply(writer, [cancel, decided(cancel, "CANCELLED", courts=(OTHER, "3205"))])

        def ids(rows: list[DelegationRow]) -> list[str]:
            return [r.delegation_id for r in rows]

        assert ids(queries.delegations()) == ["d-early", "d-other", "d-late"]
        assert ids(queries.delegations(court=EXE)) == ["d-early", "d-late"]
        assert ids(queries.delegations(court=OTHER)) == ["d-early", "d-other"]
        assert ids(queries.delegations(state="CANCELLED")) == ["d-other"]
        assert ids(queries.delegations(court=OTHER, state="REQUESTED")) == ["d-early"]
        assert queries.delegations(court="11") == []

    # -- other flows, payloads, personal data ---------------------------------------------

    def test_other_flows_are_stored_once(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        listed = event(
            "DebtorListed",
            {"entry_id": "b-1", "debtor": {"kind": "PERSON", "id_number": PERSON_ID}},
            by=REQ,
            flow="blacklist",
        )
        assert writer.apply_event(listed) is ApplyResult.APPLIED
        assert writer.apply_event(listed) is ApplyResult.DUPLICATE
        assert queries.delegations() == []
        assert queries.history("b-1") == []

    def test_payload_stored_as_json_with_ids_masked(
        self, writer: ReadModelWriter, sql: Callable[[str], list[Any]]
    ) -> None:
        ev = event(
            "DistributionClaimFiled",
            {
                "when": T0,
                "day": date(2024, 3, 1),
                "amount": Decimal("1.50"),
                "raw": b"\x00\xff",
                "debtors": [{"name": "张三", "id_number": PERSON_ID}],
                "note": None,
            },
            by=REQ,
            flow="distribution",
        )
        writer.apply_event(ev)
        self._apply(writer, flow([]))
        [(payload,)] = sql(f"SELECT payload FROM events WHERE event_id = '{ev.event_id}'")
        assert json.loads(payload) == {
            "when": "2024-03-01T09:00:00+00:00",
            "day": "2024-03-01",
            "amount": "1.50",
            "raw": "AP8=",
            "debtors": [{"name": "张三", "id_number": PERSON_ID_MASKED}],
            "note": None,
        }
        stored = repr(sql("SELECT * FROM events")) + repr(sql("SELECT * FROM delegations"))
        assert PERSON_ID not in stored
        assert PERSON_ID_MASKED in stored

    # -- dead letters and alerts ----------------------------------------------------------

    def test_dead_letters_idempotent_and_round_trip(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        first = dead_letter(7)
        assert writer.apply_dead_letter(first) is True
        assert writer.apply_dead_letter(first) is False
        assert writer.apply_dead_letter(dead_letter(7, code="OTHER")) is False
        assert writer.apply_dead_letter(dead_letter(8, code="HEADER_MISSING", key=None))
        stored = queries.dead_letters()
        assert [d.source_offset for d in stored] == [7, 8]
        got = stored[0]
        assert got.id is not None
        assert got == DeadLetterRow(
            first.source_topic,
            first.source_partition,
            first.source_offset,
            first.code,
            first.reason,
            first.key,
            first.value,
            first.headers,
            T0,
            id=got.id,
        )
        assert queries.dead_letter(got.id) == got
        assert queries.dead_letter(stored[1].id or 0) == stored[1]
        assert stored[1].key is None
        assert queries.dead_letter(10**9) is None
        assert [d.source_offset for d in queries.dead_letters(code="HEADER_MISSING")] == [8]
        assert queries.dead_letters(code="NOPE") == []

    def test_dead_letter_reason_masks_ids(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        writer.apply_dead_letter(dead_letter(reason=f"bad debtor {PERSON_ID}"))
        [got] = queries.dead_letters()
        assert got.reason == f"bad debtor {PERSON_ID_MASKED}"

    def test_alerts_idempotent_and_ordered(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        late = AlertRow("a-2", "OVERDUE", "d-1", EXE, "start deadline passed", T0 + timedelta(1))
        early = AlertRow("a-1", "BROKER_DOWN", None, None, "broker 2 down", T0.astimezone(CST))
        assert writer.apply_alert(late) is True
        assert writer.apply_alert(early) is True
        assert writer.apply_alert(late) is False
        assert writer.apply_alert(AlertRow("a-1", "X", None, None, "changed", T0)) is False
        assert queries.alerts() == [
            AlertRow("a-1", "BROKER_DOWN", None, None, "broker 2 down", T0),
            late,
        ]

    # -- concurrency ----------------------------------------------------------------------

    def _race(self, db_url: str, events: list[StoredEvent]) -> list[ApplyResult]:
        models = [ReadModelWriter(db_url) for _ in events]
        barrier = threading.Barrier(len(events))
        results: list[ApplyResult | BaseException] = [ApplyResult.APPLIED] * len(events)

        def go(i: int) -> None:
            try:
                barrier.wait()
                results[i] = models[i].apply_event(events[i])
            except BaseException as exc:  # reported below
                results[i] = exc

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(events))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for m in models:
            m.close()
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return sorted(r for r in results if isinstance(r, ApplyResult))

    def test_a_batch_commits_once_and_a_failed_record_loses_only_its_own_writes(
        self, writer: ReadModelWriter, queries: ReadModelQueries, sql: Callable[[str], list[Any]]
    ) -> None:
        req, ghost = requested(), step("DelegationAccepted", EXE, 1, did="ghost")
        writer.begin_batch()
        assert writer.apply_event(req) is ApplyResult.APPLIED
        writer.apply_event(ghost)
        with pytest.raises(ValidationError):  # refused inside the batch: its savepoint only
            writer.apply_event(decided(ghost, "ACCEPTED", courts=None))
        assert writer.apply_event(decided(req, "REQUESTED")) is ApplyResult.APPLIED
        assert queries.delegation("d-1") is None  # other connections see nothing yet
        writer.commit_batch()
        row = queries.delegation("d-1")
        assert row is not None and row.state == "REQUESTED"
        assert sql("SELECT count(*) FROM events") == [(3,)]  # req, ghost, the good decision
        writer.begin_batch()
        writer.apply_event(decided(ghost, "ACCEPTED"))
        writer.rollback_batch()  # an abandoned batch leaves nothing
        assert queries.delegation("ghost") is None
        assert sql("SELECT count(*) FROM events") == [(3,)]
        writer.commit_batch()  # no batch open: nothing to do

    def test_concurrent_appliers_apply_a_decision_once(
        self, writer: ReadModelWriter, queries: ReadModelQueries, db_url: str
    ) -> None:
        for n in range(4):
            did = f"d-{n}"
            req = requested(did)
            writer.apply_event(req)
            decision = decided(req, "REQUESTED")
            assert self._race(db_url, [decision] * 3) == [
                ApplyResult.APPLIED,
                ApplyResult.DUPLICATE,
                ApplyResult.DUPLICATE,
            ]
            assert len(queries.history(did)) == 1

    def test_concurrent_decisions_about_one_step_decide_it_once(
        self, writer: ReadModelWriter, queries: ReadModelQueries, db_url: str
    ) -> None:
        for n in range(4):
            did = f"r-{n}"
            req = requested(did)
            writer.apply_event(req)
            results = self._race(db_url, [decided(req, "REQUESTED"), decided(req, "REQUESTED")])
            assert results == [ApplyResult.APPLIED, ApplyResult.DUPLICATE]
            assert steps_of(queries, did) == [("DelegationRequested", True, "REQUESTED", None)]
            row = queries.delegation(did)
            assert row is not None and row.event_count == 1

    # -- the dishonest-debtor list ---------------------------------------------------------

    @staticmethod
    def _entry(eid: str, version: int, court: str = "320583", **change: Any) -> dict[str, Any]:
        t = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
        base: dict[str, Any] = {
            "entry_id": eid,
            "status": "ACTIVE",
            "version": version,
            "case_number": {
                "text": "(2024)苏0583执100号",
                "year": 2024,
                "court_id": court,
                "type_code": "执",
                "sequence": 100,
            },
            "listing_court": {"court_id": court, "designation": "苏0583"},
            "debtor": {
                "kind": "PERSON",
                "name": "张三",
                "id_number": "320583199303121234",
                "id_type": None,
                "nationality": None,
            },
            "ground": "EVADED_EXECUTION",
            "serious": False,
            "period_months": 24,
            "listed_at": t,
            "expires_at": t + timedelta(days=730),
            "updated_at": t,
            "delisted_at": None,
            "reason": None,
            "obligation": "给付",
        }
        return base | change

    def test_blacklist_entries_upsert_by_version_and_leave_on_a_tombstone(
        self, writer: ReadModelWriter, queries: ReadModelQueries
    ) -> None:
        assert writer.apply_blacklist_entry("bl-1", self._entry("bl-1", 1))
        assert writer.apply_blacklist_entry("bl-2", self._entry("bl-2", 1, court="4408"))
        later = self._entry("bl-1", 2, status="DELISTED", reason="PERFORMED")
        assert writer.apply_blacklist_entry("bl-1", later)
        assert not writer.apply_blacklist_entry("bl-1", self._entry("bl-1", 1))  # a replay
        row = queries.blacklist_entry("bl-1")
        assert row is not None
        assert (row.status, row.reason, row.version, row.province) == (
            "DELISTED",
            "PERFORMED",
            2,
            "32",
        )
        assert row.entry["obligation"] == "给付"
        assert [r.entry_id for r in queries.blacklist_entries(status="ACTIVE")] == ["bl-2"]
        assert [r.entry_id for r in queries.blacklist_entries(provinces=("44",))] == ["bl-2"]
        assert [r.entry_id for r in queries.blacklist_entries(courts=("320583",))] == ["bl-1"]
        assert len(queries.blacklist_entries(debtor_id="320583199303121234")) == 2
        assert writer.apply_blacklist_entry("bl-1", None)
        assert not writer.apply_blacklist_entry("bl-1", None)
        assert queries.blacklist_entry("bl-1") is None

    # -- batches written together (the projector's end_batch) --------------------------------

    @staticmethod
    def _every_kind() -> list[tuple[str, Any]]:
        """Records of every kind the projector writes, with replays and refusals among them."""
        items: list[tuple[str, Any]] = []
        for n, (steps, _final) in enumerate(PATHS):
            items += [("event", r) for r in flow(steps, did=f"p-{n}", start=n)]
        for n, (before, (short, by), code) in enumerate(REFUSALS):
            records = flow(before, did=f"r-{n}")
            refused = step(short, by, len(before) + 1, did=f"r-{n}")
            records += [refused, decided(refused, "X", applied=False, code=code)]
            items += [("event", r) for r in records]
        again = requested("p-0")  # another request under an existing id, refused
        items += [
            ("event", again),
            ("event", decided(again, "REFUSED", applied=False, code="DELEGATION_DUPLICATE")),
        ]
        items += [("event", r) for r in flow([], did="p-1")[:2]]  # a replay
        entry = ReadModelContract._entry
        items += [
            ("entry", ("bl-1", entry("bl-1", 1))),
            ("entry", ("bl-2", entry("bl-2", 1))),
            ("entry", ("bl-1", entry("bl-1", 3, status="DELISTED"))),
            ("entry", ("bl-1", entry("bl-1", 2))),
            ("entry", ("bl-2", None)),
            ("entry", ("bl-2", entry("bl-2", 1, reason="again"))),
            ("entry", ("bl-3", None)),
            ("dead", dead_letter(1)),
            ("dead", dead_letter(2)),
            ("dead", dead_letter(1)),
            ("alert", AlertRow("a-1", "OVERDUE", "p-0", None, f"debtor {PERSON_ID}", T0)),
            ("alert", AlertRow("a-1", "OVERDUE", "p-0", None, "again", T0)),
        ]
        return items

    @staticmethod
    def _dump(db_url: str) -> dict[str, list[str]]:
        """Every table's rows (surrogate ids left out), sorted, as text."""
        engine = create_engine(db_url)
        found: dict[str, list[str]] = {}
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                columns = [c for c in table.columns if c.name != "id"]
                rows = conn.execute(sa.select(*columns)).all()
                found[table.name] = sorted(repr(tuple(r)) for r in rows)
        engine.dispose()
        return found

    @staticmethod
    def _wipe(db_url: str) -> None:
        engine = create_engine(db_url)
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        engine.dispose()

    def test_a_batch_writes_what_records_one_at_a_time_write(
        self, writer: ReadModelWriter, db_url: str
    ) -> None:
        items = self._every_kind()
        for kind, item in items:
            try:
                if kind == "event":
                    writer.apply_event(item)
                elif kind == "entry":
                    writer.apply_blacklist_entry(*item)
                elif kind == "dead":
                    writer.apply_dead_letter(item)
                else:
                    writer.apply_alert(item)
            except ValidationError:
                pytest.fail(f"{item} was refused")
        one_at_a_time = self._dump(db_url)
        assert one_at_a_time["delegation_history"] and one_at_a_time["blacklist_entries"]
        self._wipe(db_url)
        pending = PendingRows()
        for kind, item in items:
            if kind == "event":
                pending.add_event(item)
            elif kind == "entry":
                pending.add_blacklist_entry(*item)
            elif kind == "dead":
                pending.add_dead_letter(item)
            else:
                pending.add_alert(item)
        writer.begin_batch()
        writer.write_batch(pending)
        writer.commit_batch()
        assert self._dump(db_url) == one_at_a_time
        writer.write_batch(pending)  # a replay of the whole batch, in its own transaction
        assert self._dump(db_url) == one_at_a_time

    def test_a_batch_that_fails_keeps_nothing(
        self, writer: ReadModelWriter, queries: ReadModelQueries, sql: Callable[[str], list[Any]]
    ) -> None:
        req, ghost = requested(), step("DelegationAccepted", EXE, 1, did="ghost")
        pending = PendingRows()
        for ev in (req, decided(req, "REQUESTED"), ghost, decided(ghost, "ACCEPTED", courts=None)):
            pending.add_event(ev)
        pending.add_blacklist_entry("bl-1", self._entry("bl-1", 1))
        writer.begin_batch()
        with pytest.raises(ValidationError) as err:  # known only against the database
            writer.write_batch(pending)
        assert err.value.code == "DELEGATION_DECISION_INVALID"
        writer.rollback_batch()
        assert sql("SELECT count(*) FROM events") == [(0,)]
        assert queries.delegation("d-1") is None and queries.blacklist_entry("bl-1") is None

    def test_rows_a_batch_refuses_at_once(self) -> None:
        pending = PendingRows()
        nameless = decided(requested(), "REQUESTED", did="", delegation_id=None)
        with pytest.raises(ValidationError) as err:
            pending.add_event(replace(nameless, key=None))
        assert err.value.code == "DELEGATION_ID_MISSING"
        mark = pending.mark()
        pending.add_event(requested())
        pending.undo(mark)
        assert len(pending) == 0


def _fields(ev: StoredEvent) -> dict[str, Any]:
    return {f: getattr(ev, f) for f in StoredEvent.__dataclass_fields__}
