"""The SQL read model on a SQLite file in tmp: the shared contract plus SQLite specifics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from courtbus.errors import SerializationError, StoreError, ValidationError
from courtbus.store import AlertRow, ReadModel, StoredEvent
from courtbus.store.jsonify import headers_from_json, headers_to_json, to_json
from tests.store_contract import (
    PERSON_ID,
    PERSON_ID_MASKED,
    T0,
    ReadModelContract,
    dead_letter,
    requested,
    step,
)


class TestSQLiteReadModel(ReadModelContract):
    """The contract on SQLite."""

    @pytest.fixture
    def db_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'read.db'}"


def _files(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_full_resident_id_never_reaches_the_file(tmp_path: Path) -> None:
    db = tmp_path / "read.db"
    model = ReadModel(f"sqlite:///{db}")
    model.migrate()
    model.apply_event(requested())
    model.apply_event(step("DelegationDelivered", None, 1))
    model.apply_alert(AlertRow("a-1", "OVERDUE", "d-1", None, f"debtor {PERSON_ID}", T0))
    model.apply_dead_letter(dead_letter(reason=f"debtor {PERSON_ID} listed twice"))
    model.close()
    stored = _files(db)
    assert PERSON_ID.encode() not in stored
    assert PERSON_ID_MASKED.encode() in stored  # the data did reach the file


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = tmp_path / "read.db"
    model = ReadModel(f"sqlite:///{db}")
    model.migrate()
    model.close()
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
    with model._engine.connect() as conn:  # our own connections turn foreign keys on
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    model.close()


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://user@host/db", "postgresql+nodriver://u@h/db", "sqlite+x:///a.db"],
)
def test_bad_url(url: str) -> None:
    with pytest.raises(StoreError) as err:
        ReadModel(url)
    assert err.value.code == "STORE_URL_INVALID"


def test_unreachable_database(tmp_path: Path) -> None:
    model = ReadModel(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'read.db'}")
    with pytest.raises(StoreError) as err:
        model.migrate()
    assert err.value.code == "STORE_UNAVAILABLE"
    assert isinstance(err.value.__cause__, Exception)


def test_not_migrated_is_unavailable(tmp_path: Path) -> None:
    model = ReadModel(f"sqlite:///{tmp_path / 'read.db'}")
    with pytest.raises(StoreError) as err:
        model.delegations()
    assert err.value.code == "STORE_UNAVAILABLE"
    model.close()


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError) as err:
        StoredEvent("e", "t", 0, 0, "r", "c", "bus:x", None, None, datetime(2024, 1, 1), {})
    assert err.value.code == "TIME_NOT_AWARE"
    with pytest.raises(ValidationError):
        AlertRow("a", "k", None, None, "m", datetime(2024, 1, 1))
    with pytest.raises(ValidationError):
        dead_letter(dead_at=datetime(2024, 1, 1))


def test_to_json_refuses_unknown_types() -> None:
    assert to_json({"b": 1, "a": (1, 2)}) == '{"a": [1, 2], "b": 1}'
    with pytest.raises(SerializationError) as err:
        to_json({"x": object()})
    assert err.value.code == "STORE_JSON_UNSUPPORTED"


def test_headers_json_round_trip_and_corruption() -> None:
    headers = [("a", b""), ("a", b"\x00\xff"), ("中", "值".encode())]
    assert headers_from_json(headers_to_json(headers)) == headers
    with pytest.raises(SerializationError) as err:
        headers_from_json('[["a", "not base64!"]]')
    assert err.value.code == "STORE_HEADERS_CORRUPT"
