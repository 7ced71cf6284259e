"""``python -m services.restrictions``: run one restriction worker until SIGTERM or Ctrl-C.

``COURTBUS_DIRECTORY`` names another directory file; ``COURTBUS_RESTRICTION_ACK_SECONDS`` how
long an entitled agency has to acknowledge a control or its lift (default 12 hours);
``COURTBUS_RESTRICTION_GRACE_SECONDS`` how long a lifted control stays in the view before its
tombstone (default 7 days).
"""

from __future__ import annotations

from courtbus.catalogue.directory import load_directory
from courtbus.wire.envelope import Envelope
from services.main import run_service
from services.restrictions.flow import RestrictionFlow


def make(envelope: Envelope) -> RestrictionFlow:
    """The flow with the repository's directory and the deadlines of the environment."""
    return RestrictionFlow(envelope, load_directory())


if __name__ == "__main__":
    run_service(make)
