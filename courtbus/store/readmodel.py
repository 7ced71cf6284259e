"""``ReadModel``: the projector's writes and the readers' queries on one database.

Kept for importers that want both (the CLI, the demo, the projector, tests); new code may use
``ReadModelWriter`` (the projector) or ``ReadModelQueries`` (readers) alone, or both over one
shared ``Database``.
"""

from __future__ import annotations

from collections.abc import Callable

from courtbus.store.database import Database
from courtbus.store.queries import ReadModelQueries
from courtbus.store.writer import MIGRATIONS, ReadModelWriter

__all__ = ["MIGRATIONS", "ReadModel"]


class ReadModel(ReadModelWriter, ReadModelQueries):
    """Queryable state built from bus records; safe to replay any record any number of times.

    Both ``ReadModelWriter`` (``migrate``, ``apply_event``, ``apply_dead_letter``,
    ``apply_alert``) and ``ReadModelQueries`` (``delegations``, ``delegation``, ``history``,
    ``dead_letters``, ``dead_letter``, ``alerts``) over one ``Database``.
    """

    def __init__(
        self, url: Database | str, deadlines: Callable[[str], object] | None = None
    ) -> None:
        """Open (lazily: nothing connects until the first call) the database at ``url``.

        ``deadlines`` is accepted for older callers and ignored: due dates now come from the
        delegation service's decisions, not from rules applied here.

        Raises:
            StoreError: ``STORE_URL_INVALID`` if the URL cannot be parsed, names an
                uninstalled driver, or a database other than SQLite or PostgreSQL.
        """
        del deadlines
        super().__init__(url)
