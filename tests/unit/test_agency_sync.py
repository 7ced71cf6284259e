"""The agency mirror's SQL side (courtbus.sdk.agency.Mirror) with SQLite, without Kafka:
upserts, deletes on DELISTED and tombstones, offsets in the same transaction, region filter."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from courtbus.catalogue.directory import load_directory
from courtbus.errors import StoreError, ValidationError
from courtbus.sdk.agency import Change, Mirror, region_matcher
from courtbus.wire import values as v

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TOPIC = "agency.icbc.blacklist"
FIELDS = (
    "entry_id",
    "case_number",
    "listing_court",
    "debtor",
    "ground",
    "period_months",
    "listed_at",
    "delisted_at",
    "reason",
)


def payload(n: int, *, court: str = "3205", delisted: bool = False) -> dict[str, Any]:
    return {
        "entry_id": f"bl-{n}",
        "case_number": v.case_number(f"(2024)苏05执{n + 1}号"),
        "listing_court": v.court(court),
        "debtor": v.debtor("PERSON", "张三", "320583199303121234"),
        "ground": "REFUSED_WITH_ABILITY",
        "period_months": None,
        "listed_at": T0,
        "delisted_at": T0 if delisted else None,
        "reason": "PERFORMED" if delisted else None,
    }


def change(offset: int, n: int, body: dict[str, Any] | None, partition: int = 0) -> Change:
    return Change(TOPIC, partition, offset, f"bl-{n}", body)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mirror.db'}"


def rows(url: str) -> dict[str, dict[str, Any]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT * FROM partner_blacklist")).mappings().all()
    engine.dispose()
    return {r["entry_id"]: dict(r) for r in found}


def test_table_has_a_column_per_granted_field_and_nothing_else(url: str) -> None:
    mirror = Mirror(url, "blacklist", FIELDS)
    mirror.close()
    engine = create_engine(url)
    columns = {c["name"]: c for c in inspect(engine).get_columns("partner_blacklist")}
    assert list(columns) == list(FIELDS)  # no obligation, conduct, status ...
    assert columns["period_months"]["nullable"] and not columns["ground"]["nullable"]
    assert "JSON" in str(columns["debtor"]["type"]).upper()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_upsert_delete_and_offsets_in_one_batch(url: str) -> None:
    mirror = Mirror(url, "blacklist", FIELDS)
    assert mirror.apply(
        [change(0, 1, payload(1)), change(1, 2, payload(2)), change(0, 3, payload(3), partition=1)]
    ) == (3, 0)
    assert set(rows(url)) == {"bl-1", "bl-2", "bl-3"}
    assert rows(url)["bl-1"]["debtor"].count("320583199303121234") == 1  # JSON text
    written, deleted = mirror.apply(
        [
            change(2, 1, payload(1, delisted=True)),  # DELISTED: the row goes
            change(3, 2, None),  # a tombstone: the row goes
            change(4, 4, payload(4)),
            change(5, 4, {**payload(4), "period_months": 24}),  # the last change of a key counts
        ]
    )
    assert (written, deleted) == (1, 2)
    assert set(rows(url)) == {"bl-3", "bl-4"} and rows(url)["bl-4"]["period_months"] == 24
    assert mirror.offsets(TOPIC) == {0: 6, 1: 1}
    assert mirror.count() == 2
    mirror.close()
    again = Mirror(url, "blacklist", FIELDS)  # a restart resumes from the stored offsets
    assert again.offsets(TOPIC) == {0: 6, 1: 1}
    again.close()


def test_a_failed_batch_keeps_neither_rows_nor_offsets(url: str) -> None:
    mirror = Mirror(url, "blacklist", FIELDS)
    mirror.apply([change(0, 1, payload(1))])
    bad = {**payload(2), "ground": None}  # NOT NULL column
    with pytest.raises(StoreError) as info:
        mirror.apply([change(1, 3, payload(3)), change(2, 2, bad)])
    assert info.value.code == "STORE_REFUSED"
    assert set(rows(url)) == {"bl-1"} and mirror.offsets(TOPIC) == {0: 1}
    mirror.close()


def test_region_filter_by_province_name_code_or_group(url: str) -> None:
    d = load_directory()
    for region in ("32", "江苏省"):
        assert region_matcher(d, region)("320583") and not region_matcher(d, region)("4408")
    west = region_matcher(d, "west-guangdong")
    assert west("4409") and not west("4401") and not west("3205")
    with pytest.raises(ValidationError) as info:
        region_matcher(d, "atlantis")
    assert info.value.code == "REGION_UNKNOWN"
    mirror = Mirror(url, "blacklist", FIELDS, keep=lambda p: west(p["listing_court"]["court_id"]))
    mirror.apply([change(0, 1, payload(1, court="4408")), change(1, 2, payload(2))])
    assert set(rows(url)) == {"bl-1"} and mirror.offsets(TOPIC) == {0: 2}
    mirror.close()


def test_a_changed_grant_needs_a_new_database(url: str) -> None:
    Mirror(url, "blacklist", FIELDS).close()
    with pytest.raises(StoreError) as info:
        Mirror(url, "blacklist", (*FIELDS, "status"))
    assert info.value.code == "MIRROR_COLUMNS_CHANGED"
    with pytest.raises(ValidationError):
        Mirror(url, "restriction", FIELDS)


def raw_rows(url: str) -> list[tuple[Any, ...]]:
    """The mirror's rows as SQLite holds them (text, not SQLAlchemy's Python values)."""
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return db.execute("SELECT * FROM partner_blacklist ORDER BY entry_id").fetchall()
    finally:
        db.close()


def test_the_fast_sqlite_rows_are_what_sqlalchemy_core_stores(tmp_path: Path) -> None:
    china = timezone(timedelta(hours=8))
    bodies = {
        "bl-1": payload(1),  # aware, UTC
        "bl-2": {**payload(2), "listed_at": datetime(2025, 3, 3, 17, 0, 0, 5, tzinfo=china)},
        "bl-3": {**payload(3), "listed_at": datetime(999, 1, 2, 3, 4, 5)},  # naive, year < 1000
        "bl-4": {
            **payload(4),
            "period_months": 24,
            "reason": "PERFORMED",
            "debtor": {
                "kind": "ORGANISATION",
                "name": '某某 "公司"\n',
                "id_number": "x",
                "id_type": None,
                "nationality": None,
            },
        },
    }
    core, fast = (f"sqlite:///{tmp_path / name}" for name in ("core.db", "fast.db"))
    by_core = Mirror(core, "blacklist", FIELDS)
    by_core.repair(bodies, ())  # SQLAlchemy Core's insert, its own bind processors
    by_fast = Mirror(fast, "blacklist", FIELDS)
    by_fast.commit(bodies, {(TOPIC, 0): 4})
    ms = {"bl-5": {**payload(5), "listed_at": 1_741_000_000_123, "delisted_at": None}}
    by_fast.commit(ms, {(TOPIC, 0): 5})  # epoch milliseconds, as the feed reader leaves them
    by_core.repair(
        {"bl-5": {**payload(5), "listed_at": datetime.fromtimestamp(1_741_000_000.123, UTC)}}, ()
    )
    by_core.close()
    by_fast.close()
    assert raw_rows(fast) == raw_rows(core)
    assert raw_rows(fast)[1][6] == "2025-03-03 09:00:00.000005"  # in UTC
    assert raw_rows(fast)[4][6] == "2025-03-03 11:06:40.123000"


def test_a_bulk_load_has_writers_queue_and_ends_in_wal_mode(url: str) -> None:
    mirror = Mirror(url, "blacklist", FIELDS)
    with mirror.bulk():
        worker = Mirror(url, "blacklist", FIELDS, bulk=True)  # a bootstrap worker's
        with worker.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "truncate"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0
        for n in range(0, 40, 2):
            mirror.apply([change(n, n, payload(n))])
            worker.apply([change(n, n + 1, payload(n + 1), partition=1)])
        worker.close()
    with mirror.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    assert mirror.count() == 40 and mirror.offsets(TOPIC) == {0: 39, 1: 39}
    mirror.close()


def test_the_sync_decoder_leaves_the_mirrors_times_as_epoch_ms(url: str) -> None:
    from courtbus.runtime.harness import memory_envelope
    from courtbus.sdk.feed_reader import _Decoder
    from services.feeds.flow import feed_routes

    codec = memory_envelope().codec
    route = next(r for r in feed_routes(load_directory(), codec.schemas) if r.agency == "icbc")
    body = {**payload(1, delisted=True), "listed_at": datetime(2025, 3, 3, 9, 0, 0, 123000, UTC)}
    value = codec.encode_with(route.schema, route.project(body))
    mirror = Mirror(url, "blacklist", FIELDS)
    assert mirror.time_columns == ("delisted_at", "listed_at")
    decoded = _Decoder(codec, mirror.time_columns)(value)
    assert decoded["listed_at"] == 1_740_992_400_123 and decoded["delisted_at"] == 1_740_992_400_000
    assert mirror._tuple("bl-1", decoded) == mirror._tuple("bl-1", codec.decode(value).payload)
    mirror.close()


def test_the_sync_decoder_matches_the_codec_and_keeps_its_errors() -> None:
    from courtbus.errors import SerializationError
    from courtbus.runtime.harness import memory_envelope
    from courtbus.sdk.feed_reader import _Decoder
    from services.feeds.flow import feed_routes

    codec = memory_envelope().codec
    route = next(r for r in feed_routes(load_directory(), codec.schemas) if r.agency == "icbc")
    value = codec.encode_with(route.schema, route.project(payload(1)))
    decode = _Decoder(codec)
    assert decode(value) == decode(value) == codec.decode(value).payload
    for bad, code in (
        (value[:-3], "AVRO_DECODE_FAILED"),
        (value + b"\x00", "AVRO_TRAILING_BYTES"),
        (b"\x01" + value[1:], "WIRE_BAD_MAGIC"),
    ):
        with pytest.raises(SerializationError) as info:
            decode(bad)
        assert info.value.code == code
