"""The SQL read model (SQLAlchemy 2 + Alembic): what the bus saw and decided, queryable by
courts and ops.

``ReadModelWriter`` is the projector's side (``migrate``, ``apply_event``,
``apply_dead_letter``, ``apply_alert``); ``ReadModelQueries`` the readers' side
(``delegations``, ``delegation``, ``history``, ``dead_letters``, ``dead_letter``, ``alerts``).
Each takes a URL (SQLite or PostgreSQL) or a ``Database``; one that needs both opens both
over one shared ``Database``.
Delegation rows are copied from the delegation service's ``DelegationDecided`` records; the
store never runs the delegation state machine.
"""

from __future__ import annotations

from courtbus.store.database import Database
from courtbus.store.queries import ReadModelQueries
from courtbus.store.values import (
    AlertRow,
    ApplyResult,
    BlacklistRow,
    DeadLetterRow,
    DelegationRow,
    HistoryRow,
    StoredEvent,
)
from courtbus.store.writer import ReadModelWriter

__all__ = [
    "AlertRow",
    "ApplyResult",
    "BlacklistRow",
    "Database",
    "DeadLetterRow",
    "DelegationRow",
    "HistoryRow",
    "ReadModelQueries",
    "ReadModelWriter",
    "StoredEvent",
]
