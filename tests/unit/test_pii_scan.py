"""The scanner the demo's personal-data test relies on finds what it must and no masked form."""

from __future__ import annotations

from courtbus.domain.masking import mask_id, mask_ids_in_text
from tests.integration.pii import scan_text

ID = "320583199303121234"


def test_it_finds_each_shape_unmasked() -> None:
    text = f"debtor {ID}, legacy 320583930312123, pr ABC123456789012, passport E12345678."
    assert [f.shape for f in scan_text("x", text)] == [
        "resident ID",
        "legacy ID",
        "permanent-residence ID",
        "passport or permit",
    ]


def test_the_masked_forms_pass() -> None:
    text = mask_ids_in_text(f"debtor {ID}, legacy 320583930312123") + " " + mask_id("E12345678")
    assert scan_text("x", text) == []


def test_longer_numbers_and_words_are_not_ids() -> None:
    assert scan_text("x", "offset 1234567890123456789 at ts 1733550000000, bl-0-04300123") == []
