"""Money: exact CNY amounts, decimal(18,2), held as integer fen.

Pure: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from courtbus.errors import ValidationError

MAX_FEN = 10**18 - 1  # decimal(18, 2): 16 integer digits and 2 fractional
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """A non-negative amount of CNY, exact to the fen (分)."""

    fen: int

    def __post_init__(self) -> None:
        if isinstance(self.fen, bool) or not isinstance(self.fen, int):
            raise ValidationError("money must be a whole number of fen", code="MONEY_INVALID")
        if not 0 <= self.fen <= MAX_FEN:
            raise ValidationError(
                f"money {self.fen} fen is outside 0 … {MAX_FEN} (decimal(18,2) CNY)",
                code="MONEY_OUT_OF_RANGE",
            )

    @classmethod
    def parse(cls, value: str | Decimal | int) -> Money:
        """Read yuan from text, Decimal or int; more than two decimals is an error, not rounded.

        Raises:
            ValidationError: ``MONEY_INVALID`` or ``MONEY_OUT_OF_RANGE``.
        """
        if isinstance(value, float | bool):
            raise ValidationError(
                "money must not be a float or bool; pass text or Decimal", code="MONEY_INVALID"
            )
        try:
            amount = Decimal(value) if not isinstance(value, Decimal) else value
        except (InvalidOperation, ValueError) as exc:
            raise ValidationError(f"{value!r} is not an amount", code="MONEY_INVALID") from exc
        if not amount.is_finite():
            raise ValidationError(f"{value!r} is not a finite amount", code="MONEY_INVALID")
        if amount != amount.quantize(_CENT):
            raise ValidationError(
                f"{value!r} has more than two decimal places (CNY is exact to the fen)",
                code="MONEY_INVALID",
            )
        return cls(int(amount * 100))

    @property
    def yuan(self) -> Decimal:
        """The amount as a Decimal with exactly two places (the Avro decimal(18,2) value)."""
        return (Decimal(self.fen) / 100).quantize(_CENT)

    def __add__(self, other: Money) -> Money:
        return Money(self.fen + other.fen)

    def __str__(self) -> str:
        return f"¥{self.yuan:,}"
