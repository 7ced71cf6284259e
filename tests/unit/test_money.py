"""Money is exact CNY: no floats, no third decimal, within decimal(18,2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from courtbus.domain.money import MAX_FEN, Money
from courtbus.errors import ValidationError


def test_parses_yuan_exactly() -> None:
    assert Money.parse("120000.50").fen == 12_000_050
    assert Money.parse(Decimal("0.01")).fen == 1
    assert Money.parse(7).yuan == Decimal("7.00")
    assert Money.parse("1.10") + Money.parse("2.20") == Money.parse("3.30")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1.005", "MONEY_INVALID"),
        (1.5, "MONEY_INVALID"),
        ("abc", "MONEY_INVALID"),
        ("NaN", "MONEY_INVALID"),
        ("-0.01", "MONEY_OUT_OF_RANGE"),
        ("10000000000000000.00", "MONEY_OUT_OF_RANGE"),
        (True, "MONEY_INVALID"),
    ],
)
def test_bad_amounts(value: object, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        Money.parse(value)  # type: ignore[arg-type]
    assert info.value.code == code


def test_largest_amount_fits_decimal_18_2() -> None:
    assert Money(MAX_FEN).yuan == Decimal("9999999999999999.99")
