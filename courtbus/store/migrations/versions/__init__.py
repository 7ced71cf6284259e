"""Alembic revisions of the SQL read model, oldest first."""
