"""The restriction flow in the harness: issue → view, each refusal with its code, agency answers
to the issuing court, the acknowledgement deadline (alert and negative receipt, once), lift and
lift acknowledgements, exemptions, and the tombstone after the grace."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from courtbus.bus.records import Output
from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.catalogue.directory import load_directory
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire import values as v
from courtbus.wire.events import Headers
from services.restriction.flow import (
    CONTROLS,
    EVENTS,
    NS,
    VIEW_TOPIC,
    LoadProgress,
    RestrictionFlow,
)
from tests.builders import FIRM_CODE, PERSON_ID

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
COURT, OTHER = "3205", "6101"
INBOX = f"court.{COURT}.inbox"
DEADLETTER, ALERTS = "bus.deadletter", "bus.alerts"
REP_ID = "320583198001011238"
BLACKLIST_ENTRY = "cn.court.bus.blacklist.BlacklistEntry"
ORG = {
    "kind": "ORGANISATION",
    "name": "苏州某贸易有限公司",
    "id_number": FIRM_CODE,
    "id_type": None,
    "nationality": None,
}


def harness(partitions: int = 3) -> FlowHarness:
    flow = RestrictionFlow(
        memory_envelope(),
        load_directory(),
        ack_deadline=timedelta(hours=12),
        grace=timedelta(days=7),
    )
    return FlowHarness(flow, start=T0, partitions=partitions)


def person(name: str = "张三", id_number: str = PERSON_ID) -> dict[str, Any]:
    return {
        "kind": "PERSON",
        "name": name,
        "id_number": id_number,
        "id_type": None,
        "nationality": None,
    }


def exit_ban(cid: str = "rc-1", **change: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "control_id": cid,
        "case_number": v.case_number("(2024)苏05执100号"),
        "issuing_court": v.court(COURT),
        "kind": "EXIT_BAN",
        "subject": person("李四", REP_ID),
        "role": "LEGAL_REPRESENTATIVE",
        "debtor": ORG,
        "document": {"type": "HK_MACAU_PERMIT", "number": "C12345678", "nationality": None},
        "travel_document": None,
        "agencies": [],
        "prohibited": [],
        "issued_at": T0,
        "effective_from": date(2024, 3, 1),
        "effective_until": None,
        "reason": "被执行人未履行生效法律文书确定的义务",
    }
    return base | change


def consumption_ban(cid: str = "rc-2", **change: Any) -> dict[str, Any]:
    return (
        exit_ban(
            cid, kind="CONSUMPTION_BAN", subject=person(), role="DEBTOR", debtor=None, document=None
        )
        | change
    )


def send(h: FlowHarness, record: str, payload: dict[str, Any], source: str) -> list[Output]:
    return h.send(EVENTS, NS + record, payload, source)


def issue(h: FlowHarness, payload: dict[str, Any], court: str = COURT) -> list[Output]:
    return send(h, "RestrictionIssued", payload, f"court:{court}")


def lift(h: FlowHarness, cid: str, court: str = COURT, reason: str = "PERFORMED") -> list[Output]:
    payload = {
        "control_id": cid,
        "issuing_court": v.court(court),
        "lifted_at": h.now,
        "reason": reason,
        "note": None,
    }
    return send(h, "RestrictionLifted", payload, f"court:{court}")


def ack(
    h: FlowHarness, cid: str, agency: str, target: str = "ISSUE", ref: str = "BK-1"
) -> list[Output]:
    payload = {
        "control_id": cid,
        "agency_id": agency,
        "target": target,
        "acknowledged_at": h.now,
        "reference": ref,
    }
    return send(h, "RestrictionAcknowledged", payload, f"agency:{agency}")


def exemption(
    h: FlowHarness, cid: str, granted: bool = True, court: str = COURT, **change: Any
) -> list[Output]:
    payload = {
        "control_id": cid,
        "issuing_court": v.court(court),
        "exemption_id": "ex-1",
        "granted": granted,
        "kinds": ["HIGH_SPEED_RAIL"],
        "valid_from": h.now + timedelta(days=1),
        "valid_until": h.now + timedelta(days=3),
        "reason": "就医",
        "decided_at": h.now,
    } | change
    return send(h, "RestrictionExemptionDecided", payload, f"court:{court}")


def view(h: FlowHarness, outputs: list[Output]) -> list[dict[str, Any]]:
    return [h.decode(o).payload for o in outputs if o.topic == VIEW_TOPIC and o.value]


def refused(outputs: list[Output]) -> list[str]:
    return [dict(o.headers)["dlq_code"].decode() for o in outputs if o.topic == DEADLETTER]


def acks(control: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(a["agency_id"], a["target"]): a["state"] for a in control["acknowledgements"]}


def test_an_exit_ban_on_a_legal_representative_is_published_for_nia() -> None:
    h = harness()
    out = issue(h, exit_ban())
    (control,) = view(h, out)
    assert [o.topic for o in out] == [VIEW_TOPIC]
    assert h.decode(out[0]).record == NS + "RestrictionControl"
    assert (control["status"], control["kind"], control["role"]) == (
        "ACTIVE",
        "EXIT_BAN",
        "LEGAL_REPRESENTATIVE",
    )
    assert control["subject"]["id_number"] == REP_ID and control["debtor"]["kind"] == "ORGANISATION"
    assert control["travel_document"] == {
        "type": "HK_MACAU_PERMIT",
        "number": "C12345678",
        "nationality": None,
    }
    assert control["prohibited"] == [] and control["lifted_at"] is None
    assert acks(control) == {("nia", "ISSUE"): "PENDING"}
    assert control["acknowledgements"][0]["due_at"] == T0 + timedelta(hours=12)
    assert control["version"] == 1 and control["case_number"]["text"] == "(2024)苏05执100号"


def test_an_exit_ban_binds_the_legal_agent_of_a_debtor_without_capacity() -> None:
    # 执行程序解释 (2020 修正) 第二十四条第二款; an actual controller stays valid for a
    # consumption ban (限高 第三条第二款)
    h = harness()
    out = issue(h, exit_ban(debtor=person(), role="LEGAL_AGENT"))
    (control,) = view(h, out)
    assert control["role"] == "LEGAL_AGENT" and control["subject"]["id_number"] == REP_ID
    out = issue(
        h,
        consumption_ban(
            "rc-3", subject=person("李四", REP_ID), debtor=ORG, role="ACTUAL_CONTROLLER"
        ),
    )
    assert view(h, out)[0]["role"] == "ACTUAL_CONTROLLER"


def test_a_consumption_ban_forbids_all_of_article_3_and_concerns_caac_and_rail() -> None:
    h = harness()
    (control,) = view(h, issue(h, consumption_ban()))
    assert len(control["prohibited"]) == 9 and control["travel_document"] is None
    assert acks(control) == {("caac", "ISSUE"): "PENDING", ("rail", "ISSUE"): "PENDING"}
    # a ban on G-train seats alone is rail's only
    (only_rail,) = view(h, issue(h, consumption_ban("rc-3", prohibited=["HIGH_SPEED_RAIL"])))
    assert acks(only_rail) == {("rail", "ISSUE"): "PENDING"}


def test_a_foreigner_is_named_by_passport_and_nationality() -> None:
    h = harness()
    foreigner = {
        "kind": "PERSON",
        "name": "John Smith",
        "id_number": "X1234567",
        "id_type": "PASSPORT",
        "nationality": "USA",
    }
    payload = exit_ban(subject=foreigner, role="DEBTOR", debtor=None, document=None)
    (control,) = view(h, issue(h, payload))
    assert control["travel_document"] == {
        "type": "PASSPORT",
        "number": "X1234567",
        "nationality": "USA",
    }


REFUSED = [
    (
        "an exit ban on an organisation with no named person",
        exit_ban(subject=ORG, role="DEBTOR", debtor=None),
        "RESTRICTION_NO_PERSON",
    ),
    (
        "... and without a document: the missing person is what is wrong",
        exit_ban(subject=ORG, role="DEBTOR", debtor=None, document=None),
        "RESTRICTION_NO_PERSON",
    ),
    (
        "an organisation's exit ban binding the organisation itself",
        exit_ban(subject=ORG, role="DEBTOR", debtor=ORG),
        "RESTRICTION_NO_PERSON",
    ),
    (
        "an organisation named as its legal representative",
        exit_ban(subject=ORG),
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "a person debtor's ban on someone else",
        consumption_ban(debtor=person(), subject=person("李四", REP_ID)),
        "RESTRICTION_SUBJECT_INVALID",
    ),
    # issue 21, citations 5: 执行程序解释 第二十四条 names no 实际控制人
    (
        "an exit ban on an organisation's actual controller",
        exit_ban(role="ACTUAL_CONTROLLER"),
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "a legal agent without the debtor they act for",
        exit_ban(role="LEGAL_AGENT", debtor=None),
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "a legal agent of an organisation",
        exit_ban(role="LEGAL_AGENT"),
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "a consumption ban on a legal agent",
        consumption_ban(debtor=person(), subject=person("李四", REP_ID), role="LEGAL_AGENT"),
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "an exit ban with an untyped document number",
        exit_ban(document=None, travel_document="C12345678"),
        "RESTRICTION_DOCUMENT_INVALID",
    ),
    (
        "an exit ban with a document type of no known kind",
        exit_ban(document={"type": "OTHER", "number": "C12345678", "nationality": None}),
        "RESTRICTION_DOCUMENT_INVALID",
    ),
    (
        "a passport without its issuing state",
        exit_ban(document={"type": "PASSPORT", "number": "E12345678", "nationality": None}),
        "RESTRICTION_DOCUMENT_INVALID",
    ),
    (
        "a passport with a malformed issuing state",
        exit_ban(document={"type": "PASSPORT", "number": "E12345678", "nationality": "CN"}),
        "PASSPORT_INVALID",
    ),
    (
        "a permit with an issuing state",
        exit_ban(document={"type": "HK_MACAU_PERMIT", "number": "C12345678", "nationality": "CHN"}),
        "RESTRICTION_DOCUMENT_INVALID",
    ),
    (
        "an exit ban listing kinds of consumption",
        exit_ban(prohibited=["HIGH_SPEED_RAIL"]),
        "RESTRICTION_PROHIBITED_INVALID",
    ),
    (
        "a consumption kind the provisions do not name",
        consumption_ban(prohibited=["OTHER"]),
        "RESTRICTION_PROHIBITED_INVALID",
    ),
]


@pytest.mark.parametrize(("name", "payload", "code"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_issues_leave_nothing(name: str, payload: dict[str, Any], code: str) -> None:
    h = harness()
    out = issue(h, payload)
    assert refused(out) == [code]
    notice = [h.decode(o).payload for o in out if o.topic == INBOX]
    assert [n["error_code"] for n in notice] == [code]  # MessageRejected to the court
    assert view(h, out) == [] and h.count(CONTROLS.name) == 0 and h.timers() == []


def test_a_control_id_is_used_once() -> None:
    h = harness()
    issue(h, exit_ban())
    assert refused(issue(h, exit_ban())) == ["RESTRICTION_EXISTS"]


def test_lifts_by_another_court_of_unknown_or_lifted_controls_are_refused() -> None:
    h = harness()
    issue(h, exit_ban())
    out = lift(h, "rc-1", court=OTHER)
    assert refused(out) == ["RESTRICTION_NOT_ISSUER"]
    assert [h.decode(o).payload["error_code"] for o in out if o.topic == f"court.{OTHER}.inbox"]
    assert refused(lift(h, "rc-nobody")) == ["RESTRICTION_UNKNOWN"]
    assert refused(lift(h, "rc-1", reason="SETTLEMENT")) == ["RESTRICTION_LIFT_REASON_INVALID"]
    assert view(h, lift(h, "rc-1", reason="DEBT_PAID"))[0]["lift_reason"] == "PERFORMED"
    assert refused(lift(h, "rc-1")) == ["RESTRICTION_NOT_ACTIVE"]


def test_acknowledgements_reach_the_court_and_the_view() -> None:
    h = harness()
    issue(h, consumption_ban())
    h.advance(hours=1)
    out = ack(h, "rc-2", "rail", ref="12306-BK-77")
    forwarded = [o for o in out if o.topic == INBOX]
    assert len(forwarded) == 1
    event = h.decode(forwarded[0])
    assert event.record == NS + "RestrictionAcknowledged" and event.headers.source == "agency:rail"
    (control,) = view(h, out)
    assert acks(control) == {("caac", "ISSUE"): "PENDING", ("rail", "ISSUE"): "ACKNOWLEDGED"}
    rail = next(a for a in control["acknowledgements"] if a["agency_id"] == "rail")
    assert (rail["reference"], rail["answered_at"]) == ("12306-BK-77", T0 + timedelta(hours=1))
    assert control["version"] == 2
    rejection = {
        "control_id": "rc-2",
        "agency_id": "caac",
        "rejected_at": h.now,
        "reason_code": "IDENTITY_MISMATCH",
        "reason": "姓名与证件号码不符",
        "target": "ISSUE",
    }
    out = send(h, "RestrictionRejected", rejection, "agency:caac")
    assert [h.decode(o).record for o in out if o.topic == INBOX] == [NS + "RestrictionRejected"]
    assert acks(view(h, out)[0])[("caac", "ISSUE")] == "REJECTED"


def test_answers_from_agencies_not_entitled_or_for_unknown_controls_are_refused() -> None:
    h = harness()
    issue(h, exit_ban())
    out = ack(h, "rc-1", "caac")
    assert refused(out) == ["RESTRICTION_AGENCY_NOT_ENTITLED"]
    notices = [h.decode(o).payload["error_code"] for o in out if o.topic == "agency.caac.feed"]
    assert notices == ["RESTRICTION_AGENCY_NOT_ENTITLED"]
    assert refused(ack(h, "rc-nobody", "nia")) == ["RESTRICTION_UNKNOWN"]
    assert refused(ack(h, "rc-1", "nia", "LIFT")) == ["RESTRICTION_ACK_INVALID"]
    assert [o.topic for o in h.outputs if o.topic == INBOX] == []


def test_an_interception_reaches_the_issuing_court() -> None:
    h = harness()
    issue(h, exit_ban())
    report = {
        "control_id": "rc-1",
        "agency_id": "nia",
        "intercepted_at": h.now,
        "channel": "BORDER_PORT",
        "location": "罗湖口岸",
        "description": None,
        "outcome": "PREVENTED",
    }
    out = send(h, "InterceptionReported", report, "agency:nia")
    assert [o.topic for o in out] == [VIEW_TOPIC, INBOX]
    event = h.decode(out[1])
    assert event.record == NS + "InterceptionReported" and event.payload["location"] == "罗湖口岸"
    (kept,) = view(h, out)[0]["interceptions"]
    assert (kept["agency_id"], kept["outcome"]) == ("nia", "PREVENTED")
    assert kept["location"] == "罗湖口岸"
    assert kept["intercepted_at"] == h.now and kept["event_id"] == event.headers.id
    theirs = report | {"agency_id": "rail"}
    assert refused(send(h, "InterceptionReported", theirs, "agency:rail")) == [
        "RESTRICTION_AGENCY_NOT_ENTITLED"
    ]


def _overdue(h: FlowHarness, outputs: list[Output]) -> list[tuple[str, str, str]]:
    found = []
    for o in outputs:
        if o.topic == INBOX and h.decode(o).record == NS + "RestrictionNotice":
            p = h.decode(o).payload
            found.append(("notice", p["agency_id"], p["target"]))
        elif o.topic == ALERTS:
            p = h.decode(o).payload
            assert p["code"] == "RESTRICTION_ACK_OVERDUE" and p["service"] == "bus:restriction"
            found.append(("alert", o.key.decode() if o.key else "", ""))
    return sorted(found)


def test_an_unacknowledged_control_raises_an_alert_and_a_negative_receipt_once() -> None:
    h = harness()
    issue(h, consumption_ban())
    ack(h, "rc-2", "caac")
    assert _overdue(h, h.advance(hours=11, minutes=59)) == []
    out = h.advance(minutes=1)
    assert _overdue(h, out) == [("alert", "rc-2:rail:ISSUE", ""), ("notice", "rail", "ISSUE")]
    (control,) = view(h, out)
    assert acks(control) == {("caac", "ISSUE"): "ACKNOWLEDGED", ("rail", "ISSUE"): "OVERDUE"}
    assert _overdue(h, h.advance(hours=1)) == [] and _overdue(h, h.advance(days=2)) == []
    # a late acknowledgement still counts
    assert acks(view(h, ack(h, "rc-2", "rail"))[0])[("rail", "ISSUE")] == "ACKNOWLEDGED"
    assert h.timers() == []


def test_a_lift_is_published_and_its_acknowledgements_tracked() -> None:
    h = harness()
    issue(h, consumption_ban())
    ack(h, "rc-2", "caac")
    ack(h, "rc-2", "rail")
    h.advance(days=1)
    assert refused(ack(h, "rc-2", "rail", "LIFT")) == ["RESTRICTION_ACK_INVALID"]
    (lifted,) = view(h, lift(h, "rc-2"))
    assert (lifted["status"], lifted["lifted_at"], lifted["lift_reason"]) == (
        "LIFTED",
        h.now,
        "PERFORMED",
    )
    assert acks(lifted) == {
        ("caac", "ISSUE"): "ACKNOWLEDGED",
        ("caac", "LIFT"): "PENDING",
        ("rail", "ISSUE"): "ACKNOWLEDGED",
        ("rail", "LIFT"): "PENDING",
    }
    out = ack(h, "rc-2", "caac", "LIFT")
    assert acks(view(h, out)[0])[("caac", "LIFT")] == "ACKNOWLEDGED"
    assert [h.decode(o).payload["target"] for o in out if o.topic == INBOX] == ["LIFT"]
    out = h.advance(hours=12)
    assert _overdue(h, out) == [("alert", "rc-2:rail:LIFT", ""), ("notice", "rail", "LIFT")]
    assert _overdue(h, h.advance(hours=12)) == []
    # after the grace the lifted control leaves the view with a tombstone
    out = h.advance(days=7)
    assert [(o.topic, o.key, o.value) for o in out] == [(VIEW_TOPIC, b"rc-2", None)]
    assert h.count(CONTROLS.name) == 0 and h.timers() == []


def test_a_granted_exemption_reaches_the_view_for_the_agencies_concerned() -> None:
    h = harness()
    issue(h, consumption_ban())
    applied = {
        "control_id": "rc-2",
        "issuing_court": v.court(COURT),
        "exemption_id": "ex-1",
        "kinds": ["HIGH_SPEED_RAIL"],
        "requested_from": h.now,
        "requested_until": h.now + timedelta(days=3),
        "purpose": "就医",
        "applied_at": h.now,
    }
    assert send(h, "RestrictionExemptionApplied", applied, f"court:{COURT}") == []
    assert view(h, exemption(h, "rc-2", granted=False, exemption_id="ex-0")) == []
    (control,) = view(h, exemption(h, "rc-2"))
    (granted,) = control["exemptions"]
    assert granted["kinds"] == ["HIGH_SPEED_RAIL"] and granted["agencies"] == ["rail"]
    assert granted["valid_until"] == T0 + timedelta(days=3)
    assert "purpose" not in granted and "reason" not in granted  # stays with the court


@pytest.mark.parametrize(
    ("setup", "change", "code"),
    [
        ("lifted", {}, "RESTRICTION_NOT_ACTIVE"),
        ("other court", {}, "RESTRICTION_NOT_ISSUER"),
        ("exit ban", {}, "RESTRICTION_EXEMPTION_NOT_ALLOWED"),
        ("", {"kinds": ["PRIVATE_SCHOOL"]}, ""),
        ("", {"valid_until": T0}, "RESTRICTION_EXEMPTION_INVALID"),
    ],
)
def test_refused_exemptions(setup: str, change: dict[str, Any], code: str) -> None:
    h = harness()
    issue(h, exit_ban() if setup == "exit ban" else consumption_ban("rc-1"))
    if setup == "lifted":
        lift(h, "rc-1")
    court = OTHER if setup == "other court" else COURT
    out = exemption(h, "rc-1", court=court, **change)
    assert refused(out) == ([code] if code else [])


def test_an_exemption_for_a_kind_the_ban_does_not_forbid_is_refused() -> None:
    h = harness()
    issue(h, consumption_ban("rc-1", prohibited=["HIGH_SPEED_RAIL"]))
    out = exemption(h, "rc-1", kinds=["PRIVATE_SCHOOL"])
    assert refused(out) == ["RESTRICTION_EXEMPTION_INVALID"]


def test_an_agency_answers_only_in_its_own_name() -> None:
    h = harness()
    issue(h, exit_ban())
    payload = {
        "control_id": "rc-1",
        "agency_id": "nia",
        "target": "ISSUE",
        "acknowledged_at": h.now,
        "reference": None,
    }
    assert refused(send(h, "RestrictionAcknowledged", payload, "agency:caac")) == [
        "SOURCE_NOT_PARTY"
    ]


def test_the_view_is_what_the_watchdog_reads() -> None:
    h = harness()
    (control,) = view(h, issue(h, exit_ban()))
    assert control["issuing_court"]["court_id"] == COURT and control["lifted_at"] is None
    assert control["issued_at"] == T0 and control["effective_from"] == date(2024, 3, 1)


# -- the consumption ban a listing requires (art. 1, second paragraph) -------------------------


def entry(eid: str = "bl-1", status: str = "ACTIVE", **change: Any) -> dict[str, Any]:
    from tests.unit.test_feeds import entry as feed_entry

    delisted = status == "DELISTED"
    base = feed_entry(1, court=COURT, status=status)
    return base | {"entry_id": eid, "reason": "PERFORMED" if delisted else None} | change


def listed(h: FlowHarness, payload: dict[str, Any]) -> list[Output]:
    return h.send(BLACKLIST_VIEW, BLACKLIST_ENTRY, payload, "bus:blacklist")


def court_notices(h: FlowHarness, outputs: list[Output]) -> list[tuple[str, str]]:
    return [
        (h.decode(o).payload["notice"], h.decode(o).payload["control_id"])
        for o in outputs
        if o.topic == INBOX and h.decode(o).record == NS + "RestrictionNotice"
    ]


def test_a_listing_gets_its_consumption_ban_and_a_delisting_for_performance_lifts_it() -> None:
    h = harness()
    out = listed(h, entry())
    (control,) = view(h, out)
    assert (control["control_id"], control["entry_id"], control["kind"]) == (
        "bl-1",
        "bl-1",
        "CONSUMPTION_BAN",
    )
    assert control["subject"]["id_number"] == PERSON_ID and control["role"] == "DEBTOR"
    assert control["issuing_court"]["court_id"] == COURT and len(control["prohibited"]) == 9
    assert "第一条" in control["reason"]
    assert acks(control) == {("caac", "ISSUE"): "PENDING", ("rail", "ISSUE"): "PENDING"}
    assert court_notices(h, out) == [("ISSUED_FOR_LISTING", "bl-1")]
    assert listed(h, entry(version=2)) == []  # an update of the entry: the ban stands
    # agencies answer the ban as any other
    assert acks(view(h, ack(h, "bl-1", "rail"))[0])[("rail", "ISSUE")] == "ACKNOWLEDGED"
    out = listed(h, entry(status="DELISTED"))
    (lifted,) = view(h, out)
    assert (lifted["status"], lifted["lift_reason"]) == ("LIFTED", "PERFORMED")
    assert court_notices(h, out) == [("LIFTED_FOR_DELISTING", "bl-1")]
    assert listed(h, entry(status="DELISTED", version=3)) == []
    assert h.feed_raw(BLACKLIST_VIEW, b"bl-1", None, []) == []  # the list's tombstone


def test_other_delisting_reasons_leave_the_ban_to_the_court() -> None:
    h = harness()
    listed(h, entry())
    assert listed(h, entry(status="DELISTED", reason="EXPIRED")) == []
    assert refused(lift(h, "bl-1")) == [] and h.count(CONTROLS.name) == 1


def test_an_organisation_listing_binds_its_legal_representative() -> None:
    h = harness()
    org = entry("bl-2", debtor=ORG, legal_representative="李四", legal_representative_id=REP_ID)
    (control,) = view(h, listed(h, org))
    assert (control["role"], control["subject"]["id_number"]) == ("LEGAL_REPRESENTATIVE", REP_ID)
    assert control["debtor"]["id_number"] == FIRM_CODE


def test_a_listing_that_names_no_person_is_reported_to_the_court() -> None:
    h = harness()
    out = listed(h, entry("bl-3", debtor=ORG, legal_representative="李四"))
    assert view(h, out) == [] and h.count(CONTROLS.name) == 0
    assert court_notices(h, out) == [("LISTING_NOT_RESTRICTED", "bl-3")]
    (alert,) = [h.decode(o).payload for o in out if o.topic == ALERTS]
    assert alert["code"] == "RESTRICTION_LISTING_NOT_RESTRICTED"
    assert "RESTRICTION_NO_PERSON" in alert["message"]


def test_listings_can_be_left_to_the_courts() -> None:
    flow = RestrictionFlow(memory_envelope(), load_directory(), from_listings=False)
    h = FlowHarness(flow, start=T0)
    assert listed(h, entry()) == []


# -- the initial load: a fresh worker over an existing list ------------------------------------


def old_entry(eid: str, court: str = COURT, **change: Any) -> dict[str, Any]:
    """An entry last changed a day before the harness's clock: a backlog record."""
    court_of = {"listing_court": v.court(court)}
    return entry(
        eid,
        updated_at=T0 - timedelta(days=1),
        listed_at=T0 - timedelta(days=1),
        **court_of,
        **change,
    )


def test_a_backlog_of_listings_gets_its_bans_and_one_summary_per_court() -> None:
    h = harness(partitions=1)  # one task: one summary per court
    out = [o for i in range(5) for o in listed(h, old_entry(f"bl-{i}"))]
    out += listed(h, old_entry("bl-x", court=OTHER))
    assert len(view(h, out)) == 6 and h.count(CONTROLS.name) == 6
    assert not [o for o in out if o.topic.endswith(".inbox")]  # no notice per entry
    assert h.advance(seconds=30) == []  # the backlog is not quiet yet
    out = h.advance(seconds=31)
    notices = {
        h.decode(o).payload["issuing_court"]["court_id"]: h.decode(o).payload
        for o in out
        if o.topic.endswith(".inbox")
    }
    assert set(notices) == {COURT, OTHER}
    mine = notices[COURT]
    assert (mine["notice"], mine["control_id"]) == ("ISSUED_FOR_LISTING", "")
    assert (
        "5 consumption ban(s)" in mine["detail"]
        and "1 consumption ban(s)" in notices[OTHER]["detail"]
    )
    assert h.count("listing_load") == 0 and h.advance(minutes=5) == []  # sent once


def test_each_task_sums_up_its_own_share_of_a_court_backlog() -> None:
    h = harness(partitions=3)
    for i in range(9):
        listed(h, old_entry(f"bl-{i}"))
    out = h.advance(minutes=2)
    counts = [int(h.decode(o).payload["detail"].split(" ")[0]) for o in out if o.topic == INBOX]
    assert sum(counts) == 9 and 1 < len(counts) <= 3


def test_a_backlog_ban_is_the_ban_a_live_listing_gets() -> None:
    org = {"debtor": ORG, "legal_representative": "李四", "legal_representative_id": REP_ID}
    for change in ({}, org):
        live, bulk = harness(), harness()
        (a,) = view(live, listed(live, entry("bl-7", **change)))
        (b,) = view(bulk, listed(bulk, entry("bl-7", updated_at=T0 - timedelta(days=1), **change)))
        assert a == b


def test_a_backlog_entry_that_names_no_person_is_still_reported_on_its_own() -> None:
    h = harness()
    out = listed(h, old_entry("bl-3", debtor=ORG, legal_representative="李四"))
    assert court_notices(h, out) == [("LISTING_NOT_RESTRICTED", "bl-3")]
    assert h.count("listing_load") == 0


def test_the_load_logs_its_progress_against_the_view() -> None:
    clock = iter([0.0, 0.0, 10.0, 40.0, 40.0])
    progress = LoadProgress(30.0, ends=lambda: {0: 100, 1: 50}, clock=lambda: next(clock))
    progress.note(0, 9, issued=True)
    progress.note(1, 4, issued=False)
    progress.note(0, 19, issued=True)
    assert progress.line() == (
        "listing load: 2 consumption bans issued for listings in 40 s (0/s); "
        "view records read 25 of 150"
    )


# -- the initial load in bulk: a task's list records of a batch at once ------------------------


def synthetic(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Realistic list entries (persons and organisations with their legal representatives),
    last changed long before the harness's clock: a backlog."""
    from courtbus.synth.blacklist import entry_payloads

    courts = [c.id for c in load_directory().courts]
    return list(entry_payloads(count, seed=seed, courts=courts))


def entry_record(
    h: FlowHarness, payload: dict[str, Any]
) -> tuple[str, bytes | None, bytes | None, Headers]:
    return h.encode(BLACKLIST_VIEW, BLACKLIST_ENTRY, payload, "bus:blacklist")


def bulk(h: FlowHarness, payloads: list[dict[str, Any]]) -> list[Output]:
    """The entries as one batch of the worker (each partition's run at once)."""
    return h.feed_batch([entry_record(h, p) for p in payloads])


def lasting(h: FlowHarness, outputs: list[Output], topic: str = VIEW_TOPIC) -> dict[str, Any]:
    """What a compacted topic keeps of ``outputs``: the last record per key (None: gone)."""
    kept: dict[str, Any] = {}
    for o in outputs:
        if o.topic == topic and o.key is not None:
            kept[o.key.decode()] = None if o.value is None else h.decode(o).payload
    return kept


def live_harness(partitions: int = 3) -> FlowHarness:
    """A flow that takes every entry as a live listing (no backlog: the one-by-one path)."""
    flow = RestrictionFlow(
        memory_envelope(),
        load_directory(),
        ack_deadline=timedelta(hours=12),
        grace=timedelta(days=7),
        bulk_age=timedelta(days=36500),
    )
    return FlowHarness(flow, start=T0, partitions=partitions)


def test_a_bulk_ban_is_the_ban_a_live_listing_gets_record_for_record() -> None:
    """The bulk path builds each view record straight from the entry: the same payload, key
    and headers as the live path's (which goes through the stored control), for persons and
    organisations alike, and the stored control it makes is the one the live path stores."""
    entries = synthetic(300)
    live, loaded = live_harness(), harness()
    one_by_one = [o for p in entries for o in listed(live, p) if o.topic == VIEW_TOPIC]
    together = [o for o in bulk(loaded, entries) if o.topic == VIEW_TOPIC]
    assert len(together) == len(one_by_one) == 300
    orgs = 0
    by_key = {o.key: o for o in one_by_one}
    for out in together:
        mine, theirs = loaded.decode(out), live.decode(by_key[out.key])
        assert mine.payload == theirs.payload
        assert [k for k, _ in out.headers] == [k for k, _ in by_key[out.key].headers]
        assert (mine.headers.source, mine.headers.type, mine.headers.subject) == (
            theirs.headers.source,
            theirs.headers.type,
            theirs.headers.subject,
        )
        orgs += mine.payload["role"] == "LEGAL_REPRESENTATIVE"
        cid = mine.payload["control_id"]
        state = loaded.state(loaded.partition_of(out.key))
        stored = live.state(live.partition_of(out.key)).table(CONTROLS).get(cid)
        assert loaded.flow._kept(state, cid) == stored  # type: ignore[attr-defined]
    assert orgs > 20  # both kinds of debtor were compared


def test_a_bulk_load_gives_each_active_entry_its_ban_once_and_a_delisted_one_none() -> None:
    entries = synthetic(200)
    active = entries[:150]
    delisted = [
        p
        | {
            "status": "DELISTED",
            "delisted_at": p["updated_at"],
            "reason": "PERFORMED",
            "version": 2,
        }
        for p in entries[150:]
    ]
    # the view not compacted yet: an entry's older record before its newer one, and one
    # entry listed and then delisted for performance within the backlog
    updated = [p | {"version": 2} for p in active[:20]]
    gone = entries[0] | {
        "status": "DELISTED",
        "delisted_at": T0,
        "reason": "PERFORMED",
        "version": 3,
    }
    h = harness()
    out = bulk(h, active + delisted + updated + [gone])
    view_now = lasting(h, out)
    assert set(view_now) == {p["entry_id"] for p in active}  # no delisted entry got one
    issued = [
        o.key
        for o in out
        if o.topic == VIEW_TOPIC and o.value and h.decode(o).payload["version"] == 1
    ]
    assert len(issued) == len(set(issued)) == 150  # each once, updates issue nothing
    first = view_now[entries[0]["entry_id"]]
    assert (first["status"], first["lift_reason"]) == ("LIFTED", "PERFORMED")
    assert all(c["status"] == "ACTIVE" for k, c in view_now.items() if k != entries[0]["entry_id"])
    # the court of the lifted one is told (a lift is never summed up), nobody of the others yet
    assert [h.decode(o).payload["notice"] for o in out if o.topic.endswith(".inbox")] == [
        "LIFTED_FOR_DELISTING"
    ]
    # read again (a restart, the view's next records): nothing new
    assert [o for o in bulk(h, active) if o.topic == VIEW_TOPIC] == []
    assert h.count(CONTROLS.name) == 150


def test_a_bulk_load_sums_up_per_court_and_task_as_one_by_one() -> None:
    entries = synthetic(120)
    one, together = harness(), harness()
    for p in entries:
        listed(one, p)
    bulk(together, entries)

    def summaries(h: FlowHarness) -> list[tuple[str, int]]:  # (inbox, count), one per task
        out = h.advance(minutes=2)
        return sorted(
            (o.topic, int(h.decode(o).payload["detail"].split(" ")[0]))
            for o in out
            if o.topic.endswith(".inbox")
        )

    mine = summaries(together)
    assert mine == summaries(one) and sum(n for _, n in mine) == 120


def test_a_bulk_record_refused_is_refused_alone() -> None:
    """One record the flow refuses (not a BlacklistEntry) in a bulk: the others are applied,
    it alone is dead-lettered."""
    h = harness(partitions=1)
    entries = synthetic(10)
    records = [entry_record(h, p) for p in entries]
    wrong = h.encode(
        BLACKLIST_VIEW, NS + "RestrictionIssued", consumption_ban("x-1"), "bus:blacklist"
    )
    records.insert(5, wrong)
    out = h.feed_batch(records)
    assert refused(out) == ["EVENT_TYPE_MISMATCH"]
    assert set(lasting(h, out)) == {p["entry_id"] for p in entries}
    assert h.count(CONTROLS.name) == 10


def test_an_organisation_without_its_representative_in_a_bulk_is_reported_on_its_own() -> None:
    h = harness(partitions=1)
    entries = synthetic(5)
    org = old_entry("bl-org", debtor=ORG, legal_representative="李四")
    out = bulk(h, [*entries, org])
    assert court_notices(h, out) == [("LISTING_NOT_RESTRICTED", "bl-org")]
    assert set(lasting(h, out)) == {p["entry_id"] for p in entries}


def test_the_loads_deadlines_fall_due_together_and_each_ban_owes_what_it_owed() -> None:
    """A batch's bans share one timer: 12 hours on, every agency that has not acknowledged is
    overdue, once; an acknowledged step is not, a lifted ban owes its lift, not its issue."""
    h = harness(partitions=1)
    entries = synthetic(6)
    ids = [p["entry_id"] for p in entries]
    bulk(h, entries)
    assert [k for k, _ in h.timers() if k.startswith("#listing-due:")] != []
    assert len([k for k, _ in h.timers() if not k.startswith("#")]) == 0  # none per ban
    ack(h, ids[0], "caac")  # the first change stores the control as any other
    gone = entries[1] | {
        "status": "DELISTED",
        "delisted_at": T0,
        "reason": "CORRECTION",
        "version": 2,
    }
    listed(h, gone)
    out = h.advance(hours=12, seconds=1)
    overdue = sorted(o.key.decode() for o in out if o.topic == ALERTS and o.key)
    expected = [f"{ids[0]}:rail:ISSUE", f"{ids[1]}:caac:LIFT", f"{ids[1]}:rail:LIFT"] + [
        f"{i}:{a}:ISSUE" for i in ids[2:] for a in ("caac", "rail")
    ]
    assert overdue == sorted(expected)
    states = {k: acks(c) for k, c in lasting(h, out).items()}
    assert states[ids[0]] == {("caac", "ISSUE"): "ACKNOWLEDGED", ("rail", "ISSUE"): "OVERDUE"}
    assert h.advance(hours=1) == [] and h.count("listing_due") == 0  # once


def test_a_tick_takes_a_bounded_share_of_the_due_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    import services.restriction.flow as module

    monkeypatch.setattr(module, "TICK_CONTROLS", 10)
    h = harness(partitions=1)
    for start in range(0, 40, 8):  # five batches: five groups of 8
        bulk(h, synthetic(40)[start : start + 8])
    first = h.advance(hours=12, seconds=1)
    alerted = {o.key.decode().split(":")[0] for o in first if o.topic == ALERTS and o.key}
    assert len(alerted) == 16  # two groups: the budget of 10 was passed within the second
    rest = h.tick()
    alerted |= {o.key.decode().split(":")[0] for o in rest if o.topic == ALERTS and o.key}
    rest = h.tick()
    alerted |= {o.key.decode().split(":")[0] for o in rest if o.topic == ALERTS and o.key}
    assert len(alerted) == 40 and h.count("listing_due") == 0


def test_a_listed_ban_is_stored_as_its_entry_and_read_back_whole() -> None:
    from services.restriction.state import Listed, dump_control, load_control

    value = Listed(
        b"\x00\x00\x00\x00\x07entry",
        T0 + timedelta(microseconds=123457),
        frozenset({"caac", "rail"}),
    )
    data = dump_control(value)
    assert load_control(data) == value and len(data) < 40  # µs kept; no JSON per ban
    nobody = Listed(value.entry, value.issued_at, frozenset())
    assert load_control(dump_control(nobody)) == nobody


@pytest.mark.parametrize(
    ("named", "code"),
    [(["fbi"], "RESTRICTION_AGENCY_UNKNOWN"), (["nia", "icbc"], "RESTRICTION_AGENCY_NOT_ENTITLED")],
)
def test_a_named_agency_that_is_unknown_or_does_not_enforce_it_is_refused(
    named: list[str], code: str
) -> None:
    """``agencies`` is informative, but never accepted and ignored (issue 21 item 5)."""
    h = harness()
    out = issue(h, exit_ban(agencies=named))
    assert refused(out) == [code]
    assert view(h, out) == []


def test_naming_the_agencies_the_directory_decides_on_is_accepted() -> None:
    h = harness()
    out = issue(h, exit_ban(agencies=["nia"]))
    assert refused(out) == [] and [c["control_id"] for c in view(h, out)] == ["rc-1"]
