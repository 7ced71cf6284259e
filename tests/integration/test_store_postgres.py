"""The SQL read model on a real PostgreSQL (started by ``tests.pg``): the shared contract."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from courtbus.errors import StoreError
from courtbus.store import ReadModelQueries, ReadModelWriter
from tests.pg import PgServer, pg_server, pg_url  # noqa: F401  (fixtures)
from tests.ports import free_block
from tests.store_contract import ReadModelContract

pytestmark = pytest.mark.integration


class TestPostgresReadModel(ReadModelContract):
    """The contract on PostgreSQL, one fresh database per test."""

    @pytest.fixture
    def db_url(self, pg_url: str) -> str:  # noqa: F811
        return pg_url

    def test_timestamps_are_timestamptz(self, writer: ReadModelWriter, db_url: str) -> None:
        engine = create_engine(db_url)
        with engine.connect() as conn:
            kinds = conn.execute(
                text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'delegations' AND column_name = 'requested_at'"
                )
            ).scalar()
            money = conn.execute(
                text(
                    "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
                    "WHERE table_name = 'delegations' AND column_name = 'amount'"
                )
            ).one()
        engine.dispose()
        assert kinds == "timestamp with time zone"
        assert tuple(money) == (18, 2)


def test_unreachable_server_is_store_unavailable() -> None:
    model = ReadModelWriter(f"postgresql+psycopg://postgres@127.0.0.1:{free_block(1)}/nothing")
    with pytest.raises(StoreError) as err:
        model.migrate()
    assert err.value.code == "STORE_UNAVAILABLE"
    model.close()


def test_missing_database_is_store_unavailable(pg_server: PgServer) -> None:  # noqa: F811
    model = ReadModelQueries(pg_server.url("no_such_database"))
    with pytest.raises(StoreError) as err:
        model.delegations()
    assert err.value.code == "STORE_UNAVAILABLE"
    model.close()
