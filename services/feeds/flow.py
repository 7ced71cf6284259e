"""The feed router: the bus's views (``blacklist.entries``) → each agency's feed and each
court group's list.

**Agencies.** For every feed of the directory whose flow has a view here, each view record
goes to ``agency.<agency>.<flow>`` projected to exactly the fields the agency may see: the
value is encoded with a projected schema (``cn.court.bus.feed.<agency>.<Record>``: only the
granted fields, their named types resolved, optional fields still optional) registered with
the registry, so a field not granted is absent, not null. ``kinds`` keeps only entries of
those kinds (for the list: ``ListingGround`` values; empty: all). An agency granted neither
``status`` nor ``delisted_at`` cannot tell a delisted entry from a listed one, so it gets a
tombstone when the entry is delisted.

**Groups.** A court group of the directory (e.g. west-guangdong: Zhanjiang, Maoming and
Yangjiang share their lists, report:527-531) gets its members' entries (listing court in the
group), full records (the courts are on the bus), on ``group.<name>.blacklist``.

**Tombstones** pass through as tombstones, to the topics the entry went to: the flow keeps,
per view and entry (store ``routes``, in the entry's task, keyed ``<flow>/<key>``: two views
may use the same key, as a listing and the consumption ban it requires do), where it sent it
last, so an entry that no longer goes somewhere is retracted there with a tombstone and an
agency never hears of entries it was not given. A copy equal to the one last sent to a topic is not sent again (the view
changed only in fields that destination is not given). CloudEvents headers are kept, with a new ``ce_id`` derived from the view
record's ``ce_id`` and the destination (a replay writes the same ids). The directory is read
at start: a changed grant takes effect on restart.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import fastavro

from courtbus.bus.records import Output
from courtbus.catalogue.directory import Directory, Feed
from courtbus.errors import ConfigError
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec, Table
from courtbus.wire.envelope import Envelope, RawRecord
from courtbus.wire.events import Headers
from courtbus.wire.schemas import PRIMITIVES, MessageSchema, SchemaSet

log = logging.getLogger("courtbus.feeds")

# The views the router reads, by flow. The restriction flow adds its view here.
VIEW_TOPICS: dict[str, str] = {
    "blacklist": "blacklist.entries",
    "restriction": "restriction.controls",
}
# Each view's value type, the field whose value is a feed's "kind", and the court field.
VIEW_RECORDS: dict[str, str] = {
    "blacklist": "cn.court.bus.blacklist.BlacklistEntry",
    "restriction": "cn.court.bus.restriction.RestrictionControl",
}
KIND_FIELDS: dict[str, str] = {"blacklist": "ground", "restriction": "kind"}
COURT_FIELDS: dict[str, str] = {"blacklist": "listing_court", "restriction": "issuing_court"}
GROUP_FLOWS = ("blacklist",)  # the views groups of courts share
FEED_NAMESPACE = "cn.court.bus.feed"
_IDS = uuid.UUID("5d0b6c62-6f1e-4a55-9a57-0c1f3b7e2f10")  # namespace of derived ce_ids


def _load_routes(data: bytes) -> dict[str, str]:
    sent = json.loads(data)
    return {t: "" for t in sent} if isinstance(sent, list) else dict(sent)  # older: a list


# Per view key: each topic it was last sent to → a digest of the value sent there.
ROUTES: StoreSpec[dict[str, str]] = StoreSpec(
    "routes", lambda sent: json.dumps(sent, sort_keys=True).encode(), _load_routes
)


def route_key(flow: str, key: bytes) -> str:
    """The ``routes`` store's key of a view record: the view's flow and the record's key."""
    return f"{flow}/{key.decode()}"


def _digest(value: bytes) -> str:
    return hashlib.blake2b(value, digest_size=12).hexdigest()


def feed_topic(agency: str, flow: str) -> str:
    """``agency.<agency>.<flow>``: an agency's feed of one flow's view."""
    return f"agency.{agency}.{flow}"


def group_topic(group: str, flow: str = "blacklist") -> str:
    """``group.<name>.<flow>``: a court group's share of one flow's view."""
    return f"group.{group}.{flow}"


def derived_id(ce_id: str, destination: str) -> str:
    """The ``ce_id`` of a view record's copy for ``destination`` (an agency id or
    ``group:<name>``): the same for the same record, so a replay is recognisable."""
    return str(uuid.uuid5(_IDS, f"{ce_id}|{destination}"))


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


def _headers(headers: Headers, ce_id: str | None, destination: str) -> list[tuple[str, bytes]]:
    out = []
    for key, value in headers or ():
        if key == "ce_id" and ce_id is not None:
            value = derived_id(ce_id, destination).encode()
        out.append((key, bytes(value or b"")))
    return out


class FeedsFlow(Flow):
    """Routes each view record to the agencies' feeds and the court groups' lists."""

    name = "feeds"
    source = "bus:feeds"
    inputs = Inputs(topics=tuple(VIEW_TOPICS.values()))
    decode = False  # tombstones are read raw; values are decoded here
    dead_letter_undeliverable = True  # an agency's missing feed keeps nothing from the others
    stores = (ROUTES,)

    def __init__(self, envelope: Envelope, directory: Directory) -> None:
        super().__init__(envelope)
        self.routes = feed_routes(directory, envelope.codec.schemas)
        self.groups = {name: frozenset(members) for name, members in directory.groups.items()}
        self._flows = {topic: flow for flow, topic in VIEW_TOPICS.items()}
        for route in self.routes:
            log.info(
                "feed %s: %d field(s) as %s", route.topic, len(route.fields), route.schema.name
            )

    def sender(self, raw: RawRecord) -> tuple[str, str] | None:
        """Nobody: a view record the router cannot route goes to the dead letters only."""
        return None

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """The copies of one view record for each feed and group it belongs to."""
        raw = record.raw
        flow = self._flows[raw.topic]
        key = raw.key or b""
        routes = state.table(ROUTES)
        stored = route_key(flow, key)
        before = routes.get(stored)
        if before is None:
            before = self._legacy(routes, flow, key)
        if raw.value is None:
            routes.delete(stored)
            return [Output(t, key, None, _headers(raw.headers, None, t)) for t in before]
        event = self.envelope.read(raw)
        payload = event.payload
        ce_id = event.headers.id
        outputs: list[Output] = []
        for route in self.routes:
            if route.flow != flow or not route.wants(payload):
                continue
            value = self.envelope.codec.encode_with(route.schema, route.project(payload))
            outputs.append(
                Output(route.topic, key, value, _headers(raw.headers, ce_id, route.agency))
            )
        if flow in GROUP_FLOWS:
            court = (payload.get(COURT_FIELDS[flow]) or {}).get("court_id")
            for group, members in sorted(self.groups.items()):
                if court in members:
                    topic = group_topic(group, flow)
                    headers = _headers(raw.headers, ce_id, f"group:{group}")
                    outputs.append(Output(topic, key, raw.value, headers))
        now = {o.topic: _digest(o.value or b"") for o in outputs}
        # A copy equal to the one last sent there (a change in fields that destination is not
        # given, e.g. an agency's acknowledgement) is not sent again.
        changed = [o for o in outputs if before.get(o.topic) != now[o.topic]]
        # Retract the entry where it no longer goes (a kind no longer granted, a delisting an
        # agency cannot see): a tombstone there.
        changed += [Output(t, key, None, []) for t in before if t not in now]
        if now:
            if now != before:
                routes.put(stored, now)
        elif before:
            routes.delete(stored)
        return changed

    @staticmethod
    def _legacy(routes: Table[dict[str, str]], flow: str, key: bytes) -> dict[str, str]:
        """This view's share of a route stored under the bare key (before routes were keyed
        by view), moved out of it: its topics are those named ``*.<flow>``; what is left
        stays for the other view."""
        old = routes.get(key.decode())
        if not old:
            return {}
        mine = {t: d for t, d in old.items() if t.endswith(f".{flow}")}
        rest = {t: d for t, d in old.items() if t not in mine}
        if rest:
            routes.put(key.decode(), rest)
        else:
            routes.delete(key.decode())
        return mine
