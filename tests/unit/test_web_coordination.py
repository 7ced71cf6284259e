"""The coordinators' delegations route (issue 19): each centre sees its region only, paged,
over a real SQLite read model written as the projector writes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.store import ReadModelWriter
from courtbus.web import tokens as web_tokens
from courtbus.web.app import create_app, region_of
from tests.store_contract import T0, dead_letter, decided, requested

PAIRS = {"d-js": ("320583", "6101"), "d-gd": ("4408", "50"), "d-sh": ("3174", "6104")}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'read.db'}"
    model = ReadModelWriter(url)
    model.migrate()
    for i, (did, (req, exe)) in enumerate(PAIRS.items()):
        ev = requested(did, req, exe, hours=i)
        model.apply_event(ev)
        model.apply_event(decided(ev, "REQUESTED", courts=(req, exe)))
    model.apply_dead_letter(dead_letter(1, "WIRE_BAD_MAGIC"))  # court.320583.outbox
    model.apply_dead_letter(dead_letter(2, "HEADER_MISSING", source_topic="court.6101.outbox"))
    model.apply_dead_letter(dead_letter(3, "WIRE_BAD_MAGIC", source_topic="agency.nia.outbox"))
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
                        "label": "EXIT_BAN",
                        "court_id": court,
                        "since": T0,
                        "due_at": T0,
                    }
                ],
            },
        )
    model.close()
    path = tmp_path / "tokens.yaml"
    who = (
        "coordinator.32",
        "coordinator.61",
        "coordinator.spc",
        "coordinator.group.suzhou",
        "court.320583",
    )
    issued = {p: web_tokens.issue(p, path) for p in who}
    app = create_app(
        Connection("127.0.0.1:9", None), web_tokens.TokenStore.load(path), store_url=url
    )
    with TestClient(app) as client:
        yield client, issued


def _ids(client: TestClient, token: str, query: str = "") -> list[str]:
    answer = client.get(
        f"/v1/coordination/delegations{query}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    return [r["delegation_id"] for r in answer.json()["items"]]


def test_each_centre_sees_its_region(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    assert _ids(client, issued["coordinator.spc"]) == ["d-js", "d-gd", "d-sh"]
    assert _ids(client, issued["coordinator.32"]) == ["d-js"]  # 江苏: requested from 320583
    assert _ids(client, issued["coordinator.61"]) == ["d-js", "d-sh"]  # 陕西 executes both
    assert _ids(client, issued["coordinator.group.suzhou"]) == ["d-js"]


def test_paging_and_the_debtor_id_masked(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    token = issued["coordinator.spc"]
    assert _ids(client, token, "?limit=2") == ["d-js", "d-gd"]
    assert _ids(client, token, "?limit=2&offset=2") == ["d-sh"]
    answer = client.get(
        "/v1/coordination/delegations", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert answer["total"] == 3
    assert all("*" in r["debtor_id_masked"] for r in answer["items"])


def test_a_court_or_no_token_is_refused(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    answer = client.get(
        "/v1/coordination/delegations",
        headers={"Authorization": f"Bearer {issued['court.320583']}"},
    )
    assert answer.status_code == 403 and answer.json()["code"] == "NOT_A_COORDINATOR"
    assert client.get("/v1/coordination/delegations").status_code == 401


def test_a_region_is_a_province_code_or_a_group() -> None:
    directory = load_directory()
    assert region_of("coordinator.32", directory)("320583")  # type: ignore[misc]
    assert not region_of("coordinator.32", directory)("6101")  # type: ignore[misc]
    assert region_of("court.320583", directory) is None
    assert region_of("coordinator.3", directory) is None


def _page(client: TestClient, token: str, route: str) -> dict:  # type: ignore[type-arg]
    answer = client.get(f"/v1/coordination/{route}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_dead_letters_of_the_region_without_their_bytes(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, issued = api
    mine = _page(client, issued["coordinator.32"], "dead-letters")["items"]
    assert [(d["source_topic"], d["code"]) for d in mine] == [
        ("court.320583.outbox", "WIRE_BAD_MAGIC")
    ]
    assert "value" not in mine[0] and "headers" not in mine[0]
    every = _page(client, issued["coordinator.spc"], "dead-letters?code=WIRE_BAD_MAGIC")
    assert [d["source_topic"] for d in every["items"]] == [
        "court.320583.outbox",
        "agency.nia.outbox",
    ]
    assert _page(client, issued["coordinator.61"], "dead-letters")["total"] == 1


def test_watchdog_alerts_of_the_region(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    assert [
        a["court_id"] for a in _page(client, issued["coordinator.32"], "watchdog-alerts")["items"]
    ] == ["3205"]
    assert _page(client, issued["coordinator.spc"], "watchdog-alerts")["total"] == 2
    assert _page(client, issued["coordinator.group.suzhou"], "watchdog-alerts")["total"] == 1
