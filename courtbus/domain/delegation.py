"""The delegation (事项委托) state machine and its legal deadlines. Pure: no I/O, no clocks.

Deadlines in days are counted as the law counts days (``courtbus.domain.calendar``): from the
day after delivery, China time, to the end of the last day, moved past a rest day.

requested → delivered → accepted | rejected → in progress → completed | failed;
cancelled by the requesting court at any point before an end state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from courtbus.domain.calendar import due_after
from courtbus.errors import ValidationError


class State(StrEnum):
    """Where a delegation stands."""

    REQUESTED = "REQUESTED"
    DELIVERED = "DELIVERED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


END_STATES = frozenset({State.REJECTED, State.COMPLETED, State.FAILED, State.CANCELLED})


class Step(StrEnum):
    """What happened to a delegation: the short names of its message types."""

    REQUESTED = "DelegationRequested"
    DELIVERED = "DelegationDelivered"
    ACCEPTED = "DelegationAccepted"
    REJECTED = "DelegationRejected"
    PROGRESS = "DelegationProgressReported"
    COMPLETED = "DelegationCompleted"
    FAILED = "DelegationFailed"
    CANCELLED = "DelegationCancelled"


class Actor(StrEnum):
    """Who may take a step."""

    REQUESTING = "requesting court"
    EXECUTING = "executing court"
    BUS = "the bus"


# step -> (who may take it, states it may follow, state it leads to)
TRANSITIONS: dict[Step, tuple[Actor, frozenset[State], State]] = {
    Step.DELIVERED: (Actor.BUS, frozenset({State.REQUESTED}), State.DELIVERED),
    Step.ACCEPTED: (Actor.EXECUTING, frozenset({State.DELIVERED}), State.ACCEPTED),
    Step.REJECTED: (Actor.EXECUTING, frozenset({State.DELIVERED}), State.REJECTED),
    Step.PROGRESS: (
        Actor.EXECUTING,
        frozenset({State.ACCEPTED, State.IN_PROGRESS}),
        State.IN_PROGRESS,
    ),
    Step.COMPLETED: (
        Actor.EXECUTING,
        frozenset({State.ACCEPTED, State.IN_PROGRESS}),
        State.COMPLETED,
    ),
    Step.FAILED: (Actor.EXECUTING, frozenset({State.ACCEPTED, State.IN_PROGRESS}), State.FAILED),
    Step.CANCELLED: (
        Actor.REQUESTING,
        frozenset({State.REQUESTED, State.DELIVERED, State.ACCEPTED, State.IN_PROGRESS}),
        State.CANCELLED,
    ),
}


class DeadlineKind(StrEnum):
    """The two legal deadlines on the executing court, counted from delivery."""

    START = "START"  # accept or reject, and start, within 15 days
    REPORT = "REPORT"  # report the outcome (or progress) within 30 days


# Which states settle each deadline.
_SETTLES: dict[DeadlineKind, frozenset[State]] = {
    DeadlineKind.START: frozenset({State.IN_PROGRESS, *END_STATES}),
    DeadlineKind.REPORT: frozenset(END_STATES),
}


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """Time allowed from delivery to start and to report, and how long before each to warn.

    ``start`` and ``report`` in whole days are periods counted as the law counts days
    (``courtbus.domain.calendar.due_after``); other spans (the demo's seconds) are plain
    offsets. ``warn_before`` is always a plain offset before the due time.
    """

    start: timedelta = timedelta(days=15)
    report: timedelta = timedelta(days=30)
    warn_before: timedelta = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Deadline:
    """One deadline of one delegation and which notices about it were already sent."""

    kind: DeadlineKind
    due: datetime
    warned: bool = False
    overdue_sent: bool = False


@dataclass(frozen=True, slots=True)
class Delegation:
    """A delegation as the bus knows it."""

    delegation_id: str
    requesting_court: str
    executing_court: str
    matter: str
    state: State
    requested_at: datetime
    delivered_at: datetime | None = None
    reported: bool = False  # a progress report or an outcome arrived
    deadlines: tuple[Deadline, ...] = field(default_factory=tuple)
    events: int = 1


def check_not_self(requesting_court: str, executing_court: str) -> None:
    """A court cannot entrust itself: delegation is between two courts.

    Raises:
        ValidationError: ``DELEGATION_SELF``.
    """
    if requesting_court == executing_court:
        raise ValidationError(
            f"court {requesting_court} cannot delegate to itself", code="DELEGATION_SELF"
        )


def request(
    delegation_id: str,
    requesting_court: str,
    executing_court: str,
    matter: str,
    requested_at: datetime,
) -> Delegation:
    """A new delegation.

    Raises:
        ValidationError: ``DELEGATION_SELF`` if a court delegates to itself.
    """
    check_not_self(requesting_court, executing_court)
    return Delegation(
        delegation_id, requesting_court, executing_court, matter, State.REQUESTED, requested_at
    )


def sender_court(source: str) -> str | None:
    """The court that sent a step, from its CloudEvents source.

    ``court:6101`` → ``6101``; ``bus:…`` → None (the bus itself). Any other sender (an agency)
    is returned whole, so the state machine sees a stranger, never the bus.
    """
    kind, _, ident = source.partition(":")
    if kind == "court" and ident:
        return ident
    return None if kind == "bus" else source


def actor_of(delegation: Delegation, court_id: str | None) -> Actor | None:
    """Which role ``court_id`` plays in ``delegation`` (None for the bus, or a stranger)."""
    if court_id is None:
        return Actor.BUS
    if court_id == delegation.requesting_court:
        return Actor.REQUESTING
    if court_id == delegation.executing_court:
        return Actor.EXECUTING
    return None


def apply(
    delegation: Delegation,
    step: Step,
    by_court: str | None,
    at: datetime,
    rule: DeadlineRule | None = None,
) -> Delegation:
    """Take one step.

    ``by_court`` is the court that sent the step (None when the bus itself sends it).

    Raises:
        ValidationError: ``DELEGATION_WRONG_COURT`` (a court not allowed to take this step,
            e.g. a third court answering) or ``DELEGATION_ILLEGAL_TRANSITION`` (e.g.
            completing a rejected delegation, cancelling after completion).
    """
    if step is Step.REQUESTED:
        raise ValidationError(
            f"delegation {delegation.delegation_id} already exists", code="DELEGATION_DUPLICATE"
        )
    who, sources, target = TRANSITIONS[step]
    actor = actor_of(delegation, by_court)
    if actor is not who:
        sender = f"court {by_court}" if by_court else "the bus"
        raise ValidationError(
            f"{step.value} on delegation {delegation.delegation_id} must come from the {who.value}"
            f", not {sender}",
            code="DELEGATION_WRONG_COURT",
        )
    if delegation.state not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise ValidationError(
            f"{step.value} is not allowed on delegation {delegation.delegation_id} in state "
            f"{delegation.state.value} (only from {allowed})",
            code="DELEGATION_ILLEGAL_TRANSITION",
        )
    changed = replace(delegation, state=target, events=delegation.events + 1)
    if step is Step.DELIVERED:
        rule = rule or DeadlineRule()
        changed = replace(
            changed,
            delivered_at=at,
            deadlines=(
                Deadline(DeadlineKind.START, due_after(at, rule.start)),
                Deadline(DeadlineKind.REPORT, due_after(at, rule.report)),
            ),
        )
    if step in (Step.PROGRESS, Step.COMPLETED, Step.FAILED):
        changed = replace(changed, reported=True)
    return changed


class NoticeKind(StrEnum):
    """What a deadline notice says."""

    WARNING = "WARNING"  # the deadline is near
    OVERDUE = "OVERDUE"  # the deadline has passed


@dataclass(frozen=True, slots=True)
class Notice:
    """A deadline notice to send (to both courts; an overdue one also to ``bus.alerts``)."""

    delegation_id: str
    deadline: DeadlineKind
    kind: NoticeKind
    due: datetime


def _settled(delegation: Delegation, kind: DeadlineKind) -> bool:
    if kind is DeadlineKind.REPORT and delegation.reported:
        return True
    return delegation.state in _SETTLES[kind]


def due_notices(
    delegation: Delegation, now: datetime, rule: DeadlineRule | None = None
) -> tuple[Delegation, list[Notice]]:
    """The notices due at ``now`` that were not sent yet, and the delegation marking them sent.

    Calling it again with the returned delegation yields no notice twice.
    """
    rule = rule or DeadlineRule()
    notices: list[Notice] = []
    updated: list[Deadline] = []
    for d in delegation.deadlines:
        if _settled(delegation, d.kind):
            updated.append(d)
            continue
        if now >= d.due and not d.overdue_sent:
            notices.append(Notice(delegation.delegation_id, d.kind, NoticeKind.OVERDUE, d.due))
            d = replace(d, overdue_sent=True, warned=True)
        elif now >= d.due - rule.warn_before and not d.warned:
            notices.append(Notice(delegation.delegation_id, d.kind, NoticeKind.WARNING, d.due))
            d = replace(d, warned=True)
        updated.append(d)
    return replace(delegation, deadlines=tuple(updated)), notices


def next_notice_at(delegation: Delegation, rule: DeadlineRule | None = None) -> datetime | None:
    """When the next deadline notice of ``delegation`` falls due (None: no more notices).

    What the delegation timer is scheduled at: a warning ``warn_before`` a deadline, then the
    overdue notice at the deadline, for each deadline not yet settled.
    """
    rule = rule or DeadlineRule()
    times: list[datetime] = []
    for d in delegation.deadlines:
        if _settled(delegation, d.kind) or d.overdue_sent:
            continue
        times.append(d.due if d.warned else d.due - rule.warn_before)
    return min(times, default=None)
