"""The REST API's pure parts: tokens kept as hashes, JSON values turned into Avro's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from courtbus.errors import ConfigError
from courtbus.web import tokens
from courtbus.wire.jsonvalues import from_json


def test_a_token_is_kept_as_its_hash_and_finds_its_principal(tmp_path: Path) -> None:
    path = tmp_path / "web" / "tokens.yaml"
    first, second = tokens.issue("court.320583", path), tokens.issue("agency.nia", path)
    text = path.read_text()
    assert first not in text and second not in text and tokens.digest(first) in text
    assert path.stat().st_mode & 0o777 == 0o600
    store = tokens.TokenStore.load(path)
    assert store.principal(first) == "court.320583" and store.principal(second) == "agency.nia"
    assert store.principal("guess") is None
    assert tokens.TokenStore.load(tmp_path / "none.yaml").principal(first) is None


def test_a_malformed_tokens_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n  - principal: court.1\n    sha256: short\n")
    with pytest.raises(ConfigError) as err:
        tokens.TokenStore.load(path)
    assert err.value.code == "WEB_TOKENS_INVALID"


SCHEMA = {
    "type": "record",
    "name": "t.R",
    "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}]},
        {
            "name": "amount",
            "type": [
                "null",
                {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
            ],
        },
        {
            "name": "inner",
            "type": {
                "type": "record",
                "name": "t.I",
                "fields": [
                    {"name": "kind", "type": {"type": "enum", "name": "t.K", "symbols": ["A", "B"]}}
                ],
            },
        },
        {"name": "again", "type": ["null", "t.I"]},
        {"name": "items", "type": {"type": "array", "items": "string"}},
    ],
}


def test_json_values_become_the_codec_s() -> None:
    got = from_json(
        SCHEMA,
        {
            "at": "2026-12-07T08:00:00Z",
            "day": "2026-12-07",
            "amount": "12.30",
            "inner": {"kind": "A"},
            "again": {"kind": "B"},
            "items": ["x"],
        },
    )
    assert got == {
        "at": datetime(2026, 12, 7, 8, tzinfo=UTC),
        "day": date(2026, 12, 7),
        "amount": Decimal("12.30"),
        "inner": {"kind": "A"},
        "again": {"kind": "B"},
        "items": ["x"],
    }
    assert from_json(SCHEMA, {"day": None, "amount": None})["day"] is None


def test_a_value_of_the_wrong_kind_is_left_for_the_codec_to_refuse() -> None:
    assert from_json(SCHEMA, {"at": "yesterday"})["at"] == "yesterday"
    assert from_json(SCHEMA, {"amount": "a lot"})["amount"] == "a lot"
