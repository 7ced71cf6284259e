"""The delegation service's settings from the environment (``DelegationSettings``)."""

from __future__ import annotations

from courtbus.settings import Days
from services.delegation.flow import DEFAULT_RETENTION
from services.settings import ServiceSettings


class DelegationSettings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and ``COURTBUS_DELEGATION_RETENTION_DAYS``
    (how long a delegation in an end state is kept, days, default 90; ``CONFIG_INVALID``).
    The directory, policies and deadlines come from the files ``COURTBUS_DIRECTORY``,
    ``COURTBUS_POLICIES`` and ``COURTBUS_DEADLINES`` name (default: the repository's)."""

    delegation_retention_days: Days = DEFAULT_RETENTION
