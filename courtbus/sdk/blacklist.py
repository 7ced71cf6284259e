"""The dishonest-debtor list (失信被执行人) steps a court's system takes, checked before sending
against the rules of courtbus.domain.blacklist (the provisions' articles name each refusal)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from courtbus.domain import blacklist as bl
from courtbus.domain import blacklist_digest as digests
from courtbus.domain.case_numbers import normalize_case_number
from courtbus.domain.identity import canonical_id, validate_debtor_id
from courtbus.domain.suits import parse_suit_number
from courtbus.errors import ValidationError
from courtbus.sdk.sent import Sent
from courtbus.wire import values as v

if TYPE_CHECKING:  # the type only: a flow client needs no Kafka client of its own
    from courtbus.sdk.sender import CourtSender

NS = "cn.court.bus.blacklist."


class BlacklistClient:
    """This court's dishonest-debtor list steps: list, update, correct and delist its entries,
    and publish the digest of its active ones; ``CourtClient.blacklist``."""

    def __init__(self, sender: CourtSender) -> None:
        """Steps sent through ``sender`` (the court's one producer)."""
        self.sender = sender
        self.last_digest_id: str | None = None  # the last digest sent (its report names it)

    def list_debtor(
        self,
        entry_id: str,
        case_number: str,
        debtor: dict[str, Any],
        ground: str,
        *,
        obligation: str,
        performance: str,
        conduct: str,
        title_issuer: str,
        title_number: str,
        filed_at: datetime,
        serious: bool = False,
        period_months: int | None = None,
        legal_representative: str | None = None,
        legal_representative_id: str | None = None,
        applicant: dict[str, Any] | None = None,
        listed_at: datetime | None = None,
        security_provided: bool = False,
        sealed_property_sufficient: bool = False,
        later_in_order: bool = False,
        otherwise_not_refusal: bool = False,
        enforced_suit: str | None = None,
    ) -> Sent:
        """List a dishonest debtor (``debtor``: kind, name, id_number[, id_type, nationality]).

        ``period_months`` defaults to 24 for grounds (2)-(6) and none for ground (1) (art. 2).
        ``security_provided``, ``sealed_property_sufficient``, ``later_in_order`` and
        ``otherwise_not_refusal`` are the court's findings of art. 3 (一)-(四): any of them
        excludes a ground (1) listing. ``enforced_suit``: the 民初 / 民终 number of the suit
        whose judgment is enforced, if the court names it (full-width brackets, spaces:
        accepted and normalised).

        Raises:
            ValidationError: the rule the listing breaks (``BLACKLIST_*``), or
                ``SUIT_NUMBER_INVALID``, before sending.
        """
        suit = (
            None
            if enforced_suit is None
            else str(parse_suit_number(normalize_case_number(enforced_suit)))
        )
        g = bl.Ground(ground)
        if period_months is None and g is not bl.Ground.REFUSED_WITH_ABILITY:
            period_months = bl.PERIOD_MONTHS
        when = listed_at or v.now()
        kind = str(debtor["kind"])
        number = validate_debtor_id(
            kind,
            canonical_id(kind, str(debtor["id_number"])),
            id_type=debtor.get("id_type"),
            nationality=debtor.get("nationality"),
        )
        bl.check_listing(
            bl.Listing(
                debtor_kind=kind,
                debtor_id=number,
                ground=g,
                serious=serious,
                period_months=period_months,
                listed_at=when,
                legal_representative=legal_representative,
                performance=performance,
                conduct=conduct,
                title_issuer=title_issuer,
                title_number=title_number,
                filed_at=filed_at,
                security_provided=security_provided,
                sealed_property_sufficient=sealed_property_sufficient,
                later_in_order=later_in_order,
                otherwise_not_refusal=otherwise_not_refusal,
            )
        )
        payload = {
            "entry_id": entry_id,
            "case_number": v.case_number(case_number),
            "listing_court": self.sender.me(),
            "debtor": {
                "kind": kind,
                "name": debtor["name"],
                "id_number": number,
                "id_type": debtor.get("id_type"),
                "nationality": debtor.get("nationality"),
            },
            "legal_representative": legal_representative,
            "ground": g.value,
            "serious": serious,
            "period_months": period_months,
            "obligation": obligation,
            "listed_at": when,
            "legal_representative_id": legal_representative_id,
            "performance": performance,
            "conduct": conduct,
            "title_issuer": title_issuer,
            "title_number": title_number,
            "filed_at": filed_at,
            "applicant": _party(applicant),
            "security_provided": security_provided,
            "sealed_property_sufficient": sealed_property_sufficient,
            "later_in_order": later_in_order,
            "otherwise_not_refusal": otherwise_not_refusal,
            "enforced_suit": suit,
        }
        return self.sender.send_record(NS + "DebtorListed", payload)

    def update_listing(
        self,
        entry_id: str,
        *,
        period_months: int | None = None,
        serious: bool | None = None,
        obligation: str | None = None,
        note: str | None = None,
    ) -> Sent:
        """Change this court's entry (a correction is made this way too)."""
        payload = {
            "entry_id": entry_id,
            "listing_court": self.sender.me(),
            "updated_at": v.now(),
            "period_months": period_months,
            "serious": serious,
            "obligation": obligation,
            "note": note,
        }
        return self.sender.send_record(NS + "DebtorListingUpdated", payload)

    def delist(self, entry_id: str, reason: str, note: str | None = None) -> Sent:
        """Delete this court's entry for a reason of art. 10 (or CORRECTION)."""
        reason_value = _reason(reason)
        if reason_value is bl.Reason.EXPIRED:
            raise ValidationError(
                "the bus delists an entry when its period ends; a court does not send EXPIRED",
                code="BLACKLIST_REASON_INVALID",
            )
        payload = {
            "entry_id": entry_id,
            "listing_court": self.sender.me(),
            "delisted_at": v.now(),
            "reason": reason_value.value,
            "note": note,
        }
        return self.sender.send_record(NS + "DebtorDelisted", payload)

    def record_correction_application(
        self,
        entry_id: str,
        ground: str,
        applied_at: datetime | None = None,
        note: str | None = None,
    ) -> Sent:
        """Record a party's written application for correction (art. 11): review in 15 days."""
        payload = {
            "entry_id": entry_id,
            "listing_court": self.sender.me(),
            "applied_at": applied_at or v.now(),
            "ground": ground,
            "note": note,
        }
        return self.sender.send_record(NS + "DebtorCorrectionApplied", payload)

    def decide_correction(self, entry_id: str, upheld: bool, reason: str) -> Sent:
        """Decide an application for correction (art. 12)."""
        payload = {
            "entry_id": entry_id,
            "listing_court": self.sender.me(),
            "decided_at": v.now(),
            "upheld": upheld,
            "reason": reason,
        }
        return self.sender.send_record(NS + "DebtorCorrectionDecided", payload)

    def report_deletion_reason(
        self, entry_id: str, reason: str, arisen_at: datetime | None = None, note: str | None = None
    ) -> Sent:
        """Report that a reason to delete an entry arose (art. 10): the listing court is told."""
        payload = {
            "entry_id": entry_id,
            "reporting_court": self.sender.me(),
            "reported_at": v.now(),
            "arisen_at": arisen_at or v.now(),
            "reason": _reason(reason).value,
            "note": note,
        }
        return self.sender.send_record(NS + "DebtorDeletionReasonReported", payload)

    def publish_digest(self, active_entry_ids: Iterable[str], digest_id: str | None = None) -> Sent:
        """Send the digest of this court's active entries; the bus answers with a
        ``BlacklistDriftReport`` in this court's inbox (``drift_report``)."""
        court = self.sender.me()
        self.last_digest_id = digest_id or f"digest-{uuid.uuid4().hex[:12]}"
        payload = {
            "court_id": court["court_id"],
            "court": court,
            "digest_id": self.last_digest_id,
            "bucket_count": digests.BUCKETS,
            "buckets": [
                {"bucket": b, "count": d.count, "hash": d.hash}
                for b, d in sorted(digests.digest(active_entry_ids).items())
            ],
            "computed_at": v.now(),
        }
        return self.sender.send_record(NS + "BlacklistDigest", payload)


def missing_and_extra(
    report: dict[str, Any], active_entry_ids: Iterable[str]
) -> tuple[list[str], list[str]]:
    """From a drift report: the court's active ids the view lacks (re-send them) and the ids the
    view lists that the court no longer has (delist or check them)."""
    mine = set(active_entry_ids)
    missing: list[str] = []
    extra: list[str] = []
    for bucket in report["differing"]:
        view = set(bucket["view_entry_ids"])
        here = {e for e in mine if digests.bucket_of(e) == bucket["bucket"]}
        missing += sorted(here - view)
        extra += sorted(view - here)
    return missing, extra


def _reason(reason: str) -> bl.Reason:
    try:
        return bl.Reason(reason)
    except ValueError:
        known = ", ".join(r.value for r in bl.Reason)
        raise ValidationError(
            f"unknown delisting reason {reason!r}: one of {known}", code="BLACKLIST_REASON_INVALID"
        ) from None


def _party(party: dict[str, Any] | None) -> dict[str, Any] | None:
    if party is None:
        return None
    kind = str(party["kind"])
    number = validate_debtor_id(kind, canonical_id(kind, str(party["id_number"])))
    return {
        "kind": kind,
        "name": party["name"],
        "id_number": number,
        "id_type": party.get("id_type"),
        "nationality": party.get("nationality"),
    }
