"""The feed router (services/feeds) without Kafka: projection to the granted fields, kinds,
group routing, tombstones, and an agency not granted the list getting nothing."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import pytest

from courtbus.bus.records import Output
from courtbus.catalogue.directory import Directory, Feed, load_directory
from courtbus.errors import ConfigError
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire import values as v
from courtbus.wire.codec import AvroCodec
from courtbus.wire.memory import MemoryRegistry
from courtbus.wire.schemas import SchemaSet
from services.feeds.flow import (
    ROUTES,
    FeedsFlow,
    derived_id,
    feed_routes,
    projected_schema,
)

VIEW = "blacklist.entries"
ENTRY = "cn.court.bus.blacklist.BlacklistEntry"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PERSON_ID = "320583199303121234"
ICBC = (
    "entry_id",
    "case_number",
    "listing_court",
    "debtor",
    "ground",
    "period_months",
    "listed_at",
    "delisted_at",
    "reason",
)


def entry(
    n: int, *, court: str = "3205", status: str = "ACTIVE", ground: str = "REFUSED_WITH_ABILITY"
) -> dict[str, Any]:
    delisted = status == "DELISTED"
    return {
        "entry_id": f"bl-{n:03d}",
        "status": status,
        "case_number": v.case_number(f"(2024)苏05执{n + 1}号"),
        "listing_court": v.court(court),
        "debtor": v.debtor("PERSON", "张三", PERSON_ID),
        "legal_representative": None,
        "legal_representative_id": None,
        "ground": ground,
        "serious": False,
        "period_months": None if ground == "REFUSED_WITH_ABILITY" else 24,
        "obligation": "支付人民币 1,000.00 元",
        "performance": "全部未履行",
        "conduct": "有履行能力而拒不履行",
        "title_issuer": "江苏省苏州市中级人民法院",
        "title_number": f"(2023)苏05民初{n + 1}号",
        "filed_at": T0 - timedelta(days=90),
        "listed_at": T0,
        "expires_at": None,
        "updated_at": T0,
        "delisted_at": T0 if delisted else None,
        "reason": "PERFORMED" if delisted else None,
        "version": 2 if delisted else 1,
    }


def harness(directory: Directory | None = None) -> FlowHarness:
    flow = FeedsFlow(memory_envelope(), directory or load_directory())
    return FlowHarness(flow, start=T0, partitions=3)


def send(h: FlowHarness, payload: dict[str, Any]) -> list[Output]:
    return h.send(VIEW, ENTRY, payload, "bus:blacklist")


def on(outputs: list[Output], topic: str) -> list[Output]:
    return [o for o in outputs if o.topic == topic]


def decoded(h: FlowHarness, out: Output) -> tuple[str, dict[str, Any]]:
    assert out.value is not None
    d = h.envelope.codec.decode(out.value)
    return d.record, d.payload


def test_an_agency_gets_exactly_its_granted_fields_under_its_own_record_name() -> None:
    h = harness()
    out = on(send(h, entry(1)), "agency.icbc.blacklist")
    assert len(out) == 1 and out[0].key == b"bl-001"
    record, payload = decoded(h, out[0])
    assert record == "cn.court.bus.feed.icbc.BlacklistEntry"
    assert tuple(payload) == ICBC  # obligation, conduct, status ... absent, not null
    assert payload["debtor"]["id_number"] == PERSON_ID
    assert payload["listing_court"]["court_id"] == "3205"
    assert payload["listed_at"] == T0 and payload["delisted_at"] is None
    pbccrc = on(h.outputs, "agency.pbccrc.blacklist")
    assert decoded(h, pbccrc[0])[1]["status"] == "ACTIVE"


def test_headers_kept_with_a_deterministic_ce_id_per_destination() -> None:
    h = harness()
    built = h.envelope.build(VIEW, ENTRY, entry(1), "bus:blacklist")
    outs = h.feed_raw(VIEW, built.key, built.value, built.headers)
    view_headers = dict(built.headers)
    for out in outs:
        headers = dict(out.headers)
        assert headers["ce_type"] == view_headers["ce_type"]
        assert headers["ce_source"] == b"bus:blacklist"
        assert headers["ce_id"] != view_headers["ce_id"]
    icbc = dict(on(outs, "agency.icbc.blacklist")[0].headers)
    assert icbc["ce_id"].decode() == derived_id(built.event.id, "icbc")
    again = FlowHarness(FeedsFlow(h.envelope, load_directory()), start=T0)  # a replay
    replayed = again.feed_raw(VIEW, built.key, built.value, built.headers)
    assert [dict(o.headers)["ce_id"] for o in replayed] == [dict(o.headers)["ce_id"] for o in outs]


def test_projected_schema_resolves_named_types_and_keeps_optional_fields_optional() -> None:
    view = SchemaSet.load().message(ENTRY)
    # debtor's named types were defined inside fields not granted? Grant only a later user.
    schema = projected_schema(view, ["entry_id", "reason", "debtor", "period_months"], "x.Feed")
    data = json.loads(schema.text)
    assert [f["name"] for f in data["fields"]] == ["entry_id", "debtor", "period_months", "reason"]
    optional = {f["name"]: f for f in data["fields"]}
    assert optional["period_months"]["type"] == ["null", "int"]
    assert optional["period_months"]["default"] is None
    assert optional["reason"]["type"][0] == "null"
    assert optional["reason"]["type"][1]["name"] == "cn.court.bus.blacklist.DelistingReason"
    assert optional["debtor"]["type"]["name"] == "cn.court.bus.Debtor"
    # A court granted twice in one projection is defined once, referred to after.
    two = projected_schema(view, ["case_number", "listing_court"], "x.Two")
    assert two.text.count('"name":"cn.court.bus.Court"') == 1
    # It encodes and decodes with fastavro on its own.
    payload = {k: entry(3, status="DELISTED")[k] for k in ("entry_id", "debtor", "reason")}
    payload["period_months"] = None
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(json.loads(schema.text)), payload)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, schema.parsed) == payload


def test_encode_with_registers_the_run_time_schema_once() -> None:
    registry = MemoryRegistry()
    codec = AvroCodec(SchemaSet.load(), registry)  # no auto_register: still registers this one
    schema = projected_schema(SchemaSet.load().message(ENTRY), ["entry_id"], "x.Only")
    first = codec.encode_with(schema, {"entry_id": "bl-1"})
    codec.encode_with(schema, {"entry_id": "bl-2"})
    assert list(registry.ids) == [("x.Only", schema.text)]
    assert codec.decode(first).payload == {"entry_id": "bl-1"}
    with pytest.raises(Exception) as info:
        codec.encode_with(schema, {"entry_id": "bl-1", "status": "ACTIVE"})  # no other field
    assert getattr(info.value, "code", None) == "AVRO_ENCODE_FAILED"


def test_unknown_field_or_kind_in_the_directory_is_refused_at_start() -> None:
    d = load_directory()
    bad = replace(d, feeds=(Feed("icbc", "blacklist", (), ("entry_id", "salary")),))
    with pytest.raises(ConfigError) as info:
        feed_routes(bad, SchemaSet.load())
    assert info.value.code == "FEED_FIELD_UNKNOWN" and "salary" in info.value.reason
    bad = replace(d, feeds=(Feed("icbc", "blacklist", ("EXIT_BAN",), ("entry_id",)),))
    with pytest.raises(ConfigError) as info:
        feed_routes(bad, SchemaSet.load())
    assert info.value.code == "FEED_KIND_UNKNOWN"


def test_kinds_filter_and_an_agency_not_granted_the_list_gets_nothing() -> None:
    d = load_directory()
    feeds = (*d.feeds, Feed("rail", "blacklist", ("BREACHED_SETTLEMENT",), ("entry_id", "ground")))
    h = harness(replace(d, feeds=feeds))
    send(h, entry(1))
    send(h, entry(2, ground="BREACHED_SETTLEMENT"))
    rail = on(h.outputs, "agency.rail.blacklist")
    assert [o.key for o in rail] == [b"bl-002"]
    assert {o.topic for o in h.outputs} == {
        "agency.icbc.blacklist",
        "agency.pbccrc.blacklist",
        "agency.rail.blacklist",
        "group.suzhou.blacklist",
    }  #  (nia, caac: restriction feeds only)
    tomb = h.feed_raw(VIEW, b"bl-001", None, [])
    assert {o.topic for o in tomb} == {
        "agency.icbc.blacklist",
        "agency.pbccrc.blacklist",
        "group.suzhou.blacklist",
    }  # rail never had bl-001, so it hears nothing of it


def test_groups_get_their_members_entries_in_full() -> None:
    h = harness()
    outs = send(h, entry(1, court="4409"))
    group = on(outs, "group.west-guangdong.blacklist")
    assert len(group) == 1
    record, payload = decoded(h, group[0])
    assert record == ENTRY and payload["conduct"] == "有履行能力而拒不履行"
    assert (
        dict(group[0].headers)["ce_id"]
        != dict(on(outs, "agency.icbc.blacklist")[0].headers)["ce_id"]
    )
    assert not on(outs, "group.suzhou.blacklist") and not on(
        outs, "group.guanzhong-plain.blacklist"
    )
    assert on(send(h, entry(2, court="3205")), "group.suzhou.blacklist")


def test_delisting_and_tombstones_reach_where_the_entry_went() -> None:
    d = load_directory()
    blind = Feed("rail", "blacklist", (), ("entry_id", "ground"))  # cannot tell a delisting
    h = harness(replace(d, feeds=(*d.feeds, blind)))
    send(h, entry(1, court="4408"))
    delisted = send(h, entry(1, court="4408", status="DELISTED"))
    icbc = on(delisted, "agency.icbc.blacklist")
    assert decoded(h, icbc[0])[1]["reason"] == "PERFORMED"
    rail = on(delisted, "agency.rail.blacklist")
    assert len(rail) == 1 and rail[0].value is None  # retracted: a tombstone
    tomb = h.feed_raw(VIEW, b"bl-001", None, [])
    assert all(o.value is None and o.key == b"bl-001" for o in tomb)
    assert {o.topic for o in tomb} == {
        "agency.icbc.blacklist",
        "agency.pbccrc.blacklist",
        "group.west-guangdong.blacklist",
    }
    assert h.count("routes") == 0
    assert h.feed_raw(VIEW, b"bl-001", None, []) == []  # already gone everywhere


def test_restriction_controls_reach_nia_caac_and_rail_with_exactly_their_fields() -> None:
    from services.restriction.flow import RestrictionFlow
    from tests.unit.flows.test_restriction_flow import consumption_ban, exit_ban

    d = load_directory()
    grants = {f.agency: f.fields for f in d.feeds if f.flow == "restriction"}
    court = FlowHarness(RestrictionFlow(memory_envelope(), d), start=T0)
    h = FlowHarness(FeedsFlow(court.envelope, d), start=T0, partitions=3)
    outs: list[Output] = []
    for payload in (exit_ban(), consumption_ban()):
        built = court.envelope.build(
            "bus.restriction.events",
            "cn.court.bus.restriction.RestrictionIssued",
            payload,
            "court:3205",
        )
        (view,) = court.feed_raw("bus.restriction.events", built.key, built.value, built.headers)
        assert view.topic == "restriction.controls"
        outs += h.feed_raw(view.topic, view.key, view.value, view.headers)
    assert sorted((o.topic, o.key) for o in outs) == [
        ("agency.caac.restriction", b"rc-2"),
        ("agency.nia.restriction", b"rc-1"),
        ("agency.rail.restriction", b"rc-2"),
    ]
    for out in outs:
        agency = out.topic.split(".")[1]
        record, payload = decoded(h, out)
        assert record == f"cn.court.bus.feed.{agency}.RestrictionControl"
        assert set(payload) == set(grants[agency])  # absent fields absent, not null
        assert "acknowledgements" not in payload and "debtor" not in payload
    nia = decoded(h, on(outs, "agency.nia.restriction")[0])[1]
    assert nia["travel_document"]["type"] == "HK_MACAU_PERMIT" and "prohibited" not in nia
    rail = decoded(h, on(outs, "agency.rail.restriction")[0])[1]
    assert len(rail["prohibited"]) == 9 and "travel_document" not in rail
    # a tombstone of a control goes where the control went, and nowhere else
    tomb = h.feed_raw("restriction.controls", b"rc-2", None, [])
    assert sorted(o.topic for o in tomb) == ["agency.caac.restriction", "agency.rail.restriction"]


def test_a_change_a_destination_is_not_given_is_not_sent_there_again() -> None:
    h = harness()
    first = send(h, entry(1))
    assert on(first, "agency.icbc.blacklist") and on(first, "group.suzhou.blacklist")
    # a new version with the same fields: the group's full record changed, icbc's copy did not
    again = send(h, entry(1) | {"version": 2, "updated_at": T0 + timedelta(hours=1)})
    assert not on(again, "agency.icbc.blacklist") and not on(again, "agency.pbccrc.blacklist")
    assert on(again, "group.suzhou.blacklist")
    assert send(h, entry(1) | {"version": 2, "updated_at": T0 + timedelta(hours=1)}) == []
    # a granted field changed: sent again
    renamed = entry(1) | {"version": 3, "debtor": v.debtor("PERSON", "张三丰", PERSON_ID)}
    assert on(send(h, renamed), "agency.icbc.blacklist")


def _control_view(court: FlowHarness, payload: dict[str, Any]) -> Output:
    built = court.envelope.build(
        "bus.restriction.events",
        "cn.court.bus.restriction.RestrictionIssued",
        payload,
        "court:3205",
    )
    (view,) = court.feed_raw("bus.restriction.events", built.key, built.value, built.headers)
    assert view.topic == "restriction.controls"
    return view


def test_a_listing_and_the_ban_with_its_id_are_routed_apart() -> None:
    """The restriction service gives a listing's consumption ban the listing's own id
    (``services/restriction/listings.py``): the two views' records share a key, and neither
    may retract nor re-send the other's copies."""
    from services.restriction.flow import RestrictionFlow
    from tests.unit.flows.test_restriction_flow import consumption_ban

    d = load_directory()
    court = FlowHarness(RestrictionFlow(memory_envelope(), d), start=T0)
    h = FlowHarness(FeedsFlow(court.envelope, d), start=T0, partitions=3)
    listed = send(h, entry(7))
    assert on(listed, "agency.icbc.blacklist") and on(listed, "agency.pbccrc.blacklist")
    view = _control_view(court, consumption_ban("bl-007"))
    outs = h.feed_raw(view.topic, view.key, view.value, view.headers)
    assert {o.topic for o in outs} == {"agency.caac.restriction", "agency.rail.restriction"}
    assert all(o.value is not None for o in outs)  # no tombstone on the list's feeds
    # the listing again (a granted field changed): no retraction anywhere, nothing to the bans'
    again = send(h, entry(7) | {"version": 2, "period_months": 36})
    assert again and all(o.value is not None for o in again)
    assert not [o for o in again if o.topic.endswith(".restriction")]
    # the listing's tombstone reaches only the list's feeds, the ban's only the bans'
    tomb = h.feed_raw(VIEW, b"bl-007", None, [])
    assert tomb and all(o.topic.endswith(".blacklist") for o in tomb)
    gone = h.feed_raw("restriction.controls", b"bl-007", None, [])
    assert {o.topic for o in gone} == {"agency.caac.restriction", "agency.rail.restriction"}


def test_a_route_stored_under_the_bare_key_is_split_by_view() -> None:
    """Routes stored before they were keyed by view (one record for both views' topics)."""
    h = harness()
    send(h, entry(8))
    state = h.state(h.partition_of(b"bl-008"))
    table = state.table(ROUTES)
    mine = table.get("blacklist/bl-008") or {}
    assert "agency.icbc.blacklist" in mine
    table.delete("blacklist/bl-008")
    table.put("bl-008", mine | {"agency.caac.restriction": "x"})
    state.commit_record()
    state.committed({})
    tomb = h.feed_raw(VIEW, b"bl-008", None, [])
    assert {o.topic for o in tomb} == set(mine)  # the ban's caac copy is not retracted
    assert table.get("bl-008") == {"agency.caac.restriction": "x"}


def test_a_signed_views_copies_drop_its_signature_and_carry_the_feed_routers() -> None:
    from courtbus.sdk.verify import verify_record
    from courtbus.security import keys as keyfile
    from courtbus.security.signing import HEADER, KeyRing, generate
    from courtbus.wire.envelope import Envelope
    from tests.gateway_cases import Raw

    h = harness()
    blacklist, feeds = generate("service.blacklist"), generate("service.feeds")
    ring = KeyRing([keyfile.public_of(s, T0 - timedelta(days=1), None) for s in (blacklist, feeds)])
    built = Envelope(h.envelope.codec, blacklist).build(VIEW, ENTRY, entry(1), "bus:blacklist")
    unsigned = h.feed_raw(VIEW, built.key, built.value, built.headers)
    assert unsigned and all(HEADER not in dict(o.headers) for o in unsigned)
    h.flow.envelope.signer = feeds
    again = FlowHarness(h.flow, start=T0, partitions=3)
    copies = again.feed_raw(VIEW, built.key, built.value, built.headers)
    assert copies
    for out in copies:
        raw = Raw(out.topic, out.key, out.value, out.headers)
        assert verify_record(raw, ring, sender="service.feeds").owner == "service.feeds"
