"""Alembic migrations of the SQL read model; ``ReadModel.migrate`` runs them (no alembic.ini)."""
