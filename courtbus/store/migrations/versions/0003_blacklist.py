"""The dishonest-debtor list: ``blacklist_entries``, one row per entry of the view
``blacklist.entries`` (updated in place by version; a tombstone deletes the row).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``blacklist_entries`` and its indexes."""
    op.create_table(
        "blacklist_entries",
        sa.Column("entry_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("listing_court", sa.String(16), nullable=False),
        sa.Column("province", sa.String(8), nullable=False),
        sa.Column("case_number", sa.Text(), nullable=False),
        sa.Column("debtor_kind", sa.String(16), nullable=False),
        sa.Column("debtor_name", sa.Text(), nullable=False),
        sa.Column("debtor_id", sa.String(64), nullable=False),
        sa.Column("ground", sa.String(40), nullable=False),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column("period_months", sa.Integer(), nullable=True),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delisted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_blacklist_entries"),
    )
    for column in ("listing_court", "province", "debtor_id"):
        op.create_index(f"ix_blacklist_entries_{column}", "blacklist_entries", [column])


def downgrade() -> None:
    """Drop ``blacklist_entries``."""
    op.drop_table("blacklist_entries")
