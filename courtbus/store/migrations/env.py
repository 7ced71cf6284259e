"""Alembic environment of the SQL read model.

``ReadModelWriter.migrate`` hands over its own connection in ``config.attributes["connection"]``;
run by hand, ``sqlalchemy.url`` from the Alembic config is used instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from courtbus.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Upgrade on the caller's connection, or on a fresh engine from ``sqlalchemy.url``."""
    config = context.config
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url configured")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=Base.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations()
