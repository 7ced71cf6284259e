"""Case status (filed, suspended, resumed, concluded) as a court's system publishes it; the
watchdog (``services/watchdog``) reads it. Checked before sending: the outcome is one of the
ways a case concludes (法发〔2014〕26号 (version unverified) 第十四条), the case number is well formed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from courtbus.domain import casestatus as cs
from courtbus.errors import ValidationError
from courtbus.sdk.sent import Sent
from courtbus.wire import values as v

if TYPE_CHECKING:  # the type only: a flow client needs no Kafka client of its own
    from courtbus.sdk.sender import CourtSender

NS = "cn.court.bus.casestatus."


class CaseStatusClient:
    """This court's case status steps: publish the status of its enforcement cases;
    ``CourtClient.casestatus``."""

    def __init__(self, sender: CourtSender) -> None:
        """Steps sent through ``sender`` (the court's one producer)."""
        self.sender = sender

    def _case(
        self, short: str, case_number: str, at: str, when: datetime | None, **fields: Any
    ) -> Sent:
        payload = {
            "case_number": v.case_number(case_number),
            "court": self.sender.me(),
            at: when or v.now(),
            **fields,
        }
        return self.sender.send_record(NS + short, payload)

    def file_case(
        self,
        case_number: str,
        *,
        debtors: list[dict[str, Any]] | None = None,
        amount: dict[str, Any] | None = None,
        filed_at: datetime | None = None,
    ) -> Sent:
        """The court filed an enforcement case (立案).

        Raises:
            ValidationError: a malformed case number (``CASE_NUMBER_*``).
        """
        return self._case(
            "CaseFiled", case_number, "filed_at", filed_at, debtors=debtors or [], amount=amount
        )

    def suspend_case(
        self, case_number: str, *, reason: str | None = None, suspended_at: datetime | None = None
    ) -> Sent:
        """The court suspended the case (中止执行)."""
        return self._case("CaseSuspended", case_number, "suspended_at", suspended_at, reason=reason)

    def resume_case(
        self, case_number: str, resumed_case_number: str, *, resumed_at: datetime | None = None
    ) -> Sent:
        """The court resumed the case (恢复执行) under ``resumed_case_number`` (执恢); the
        watchdog stops alerting on the concluded case."""
        return self._case(
            "CaseResumed",
            case_number,
            "resumed_at",
            resumed_at,
            resumed_case_number=v.case_number(resumed_case_number),
        )

    def conclude_case(
        self, case_number: str, outcome: str, *, concluded_at: datetime | None = None
    ) -> Sent:
        """The court concluded the case with ``outcome`` (``PERFORMED`` 执行完毕,
        ``NO_PROPERTY_CONCLUDED`` 终本, ``TERMINATED``, ``CANCELLED`` 销案, ``NOT_EXECUTED``,
        ``DISMISSED``). After ``PERFORMED`` the watchdog alerts on whatever is still in force.

        Raises:
            ValidationError: ``CASE_OUTCOME_UNKNOWN``.
        """
        try:
            known = cs.Outcome(outcome)
        except ValueError:
            raise ValidationError(
                f"unknown outcome {outcome!r}: one of {', '.join(o.value for o in cs.Outcome)} "
                f"({cs.OUTCOMES_SOURCE})",
                code="CASE_OUTCOME_UNKNOWN",
            ) from None
        return self._case(
            "CaseConcluded", case_number, "concluded_at", concluded_at, outcome=known.value
        )
