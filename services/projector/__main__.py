"""``python -m services.projector``: keep the read model in step until SIGTERM or Ctrl-C.

Settings: ``services.projector.settings.ProjectorSettings`` (the database, the consumer
group, and a fault-injection hook for tests).
"""

from __future__ import annotations

from courtbus.store import ReadModelWriter
from courtbus.wire.envelope import Envelope
from services.main import run_service
from services.projector.flow import ProjectorFlow
from services.projector.settings import ProjectorSettings


def make(envelope: Envelope, settings: ProjectorSettings) -> ProjectorFlow:
    """The flow over a migrated read model."""
    model = ReadModelWriter(settings.database_url())
    model.migrate()
    return ProjectorFlow(envelope, model, settings.projector_group, settings.test_hold_commit_file)


if __name__ == "__main__":
    run_service(make, ProjectorSettings)
