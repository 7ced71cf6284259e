"""Restrictions and the watchdog: ``restriction_controls`` (one row per control of the view
``restriction.controls``, kept as LIFTED after its tombstone), ``restriction_acks`` (per agency
and step), ``restriction_exemptions``, ``restriction_interceptions`` and ``watchdog_alerts``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def _control_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["control_id"],
        ["restriction_controls.control_id"],
        ondelete="CASCADE",
        name=f"fk_{table}_control_id_restriction_controls",
    )


def upgrade() -> None:
    """Create the restriction and watchdog tables and their indexes."""
    op.create_table(
        "restriction_controls",
        sa.Column("control_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("issuing_court", sa.String(16), nullable=False),
        sa.Column("province", sa.String(8), nullable=False),
        sa.Column("case_number", sa.Text(), nullable=False),
        sa.Column("person_name", sa.Text(), nullable=False),
        sa.Column("person_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("debtor_name", sa.Text(), nullable=True),
        sa.Column("debtor_id", sa.String(64), nullable=True),
        sa.Column("document_type", sa.String(32), nullable=True),
        sa.Column("document_number", sa.String(64), nullable=True),
        sa.Column("prohibited", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_until", sa.Date(), nullable=True),
        sa.Column("issued_at", _WHEN, nullable=False),
        sa.Column("lifted_at", _WHEN, nullable=True),
        sa.Column("lift_reason", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("control_id", name="pk_restriction_controls"),
    )
    for column in ("issuing_court", "person_id", "debtor_id"):
        op.create_index(f"ix_restriction_controls_{column}", "restriction_controls", [column])
    op.create_table(
        "restriction_acks",
        sa.Column("control_id", sa.String(128), nullable=False),
        sa.Column("agency_id", sa.String(32), nullable=False),
        sa.Column("target", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", _WHEN, nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("answered_at", _WHEN, nullable=True),
        _control_fk("restriction_acks"),
        sa.PrimaryKeyConstraint("control_id", "agency_id", "target", name="pk_restriction_acks"),
    )
    op.create_table(
        "restriction_exemptions",
        sa.Column("control_id", sa.String(128), nullable=False),
        sa.Column("exemption_id", sa.String(128), nullable=False),
        sa.Column("kinds", sa.Text(), nullable=False),
        sa.Column("agencies", sa.Text(), nullable=False),
        sa.Column("valid_from", _WHEN, nullable=False),
        sa.Column("valid_until", _WHEN, nullable=False),
        _control_fk("restriction_exemptions"),
        sa.PrimaryKeyConstraint("control_id", "exemption_id", name="pk_restriction_exemptions"),
    )
    op.create_table(
        "restriction_interceptions",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("control_id", sa.String(128), nullable=False),
        sa.Column("agency_id", sa.String(32), nullable=False),
        sa.Column("intercepted_at", _WHEN, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        _control_fk("restriction_interceptions"),
        sa.PrimaryKeyConstraint("event_id", name="pk_restriction_interceptions"),
    )
    op.create_index(
        "ix_restriction_interceptions_control_id", "restriction_interceptions", ["control_id"]
    )
    op.create_table(
        "watchdog_alerts",
        sa.Column("alert_id", sa.String(128), nullable=False),
        sa.Column("court_id", sa.String(16), nullable=False),
        sa.Column("case_number", sa.Text(), nullable=False),
        sa.Column("alert_number", sa.Integer(), nullable=False),
        sa.Column("time", _WHEN, nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name="pk_watchdog_alerts"),
    )
    op.create_index("ix_watchdog_alerts_court_id_time", "watchdog_alerts", ["court_id", "time"])


def downgrade() -> None:
    """Drop the restriction and watchdog tables."""
    for table in (
        "watchdog_alerts",
        "restriction_interceptions",
        "restriction_exemptions",
        "restriction_acks",
        "restriction_controls",
    ):
        op.drop_table(table)
