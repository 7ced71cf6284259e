"""The restriction service's settings from the environment (``RestrictionSettings``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import field_validator

from courtbus.domain import restriction as rs
from courtbus.settings import Seconds, SecondsOrZero
from services.restriction.flow import (
    DEFAULT_BULK_AGE,
    DEFAULT_BULK_QUIET,
    DEFAULT_GRACE,
    DEFAULT_PROGRESS_S,
)
from services.settings import ServiceSettings


class RestrictionSettings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and the restriction service's own,
    ``RESTRICTION_CONFIG_INVALID`` when wrong: ``COURTBUS_RESTRICTION_ACK_SECONDS`` (how long
    an entitled agency has to acknowledge a control or its lift, default 12 hours),
    ``COURTBUS_RESTRICTION_GRACE_SECONDS`` (how long a lifted control stays in the view before
    its tombstone, default 7 days), ``COURTBUS_RESTRICTION_FROM_LISTINGS`` (``0``: no
    consumption ban follows a listing; default ``1``), and for the initial load over an
    existing list (see ``services.restriction.flow``): ``COURTBUS_RESTRICTION_BULK_AGE_SECONDS``
    (5 minutes), ``COURTBUS_RESTRICTION_BULK_QUIET_SECONDS`` (1 minute) and
    ``COURTBUS_RESTRICTION_PROGRESS_SECONDS`` (how often its progress is logged, 0: every
    batch; default 30). ``COURTBUS_DIRECTORY`` names another directory file."""

    invalid_code: ClassVar[str] = "RESTRICTION_CONFIG_INVALID"

    restriction_ack_seconds: Seconds = rs.ACK_DEADLINE
    restriction_grace_seconds: Seconds = DEFAULT_GRACE
    restriction_from_listings: bool = True
    restriction_bulk_age_seconds: Seconds = DEFAULT_BULK_AGE
    restriction_bulk_quiet_seconds: Seconds = DEFAULT_BULK_QUIET
    restriction_progress_seconds: SecondsOrZero = timedelta(seconds=DEFAULT_PROGRESS_S)

    @field_validator("restriction_from_listings", mode="before")
    @classmethod
    def _zero_is_off(cls, value: Any) -> Any:
        """``0`` is off and anything else on, as the variable has always been read."""
        return value.strip() != "0" if isinstance(value, str) else value
