"""The read model's first tables: events, delegations, delegation history, dead letters, alerts.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from models.py, so this revision never changes.
TIME = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 2).with_variant(sa.String(32), "sqlite")  # exact text on SQLite
SURROGATE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the tables and their indexes."""
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("record", sa.String(255), nullable=False),
        sa.Column("ce_type", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("time", TIME, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_events"),
    )
    op.create_index("ix_events_record", "events", ["record"])

    op.create_table(
        "delegations",
        sa.Column("delegation_id", sa.String(128), nullable=False),
        sa.Column("case_number", sa.Text(), nullable=False),
        sa.Column("requesting_court", sa.String(16), nullable=False),
        sa.Column("executing_court", sa.String(16), nullable=False),
        sa.Column("matter", sa.String(32), nullable=False),
        sa.Column("asset_kind", sa.String(32), nullable=True),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("debtor_name", sa.Text(), nullable=True),
        sa.Column("debtor_id_masked", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.Column("requested_at", TIME, nullable=False),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("start_due", TIME, nullable=True),
        sa.Column("report_due", TIME, nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("last_event_id", sa.String(64), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("delegation_id", name="pk_delegations"),
        sa.ForeignKeyConstraint(
            ["last_event_id"], ["events.event_id"], name="fk_delegations_last_event_id_events"
        ),
    )
    for column in ("requesting_court", "executing_court", "state", "requested_at"):
        op.create_index(f"ix_delegations_{column}", "delegations", [column])

    op.create_table(
        "delegation_history",
        sa.Column("id", SURROGATE, autoincrement=True, nullable=False),
        sa.Column("delegation_id", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("record", sa.String(64), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("state_after", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_delegation_history"),
        sa.UniqueConstraint("event_id", name="uq_delegation_history_event_id"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.event_id"], name="fk_delegation_history_event_id_events"
        ),
    )
    op.create_index(
        "ix_delegation_history_delegation_id_time",
        "delegation_history",
        ["delegation_id", "time", "id"],
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", SURROGATE, autoincrement=True, nullable=False),
        sa.Column("source_topic", sa.String(255), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("dead_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        sa.UniqueConstraint(
            "source_topic", "source_partition", "source_offset", name="uq_dead_letters_source"
        ),
    )
    op.create_index("ix_dead_letters_code", "dead_letters", ["code"])

    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("delegation_id", sa.String(128), nullable=True),
        sa.Column("court_id", sa.String(16), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_time", "alerts", ["time"])


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in ("alerts", "dead_letters", "delegation_history", "delegations", "events"):
        op.drop_table(table)
