"""The gateway's settings from the environment (``GatewaySettings``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from courtbus.gateway import SignaturePolicy
from courtbus.gateway.decisions import DEFAULT_MAX_AGE
from courtbus.settings import Days, SecondsOrZero, setting
from services.gateway.flow import DEFAULT_DEDUP_RETENTION, DEFAULT_RETRY_WINDOW
from services.settings import ServiceSettings

SIGNATURES_INVALID = "SIGNATURES_INVALID"


class GatewaySettings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and the gateway's own:
    ``COURTBUS_SIGNATURES`` (``required`` or ``optional``; unset: required when the bus
    connection is authenticated, i.e. on the secure stack), ``COURTBUS_SIGNATURE_MAX_AGE_H``
    (how old a signed time may be, hours, default 24), ``COURTBUS_SIGNATURE_HELPERS``
    (processes checking a batch's signatures ahead, 0 to 16, default 1; 0: the gateway checks
    them itself), ``COURTBUS_RETRY_WINDOW_S`` (how long a refused record's resend is taken as
    a retry, seconds ≥ 0, default 900), all ``SIGNATURES_INVALID`` when wrong;
    ``COURTBUS_DEDUP_DAYS`` (how long a forwarded ``ce_id`` is remembered, default 7) and
    ``COURTBUS_EVENT_IDS`` (``bound``, the default: a ``ce_id`` must be bound to its record's
    key; ``any``: a migration setting for senders not yet on the SDK's ids), ``CONFIG_INVALID``.
    """

    invalid_code: ClassVar[str] = "CONFIG_INVALID"

    signatures: Literal["required", "optional"] | None = setting(None, code=SIGNATURES_INVALID)
    signature_max_age_h: float = setting(
        DEFAULT_MAX_AGE.total_seconds() / 3600, gt=0, allow_inf_nan=False, code=SIGNATURES_INVALID
    )
    signature_helpers: int = setting(1, ge=0, le=16, code=SIGNATURES_INVALID)
    retry_window_s: SecondsOrZero = setting(DEFAULT_RETRY_WINDOW, code=SIGNATURES_INVALID)
    dedup_days: Days = DEFAULT_DEDUP_RETENTION
    event_ids: Literal["bound", "any"] = "bound"

    @field_validator("signatures", "event_ids", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    def signature_policy(self, *, secure: bool) -> SignaturePolicy:
        """What the gateway asks of signatures; ``secure``: the bus connection is
        authenticated (signatures are then required unless ``COURTBUS_SIGNATURES`` says
        optional)."""
        required = self.signatures == "required" if self.signatures else secure
        return SignaturePolicy(
            required=required,
            max_age=timedelta(hours=self.signature_max_age_h),
            helpers=self.signature_helpers,
        )
