"""``python -m services.feeds``: route the views to the agencies' feeds until SIGTERM or Ctrl-C.

Settings: every service's (``services.settings.ServiceSettings``); ``COURTBUS_DIRECTORY``
names another directory file (read at start: a changed grant takes effect on restart).
"""

from __future__ import annotations

from courtbus.catalogue.directory import load_directory
from courtbus.wire.envelope import Envelope
from services.feeds.flow import FeedsFlow
from services.main import run_service
from services.settings import ServiceSettings


def make(envelope: Envelope, settings: ServiceSettings) -> FeedsFlow:
    """The flow with the repository's directory."""
    del settings  # nothing of its own
    return FeedsFlow(envelope, load_directory())


if __name__ == "__main__":
    run_service(make, ServiceSettings)
