"""Delegations from the delegation service's decisions: refused requests, decision ids.

- ``delegations``: ``refusal_code`` and ``refusal_reason`` (a refused request is a row in state
  REFUSED); ``case_number`` may be NULL (a row made from a decision whose request was never
  stored); ``last_event_id`` no longer references ``events`` (that step may be absent).
- ``delegation_history``: ``decision_id`` (the DelegationDecided's ce_id, unique, references
  ``events``) and ``reason`` (the refusal's masked reason); ``event_id`` (the step decided on)
  no longer references ``events``.
- ``events``: index on ``key``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the decision columns, relax what a decision-only row cannot fill."""
    with op.batch_alter_table("delegations") as batch:
        batch.drop_constraint("fk_delegations_last_event_id_events", type_="foreignkey")
        batch.alter_column("case_number", existing_type=sa.Text(), nullable=True)
        batch.add_column(sa.Column("refusal_code", sa.String(64), nullable=True))
        batch.add_column(sa.Column("refusal_reason", sa.Text(), nullable=True))

    with op.batch_alter_table("delegation_history") as batch:
        batch.drop_constraint("fk_delegation_history_event_id_events", type_="foreignkey")
        batch.add_column(sa.Column("decision_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_delegation_history_decision_id", ["decision_id"])
        batch.create_foreign_key(
            "fk_delegation_history_decision_id_events", "events", ["decision_id"], ["event_id"]
        )

    op.create_index("ix_events_key", "events", ["key"])


def downgrade() -> None:
    """Back to 0001; what 0001 cannot hold is dropped: rows made from a decision alone (no
    case number, or naming a step that was never stored) and history about such steps."""
    op.drop_index("ix_events_key", "events")
    op.execute("DELETE FROM delegation_history WHERE event_id NOT IN (SELECT event_id FROM events)")
    op.execute(
        "DELETE FROM delegations WHERE case_number IS NULL"
        " OR last_event_id NOT IN (SELECT event_id FROM events)"
    )

    with op.batch_alter_table("delegation_history") as batch:
        batch.drop_constraint("fk_delegation_history_decision_id_events", type_="foreignkey")
        batch.drop_constraint("uq_delegation_history_decision_id", type_="unique")
        batch.drop_column("reason")
        batch.drop_column("decision_id")
        batch.create_foreign_key(
            "fk_delegation_history_event_id_events", "events", ["event_id"], ["event_id"]
        )

    with op.batch_alter_table("delegations") as batch:
        batch.drop_column("refusal_reason")
        batch.drop_column("refusal_code")
        batch.alter_column("case_number", existing_type=sa.Text(), nullable=False)
        batch.create_foreign_key(
            "fk_delegations_last_event_id_events", "events", ["last_event_id"], ["event_id"]
        )
