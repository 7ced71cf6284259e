"""``python -m services.watchdog``: run one case-status and watchdog worker until SIGTERM or
Ctrl-C.

``COURTBUS_WATCHDOG_RESTRICTION_GRACE_SECONDS`` and ``COURTBUS_WATCHDOG_FREEZE_GRACE_SECONDS``
(default one day each, an example: no article sets a day count) and
``COURTBUS_WATCHDOG_REPEAT_SECONDS`` (default one day) tune the watchdog; a dishonest-debtor
entry's grace is the law's 3 working days and is not configurable.
"""

from __future__ import annotations

from courtbus.wire.envelope import Envelope
from services.main import run_service
from services.watchdog.flow import WatchdogFlow, graces_from_env


def make(envelope: Envelope) -> WatchdogFlow:
    """The flow with the graces of the environment."""
    return WatchdogFlow(envelope, graces_from_env())


if __name__ == "__main__":
    run_service(make)
