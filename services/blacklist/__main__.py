"""``python -m services.blacklist``: run one blacklist worker until SIGTERM or Ctrl-C.

``COURTBUS_DIRECTORY`` names another directory file; ``COURTBUS_BLACKLIST_GRACE_SECONDS`` how
long a delisted entry stays in the view before its tombstone (default 7 days).
"""

from __future__ import annotations

from courtbus.catalogue.directory import load_directory
from courtbus.wire.envelope import Envelope
from services.blacklist.flow import BlacklistFlow
from services.main import run_service


def make(envelope: Envelope) -> BlacklistFlow:
    """The flow with the repository's directory."""
    return BlacklistFlow(envelope, load_directory())


if __name__ == "__main__":
    run_service(make)
