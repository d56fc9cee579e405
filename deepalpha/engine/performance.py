"""Trader performance, defined once: the backtest report, the AI's context and the dashboard
read the same drawdown and Sharpe ratio of the same equity path, and the same win rate and
profit factor of the same round trips, so the screen and the model's prompt cannot disagree
about a trader.

An equity path is the money put in (``start``), then each day's closing equity, then — for a
live trader — the equity now. Decimal throughout: a ratio shown to a person to two places must
not depend on float rounding.

A round trip is closed by each sell fill (the market has no short selling, so every sell closes
shares bought before): a partial close is a round trip of its own. Its result is the fill's
realised P&L — proceeds less fees less the cost of the shares sold — so fees on both legs count.
It is won when that is above zero; a close at exactly break-even is a trip, not a win, and adds
nothing to the gross loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from deepalpha.engine.money import ZERO
from deepalpha.engine.orders import Fill, Side

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


def closes_round_trip(fill: Fill) -> bool:
    """Whether the fill closes a round trip (a sell: all of a position or a part of it)."""
    return fill.side is Side.SELL


def is_win(fill: Fill) -> bool:
    """Whether a closing fill won: its realised P&L after fees above zero."""
    return fill.realized_pnl > 0


def win_rate(won: int, closed: int) -> Decimal | None:
    """The share of round trips won, 0..1; None before the first one closes."""
    return Decimal(won) / closed if closed else None


def profit_factor(gross_profit: Decimal, gross_loss: Decimal) -> Decimal | None:
    """Gross profit ÷ gross loss (the losses as a positive sum). 0 for a trader who only lost;
    None without a loss to divide by — no trips, only winners or break-evens — rather than an
    infinity that no report, prompt or screen could show as a number."""
    return gross_profit / gross_loss if gross_loss > 0 else None


@dataclass(frozen=True, slots=True)
class RoundTrips:
    """The round trips a list of fills closed (see the module docstring)."""

    closed: int = 0
    won: int = 0
    gross_profit: Decimal = ZERO  # the winners' realised P&L
    gross_loss: Decimal = ZERO  # the losers' realised P&L, as a positive amount

    @property
    def win_rate(self) -> Decimal | None:
        return win_rate(self.won, self.closed)

    @property
    def profit_factor(self) -> Decimal | None:
        return profit_factor(self.gross_profit, self.gross_loss)

    @property
    def realized_pnl(self) -> Decimal:
        """What the round trips made, net."""
        return self.gross_profit - self.gross_loss


def round_trips(fills: Iterable[Fill]) -> RoundTrips:
    """Count and weigh the round trips among ``fills`` (buys are skipped)."""
    closed = won = 0
    gross_profit = gross_loss = ZERO
    for fill in fills:
        if not closes_round_trip(fill):
            continue
        closed += 1
        if is_win(fill):
            won += 1
            gross_profit += fill.realized_pnl
        else:
            gross_loss -= fill.realized_pnl
    return RoundTrips(closed, won, gross_profit, gross_loss)
