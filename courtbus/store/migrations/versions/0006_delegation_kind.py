"""Delegations: ``kind`` (CASE, 委托执行; MATTER, 事项委托; NULL for a request sent before
kinds, 法释〔2011〕11号 (2020 修正) 第二条) and ``enforced_suit`` (the 民初 / 民终 number of the
suit whose judgment is enforced, if the request named it). Both nullable: stored rows keep NULL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two request columns."""
    with op.batch_alter_table("delegations") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=True))
        batch.add_column(sa.Column("enforced_suit", sa.String(64), nullable=True))


def downgrade() -> None:
    """Back to 0005: the two columns go."""
    with op.batch_alter_table("delegations") as batch:
        batch.drop_column("enforced_suit")
        batch.drop_column("kind")
