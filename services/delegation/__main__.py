"""``python -m services.delegation``: run the delegation service until SIGTERM or Ctrl-C.

``COURTBUS_DEADLINES`` names another deadlines file (e.g. shortened ones for a demo).
"""

from __future__ import annotations

import os
from pathlib import Path

from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import DEADLINES_PATH, load_deadlines, load_policies
from courtbus.wire.envelope import Envelope
from services.delegation.processor import DelegationProcessor
from services.main import run_service


def make(envelope: Envelope) -> DelegationProcessor:
    """The processor with the repository's directory, policies and deadlines."""
    directory = load_directory()
    deadlines = load_deadlines(Path(os.environ.get("COURTBUS_DEADLINES") or DEADLINES_PATH))
    return DelegationProcessor(envelope, directory, load_policies(directory), deadlines)


if __name__ == "__main__":
    run_service(make)
