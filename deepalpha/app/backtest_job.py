"""One backtest from files and settings to the JSON report: the CLI and the TUI both run it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from deepalpha.app.settings import Settings
from deepalpha.engine.backtest.report import build_report
from deepalpha.engine.backtest.runner import BacktestConfig, BacktestResult, run_backtest
from deepalpha.engine.backtest.scripted import OrdersFileError, load_orders
from deepalpha.engine.backtest.strategies import StrategyError, build_strategy
from deepalpha.engine.feeds.csv_replay import BarFileError, VolumeUnit, load_bar_files
from deepalpha.engine.markets.instruments import InstrumentFileError, InstrumentRegistry


class BacktestInputError(ValueError):
    """Bad input to a backtest: one clear line for the person who gave it."""


def prepare(
    settings: Settings,
    data: list[Path],
    cash: Decimal,
    strategy: str | None,
    params: dict[str, str],
    orders_file: Path | None,
    *,
    start: date | None = None,
    end: date | None = None,
    instruments_file: Path | None = None,
    volume_unit: str = "auto",
    participation: Decimal | None = None,
) -> tuple[Any, ...]:
    if not data:
        raise BacktestInputError("choose at least one bar file")
    if (strategy is None) == (orders_file is None):
        raise BacktestInputError("choose a strategy or an orders file (one of the two)")
    if params and not strategy:
        raise BacktestInputError("--param applies to --strategy only")
    if start and end and start > end:
        raise BacktestInputError(f"--start {start} is after --end {end}")
    instruments = InstrumentRegistry.default()
    try:
        if instruments_file:
            instruments.load_file(instruments_file)
        strat = build_strategy(strategy, params) if strategy else None
        scripted = load_orders(orders_file) if orders_file else ()
        series = load_bar_files(data, instruments, VolumeUnit(volume_unit))
    except (BarFileError, OrdersFileError, StrategyError, InstrumentFileError) as exc:
        raise BacktestInputError(str(exc)) from None
    config = BacktestConfig(
        cash=cash,
        start=start,
        end=end,
        fees=settings.fees.schedule(),
        limit_rules=settings.rules.limits(),
        participation=participation or settings.backtest.participation,
        slippage_bps=settings.backtest.slippage_bps,
        fx={"CNY": Decimal(1), "HKD": settings.market.hkd_cny},
    )
    return series, config, instruments, strat, scripted


def execute(
    prepared: tuple[Any, ...], progress: Callable[[int, int], None] | None = None
) -> BacktestResult:
    series, config, instruments, strat, scripted = prepared
    result = run_backtest(
        series, config, instruments, strategy=strat, scripted=scripted, progress=progress
    )
    if result.bars == 0:
        raise BacktestInputError("no bars between --start and --end")
    return result


def run_backtest_job(
    settings: Settings,
    data: list[Path],
    cash: Decimal,
    strategy: str | None,
    params: dict[str, str],
    orders_file: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    prepared = prepare(settings, data, cash, strategy, params, orders_file)
    return build_report(execute(prepared, progress))
