"""The message catalogue: each Avro message type's CloudEvents type, flow, key and subject.

Pure data. A test checks that every message schema has exactly one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from courtbus.errors import SchemaError

NS = "cn.court.bus"


@dataclass(frozen=True, slots=True)
class MessageType:
    """How one message type travels: its schema, ``ce_type``, flow topic, key and subject."""

    record: str  # Avro full name
    ce_type: str  # CloudEvents type
    flow: str  # bus.<flow>.events
    key_field: str  # payload field whose value is the Kafka key
    subject_field: str | None = None  # payload field for ce_subject (a CaseNumber or a string)

    def key(self, payload: dict[str, Any]) -> str:
        """The Kafka key for a payload (the entity the record is about)."""
        return _text(payload[self.key_field])

    def subject(self, payload: dict[str, Any]) -> str:
        """The ``ce_subject`` for a payload: its case number if it has one, else its key."""
        if self.subject_field and payload.get(self.subject_field) is not None:
            return _text(payload[self.subject_field])
        return self.key(payload)


def _text(value: Any) -> str:
    if isinstance(value, dict) and "text" in value:  # a CaseNumber record
        return str(value["text"])
    return str(value)


def _m(
    flow: str, name: str, event: str, key: str, subject: str | None = "case_number"
) -> MessageType:
    return MessageType(f"{NS}.{flow}.{name}", f"cn.court.{flow}.{event}", flow, key, subject)


MESSAGE_TYPES: tuple[MessageType, ...] = (
    _m("delegation", "DelegationRequested", "requested", "delegation_id"),
    _m("delegation", "DelegationDelivered", "delivered", "delegation_id", None),
    _m("delegation", "DelegationAccepted", "accepted", "delegation_id", None),
    _m("delegation", "DelegationRejected", "rejected", "delegation_id", None),
    _m("delegation", "DelegationProgressReported", "progress_reported", "delegation_id", None),
    _m("delegation", "DelegationCompleted", "completed", "delegation_id", None),
    _m("delegation", "DelegationFailed", "failed", "delegation_id", None),
    _m("delegation", "DelegationCancelled", "cancelled", "delegation_id", None),
    _m("delegation", "DelegationMaterialsRequested", "materials_requested", "delegation_id", None),
    _m("delegation", "DelegationMaterialsSupplied", "materials_supplied", "delegation_id", None),
    _m("delegation", "DelegationReturned", "returned", "delegation_id", None),
    _m("delegation", "DelegationEscalated", "escalated", "delegation_id", None),
    _m("delegation", "DelegationEscalationAnswered", "escalation_answered", "delegation_id", None),
    _m("delegation", "DelegationRenewalRequested", "renewal_requested", "delegation_id", None),
    _m("delegation", "DelegationRenewed", "renewed", "delegation_id", None),
    _m("delegation", "DelegationReleaseRequested", "release_requested", "delegation_id", None),
    _m("delegation", "DelegationReleased", "released", "delegation_id", None),
    _m("delegation", "DelegationDeadlineNotice", "deadline_notice", "delegation_id", None),
    _m("delegation", "DelegationDecided", "decided", "delegation_id", None),
    _m("blacklist", "DebtorListed", "listed", "entry_id"),
    _m("blacklist", "DebtorListingUpdated", "updated", "entry_id", None),
    _m("blacklist", "DebtorDelisted", "delisted", "entry_id", None),
    _m("blacklist", "DebtorCorrectionApplied", "correction_applied", "entry_id", None),
    _m("blacklist", "DebtorCorrectionDecided", "correction_decided", "entry_id", None),
    _m("blacklist", "DebtorDeletionReasonReported", "deletion_reason_reported", "entry_id", None),
    _m("blacklist", "BlacklistNotice", "notice", "entry_id", None),
    _m("blacklist", "BlacklistEntry", "entry", "entry_id", None),  # the view blacklist.entries
    _m("blacklist", "BlacklistDigest", "digest", "court_id", None),
    _m("blacklist", "BlacklistDriftReport", "drift_report", "court_id", None),
    _m("restriction", "RestrictionIssued", "issued", "control_id"),
    _m("restriction", "RestrictionAcknowledged", "acknowledged", "control_id", None),
    _m("restriction", "RestrictionRejected", "rejected", "control_id", None),
    _m("restriction", "RestrictionLifted", "lifted", "control_id", None),
    _m("restriction", "InterceptionReported", "interception_reported", "control_id", None),
    _m("restriction", "RestrictionExemptionApplied", "exemption_applied", "control_id", None),
    _m("restriction", "RestrictionExemptionDecided", "exemption_decided", "control_id", None),
    _m("restriction", "RestrictionNotice", "notice", "control_id", None),
    _m("restriction", "RestrictionControl", "control", "control_id"),  # restriction.controls
    _m("distribution", "DistributionOpened", "opened", "distribution_id"),
    _m("distribution", "DistributionClaimFiled", "claim_filed", "distribution_id", "case_number"),
    _m("distribution", "DistributionClaimAdmitted", "claim_admitted", "distribution_id", None),
    _m("distribution", "DistributionClaimRejected", "claim_rejected", "distribution_id", None),
    _m("distribution", "DistributionPlanIssued", "plan_issued", "distribution_id", None),
    _m("distribution", "DistributionObjectionFiled", "objection_filed", "distribution_id", None),
    _m("distribution", "DistributionFinalized", "finalized", "distribution_id", None),
    _m("distribution", "DistributionPlanServed", "plan_served", "distribution_id", None),
    _m("distribution", "DistributionOppositionFiled", "opposition_filed", "distribution_id", None),
    _m("distribution", "DistributionSuitReported", "suit_reported", "distribution_id", None),
    _m("distribution", "DistributionWindowClosed", "window_closed", "distribution_id", None),
    _m("distribution", "DistributionPlanRevised", "plan_revised", "distribution_id", None),
    _m("distribution", "DistributionSuitDecided", "suit_decided", "distribution_id", None),
    _m("distribution", "DistributionEnterpriseAssessed", "enterprise_assessed", "distribution_id"),
    _m("distribution", "DistributionBankruptcyAnswered", "bankruptcy_answered", "distribution_id"),
    _m("distribution", "DistributionExecutionEnded", "execution_ended", "distribution_id", None),
    _m("distribution", "DistributionPaidOut", "paid_out", "distribution_id", None),
    _m("distribution", "DistributionAuctionPublished", "auction_published", "distribution_id"),
    _m("distribution", "DistributionHandoverRequested", "handover_requested", "distribution_id"),
    _m("distribution", "DistributionHandedOver", "handed_over", "distribution_id", None),
    _m("distribution", "DistributionNotice", "notice", "distribution_id", None),
    _m("distribution", "DistributionView", "view", "distribution_id"),  # distribution.cases
    _m("casestatus", "CaseFiled", "filed", "case_number"),
    _m("casestatus", "CaseConcluded", "concluded", "case_number"),
    _m("casestatus", "CaseResumed", "resumed", "case_number"),
    _m("casestatus", "CaseSuspended", "suspended", "case_number"),
    _m("casestatus", "CaseWatchdogAlert", "watchdog_alert", "case_number"),
    MessageType(
        f"{NS}.notice.MessageRejected",
        "cn.court.bus.message_rejected",
        "notice",
        "source_topic",
        None,
    ),
    MessageType(
        f"{NS}.notice.ServiceAlert", "cn.court.bus.service_alert", "notice", "source_topic", None
    ),
)

BY_RECORD: dict[str, MessageType] = {m.record: m for m in MESSAGE_TYPES}
BY_CE_TYPE: dict[str, MessageType] = {m.ce_type: m for m in MESSAGE_TYPES}
FLOWS: tuple[str, ...] = ("delegation", "blacklist", "restriction", "distribution", "casestatus")


def by_ce_type(ce_type: str) -> MessageType:
    """Look up a message type by its CloudEvents type.

    Raises:
        SchemaError: ``EVENT_TYPE_UNKNOWN``.
    """
    try:
        return BY_CE_TYPE[ce_type]
    except KeyError:
        raise SchemaError(f"unknown event type {ce_type!r}", code="EVENT_TYPE_UNKNOWN") from None


def by_record(record: str) -> MessageType:
    """Look up a message type by its Avro record full name.

    Raises:
        SchemaError: ``SCHEMA_UNKNOWN_TYPE``.
    """
    try:
        return BY_RECORD[record]
    except KeyError:
        raise SchemaError(
            f"unknown message record {record!r}", code="SCHEMA_UNKNOWN_TYPE"
        ) from None
