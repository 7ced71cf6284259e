"""The SQL read model on a SQLite file in tmp: the shared contract plus SQLite specifics."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import courtbus.store
from courtbus.errors import SerializationError, StoreError, ValidationError
from courtbus.store import (
    AlertRow,
    ApplyResult,
    Database,
    ReadModelQueries,
    ReadModelWriter,
    StoredEvent,
)
from courtbus.store.jsonify import headers_from_json, headers_to_json, to_json
from tests.store_contract import (
    PERSON_ID,
    PERSON_ID_MASKED,
    T0,
    ReadModelContract,
    dead_letter,
    decided,
    flow,
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
    model = ReadModelWriter(f"sqlite:///{db}")
    model.migrate()
    req = requested()
    for ev in (req, decided(req, "REFUSED", applied=False, code="X", reason=f"id {PERSON_ID}")):
        model.apply_event(ev)
    model.apply_event(step("DelegationDelivered", None, 1))
    model.apply_alert(AlertRow("a-1", "OVERDUE", "d-1", None, f"debtor {PERSON_ID}", T0))
    model.apply_dead_letter(dead_letter(reason=f"debtor {PERSON_ID} listed twice"))
    model.close()
    stored = _files(db)
    assert PERSON_ID.encode() not in stored
    assert PERSON_ID_MASKED.encode() in stored  # the data did reach the file


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = tmp_path / "read.db"
    model = ReadModelWriter(f"sqlite:///{db}")
    model.migrate()
    model.close()
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
    with model.database.engine.connect() as conn:  # our own connections turn foreign keys on
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    model.close()


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://user@host/db", "postgresql+nodriver://u@h/db", "sqlite+x:///a.db"],
)
def test_bad_url(url: str) -> None:
    with pytest.raises(StoreError) as err:
        ReadModelQueries(url)
    assert err.value.code == "STORE_URL_INVALID"


def test_unreachable_database(tmp_path: Path) -> None:
    model = ReadModelWriter(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'read.db'}")
    with pytest.raises(StoreError) as err:
        model.migrate()
    assert err.value.code == "STORE_UNAVAILABLE"
    assert isinstance(err.value.__cause__, Exception)


def test_not_migrated_is_unavailable(tmp_path: Path) -> None:
    model = ReadModelQueries(f"sqlite:///{tmp_path / 'read.db'}")
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


def test_writer_and_queries_share_one_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'read.db'}")
    writer, queries = ReadModelWriter(db), ReadModelQueries(db)
    assert writer.database is queries.database is db
    writer.migrate()
    assert [writer.apply_event(r) for r in flow([])] == [ApplyResult.APPLIED] * 2
    row = queries.delegation("d-1")
    assert row is not None and row.state == "REQUESTED"
    assert not hasattr(queries, "apply_event") and not hasattr(writer, "delegations")
    apart = ReadModelQueries(f"sqlite:///{tmp_path / 'read.db'}")  # its own pool, same file
    assert apart.delegation("d-1") == row
    apart.close()
    writer.close()
    assert not hasattr(courtbus.store, "ReadModel")  # one way to each side, none to both


STORE = Path(courtbus.store.__file__).parent


def test_store_never_imports_the_state_machine() -> None:
    """Rows come from the delegation service's decisions, never from running its rules."""
    for path in STORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                assert not name.startswith("courtbus.domain.delegation"), (path, name)
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, courtbus.store; print('courtbus.domain.delegation' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"
