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

**Signatures.** A copy here is a new record (a projected value, a new ``ce_id``), so the view
record's ``ce_dssematerial`` no longer matches it: it is dropped, and the copy is signed by the
feed router's own key (``service.feeds``) when the service is given one
(``$COURTBUS_SIGNING_KEY``), as the verifiability extension asks of a proxy that changes what
was signed. The view record, with the signature of the service that wrote it, stays on its
topic as the evidence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid

from courtbus.bus.records import Output
from courtbus.catalogue.directory import Directory
from courtbus.catalogue.feeds import (
    COURT_FIELDS,
    GROUP_FLOWS,
    VIEW_TOPICS,
    FeedRoute,
    feed_routes,
    feed_topic,
    group_topic,
    projected_schema,
)
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec, Table
from courtbus.security.signing import HEADER
from courtbus.wire.envelope import Envelope, RawRecord
from courtbus.wire.events import Headers

__all__ = [
    "ROUTES",
    "FeedRoute",
    "FeedsFlow",
    "derived_id",
    "feed_routes",
    "feed_topic",
    "group_topic",
    "projected_schema",
]

log = logging.getLogger("courtbus.feeds")

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


def derived_id(ce_id: str, destination: str) -> str:
    """The ``ce_id`` of a view record's copy for ``destination`` (an agency id or
    ``group:<name>``): the same for the same record, so a replay is recognisable."""
    return str(uuid.uuid5(_IDS, f"{ce_id}|{destination}"))


def _headers(headers: Headers, ce_id: str | None, destination: str) -> list[tuple[str, bytes]]:
    out = []
    for key, value in headers or ():
        if key.lower() == HEADER:  # the view's signature: it does not cover the copy
            continue
        if key == "ce_id" and ce_id is not None:
            value = derived_id(ce_id, destination).encode()
        out.append((key, bytes(value or b"")))
    return out


class _Inputs:
    """``FeedsFlow.inputs``: the views with feeds of the flows registered now."""

    def __get__(self, instance: object, owner: type | None = None) -> Inputs:
        return Inputs(topics=tuple(VIEW_TOPICS.values()))


class FeedsFlow(Flow):
    """Routes each view record to the agencies' feeds and the court groups' lists."""

    name = "feeds"
    source = "bus:feeds"
    inputs = _Inputs()
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

    def _signed(self, headers: list[tuple[str, bytes]], value: bytes) -> list[tuple[str, bytes]]:
        """``headers`` signed by the feed router's key, if it has one."""
        signer = self.envelope.signer
        return headers if signer is None else signer(headers, value)

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
            headers = self._signed(_headers(raw.headers, ce_id, route.agency), value)
            outputs.append(Output(route.topic, key, value, headers))
        if flow in GROUP_FLOWS:
            court = (payload.get(COURT_FIELDS[flow]) or {}).get("court_id")
            for group, members in sorted(self.groups.items()):
                if court in members:
                    topic = group_topic(group, flow)
                    headers = _headers(raw.headers, ce_id, f"group:{group}")
                    outputs.append(Output(topic, key, raw.value, self._signed(headers, raw.value)))
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
