"""Every registered ``FlowSpec`` is complete and consistent with the schemas, the services, the
projector, the SDK and the CLI; a second registration of a flow's name or parts is refused."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from courtbus.config import Connection
from courtbus.errors import ConfigError
from courtbus.flows import registry
from courtbus.flows.spec import FlowSpec, MessageSpec, resolve
from courtbus.runtime.flow import Flow
from courtbus.runtime.state import TIMERS
from courtbus.sdk import sender as sender_module
from courtbus.sdk.court import CourtClient
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.schemas import SchemaSet
from tests.fakes import MemoryRegistry

SCHEMAS = SchemaSet.load()
SPECS = registry.registered()
KINDS = {"court", "agency"}


def _fields(record: str) -> dict[str, Any]:
    return {str(f["name"]): f for f in SCHEMAS.message(record).json["fields"]}


def test_the_flows_are_registered_in_their_order() -> None:
    assert [s.name for s in SPECS] == [
        "delegation",
        "blacklist",
        "restriction",
        "distribution",
        "casestatus",
    ]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_each_message_type_has_a_schema_and_a_sender_rule(spec: FlowSpec) -> None:
    assert spec.messages
    for m in spec.messages:
        fields = _fields(spec.record(m.name))  # SchemaError if there is no .avsc
        assert m.key in fields, m.name
        # (``subject`` may name a field the record lacks: ``ce_subject`` is then the key)
        assert m.sender is None or m.sender in KINDS, m.name
        if m.sender is None:
            assert m.sender_field is None, f"{m.name}: the bus's own names no sender field"
        elif m.sender_field is not None:
            assert m.sender_field in fields, m.name
    assert any(m.sender is not None for m in spec.messages), "no participant sends anything"
    assert len({m.event for m in spec.messages}) == len(spec.messages)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_service_exists_and_its_stores_are_the_specs(spec: FlowSpec) -> None:
    if spec.service is None:
        assert spec.service_flow is None and not spec.stores and not spec.own_topics
        return
    assert importlib.util.find_spec(f"services.{spec.service}.__main__") is not None
    assert spec.service_flow is not None
    flow = resolve(spec.service_flow)
    # the runtime names its group, transactional ids and changelogs after the Flow's name
    assert issubclass(flow, Flow) and flow.name == spec.service
    assert flow.source == f"bus:{spec.service}"  # what its principal signs (owner_of_source)
    stores = [s.name for s in flow.stores] + ([TIMERS] if flow.timers else [])
    assert sorted(stores) == sorted(spec.stores)
    assert spec.events_topic in flow.inputs.topics
    assert set(spec.own_topics) <= set(flow.inputs.topics)
    assert all(c.startswith(f"bus.{flow.name}.") for c in spec.changelogs)


def test_every_flow_has_a_service_named_as_the_flow_but_case_status() -> None:
    """Case status's service is the watchdog, named for what it does; every other service is
    its flow's name, and every service but the gateway, the feed router and the projector is
    a flow's."""
    from courtbus.app.cli.bus import SERVICE_NAMES
    from courtbus.security.principals import SERVICES

    assert {s.name: s.service for s in SPECS} == {
        "delegation": "delegation",
        "blacklist": "blacklist",
        "restriction": "restriction",
        "distribution": "distribution",
        "casestatus": "watchdog",
    }
    assert registry.get("casestatus").changelogs == (
        "bus.watchdog.cases.changelog",
        "bus.watchdog.links.changelog",
        "bus.watchdog.timers.changelog",
    )
    flows = tuple(s.service for s in SPECS)
    assert tuple(SERVICE_NAMES) == tuple(SERVICES) == ("gateway", *flows, "feeds", "projector")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_view_and_its_feed_fields_are_the_view_records(spec: FlowSpec) -> None:
    if spec.view is None:
        return
    assert spec.view.record in {m.name for m in spec.messages}
    fields = _fields(spec.record(spec.view.record))
    feed = spec.view.feed
    if feed is not None:
        assert feed.kind_field in fields and feed.court_field in fields
        kind = fields[feed.kind_field]["type"]
        assert isinstance(kind, dict) and kind.get("type") == "enum", "a feed's kinds: an enum"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_projector_handler_steps_and_cli_group_resolve(spec: FlowSpec) -> None:
    import typer

    from services.projector.views import ViewHandler

    if spec.projector is not None:
        assert spec.projector.topic in (
            spec.events_topic,
            *((spec.view.topic,) if spec.view else ()),
        )
        assert isinstance(resolve(spec.projector.handler), ViewHandler)
    if spec.steps is not None:
        assert isinstance(resolve(spec.steps), type)
    if spec.cli is not None:
        assert isinstance(resolve(spec.cli.app), typer.Typer)


@pytest.fixture
def court_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[CourtClient]:
    """A court's SDK client with no broker: a producer that sends nothing, a memory registry."""
    envelope = Envelope(AvroCodec(SCHEMAS, MemoryRegistry(), auto_register=True))
    monkeypatch.setattr(sender_module, "make_envelope", lambda _conn: envelope)
    monkeypatch.setattr(
        sender_module, "make_producer", lambda _conn, **_kw: SimpleNamespace(close=lambda: None)
    )
    with CourtClient("320583", Connection("127.0.0.1:1", None)) as client:
        yield client


@pytest.mark.parametrize("spec", [s for s in SPECS if s.steps], ids=lambda s: s.name)
def test_each_flow_s_sdk_client_is_the_court_client_s_attribute_with_the_flow_s_steps(
    spec: FlowSpec, court_client: CourtClient
) -> None:
    assert spec.steps is not None
    client_class = resolve(spec.steps)
    flow_client = getattr(court_client, spec.name)  # court.delegation, court.blacklist, ...
    assert isinstance(flow_client, client_class)
    assert flow_client.sender is court_client.sender  # one producer for every flow
    steps = [n for n, f in vars(client_class).items() if callable(f) and not n.startswith("_")]
    assert steps, f"{client_class.__name__} has no steps"
    # its steps send this flow's records (``NS + short``, the flow's namespace)
    namespace = importlib.import_module(client_class.__module__).NS
    assert namespace == f"{spec.namespace}."


def test_an_unresolvable_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        resolve("services.projector.views:NO_SUCH_HANDLER")
    assert err.value.code == "FLOW_SPEC_UNRESOLVED"
    with pytest.raises(ConfigError):
        resolve("services.no_such_module:X")


_TOY = FlowSpec("toydup", (MessageSpec("ToyThing", "thing", "toy_id", sender="court"),))


@pytest.mark.parametrize(
    "clone",
    [
        lambda b: b,  # the same flow again
        lambda b: dataclasses.replace(b, name="toydup"),  # a new name, the same view and service
        lambda b: dataclasses.replace(_TOY, view=b.view),  # another flow's view topic
        lambda b: dataclasses.replace(_TOY, service=b.service),  # another flow's service
    ],
    ids=["name", "view and service", "view topic", "service"],
)
def test_a_second_registration_is_refused(clone: Any) -> None:
    """As quix-streams' registry refuses a second dataframe on one topic."""
    before = registry.registered()
    with pytest.raises(ConfigError) as err:
        registry.register(clone(registry.get("blacklist")))
    assert err.value.code == "FLOW_DUPLICATE"
    assert registry.registered() == before


def test_unknown_flow() -> None:
    with pytest.raises(ConfigError) as err:
        registry.get("nosuch")
    assert err.value.code == "FLOW_UNKNOWN"
