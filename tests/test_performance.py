"""Trader performance is defined once (engine.performance): drawdown and Sharpe of an equity
path that starts with the money put in; the backtest report and the AI's context use it."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from deepalpha.engine.ai.context import compute_performance
from deepalpha.engine.performance import max_drawdown, period_returns, sharpe

D = Decimal


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
