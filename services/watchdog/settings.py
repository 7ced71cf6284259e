"""The watchdog's settings from the environment (``WatchdogSettings``)."""

from __future__ import annotations

from typing import ClassVar

from courtbus.domain import casestatus as cs
from courtbus.settings import Seconds
from services.settings import ServiceSettings


class WatchdogSettings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and the graces:
    ``COURTBUS_WATCHDOG_RESTRICTION_GRACE_SECONDS`` and
    ``COURTBUS_WATCHDOG_FREEZE_GRACE_SECONDS`` (how long after a performed conclusion a
    restriction or a freeze may stay in force; default one day each, an example: no article
    sets a day count) and ``COURTBUS_WATCHDOG_REPEAT_SECONDS`` (how often an alert is repeated,
    default one day); ``WATCHDOG_GRACE_INVALID`` when wrong. A dishonest-debtor entry's grace
    is the law's 3 working days and is not configurable."""

    invalid_code: ClassVar[str] = "WATCHDOG_GRACE_INVALID"

    watchdog_restriction_grace_seconds: Seconds = cs.DEFAULT_GRACE
    watchdog_freeze_grace_seconds: Seconds = cs.DEFAULT_GRACE
    watchdog_repeat_seconds: Seconds = cs.DEFAULT_REPEAT

    def graces(self) -> cs.Graces:
        """The graces these settings give."""
        return cs.Graces(
            restriction=self.watchdog_restriction_grace_seconds,
            freeze=self.watchdog_freeze_grace_seconds,
            repeat=self.watchdog_repeat_seconds,
        )
