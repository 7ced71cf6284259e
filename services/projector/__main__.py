"""``python -m services.projector``: keep the read model in step until SIGTERM or Ctrl-C.

``COURTBUS_STORE_URL`` chooses the database (default: SQLite in the local stack's folder);
``COURTBUS_PROJECTOR_GROUP`` the consumer group (a new group with a new database rebuilds the
read model from the start of the topics). ``COURTBUS_TEST_HOLD_COMMIT_FILE`` is fault
injection for tests: while that file exists, a batch's database transaction is held open with
its rows written, until the file is removed.
"""

from __future__ import annotations

import os
from pathlib import Path

from courtbus.config import default_store_url
from courtbus.store import ReadModelWriter
from courtbus.wire.envelope import Envelope
from services.main import run_service
from services.projector.flow import ProjectorFlow


def make(envelope: Envelope) -> ProjectorFlow:
    """The flow over a migrated read model."""
    model = ReadModelWriter(default_store_url())
    model.migrate()
    hold = os.environ.get("COURTBUS_TEST_HOLD_COMMIT_FILE")
    return ProjectorFlow(
        envelope, model, os.environ.get("COURTBUS_PROJECTOR_GROUP"), Path(hold) if hold else None
    )


if __name__ == "__main__":
    run_service(make)
