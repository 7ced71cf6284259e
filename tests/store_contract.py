"""What every read-model backend must do: one test class, run on SQLite and on PostgreSQL.

Subclass ``ReadModelContract`` and give it a ``db_url`` fixture (a fresh, empty database per
test). Events are built by hand: minimal payloads with only the fields the store reads.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from courtbus.errors import ValidationError
from courtbus.store import (
    AlertRow,
    ApplyResult,
    DeadLetterRow,
    DelegationRow,
    ReadModel,
    StoredEvent,
)
from courtbus.store.models import Base

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
REQ, EXE, OTHER = "320583", "6101", "4408"
PERSON_ID = "320583199303121234"
PERSON_ID_MASKED = "320583********1234"
BUS = None  # by=None: the bus itself sends the step


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
    """A later step of delegation ``did`` (only ``delegation_id`` in the payload)."""
    return event(short, {"delegation_id": did}, by=by, hours=hours, **kw)


# Every way through the state machine: (steps after the request, final state).
PATHS: list[tuple[list[tuple[str, str | None]], str]] = [
    (
        [("DelegationDelivered", BUS), ("DelegationAccepted", EXE),
         ("DelegationProgressReported", EXE), ("DelegationProgressReported", EXE),
         ("DelegationCompleted", EXE)],
        "COMPLETED",
    ),
    ([("DelegationDelivered", BUS), ("DelegationAccepted", EXE), ("DelegationCompleted", EXE)],
     "COMPLETED"),
    ([("DelegationDelivered", BUS), ("DelegationAccepted", EXE), ("DelegationFailed", EXE)],
     "FAILED"),
    ([("DelegationDelivered", BUS), ("DelegationAccepted", EXE),
      ("DelegationProgressReported", EXE), ("DelegationFailed", EXE)], "FAILED"),
    ([("DelegationDelivered", BUS), ("DelegationRejected", EXE)], "REJECTED"),
    ([("DelegationCancelled", REQ)], "CANCELLED"),
    ([("DelegationDelivered", BUS), ("DelegationCancelled", REQ)], "CANCELLED"),
    ([("DelegationDelivered", BUS), ("DelegationAccepted", EXE), ("DelegationCancelled", REQ)],
     "CANCELLED"),
    ([("DelegationDelivered", BUS), ("DelegationAccepted", EXE),
      ("DelegationProgressReported", EXE), ("DelegationCancelled", REQ)], "CANCELLED"),
]  # fmt: skip

# (steps that succeed first, the refused step and its sender, the domain's code)
REFUSALS: list[tuple[list[tuple[str, str | None]], tuple[str, str | None], str]] = [
    ([("DelegationDelivered", BUS), ("DelegationRejected", EXE)],
     ("DelegationCompleted", EXE), "DELEGATION_ILLEGAL_TRANSITION"),
    ([("DelegationDelivered", BUS)], ("DelegationAccepted", OTHER), "DELEGATION_WRONG_COURT"),
    ([("DelegationDelivered", BUS)], ("DelegationAccepted", "agency:nia"),
     "DELEGATION_WRONG_COURT"),
    ([], ("DelegationDelivered", EXE), "DELEGATION_WRONG_COURT"),
    ([], ("DelegationAccepted", EXE), "DELEGATION_ILLEGAL_TRANSITION"),
    ([("DelegationDelivered", BUS), ("DelegationAccepted", EXE), ("DelegationCompleted", EXE)],
     ("DelegationCancelled", REQ), "DELEGATION_ILLEGAL_TRANSITION"),
    ([("DelegationDelivered", BUS)], ("DelegationCancelled", EXE), "DELEGATION_WRONG_COURT"),
    ([("DelegationDelivered", BUS)], ("DelegationDelivered", BUS),
     "DELEGATION_ILLEGAL_TRANSITION"),
]  # fmt: skip


def dead_letter(offset: int = 7, code: str = "AVRO_DECODE_FAILED", **kw: Any) -> DeadLetterRow:
    """A dead letter from ``court.320583.outbox`` partition 1 at ``offset``."""
    values: dict[str, Any] = {
        "source_topic": "court.320583.outbox", "source_partition": 1, "source_offset": offset,
        "code": code, "reason": "Avro body is corrupt", "key": b"d-1",
        "value": b"\x00\x00\x00\x00\x07\xff\xfe", "dead_at": T0.astimezone(CST),
        "headers": [("ce_id", b"abc"), ("ce_type", b"cn.court.delegation.requested"),
                    ("bin", bytes(range(256)))],
    }  # fmt: skip
    values.update(kw)
    return DeadLetterRow(**values)


class ReadModelContract:
    """The read model's behaviour; a subclass supplies ``db_url``."""

    @pytest.fixture
    def read_model(self, db_url: str) -> Iterator[ReadModel]:
        model = ReadModel(db_url)
        model.migrate()
        yield model
        model.close()

    @pytest.fixture
    def sql(self, db_url: str) -> Iterator[Callable[[str], list[Any]]]:
        """Run raw SQL against the same database (to look at what was really stored)."""
        engine = create_engine(db_url)

        def run(query: str) -> list[Any]:
            with engine.connect() as conn:
                return list(conn.execute(text(query)))

        yield run
        engine.dispose()

    def _run(self, rm: ReadModel, steps: list[tuple[str, str | None]]) -> None:
        assert rm.apply_event(requested()) is ApplyResult.APPLIED
        for i, (short, by) in enumerate(steps, start=1):
            assert rm.apply_event(step(short, by, i)) is ApplyResult.APPLIED, short

    # -- schema ---------------------------------------------------------------------------

    def test_migrate_twice_from_any_directory(
        self, read_model: ReadModel, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)  # no alembic.ini anywhere: the package finds its scripts
        read_model.migrate()
        assert read_model.delegations() == []

    def test_models_match_migrations(self, read_model: ReadModel, db_url: str) -> None:
        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    # -- the state machine ----------------------------------------------------------------

    @pytest.mark.parametrize(("steps", "final"), PATHS)
    def test_every_path(
        self, read_model: ReadModel, steps: list[tuple[str, str | None]], final: str
    ) -> None:
        self._run(read_model, steps)
        row = read_model.delegation("d-1")
        assert row is not None
        assert row.state == final
        assert row.event_count == len(steps) + 1
        assert row.updated_at == T0 + timedelta(hours=len(steps))
        history = read_model.history("d-1")
        assert [h.record for h in history] == ["DelegationRequested", *(s for s, _ in steps)]
        assert all(h.applied and h.error_code is None for h in history)
        assert history[-1].state_after == final
        assert history[-1].event_id == row.last_event_id

    def test_requested_row(self, read_model: ReadModel) -> None:
        ev = requested()
        assert read_model.apply_event(ev) is ApplyResult.APPLIED
        assert read_model.delegation("d-1") == DelegationRow(
            delegation_id="d-1", case_number="(2023)苏0583执1234号", requesting_court=REQ,
            executing_court=EXE, matter="FREEZE", asset_kind="DEPOSIT",
            amount=Decimal("12345.60"), debtor_name="张三", debtor_id_masked=PERSON_ID_MASKED,
            state="REQUESTED", reported=False, requested_at=T0, delivered_at=None,
            start_due=None, report_due=None, updated_at=T0, last_event_id=ev.event_id,
            event_count=1,
        )  # fmt: skip
        row = read_model.delegation("d-1")
        assert row is not None and row.requested_at.utcoffset() == timedelta(0)
        assert read_model.delegation("nope") is None

    def test_large_amount_is_exact(self, read_model: ReadModel) -> None:
        ev = requested()
        ev.payload["amount"] = Decimal("9999999999999999.99")
        read_model.apply_event(ev)
        row = read_model.delegation("d-1")
        assert row is not None and row.amount == Decimal("9999999999999999.99")

    def test_delivery_sets_deadlines_and_reports_settle(self, read_model: ReadModel) -> None:
        self._run(read_model, [("DelegationDelivered", BUS), ("DelegationAccepted", EXE)])
        row = read_model.delegation("d-1")
        assert row is not None
        delivered = T0 + timedelta(hours=1)
        assert (row.delivered_at, row.reported) == (delivered, False)
        assert row.start_due == delivered + timedelta(days=15)
        assert row.report_due == delivered + timedelta(days=30)
        read_model.apply_event(step("DelegationProgressReported", EXE, 3))
        after = read_model.delegation("d-1")
        assert after is not None and after.reported and after.start_due == row.start_due

    def test_duplicate_event_changes_nothing(self, read_model: ReadModel) -> None:
        self._run(read_model, [("DelegationDelivered", BUS)])
        again = step("DelegationAccepted", EXE, 2)
        assert read_model.apply_event(again) is ApplyResult.APPLIED
        before, history = read_model.delegation("d-1"), read_model.history("d-1")
        for _ in range(2):
            assert read_model.apply_event(again) is ApplyResult.DUPLICATE
        assert read_model.delegation("d-1") == before
        assert read_model.history("d-1") == history
        assert len(history) == 3

    @pytest.mark.parametrize(("before", "refused", "code"), REFUSALS)
    def test_refused_step(
        self,
        read_model: ReadModel,
        before: list[tuple[str, str | None]],
        refused: tuple[str, str | None],
        code: str,
    ) -> None:
        self._run(read_model, before)
        row = read_model.delegation("d-1")
        bad = step(refused[0], refused[1], 10)
        assert read_model.apply_event(bad) is ApplyResult.REFUSED
        assert read_model.delegation("d-1") == row
        last = read_model.history("d-1")[-1]
        assert (last.event_id, last.applied, last.error_code, last.state_after) == (
            bad.event_id, False, code, None,
        )  # fmt: skip
        assert read_model.apply_event(bad) is ApplyResult.DUPLICATE
        assert len(read_model.history("d-1")) == len(before) + 2

    def test_second_request_for_same_delegation_is_refused(self, read_model: ReadModel) -> None:
        read_model.apply_event(requested())
        row = read_model.delegation("d-1")
        assert read_model.apply_event(requested(exe=OTHER, hours=1)) is ApplyResult.REFUSED
        assert read_model.delegation("d-1") == row
        assert read_model.history("d-1")[-1].error_code == "DELEGATION_DUPLICATE"

    def test_self_delegation_is_refused(self, read_model: ReadModel) -> None:
        assert read_model.apply_event(requested(exe=REQ)) is ApplyResult.REFUSED
        assert read_model.delegation("d-1") is None
        [entry] = read_model.history("d-1")
        assert (entry.applied, entry.error_code) == (False, "DELEGATION_SELF")

    def test_unknown_delegation_is_refused(self, read_model: ReadModel) -> None:
        ev = step("DelegationAccepted", EXE, 1, did="ghost")
        assert read_model.apply_event(ev) is ApplyResult.REFUSED
        assert read_model.delegation("ghost") is None
        [entry] = read_model.history("ghost")
        assert (entry.record, entry.error_code, entry.source) == (
            "DelegationAccepted", "DELEGATION_UNKNOWN", f"court:{EXE}",
        )  # fmt: skip
        assert read_model.apply_event(ev) is ApplyResult.DUPLICATE

    def test_delegation_record_that_is_no_step_is_refused(self, read_model: ReadModel) -> None:
        read_model.apply_event(requested())
        ev = step("DelegationNoteAdded", REQ, 1)
        assert read_model.apply_event(ev) is ApplyResult.REFUSED
        assert read_model.history("d-1")[-1].error_code == "DELEGATION_STEP_UNKNOWN"

    def test_delegation_id_from_key_or_refused_outright(self, read_model: ReadModel) -> None:
        read_model.apply_event(requested())
        keyed = event("DelegationDelivered", {}, by=BUS, hours=1, key="d-1")
        assert read_model.apply_event(keyed) is ApplyResult.APPLIED
        nameless = event("DelegationAccepted", {}, by=EXE, hours=2, key="")
        with pytest.raises(ValidationError) as err:
            read_model.apply_event(nameless)
        assert err.value.code == "DELEGATION_ID_MISSING"
        assert len(read_model.history("d-1")) == 2

    def test_history_is_ordered_by_event_time(self, read_model: ReadModel) -> None:
        read_model.apply_event(requested())
        read_model.apply_event(step("DelegationDelivered", BUS, 2))
        late = step("DelegationAccepted", OTHER, 1)  # arrives last, happened second
        assert read_model.apply_event(late) is ApplyResult.REFUSED
        records = [(h.record, h.applied) for h in read_model.history("d-1")]
        assert records == [
            ("DelegationRequested", True), ("DelegationAccepted", False),
            ("DelegationDelivered", True),
        ]  # fmt: skip

    def test_delegations_filtered_and_ordered(self, read_model: ReadModel) -> None:
        read_model.apply_event(requested("d-late", REQ, EXE, hours=5))
        read_model.apply_event(requested("d-early", EXE, OTHER, hours=1))
        read_model.apply_event(requested("d-other", OTHER, "3205", hours=3))
        read_model.apply_event(step("DelegationCancelled", OTHER, 4, did="d-other"))
        ids = lambda rows: [r.delegation_id for r in rows]  # noqa: E731
        assert ids(read_model.delegations()) == ["d-early", "d-other", "d-late"]
        assert ids(read_model.delegations(court=EXE)) == ["d-early", "d-late"]
        assert ids(read_model.delegations(court=OTHER)) == ["d-early", "d-other"]
        assert ids(read_model.delegations(state="CANCELLED")) == ["d-other"]
        assert ids(read_model.delegations(court=OTHER, state="REQUESTED")) == ["d-early"]
        assert read_model.delegations(court="11") == []

    # -- other flows, payloads, personal data ---------------------------------------------

    def test_other_flows_are_stored_once(self, read_model: ReadModel) -> None:
        listed = event(
            "DebtorListed",
            {"entry_id": "b-1", "debtor": {"kind": "PERSON", "id_number": PERSON_ID}},
            by=REQ, flow="blacklist",
        )  # fmt: skip
        assert read_model.apply_event(listed) is ApplyResult.APPLIED
        assert read_model.apply_event(listed) is ApplyResult.DUPLICATE
        assert read_model.delegations() == []
        assert read_model.history("b-1") == []

    def test_payload_stored_as_json_with_ids_masked(
        self, read_model: ReadModel, sql: Callable[[str], list[Any]]
    ) -> None:
        ev = event(
            "DistributionClaimFiled",
            {"when": T0, "day": date(2024, 3, 1), "amount": Decimal("1.50"), "raw": b"\x00\xff",
             "debtors": [{"name": "张三", "id_number": PERSON_ID}], "note": None},
            by=REQ, flow="distribution",
        )  # fmt: skip
        read_model.apply_event(ev)
        read_model.apply_event(requested())
        [(payload,)] = sql(f"SELECT payload FROM events WHERE event_id = '{ev.event_id}'")
        assert json.loads(payload) == {
            "when": "2024-03-01T09:00:00+00:00", "day": "2024-03-01", "amount": "1.50",
            "raw": "AP8=", "debtors": [{"name": "张三", "id_number": PERSON_ID_MASKED}],
            "note": None,
        }  # fmt: skip
        stored = repr(sql("SELECT * FROM events")) + repr(sql("SELECT * FROM delegations"))
        assert PERSON_ID not in stored
        assert PERSON_ID_MASKED in stored

    # -- dead letters and alerts ----------------------------------------------------------

    def test_dead_letters_idempotent_and_round_trip(self, read_model: ReadModel) -> None:
        first = dead_letter(7)
        assert read_model.apply_dead_letter(first) is True
        assert read_model.apply_dead_letter(first) is False
        assert read_model.apply_dead_letter(dead_letter(7, code="OTHER")) is False
        assert read_model.apply_dead_letter(dead_letter(8, code="HEADER_MISSING", key=None))
        stored = read_model.dead_letters()
        assert [d.source_offset for d in stored] == [7, 8]
        got = stored[0]
        assert got.id is not None
        assert got == DeadLetterRow(
            first.source_topic, first.source_partition, first.source_offset, first.code,
            first.reason, first.key, first.value, first.headers, T0, id=got.id,
        )  # fmt: skip
        assert read_model.dead_letter(got.id) == got
        assert read_model.dead_letter(stored[1].id or 0) == stored[1]
        assert stored[1].key is None
        assert read_model.dead_letter(10**9) is None
        assert [d.source_offset for d in read_model.dead_letters(code="HEADER_MISSING")] == [8]
        assert read_model.dead_letters(code="NOPE") == []

    def test_dead_letter_reason_masks_ids(self, read_model: ReadModel) -> None:
        read_model.apply_dead_letter(dead_letter(reason=f"bad debtor {PERSON_ID}"))
        [got] = read_model.dead_letters()
        assert got.reason == f"bad debtor {PERSON_ID_MASKED}"

    def test_alerts_idempotent_and_ordered(self, read_model: ReadModel) -> None:
        late = AlertRow("a-2", "OVERDUE", "d-1", EXE, "start deadline passed", T0 + timedelta(1))
        early = AlertRow("a-1", "BROKER_DOWN", None, None, "broker 2 down", T0.astimezone(CST))
        assert read_model.apply_alert(late) is True
        assert read_model.apply_alert(early) is True
        assert read_model.apply_alert(late) is False
        assert read_model.apply_alert(AlertRow("a-1", "X", None, None, "changed", T0)) is False
        assert read_model.alerts() == [AlertRow("a-1", "BROKER_DOWN", None, None,
                                                "broker 2 down", T0), late]  # fmt: skip

    # -- concurrency ----------------------------------------------------------------------

    def _race(self, db_url: str, events: list[StoredEvent]) -> list[ApplyResult]:
        models = [ReadModel(db_url) for _ in events]
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

    def test_concurrent_appliers_apply_an_event_once(
        self, read_model: ReadModel, db_url: str
    ) -> None:
        for n in range(4):
            did = f"d-{n}"
            assert self._race(db_url, [requested(did, event_id=did)] * 3) == [
                ApplyResult.APPLIED, ApplyResult.DUPLICATE, ApplyResult.DUPLICATE,
            ]  # fmt: skip
            assert len(read_model.history(did)) == 1

    def test_concurrent_requests_create_a_delegation_once(
        self, read_model: ReadModel, db_url: str
    ) -> None:
        for n in range(4):
            did = f"r-{n}"
            results = self._race(db_url, [requested(did), requested(did)])
            assert results == [ApplyResult.APPLIED, ApplyResult.REFUSED]
            codes = [h.error_code for h in read_model.history(did)]
            assert sorted(codes, key=str) == ["DELEGATION_DUPLICATE", None]
