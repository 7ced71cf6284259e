"""The case-status flow and the "not lifted" watchdog (report:380-386).

**Case status.** Courts publish ``CaseFiled``, ``CaseSuspended`` (中止), ``CaseResumed`` and
``CaseConcluded`` (with its outcome, 法发〔2014〕26号 (version unverified) 第十四条) on ``bus.casestatus.events``,
keyed by case number (the gateway checks the key). The flow keeps each case in the case's task
and refuses a status that cannot follow the last (``CASE_ILLEGAL_TRANSITION``) or that another
court sends (``CASE_NOT_HANDLING_COURT``), with a dead letter and a notice to the sender; see
``courtbus.domain.casestatus``.

**What is in force**, per case, comes from the other flows' outputs, each read in the task of
its own key and re-keyed by case number over the flow's internal topic ``bus.watchdog.items``
(co-partitioned with ``bus.casestatus.events``, so every item of a case meets the case):

- ``blacklist.entries`` (key: entry id): an ACTIVE entry is in force, any other state lifts it;
- ``restriction.controls`` (key: control id): a control without ``lifted_at`` is in force;
- ``bus.delegation.events`` (key: delegation id): a request links the delegation to the
  requesting court's case (store ``links``); a completed freeze, seal or seizure (the
  delegation service's ``DelegationDecided`` applied) is in force until its ``measure_until``
  (renewals move it), a release lifts it.

**Watchdog.** A case concluded as performed is watched: a timer in the case's task fires when
the first item in force passes its grace (3 working days for a list entry, art. 10 of the list
provisions; configurable examples for the others) and sends a ``CaseWatchdogAlert`` listing
every overdue item to the handling court's inbox and ``bus.alerts``, again every ``repeat``
(default daily) while any is in force. A lifted item leaves the list; a resumed case stops the
alerts.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from courtbus.bus.records import Output, internal_record, output_of, read_internal
from courtbus.bus.topics import (
    ALERTS_TOPIC,
    BLACKLIST_VIEW,
    RESTRICTION_VIEW,
    flow_topic,
    inbox_topic,
)
from courtbus.domain import casestatus as cs
from courtbus.domain.masking import mask_ids_in_text
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec
from courtbus.wire import values as v
from courtbus.wire.envelope import Envelope, RawRecord
from courtbus.wire.events import sender_court
from services.watchdog.state import (
    Link,
    dump_case,
    dump_link,
    item_json,
    item_of,
    load_case,
    load_link,
)

log = logging.getLogger("courtbus.watchdog")
EVENTS = flow_topic("casestatus")
ITEMS_TOPIC = "bus.watchdog.items"
DELEGATION_EVENTS = flow_topic("delegation")
NS = "cn.court.bus.casestatus."
CASES: StoreSpec[cs.Case] = StoreSpec("cases", dump_case, load_case)
LINKS: StoreSpec[Link] = StoreSpec("links", dump_link, load_link)
MEASURES = frozenset({"FREEZE", "SEAL", "SEIZE"})  # what a delegation leaves in force
_SOURCES = {
    cs.ItemKind.BLACKLIST: "失信名单规定 (2017 修订, version unverified) 第十条 (3 working days)",
    cs.ItemKind.RESTRICTION: "限制高消费规定 (2015 修正) 第九条 (及时; grace configurable, example default)",
    cs.ItemKind.FREEZE: "查封扣押冻结规定 (2020 修正) 第二十八条 (grace configurable, example default)",
}


class WatchdogFlow(Flow):
    """Case status over ``bus.casestatus.events``; what each case leaves in force, from the
    views and the delegation flow; alerts for performed cases with something not lifted."""

    name = "watchdog"
    source = "bus:watchdog"
    inputs = Inputs(
        topics=(EVENTS, ITEMS_TOPIC, BLACKLIST_VIEW, RESTRICTION_VIEW, DELEGATION_EVENTS)
    )
    raw_topics = frozenset({ITEMS_TOPIC, BLACKLIST_VIEW, RESTRICTION_VIEW})  # read raw
    stores = (CASES, LINKS)
    timers = True

    def __init__(self, envelope: Envelope, graces: cs.Graces | None = None) -> None:
        super().__init__(envelope)
        self.graces = graces or cs.Graces()

    # -- inputs ------------------------------------------------------------------------------

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Outputs for one record of any input; raise to refuse a court's case status."""
        topic = record.raw.topic
        if topic == ITEMS_TOPIC:
            return self._on_item(record.raw, state)
        if topic in (BLACKLIST_VIEW, RESTRICTION_VIEW):
            return self._on_view(record.raw)
        if topic == DELEGATION_EVENTS:
            return self._on_delegation(record, state)
        return self._on_status(record, state)

    def _on_status(self, record: Incoming, state: State) -> list[Output]:
        event = record.decoded
        p = event.payload
        step = cs.Step(event.record.removeprefix(NS))
        court = sender_court(event.headers.source) or ""
        number = p["case_number"]
        key = str(number["text"])
        table = state.table(CASES)
        case = table.get(key) or cs.Case(key)
        at = {
            cs.Step.FILED: "filed_at",
            cs.Step.SUSPENDED: "suspended_at",
            cs.Step.RESUMED: "resumed_at",
            cs.Step.CONCLUDED: "concluded_at",
        }[step]
        outcome = cs.Outcome(str(p["outcome"])) if step is cs.Step.CONCLUDED else None
        case = cs.apply_status(case, step, court, p[at], outcome, number.get("court_id"))
        log.info("case %s %s by court %s", key, case.status, court)
        self._keep(state, case)
        return []

    def _on_view(self, raw: RawRecord) -> list[Output]:
        """A view record: its item, in force or lifted, to the case's task (tombstones carry no
        case: the DELISTED or lifted record before them already said so)."""
        if raw.value is None:
            return []
        p = self.envelope.read(raw).payload
        case = str(p["case_number"]["text"])
        if raw.topic == BLACKLIST_VIEW:
            eid = str(p["entry_id"])
            item = cs.Item(
                f"blacklist:{eid}",
                cs.ItemKind.BLACKLIST,
                f"失信被执行人名单 entry {eid} ({p['ground']})",
                str(p["listing_court"]["court_id"]),
                p["listed_at"],
            )
            return [_item(case, item, p["status"] == "ACTIVE")]
        cid = str(p["control_id"])
        item = cs.Item(
            f"restriction:{cid}",
            cs.ItemKind.RESTRICTION,
            f"{p['kind']} {cid}",
            str(p["issuing_court"]["court_id"]),
            p.get("issued_at") or p["effective_from"],
        )
        return [_item(case, item, p.get("lifted_at") is None)]

    def _on_delegation(self, record: Incoming, state: State) -> list[Output]:
        """A delegation's request, measure end and the delegation service's decisions."""
        event = record.decoded
        p = event.payload
        short = event.record.rsplit(".", 1)[-1]
        did = str(p["delegation_id"])
        links = state.table(LINKS)
        if short == "DelegationRequested":
            if str(p["matter"]) in MEASURES:
                links.put(
                    did,
                    Link(
                        str(p["case_number"]["text"]),
                        str(p["requesting_court"]["court_id"]),
                        str(p["executing_court"]["court_id"]),
                        str(p["matter"]),
                    ),
                )
            return []
        link = links.get(did)
        if link is None:
            return []
        if short in ("DelegationCompleted", "DelegationRenewed"):
            until = p.get("measure_until") if short == "DelegationCompleted" else p.get("until")
            at = p.get("completed_at") or p.get("renewed_at")
            links.put(
                did,
                Link(
                    link.case,
                    link.court,
                    link.executing_court,
                    link.matter,
                    until,
                    link.since or at,
                ),
            )
            return []
        if short != "DelegationDecided" or not p["applied"]:
            return []
        step = str(p["step"])
        item = cs.Item(
            f"freeze:{did}",
            cs.ItemKind.FREEZE,
            f"{link.matter} by court {link.executing_court} on delegation {did}",
            link.court,
            link.since or p["decided_at"],
            link.until,
        )
        if step in ("DelegationCompleted", "DelegationRenewed"):
            return [_item(link.case, item, True)]
        if step == "DelegationReleased" or str(p["state"]) in ("CANCELLED", "FAILED"):
            links.delete(did)
            return [_item(link.case, item, False)]
        return []

    def _on_item(self, raw: RawRecord, state: State) -> list[Output]:
        """In the case's task: an item in force or lifted."""
        _kind, body = read_internal(raw, ("item",), "WATCHDOG_RECORD_INVALID")
        key = str(body["case"])
        table = state.table(CASES)
        case = table.get(key) or cs.Case(key)
        item = item_of(body["item"])
        case = cs.with_item(case, item if body["in_force"] else None, item.item_id)
        self._keep(state, case)
        return []

    # -- the watchdog ------------------------------------------------------------------------

    def _keep(self, state: State, case: cs.Case) -> None:
        """Store the case and set its timer (or cancel it); a case with nothing to keep goes."""
        table = state.table(CASES)
        if case.status is None and not case.items:
            table.delete(case.case_number)
        else:
            table.put(case.case_number, case)
        at = cs.next_check(case, state.now, self.graces)
        if at is None:
            state.timers.cancel(case.case_number)
        else:
            state.timers.schedule(case.case_number, at)

    def on_tick(self, now: datetime, state: State) -> list[Output]:
        """Alerts for the performed cases whose items are overdue."""
        outputs: list[Output] = []
        table = state.table(CASES)
        for due in state.timers.due_entries(table, now):
            case = due.value
            late = cs.overdue(case, now, self.graces)
            if late:
                case = cs.alerted(case, now)
                outputs += self._alert(case, late, now)
            self._keep(state, case)
        return outputs

    def _alert(self, case: cs.Case, late: list[cs.Item], now: datetime) -> list[Output]:
        assert case.court is not None and case.concluded_at is not None
        concluded = case.concluded_at
        items = [
            {
                "item_id": i.item_id,
                "kind": i.kind.value,
                "label": mask_ids_in_text(i.label),
                "court_id": i.court,
                "since": i.since,
                "due_at": self.graces.due(i, concluded),
                "source": _SOURCES[i.kind],
            }
            for i in late
        ]
        detail = (
            f"case {case.case_number} was concluded as performed on {concluded.isoformat()}; "
            f"{len(late)} measure(s) still in force: "
            + "; ".join(mask_ids_in_text(i.label) for i in late)
            + f" (alert {case.alerts}, {cs.WATCHDOG_SOURCE})"
        )
        payload: dict[str, Any] = {
            "case_number": v.case_number(case.case_number),
            "court": v.court(case.court),
            "concluded_at": concluded,
            "alert_number": case.alerts,
            "items": items,
            "sent_at": now,
            "detail": detail,
        }
        built = self.envelope.build(
            inbox_topic("court", case.court), NS + "CaseWatchdogAlert", payload, self.source
        )
        out = output_of(built)
        log.info(
            "watchdog alert %d for case %s: %d item(s)", case.alerts, case.case_number, len(late)
        )
        return [out, Output(ALERTS_TOPIC, out.key, out.value, out.headers)]


def _item(case: str, item: cs.Item, in_force: bool) -> Output:
    body = {"case": case, "in_force": in_force, "item": item_json(item)}
    return internal_record(ITEMS_TOPIC, case, "item", body)
