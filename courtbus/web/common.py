"""What the API's routes share: its error, JSON values of rows, pages, masking."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse

from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.errors import ClusterError, CourtbusError, RegistryError, TransientError
from courtbus.store.jsonify import ID_KEYS

# A read model row's fields that hold an ID number in full (the rows' docstrings say which):
# shown to a coordination centre masked, as the CLI shows them without ``--show-ids``.
ROW_ID_KEYS = ID_KEYS | {"debtor_id", "person_id", "document_number", "claimant_id"}
TEXT_KEYS = frozenset({"reason", "refusal_reason", "lift_reason", "message"})


class ApiError(Exception):
    """An answer other than success: HTTP status, the bus's code, a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, mask_ids_in_text(message)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The body of every error: the bus's code and a readable message, IDs masked."""
    return JSONResponse({"code": code, "message": mask_ids_in_text(message)}, status_code=status)


def status_of(exc: CourtbusError) -> int:
    """503 for what is away (the cluster, the registry), else 422 (the request's fault)."""
    return 503 if isinstance(exc, ClusterError | RegistryError | TransientError) else 422


def plain(value: Any, key: str | None = None) -> Any:
    """A row's value as JSON has it (times RFC 3339, amounts as decimal strings), every ID
    number (``ROW_ID_KEYS``) masked and ID-shaped numbers in free texts masked."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): plain(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str) and key in ROW_ID_KEYS:
        return mask_id(value)
    if isinstance(value, str) and key in TEXT_KEYS:
        return mask_ids_in_text(value)
    return value


def page(items: list[Any], total: int, offset: int) -> dict[str, Any]:
    """A page: ``items`` (rows, as JSON values), the ``total`` matching, its ``offset``."""
    return {"total": total, "offset": offset, "items": [plain(r) for r in items]}


def bounded(limit: int) -> int:
    """A page's size: 1 to 1,000."""
    return max(1, min(limit, 1000))
