"""The SQL read model (SQLAlchemy 2 + Alembic): what the bus saw, queryable by courts and ops.

``ReadModel(url)`` on SQLite or PostgreSQL; ``migrate()`` creates or upgrades the tables from
the migrations shipped in this package.
"""

from __future__ import annotations

from courtbus.store.model import (
    AlertRow,
    ApplyResult,
    DeadLetterRow,
    DelegationRow,
    HistoryRow,
    StoredEvent,
)
from courtbus.store.readmodel import ReadModel

__all__ = [
    "AlertRow",
    "ApplyResult",
    "DeadLetterRow",
    "DelegationRow",
    "HistoryRow",
    "ReadModel",
    "StoredEvent",
]
