"""The projector's settings from the environment (``ProjectorSettings``)."""

from __future__ import annotations

from pathlib import Path

from courtbus.config import default_store_url
from services.settings import ServiceSettings


class ProjectorSettings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and the projector's own:
    ``COURTBUS_STORE_URL`` (the read model's database; default SQLite in the local stack's
    folder), ``COURTBUS_PROJECTOR_GROUP`` (the consumer group; a new group with a new database
    rebuilds the read model from the start of the topics) and, fault injection for tests only,
    ``COURTBUS_TEST_HOLD_COMMIT_FILE`` (while that file exists, a batch's database transaction
    is held open with its rows written, until the file is removed)."""

    store_url: str | None = None
    projector_group: str | None = None
    test_hold_commit_file: Path | None = None

    def database_url(self) -> str:
        """``store_url``, or the local stack's SQLite file."""
        return self.store_url or default_store_url()
