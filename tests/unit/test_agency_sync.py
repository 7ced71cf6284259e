"""The agency mirror's SQL side (courtbus.sdk.agency.Mirror) with SQLite, without Kafka:
upserts, deletes on DELISTED and tombstones, offsets in the same transaction, region filter."""

from __future__ import annotations

from datetime import UTC, datetime
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
FIELDS = ("entry_id", "case_number", "listing_court", "debtor", "ground", "period_months",
          "listed_at", "delisted_at", "reason")  # fmt: skip


def payload(n: int, *, court: str = "3205", delisted: bool = False) -> dict[str, Any]:
    return {
        "entry_id": f"bl-{n}", "case_number": v.case_number(f"(2024)苏05执{n + 1}号"),
        "listing_court": v.court(court), "debtor": v.debtor("PERSON", "张三", "320583199303121234"),
        "ground": "REFUSED_WITH_ABILITY", "period_months": None, "listed_at": T0,
        "delisted_at": T0 if delisted else None, "reason": "PERFORMED" if delisted else None,
    }  # fmt: skip


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
    assert mirror.apply([change(0, 1, payload(1)), change(1, 2, payload(2)),
                         change(0, 3, payload(3), partition=1)]) == (3, 0)  # fmt: skip
    assert set(rows(url)) == {"bl-1", "bl-2", "bl-3"}
    assert rows(url)["bl-1"]["debtor"].count("320583199303121234") == 1  # JSON text
    written, deleted = mirror.apply([
        change(2, 1, payload(1, delisted=True)),  # DELISTED: the row goes
        change(3, 2, None),  # a tombstone: the row goes
        change(4, 4, payload(4)),
        change(5, 4, {**payload(4), "period_months": 24}),  # the last change of a key counts
    ])  # fmt: skip
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


def test_the_sync_reads_records_without_their_headers_as_kafka_python_reads_them() -> None:
    from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

    from courtbus.sdk.feed_reader import _HeaderlessBatch

    for compression in (0, 1):  # none, gzip
        builder = DefaultRecordBatchBuilder(2, compression, False, -1, -1, -1, 1 << 20)
        headers = [("ce_id", b"x" * 40), ("ce_type", b"cn.court.blacklist.entry"), ("e", None)]
        for i in range(50):
            key, value = f"bl-{i}".encode(), None if i % 7 == 0 else bytes([i]) * (i * 9)
            builder.append(i, timestamp=1_700_000_000_000 + i, key=key, value=value,
                           headers=headers)  # fmt: skip
        data = bytes(builder.build())
        fast = DefaultRecordBatch(data)
        fast.__class__ = _HeaderlessBatch
        for want, got in zip(DefaultRecordBatch(data), fast, strict=True):
            assert (got.offset, got.timestamp, got.key, got.value, got.headers) == (
                want.offset, want.timestamp, want.key, want.value, [])  # fmt: skip


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
    for bad, code in ((value[:-3], "AVRO_DECODE_FAILED"), (value + b"\x00", "AVRO_TRAILING_BYTES"),
                      (b"\x01" + value[1:], "WIRE_BAD_MAGIC")):  # fmt: skip
        with pytest.raises(SerializationError) as info:
            decode(bad)
        assert info.value.code == code
