"""Alembic migrations of the SQL read model; ``ReadModelWriter.migrate`` runs them (no
alembic.ini)."""
