"""Trader performance is defined once (engine.performance): drawdown and Sharpe of an equity
path that starts with the money put in, win rate and profit factor of the round trips the sell
fills closed; the backtest report, the AI's context and the dashboard use it."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime
from decimal import Decimal

import pytest

from deepalpha.engine.ai.context import compute_performance
from deepalpha.engine.markets.fees import FeeBreakdown
from deepalpha.engine.markets.sessions import SHANGHAI
from deepalpha.engine.orders import Fill, Side
from deepalpha.engine.performance import (
    RoundTrips,
    closes_round_trip,
    is_win,
    max_drawdown,
    period_returns,
    profit_factor,
    round_trips,
    sharpe,
    win_rate,
)

D = Decimal
_ids = itertools.count()


def fill(side: str, quantity: int, price: str, pnl: str = "0") -> Fill:
    """A fill of 600519.SH; a sell's realised P&L is after the fees of both legs (the broker
    works it out; here it is given)."""
    amount = D(price) * quantity
    return Fill(
        id=f"f{next(_ids)}",
        order_id="o",
        trader_id="t1",
        symbol="600519.SH",
        side=Side(side),
        quantity=quantity,
        price=D(price),
        amount=amount,
        fees=FeeBreakdown(commission=D(5)),
        time=datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI),
        trading_day=date(2026, 3, 2),
        currency="CNY",
        realized_pnl=D(pnl),
    )


# Buy 1,000 and close it in two parts (a gain, then a loss), then a trip closed at exactly
# break-even and one more small gain.
HISTORY = [
    fill("buy", 1000, "10.00"),
    fill("sell", 400, "10.32", "120.50"),
    fill("sell", 600, "9.96", "-30.25"),
    fill("buy", 500, "20.00"),
    fill("sell", 500, "20.02", "0.00"),
    fill("buy", 100, "30.00"),
    fill("sell", 100, "30.15", "9.75"),
]


def test_max_drawdown_is_the_deepest_fall_from_a_peak() -> None:
    days = [D(100), D(120), D(90), D(130)]
    assert max_drawdown([*days, D(117)]) == D("0.25")  # 120 → 90
    assert max_drawdown([*days[:2], D(96)]) == D("0.2")  # today's equity counts too
    assert max_drawdown([D(100)]) == 0
    assert max_drawdown([]) is None
    # Below the money put in on the first day is a drawdown too.
    assert max_drawdown([D(95)], start=D(100)) == D("0.05")
    assert max_drawdown([*days, D(130)], start=D(200)) == D("0.55")  # 200 → 90


def test_sharpe_of_daily_returns_annualised() -> None:
    path = [D(101), D(99), D(103), D(104)]
    returns = [float(r) for r in period_returns(path, start=D(100))]
    assert returns == pytest.approx([0.01, -0.0198019802, 0.0404040404, 0.0097087379])
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    ratio = sharpe(path, start=D(100))
    assert ratio is not None and float(ratio) == pytest.approx(mean / std * math.sqrt(252))
    assert sharpe([D(100), D(101)]) is None  # one return: no variance to speak of
    assert sharpe([D(100), D(100), D(100)]) is None


def test_the_ai_context_reads_the_same_numbers_as_the_dashboard() -> None:
    """The dashboard's path is the deposits, each day's close and equity now; the context,
    given the same, says the same (it computed its own, with numpy, before)."""
    path, start = [D(100_000), D(96_000), D(99_000), D(97_500)], D(100_000)
    p = compute_performance([], path, start=start)
    dashboard = max_drawdown(path, start=start)
    assert dashboard is not None and p.max_drawdown == float(dashboard) == 0.04
    ratio = sharpe(path, start=start)
    assert ratio is not None and p.sharpe == float(ratio)


def test_each_sell_fill_closes_a_round_trip_partial_closes_included() -> None:
    trips = round_trips(HISTORY)
    assert trips == RoundTrips(closed=4, won=2, gross_profit=D("130.25"), gross_loss=D("30.25"))
    assert trips.win_rate == D("0.5")  # break-even is a trip but not a win
    assert trips.profit_factor is not None
    assert trips.profit_factor.quantize(D("0.0001")) == D("4.3058")  # 130.25 / 30.25
    assert trips.realized_pnl == D("100.00")


def test_a_trader_who_only_lost_has_a_win_rate_and_profit_factor_of_zero() -> None:
    losses = [
        fill("buy", 200, "10.00"),
        fill("sell", 100, "9.90", "-15.00"),
        fill("sell", 100, "9.80", "-25.40"),
    ]
    trips = round_trips(losses)
    assert (trips.closed, trips.won, trips.gross_loss) == (2, 0, D("40.40"))
    assert trips.win_rate == 0 and trips.profit_factor == 0


def test_without_a_loss_there_is_no_profit_factor() -> None:
    """Gross profit over no loss is no number a report or a prompt could show: None (the
    report's null, the prompt's "n/a"), not an infinity."""
    winner = round_trips([fill("buy", 100, "10"), fill("sell", 100, "11", "90")])
    assert winner.win_rate == 1 and winner.profit_factor is None
    even = round_trips([fill("sell", 100, "10", "0")])
    assert (even.closed, even.won, even.win_rate, even.profit_factor) == (1, 0, 0, None)
    none = round_trips([fill("buy", 100, "10")])  # bought, nothing closed yet
    assert none == RoundTrips() and none.win_rate is None and none.profit_factor is None
    assert win_rate(0, 0) is None and profit_factor(D(0), D(0)) is None


def test_the_ai_context_and_the_dashboard_count_the_same_trips() -> None:
    """The context's figures are the report's (floats only for the prompt); the dashboard
    counts (closed, won) as the fills arrive and divides with the same ``win_rate``."""
    p = compute_performance(HISTORY, [])
    assert (p.trades, p.win_rate, p.realized_pnl) == (4, 0.5, D("100.00"))
    assert p.profit_factor == float(D("130.25") / D("30.25"))
    assert p.fees_paid == D(35)  # every fill's fees, buys too
    closed = won = 0
    for f in HISTORY:  # as LocalBackend counts live fills
        if closes_round_trip(f):
            closed += 1
            won += is_win(f)
    assert (closed, won) == (4, 2)
    assert win_rate(won, closed) == round_trips(HISTORY).win_rate
