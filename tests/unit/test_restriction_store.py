"""The restriction read model on SQLite: the flow's own view records (made in the harness)
become rows with their acknowledgements, exemptions and interceptions; a replay or an older
version changes nothing; through the projector, the view's tombstone leaves a lifted
control; watchdog alerts are kept
once with IDs masked; the migrations build exactly the ORM's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from courtbus.runtime.harness import FlowHarness
from courtbus.store import ReadModelQueries, ReadModelWriter
from courtbus.store.models import Base
from services.projector.flow import ProjectorFlow
from services.restriction.flow import VIEW_TOPIC
from tests.builders import PERSON_ID
from tests.store_contract import writer_and_queries
from tests.unit.flows.test_restriction_flow import (
    REP_ID,
    ack,
    consumption_ban,
    exemption,
    exit_ban,
    harness,
    issue,
    lift,
    send,
    view,
)


def stores(tmp_path: Path) -> tuple[ReadModelWriter, ReadModelQueries]:
    return writer_and_queries(f"sqlite:///{tmp_path / 'rm.db'}")


def test_migrations_build_exactly_the_orm_tables(tmp_path: Path) -> None:
    stores(tmp_path)[0].close()
    engine = create_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_control_its_answers_exemption_and_interception(tmp_path: Path) -> None:
    h = harness()
    views: list[dict[str, Any]] = []
    views += view(h, issue(h, exit_ban()))
    views += view(h, issue(h, consumption_ban()))
    views += view(h, ack(h, "rc-1", "nia", ref="NIA-7"))
    views += view(h, exemption(h, "rc-2"))
    report = {
        "control_id": "rc-1",
        "agency_id": "nia",
        "intercepted_at": h.now,
        "channel": "BORDER_PORT",
        "location": "罗湖口岸",
        "description": None,
        "outcome": "PREVENTED",
    }
    views += view(h, send(h, "InterceptionReported", report, "agency:nia"))
    writer, queries = stores(tmp_path)
    try:
        for payload in views:
            writer.apply_restriction_control(payload)
        assert [writer.apply_restriction_control(p) for p in views] == [False] * len(views)
        exit_row = queries.restriction("rc-1")
        assert exit_row is not None
        assert (exit_row.kind, exit_row.status, exit_row.role) == (
            "EXIT_BAN",
            "ACTIVE",
            "LEGAL_REPRESENTATIVE",
        )
        assert (exit_row.person_id, exit_row.document_number) == (REP_ID, "C12345678")
        assert [(a.agency_id, a.target, a.state, a.reference) for a in exit_row.acks] == [
            ("nia", "ISSUE", "ACKNOWLEDGED", "NIA-7")
        ]
        (stopped,) = exit_row.interceptions
        assert (stopped.agency_id, stopped.location, stopped.outcome) == (
            "nia",
            "罗湖口岸",
            "PREVENTED",
        )
        ban = queries.restriction("rc-2")
        assert ban is not None and ban.kind == "CONSUMPTION_BAN"
        assert {(a.agency_id, a.state) for a in ban.acks} == {
            ("caac", "PENDING"),
            ("rail", "PENDING"),
        }
        (granted,) = ban.exemptions
        assert (granted.exemption_id, granted.kinds) == ("ex-1", ("HIGH_SPEED_RAIL",))
        assert [r.control_id for r in queries.restrictions(court="3205", kind="EXIT_BAN")] == [
            "rc-1"
        ]
        assert [r.control_id for r in queries.restrictions(person_id=PERSON_ID)] == ["rc-2"]
        assert queries.restrictions(court="6101") == []
    finally:
        writer.close()


def test_the_projector_keeps_a_lifted_control_after_the_views_tombstone(tmp_path: Path) -> None:
    h = harness()
    writer, queries = stores(tmp_path)
    projector = FlowHarness(ProjectorFlow(h.envelope, writer), start=h.now)
    try:
        issued = [o for o in issue(h, exit_ban()) if o.topic == VIEW_TOPIC]
        h.advance(hours=1)
        lifted = [o for o in lift(h, "rc-1") if o.topic == VIEW_TOPIC]
        tombstones = [o for o in h.advance(days=8) if o.topic == VIEW_TOPIC]
        assert [o.value for o in tombstones] == [None]
        for out in [*lifted, *issued, *tombstones]:  # the older version arrives late
            projector.feed_raw(out.topic, out.key, out.value, out.headers)
        row = queries.restriction("rc-1")
        assert row is not None and (row.status, row.lift_reason) == ("LIFTED", "PERFORMED")
        assert row.version == h.decode(lifted[0]).payload["version"]
        assert {(a.target, a.state) for a in row.acks} == {
            ("ISSUE", "PENDING"),
            ("LIFT", "PENDING"),
        }
        assert [r.control_id for r in queries.restrictions(status="LIFTED")] == ["rc-1"]
        assert queries.restrictions(status="ACTIVE") == []
    finally:
        writer.close()


def test_a_watchdog_alert_is_kept_once_with_ids_masked(tmp_path: Path) -> None:
    h = harness()
    item = {
        "item_id": "restriction:rc-1",
        "kind": "RESTRICTION",
        "label": f"EXIT_BAN 李四 {PERSON_ID}",
        "court_id": "3205",
        "since": h.now,
        "due_at": h.now,
        "id_number": PERSON_ID,
    }
    alert = {
        "case_number": {"text": "(2024)苏05执100号"},
        "court": {"court_id": "3205"},
        "alert_number": 2,
        "items": [item],
        "sent_at": h.now,
    }
    writer, queries = stores(tmp_path)
    try:
        assert writer.apply_watchdog_alert("wd-1", alert)
        assert not writer.apply_watchdog_alert("wd-1", alert)
        (row,) = queries.watchdog_alerts(court="3205")
        assert (row.alert_id, row.case_number, row.alert_number) == ("wd-1", "(2024)苏05执100号", 2)
        assert PERSON_ID not in str(row.items) and row.items[0]["item_id"] == "restriction:rc-1"
        assert queries.watchdog_alerts(court="6101") == []
    finally:
        writer.close()
