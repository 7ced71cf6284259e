"""Shared helpers for the delegation flow's harness tests: payloads, courts, checks."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from courtbus.bus.records import Output
from courtbus.catalogue.directory import Directory, load_directory
from courtbus.catalogue.policies import (
    DEADLINES_PATH,
    EXAMPLES_PATH,
    DeadlineRules,
    load_deadlines,
    load_policies,
)
from courtbus.domain.courts import superior_of
from courtbus.domain.policy import PolicyCatalogue
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire import values as v
from courtbus.wire.envelope import Event, OutgoingRecord
from services.delegation.caps import CAPS_TOPIC
from services.delegation.caps import COUNTERS as CAPS
from services.delegation.flow import DELEGATIONS, DelegationFlow
from services.delegation.state import Tracked
from tests.builders import PERSON_ID

T0 = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in China, Friday
# The default deadlines of a request delivered at T0, counted as the law counts days
# (courtbus.domain.calendar, 民事诉讼法 第八十五条): the delivery day is not counted; day 15 is
# Saturday 03-16 and day 30 Sunday 03-31, each moved to the Monday after (03-18, 04-01); a
# deadline is the end of its last day, 00:00 China time the next day (16:00 UTC).
START_DUE = datetime(2024, 3, 18, 16, 0, tzinfo=UTC)  # T0 + 17 days 15 hours
REPORT_DUE = datetime(2024, 4, 1, 16, 0, tzinfo=UTC)  # T0 + 31 days 15 hours
WARN_BEFORE = timedelta(days=3)  # a plain offset before each deadline
REQ, EXE, THIRD = "3205", "6104", "4408"  # Suzhou → Xianyang (Shaanxi); Zhanjiang
EVENTS = "bus.delegation.events"
DEADLETTER = "bus.deadletter"
ALERTS = "bus.alerts"
NS = "cn.court.bus.delegation."
SERVICE = "bus:delegation"
X_ID = "32058319930312104X"  # a valid resident ID whose check digit is X (fictitious)

# A step as a court sends it: (short record name, sending court)
Step = tuple[str, str]
ACCEPT: Step = ("DelegationAccepted", EXE)
REJECT: Step = ("DelegationRejected", EXE)  # refused: 受托法院不得拒绝
MATERIALS: Step = ("DelegationMaterialsRequested", EXE)
SUPPLY: Step = ("DelegationMaterialsSupplied", REQ)
RETURN: Step = ("DelegationReturned", EXE)
FILES_BACK: Step = ("DelegationFilesReturned", EXE)
RENEWAL: Step = ("DelegationRenewalRequested", REQ)
RENEWED: Step = ("DelegationRenewed", EXE)
RELEASE: Step = ("DelegationReleaseRequested", REQ)
RELEASED: Step = ("DelegationReleased", EXE)
PROGRESS: Step = ("DelegationProgressReported", EXE)
COMPLETE: Step = ("DelegationCompleted", EXE)
FAIL: Step = ("DelegationFailed", EXE)
CANCEL: Step = ("DelegationCancelled", REQ)
REQUEST: Step = ("DelegationRequested", REQ)


@cache
def catalogue() -> tuple[Directory, PolicyCatalogue, DeadlineRules]:
    """The repository's directory, policies and deadlines (as ``services.delegation`` loads),
    the policies with the examples (``policies/regional.examples.yaml``: a housing-fund
    deduction cap in Shaanxi, a housing-fund freeze-only rule in Jiangsu; examples, not law)."""
    directory = load_directory()
    return directory, load_policies(directory, EXAMPLES_PATH), load_deadlines(DEADLINES_PATH)


def make_harness(
    *,
    start: datetime = T0,
    partitions: int = 3,
    retention: timedelta | None = None,
    policies: PolicyCatalogue | None = None,
    max_attempts: int = 3,
    deadlines: DeadlineRules | None = None,
) -> FlowHarness:
    """A harness over a fresh delegation flow with the examples catalogue (``catalogue``)."""
    directory, shipped, shipped_deadlines = catalogue()
    flow = DelegationFlow(
        memory_envelope(),
        directory,
        policies or shipped,
        deadlines or shipped_deadlines,
        retention=retention,
    )
    return FlowHarness(flow, start=start, partitions=partitions, max_attempts=max_attempts)


def request_payload(
    did: str,
    *,
    requesting: str = REQ,
    executing: str = EXE,
    matter: str = "SEARCH",
    amount: str | None = None,
    id_number: str = PERSON_ID,
    id_type: str | None = None,
    nationality: str | None = None,
    asset_kind: str | None = None,
    freeze_period_days: int | None = None,
    at: datetime = T0,
    kind: str | None = None,
    enforced_suit: str | None = None,
) -> dict[str, Any]:
    """A complete ``DelegationRequested`` payload (every schema field present)."""
    return {
        "delegation_id": did,
        "case_number": v.case_number("(2024)苏05执500号"),
        "requesting_court": v.court(requesting),
        "executing_court": v.court(executing),
        "matter": matter,
        "debtor": {
            "kind": "PERSON",
            "name": "张三",
            "id_number": id_number,
            "id_type": id_type,
            "nationality": nationality,
        },
        "asset_kind": asset_kind,
        "asset_description": None,
        "amount": None if amount is None else v.money(amount),
        "freeze_period_days": freeze_period_days,
        "requested_at": at,
        "note": None,
        "kind": kind,
        "enforced_suit": enforced_suit,
    }


def step_payload(record: str, did: str, court: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """A complete payload of any step after the request, sent by ``court``."""
    base: dict[str, Any] = {"delegation_id": did}
    if record == "DelegationAccepted":
        base |= {"executing_court": v.court(court), "accepted_at": at, "handler": "王法官"}
    elif record == "DelegationRejected":
        base |= {
            "executing_court": v.court(court),
            "rejected_at": at,
            "reason_code": "NO_JURISDICTION",
            "reason": "被执行人财产不在本院辖区",
        }
    elif record == "DelegationProgressReported":
        base |= {
            "executing_court": v.court(court),
            "reported_at": at,
            "summary": "已查询到存款",
            "amount_executed": None,
        }
    elif record == "DelegationCompleted":
        base |= {
            "executing_court": v.court(court),
            "completed_at": at,
            "summary": "执行完毕",
            "amount_executed": None,
            "measure_until": None,
        }
    elif record == "DelegationFailed":
        base |= {
            "executing_court": v.court(court),
            "failed_at": at,
            "reason_code": "ASSET_GONE",
            "reason": "财产已灭失",
        }
    elif record == "DelegationCancelled":
        base |= {"requesting_court": v.court(court), "cancelled_at": at, "reason": "已和解"}
    elif record == "DelegationMaterialsRequested":
        base |= {
            "executing_court": v.court(court),
            "requested_at": at,
            "missing": ["执行依据副本"],
            "note": None,
        }
    elif record == "DelegationMaterialsSupplied":
        base |= {"requesting_court": v.court(court), "supplied_at": at, "summary": "已补充"}
    elif record == "DelegationReturned":
        base |= {
            "executing_court": v.court(court),
            "returned_at": at,
            "ground": "MATERIALS_NOT_SUPPLIED",
            "reason": "逾期未补办",
            "approved_at": at,
        }
    elif record == "DelegationEscalated":
        base |= {
            "requesting_court": v.court(court),
            "superior_court": v.court(extra.pop("superior", superior_of(EXE))),
            "escalated_at": at,
            "reason": "十五日未执行",
        }
    elif record == "DelegationEscalationAnswered":
        base |= {
            "superior_court": v.court(court),
            "answered_at": at,
            "decision": "ORDERED",
            "execute_by": None,
            "assigned_court": None,
            "reason": "指令执行",
        }
    elif record == "DelegationRenewalRequested":
        base |= {
            "requesting_court": v.court(court),
            "requested_at": at,
            "period_days": 365,
            "note": None,
        }
    elif record == "DelegationRenewed":
        base |= {
            "executing_court": v.court(court),
            "renewed_at": at,
            "until": at + timedelta(days=365),
            "summary": "已续冻",
        }
    elif record == "DelegationReleaseRequested":
        base |= {"requesting_court": v.court(court), "requested_at": at, "reason": "已履行"}
    elif record == "DelegationReleased":
        base |= {"executing_court": v.court(court), "released_at": at, "summary": "已解冻"}
    elif record == "DelegationFilesReturned":
        base |= {
            "executing_court": v.court(court),
            "returned_at": at,
            "explanation": "逾期未补办，退回委托",
            "tracking": None,
        }
    elif record == "DelegationDelivered":
        base |= {"executing_court": v.court(court), "delivered_at": at}
    else:
        raise AssertionError(f"no payload builder for {record}")
    return base | extra


@dataclass
class Sent:
    """A record a court sent, and the outputs the flow produced for it."""

    record: OutgoingRecord
    outputs: list[Output]

    @property
    def event_id(self) -> str:
        return self.record.event.id


def send(h: FlowHarness, record: str, payload: dict[str, Any], court: str) -> Sent:
    """Send ``payload`` from ``court:<court>`` on the flow's input topic."""
    built = h.envelope.build(EVENTS, NS + record, payload, f"court:{court}")
    return Sent(built, h.feed_raw(EVENTS, built.key, built.value, built.headers))


def request(h: FlowHarness, did: str, *, court: str = REQ, **fields: Any) -> Sent:
    """A court asks for delegation ``did`` (``fields`` go to ``request_payload``)."""
    fields.setdefault("requesting", court)
    return send(h, "DelegationRequested", request_payload(did, at=h.now, **fields), court)


def step(h: FlowHarness, taken: Step, did: str, **extra: Any) -> Sent:
    """A court takes a step (``ACCEPT``, ``CANCEL`` ...) on ``did``; a request for REQUEST."""
    record, court = taken
    if record == "DelegationRequested":
        return request(h, did, court=court)
    return send(h, record, step_payload(record, did, court, h.now, **extra), court)


def header(output: Output, name: str) -> str | None:
    """One header of an output, as text."""
    for key, value in output.headers:
        if key == name:
            return value.decode()
    return None


def decisions(h: FlowHarness, outputs: list[Output]) -> list[Event]:
    """The ``DelegationDecided`` records among ``outputs``."""
    return [e for e in h.on(EVENTS, outputs) if e.record == NS + "DelegationDecided"]


def decision(h: FlowHarness, sent: Sent) -> Event:
    """The one decision the flow published about ``sent``."""
    found = [
        d for d in decisions(h, sent.outputs) if d.payload["decided_event_id"] == sent.event_id
    ]
    assert len(found) == 1, found
    return found[0]


def tracked(h: FlowHarness, did: str) -> Tracked | None:
    """The stored delegation ``did`` (committed state of its task), or None."""
    state = h.state(h.partition_of(did.encode()))
    return state.table(DELEGATIONS).get(did)


def state_of(h: FlowHarness, did: str) -> str | None:
    """The stored state of ``did``, or None if the flow does not know it."""
    found = tracked(h, did)
    return None if found is None else found.delegation.state.value


def snapshot(h: FlowHarness) -> dict[int, Any]:
    """Every task's committed state, to compare before and after a record."""
    return {p: copy.deepcopy(s.backend.data) for p, s in sorted(h.states.items())}


def caps_used(h: FlowHarness) -> dict[str, int]:
    """Every cap counter (``rule:debtor:year`` → fen) over every task."""
    found: dict[str, int] = {}
    for state in h.states.values():
        for key, entry in state.backend.data.get(CAPS.name, {}).items():
            assert entry.value is not None
            found[key.decode()] = CAPS.load(entry.value)
    return found


def assert_applied(h: FlowHarness, sent: Sent, state: str) -> Event:
    """``sent`` was applied and led to ``state``; its decision."""
    decided = decision(h, sent)
    assert decided.payload["applied"] is True, decided.payload
    assert decided.payload["state"] == state
    assert decided.payload["error_code"] is None
    return decided


def assert_refused(h: FlowHarness, sent: Sent, code: str, sender: str) -> Event:
    """``sent`` was refused with ``code``: dead letter, notice to ``sender``, decision."""
    # a cap refusal comes after the internal round trip on bus.delegation.caps
    outs = [o for o in sent.outputs if o.topic != CAPS_TOPIC]
    assert [o.topic for o in outs] == [DEADLETTER, f"court.{sender}.inbox", EVENTS], outs
    dead, notice_out, _ = outs
    assert header(dead, "dlq_code") == code
    assert header(dead, "dlq_service") == SERVICE
    assert header(dead, "dlq_topic") == EVENTS
    assert (dead.key, dead.value) == (sent.record.key, sent.record.value)
    assert header(dead, "ce_id") == sent.event_id  # the original headers are kept
    notice = h.decode(notice_out)
    assert notice.record == "cn.court.bus.notice.MessageRejected"
    assert header(notice_out, "ce_source") == SERVICE
    assert notice.headers.source == SERVICE
    assert notice.payload["error_code"] == code
    assert notice.payload["rejected_event_id"] == sent.event_id
    assert notice.payload["source_topic"] == EVENTS
    decided = decision(h, sent)
    assert decided.payload["applied"] is False
    assert decided.payload["error_code"] == code
    assert decided.payload["reason"]
    assert decided.headers.source == SERVICE
    assert decided.payload["by_court"] == sender
    return decided
