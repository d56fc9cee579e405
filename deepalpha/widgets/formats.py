"""Short number formats for tables and cards (prices, volumes, compact money)."""

from __future__ import annotations

from decimal import Decimal

from deepalpha.engine.ai.records import BASELINE_NAME
from deepalpha.i18n import language, money, t

NONE = "—"


def price(value: Decimal | None) -> str:
    """A price with the decimals its tick needs: 2, or 3 for HK stocks under HK$0.50."""
    if value is None:
        return NONE
    # Normalised: a price stored as 495.600 is shown as its tick shows it, 495.60.
    exponent = value.normalize().as_tuple().exponent
    places = 2 if not isinstance(exponent, int) else min(3, max(2, -exponent))
    return f"{value:,.{places}f}"


def percent(value: Decimal | None, *, sign: bool = True) -> str:
    if value is None:
        return NONE
    return f"{value:+.2f}%" if sign else f"{value:.2f}%"


def volume(n: int) -> str:
    """Shares traded, at most 7 cells: 175.1万 / 1.15亿 in Chinese, 322K / 4.56M in English."""
    if language() == "zh":
        if n >= 100_000_000:
            return _places(n / 100_000_000) + "亿"
        return _places(n / 10_000) + "万" if n >= 10_000 else str(n)
    if n >= 1_000_000_000:
        return f"{n / 1_000_000_000:.2f}B"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    if n >= 100_000:
        return f"{n / 1_000:.0f}K"
    return f"{n:,}"


def _places(x: float) -> str:
    """Three significant figures or more: 1.23, 12.3, 123, 1234."""
    return f"{x:.2f}" if x < 10 else (f"{x:.1f}" if x < 100 else f"{x:.0f}")


def short_money(amount: Decimal, currency: str = "CNY", *, sign: bool = False) -> str:
    """Money for narrow columns: no cents above 100,000 in English (Chinese uses 万/亿)."""
    places = 0 if language() != "zh" and abs(amount) >= 100_000 else 2
    return money(amount, currency, places=places, sign=sign, compact=True)


BASELINE_LABEL = BASELINE_NAME  # "baseline (no LLM)"


def model_text(label: str) -> str:
    """A model label in the user's language: the baseline is named in Chinese too; a real
    model's name is its own."""
    return t("dec.baseline_full") if label == BASELINE_LABEL else label
