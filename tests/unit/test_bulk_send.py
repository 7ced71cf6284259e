"""Bulk delegation requests without Kafka: validation first, then send-all-and-flush-once.

A fake producer stands in for kafka-python's: ``send`` returns a pending future, ``flush``
settles them all (some may be told to fail), so the order, the result mapping and the error
reporting of the bulk path are checked without a broker. IDs must stay masked throughout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError, NotEnoughReplicasError
from kafka.future import Future
from typer.testing import CliRunner

from courtbus.app.cli import app
from courtbus.app.cli import delegation as cli_bus
from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.errors import ClusterError, CourtbusError, ValidationError
from courtbus.sdk import court as court_module
from courtbus.sdk import sender as sender_module
from courtbus.sdk.court import CourtClient, Sent
from courtbus.sdk.delegation import BulkValidationError, DelegationRequestIn, check_requests
from courtbus.sdk.sender import PartialSendError
from courtbus.wire.client import BulkSendError, send_many
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope, OutgoingRecord
from courtbus.wire.events import EventHeaders
from courtbus.wire.schemas import SchemaSet
from tests.builders import FIRM_CODE, PERSON_ID
from tests.fakes import MemoryRegistry

BAD_ID = PERSON_ID[:-1] + ("5" if PERSON_ID[-1] != "5" else "6")  # checksum broken
DIRECTORY = load_directory()
SCHEMAS = SchemaSet.load()


def request(n: int = 1, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "delegation_id": f"dlg-bulk-{n:05d}",
        "case_number": f"(2024)苏05执{n}号",
        "executing_court": "6104",
        "matter": "FREEZE",
        "debtor": {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
        "asset_kind": "DEPOSIT",
        "amount": "50000.00",
        "freeze_period_days": 365,
    }
    fields.update(overrides)
    return fields


class FakeFuture(Future):  # type: ignore[misc]
    """A pending send; ``get`` (the single-send path) settles it like a flush would."""

    def __init__(self, producer: FakeProducer) -> None:
        super().__init__()
        self.producer = producer

    def get(self, timeout: float | None = None) -> Any:
        self.producer.gets += 1
        self.producer.settle_all()
        return self.value


class FakeProducer:
    """Records what it was given; ``flush`` settles every pending future."""

    def __init__(
        self, fail: set[int] | None = None, refuse_at: int | None = None, hang: bool = False
    ) -> None:
        self.fail, self.refuse_at, self.hang = fail or set(), refuse_at, hang
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.pending: list[FakeFuture] = []
        self.flushes = 0
        self.gets = 0
        self.closed = False
        self.offsets = [0, 0, 0]

    def send(self, topic: str, *, key: bytes, value: bytes, headers: Any) -> FakeFuture:
        if self.refuse_at is not None and len(self.sent) == self.refuse_at:
            raise KafkaTimeoutError("Failed to update metadata after 60.0 secs.")
        self.sent.append((topic, key, value))
        future = FakeFuture(self)
        self.pending.append(future)
        return future

    def _settle(self, index: int, future: FakeFuture) -> None:
        if index in self.fail:
            future.failure(NotEnoughReplicasError(f"record {index} of debtor {PERSON_ID}"))
            return
        partition = hash(self.sent[index][1]) % 3
        future.success(SimpleNamespace(partition=partition, offset=self.offsets[partition]))
        self.offsets[partition] += 1

    def flush(self, timeout: float | None = None) -> None:
        self.flushes += 1
        if self.hang:
            raise KafkaTimeoutError("Timeout after waiting for 1000 ms.")
        self.settle_all()

    def settle_all(self) -> None:
        for index, future in enumerate(self.pending):
            if not future.is_done:
                self._settle(index, future)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, producer: FakeProducer) -> Iterator[CourtClient]:
    envelope = Envelope(AvroCodec(SCHEMAS, MemoryRegistry(), auto_register=True))
    monkeypatch.setattr(sender_module, "make_producer", lambda conn, **_settings: producer)
    monkeypatch.setattr(sender_module, "make_envelope", lambda conn: envelope)
    with CourtClient("3205", Connection("127.0.0.1:1", None), directory=DIRECTORY) as c:
        yield c


# -- validation --------------------------------------------------------------------------------


def test_check_requests_gives_one_result_per_input_in_order() -> None:
    items: list[DelegationRequestIn | dict[str, Any]] = [
        request(1),
        request(2, debtor={"kind": "PERSON", "name": "张三", "id_number": BAD_ID}),
        request(3, case_number="（2024）苏05民3号"),  # full-width is normalised; 民 is no 执 type
        request(4, executing_court="3205"),
        request(5, executing_court="9999"),
        request(6, amount="1.001"),
        request(7, delegation_id="dlg-bulk-00001"),
        request(8, matter="PAY"),
        DelegationRequestIn(**request(9)),
    ]
    results = check_requests(items, court_id="3205", directory=DIRECTORY)
    codes = [r.code if isinstance(r, ValidationError) else "ok" for r in results]
    assert codes == [
        "ok",
        "RESIDENT_ID_INVALID",
        "CASE_NUMBER_TYPE_CODE",
        "DELEGATION_SELF",
        "COURT_UNKNOWN",
        "MONEY_INVALID",
        "DELEGATION_ID_DUPLICATE",
        "REQUEST_INVALID",
        "ok",
    ]
    assert BAD_ID not in str(results[1])
    [spaced] = check_requests(
        [request(10, case_number=" （2024）苏05执3号 ")], court_id="3205", directory=DIRECTORY
    )
    assert isinstance(spaced, DelegationRequestIn) and spaced.case_number == "(2024)苏05执3号"


def test_malformed_input_is_reported_without_echoing_it() -> None:
    debtor = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID, "phone": PERSON_ID}
    (result,) = check_requests([request(debtor=debtor)], court_id="3205", directory=DIRECTORY)
    assert isinstance(result, ValidationError)
    assert result.code == "REQUEST_INVALID"
    assert "debtor.phone" in str(result)
    assert PERSON_ID not in str(result)


def test_an_invalid_request_stops_the_whole_batch(
    client: CourtClient, producer: FakeProducer
) -> None:
    items = [request(n) for n in range(1, 101)]
    items[41] = request(42, debtor={"kind": "ORGANISATION", "name": "某公司", "id_number": BAD_ID})
    items[77] = request(78, case_number="(2024)苏05民78号")
    with pytest.raises(BulkValidationError) as caught:
        client.delegation.request_delegations(items)
    assert caught.value.code == "BULK_INVALID"
    assert [(i, e.code) for i, e in caught.value.errors] == [
        (41, "CREDIT_CODE_INVALID"),
        (77, "CASE_NUMBER_TYPE_CODE"),
    ]
    assert "2 of 100" in str(caught.value)
    assert BAD_ID not in str(caught.value)
    assert producer.sent == [] and producer.flushes == 0


def test_a_request_that_cannot_be_encoded_sends_nothing(
    client: CourtClient, producer: FakeProducer
) -> None:
    items = [request(1), request(2, note="x" * 10)]
    calls = 0
    build = client.sender.build

    def failing_build(record: str, payload: dict[str, Any], **kw: Any) -> OutgoingRecord:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise CourtbusError("registry down", code="REGISTRY_UNAVAILABLE")
        return build(record, payload, **kw)

    client.sender.build = failing_build  # type: ignore[method-assign]
    with pytest.raises(CourtbusError) as caught:
        client.delegation.request_delegations(items)
    assert caught.value.code == "REGISTRY_UNAVAILABLE"
    assert any("request #1" in note for note in caught.value.__notes__)
    assert producer.sent == []


# -- sending ------------------------------------------------------------------------------------


def test_bulk_sends_all_then_flushes_once_and_maps_results_in_order(
    client: CourtClient, producer: FakeProducer
) -> None:
    items = [request(n) for n in range(1, 501)]
    done: list[bool] = []
    sent = client.delegation.request_delegations(items, on_done=done.append)
    assert producer.flushes == 1 and producer.gets == 0  # no per-record wait
    assert len(producer.sent) == 500 and len(sent) == 500 and done == [True] * 500
    assert [s.key for s in sent] == [f"dlg-bulk-{n:05d}" for n in range(1, 501)]
    assert all(topic == "court.3205.outbox" for topic, _, _ in producer.sent)
    assert [key.decode() for _, key, _ in producer.sent] == [s.key for s in sent]
    assert len({s.event_id for s in sent}) == 500
    positions = {(s.partition, s.offset) for s in sent}
    assert len(positions) == 500  # each record has its own acknowledged position


def test_bulk_payload_is_the_single_send_payload(
    client: CourtClient, producer: FakeProducer
) -> None:
    single = client.delegation.request_delegation(**request(1))
    assert producer.gets == 1 and producer.flushes == 0  # the single send still waits
    (bulk,) = client.delegation.request_delegations([request(2)])
    assert isinstance(single, Sent) and isinstance(bulk, Sent)
    decoded = [client.sender.envelope.codec.decode(value) for _, _, value in producer.sent]
    one, two = (d.payload for d in decoded)
    assert decoded[0].record == decoded[1].record
    assert set(one) == set(two)
    for field in ("requested_at", "delegation_id", "case_number"):
        one.pop(field), two.pop(field)
    assert one == two


def test_empty_batch_sends_nothing(client: CourtClient, producer: FakeProducer) -> None:
    assert client.delegation.request_delegations([]) == []
    assert producer.sent == []


def test_broker_failures_raise_naming_sent_and_failed(client: CourtClient) -> None:
    client.sender._producer.fail = {3, 7}
    with pytest.raises(PartialSendError) as caught:
        client.delegation.request_delegations([request(n) for n in range(1, 11)])
    exc = caught.value
    assert isinstance(exc, BulkSendError) and isinstance(exc, ClusterError)
    assert exc.code == "BULK_SEND_FAILED"
    assert [s.key for s in exc.sent] == [
        f"dlg-bulk-{n:05d}" for n in range(1, 11) if n not in (4, 8)
    ]
    assert [(i, dlg) for i, dlg, _ in exc.failed] == [(3, "dlg-bulk-00004"), (7, "dlg-bulk-00008")]
    assert "8 of 10 acknowledged, 2 failed" in str(exc)
    assert "#3 dlg-bulk-00004" in str(exc) and "NotEnoughReplicas" in str(exc)
    assert PERSON_ID not in str(exc)
    assert all(PERSON_ID not in reason for _, _, reason in exc.failed)


def test_producer_refusing_a_record_stops_the_rest(client: CourtClient) -> None:
    client.sender._producer.refuse_at = 4
    with pytest.raises(PartialSendError) as caught:
        client.delegation.request_delegations([request(n) for n in range(1, 11)])
    exc = caught.value
    assert len(exc.sent) == 4
    assert [i for i, _, _ in exc.failed] == list(range(4, 10))
    assert "producer refused" in exc.failed[0][2] and exc.failed[1][2] == "not sent"
    assert "4 of 10 acknowledged, 6 failed" in str(exc)
    assert "and 1 more" not in str(exc)  # 6 failures are all listed


def test_flush_timeout_reports_unconfirmed_records() -> None:
    producer = FakeProducer(hang=True)
    event = EventHeaders.new("court:3205", "cn.court.bus.delegation.requested", "x")
    records = [OutgoingRecord("t", b"k", b"v", [], event) for _ in range(30)]
    with pytest.raises(BulkSendError) as caught:
        send_many(producer, records, timeout_s=1)
    assert caught.value.acknowledged == 0 and len(caught.value.failures) == 30
    assert "may still arrive" in caught.value.failures[0][1]
    assert "and 20 more" in str(caught.value)


# -- CLI ------------------------------------------------------------------------------------------


def line(n: int, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "to": "6104",
        "case": f"(2024)苏05执{n}号",
        "matter": "freeze",
        "debtor_name": "张三",
        "debtor_id": PERSON_ID,
        "asset_kind": "DEPOSIT",
        "amount": "50000.00",
        "freeze_days": 365,
        "delegation_id": f"dlg-cli-{n:05d}",
    }
    fields.update(overrides)
    return json.dumps(fields, ensure_ascii=False)


LINES = [  # the line number is each line's n
    line(1),
    "",
    line(3, debtor_id=BAD_ID),
    "{not json",
    line(5, colour="red"),
    line(6, **{"debtor-kind": "ORGANISATION", "debtor_id": FIRM_CODE, "amount": 12.5}),
    '["a list"]',
    line(8, freeze_days=None, asset_kind=None, amount=None, matter="SEARCH"),
    line(9, to="3205"),
    line(10, delegation_id="dlg-cli-00001"),
    line(11, case=None),
]


def test_check_request_lines_reports_line_numbers() -> None:
    valid, invalid = cli_bus.check_request_lines(LINES, "3205")
    assert [n for n, _ in valid] == [1, 6, 8]
    assert [(n, e.code) for n, e in invalid] == [
        (3, "RESIDENT_ID_INVALID"),
        (4, "LINE_NOT_JSON"),
        (5, "REQUEST_INVALID"),
        (7, "REQUEST_INVALID"),
        (9, "DELEGATION_SELF"),
        (10, "DELEGATION_ID_DUPLICATE"),
        (11, "REQUEST_INVALID"),
    ]
    assert valid[1][1].amount is not None and str(valid[1][1].amount) == "12.50"
    assert valid[1][1].debtor.kind == "ORGANISATION"
    assert "colour" in str(invalid[2][1])
    assert "case" in str(invalid[-1][1])


def test_unknown_sending_court_is_an_error() -> None:
    with pytest.raises(ValidationError) as caught:
        cli_bus.check_request_lines([line(1)], "9999")
    assert caught.value.code == "COURT_UNKNOWN"


class NoClient:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("nothing may connect when a line is invalid")


def test_send_many_with_invalid_lines_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(court_module, "CourtClient", NoClient)
    file = tmp_path / "requests.jsonl"
    file.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["delegation", "send-many", "--court", "3205", "--file", str(file)]
    )
    assert result.exit_code == 1, result.output
    assert "7 invalid lines; nothing sent" in result.output
    for n in (3, 4, 5, 7, 9, 10, 11):
        assert f"line {n}:" in result.output
    assert BAD_ID not in result.output and PERSON_ID not in result.output


class FakeDelegation:
    """Stands in for the SDK's delegation client in the CLI test: acknowledges every request."""

    def __init__(self) -> None:
        self.requests: list[DelegationRequestIn] = []

    def request_delegations(self, requests: Any, *, on_done: Any = None, **_: Any) -> list[Sent]:
        self.requests = list(requests)
        for _r in self.requests:
            on_done(True)
        return [Sent(f"ev-{i}", r.delegation_id, i % 3, i) for i, r in enumerate(self.requests)]


class FakeCourtClient:
    """Stands in for the SDK's court client in the CLI test: its sender's outbox and a
    delegation client."""

    def __init__(self, court_id: str, conn: object, **_: object) -> None:
        self.sender = SimpleNamespace(outbox=f"court.{court_id}.outbox")
        self.delegation = FakeDelegation()

    def __enter__(self) -> FakeCourtClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


def test_send_many_skip_invalid_sends_the_valid_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(court_module, "CourtClient", FakeCourtClient)
    monkeypatch.setattr("courtbus.config.resolve", lambda: Connection("127.0.0.1:1", None))
    monkeypatch.setattr(Connection, "probe", lambda _self, _timeout_s: None)  # no broker needed
    file, results = tmp_path / "requests.jsonl", tmp_path / "sent.jsonl"
    file.write_text("\n".join(LINES), encoding="utf-8")
    argv = [
        "delegation",
        "send-many",
        "--as",
        "3205",
        "--file",
        str(file),
        "--skip-invalid",
        "--out",
        str(results),
    ]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "skipping 7 invalid lines" in result.output
    assert "sent 3 delegation requests from 3205" in result.output
    assert "records/s" not in result.output  # too short a run to measure a rate
    rows = [json.loads(x) for x in results.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["delegation_id"]) for r in rows] == [
        (1, "dlg-cli-00001"),
        (6, "dlg-cli-00006"),
        (8, "dlg-cli-00008"),
    ]
    assert PERSON_ID not in result.output and BAD_ID not in result.output


def test_the_sdk_sends_text_normalised_and_refuses_what_the_gateway_would(
    client: CourtClient, producer: FakeProducer
) -> None:
    decomposed = "张三 Zoe\u0301"  # e + combining acute: NFC makes it one character
    client.delegation.request_delegations(
        [
            request(
                1,
                note="第一行\r\n第二行",
                debtor={"kind": "PERSON", "name": decomposed, "id_number": PERSON_ID},
            )
        ]
    )
    [(_, _, value)] = producer.sent
    event = client.sender.envelope.codec.decode(value).payload
    assert event["debtor"]["name"] == "张三 Zo\u00e9"
    assert event["note"] == "第一行\n第二行"
    with pytest.raises(ValidationError) as caught:  # a bidi override is refused, not sent
        client.delegation.request_delegations(
            [request(2, debtor={"kind": "PERSON", "name": "张\u202e三", "id_number": PERSON_ID})]
        )
    assert "TEXT_BIDI_CONTROL" in str(caught.value) or caught.value.code == "TEXT_BIDI_CONTROL"
    assert len(producer.sent) == 1
