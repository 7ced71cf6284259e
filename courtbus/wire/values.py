"""Build the shared Avro named types (CaseNumber, Court, Debtor, Money) from domain values.

Every builder validates with the domain layer first, so no invalid identity reaches the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from courtbus.domain.case_numbers import CaseNumber
from courtbus.domain.courts import designation_from_court_id
from courtbus.domain.id_types import DebtorKind
from courtbus.domain.identity import validate_debtor_id
from courtbus.domain.money import Money


def case_number(text: str) -> dict[str, Any]:
    """A ``CaseNumber`` record from its text (raises ValidationError if malformed)."""
    parsed = CaseNumber.parse(text)
    return {
        "text": str(parsed),
        "year": parsed.year,
        "court_id": parsed.court_id,
        "type_code": parsed.type_code,
        "sequence": parsed.sequence,
    }


def court(court_id: str) -> dict[str, Any]:
    """A ``Court`` record from a court id (raises ValidationError if malformed)."""
    return {"court_id": court_id, "designation": designation_from_court_id(court_id)}


def debtor(kind: DebtorKind | str, name: str, id_number: str) -> dict[str, Any]:
    """A ``Debtor`` record (raises ValidationError on a bad resident ID or credit code)."""
    debtor_kind = DebtorKind(kind)
    return {
        "kind": debtor_kind.value,
        "name": name,
        "id_number": validate_debtor_id(debtor_kind, id_number),
        "id_type": None,
        "nationality": None,
    }


def money(amount: str | Decimal | int) -> Decimal:
    """A ``Money`` value (Avro decimal(18,2)) from yuan (raises ValidationError)."""
    return Money.parse(amount).yuan


def now() -> datetime:
    """The current UTC time, to the millisecond (what timestamp-millis keeps)."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)
