"""The blacklist service's settings from the environment (``BlacklistSettings``)."""

from __future__ import annotations

from courtbus.settings import Seconds
from services.blacklist.flow import DEFAULT_GRACE
from services.settings import ServiceSettings


class BlacklistSettings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and ``COURTBUS_BLACKLIST_GRACE_SECONDS``
    (how long a delisted entry stays in the view before its tombstone, default 7 days;
    ``CONFIG_INVALID``). ``COURTBUS_DIRECTORY`` names another directory file."""

    blacklist_grace_seconds: Seconds = DEFAULT_GRACE
