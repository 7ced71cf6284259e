"""The consumption ban a listing requires, read from the list's view ``blacklist.entries``.

最高人民法院关于限制被执行人高消费及有关消费的若干规定 (法释〔2015〕17号, 2015 修正) 第一条第二款:
纳入失信被执行人名单的被执行人，人民法院应当对其采取限制消费措施. So each ACTIVE entry gets a
consumption ban of all the kinds of art. 3, issued in the listing court's name, binding the
debtor or, for an organisation, the legal representative the entry names (art. 3, second
paragraph; the list's art. 6 requires the organisation's legal representative). Its control id
is the entry id, so the ban lives in the entry's task (both topics have 6 partitions).

A delisting lifts the ban only where the provisions say the court shall (art. 9: 履行完毕 →
应当解除) or the listing was an error; for every other reason the ban stays in force until the
issuing court lifts it, as art. 9 leaves the other grounds to the court ("可以解除"). Pure: no
Kafka client, no clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from courtbus.domain import restriction as rs

CHINA = ZoneInfo("Asia/Shanghai")
# DelistingReason → the ground of the lift. SETTLEMENT_PERFORMED (执行和解协议履行完毕) is read
# as performance (verify); CORRECTION means the listing, and so the ban's basis, was an error.
LIFT_ON_DELISTING: dict[str, rs.LiftReason] = {
    "PERFORMED": rs.LiftReason.PERFORMED,
    "SETTLEMENT_PERFORMED": rs.LiftReason.PERFORMED,
    "CORRECTION": rs.LiftReason.ERROR,
}


def ban_for(entry: dict[str, Any]) -> dict[str, Any]:
    """A ``RestrictionIssued``-shaped payload for the ban an ACTIVE entry requires.

    An organisation's entry without its legal representative's ID names no person: the
    payload's subject is then the organisation, which the restriction rules refuse
    (``RESTRICTION_NO_PERSON``).
    """
    debtor = entry["debtor"]
    listed: datetime = entry.get("listed_at") or entry["updated_at"]
    if debtor["kind"] == "PERSON":
        subject, role, organisation = debtor, rs.Role.DEBTOR, None
    elif entry.get("legal_representative") and entry.get("legal_representative_id"):
        subject = {
            "kind": "PERSON",
            "name": entry["legal_representative"],
            "id_number": entry["legal_representative_id"],
            "id_type": None,
            "nationality": None,
        }
        role, organisation = rs.Role.LEGAL_REPRESENTATIVE, debtor
    else:
        subject, role, organisation = debtor, rs.Role.DEBTOR, debtor
    return {
        "control_id": entry["entry_id"],
        "case_number": entry["case_number"],
        "issuing_court": entry["listing_court"],
        "kind": rs.Kind.CONSUMPTION_BAN.value,
        "subject": subject,
        "role": role.value,
        "debtor": organisation,
        "document": None,
        "prohibited": [],
        "issued_at": listed,
        "effective_from": listed.astimezone(CHINA).date(),
        "effective_until": None,
        "reason": f"纳入失信被执行人名单 (entry {entry['entry_id']}): {rs.consumption_art('一')}",
    }
