"""The coordinators' delegations route (issue 19): each centre sees its region only, paged,
over a real SQLite read model written as the projector writes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.store import ReadModel
from courtbus.web import tokens as web_tokens
from courtbus.web.app import create_app, region_of
from tests.store_contract import decided, requested

PAIRS = {"d-js": ("320583", "6101"), "d-gd": ("4408", "50"), "d-sh": ("3174", "6104")}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'read.db'}"
    model = ReadModel(url)
    model.migrate()
    for i, (did, (req, exe)) in enumerate(PAIRS.items()):
        ev = requested(did, req, exe, hours=i)
        model.apply_event(ev)
        model.apply_event(decided(ev, "REQUESTED", courts=(req, exe)))
    model.close()
    path = tmp_path / "tokens.yaml"
    who = ("coordinator.32", "coordinator.61", "coordinator.spc", "coordinator.group.suzhou",
           "court.320583")  # fmt: skip
    issued = {p: web_tokens.issue(p, path) for p in who}
    app = create_app(Connection("127.0.0.1:9", None), web_tokens.TokenStore.load(path),
                     store_url=url)  # fmt: skip
    with TestClient(app) as client:
        yield client, issued


def _ids(client: TestClient, token: str, query: str = "") -> list[str]:
    answer = client.get(f"/v1/coordination/delegations{query}",
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
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
    answer = client.get("/v1/coordination/delegations",
                        headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    assert answer["total"] == 3
    assert all("*" in r["debtor_id_masked"] for r in answer["items"])


def test_a_court_or_no_token_is_refused(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    answer = client.get("/v1/coordination/delegations",
                        headers={"Authorization": f"Bearer {issued['court.320583']}"})  # fmt: skip
    assert answer.status_code == 403 and answer.json()["code"] == "NOT_A_COORDINATOR"
    assert client.get("/v1/coordination/delegations").status_code == 401


def test_a_region_is_a_province_code_or_a_group() -> None:
    directory = load_directory()
    assert region_of("coordinator.32", directory)("320583")  # type: ignore[misc]
    assert not region_of("coordinator.32", directory)("6101")  # type: ignore[misc]
    assert region_of("court.320583", directory) is None
    assert region_of("coordinator.3", directory) is None
