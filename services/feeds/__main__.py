"""``python -m services.feeds``: route the views to the agencies' feeds until SIGTERM or Ctrl-C.

``COURTBUS_DIRECTORY`` names another directory file (read at start: a changed grant takes
effect on restart).
"""

from __future__ import annotations

from courtbus.catalogue.directory import load_directory
from courtbus.wire.envelope import Envelope
from services.feeds.flow import FeedsFlow
from services.main import run_service


def make(envelope: Envelope) -> FeedsFlow:
    """The flow with the repository's directory."""
    return FeedsFlow(envelope, load_directory())


if __name__ == "__main__":
    run_service(make)
