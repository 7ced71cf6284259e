"""The coordination summary behind the dashboard (issue 19, item 2), over a real SQLite read
model written as the projector writes it: each centre sees its region only (a delegation by
either court, a dead letter by the outbox's court, a listing, a restriction or an alert by its
court, a distribution by its presiding or claiming courts), overdue and escalated delegations,
the province matrix, the time series; the route's answers; the page served offline; no ID
number anywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.store import ReadModelWriter
from courtbus.store.summary import SummaryQueries
from courtbus.web import tokens as web_tokens
from courtbus.web.app import create_app
from courtbus.web.coordination import region_scope
from courtbus.web.dashboard import STATIC_DIR
from courtbus.web.summary import bucket_keys, bucket_size, build_summary, region_for
from services.distribution.view import VIEW_TOPIC as DISTRIBUTION_VIEW
from tests.builders import PERSON_ID
from tests.store_contract import (
    T0,
    dead_letter,
    decided,
    delivered_at,
    requested,
    step,
)
from tests.unit.flows import test_distribution_flow as dist
from tests.unit.flows import test_restriction_flow as rf

NOW = T0 + timedelta(days=10)  # every delivered delegation's start deadline (8 days) passed
PAIRS = {"d-js": ("320583", "6101"), "d-gd": ("4408", "50"), "d-sh": ("3174", "6104")}
WHO = (
    "coordinator.spc",
    "coordinator.32",
    "coordinator.61",
    "coordinator.44",
    "coordinator.group.suzhou",
    "coordinator.group.west-guangdong",
)


def _blacklist(eid: str, court: str, designation: str, *, delisted: bool = False) -> dict[str, Any]:
    listed = T0 + timedelta(hours=1)
    return {
        "entry_id": eid,
        "status": "DELISTED" if delisted else "ACTIVE",
        "version": 1,
        "case_number": {
            "text": f"(2024){designation}执1号",
            "year": 2024,
            "court_id": court,
            "type_code": "执",
            "sequence": 1,
        },
        "listing_court": {"court_id": court, "designation": designation},
        "debtor": {
            "kind": "PERSON",
            "name": "某某",
            "id_number": PERSON_ID,
            "id_type": None,
            "nationality": None,
        },
        "legal_representative": None,
        "legal_representative_id": None,
        "ground": "EVADED_EXECUTION",
        "serious": False,
        "period_months": 24,
        "listed_at": listed,
        "expires_at": listed + timedelta(days=730),
        "updated_at": listed + timedelta(hours=2),
        "delisted_at": listed + timedelta(hours=2) if delisted else None,
        "reason": "PERFORMED" if delisted else None,
        "obligation": "给付",
        "performance": "未履行",
        "conduct": "规避执行",
        "title_issuer": "某法院",
        "title_number": "(2023)某民初1号",
        "filed_at": listed,
    }


def _fill(model: ReadModelWriter) -> None:
    """Three requested delegations in four provinces, one delivered and overdue and escalated
    (320583 → 6101), one completed (4408 → 50); dead letters from two courts and an agency;
    three listings (one delisted); an exit ban of 3205 with an interception and a consumption
    ban awaiting two agencies; a distribution of 320583 in its objection window; two watchdog
    alerts."""
    for i, (did, (req, exe)) in enumerate(PAIRS.items()):
        ev = requested(did, req, exe, hours=i)
        model.apply_event(ev)
        model.apply_event(decided(ev, "REQUESTED", courts=(req, exe)))
    late = requested("d-late", "320583", "6101", hours=4)
    delivered = step("DelegationDelivered", None, 5, did="d-late")
    escalated = step("DelegationEscalated", "320583", 200, did="d-late")
    for ev, state in ((late, "REQUESTED"), (delivered, "DELIVERED"), (escalated, "DELIVERED")):
        model.apply_event(ev)
        model.apply_event(decided(ev, state, delivered=delivered_at(5)))
    done = requested("d-done", "4408", "50", hours=6)
    model.apply_event(done)
    model.apply_event(decided(done, "REQUESTED", courts=("4408", "50")))
    finished = step("DelegationCompleted", "50", 7, did="d-done")
    model.apply_event(finished)
    model.apply_event(decided(finished, "COMPLETED", courts=("4408", "50")))

    model.apply_dead_letter(dead_letter(1, "WIRE_BAD_MAGIC"))  # court.320583.outbox
    model.apply_dead_letter(dead_letter(2, "HEADER_MISSING", source_topic="court.6101.outbox"))
    model.apply_dead_letter(dead_letter(3, "WIRE_BAD_MAGIC", source_topic="agency.nia.outbox"))

    model.apply_blacklist_entry("bl-js", _blacklist("bl-js", "320583", "苏0583"))
    model.apply_blacklist_entry("bl-js2", _blacklist("bl-js2", "3205", "苏05", delisted=True))
    model.apply_blacklist_entry("bl-gd", _blacklist("bl-gd", "4408", "粤08"))

    h = rf.harness()
    views = rf.view(h, rf.issue(h, rf.exit_ban()))
    views += rf.view(h, rf.issue(h, rf.consumption_ban()))
    views += rf.view(h, rf.ack(h, "rc-1", "nia", ref="NIA-7"))
    report = {
        "control_id": "rc-1",
        "agency_id": "nia",
        "intercepted_at": h.now,
        "channel": "BORDER_PORT",
        "location": f"罗湖口岸 {PERSON_ID}",
        "description": None,
        "outcome": "PREVENTED",
    }
    views += rf.view(h, rf.send(h, "InterceptionReported", report, "agency:nia"))
    for payload in views:
        model.apply_restriction_control(payload)

    d = dist.harness()
    dist.open_(d, dist.CITIZEN)
    dist.claim(d, "a1", dist.BEIJING, dist.A, "6000.00")
    dist.admit(d, "a1", "6000.00")
    dist.plan(d)
    for who in (dist.A, dist.CITIZEN):
        dist.serve(d, who, "OBJECTION")
    for out in d.outputs:
        if out.topic == DISTRIBUTION_VIEW and out.value:
            model.apply_distribution(d.decode(out).payload, d.now)

    for i, court in enumerate(("3205", "6101")):
        model.apply_watchdog_alert(
            f"wd-{i}",
            {
                "case_number": {"text": "(2024)苏05执100号"},
                "court": {"court_id": court},
                "alert_number": 1,
                "sent_at": T0,
                "items": [
                    {
                        "item_id": f"restriction:rc-{i}",
                        "kind": "RESTRICTION",
                        "label": f"EXIT_BAN {PERSON_ID}",
                        "court_id": court,
                        "since": T0,
                        "due_at": T0,
                    }
                ],
            },
        )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'read.db'}"
    model = ReadModelWriter(url)
    model.migrate()
    _fill(model)
    model.close()
    return url


@pytest.fixture(scope="module")
def summaries(store: str) -> Iterator[dict[str, dict[str, Any]]]:
    directory = load_directory()
    q = SummaryQueries(store)
    found = {}
    for who in WHO:
        scope = region_scope(who, directory)
        assert scope is not None
        found[who] = build_summary(q, region_for(who, scope), directory, now=NOW)
    q.close()
    yield found


def test_open_and_overdue_delegations_by_region(summaries: dict[str, dict[str, Any]]) -> None:
    spc = summaries["coordinator.spc"]["delegations"]
    assert (spc["open"], spc["overdue"], spc["total"]) == (4, 1, 5)
    assert spc["by_state"] == {"DELIVERED": 1, "REQUESTED": 3}
    (late,) = spc["overdue_items"]
    assert (late["delegation_id"], late["deadline"]) == ("d-late", "start")
    assert late["executing_name"] == "陕西省西安市中级人民法院"
    assert [a["label"] for a in spc["by_age"]][:3] == ["1天内", "1–7天", "7–15天"]
    assert sum(a["count"] for a in spc["by_age"]) == 4
    assert next(a for a in spc["by_age"] if a["label"] == "7–15天") == {
        "label": "7–15天",
        "count": 4,
        "overdue": 1,
    }
    js = summaries["coordinator.32"]["delegations"]
    assert (js["open"], js["overdue"]) == (2, 1)  # d-js and d-late, both from 320583
    sx = summaries["coordinator.61"]["delegations"]
    assert (sx["open"], sx["overdue"]) == (3, 1)  # 陕西 executes d-js, d-late, d-sh
    gd = summaries["coordinator.44"]["delegations"]
    assert (gd["open"], gd["overdue"], gd["total"]) == (1, 0, 2)  # d-gd open, d-done completed
    assert summaries["coordinator.group.suzhou"]["delegations"]["open"] == 2


def test_escalations_name_the_executing_courts_superior(
    summaries: dict[str, dict[str, Any]],
) -> None:
    esc = summaries["coordinator.32"]["delegations"]["escalations"]
    assert (esc["total"], esc["pending"]) == (1, 1)
    (item,) = esc["items"]
    assert (item["delegation_id"], item["superior_court"]) == ("d-late", "61")
    assert item["superior_name"] == "陕西省高级人民法院" and not item["answered"]
    assert summaries["coordinator.44"]["delegations"]["escalations"]["total"] == 0


def test_the_province_matrix(summaries: dict[str, dict[str, Any]]) -> None:
    m = summaries["coordinator.spc"]["delegations"]["matrix"]
    assert m["provinces"] == ["31", "32", "44", "50", "61"]
    assert m["names"][1] == "江苏省"
    cell = {
        (m["provinces"][r], m["provinces"][c]): n
        for r, row in enumerate(m["cells"])
        for c, n in enumerate(row)
        if n
    }
    assert cell == {("32", "61"): 2, ("44", "50"): 2, ("31", "61"): 1}
    assert m["open"][m["provinces"].index("44")][m["provinces"].index("50")] == 1
    assert summaries["coordinator.32"]["delegations"]["matrix"]["provinces"] == ["32", "61"]


def test_dead_letters_by_code_as_the_route_scopes_them(
    summaries: dict[str, dict[str, Any]],
) -> None:
    spc = summaries["coordinator.spc"]["dead_letters"]
    assert spc["by_code"] == {"WIRE_BAD_MAGIC": 2, "HEADER_MISSING": 1}  # the agency's too
    assert summaries["coordinator.32"]["dead_letters"]["by_code"] == {"WIRE_BAD_MAGIC": 1}
    assert summaries["coordinator.61"]["dead_letters"]["total"] == 1
    # over time: the day's buckets, every letter in one of them
    assert spc["bucket"] == "day" and len(spc["buckets"]) >= 15
    assert sum(sum(s) for s in spc["series"].values()) == 3


def test_listings_by_region_and_over_time(summaries: dict[str, dict[str, Any]]) -> None:
    spc = summaries["coordinator.spc"]["blacklist"]
    assert (spc["active"], spc["delisted"]) == (2, 1)
    assert {p["name"]: p["count"] for p in spc["by_province"]} == {"江苏省": 1, "广东省": 1}
    assert spc["over_time"][-1]["active"] == 2
    assert sum(b["listed"] for b in spc["over_time"]) == 3
    assert summaries["coordinator.group.suzhou"]["blacklist"]["active"] == 1
    assert summaries["coordinator.61"]["blacklist"]["active"] == 0


def test_restrictions_awaiting_agencies_interceptions_and_watchdog(
    summaries: dict[str, dict[str, Any]],
) -> None:
    js = summaries["coordinator.32"]["restrictions"]
    assert (js["active"], js["by_kind"]) == (2, {"CONSUMPTION_BAN": 1, "EXIT_BAN": 1})
    assert js["awaiting_ack"] == 2  # the consumption ban: caac and rail
    assert {a["agency"] for a in js["awaiting_by_agency"]} == {"caac", "rail"}
    assert js["interceptions"] == 1 and js["recent_interceptions"][0]["agency"] == "nia"
    assert (js["watchdog_alerts"], js["watchdog_cases"]) == (1, 1)
    gd = summaries["coordinator.44"]["restrictions"]
    assert (gd["active"], gd["awaiting_ack"], gd["interceptions"]) == (0, 0, 0)
    assert summaries["coordinator.spc"]["restrictions"]["watchdog_alerts"] == 2


def test_distributions_in_their_objection_window(summaries: dict[str, dict[str, Any]]) -> None:
    js = summaries["coordinator.32"]["distributions"]
    assert (js["live"], js["in_objection_window"], js["plans_pending"]) == (1, 1, 0)
    assert js["items"][0]["presiding_name"] == "江苏省昆山市人民法院"
    # a claiming court's region sees it too (Beijing's 110105 claims), Guangdong does not
    assert summaries["coordinator.44"]["distributions"]["live"] == 0


def test_no_id_number_anywhere(summaries: dict[str, dict[str, Any]]) -> None:
    text = json.dumps(summaries, ensure_ascii=False)
    for number in (PERSON_ID, rf.REP_ID, "11010519491231002X"):
        assert number not in text


def test_buckets_follow_the_span() -> None:
    assert bucket_size(NOW - timedelta(minutes=30), NOW) == "minute"
    assert bucket_size(NOW - timedelta(hours=30), NOW) == "hour"
    assert bucket_size(NOW - timedelta(days=30), NOW) == "day"
    assert bucket_size(NOW - timedelta(days=300), NOW) == "month"
    keys = bucket_keys(NOW - timedelta(minutes=3), NOW, "minute")
    assert len(keys) == 15 and keys[-1] == "2024-03-11 09:00"
    months = bucket_keys(NOW - timedelta(days=900), NOW, "month")
    assert (months[0], months[-1], len(months)) == ("2021-09", "2024-03", 31)


# -- the route and the page -------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(
    store: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    path = tmp_path_factory.mktemp("tokens") / "tokens.yaml"
    issued = {p: web_tokens.issue(p, path) for p in ("coordinator.32", "court.320583")}
    app = create_app(
        Connection("127.0.0.1:9", None), web_tokens.TokenStore.load(path), store_url=store
    )
    with TestClient(app) as client:
        yield client, issued


def test_the_summary_route_is_for_coordinators_only(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, issued = api
    answer = client.get(
        "/v1/coordination/summary", headers={"Authorization": f"Bearer {issued['coordinator.32']}"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["region"] == {"principal": "coordinator.32", "label": "江苏省"}
    assert body["delegations"]["open"] == 2 and isinstance(body["services"], list)
    refused = client.get(
        "/v1/coordination/summary", headers={"Authorization": f"Bearer {issued['court.320583']}"}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "NOT_A_COORDINATOR"
    assert client.get("/v1/coordination/summary").status_code == 401


def test_the_page_is_served_with_its_scripts_and_no_outside_address(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, _issued = api
    page = client.get("/dashboard/")
    assert page.status_code == 200 and "协调中心看板" in page.text
    assert client.get("/dashboard", follow_redirects=False).status_code == 307
    for name in re.findall(r'(?:src|href)="(?!data:)([^"]+)"', page.text):
        assert "//" not in name, f"{name}: the page must load nothing from outside"
        assert client.get(f"/dashboard/{name}").status_code == 200
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path.name
