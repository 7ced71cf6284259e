"""Exit and consumption restrictions (限制出境, 限制高消费) as a court's system issues, lifts and
exempts them, checked before sending against courtbus.domain.restriction (the same rules the
restriction service applies: natural persons only, an organisation's named persons, typed
travel documents, the art. 3 kinds of 法释〔2015〕17号 (2015 修正), the art. 9 lifting reasons)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from courtbus.domain import restriction as rs
from courtbus.domain.identity import validate_debtor_id
from courtbus.errors import ValidationError
from courtbus.sdk.sent import Sent
from courtbus.wire import values as v

if TYPE_CHECKING:  # the type only: a flow client needs no Kafka client of its own
    from courtbus.sdk.sender import CourtSender

NS = "cn.court.bus.restriction."


def _party(party: dict[str, Any]) -> dict[str, Any]:
    """A Debtor record (kind, name, id_number, id_type, nationality) with its ID checked."""
    validate_debtor_id(
        str(party["kind"]),
        str(party["id_number"]),
        id_type=party.get("id_type"),
        nationality=party.get("nationality"),
    )
    return {"id_type": None, "nationality": None, **party}


def _enum(kind: type[Any], value: str, what: str, code: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(k.value for k in kind)
        raise ValidationError(f"unknown {what} {value!r}: one of {known}", code=code) from None


class RestrictionClient:
    """This court's restriction steps: issue, lift and exempt its restrictions;
    ``CourtClient.restriction``."""

    def __init__(self, sender: CourtSender) -> None:
        """Steps sent through ``sender`` (the court's one producer)."""
        self.sender = sender

    def _issue(
        self,
        kind: rs.Kind,
        control_id: str,
        case_number: str,
        person: dict[str, Any],
        role: str,
        debtor: dict[str, Any] | None,
        document: dict[str, Any] | None,
        prohibited: list[str],
        reason: str,
        effective_from: date | None,
        effective_until: date | None,
    ) -> Sent:
        subject = _party(person)
        role_ = _enum(rs.Role, role, "role", "RESTRICTION_SUBJECT_INVALID")
        org = _party(debtor) if debtor is not None else None
        doc = dict(document) if document else None
        if doc is not None:
            doc.setdefault("nationality", None)
            _enum(
                rs.TravelDocument,
                str(doc["type"]),
                "travel document",
                "RESTRICTION_DOCUMENT_INVALID",
            )
        elif kind is rs.Kind.EXIT_BAN and subject.get("id_type") == "PASSPORT":
            doc = {
                "type": "PASSPORT",
                "number": subject["id_number"],
                "nationality": subject.get("nationality"),
            }
        rs.check_subjects(
            kind,
            str((org or subject)["kind"]),
            [
                rs.Subject(
                    role_,
                    str(subject["name"]),
                    str(subject["id_number"]),
                    rs.TravelDocument(doc["type"]) if doc else None,
                    doc["number"] if doc else None,
                    doc.get("nationality") if doc else None,
                )
            ],
        )
        for k in prohibited:
            _enum(rs.Consumption, k, "prohibited consumption", "RESTRICTION_PROHIBITED_INVALID")
        payload = {
            "control_id": control_id,
            "case_number": v.case_number(case_number),
            "issuing_court": self.sender.me(),
            "kind": kind.value,
            "subject": subject,
            "travel_document": None,
            "agencies": [],
            "issued_at": v.now(),
            "effective_from": effective_from or v.now().date(),
            "effective_until": effective_until,
            "reason": reason,
            "role": role_.value,
            "debtor": org,
            "document": doc,
            "prohibited": list(prohibited),
        }
        return self.sender.send_record(NS + "RestrictionIssued", payload)

    def issue_exit_ban(
        self,
        control_id: str,
        case_number: str,
        person: dict[str, Any],
        document: dict[str, Any] | None = None,
        *,
        role: str = "DEBTOR",
        debtor: dict[str, Any] | None = None,
        reason: str = "未履行生效法律文书确定的义务",
        effective_from: date | None = None,
        effective_until: date | None = None,
    ) -> Sent:
        """Ban ``person`` from leaving the country (限制出境; 民事诉讼法 (2023 修正) 第二百六十六条, 2021 版 第二百六十二条).

        ``person``: kind PERSON, name, id_number[, id_type, nationality]; the debtor itself
        (``role`` DEBTOR); when ``debtor`` is an organisation, its LEGAL_REPRESENTATIVE,
        PRINCIPAL or RESPONSIBLE_PERSON (执行程序解释 (2020 修正) 第二十四条第一款: not its
        ACTUAL_CONTROLLER, whom only a consumption ban binds); when ``debtor`` is a person
        without full capacity, its 法定代理人 (LEGAL_AGENT, 第二十四条第二款). ``document``: type (PASSPORT,
        HK_MACAU_PERMIT, TAIWAN_PERMIT, ...), number[, nationality for a passport]; a foreign
        person named by passport needs none.

        Raises:
            ValidationError: ``RESTRICTION_NO_PERSON``, ``RESTRICTION_SUBJECT_INVALID``,
                ``RESTRICTION_DOCUMENT_INVALID``, an identity's code.
        """
        return self._issue(
            rs.Kind.EXIT_BAN,
            control_id,
            case_number,
            person,
            role,
            debtor,
            document,
            [],
            reason,
            effective_from,
            effective_until,
        )

    def issue_consumption_ban(
        self,
        control_id: str,
        case_number: str,
        person: dict[str, Any],
        *,
        role: str = "DEBTOR",
        debtor: dict[str, Any] | None = None,
        prohibited: list[str] | None = None,
        reason: str = "未履行生效法律文书确定的义务",
        effective_from: date | None = None,
        effective_until: date | None = None,
    ) -> Sent:
        """Restrict ``person``'s high consumption (限制高消费, 法释〔2015〕17号 (2015 修正) 第一条, 第三条).

        ``prohibited``: the art. 3 kinds (e.g. PREMIUM_TRANSPORT, HIGH_SPEED_RAIL); none means
        all of them. An organisation debtor's ban binds its persons (``role``, ``debtor``).

        Raises:
            ValidationError: ``RESTRICTION_NO_PERSON``, ``RESTRICTION_SUBJECT_INVALID``,
                ``RESTRICTION_PROHIBITED_INVALID``, an identity's code.
        """
        return self._issue(
            rs.Kind.CONSUMPTION_BAN,
            control_id,
            case_number,
            person,
            role,
            debtor,
            None,
            prohibited or [],
            reason,
            effective_from,
            effective_until,
        )

    def lift_restriction(self, control_id: str, reason: str, note: str | None = None) -> Sent:
        """Lift this court's control: PERFORMED, SECURITY_PROVIDED, CREDITOR_CONSENT,
        CASE_CONCLUDED or ERROR (法释〔2015〕17号 (2015 修正) 第九条). The agencies owe a lift acknowledgement.

        Raises:
            ValidationError: ``RESTRICTION_LIFT_REASON_INVALID``.
        """
        known = _enum(rs.LiftReason, reason, "lifting reason", "RESTRICTION_LIFT_REASON_INVALID")
        payload = {
            "control_id": control_id,
            "issuing_court": self.sender.me(),
            "lifted_at": v.now(),
            "reason": known.value,
            "note": note,
        }
        return self.sender.send_record(NS + "RestrictionLifted", payload)

    def record_exemption_application(
        self,
        control_id: str,
        exemption_id: str,
        kinds: list[str],
        requested_from: datetime,
        requested_until: datetime,
        purpose: str,
    ) -> Sent:
        """A restricted person applied to the court for a specific trip or expense (e.g.
        medical travel; 法释〔2015〕17号 (2015 修正) 第八条). ``purpose`` stays with the courts."""
        payload = {
            "control_id": control_id,
            "issuing_court": self.sender.me(),
            "exemption_id": exemption_id,
            "kinds": kinds,
            "requested_from": requested_from,
            "requested_until": requested_until,
            "purpose": purpose,
            "applied_at": v.now(),
        }
        return self.sender.send_record(NS + "RestrictionExemptionApplied", payload)

    def decide_exemption(
        self,
        control_id: str,
        exemption_id: str,
        granted: bool,
        *,
        kinds: list[str] | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        reason: str | None = None,
    ) -> Sent:
        """Grant or refuse an exemption; a granted one reaches the agencies concerned."""
        if granted and (valid_from is None or valid_until is None or valid_until <= valid_from):
            raise ValidationError(
                "a granted exemption names its period (valid_from before valid_until)",
                code="RESTRICTION_EXEMPTION_INVALID",
            )
        payload = {
            "control_id": control_id,
            "issuing_court": self.sender.me(),
            "exemption_id": exemption_id,
            "granted": granted,
            "kinds": kinds or [],
            "valid_from": valid_from or v.now(),
            "valid_until": valid_until or v.now(),
            "reason": reason,
            "decided_at": v.now(),
        }
        return self.sender.send_record(NS + "RestrictionExemptionDecided", payload)
