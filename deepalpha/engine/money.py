"""Exact money arithmetic: Decimal everywhere, rounding stated by the rule that needs it."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
FEN = Decimal("0.01")  # ¥0.01, also HK$0.01 (one cent)
DOLLAR = Decimal(1)


def d(value: str | int | Decimal) -> Decimal:
    """A Decimal from text or an int; floats are refused so no binary error slips in."""
    if isinstance(value, float):  # pragma: no cover - a programming error, not user input
        raise TypeError("money is never a float")
    return value if isinstance(value, Decimal) else Decimal(value)


def round_half_up(value: Decimal, step: Decimal = FEN) -> Decimal:
    """Round to a multiple of ``step``, halves away from zero (the exchanges' rounding)."""
    if step == FEN:
        return value.quantize(FEN, rounding=ROUND_HALF_UP)
    return (value / step).quantize(DOLLAR, rounding=ROUND_HALF_UP) * step


def round_up(value: Decimal, step: Decimal = DOLLAR) -> Decimal:
    return (value / step).quantize(DOLLAR, rounding=ROUND_CEILING) * step


def truncate(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).quantize(DOLLAR, rounding=ROUND_DOWN) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return (value % step) == 0
