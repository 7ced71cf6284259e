"""The delegation flow: the 委托执行 / 事项委托 state machine over ``bus.delegation.events``.

Delivers requests to the executing court's inbox and receipts to the requesting court's,
refuses illegal steps, reserves out-of-region deductions against annual caps, publishes a
``DelegationDecided`` for every step it applies or refuses, and sends deadline warnings and
overdue notices from timers indexed by due time. Finished delegations leave the store after
``COURTBUS_DELEGATION_RETENTION_DAYS`` (default 90); a later step for one is unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from courtbus.bus.records import KeptRecord, Output, forward, output_of
from courtbus.bus.refusals import refusal
from courtbus.bus.topics import ALERTS_TOPIC, flow_topic, inbox_topic
from courtbus.catalogue.directory import Directory
from courtbus.catalogue.policies import DeadlineRules
from courtbus.domain import delegation as dm
from courtbus.domain import policy
from courtbus.domain.courts import superior_of
from courtbus.domain.identity import debtor_key, validate_debtor_id
from courtbus.domain.masking import mask_ids_in_text
from courtbus.domain.money import Money
from courtbus.errors import CourtbusError, ValidationError
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec
from courtbus.wire import values as v
from courtbus.wire.envelope import Envelope, Event, RawRecord
from courtbus.wire.events import sender_court
from services.delegation import caps
from services.delegation.state import Tracked, dump, load

log = logging.getLogger("courtbus.delegation")
CHINA = ZoneInfo("Asia/Shanghai")
EVENTS = flow_topic("delegation")
NS = "cn.court.bus.delegation."
DEFAULT_RETENTION = timedelta(days=90)  # COURTBUS_DELEGATION_RETENTION_DAYS
DELEGATIONS: StoreSpec[Tracked] = StoreSpec("delegations", dump, load)


class DelegationFlow(Flow):
    """The delegation flow over ``bus.delegation.events``."""

    name = "delegation"
    source = "bus:delegation"
    inputs = Inputs(topics=(EVENTS, caps.CAPS_TOPIC))
    raw_topics = frozenset({caps.CAPS_TOPIC})
    stores = (DELEGATIONS, caps.COUNTERS)
    timers = True

    def __init__(
        self,
        envelope: Envelope,
        directory: Directory,
        policies: policy.PolicyCatalogue,
        deadlines: DeadlineRules,
        retention: timedelta | None = None,
    ) -> None:
        """``retention``: how long a delegation in an end state is kept (default 90 days;
        the service's ``DelegationSettings`` give it from the environment)."""
        super().__init__(envelope)
        self.directory = directory
        self.policies = policies
        self.deadlines = deadlines
        self.retention = DEFAULT_RETENTION if retention is None else retention

    # -- events ------------------------------------------------------------------------------

    def prepare(self, records: Sequence[RawRecord], state: State) -> None:
        """Look the batch's delegations up at once (a step's record key is its delegation's
        id): one query, not one per record, most of them for requests not seen before."""
        keys = [r.key for r in records if r.key is not None and r.topic == EVENTS]
        state.prefetch(DELEGATIONS.name, keys)

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Outputs for one record of ``bus.delegation.events`` or the caps topic; raise to refuse."""
        if record.raw.topic == caps.CAPS_TOPIC:
            return self._on_caps(record.raw, state)
        event = record.decoded
        if event.headers.source_kind == "bus":
            return []  # our own receipts and decisions, already applied
        step = dm.Step(event.record.removeprefix(NS))
        did = str(event.payload["delegation_id"])
        court = sender_court(event.headers.source)
        if step is dm.Step.REQUESTED:
            return self._request(record.raw, event, did, court, state)
        table = state.table(DELEGATIONS)
        current = table.get(did)
        if current is None:
            raise ValidationError(f"no delegation {did} on the bus", code="DELEGATION_UNKNOWN")
        d = current.delegation
        rule = self.deadlines.for_matter(d.matter)
        if step is dm.Step.RENEWAL_REQUESTED:
            self._check_renewal(d, event.payload)
        updated = dm.apply(d, step, court, state.now, rule, _detail(step, event.payload))
        if step is dm.Step.ESCALATED:
            self._check_superior(d)  # after the timing: "too early" is the more useful answer
        tracked = replace(current, delegation=updated)
        outputs = [self._decision(event, updated, court)]
        if updated.state in dm.END_STATES and d.state not in dm.END_STATES:
            tracked, settled = self._settle(tracked, event, step)
            outputs += settled
        self._store(state, tracked)
        if tracked.pending is None and current.pending is not None:
            return outputs  # cancelled before delivery: the executing court never saw it
        to = [inbox_topic("court", c) for c in self._recipients(d, step, court)]
        return [*(forward(record.raw, topic) for topic in to), *outputs]

    def _recipients(self, d: dm.Delegation, step: dm.Step, court: str | None) -> list[str]:
        """The courts a step goes to: the other party; an escalation to the superior too."""
        if step is dm.Step.ESCALATED:
            superior = superior_of(d.executing_court)
            assert superior is not None  # dm.apply refused an escalation without one
            return [superior, d.executing_court]
        if step is dm.Step.ESCALATION_ANSWERED:
            return [d.requesting_court, d.executing_court]
        return [d.executing_court if court == d.requesting_court else d.requesting_court]

    def _check_superior(self, d: dm.Delegation) -> None:
        """The executing court's superior court has an inbox on the bus.

        Raises:
            ValidationError: ``DELEGATION_NO_SUPERIOR``.
        """
        superior = superior_of(d.executing_court)
        try:
            self.directory.court(superior or "")
        except ValidationError:
            raise ValidationError(
                f"court {d.executing_court}'s superior court ({superior or 'none'}) is not on the "
                "bus; escalate outside it",
                code="DELEGATION_NO_SUPERIOR",
            ) from None

    def _check_renewal(self, d: dm.Delegation, p: dict[str, Any]) -> None:
        """A renewal's period within the legal and regional maxima (民诉法解释 (2022 修正) 第四百八十五条).

        Raises:
            ValidationError: ``POLICY_FREEZE_TOO_LONG``, ``DELEGATION_NO_SUPERIOR``.
        """
        ask = policy.DelegationAsk(
            d.requesting_court,
            d.executing_court,
            d.matter,
            d.asset_kind,
            int(p["period_days"]),
            None,
        )
        for found in policy.check(self.policies, ask):
            if found.code == "POLICY_FREEZE_TOO_LONG":
                raise ValidationError(
                    f"renewal of delegation {d.delegation_id}: rule {found.rule_id}: "
                    f"{found.message}; allowed: {found.allowed}",
                    code=found.code,
                )

    def _request(
        self, raw: RawRecord, event: Event, did: str, court: str | None, state: State
    ) -> list[Output]:
        p = event.payload
        if did in state.table(DELEGATIONS):
            raise ValidationError(f"delegation {did} already exists", code="DELEGATION_DUPLICATE")
        ask = policy.ask_from_payload(p)
        if ask.requesting_court != court:
            raise ValidationError(
                f"the request names court {ask.requesting_court} but came from {court}",
                code="SOURCE_NOT_PARTY",
            )
        canonical = validate_debtor_id(
            str(p["debtor"]["kind"]),
            str(p["debtor"]["id_number"]),
            id_type=p["debtor"].get("id_type"),
            nationality=p["debtor"].get("nationality"),
        )
        policy.check_request(self.policies, ask)  # the law and the regional rules; caps below
        requested = dm.request(
            did,
            ask.requesting_court,
            ask.executing_court,
            ask.matter,
            event.headers.time,
            ask.asset_kind,
            ask.kind,
        )
        rules = policy.cap_rules(self.policies, ask)
        if not rules:
            return self._deliver(raw, event, Tracked(requested), court, state)
        year = state.now.astimezone(CHINA).year  # the bus's calendar year, not the sender's
        debtor = debtor_key(canonical, p["debtor"].get("nationality"))  # however it was spelt
        keys = {r.id: f"{r.id}:{debtor}:{year}" for r in rules}
        route = f"{debtor}:{year}"
        pending = Tracked(requested, tuple(keys.values()), 0, route, KeptRecord.of(raw).to_json())
        self._store(state, pending)
        return [caps.reserve(route, did, keys, ask)]

    def _deliver(
        self, raw: RawRecord, event: Event, tracked: Tracked, court: str | None, state: State
    ) -> list[Output]:
        """Deliver a request: to the executing court, with a receipt and the decisions."""
        requested = tracked.delegation
        did = requested.delegation_id
        delivered_at = state.now
        rule = self.deadlines.for_matter(requested.matter)
        d = dm.apply(requested, dm.Step.DELIVERED, None, delivered_at, rule)
        self._store(state, replace(tracked, delegation=d, pending=None))
        built = self.envelope.build(
            EVENTS,
            NS + "DelegationDelivered",
            {
                "delegation_id": did,
                "executing_court": v.court(d.executing_court),
                "delivered_at": delivered_at,
            },
            self.source,
            causation_id=event.headers.id,
            correlation_id=event.headers.correlation_id,
        )
        receipt = output_of(built)
        return [
            forward(raw, inbox_topic("court", d.executing_court)),
            self._decision(event, requested, court),
            receipt,
            replace(receipt, topic=inbox_topic("court", d.requesting_court)),
            self._decided(
                did,
                "DelegationDelivered",
                built.event.id,
                d,
                None,
                None,
                event.headers.correlation_id,
            ),
        ]

    def _on_caps(self, raw: RawRecord, state: State) -> list[Output]:
        """A caps record: reserve or settle (the debtor's task), or the answer (the delegation's)."""
        kind, body = caps.read(raw)
        if kind == "reserve":
            return [caps.decide(self.policies, body, state)]
        if kind == "settle":
            caps.apply_settle(body, state)
            return []
        did = str(body["delegation_id"])
        tracked = state.table(DELEGATIONS).get(did)
        if tracked is None or tracked.pending is None:  # cancelled while it was being asked
            granted = int(body.get("reserved_fen", 0)) if kind == "granted" else 0
            if granted and tracked is not None and tracked.cap_route:
                return [caps.settle(tracked.cap_route, list(tracked.cap_keys), granted, 0)]
            return []
        request = KeptRecord.from_json(tracked.pending)
        event = self.envelope.read(request)
        court = sender_court(event.headers.source)
        if kind == "granted":
            reserved = replace(tracked, reserved_fen=int(body["reserved_fen"]))
            return self._deliver(request, event, reserved, court, state)
        error = ValidationError(str(body["reason"]), code=str(body["code"]))
        state.table(DELEGATIONS).delete(did)
        state.timers.cancel(did)
        sender = ("court", tracked.delegation.requesting_court)
        return [
            *refusal(self.envelope, request, error, sender, self.source),
            self._decision(event, None, court, error),
        ]

    def _settle(
        self, tracked: Tracked, event: Event, step: dm.Step
    ) -> tuple[Tracked, list[Output]]:
        """At an end state, turn the deduction reservation into what was really deducted."""
        if not tracked.cap_keys or tracked.cap_route is None:
            return tracked, []
        if tracked.pending is not None:  # ended before the cap answered: the answer releases it
            return replace(tracked, pending=None), []
        executed = event.payload.get("amount_executed") if step is dm.Step.COMPLETED else None
        actual = Money.parse(str(executed)).fen if executed is not None else 0
        out = caps.settle(tracked.cap_route, list(tracked.cap_keys), tracked.reserved_fen, actual)
        return replace(tracked, reserved_fen=actual), [out]

    def _store(self, state: State, tracked: Tracked) -> None:
        """Keep a delegation; a finished one until the retention ends; re-aim its timer."""
        d = tracked.delegation
        finished = d.finished  # an end state, and no freeze left in force to watch
        expires = state.now + self.retention if finished else None
        state.table(DELEGATIONS).put(d.delegation_id, tracked, expires=expires)
        due = None if finished else dm.next_notice_at(d, self.deadlines.for_matter(d.matter))
        if due is None:
            state.timers.cancel(d.delegation_id)
        else:
            state.timers.schedule(d.delegation_id, due)

    def on_refused(self, record: Incoming, error: CourtbusError, state: State) -> list[Output]:
        """Publish the refusal as a decision, so read models need not decide again."""
        event = record.decoded
        if event.headers.source_kind == "bus" or "delegation_id" not in event.payload:
            return []
        did = str(event.payload["delegation_id"])
        current = state.table(DELEGATIONS).get(did)
        court = sender_court(event.headers.source)
        return [self._decision(event, current.delegation if current else None, court, error)]

    def _decision(
        self,
        event: Event,
        d: dm.Delegation | None,
        court: str | None,
        error: CourtbusError | None = None,
    ) -> Output:
        """The decision on a step a court sent."""
        p = event.payload
        return self._decided(
            str(p["delegation_id"]),
            event.record.removeprefix(NS),
            event.headers.id,
            d,
            court,
            error,
            event.headers.correlation_id,
            p,
        )

    def _decided(
        self,
        did: str,
        step: str,
        event_id: str,
        d: dm.Delegation | None,
        court: str | None,
        error: CourtbusError | None,
        correlation_id: str | None,
        p: dict[str, Any] | None = None,
    ) -> Output:
        """A ``DelegationDecided`` on step ``step`` (``event_id``) of delegation ``did``."""
        due = {dl.kind: dl.due for dl in d.deadlines} if d else {}
        p = p or {}
        payload: dict[str, Any] = {
            "delegation_id": did,
            "step": step,
            "decided_event_id": event_id,
            "applied": error is None,
            "state": d.state.value if d else "REFUSED",
            "by_court": court,
            "requesting_court": d.requesting_court if d else _court_id(p.get("requesting_court")),
            "executing_court": d.executing_court if d else _court_id(p.get("executing_court")),
            "matter": d.matter if d else p.get("matter"),
            "start_due": due.get(dm.DeadlineKind.START),
            "report_due": due.get(dm.DeadlineKind.REPORT),
            "error_code": error.code if error else None,
            "reason": mask_ids_in_text(error.reason) if error else None,
            "decided_at": v.now(),
        }
        built = self.envelope.build(
            EVENTS,
            NS + "DelegationDecided",
            payload,
            self.source,
            causation_id=event_id,
            correlation_id=correlation_id,
        )
        return output_of(built)

    # -- timers ------------------------------------------------------------------------------

    def on_tick(self, now: datetime, state: State) -> list[Output]:
        """Deadline warnings and overdue notices whose timers fell due."""
        outputs: list[Output] = []
        table = state.table(DELEGATIONS)
        for due in state.timers.due_entries(table, now):
            tracked = due.value
            d = tracked.delegation
            updated, notices = dm.due_notices(d, now, self.deadlines.for_matter(d.matter))
            self._store(state, replace(tracked, delegation=updated))
            for notice in notices:
                outputs += self._notice(updated, notice, now)
        return outputs

    def _notice(self, d: dm.Delegation, notice: dm.Notice, now: datetime) -> list[Output]:
        payload = {
            "delegation_id": d.delegation_id,
            "requesting_court": v.court(d.requesting_court),
            "executing_court": v.court(d.executing_court),
            "deadline": notice.deadline.value,
            "notice": notice.kind.value,
            "due_at": notice.due,
            "sent_at": now,
            "provisional": notice.provisional,
        }
        built = self.envelope.build(
            inbox_topic("court", d.requesting_court),
            NS + "DelegationDeadlineNotice",
            payload,
            self.source,
        )
        out = output_of(built)
        outputs = [out, replace(out, topic=inbox_topic("court", d.executing_court))]
        if notice.kind is dm.NoticeKind.OVERDUE:
            outputs.append(replace(out, topic=ALERTS_TOPIC))
        log.info(
            "%s %s notice for %s (due %s%s)",
            notice.deadline.value,
            notice.kind.value,
            d.delegation_id,
            notice.due,
            f"; {notice.provisional}" if notice.provisional else "",
        )
        return outputs


def _detail(step: dm.Step, p: dict[str, Any]) -> dm.Detail | None:
    """What the state machine needs from a step's payload besides its type."""
    if step is dm.Step.COMPLETED:
        return dm.Detail(until=p.get("measure_until"))
    if step is dm.Step.RENEWED:
        return dm.Detail(until=p.get("until"))
    if step is dm.Step.RETURNED:
        return dm.Detail(approved_at=p.get("approved_at"))
    if step is dm.Step.ESCALATION_ANSWERED:
        decision = dm.EscalationDecision(str(p["decision"]))
        return dm.Detail(decision=decision, execute_by=p.get("execute_by"))
    return None


def _court_id(node: Any) -> str | None:
    return str(node["court_id"]) if isinstance(node, dict) else None
