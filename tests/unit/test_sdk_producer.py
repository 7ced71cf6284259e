"""The SDK clients' producers do not linger (``courtbus.wire.client.SDK_LINGER_MS``): each
``send_record`` waits for its record's acknowledgement, so a linger would only be added to every
send (5 ms of kafka-python's, measured by ``bench.web_ingress``). Pure: no broker."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection
from courtbus.sdk import agency as agency_module
from courtbus.sdk import sender as sender_module
from courtbus.sdk.agency import AgencyClient
from courtbus.sdk.court import CourtClient
from courtbus.wire import client as wire_client
from courtbus.wire.client import SDK_LINGER_MS
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.schemas import SchemaSet
from tests.fakes import MemoryRegistry

DIRECTORY = load_directory()
NOWHERE = Connection("127.0.0.1:1", None)


class Acked:
    """A producer whose every send is acknowledged at once; it keeps the settings asked."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings, self.sent = settings, 0

    def send(self, topic: str, **_record: Any) -> Any:
        self.sent += 1
        return SimpleNamespace(get=lambda timeout: SimpleNamespace(partition=0, offset=self.sent))

    def close(self) -> None:
        pass


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[Acked]:
    producers: list[Acked] = []

    def make(_conn: Connection, **settings: Any) -> Acked:
        producers.append(Acked(settings))
        return producers[-1]

    envelope = Envelope(AvroCodec(SchemaSet.load(), MemoryRegistry(), auto_register=True))
    for module in (sender_module, agency_module):
        monkeypatch.setattr(module, "make_envelope", lambda _conn: envelope)
    monkeypatch.setattr(sender_module, "make_producer", make)
    monkeypatch.setattr(wire_client, "make_producer", make)  # AgencyClient imports it late
    return producers


def test_no_linger_for_the_sdk_clients() -> None:
    assert SDK_LINGER_MS == 0


def test_a_court_client_s_producer_does_not_linger(made: list[Acked]) -> None:
    with CourtClient("3205", NOWHERE, directory=DIRECTORY):
        pass
    assert [p.settings for p in made] == [{"linger_ms": SDK_LINGER_MS}]


def test_an_agency_client_s_producer_does_not_linger(made: list[Acked]) -> None:
    with AgencyClient("nia", NOWHERE, directory=DIRECTORY) as nia:
        assert made == []  # made at the first send
        nia.acknowledge("rc-3205-2023-88-exit")
    assert [p.settings for p in made] == [{"linger_ms": SDK_LINGER_MS}] and made[0].sent == 1
