"""``python -m services.blacklist``: run one blacklist worker until SIGTERM or Ctrl-C.

Settings: ``services.blacklist.settings.BlacklistSettings``.
"""

from __future__ import annotations

from courtbus.catalogue.directory import load_directory
from courtbus.wire.envelope import Envelope
from services.blacklist.flow import BlacklistFlow
from services.blacklist.settings import BlacklistSettings
from services.main import run_service


def make(envelope: Envelope, settings: BlacklistSettings) -> BlacklistFlow:
    """The flow with the repository's directory."""
    return BlacklistFlow(envelope, load_directory(), settings.blacklist_grace_seconds)


if __name__ == "__main__":
    run_service(make, BlacklistSettings)
