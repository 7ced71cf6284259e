"""Adding a flow (issue 23): a toy flow registered with one ``FlowSpec``, in this test only, is
picked up by the gateway's sender table, the message catalogue, the projector's dispatch, the
feed router's routes, the topic catalogue and the CLI's service list, with no other edit."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer

from courtbus.catalogue.directory import Directory, Feed, load_directory
from courtbus.errors import ValidationError
from courtbus.flows import registry
from courtbus.flows.spec import (
    CliSpec,
    FeedSpec,
    FlowSpec,
    MessageSpec,
    ProjectorSpec,
    ViewSpec,
    resolve,
)
from courtbus.runtime.harness import FlowHarness
from courtbus.store import ReadModelWriter
from courtbus.store.batch import PendingRows
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope, Event, RawRecord
from courtbus.wire.memory import MemoryRegistry
from courtbus.wire.schemas import SchemaSet
from services.projector.views import ViewHandler

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
VIEW = "toy.things"
NS = "cn.court.bus.toy"
COURT = {"court_id": "4408", "designation": "粤08"}
TOY = FlowSpec(
    name="toy",
    messages=(
        MessageSpec("ToyOpened", "opened", "toy_id", sender="court", sender_field="court"),
        MessageSpec("ToyThing", "thing", "toy_id"),  # the view: the bus's own
    ),
    service="toy",
    view=ViewSpec(VIEW, "ToyThing", FeedSpec("kind", "court", groups=True)),
    stores=("things", "timers"),
    projector=ProjectorSpec(VIEW, "tests.unit.test_toy_flow:TOY_HANDLER"),
    cli=CliSpec("toy", "tests.unit.test_toy_flow:toy_app"),
)
_KIND = {"type": "enum", "name": "ToyKind", "symbols": ["RED", "BLUE"]}
SCHEMAS: dict[str, Any] = {
    f"{NS}.ToyOpened": {
        "type": "record",
        "name": "ToyOpened",
        "namespace": NS,
        "fields": [
            {"name": "toy_id", "type": "string"},
            {"name": "court", "type": "cn.court.bus.Court"},
        ],
    },
    f"{NS}.ToyThing": {
        "type": "record",
        "name": "ToyThing",
        "namespace": NS,
        "fields": [
            {"name": "toy_id", "type": "string"},
            {"name": "kind", "type": _KIND},
            {"name": "court", "type": "cn.court.bus.Court"},
            {"name": "note", "type": "string"},
        ],
    },
}


class Recording(ViewHandler):
    """The toy's projector handler: remembers what it was given."""

    def __init__(self) -> None:
        self.kept: list[tuple[str, Any]] = []

    def keep(self, pending: PendingRows, raw: RawRecord, event: Event | None) -> None:
        self.kept.append(((raw.key or b"").decode(), None if event is None else event.payload))

    def apply(self, model: ReadModelWriter, raw: RawRecord, event: Event | None) -> None:
        self.keep(PendingRows(), raw, event)


TOY_HANDLER = Recording()
toy_app = typer.Typer(help="The toy flow's commands.")


@pytest.fixture
def toy() -> Iterator[FlowSpec]:
    """The toy flow, registered for one test."""
    TOY_HANDLER.kept.clear()
    registry.register(TOY)
    try:
        yield TOY
    finally:
        registry.unregister(TOY.name)


def envelope() -> Envelope:
    schemas = SchemaSet({**SchemaSet.load().definitions, **SCHEMAS})
    return Envelope(AvroCodec(schemas, MemoryRegistry(), auto_register=True))


def directory() -> Directory:
    d = load_directory()
    feed = Feed("nia", "toy", ("RED",), ("toy_id", "kind"))
    return dataclasses.replace(d, feeds=(*d.feeds, feed))


def thing(kind: str = "RED") -> dict[str, Any]:
    return {"toy_id": "t-1", "kind": kind, "court": COURT, "note": "只给法院看"}


def test_the_message_catalogue_and_the_gateway_take_the_toy(toy: FlowSpec) -> None:
    from courtbus.gateway.rules import SENDERS, check_sender
    from courtbus.wire.messages import FLOWS, MESSAGE_TYPES, by_ce_type, by_record

    assert "toy" in FLOWS and MESSAGE_TYPES[-3].record == f"{NS}.ToyThing"  # before the notices
    assert by_record(f"{NS}.ToyOpened").flow == "toy"
    assert by_ce_type("cn.court.toy.opened").key({"toy_id": "t-1"}) == "t-1"
    assert SENDERS["ToyOpened"] == ("court", "court") and "ToyThing" not in SENDERS
    check_sender(f"{NS}.ToyOpened", "court", "4408", {"toy_id": "t-1", "court": COURT})
    with pytest.raises(ValidationError) as err:
        check_sender(f"{NS}.ToyOpened", "court", "3205", {"toy_id": "t-1", "court": COURT})
    assert err.value.code == "SOURCE_NOT_PARTY"
    with pytest.raises(ValidationError) as err:
        check_sender(f"{NS}.ToyThing", "court", "4408", thing())
    assert err.value.code == "TYPE_NOT_ALLOWED"


def test_the_gateway_routes_the_toy_to_its_events_topic(toy: FlowSpec) -> None:
    from courtbus.bus.topics import flow_topic
    from courtbus.wire.messages import by_record

    assert flow_topic(by_record(f"{NS}.ToyOpened").flow) == toy.events_topic == "bus.toy.events"


def test_the_projector_reads_the_toys_view_with_its_handler(toy: FlowSpec, tmp_path: Path) -> None:
    from services.projector.flow import ProjectorFlow

    model = ReadModelWriter(f"sqlite:///{tmp_path / 'read.db'}")
    model.migrate()
    try:
        flow = ProjectorFlow(envelope(), model)
        assert VIEW in flow.inputs.topics and VIEW in ProjectorFlow.inputs.topics
        h = FlowHarness(flow, start=T0)
        h.send(VIEW, f"{NS}.ToyThing", thing(), "bus:toy")
        h.feed_raw(VIEW, b"t-1", None, [])  # a tombstone
    finally:
        model.close()
    assert TOY_HANDLER.kept == [("t-1", thing()), ("t-1", None)]


def test_the_feed_router_routes_the_toys_view(toy: FlowSpec) -> None:
    from courtbus.catalogue.feeds import VIEW_TOPICS
    from services.feeds.flow import FeedsFlow

    assert VIEW_TOPICS["toy"] == VIEW
    flow = FeedsFlow(envelope(), directory())
    assert VIEW in flow.inputs.topics
    h = FlowHarness(flow, start=T0, partitions=3)
    out = h.send(VIEW, f"{NS}.ToyThing", thing(), "bus:toy")
    topics = {o.topic for o in out}
    assert topics == {"agency.nia.toy", "group.west-guangdong.toy"}
    (fed,) = [o for o in out if o.topic == "agency.nia.toy"]
    decoded = h.envelope.codec.decode(fed.value or b"")
    assert decoded.record == "cn.court.bus.feed.nia.ToyThing"
    assert decoded.payload == {"toy_id": "t-1", "kind": "RED"}  # only the granted fields
    blue = h.send(VIEW, f"{NS}.ToyThing", {**thing("BLUE"), "toy_id": "t-2"}, "bus:toy")
    assert {o.topic for o in blue} == {"group.west-guangdong.toy"}  # a kind not granted


def test_the_topic_catalogue_has_the_toys_topics(toy: FlowSpec) -> None:
    from courtbus.catalogue.topics import load_catalogue

    catalogue = load_catalogue()
    specs = {s.name: s for s in catalogue.specs(directory(), catalogue.profile("single"))}
    assert specs["bus.toy.events"].configs["retention.ms"] == "-1"
    for name in (
        VIEW,
        "bus.toy.things.changelog",
        "bus.toy.timers.changelog",
        "agency.nia.toy",
        "group.west-guangdong.toy",
    ):
        assert specs[name].configs["cleanup.policy"] == "compact", name


def test_the_cli_and_the_demo_run_the_toys_service(toy: FlowSpec) -> None:
    from courtbus.app.cli.bus import SERVICE_NAMES
    from courtbus.app.demo_services import SERVICES
    from courtbus.security.principals import SERVICES as PRINCIPALS
    from courtbus.security.principals import service_principal

    assert "toy" in SERVICE_NAMES and "toy" in SERVICES and "toy" in PRINCIPALS
    assert SERVICES[-1] == "projector" and service_principal("toy") == "service.toy"
    assert toy.cli is not None and resolve(toy.cli.app) is toy_app


def test_the_toy_leaves_no_trace() -> None:
    from courtbus.app.cli.bus import SERVICE_NAMES
    from courtbus.gateway.rules import SENDERS
    from courtbus.wire.messages import FLOWS

    assert "toy" not in FLOWS and "toy" not in SERVICE_NAMES and "ToyOpened" not in SENDERS
