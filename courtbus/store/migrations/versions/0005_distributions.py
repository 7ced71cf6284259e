"""Distributions (参与分配): ``distributions`` (one row per distribution of the view
``distribution.cases``), ``distribution_claims``, ``distribution_plans`` (every version, kept
when revised) with their ``distribution_allocations``, ``distribution_objections`` (objections,
oppositions, suits) and ``distribution_deposits`` (提存 while a suit runs).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)
_MONEY = sa.Numeric(18, 2).with_variant(sa.String(32), "sqlite")


def _parent(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["distribution_id"],
        ["distributions.distribution_id"],
        ondelete="CASCADE",
        name=f"fk_{table}_distribution_id_distributions",
    )


def upgrade() -> None:
    """Create the distribution tables."""
    op.create_table(
        "distributions",
        sa.Column("distribution_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("presiding_court", sa.String(16), nullable=False),
        sa.Column("case_number", sa.Text(), nullable=False),
        sa.Column("debtor_name", sa.Text(), nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("debtor_form", sa.String(32), nullable=False),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("ended_at", _WHEN, nullable=True),
        sa.Column("transferred_to", sa.String(16), nullable=True),
        sa.Column("current_plan", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("distribution_id", name="pk_distributions"),
    )
    op.create_index("ix_distributions_presiding_court", "distributions", ["presiding_court"])
    op.create_table(
        "distribution_claims",
        sa.Column("distribution_id", sa.String(128), nullable=False),
        sa.Column("claim_id", sa.String(128), nullable=False),
        sa.Column("court_id", sa.String(16), nullable=False),
        sa.Column("case_number", sa.Text(), nullable=True),
        sa.Column("claimant_name", sa.Text(), nullable=False),
        sa.Column("claimant_id", sa.String(64), nullable=False),
        sa.Column("claim_class", sa.String(16), nullable=False),
        sa.Column("priority_kind", sa.String(32), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("claimed", _MONEY, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_at", _WHEN, nullable=False),
        _parent("distribution_claims"),
        sa.PrimaryKeyConstraint("distribution_id", "claim_id", name="pk_distribution_claims"),
    )
    op.create_table(
        "distribution_plans",
        sa.Column("distribution_id", sa.String(128), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("proceeds", _MONEY, nullable=False),
        sa.Column("costs", _MONEY, nullable=False),
        sa.Column("costs_paid", _MONEY, nullable=False),
        sa.Column("surplus", _MONEY, nullable=False),
        sa.Column("ordinary_order", sa.String(16), nullable=False),
        sa.Column("seen_at", _WHEN, nullable=False),
        _parent("distribution_plans"),
        sa.PrimaryKeyConstraint("distribution_id", "plan_version", name="pk_distribution_plans"),
    )
    op.create_table(
        "distribution_allocations",
        sa.Column("distribution_id", sa.String(128), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("claim_class", sa.String(16), nullable=False),
        sa.Column("priority_kind", sa.String(32), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("claimed", _MONEY, nullable=False),
        sa.Column("allocated", _MONEY, nullable=False),
        sa.ForeignKeyConstraint(
            ["distribution_id", "plan_version"],
            ["distribution_plans.distribution_id", "distribution_plans.plan_version"],
            ondelete="CASCADE",
            name="fk_distribution_allocations_distribution_id_distribution_plans",
        ),
        sa.PrimaryKeyConstraint(
            "distribution_id", "plan_version", "claim_id", name="pk_distribution_allocations"
        ),
    )
    op.create_table(
        "distribution_objections",
        sa.Column("distribution_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("court_id", sa.String(16), nullable=True),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("disputes", sa.Text(), nullable=False),
        _parent("distribution_objections"),
        sa.PrimaryKeyConstraint("distribution_id", "seq", name="pk_distribution_objections"),
    )
    op.create_table(
        "distribution_deposits",
        sa.Column("distribution_id", sa.String(128), nullable=False),
        sa.Column("claim_id", sa.String(128), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        _parent("distribution_deposits"),
        sa.PrimaryKeyConstraint("distribution_id", "claim_id", name="pk_distribution_deposits"),
    )


def downgrade() -> None:
    """Drop the distribution tables."""
    for table in (
        "distribution_deposits",
        "distribution_objections",
        "distribution_allocations",
        "distribution_plans",
        "distribution_claims",
        "distributions",
    ):
        op.drop_table(table)
