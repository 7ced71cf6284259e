"""What makes a flow, as data: ``FlowSpec`` and the specs of its parts. Imports nothing of
courtbus but the error tree, so every floor (wire, catalogue, gateway, services, app) may read
a spec; what lives on a higher floor (a service's flow class, the projector's handler, the SDK
flow client, the CLI group) is named by a dotted string, ``"package.module:attribute"``, resolved
only where it is used (``resolve``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from courtbus.errors import ConfigError

NAMESPACE = "cn.court.bus"  # every message record's namespace: ``cn.court.bus.<flow>.<Name>``


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """One message type of a flow: its record, event, key and subject fields, and its sender.

    ``sender`` is the participant kind that may send it (``court`` or ``agency``), ``None`` for
    a record only the bus writes (a notice, a view record, a step the bus takes itself);
    ``sender_field`` is the payload field naming the sender, ``None`` when the flow checks the
    sender itself (the presiding court's distribution steps).
    """

    name: str  # the Avro record's short name, in the flow's namespace
    event: str  # the last part of the ``ce_type``: ``cn.court.<flow>.<event>``
    key: str  # the payload field whose value is the Kafka key
    subject: str | None = None  # the payload field for ``ce_subject``
    sender: str | None = None
    sender_field: str | None = None


def message_maker(key: str) -> Callable[..., MessageSpec]:
    """A flow's shorthand for its ``MessageSpec``s, whose key is ``key`` unless one says
    otherwise: ``m(name, event, sender, sender_field, *, key, subject)``, e.g.
    ``m("DebtorListed", "listed", "court", "listing_court", subject="case_number")``."""
    default = key  # the parameter ``key`` of ``m`` is a message's own

    def m(
        name: str,
        event: str,
        sender: str | None = None,
        sender_field: str | None = None,
        *,
        key: str | None = None,
        subject: str | None = None,
    ) -> MessageSpec:
        return MessageSpec(name, event, key or default, subject, sender, sender_field)

    return m


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """How a view goes to agencies' feeds and court groups: the field a feed's ``kinds``
    select on, the field naming the view record's court, and whether groups share it."""

    kind_field: str
    court_field: str
    groups: bool = False


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """A flow's view: a compacted topic of each entity's state, and its record's short name."""

    topic: str
    record: str
    feed: FeedSpec | None = None  # None: no agency feed is cut from this view


@dataclass(frozen=True, slots=True)
class ProjectorSpec:
    """What the projector reads of a flow (its events topic or its view) and the handler that
    writes it into the read model (``"services.projector.views:NAME"``)."""

    topic: str
    handler: str


@dataclass(frozen=True, slots=True)
class CliSpec:
    """A flow's ``courtbus`` command group: its name and the Typer app (dotted)."""

    name: str
    app: str


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """Everything the bus derives for one flow.

    ``service`` is the ``courtbus serve`` name of the service deciding the flow (``None``: the
    flow has none) and ``service_flow`` its runtime ``Flow`` class (dotted), whose ``name`` is
    the service's: its consumer group ``courtbus-<service>``, its principal
    ``service.<service>``. A service is named as its flow but case status's, the watchdog,
    named for what it does. ``stores`` the names of that ``Flow``'s state stores, each with a
    changelog ``bus.<service>.<store>.changelog`` (``timers`` included when it has timers);
    ``own_topics`` the service's internal topics, co-partitioned with the events topic.
    """

    name: str
    messages: tuple[MessageSpec, ...]
    service: str | None = None
    service_flow: str | None = None
    view: ViewSpec | None = None
    stores: tuple[str, ...] = ()
    own_topics: tuple[str, ...] = ()
    projector: ProjectorSpec | None = None
    steps: str | None = None  # the SDK client of this flow's steps: ``CourtClient.<name>``
    cli: CliSpec | None = None

    @property
    def events_topic(self) -> str:
        """``bus.<flow>.events``: where the gateway writes what participants send."""
        return f"bus.{self.name}.events"

    @property
    def namespace(self) -> str:
        """The Avro namespace of the flow's records (``cn.court.bus.<flow>``)."""
        return f"{NAMESPACE}.{self.name}"

    def record(self, short: str) -> str:
        """The Avro full name of one of the flow's records."""
        return f"{self.namespace}.{short}"

    def ce_type(self, message: MessageSpec) -> str:
        """The CloudEvents type of one of the flow's messages (``cn.court.<flow>.<event>``)."""
        return f"cn.court.{self.name}.{message.event}"

    @property
    def changelogs(self) -> tuple[str, ...]:
        """The changelog topics of the service's stores, in the order of ``stores``: the runtime
        names them after its ``Flow.name``, the service's."""
        owner = self.service or self.name
        return tuple(f"bus.{owner}.{store}.changelog" for store in self.stores)


def resolve(dotted: str) -> Any:
    """The object a dotted name ``"package.module:attribute"`` names, imported now.

    Raises:
        ConfigError: ``FLOW_SPEC_UNRESOLVED`` if the module or attribute is missing.
    """
    module, _, attribute = dotted.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in attribute.split(".") if attribute else ():
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"{dotted!r} does not name an object: {exc}", code="FLOW_SPEC_UNRESOLVED"
        ) from exc
    return found
