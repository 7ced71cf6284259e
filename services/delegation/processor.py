"""Delegation processor: decide on each delegation event, and on each timer tick."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from courtbus.catalogue.directory import Directory
from courtbus.catalogue.policies import DeadlineRules
from courtbus.domain import delegation as dm
from courtbus.domain import policy
from courtbus.domain.identity import validate_debtor_id
from courtbus.domain.money import Money
from courtbus.errors import CourtbusError, RegistryError, ValidationError
from courtbus.gateway import Output
from courtbus.gateway.core import flow_topic, inbox_topic, refusal
from courtbus.wire import values as v
from courtbus.wire.envelope import Envelope, Event
from courtbus.wire.events import EventHeaders
from services.delegation.state import STATE_TOPIC, Tracked, dump, load
from services.runtime import Journaled

log = logging.getLogger("courtbus.delegation")
CHINA = ZoneInfo("Asia/Shanghai")
SOURCE = "bus:delegation"
EVENTS = flow_topic("delegation")
ALERTS = "bus.alerts"
NS = "cn.court.bus.delegation."
_END_STEPS = {dm.Step.COMPLETED, dm.Step.FAILED, dm.Step.REJECTED, dm.Step.CANCELLED}


class DelegationProcessor:
    """The delegation flow over ``bus.delegation.events``."""

    name = "courtbus-delegation"

    def __init__(
        self,
        envelope: Envelope,
        directory: Directory,
        policies: policy.PolicyCatalogue,
        deadlines: DeadlineRules,
    ) -> None:
        self.envelope = envelope
        self.directory = directory
        self.policies = policies
        self.deadlines = deadlines
        self.tracked: Journaled[str, Tracked] = Journaled()
        self.caps: Journaled[str, int] = Journaled()  # cap key -> fen reserved or deducted

    # -- runtime hooks -----------------------------------------------------------------------

    def subscription(self) -> tuple[list[str], str | None]:
        """The delegation flow topic."""
        return [EVENTS], None

    def restore_topics(self) -> list[str]:
        """The state changelog."""
        return [STATE_TOPIC]

    def restore(self, record: Any) -> None:
        """One state record: a delegation (``dlg:``) or a deduction-cap counter (``cap:``)."""
        key = record.key.decode()
        if key.startswith("dlg:"):
            self.tracked[key[4:]] = load(record.value)
        elif key.startswith("cap:"):
            self.caps[key] = int(record.value)

    def begin(self) -> None:
        """Start a batch."""
        self.tracked.mark()
        self.caps.mark()

    def rollback(self) -> None:
        """Undo an aborted batch."""
        self.tracked.rollback()
        self.caps.rollback()

    def flush(self) -> list[Output]:
        """One changelog record per delegation or cap counter the batch changed."""
        outs = [
            Output(STATE_TOPIC, f"dlg:{k}".encode(), dump(self.tracked[k]), [])
            for k in self.tracked.changed()
            if k in self.tracked
        ]
        outs += [
            Output(STATE_TOPIC, k.encode(), str(self.caps[k]).encode(), [])
            for k in self.caps.changed()
            if k in self.caps
        ]
        return outs

    # -- events ------------------------------------------------------------------------------

    def handle(self, raw: Any) -> list[Output]:
        """Outputs for one record of ``bus.delegation.events``."""
        try:
            event = self.envelope.read(raw)
            if event.headers.source_kind == "bus":
                return []  # our own receipts and notices, already applied
            outputs = self._apply(raw, event)
        except RegistryError:
            raise
        except CourtbusError as exc:
            log.warning("refused %s@%d:%d %s", raw.topic, raw.partition, raw.offset, exc)
            return self._refuse(raw, exc)
        return outputs

    def _refuse(self, raw: Any, error: CourtbusError) -> list[Output]:
        try:
            source = EventHeaders.from_kafka(raw.headers)
        except CourtbusError:
            return refusal(self.envelope, raw, error, None)
        return refusal(self.envelope, raw, error, (source.source_kind, source.source_id))

    def _apply(self, raw: Any, event: Event) -> list[Output]:
        short = event.record.removeprefix(NS)
        step = dm.Step(short)
        did = str(event.payload["delegation_id"])
        court = dm.sender_court(event.headers.source)
        original = Output(raw.topic, raw.key, raw.value, [(k, h or b"") for k, h in raw.headers])
        if step is dm.Step.REQUESTED:
            return self._request(event, did, court, original)
        current = self.tracked.get(did)
        if current is None:
            raise ValidationError(f"no delegation {did} on the bus", code="DELEGATION_UNKNOWN")
        d = current.delegation
        updated = dm.apply(d, step, court, event.headers.time, self.deadlines.for_matter(d.matter))
        tracked = replace(current, delegation=updated)
        if step in _END_STEPS:
            tracked = self._settle(tracked, event, step)
        self.tracked[did] = tracked
        counterpart = d.executing_court if court == d.requesting_court else d.requesting_court
        return [replace(original, topic=inbox_topic("court", counterpart))]

    def _request(self, event: Event, did: str, court: str | None, original: Output) -> list[Output]:
        p = event.payload
        if did in self.tracked:
            raise ValidationError(f"delegation {did} already exists", code="DELEGATION_DUPLICATE")
        executing = str(p["executing_court"]["court_id"])
        d = dm.request(did, str(court), executing, str(p["matter"]), event.headers.time)
        amount = Money.parse(p["amount"]) if p.get("amount") is not None else None
        ask = policy.DelegationAsk(
            d.requesting_court,
            executing,
            d.matter,
            p.get("asset_kind"),
            p.get("freeze_period_days"),
            amount,
        )
        year = (
            v.now().astimezone(CHINA).year
        )  # the bus's calendar year in China, not the sender's clock
        canonical = validate_debtor_id(str(p["debtor"]["kind"]), str(p["debtor"]["id_number"]))
        debtor = hashlib.sha256(canonical.encode()).hexdigest()[
            :24
        ]  # one counter however it was spelt
        keys = {r.id: f"cap:{r.id}:{debtor}:{year}" for r in policy.cap_rules(self.policies, ask)}
        used = {rid: Money(self.caps.get(key, 0)) for rid, key in keys.items()}
        violations = policy.check(self.policies, ask, used)
        if violations:
            first = violations[0]
            raise ValidationError(
                f"rule {first.rule_id}: {first.message}; allowed: {first.allowed}", code=first.code
            )
        delivered_at = v.now()
        receipt = self.envelope.build(
            EVENTS, NS + "DelegationDelivered",
            {"delegation_id": did, "executing_court": p["executing_court"], "delivered_at": delivered_at},
            SOURCE, causation_id=event.headers.id, correlation_id=event.headers.correlation_id,
        )  # fmt: skip
        as_output = Output(receipt.topic, receipt.key, receipt.value, receipt.headers)
        reserved = amount.fen if amount and keys else 0
        for key in keys.values():
            self.caps[key] = self.caps.get(key, 0) + reserved
        d = dm.apply(d, dm.Step.DELIVERED, None, delivered_at, self.deadlines.for_matter(d.matter))
        self.tracked[did] = Tracked(d, tuple(keys.values()), reserved)
        return [
            replace(original, topic=inbox_topic("court", executing)),
            as_output,
            replace(as_output, topic=inbox_topic("court", d.requesting_court)),
        ]

    def _settle(self, tracked: Tracked, event: Event, step: dm.Step) -> Tracked:
        """At an end state, turn the deduction reservation into what was really deducted."""
        if not tracked.cap_keys:
            return tracked
        executed = event.payload.get("amount_executed") if step is dm.Step.COMPLETED else None
        actual = Money.parse(executed).fen if executed is not None else 0
        for key in tracked.cap_keys:
            self.caps[key] = max(self.caps.get(key, 0) - tracked.reserved_fen + actual, 0)
        return replace(tracked, reserved_fen=actual)

    # -- timers ------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Output]:
        """Deadline warnings and overdue notices that fell due."""
        outputs: list[Output] = []
        for did in list(self.tracked):
            tracked = self.tracked[did]
            d = tracked.delegation
            if d.state in dm.END_STATES or not d.deadlines:
                continue
            updated, notices = dm.due_notices(d, now, self.deadlines.for_matter(d.matter))
            if not notices:
                continue
            self.tracked[did] = replace(tracked, delegation=updated)
            for notice in notices:
                outputs += self._notice(updated, notice, now)
        return outputs

    def _notice(self, d: dm.Delegation, notice: dm.Notice, now: datetime) -> list[Output]:
        payload = {
            "delegation_id": d.delegation_id, "requesting_court": v.court(d.requesting_court),
            "executing_court": v.court(d.executing_court), "deadline": notice.deadline.value,
            "notice": notice.kind.value, "due_at": notice.due, "sent_at": now,
        }  # fmt: skip
        built = self.envelope.build(
            inbox_topic("court", d.requesting_court),
            NS + "DelegationDeadlineNotice",
            payload,
            SOURCE,
        )
        out = Output(built.topic, built.key, built.value, built.headers)
        outputs = [out, replace(out, topic=inbox_topic("court", d.executing_court))]
        if notice.kind is dm.NoticeKind.OVERDUE:
            outputs.append(replace(out, topic=ALERTS))
        log.info(
            "%s %s notice for %s (due %s)",
            notice.deadline.value,
            notice.kind.value,
            d.delegation_id,
            notice.due,
        )
        return outputs
