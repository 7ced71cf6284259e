"""The coordinators' queries over the other flows (issue 19): listings, restrictions,
distributions, one record each, the overdue and age filters, a region narrowed to a province;
over a real SQLite read model written as the projector writes it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from courtbus.config import Connection
from courtbus.runtime.harness import FlowHarness
from courtbus.store import ReadModelWriter
from courtbus.web import tokens as web_tokens
from courtbus.web.app import create_app
from services.projector.flow import ProjectorFlow
from tests.builders import FIRM_CODE
from tests.store_contract import BUS, EXE, PERSON_ID, REQ, decided, flow, requested, step
from tests.unit.flows import test_distribution_flow as dist
from tests.unit.flows import test_restriction_flow as rest
from tests.unit.test_blacklist_cli import _entry
from tests.unit.test_distribution_store import _project, _to_suit

WHO = (
    "coordinator.32",
    "coordinator.44",
    "coordinator.11",
    "coordinator.61",
    "coordinator.spc",
    "coordinator.group.suzhou",
    "court.320583",
    "coordinator.51",
)


def _delegations(model: ReadModelWriter) -> None:
    """d-late: delivered in 2024, never started (overdue); d-fresh: delivered, its deadlines
    ahead; d-done: completed long ago (not overdue); d-new: only requested (no deadline)."""
    for ev in flow([("DelegationDelivered", BUS)], "d-late"):
        model.apply_event(ev)
    ahead = datetime.now(UTC) + timedelta(days=10)
    req = requested("d-fresh", hours=1)
    got = step("DelegationDelivered", BUS, 2, "d-fresh")
    for ev in (
        req,
        decided(req, "REQUESTED"),
        got,
        decided(got, "DELIVERED", start_due=ahead, report_due=ahead),
    ):
        model.apply_event(ev)
    steps = [
        ("DelegationDelivered", BUS),
        ("DelegationAccepted", EXE),
        ("DelegationCompleted", EXE),
    ]
    for ev in flow(steps, "d-done", start=3):
        model.apply_event(ev)
    req = requested("d-new", hours=9)
    model.apply_event(req)
    model.apply_event(decided(req, "REQUESTED"))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'read.db'}"
    model = ReadModelWriter(url)
    model.migrate()
    _delegations(model)
    model.apply_blacklist_entry("bl-js", _entry("bl-js", "320583", "苏0583", PERSON_ID, "PERSON"))
    model.apply_blacklist_entry("bl-gd", _entry("bl-gd", "4408", "粤08", FIRM_CODE, "ORGANISATION"))
    h = rest.harness()  # two controls of court 3205; rc-1 acknowledged by the NIA
    views: list[dict[str, Any]] = []
    views += rest.view(h, rest.issue(h, rest.exit_ban()))
    views += rest.view(h, rest.issue(h, rest.consumption_ban()))
    views += rest.view(h, rest.ack(h, "rc-1", "nia", ref="NIA-7"))
    for payload in views:
        model.apply_restriction_control(payload)
    d = dist.harness()  # presided over by 320583, claims from 110105 (北京) and 440305 (深圳)
    projector = FlowHarness(ProjectorFlow(d.envelope, model), start=d.now)
    _to_suit(d)
    _project(d, projector, 0)
    model.close()
    path = tmp_path / "tokens.yaml"
    issued = {p: web_tokens.issue(p, path) for p in WHO}
    app = create_app(
        Connection("127.0.0.1:9", None), web_tokens.TokenStore.load(path), store_url=url
    )
    with TestClient(app) as client:
        yield client, issued


def _get(client: TestClient, token: str, route: str, status: int = 200) -> Any:
    answer = client.get(f"/v1/coordination/{route}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == status, answer.text
    return answer.json()


def _ids(client: TestClient, token: str, route: str, key: str) -> list[str]:
    return [r[key] for r in _get(client, token, route)["items"]]


def test_overdue_is_a_start_or_report_deadline_passed(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, issued = api
    spc = issued["coordinator.spc"]
    everything = _ids(client, spc, "delegations", "delegation_id")
    assert everything == ["d-late", "d-fresh", "d-done", "d-new"]
    assert _ids(client, spc, "delegations?overdue=true", "delegation_id") == ["d-late"]
    page = _get(client, spc, "delegations?overdue=true")
    assert page["total"] == 1 and page["items"][0]["state"] == "DELIVERED"
    # every one was requested in March 2024: older than 30 days; none older than 10,000
    assert len(_ids(client, spc, "delegations?older_than_days=30", "delegation_id")) == 4
    assert _ids(client, spc, "delegations?older_than_days=10000", "delegation_id") == []


def test_one_delegation_with_its_history_or_404(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    found = _get(client, issued["coordinator.32"], "delegations/d-done")
    assert (found["state"], found["requesting_court"]) == ("COMPLETED", REQ)
    assert [h["record"] for h in found["history"]] == [
        "DelegationRequested",
        "DelegationDelivered",
        "DelegationAccepted",
        "DelegationCompleted",
    ]
    assert _get(client, issued["coordinator.44"], "delegations/d-done", 404)["code"] == "NOT_FOUND"
    assert _get(client, issued["coordinator.32"], "delegations/nope", 404)["code"] == "NOT_FOUND"


def test_listings_by_the_listing_courts_region_ids_masked(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, issued = api
    assert _ids(client, issued["coordinator.32"], "listings", "entry_id") == ["bl-js"]
    assert _ids(client, issued["coordinator.44"], "listings", "entry_id") == ["bl-gd"]
    assert _get(client, issued["coordinator.spc"], "listings")["total"] == 2
    assert _ids(client, issued["coordinator.spc"], "listings?province=44", "entry_id") == ["bl-gd"]
    assert _ids(client, issued["coordinator.group.suzhou"], "listings", "entry_id") == ["bl-js"]
    shown = client.get(
        "/v1/coordination/listings/bl-js",
        headers={"Authorization": f"Bearer {issued['coordinator.32']}"},
    )
    assert shown.status_code == 200 and PERSON_ID not in shown.text
    assert shown.json()["debtor_id"] == PERSON_ID[:6] + "*" * 8 + PERSON_ID[14:]
    assert (
        FIRM_CODE
        not in client.get(
            "/v1/coordination/listings",
            headers={"Authorization": f"Bearer {issued['coordinator.spc']}"},
        ).text
    )
    assert _get(client, issued["coordinator.32"], "listings/bl-gd", 404)["code"] == "NOT_FOUND"


def test_a_court_or_province_outside_the_region_is_403(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, issued = api
    js = issued["coordinator.32"]
    for route in (
        "listings?court=4408",
        "listings?province=44",
        "delegations?court=4408",
        "restrictions?province=61",
        "watchdog-alerts?court=4408",
    ):
        assert _get(client, js, route, 403)["code"] == "NOT_IN_REGION", route
    assert _get(client, js, "listings?province=3x", 422)["code"] == "REQUEST_INVALID"
    assert _ids(client, js, "listings?court=320583", "entry_id") == ["bl-js"]


def test_restrictions_awaiting_an_agencys_answer(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    js = issued["coordinator.32"]
    assert sorted(_ids(client, js, "restrictions", "control_id")) == ["rc-1", "rc-2"]
    assert _ids(client, js, "restrictions?awaiting_ack=true", "control_id") == ["rc-2"]
    assert _ids(client, js, "restrictions?kind=EXIT_BAN", "control_id") == ["rc-1"]
    assert _get(client, issued["coordinator.61"], "restrictions")["total"] == 0
    issued_at = datetime.fromisoformat(_get(client, js, "restrictions/rc-2")["issued_at"])
    days = (datetime.now(UTC) - issued_at).days
    assert len(_ids(client, js, f"restrictions?older_than_days={days}", "control_id")) == 2
    assert _ids(client, js, f"restrictions?older_than_days={days + 1}", "control_id") == []
    one = _get(client, js, "restrictions/rc-1")
    assert [(a["agency_id"], a["state"]) for a in one["acks"]] == [("nia", "ACKNOWLEDGED")]
    assert "*" in one["person_id"] and "*" in one["document_number"]
    assert _get(client, issued["coordinator.44"], "restrictions/rc-1", 404)["code"] == "NOT_FOUND"


def test_distributions_by_presiding_or_claimants_court(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, issued = api
    for who in ("coordinator.32", "coordinator.11", "coordinator.44", "coordinator.spc"):
        assert _ids(client, issued[who], "distributions", "distribution_id") == [dist.DID], who
    assert _get(client, issued["coordinator.61"], "distributions")["total"] == 0
    spc = issued["coordinator.spc"]
    route = "distributions?state=IN_SUIT&state=OBJECTION_WINDOW"
    assert _ids(client, spc, route, "distribution_id") == [dist.DID]
    assert _get(client, spc, "distributions?state=OBJECTION_WINDOW")["total"] == 0
    started = datetime.fromisoformat(_get(client, spc, f"distributions/{dist.DID}")["started_at"])
    days = (datetime.now(UTC) - started).days
    assert _get(client, spc, f"distributions?older_than_days={days}")["total"] == 1
    assert _get(client, spc, f"distributions?older_than_days={days + 1}")["total"] == 0
    one = _get(client, issued["coordinator.11"], f"distributions/{dist.DID}")
    assert one["state"] == "IN_SUIT" and [c["claim_id"] for c in one["claims"]] == ["a1", "b1"]
    assert all("*" in c["claimant_id"] for c in one["claims"])
    assert _get(client, issued["coordinator.61"], f"distributions/{dist.DID}", 404)


def test_the_stores_state_names_are_the_state_machines() -> None:
    from courtbus.domain.delegation import END_STATES, NOT_STARTED, State
    from courtbus.store.queries import ENDED_STATES, UNSTARTED_STATES

    assert set(UNSTARTED_STATES) == {State.REQUESTED, *NOT_STARTED}
    assert set(ENDED_STATES) == {*END_STATES, "REFUSED"}  # REFUSED: a request the bus refused


ROUTES = {  # every coordination route, with a record of the fixture where it takes one
    "/v1/coordination/delegations": "delegations",
    "/v1/coordination/delegations/{delegation_id}": "delegations/d-done",
    "/v1/coordination/listings": "listings",
    "/v1/coordination/listings/{entry_id}": "listings/bl-js",
    "/v1/coordination/restrictions": "restrictions",
    "/v1/coordination/restrictions/{control_id}": "restrictions/rc-1",
    "/v1/coordination/distributions": "distributions",
    "/v1/coordination/distributions/{distribution_id}": f"distributions/{dist.DID}",
    "/v1/coordination/dead-letters": "dead-letters",
    "/v1/coordination/watchdog-alerts": "watchdog-alerts",
    "/v1/coordination/summary": "summary",  # the dashboard's data: no paging
}


def test_every_route_answers_401_403_and_422(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    served = {
        r.path
        for r in client.app.routes
        if getattr(r, "path", "").startswith(  # type: ignore[attr-defined]
            "/v1/coordination/"
        )
    }
    assert served <= set(ROUTES), f"untested routes: {served - set(ROUTES)}"
    for route in ROUTES.values():
        assert _get(client, issued["coordinator.32"], route)  # a valid call
        answer = client.get(f"/v1/coordination/{route}")
        assert answer.status_code == 401 and answer.json()["code"] == "AUTH_REQUIRED", route
        answer = client.get(
            f"/v1/coordination/{route}", headers={"Authorization": "Bearer not-a-token"}
        )
        assert answer.status_code == 401, route
        answer = client.get(
            f"/v1/coordination/{route}",
            headers={"Authorization": f"Bearer {issued['court.320583']}"},
        )
        assert answer.json()["code"] == "NOT_A_COORDINATOR", route  # a court is none
        refused = _get(client, issued["coordinator.51"], route, 404 if "/" in route else 200)
        if "/" in route:  # one record of another region: as if it did not exist
            assert refused["code"] == "NOT_FOUND", route
        elif route != "summary":  # a list: a bad page is the bus's REQUEST_INVALID
            bad = _get(client, issued["coordinator.32"], f"{route}?limit=0", 422)
            assert bad["code"] == "REQUEST_INVALID", route
