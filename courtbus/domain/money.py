"""Money: exact CNY amounts, decimal(18,2), held as integer fen.

Pure: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from courtbus.errors import ValidationError

MAX_FEN = 10**18 - 1  # decimal(18, 2): 16 integer digits and 2 fractional
_CENT = Decimal("0.01")
MAX_YUAN = Decimal(MAX_FEN).scaleb(-2)  # 9999999999999999.99


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """A non-negative amount of CNY, exact to the fen (分)."""

    fen: int

    def __post_init__(self) -> None:
        if isinstance(self.fen, bool) or not isinstance(self.fen, int):
            raise ValidationError("money must be a whole number of fen", code="MONEY_INVALID")
        if self.fen < 0:
            raise ValidationError(
                f"money {self.fen} fen is negative (amounts are 0 … {MAX_FEN} fen)",
                code="MONEY_OUT_OF_RANGE",
            )
        if self.fen > MAX_FEN:
            raise ValidationError(
                f"money {self.fen} fen is more than decimal(18,2) CNY holds ({MAX_FEN} fen)",
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


def amount_ok(amount: Decimal) -> bool:
    """Whether a decoded amount passes ``check_amount`` (the fast test, no reason)."""
    return (
        amount.is_finite()
        and 0 <= amount <= MAX_YUAN
        and (_exponent(amount) >= -2 or amount == amount.quantize(_CENT))
    )


def _exponent(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def check_amount(amount: Decimal, field: str) -> None:
    """A decoded Avro ``Money`` (decimal(18,2)) is an amount: ``field`` names it in the reason.

    The wire type cannot stop a sender: an 8-byte fixed holds negative amounts and amounts past
    18 digits, and a writer schema registered with another scale decodes to more decimals.

    Raises:
        ValidationError: ``MONEY_OUT_OF_RANGE`` (negative, or more than decimal(18,2) holds) or
            ``MONEY_INVALID`` (not finite, or more than two decimal places).
    """
    if not amount.is_finite():
        raise ValidationError(f"{field} is not a finite amount", code="MONEY_INVALID")
    if amount < 0:
        raise ValidationError(
            f"{field} is negative ({amount} yuan); amounts are 0 … {MAX_YUAN}",
            code="MONEY_OUT_OF_RANGE",
        )
    if amount > MAX_YUAN:
        raise ValidationError(
            f"{field} is {amount} yuan, more than decimal(18,2) holds ({MAX_YUAN})",
            code="MONEY_OUT_OF_RANGE",
        )
    if _exponent(amount) < -2 and amount != amount.quantize(_CENT):
        raise ValidationError(
            f"{field} is {amount} yuan: more than two decimal places (CNY is exact to the fen)",
            code="MONEY_INVALID",
        )
