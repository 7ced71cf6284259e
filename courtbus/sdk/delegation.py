"""``DelegationClient``: a court's steps in delegations (委托执行 and 事项委托), sent to its
outbox through the court's ``CourtSender``, and the checks of a request before it is sent.

Inputs are validated with pydantic and the domain layer before anything is sent, so most
mistakes (a malformed case number, a bad ID checksum, a third decimal on an amount, a freeze
longer than the law allows) never leave the court.

``request_delegation`` waits for the broker's acknowledgement of each request (a few ms per
call); ``request_delegations`` validates a whole batch first, then sends it without waiting
per record and flushes once. The sending (one producer per court) is the sender's
(``courtbus.sdk.sender``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from courtbus.catalogue.directory import Directory
from courtbus.domain import policy
from courtbus.domain.case_numbers import CaseNumber, normalize_case_number
from courtbus.domain.courts import superior_of
from courtbus.domain.delegation import (
    SPC_2011_ART_9,
    EscalationDecision,
    HandedOver,
)
from courtbus.domain.identity import canonical_id, canonical_nationality, validate_debtor_id
from courtbus.domain.masking import mask_ids_in_text
from courtbus.domain.money import Money
from courtbus.domain.suits import parse_suit_number
from courtbus.errors import CourtbusError, ValidationError
from courtbus.sdk.sent import Sent
from courtbus.wire import values as v
from courtbus.wire.client import describe_failures

if TYPE_CHECKING:
    from courtbus.sdk.sender import CourtSender

NS = "cn.court.bus.delegation."
Matter = Literal["SEARCH", "FREEZE", "SEAL", "DEDUCT", "SEIZE", "DETAIN", "EVICT", "SERVE", "OTHER"]
DelegationKind = Literal["CASE", "MATTER"]
AssetKind = Literal[
    "DEPOSIT", "MOVABLE", "IMMOVABLE", "HOUSING_FUND", "VEHICLE", "EQUITY", "SECURITIES", "OTHER"
]
IdTypeName = Literal[
    "RESIDENT_ID",
    "LEGACY_RESIDENT_ID",
    "HMT_RESIDENCE_PERMIT",
    "FOREIGN_PERMANENT_RESIDENT_ID",
    "PASSPORT",
    "CREDIT_CODE",
]


class DebtorIn(BaseModel):
    """A debtor as a court enters it.

    ``id_type`` may be left out for every document but a passport, which needs
    ``id_type="PASSPORT"`` and ``nationality`` (ISO 3166-1 alpha-3, e.g. ``"USA"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["PERSON", "ORGANISATION"]
    name: str = Field(min_length=1, max_length=200)
    # id_type and nationality come before id_number: its validator reads them
    id_type: IdTypeName | None = None
    nationality: str | None = None
    id_number: str

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str | None) -> str | None:
        return None if value is None else canonical_nationality(value)

    @field_validator("id_number")
    @classmethod
    def _valid_id(cls, value: str, info: Any) -> str:
        kind = info.data.get("kind", "PERSON")
        if "id_type" not in info.data or "nationality" not in info.data:
            return value  # one of them is malformed: pydantic reports it (REQUEST_INVALID)
        return validate_debtor_id(
            kind,
            canonical_id(kind, value),
            strict=True,
            id_type=info.data["id_type"],
            nationality=info.data["nationality"],
        )


class HandedOverMeasureIn(BaseModel):
    """A freeze, seal or seizure a case delegation hands over (法释〔2011〕11号 (2020 修正)
    第六条第三款: with at least a month of its term left, else renew it first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    measure: Literal["FREEZE", "SEAL", "SEIZE"]
    asset_description: str = Field(min_length=1, max_length=500)
    until: AwareDatetime


class DelegationRequestIn(BaseModel):
    """A delegation request as a court enters it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    delegation_id: str = Field(
        default_factory=lambda: f"dlg-{uuid.uuid4().hex[:16]}", min_length=1, max_length=100
    )
    case_number: str
    executing_court: str
    matter: Matter
    debtor: DebtorIn
    asset_kind: AssetKind | None = None
    asset_description: str | None = None
    amount: Decimal | None = None
    freeze_period_days: int | None = Field(default=None, gt=0, le=1095)
    note: str | None = None
    # CASE: 委托执行 (the whole case), MATTER: 事项委托 (one act), 法释〔2011〕11号 (2020 修正) 第二条; None:
    # the clocks every delegation had before kinds (``courtbus.domain.delegation``)
    kind: DelegationKind | None = None
    enforced_suit: str | None = None  # the 民初 / 民终 number of the judgment enforced
    # kind CASE: the requesting court's own measures handed over with the case (第六条第三款)
    handed_over_measures: tuple[HandedOverMeasureIn, ...] = ()

    @field_validator("enforced_suit")
    @classmethod
    def _suit(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_suit_number(normalize_case_number(value)))

    @field_validator("case_number")
    @classmethod
    def _case(cls, value: str) -> str:
        return str(CaseNumber.parse(normalize_case_number(value)))  # （）, spaces: accepted

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else Money.parse(value).yuan


class BulkValidationError(ValidationError):
    """Some requests of a batch are invalid; nothing was sent.

    ``errors`` lists ``(index, error)`` for each invalid request, in input order.
    """

    code = "BULK_INVALID"

    def __init__(
        self, message: str, *, errors: list[tuple[int, ValidationError]], code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.errors = errors


def _input_reason(exc: Exception) -> str:
    """A short reason for malformed input, without echoing the input (ID numbers masked)."""
    if isinstance(exc, PydanticValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return mask_ids_in_text("; ".join(parts))
    return mask_ids_in_text(str(exc))


def check_request(
    request: DelegationRequestIn | Mapping[str, Any],
    *,
    court_id: str,
    directory: Directory,
    policies: policy.PolicyCatalogue | None = None,
) -> DelegationRequestIn:
    """Validate one delegation request as court ``court_id`` would send it; sends nothing.

    With ``policies``, the law's freeze maxima and the regional rules are checked too, by the
    same domain function the gateway and the delegation service call (annual caps excepted:
    only the service knows what was deducted).

    Raises:
        ValidationError: ``REQUEST_INVALID`` (wrong types, missing or unknown fields), a code
            from the domain layer (case number, debtor ID, amount, ``SUIT_NUMBER_INVALID``),
            ``COURT_UNKNOWN``, ``DELEGATION_SELF``, ``DELEGATION_KIND_NOT_ALLOWED`` (a CASE for
            SEARCH, FREEZE, SEAL or SERVE, 法释〔2011〕11号 (2020 修正) 第二条第二款), or a policy code
            (``POLICY_*``).
    """
    try:
        req = (
            request if isinstance(request, DelegationRequestIn) else DelegationRequestIn(**request)
        )
    except CourtbusError:
        raise
    except Exception as exc:  # pydantic's ValidationError: wrong types, missing fields
        raise ValidationError(
            f"delegation request: {_input_reason(exc)}", code="REQUEST_INVALID"
        ) from exc
    executing = directory.court(req.executing_court)
    amount = Money.parse(req.amount) if req.amount is not None else None
    ask = policy.DelegationAsk(
        court_id,
        executing.id,
        req.matter,
        req.asset_kind,
        req.freeze_period_days,
        amount,
        req.kind,
        tuple(HandedOver(m.measure, m.until) for m in req.handed_over_measures),
        datetime.now(UTC),
    )
    if policies is None:
        policy.check_law(ask)
    else:
        policy.check_request(policies, ask)
    return req


def check_requests(
    requests: Iterable[DelegationRequestIn | Mapping[str, Any]],
    *,
    court_id: str,
    directory: Directory,
    policies: policy.PolicyCatalogue | None = None,
) -> list[DelegationRequestIn | ValidationError]:
    """Validate a batch of requests; one result per input, in order: the request or its error.

    Besides each request's own checks, a delegation id used twice in the batch is an error
    (``DELEGATION_ID_DUPLICATE``) on its second use. Sends nothing.
    """
    results: list[DelegationRequestIn | ValidationError] = []
    first_use: dict[str, int] = {}
    for index, item in enumerate(requests):
        try:
            req = check_request(item, court_id=court_id, directory=directory, policies=policies)
        except ValidationError as exc:
            results.append(exc)
            continue
        if req.delegation_id in first_use:
            results.append(
                ValidationError(
                    f"delegation id {req.delegation_id!r} is already used by request "
                    f"#{first_use[req.delegation_id]} of this batch",
                    code="DELEGATION_ID_DUPLICATE",
                )
            )
            continue
        first_use[req.delegation_id] = index
        results.append(req)
    return results


class DelegationClient:
    """This court's delegation steps, as the requesting court, the executing court or a
    superior court; ``CourtClient.delegation``."""

    def __init__(self, sender: CourtSender) -> None:
        """Steps sent through ``sender`` (the court's one producer)."""
        self.sender = sender

    def _send(self, short: str, payload: dict[str, Any]) -> Sent:
        """Send a delegation record; ``Sent.key``: the delegation id as given."""
        out = self.sender.build(NS + short, payload)
        return self.sender.send(out, str(payload["delegation_id"]))

    def check_request(
        self, request: DelegationRequestIn | None = None, **fields: Any
    ) -> DelegationRequestIn:
        """Validate a request as this court would send it, without sending it.

        Raises:
            ValidationError: see ``request_delegation``.
        """
        return check_request(
            request if request is not None else fields,
            court_id=self.sender.court.id,
            directory=self.sender.directory,
            policies=self.sender.policies,
        )

    def _request_payload(self, req: DelegationRequestIn) -> dict[str, Any]:
        """The ``DelegationRequested`` payload of a checked request."""
        return {
            "delegation_id": req.delegation_id,
            "case_number": v.case_number(req.case_number),
            "requesting_court": self.sender.me(),
            "executing_court": v.court(req.executing_court),
            "matter": req.matter,
            "debtor": req.debtor.model_dump(),
            "asset_kind": req.asset_kind,
            "asset_description": req.asset_description,
            "amount": req.amount,
            "freeze_period_days": req.freeze_period_days,
            "requested_at": v.now(),
            "note": req.note,
            "kind": req.kind,
            "enforced_suit": req.enforced_suit,
            "handed_over_measures": [m.model_dump() for m in req.handed_over_measures] or None,
        }

    def request_delegation(self, request: DelegationRequestIn | None = None, **fields: Any) -> Sent:
        """Ask another court to act (give a ``DelegationRequestIn`` or its fields).

        Waits for the broker's acknowledgement; for many requests use ``request_delegations``.

        Raises:
            ValidationError: the request is malformed (codes from the domain layer), or asks
                this court itself, or names a court outside the directory.
        """
        req = self.check_request(request, **fields)
        return self._send("DelegationRequested", self._request_payload(req))

    def request_delegations(
        self,
        requests: Iterable[DelegationRequestIn | Mapping[str, Any]],
        *,
        timeout_s: float | None = None,
        on_done: Callable[[bool], None] | None = None,
    ) -> list[Sent]:
        """Ask other courts to act, many requests at once; one ``Sent`` per request, in order.

        Every request is validated (as ``request_delegation`` does) and encoded before any is
        sent; then all are handed to the producer without waiting for each acknowledgement,
        and one flush waits for all of them. ``on_done`` is called once per request as the
        broker answers (True: acknowledged), from the producer's thread (e.g. a progress bar);
        ``timeout_s`` bounds the flush (None: the producer's delivery timeout bounds each
        record). The whole batch is held in memory: split very large inputs.

        Raises:
            BulkValidationError: ``BULK_INVALID``, some requests are invalid (``errors`` says
                which and why); nothing was sent.
            PartialSendError: ``BULK_SEND_FAILED``, the broker did not acknowledge some
                requests; ``sent`` has the acknowledged ones, ``failed`` the others.
            SchemaError, SerializationError, RegistryError: a request could not be encoded
                (the error's note names it); nothing was sent.
        """
        checked = check_requests(
            requests,
            court_id=self.sender.court.id,
            directory=self.sender.directory,
            policies=self.sender.policies,
        )
        errors = [(i, r) for i, r in enumerate(checked) if isinstance(r, ValidationError)]
        if errors:
            detail = describe_failures([(f"#{i}", str(e)) for i, e in errors])
            raise BulkValidationError(
                f"{len(errors)} of {len(checked)} delegation requests invalid, nothing sent: "
                f"{detail}",
                errors=errors,
            )
        valid = [r for r in checked if isinstance(r, DelegationRequestIn)]
        records = []
        for index, req in enumerate(valid):
            try:
                records.append(
                    self.sender.build(NS + "DelegationRequested", self._request_payload(req))
                )
            except CourtbusError as exc:
                exc.add_note(f"request #{index} ({req.delegation_id}); nothing was sent")
                raise
        return self.sender.send_many(
            records, [r.delegation_id for r in valid], timeout_s=timeout_s, on_done=on_done
        )

    def accept(self, delegation_id: str, handler: str | None = None) -> Sent:
        """Accept a delegation delivered to this court."""
        return self._send(
            "DelegationAccepted",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "accepted_at": v.now(),
                "handler": handler,
            },
        )

    def request_materials(
        self, delegation_id: str, missing: Sequence[str], note: str | None = None
    ) -> Sent:
        """Ask the requesting court for missing materials (补正; 法释〔2011〕11号 (2020 修正) 第八条).

        The executing court may not refuse a delegation; this is what it may do instead. The
        requesting court has 30 days to supply them or explain; after that the delegation may
        be returned (:meth:`return_delegation`).
        """
        if not missing:
            raise ValidationError("name at least one missing item", code="FIELD_MISSING")
        return self._send(
            "DelegationMaterialsRequested",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "requested_at": v.now(),
                "missing": list(missing),
                "note": note,
            },
        )

    def supply_materials(self, delegation_id: str, summary: str) -> Sent:
        """Supply the materials an executing court asked for, or explain in writing why not."""
        return self._send(
            "DelegationMaterialsSupplied",
            {
                "delegation_id": delegation_id,
                "requesting_court": self.sender.me(),
                "supplied_at": v.now(),
                "summary": summary,
            },
        )

    def return_delegation(
        self, delegation_id: str, reason: str, *, approved_at: datetime | None = None
    ) -> Sent:
        """Return a delegation whose missing materials were not supplied within 30 days
        (法释〔2011〕11号 (2020 修正) 第八条), once this court's 高级人民法院 approved it at ``approved_at``
        (第九条; the files then go back within 15 days).

        Raises:
            ValidationError: ``DELEGATION_RETURN_NOT_APPROVED`` without ``approved_at``.
        """
        if approved_at is None:
            raise ValidationError(
                f"a return needs the 高级人民法院's approval: give approved_at ({SPC_2011_ART_9})",
                code="DELEGATION_RETURN_NOT_APPROVED",
            )
        return self._send(
            "DelegationReturned",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "returned_at": v.now(),
                "ground": "MATERIALS_NOT_SUPPLIED",
                "reason": reason,
                "approved_at": approved_at,
            },
        )

    def report_files_returned(
        self, delegation_id: str, explanation: str, *, tracking: str | None = None
    ) -> Sent:
        """Report a returned delegation's papers and case files sent back to the requesting
        court with the written explanation (法释〔2011〕11号 (2020 修正) 第九条: within 15 days of
        the 高级人民法院's approval; the bus warns before and alerts after that FILES deadline).

        Raises:
            ValidationError: ``DELEGATION_EXPLANATION_MISSING`` for an empty explanation (书面说明).
        """
        if not explanation.strip():
            raise ValidationError(
                f"the files go back with a written explanation ({SPC_2011_ART_9})",
                code="DELEGATION_EXPLANATION_MISSING",
            )
        return self._send(
            "DelegationFilesReturned",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "returned_at": v.now(),
                "explanation": explanation,
                "tracking": tracking,
            },
        )

    def escalate(self, delegation_id: str, executing_court: str, reason: str) -> Sent:
        """Ask the executing court's superior court to order execution (after 15 days unstarted).

        The superior is derived from the executing court's id (320583 → 3205 → 32).
        """
        superior = superior_of(executing_court)
        if superior is None:
            raise ValidationError(
                f"court {executing_court} has no superior court on the bus",
                code="DELEGATION_NO_SUPERIOR",
            )
        return self._send(
            "DelegationEscalated",
            {
                "delegation_id": delegation_id,
                "requesting_court": self.sender.me(),
                "superior_court": v.court(superior),
                "escalated_at": v.now(),
                "reason": reason,
            },
        )

    def answer_escalation(
        self,
        delegation_id: str,
        decision: str,
        reason: str,
        *,
        execute_by: datetime | None = None,
        assigned_court: str | None = None,
    ) -> Sent:
        """Answer as the superior court: after an escalation (15 days unstarted, 民事诉讼法 (2023 修正)
        第二百四十条第二款) ORDERED (optionally ``execute_by``) or NOT_WARRANTED; once the
        delegation is not executed to the end 6 months after delivery (the applicant's request,
        法释〔2011〕11号 (2020 修正) 第十一条) also TAKEN_UP or ASSIGNED (``assigned_court``)."""
        choice = EscalationDecision(decision)
        if choice is EscalationDecision.ASSIGNED and not assigned_court:
            raise ValidationError("ASSIGNED needs assigned_court", code="FIELD_MISSING")
        return self._send(
            "DelegationEscalationAnswered",
            {
                "delegation_id": delegation_id,
                "superior_court": self.sender.me(),
                "answered_at": v.now(),
                "decision": choice.value,
                "execute_by": execute_by,
                "assigned_court": v.court(assigned_court) if assigned_court else None,
                "reason": reason,
            },
        )

    def request_renewal(
        self, delegation_id: str, period_days: int, note: str | None = None
    ) -> Sent:
        """Ask the executing court to renew a freeze, seal or seizure before it ends."""
        if period_days <= 0:
            raise ValidationError("period_days must be positive", code="FIELD_INVALID")
        return self._send(
            "DelegationRenewalRequested",
            {
                "delegation_id": delegation_id,
                "requesting_court": self.sender.me(),
                "requested_at": v.now(),
                "period_days": period_days,
                "note": note,
            },
        )

    def report_renewed(self, delegation_id: str, until: datetime, summary: str) -> Sent:
        """Report a freeze, seal or seizure renewed until ``until``."""
        return self._send(
            "DelegationRenewed",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "renewed_at": v.now(),
                "until": until,
                "summary": summary,
            },
        )

    def request_release(self, delegation_id: str, reason: str) -> Sent:
        """Ask the executing court to release a freeze, seal or seizure (解冻/解封)."""
        return self._send(
            "DelegationReleaseRequested",
            {
                "delegation_id": delegation_id,
                "requesting_court": self.sender.me(),
                "requested_at": v.now(),
                "reason": reason,
            },
        )

    def report_released(self, delegation_id: str, summary: str) -> Sent:
        """Report a freeze, seal or seizure released."""
        return self._send(
            "DelegationReleased",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "released_at": v.now(),
                "summary": summary,
            },
        )

    def report_progress(
        self, delegation_id: str, summary: str, amount_executed: str | Decimal | None = None
    ) -> Sent:
        """Report progress on an accepted delegation."""
        amount = None if amount_executed is None else v.money(amount_executed)
        return self._send(
            "DelegationProgressReported",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "reported_at": v.now(),
                "summary": summary,
                "amount_executed": amount,
            },
        )

    def complete(
        self,
        delegation_id: str,
        summary: str,
        amount_executed: str | Decimal | None = None,
        measure_until: datetime | None = None,
    ) -> Sent:
        """Report a delegation done; a freeze, seal or seizure with the end of its term.

        The bus watches a measure with ``measure_until`` and warns both courts before it lapses.
        """
        amount = None if amount_executed is None else v.money(amount_executed)
        return self._send(
            "DelegationCompleted",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "completed_at": v.now(),
                "summary": summary,
                "amount_executed": amount,
                "measure_until": measure_until,
            },
        )

    def fail(self, delegation_id: str, reason_code: str, reason: str) -> Sent:
        """Report that a delegation could not be done."""
        return self._send(
            "DelegationFailed",
            {
                "delegation_id": delegation_id,
                "executing_court": self.sender.me(),
                "failed_at": v.now(),
                "reason_code": reason_code,
                "reason": reason,
            },
        )

    def cancel(self, delegation_id: str, reason: str) -> Sent:
        """Withdraw a delegation this court requested."""
        return self._send(
            "DelegationCancelled",
            {
                "delegation_id": delegation_id,
                "requesting_court": self.sender.me(),
                "cancelled_at": v.now(),
                "reason": reason,
            },
        )
