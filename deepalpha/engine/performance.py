"""Trader performance, defined once: the backtest report, the AI's context and the dashboard
read the same drawdown and Sharpe ratio of the same equity path, so the screen and the model's
prompt cannot disagree about a trader.

An equity path is the money put in (``start``), then each day's closing equity, then — for a
live trader — the equity now. Decimal throughout: a ratio shown to a person to two places must
not depend on float rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, localcontext

from deepalpha.engine.money import ZERO

TRADING_DAYS_PER_YEAR = 252


def max_drawdown(equity: Iterable[Decimal], *, start: Decimal | None = None) -> Decimal | None:
    """The deepest fall from a peak, 0..1 (0.25 = 25 %); ``start`` is the first peak, so a
    trader below its starting money on day one has a drawdown. None for an empty path."""
    peak = start if start else None
    worst = ZERO
    for value in equity:
        if peak is None or value > peak:
            peak = value
        elif peak > 0:
            worst = max(worst, (peak - value) / peak)
    return None if peak is None else worst


def period_returns(equity: Sequence[Decimal], *, start: Decimal | None = None) -> list[Decimal]:
    """Each point's return on the one before (the first on ``start`` when given)."""
    previous = [start, *equity[:-1]] if start else list(equity[:-1])
    points = equity if start else equity[1:]
    return [b / a - 1 for a, b in zip(previous, points, strict=True) if a and a > 0]


def sharpe(equity: Sequence[Decimal], *, start: Decimal | None = None) -> Decimal | None:
    """Annualised Sharpe ratio of daily returns (√252, risk-free rate 0, sample variance);
    None with fewer than two returns or none that vary."""
    with localcontext() as ctx:
        ctx.prec = 28
        returns = period_returns(equity, start=start)
        if len(returns) < 2:
            return None
        mean = sum(returns, ZERO) / len(returns)
        var = sum(((r - mean) ** 2 for r in returns), ZERO) / (len(returns) - 1)
        if var <= 0:
            return None
        return mean / var.sqrt() * Decimal(TRADING_DAYS_PER_YEAR).sqrt()
