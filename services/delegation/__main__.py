"""``python -m services.delegation``: run one delegation worker until SIGTERM or Ctrl-C.

Settings: ``services.delegation.settings.DelegationSettings``; ``COURTBUS_DIRECTORY``,
``COURTBUS_POLICIES`` and ``COURTBUS_DEADLINES`` name other directory, policy and deadline
files (e.g. shortened deadlines for a demo).
"""

from __future__ import annotations

from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import DEADLINES_PATH, load_deadlines, load_policies
from courtbus.wire.envelope import Envelope
from services.delegation.flow import DelegationFlow
from services.delegation.settings import DelegationSettings
from services.main import run_service


def make(envelope: Envelope, settings: DelegationSettings) -> DelegationFlow:
    """The flow with the repository's directory, policies and deadlines."""
    directory = load_directory()
    deadlines = load_deadlines(DEADLINES_PATH)
    return DelegationFlow(
        envelope,
        directory,
        load_policies(directory),
        deadlines,
        retention=settings.delegation_retention_days,
    )


if __name__ == "__main__":
    run_service(make, DelegationSettings)
