"""The REST API (issue 19, item 1, first part) against the real broker and registry: a court's
system posts a delegation request and reads its inbox; no token, another court's routes, a bad
body and a retried POST each get the answer they must."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from courtbus.app import ops
from courtbus.config import Connection
from courtbus.web import tokens as web_tokens
from courtbus.web.app import create_app
from courtbus.wire.envelope import bind_event_id
from tests.gateway_cases import RECORD, valid_payload
from tests.integration.helpers import TopicReader

pytestmark = pytest.mark.integration
OUTBOX = "court.320583.outbox"


@pytest.fixture(scope="module")
def api(
    conn: Connection, registered: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    ops.apply_topics(conn, ops.plan_topics(conn))  # the courts' outboxes and inboxes
    path = tmp_path_factory.mktemp("web") / "tokens.yaml"
    issued = {p: web_tokens.issue(p, path) for p in ("court.320583", "court.6101", "agency.nia")}
    assert "sha256" in path.read_text() and issued["court.320583"] not in path.read_text()
    with TestClient(create_app(conn, web_tokens.TokenStore.load(path))) as client:
        yield client, issued


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _body(**changes: Any) -> dict[str, Any]:
    payload = valid_payload(delegation_id=f"dlg-320583-{uuid.uuid4().hex[:8]}", **changes)
    return {"type": RECORD, "payload": json.loads(json.dumps(payload, default=str))}


def _copies(conn: Connection, ce_id: str) -> int:
    reader = TopicReader(conn, OUTBOX)
    try:
        return sum(dict(r.headers).get("ce_id") == ce_id.encode() for r in reader.read_to_end())
    finally:
        reader.close()


def test_a_court_posts_a_request_and_it_is_on_its_outbox(
    api: tuple[TestClient, dict[str, str]], conn: Connection
) -> None:
    client, issued = api
    assert client.get("/v1/whoami", headers=_auth(issued["court.320583"])).json() == {
        "principal": "court.320583"
    }
    body = _body()
    answer = client.post(
        "/v1/courts/320583/outbox", json=body, headers=_auth(issued["court.320583"])
    )
    assert answer.status_code == 201, answer.text
    sent = answer.json()
    assert sent["key"] == body["payload"]["delegation_id"]
    assert _copies(conn, sent["id"]) == 1


def test_no_or_an_unknown_token_is_401(api: tuple[TestClient, dict[str, str]]) -> None:
    client, _issued = api
    for headers in ({}, _auth("not-a-token"), {"Authorization": "Basic abc"}):
        answer = client.post("/v1/courts/320583/outbox", json=_body(), headers=headers)
        assert answer.status_code == 401 and answer.json()["code"] == "AUTH_REQUIRED"
        assert client.get("/v1/courts/320583/inbox", headers=headers).status_code == 401


def test_another_courts_routes_are_403(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    other = _auth(issued["court.6101"])
    answer = client.post("/v1/courts/320583/outbox", json=_body(), headers=other)
    assert answer.status_code == 403 and answer.json()["code"] == "NOT_YOURS"
    answer = client.get("/v1/courts/320583/inbox", headers=other)
    assert answer.status_code == 403 and answer.json()["code"] == "NOT_YOURS"


def test_a_bad_body_is_422_with_the_bus_code(api: tuple[TestClient, dict[str, str]]) -> None:
    client, issued = api
    me = _auth(issued["court.320583"])
    answer = client.post("/v1/courts/320583/outbox", json={"payload": {}}, headers=me)
    assert answer.status_code == 422 and answer.json()["code"] == "REQUEST_INVALID"
    body = _body()
    del body["payload"]["case_number"]
    answer = client.post("/v1/courts/320583/outbox", json=body, headers=me)
    assert answer.status_code == 422 and answer.json()["code"] == "AVRO_ENCODE_FAILED"
    body = _body(note="含\u202e控制字符")  # a bidirectional override: the SDK refuses it
    answer = client.post("/v1/courts/320583/outbox", json=body, headers=me)
    assert answer.status_code == 422 and answer.json()["code"] == "TEXT_BIDI_CONTROL", answer.text


def test_a_retried_post_is_delivered_once(
    api: tuple[TestClient, dict[str, str]], conn: Connection
) -> None:
    client, issued = api
    me = _auth(issued["court.320583"])
    body = {**_body(), "id": str(uuid.uuid4())}
    first = client.post("/v1/courts/320583/outbox", json=body, headers=me)
    again = client.post("/v1/courts/320583/outbox", json=body, headers=me)
    assert (first.status_code, again.status_code) == (201, 200)
    # the bus's ce_id is the caller's id bound to the record's key (courtbus.wire.event_ids)
    bus_id = bind_event_id(first.json()["key"].encode(), body["id"])
    assert first.json() == again.json() and first.json()["id"] == bus_id != body["id"]
    assert _copies(conn, bus_id) == 1
    changed = {**body, "payload": {**body["payload"], "amount": "1.00"}}
    conflict = client.post("/v1/courts/320583/outbox", json=changed, headers=me)
    assert conflict.status_code == 409 and conflict.json()["code"] == "EVENT_ID_CONFLICT"
    assert _copies(conn, bus_id) == 1


def test_a_court_pages_through_its_inbox(
    api: tuple[TestClient, dict[str, str]], conn: Connection
) -> None:
    from kafka import KafkaProducer

    from courtbus.wire.client import make_envelope

    client, issued = api
    me = _auth(issued["court.6101"])
    envelope = make_envelope(conn)
    producer = KafkaProducer(**conn.kafka_settings())
    sent: list[str] = []
    mark = None
    for n in range(5):
        if n == 3:
            mark = datetime.now(UTC)  # the last two are sent after this
        notice = envelope.build(
            "court.6101.inbox",
            RECORD,
            valid_payload(delegation_id=f"dlg-320583-{uuid.uuid4().hex[:8]}"),
            "court:320583",
        )
        producer.send(notice.topic, key=notice.key, value=notice.value, headers=notice.headers).get(
            10
        )
        sent.append(notice.event.id)
    producer.close()
    seen: list[str] = []
    cursor: str | None = None
    for _page in range(10_000):  # pages of 2 until one comes back empty
        query = {"limit": 2, **({"after": cursor} if cursor else {})}
        answer = client.get("/v1/courts/6101/inbox", params=query, headers=me)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["items"]) <= 2
        if not body["items"]:
            break
        seen += [r["id"] for r in body["items"]]
        cursor = body["next"]
    assert len(seen) == len(set(seen)), "a record was read on two pages"
    assert sorted(i for i in seen if i in sent) == sorted(sent)  # each once, on some page
    assert mark is not None
    later = client.get(
        "/v1/courts/6101/inbox", headers=me, params={"since": mark.isoformat(), "limit": 1000}
    ).json()
    assert {r["id"] for r in later["items"]} & set(sent) == set(sent[3:])
    found = [r for r in later["items"] if r["id"] == sent[4]]
    assert len(found) == 1 and found[0]["type"] == RECORD
    bad = client.get("/v1/courts/6101/inbox", params={"after": "x:y"}, headers=me)
    assert bad.status_code == 422 and bad.json()["code"] == "CURSOR_INVALID"


def test_an_agency_answers_and_reads_only_its_granted_feeds(
    api: tuple[TestClient, dict[str, str]], conn: Connection
) -> None:
    client, issued = api
    nia = _auth(issued["agency.nia"])
    body = {
        "type": "cn.court.bus.restriction.RestrictionAcknowledged",
        "id": str(uuid.uuid4()),
        "payload": {
            "control_id": f"rc-{uuid.uuid4().hex[:8]}",
            "agency_id": "nia",
            "target": "ISSUE",
            "acknowledged_at": "2026-12-07T08:00:00+08:00",
            "reference": "NIA-1",
        },
    }
    answer = client.post("/v1/agencies/nia/outbox", json=body, headers=nia)
    assert answer.status_code == 201, answer.text
    bus_id = bind_event_id(answer.json()["key"].encode(), body["id"])
    assert answer.json()["id"] == bus_id
    reader = TopicReader(conn, "agency.nia.outbox")
    try:
        ids = [dict(r.headers).get("ce_id") for r in reader.read_to_end()]
    finally:
        reader.close()
    assert ids.count(bus_id.encode()) == 1
    assert client.post("/v1/agencies/caac/outbox", json=body, headers=nia).status_code == 403
    feed = client.get("/v1/agencies/nia/feeds/restriction", headers=nia)
    assert feed.status_code == 200 and set(feed.json()) == {"items", "next"}
    assert client.get("/v1/agencies/nia/feeds/feed", headers=nia).status_code == 200
    refused = client.get("/v1/agencies/nia/feeds/distribution", headers=nia)
    assert refused.status_code == 403 and refused.json()["code"] == "FEED_NOT_GRANTED"
    court = _auth(issued["court.320583"])
    assert client.get("/v1/agencies/nia/feeds/restriction", headers=court).status_code == 403


def test_the_agencies_routes_answer_401_422_and_a_retry_once(
    api: tuple[TestClient, dict[str, str]], conn: Connection
) -> None:
    client, issued = api
    nia = _auth(issued["agency.nia"])
    body = {
        "type": "cn.court.bus.restriction.RestrictionAcknowledged",
        "id": str(uuid.uuid4()),
        "payload": {
            "control_id": f"rc-{uuid.uuid4().hex[:8]}",
            "agency_id": "nia",
            "target": "ISSUE",
            "acknowledged_at": "2026-12-07T08:00:00+08:00",
            "reference": "NIA-2",
        },
    }
    for headers in ({}, _auth("not-a-token")):
        answer = client.post("/v1/agencies/nia/outbox", json=body, headers=headers)
        assert answer.status_code == 401 and answer.json()["code"] == "AUTH_REQUIRED"
        for flow in ("restriction", "feed"):
            assert client.get(f"/v1/agencies/nia/feeds/{flow}", headers=headers).status_code == 401
    bad = {**body, "payload": {k: v for k, v in body["payload"].items() if k != "target"}}
    answer = client.post("/v1/agencies/nia/outbox", json=bad, headers=nia)
    assert answer.status_code == 422 and answer.json()["code"] == "AVRO_ENCODE_FAILED", answer.text
    answer = client.post("/v1/agencies/nia/outbox", json={"payload": 1}, headers=nia)
    assert answer.status_code == 422 and answer.json()["code"] == "REQUEST_INVALID"
    first = client.post("/v1/agencies/nia/outbox", json=body, headers=nia)
    again = client.post("/v1/agencies/nia/outbox", json=body, headers=nia)
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    reader = TopicReader(conn, "agency.nia.outbox")
    try:
        ids = [dict(r.headers).get("ce_id") for r in reader.read_to_end()]
    finally:
        reader.close()
    assert ids.count(first.json()["id"].encode()) == 1
    answer = client.get("/v1/agencies/nia/feeds/restriction", headers=nia, params={"after": "-1:0"})
    assert answer.status_code == 422 and answer.json()["code"] == "CURSOR_INVALID"
