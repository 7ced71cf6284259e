"""``python -m services.watchdog``: run one case-status and watchdog worker until SIGTERM or
Ctrl-C.

Settings: ``services.watchdog.settings.WatchdogSettings`` (the graces).
"""

from __future__ import annotations

from courtbus.wire.envelope import Envelope
from services.main import run_service
from services.watchdog.flow import WatchdogFlow
from services.watchdog.settings import WatchdogSettings


def make(envelope: Envelope, settings: WatchdogSettings) -> WatchdogFlow:
    """The flow with the graces of the environment."""
    return WatchdogFlow(envelope, settings.graces())


if __name__ == "__main__":
    run_service(make, WatchdogSettings)
