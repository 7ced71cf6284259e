"""Enforcement case status (filed, suspended, resumed, concluded) and the "not lifted" watchdog.
Pure: no Kafka, no clock.

**Status.** A court publishes its case's status; the bus keeps the last one per case number
and refuses what cannot follow it (an order the bus enforces so the watchdog's picture is
true, not a legal rule of its own): a concluded case is not suspended or concluded again until
it is resumed; only the court that filed (or, for a case filed before the bus knew it, the court
its case number names) speaks for the case.

**Outcomes** are the ways an enforcement case concludes, 最高人民法院关于执行案件立案、结案若干问题的
意见 (法发〔2014〕26号, version unverified) 第十四条: 执行完毕, 终结本次执行程序, 终结执行, 销案, 不予执行, 驳回申请
(``TRANSFERRED`` predates this module and is kept for stored records).

**Watchdog** (the Hongkou court's "执行完毕未解除限制措施提示预警" model, report:380-386): when a
case concludes as performed (执行完毕), whatever tied to it is still in force after its grace is
listed in an alert to the handling court, repeated until each item is lifted; a resumed case
stops the alerts. Graces:

- a dishonest-debtor entry: 3 working days, the deletion deadline once the debtor has
  performed (最高人民法院关于公布失信被执行人名单信息的若干规定 (2017 修订, version unverified) 第十条);
- a restriction (限制出境, 限制高消费) and a freeze, seal or seizure: no article sets a day count
  (限高 (2015 修正) 第九条 says the court lifts the order 及时, promptly, once the
  debtor has performed; 查封扣押冻结规定 (2020 修正) 第二十八条 has the court release when the debt is
  paid), so the grace is configurable and its default, one day, is an example, not law.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from courtbus.domain.calendar import working_days_end
from courtbus.errors import ValidationError

OUTCOMES_SOURCE = "法发〔2014〕26号 (version unverified) 第十四条"
WATCHDOG_SOURCE = "report:380-386"
BLACKLIST_GRACE_WORKING_DAYS = (
    3  # 失信名单规定 (2017 修订, version unverified) 第十条: 三个工作日内删除
)
# Example default (no article sets a day count): see the module docstring.
DEFAULT_GRACE = timedelta(days=1)
DEFAULT_REPEAT = timedelta(days=1)  # "alerts daily until each item is lifted" (issue 9)


class Status(StrEnum):
    """Where a case stands."""

    FILED = "FILED"
    SUSPENDED = "SUSPENDED"  # 中止执行
    RESUMED = "RESUMED"  # 恢复执行
    CONCLUDED = "CONCLUDED"


class Outcome(StrEnum):
    """How a case concluded (法发〔2014〕26号 (version unverified) 第十四条)."""

    PERFORMED = "PERFORMED"  # 执行完毕
    NO_PROPERTY_CONCLUDED = "NO_PROPERTY_CONCLUDED"  # 终结本次执行程序 (终本)
    TERMINATED = "TERMINATED"  # 终结执行
    CANCELLED = "CANCELLED"  # 销案
    NOT_EXECUTED = "NOT_EXECUTED"  # 不予执行
    DISMISSED = "DISMISSED"  # 驳回申请
    TRANSFERRED = "TRANSFERRED"  # kept for stored records


class Step(StrEnum):
    """A court's case-status message."""

    FILED = "CaseFiled"
    SUSPENDED = "CaseSuspended"
    RESUMED = "CaseResumed"
    CONCLUDED = "CaseConcluded"


class ItemKind(StrEnum):
    """What may be left in force after a case is performed."""

    BLACKLIST = "BLACKLIST"  # a dishonest-debtor entry
    RESTRICTION = "RESTRICTION"  # an exit or consumption ban
    FREEZE = "FREEZE"  # a freeze, seal or seizure done on delegation


@dataclass(frozen=True, slots=True)
class Item:
    """One thing tied to a case that is in force: its id (``blacklist:<entry>``, ...), kind,
    a label for the alert, the court that must lift it, since when, and (a freeze) until when."""

    item_id: str
    kind: ItemKind
    label: str
    court: str
    since: datetime
    until: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        """Still in force at ``now`` (a freeze past its end has lapsed)."""
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class Case:
    """One case as the bus knows it: its court, status, outcome and the items in force."""

    case_number: str
    court: str | None = None
    status: Status | None = None
    outcome: Outcome | None = None
    concluded_at: datetime | None = None
    alerts: int = 0  # watchdog alerts sent since the conclusion
    last_alert: datetime | None = None
    items: dict[str, Item] = field(default_factory=dict)

    @property
    def watched(self) -> bool:
        """Concluded as performed: what is still in force is overdue after its grace."""
        return self.status is Status.CONCLUDED and self.outcome is Outcome.PERFORMED


@dataclass(frozen=True, slots=True)
class Graces:
    """How long after a performed conclusion each kind of item may stay in force."""

    restriction: timedelta = DEFAULT_GRACE
    freeze: timedelta = DEFAULT_GRACE
    repeat: timedelta = DEFAULT_REPEAT

    def due(self, item: Item, concluded_at: datetime) -> datetime:
        """When ``item`` becomes overdue for a case performed at ``concluded_at``."""
        if item.kind is ItemKind.BLACKLIST:
            return working_days_end(concluded_at, BLACKLIST_GRACE_WORKING_DAYS)
        grace = self.restriction if item.kind is ItemKind.RESTRICTION else self.freeze
        return concluded_at + grace


_ALLOWED: dict[Step, frozenset[Status | None]] = {
    Step.FILED: frozenset({None}),
    Step.SUSPENDED: frozenset({None, Status.FILED, Status.RESUMED}),
    Step.RESUMED: frozenset({Status.SUSPENDED, Status.CONCLUDED}),
    Step.CONCLUDED: frozenset({None, Status.FILED, Status.SUSPENDED, Status.RESUMED}),
}
_AFTER = {
    Step.FILED: Status.FILED,
    Step.SUSPENDED: Status.SUSPENDED,
    Step.RESUMED: Status.RESUMED,
    Step.CONCLUDED: Status.CONCLUDED,
}


def apply_status(
    case: Case,
    step: Step,
    court: str,
    at: datetime,
    outcome: Outcome | None = None,
    case_court: str | None = None,
) -> Case:
    """The case after a court's ``step``.

    ``case_court`` is the court the case number names, the handling court of a case the bus
    has not seen filed.

    Raises:
        ValidationError: ``CASE_NOT_HANDLING_COURT`` (another court speaks for the case),
            ``CASE_ILLEGAL_TRANSITION`` (e.g. a concluded case concluded again),
            ``CASE_OUTCOME_MISSING``.
    """
    owner = case.court or case_court
    if owner is not None and court != owner:
        raise ValidationError(
            f"case {case.case_number} is handled by court {owner}, not {court}",
            code="CASE_NOT_HANDLING_COURT",
        )
    if case.status not in _ALLOWED[step]:
        now = case.status.value if case.status else "unknown to the bus"
        raise ValidationError(
            f"{step.value} cannot follow: case {case.case_number} is {now}",
            code="CASE_ILLEGAL_TRANSITION",
        )
    if step is Step.CONCLUDED:
        if outcome is None:
            raise ValidationError("a conclusion names its outcome", code="CASE_OUTCOME_MISSING")
        return replace(
            case,
            court=court,
            status=Status.CONCLUDED,
            outcome=outcome,
            concluded_at=at,
            alerts=0,
            last_alert=None,
        )
    cleared = step is Step.RESUMED  # a resumed case is no longer concluded: its alerts stop
    return replace(
        case,
        court=court,
        status=_AFTER[step],
        outcome=None if cleared else case.outcome,
        concluded_at=None if cleared else case.concluded_at,
        alerts=0 if cleared else case.alerts,
        last_alert=None if cleared else case.last_alert,
    )


def with_item(case: Case, item: Item | None, item_id: str) -> Case:
    """The case with ``item`` in force (None: ``item_id`` lifted)."""
    items = dict(case.items)
    if item is None:
        items.pop(item_id, None)
    else:
        items[item_id] = item
    return replace(case, items=items)


def overdue(case: Case, now: datetime, graces: Graces) -> list[Item]:
    """The items of a performed case still in force and past their grace at ``now``, oldest
    first (empty if the case is not watched)."""
    if not case.watched or case.concluded_at is None:
        return []
    at = case.concluded_at
    late = [i for i in case.items.values() if i.in_force(now) and graces.due(i, at) <= now]
    return sorted(late, key=lambda i: (i.since, i.item_id))


def alerted(case: Case, now: datetime) -> Case:
    """The case after the watchdog alerted at ``now``."""
    return replace(case, alerts=case.alerts + 1, last_alert=now)


def next_check(case: Case, now: datetime, graces: Graces) -> datetime | None:
    """When the watchdog should next look at ``case`` (None: nothing left to watch).

    Before any alert: the earliest due of the items in force. After one: ``repeat`` after it,
    or sooner when another item falls due in between."""
    if not case.watched or case.concluded_at is None:
        return None
    dues = [graces.due(i, case.concluded_at) for i in case.items.values() if i.in_force(now)]
    if not dues:
        return None
    if case.last_alert is None:
        return min(dues)
    later = [d for d in dues if d > case.last_alert]
    return min([case.last_alert + graces.repeat, *later])
