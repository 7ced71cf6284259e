"""The distribution read model on SQLite, filled through the projector with the distribution
flow's own view records (made in the harness): claims with their decisions, the plan's
allocations, an objection, an opposition and a suit with the disputed amount held back, then
the plan final and nothing held; a replay changes nothing; ``courtbus distribution show``
prints the plan as a table with IDs masked."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from courtbus.app.cli.main import app
from courtbus.runtime.harness import FlowHarness
from courtbus.wire import values as v
from services.distribution.view import VIEW_TOPIC
from services.projector.flow import ProjectorFlow
from tests.store_contract import writer_and_queries
from tests.unit.cli_width import wide_console  # noqa: F401 - autouse fixture
from tests.unit.flows.test_distribution_flow import (
    BEIJING,
    CITIZEN,
    DID,
    PRESIDING,
    SHENZHEN,
    A,
    B,
    admit,
    claim,
    harness,
    open_,
    plan,
    send,
    serve,
)

CENTS = Decimal("0.01")


def _to_suit(h: FlowHarness) -> None:
    """Two claims from two other courts, the plan, an objection to 1,000 of b1's allocation,
    an opposition, a suit: the disputed amount is deposited (Art. 510)."""
    open_(h, CITIZEN)
    claim(h, "a1", BEIJING, A, "6000.00")
    claim(h, "b1", SHENZHEN, B, "4000.00")
    admit(h, "a1", "6000.00")
    admit(h, "b1", "4000.00")
    plan(h)
    for who in (A, B, CITIZEN):
        serve(h, who, "OBJECTION")
    send(
        h,
        "DistributionObjectionFiled",
        BEIJING,
        plan_version=1,
        claim_id="b1",
        objecting_court=v.court(BEIJING),
        filed_at=h.now,
        reason="b1 的债权有争议",
        disputed_amount=v.money("1000.00"),
    )
    h.advance(hours=2, minutes=1)
    for who in (B, CITIZEN):
        serve(h, who, "OPPOSITION")
    send(
        h,
        "DistributionOppositionFiled",
        SHENZHEN,
        opposing_court=v.court(SHENZHEN),
        opponent=B,
        filed_at=h.now,
        reason="反对",
    )
    h.advance(hours=2, minutes=1)
    serve(h, A, "SUIT")
    send(
        h,
        "DistributionSuitReported",
        BEIJING,
        reporting_court=v.court(BEIJING),
        plaintiff=A,
        filed_at=h.now,
    )
    h.advance(hours=2, minutes=1)


def _project(h: FlowHarness, projector: FlowHarness, seen: int) -> int:
    views = [o for o in h.outputs if o.topic == VIEW_TOPIC]
    for out in views[seen:]:
        projector.feed_raw(out.topic, out.key, out.value, out.headers)
    return len(views)


def test_the_read_model_follows_the_distribution(tmp_path: Path) -> None:
    h = harness()
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    writer, queries = writer_and_queries(url)
    projector = FlowHarness(ProjectorFlow(h.envelope, writer), start=h.now)
    try:
        _to_suit(h)
        seen = _project(h, projector, 0)
        row = queries.distribution(DID)
        assert row is not None and row.state == "IN_SUIT" and row.presiding_court == PRESIDING
        assert [(c.claim_id, c.court_id, c.status, c.claimed) for c in row.claims] == [
            ("a1", BEIJING, "ADMITTED", Decimal("6000.00")),
            ("b1", SHENZHEN, "ADMITTED", Decimal("4000.00")),
        ]
        current = row.plan()
        assert current is not None and current.version == 1
        # 10,000 less 100 of costs, pro rata 6:4 (Art. 508)
        assert [(a.claim_id, a.allocated) for a in current.allocations] == [
            ("a1", Decimal("5940.00")),
            ("b1", Decimal("3960.00")),
        ]
        assert (current.costs_paid, current.surplus) == (Decimal("100.00"), Decimal("0.00"))
        assert [(o.phase, o.court_id) for o in row.objections] == [
            ("OBJECTION", BEIJING),
            ("OPPOSITION", SHENZHEN),
            ("SUIT", BEIJING),
        ]
        assert row.objections[0].disputes == (("b1", Decimal("1000.00")),)
        assert row.deposits == (("b1", Decimal("1000.00")),)
        shown = CliRunner().invoke(
            app, ["distribution", "show", DID, "--store", url], env={"COLUMNS": "250"}
        )
        assert shown.exit_code == 0, shown.output
        assert "5,940.00" in shown.output and "1,000.00" in shown.output
        assert "320583199303121234" not in shown.output and "IN_SUIT" in shown.output
        # the judgment upholds the plan: final, nothing held back
        send(
            h,
            "DistributionSuitDecided",
            PRESIDING,
            presiding_court=v.court(PRESIDING),
            shares=[],
            decided_at=h.now,
        )
        _project(h, projector, seen)
        final = queries.distribution(DID)
        assert final is not None and final.state == "FINALIZED" and final.deposits == ()
        assert [p.version for p in final.plans] == [1]
        # a replay of every view record changes nothing
        views = [o for o in h.outputs if o.topic == VIEW_TOPIC]
        assert not any(writer.apply_distribution(h.decode(o).payload, h.now) for o in views)
        # (the claimants' courts are not in the directory, so --court names the presiding one)
        listed = CliRunner().invoke(
            app,
            ["distribution", "list", "--court", PRESIDING, "--store", url],
            env={"COLUMNS": "250"},
        )
        assert DID in listed.output and "1 distribution" in listed.output
        assert [d.distribution_id for d in queries.distributions(court=BEIJING)] == [DID]
    finally:
        writer.close()
