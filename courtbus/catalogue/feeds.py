"""Agency feeds of the bus's views: which view each flow has (its ``FlowSpec.view``, from
``courtbus.flows``), and each agency's projection.

A feed ``agency.<agency>.<flow>`` carries a view's records (``blacklist.entries``,
``restriction.controls``) projected to exactly the fields the directory grants the agency,
encoded under a projected schema (``cn.court.bus.feed.<agency>.<Record>``: only the granted
fields, their named types resolved, optional fields still optional), so a field not granted is
absent, not null. ``kinds`` keeps only records of those kinds. The feed router
(``services/feeds``) sends them; a partner's drift check (``courtbus.sdk``) computes from the
national view what a feed should hold with the same ``FeedRoute``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro

from courtbus.catalogue.directory import Directory, Feed
from courtbus.errors import ConfigError
from courtbus.flows.registry import LiveMapping, LiveSequence, registered
from courtbus.flows.spec import FeedSpec, ViewSpec
from courtbus.wire.schemas import PRIMITIVES, MessageSchema, SchemaSet


def _fed() -> tuple[tuple[str, ViewSpec, FeedSpec, str], ...]:
    """Each registered flow whose view has agency feeds (``courtbus.flows``): its name, view,
    feed and view record's full name."""
    return tuple(
        (s.name, s.view, s.view.feed, s.record(s.view.record))
        for s in registered()
        if s.view is not None and s.view.feed is not None
    )


# The views the feed router reads, by flow: each registered flow's view with a feed.
VIEW_TOPICS: Mapping[str, str] = LiveMapping(lambda: {f: v.topic for f, v, _, _ in _fed()})
# Each view's value type, the field whose value is a feed's "kind", and the court field.
VIEW_RECORDS: Mapping[str, str] = LiveMapping(lambda: {f: r for f, _, _, r in _fed()})
KIND_FIELDS: Mapping[str, str] = LiveMapping(lambda: {f: d.kind_field for f, _, d, _ in _fed()})
COURT_FIELDS: Mapping[str, str] = LiveMapping(lambda: {f: d.court_field for f, _, d, _ in _fed()})
# The views groups of courts share.
GROUP_FLOWS: Sequence[str] = LiveSequence(lambda: tuple(f for f, _, d, _ in _fed() if d.groups))
FEED_NAMESPACE = "cn.court.bus.feed"
ROUTER_GROUP = "courtbus-feeds"  # the feed router's consumer group (its flow is ``feeds``)


def feed_topic(agency: str, flow: str) -> str:
    """``agency.<agency>.<flow>``: an agency's feed of one flow's view."""
    return f"agency.{agency}.{flow}"


def group_topic(group: str, flow: str = "blacklist") -> str:
    """``group.<name>.<flow>``: a court group's share of one flow's view."""
    return f"group.{group}.{flow}"


def _full(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _named(node: Any, namespace: str | None, found: dict[str, Any]) -> None:
    """Collect every named type defined in ``node`` by full name (names made full)."""
    if isinstance(node, list):
        for item in node:
            _named(item, namespace, found)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in ("record", "enum", "fixed"):
            full = _full(str(node["name"]), node.get("namespace", namespace))
            inner = full.rsplit(".", 1)[0] if "." in full else None
            found[full] = {**node, "name": full, "namespace": None}
            for fld in node.get("fields", []):
                _named(fld["type"], inner, found)
        elif kind == "array":
            _named(node["items"], namespace, found)
        elif kind == "map":
            _named(node["values"], namespace, found)
        elif isinstance(kind, dict | list):
            _named(kind, namespace, found)


def _inline(node: Any, namespace: str | None, found: dict[str, Any], defined: set[str]) -> Any:
    """``node`` with every named type defined at its first use and referred to by full name
    after, whatever the original order was (a granted field may refer to a type the original
    defined in a field that is not granted)."""
    if isinstance(node, str):
        if node in PRIMITIVES:
            return node
        full = _full(node, namespace)
        if full in defined:
            return full
        return _inline(copy.deepcopy(found[full]), None, found, defined)
    if isinstance(node, list):
        return [_inline(item, namespace, found, defined) for item in node]
    kind = node.get("type")
    if kind in ("record", "enum", "fixed"):
        full = _full(str(node["name"]), node.get("namespace") or namespace)
        if full in defined:
            return full
        defined.add(full)
        out = {k: v for k, v in found.get(full, node).items() if k != "namespace"}
        out["name"] = full
        if kind == "record":
            inner = full.rsplit(".", 1)[0]
            out["fields"] = [
                {**f, "type": _inline(f["type"], inner, found, defined)} for f in out["fields"]
            ]
        return out
    out = dict(node)
    if kind == "array":
        out["items"] = _inline(out["items"], namespace, found, defined)
    elif kind == "map":
        out["values"] = _inline(out["values"], namespace, found, defined)
    elif isinstance(kind, dict | list) or (isinstance(kind, str) and kind not in PRIMITIVES):
        out["type"] = _inline(kind, namespace, found, defined)
    return out


def projected_schema(view: MessageSchema, fields: Iterable[str], name: str) -> MessageSchema:
    """The schema of ``view`` with only ``fields`` (in the view's order), as record ``name``.

    Named types are resolved (defined at first use in the projection), optional fields keep
    their ``["null", ...]`` union and default.

    Raises:
        ConfigError: ``FEED_FIELD_UNKNOWN`` for a field the view does not have.
    """
    original = view.json
    wanted = list(dict.fromkeys(fields))
    have = [str(f["name"]) for f in original["fields"]]
    unknown = [f for f in wanted if f not in have]
    if unknown:
        raise ConfigError(
            f"{view.name} has no field(s) {', '.join(unknown)} (fields: {', '.join(have)})",
            code="FEED_FIELD_UNKNOWN",
        )
    namespace = view.name.rsplit(".", 1)[0]
    found: dict[str, Any] = {}
    _named(original, None, found)
    defined = {name}
    chosen = [
        {**f, "type": _inline(f["type"], namespace, found, defined)}
        for f in original["fields"]
        if f["name"] in wanted
    ]
    schema = {"type": "record", "name": name, "fields": chosen}
    if "doc" in original:
        schema["doc"] = f"{view.name} as one feed receives it: {original['doc']}"
    text = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    try:
        parsed = fastavro.parse_schema(json.loads(text))
    except Exception as exc:  # fastavro raises several types for bad schemas
        raise ConfigError(f"{name}: projected schema invalid: {exc}", code="FEED_INVALID") from exc
    return MessageSchema(name, text, parsed)


def _avro_name(agency: str) -> str:
    return agency.replace("-", "_")


@dataclass(frozen=True, slots=True)
class FeedRoute:
    """One agency's feed of one view: its topic, kinds, and projected schema."""

    agency: str
    flow: str
    topic: str
    kinds: frozenset[str]
    schema: MessageSchema
    fields: tuple[str, ...]

    @property
    def sees_delisting(self) -> bool:
        """Whether the agency can tell a delisted entry (else it gets a tombstone)."""
        return "status" in self.fields or "delisted_at" in self.fields

    def wants(self, payload: Mapping[str, Any]) -> bool:
        """The agency receives this record (its kind is granted) as a record."""
        kind = payload.get(KIND_FIELDS[self.flow])
        if self.kinds and kind not in self.kinds:
            return False
        return self.sees_delisting or payload.get("status") != "DELISTED"

    def project(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Exactly the granted fields of ``payload``."""
        return {f: payload[f] for f in self.fields if f in payload}


def feed_routes(directory: Directory, schemas: SchemaSet) -> list[FeedRoute]:
    """A route per directory feed of a flow with a view here (others are someone else's).

    Raises:
        ConfigError: ``FEED_FIELD_UNKNOWN`` (a granted field the view lacks) or
            ``FEED_KIND_UNKNOWN`` (a kind that is not a value of the view's kind field).
    """
    routes = []
    for feed in directory.feeds:
        if feed.flow not in VIEW_TOPICS:
            continue
        view = schemas.message(VIEW_RECORDS[feed.flow])
        short = view.name.rsplit(".", 1)[1]
        name = f"{FEED_NAMESPACE}.{_avro_name(feed.agency)}.{short}"
        fields = tuple(str(f["name"]) for f in view.json["fields"] if f["name"] in feed.fields)
        schema = projected_schema(view, feed.fields, name)
        _check_kinds(feed, view)
        topic = feed_topic(feed.agency, feed.flow)
        routes.append(
            FeedRoute(feed.agency, feed.flow, topic, frozenset(feed.kinds), schema, fields)
        )
    return routes


def _check_kinds(feed: Feed, view: MessageSchema) -> None:
    field = next(f for f in view.json["fields"] if f["name"] == KIND_FIELDS[feed.flow])
    symbols = set(field["type"].get("symbols", ())) if isinstance(field["type"], dict) else set()
    unknown = [k for k in feed.kinds if k not in symbols]
    if unknown:
        raise ConfigError(
            f"feed of {feed.agency} ({feed.flow}): unknown kind(s) {', '.join(unknown)}; "
            f"one of {', '.join(sorted(symbols))}",
            code="FEED_KIND_UNKNOWN",
        )
