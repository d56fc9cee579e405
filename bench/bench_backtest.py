"""(a) sma_cross over a generated universe, through DeepAlpha and through backtrader.

Both engines get the same bars (see ``bench.universe``), the same rule and the same fees:

- SMA(5)/SMA(20) per symbol; when SMA(5) crosses above and the symbol is flat (no open order),
  buy 1,000 shares; when it crosses below, sell everything held. Signals at a bar's close go to
  the market at the next bar's open (backtrader's default; cheat-on-open off).
- A-share fees per order, each item rounded half-up to the fen: commission 0.025 % min ¥5,
  CSDC transfer fee 0.001 % (since 2022-04-29), stamp duty 0.05 % on sells (since 2023-08-28).
- No price limit is ever reached, no volume cap binds (backtrader: no filler, whole orders
  fill) and cash never binds (¥1e9), so the two engines' rules coincide and the final equity
  must be equal to the cent.

Each engine runs ``repeat`` times and the fastest run counts. Only the run is timed: generating
the bars and building the feeds are excluded for both. backtrader loads (preloads) its feeds
inside ``cerebro.run()``; that loading is timed on its own and subtracted. backtrader runs in
its fastest mode (runonce, preload, no observers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bench import CLOCK, BenchResult, timed
from bench.universe import check_universe, generate_universe
from deepalpha.engine.backtest.runner import BacktestConfig, BacktestResult, run_backtest
from deepalpha.engine.backtest.strategies import SmaCross
from deepalpha.engine.feeds.csv_replay import BarSeries
from deepalpha.engine.markets.instruments import InstrumentRegistry

FAST, SLOW, QTY = 5, 20, 1000
CASH = Decimal(10**9)
FEN = Decimal("0.01")

# A-share fees after 2023-08-28, written out here rather than imported, so that the comparison
# also checks DeepAlpha's fee code.
COMMISSION_RATE, COMMISSION_MIN = Decimal("0.00025"), Decimal(5)
TRANSFER_FEE_RATE = Decimal("0.00001")  # CSDC, both sides, since 2022-04-29
STAMP_DUTY_RATE = Decimal("0.0005")  # sells only, since 2023-08-28


def a_share_order_fees(price: float, size: float) -> Decimal:
    """The fees of one order of ``size`` shares (negative: a sell) at ``price``."""
    amount = Decimal(price).quantize(FEN, ROUND_HALF_UP) * abs(int(size))
    if amount == 0:
        return Decimal(0)

    def fen(x: Decimal) -> Decimal:
        return x.quantize(FEN, ROUND_HALF_UP)

    fees = max(fen(amount * COMMISSION_RATE), COMMISSION_MIN) + fen(amount * TRANSFER_FEE_RATE)
    if size < 0:
        fees += fen(amount * STAMP_DUTY_RATE)
    return fees


def _backtrader_classes() -> tuple[Any, Any, Any]:
    """backtrader's classes, imported only when the benchmark runs (a bench-only dependency)."""
    import backtrader as bt

    class AShareFees(bt.CommInfoBase):
        params = (
            ("stocklike", True),
            ("commtype", bt.CommInfoBase.COMM_FIXED),
        )

        def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
            # Every order fills whole in one execution, so per execution is per order.
            return float(a_share_order_fees(price, size))

    class ListFeed(bt.feed.DataBase):
        """Daily bars from a prepared list; time spent loading is added to ``loading``."""

        params = (("rows", None),)
        loading = (0.0, 0.0)  # CPU and wall seconds spent preloading, over every feed

        def start(self) -> None:
            super().start()
            self._next = iter(self.p.rows)

        def preload(self) -> None:
            cpu, wall = CLOCK(), time.perf_counter()
            super().preload()
            spent_cpu, spent_wall = type(self).loading
            type(self).loading = (
                spent_cpu + CLOCK() - cpu,
                spent_wall + time.perf_counter() - wall,
            )

        def _load(self) -> bool:
            row = next(self._next, None)
            if row is None:
                return False
            lines = self.lines
            (
                lines.datetime[0],
                lines.open[0],
                lines.high[0],
                lines.low[0],
                lines.close[0],
                lines.volume[0],
            ) = row
            lines.openinterest[0] = 0.0
            return True

    class SmaCrossBT(bt.Strategy):
        params = (("fast", FAST), ("slow", SLOW), ("qty", QTY))

        def __init__(self) -> None:
            self.cross = [
                bt.ind.CrossOver(
                    bt.ind.SMA(d.close, period=self.p.fast),
                    bt.ind.SMA(d.close, period=self.p.slow),
                )
                for d in self.datas
            ]
            self.pending = [0] * len(self.datas)
            self.index = {id(d): i for i, d in enumerate(self.datas)}
            self.executions = 0

        def notify_order(self, order: Any) -> None:
            i = self.index[id(order.data)]
            if order.status == order.Completed:
                self.executions += 1
            if not order.alive():
                self.pending[i] -= 1

        def next(self) -> None:
            for i, d in enumerate(self.datas):
                signal = self.cross[i][0]
                if signal > 0:
                    if self.getposition(d).size == 0 and not self.pending[i]:
                        self.pending[i] += 1
                        self.buy(data=d, size=self.p.qty)
                elif signal < 0:
                    held = self.getposition(d).size
                    if held > 0 and not self.pending[i]:
                        self.pending[i] += 1
                        self.sell(data=d, size=held)

    return AShareFees, ListFeed, SmaCrossBT


def prepare_backtrader(
    series: list[BarSeries],
) -> Callable[[], tuple[float, int, tuple[float, float]]]:
    """A ready Cerebro; calling the result runs it: final value, executions, and the CPU and
    wall seconds spent loading the feeds."""
    import backtrader as bt

    fees_cls, feed_cls, strategy_cls = _backtrader_classes()
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(float(CASH))
    cerebro.broker.set_coo(False)  # no cheat-on-open: a signal at a close fills at the next open
    cerebro.broker.set_coc(False)
    cerebro.broker.set_filler(None)  # no volume cap: every order fills whole
    cerebro.broker.addcommissioninfo(fees_cls())
    for s in series:
        rows = [
            (
                bt.date2num(datetime.combine(b.trading_day, datetime.min.time())),
                float(b.open),
                float(b.high),
                float(b.low),
                float(b.close),
                float(b.volume),
            )
            for b in s.bars
        ]
        cerebro.adddata(feed_cls(rows=rows), name=s.symbol)
    cerebro.addstrategy(strategy_cls)

    def run() -> tuple[float, int, tuple[float, float]]:
        feed_cls.loading = (0.0, 0.0)
        strat = cerebro.run()[0]
        return cerebro.broker.getvalue(), strat.executions, feed_cls.loading

    return run


def run(quick: bool = False, repeat: int = 3) -> list[BenchResult]:
    symbols, days = (20, 500) if quick else (100, 2000)
    instruments = InstrumentRegistry()
    series = generate_universe(symbols, days, tie_free=(FAST, SLOW), instruments=instruments)
    check_universe(series, tie_free=(FAST, SLOW), largest_order=QTY)
    bars = sum(len(s.bars) for s in series)

    def deepalpha() -> BacktestResult:
        return run_backtest(
            series, BacktestConfig(cash=CASH), instruments, strategy=SmaCross(FAST, SLOW, QTY)
        )

    bt_run = prepare_backtrader(series)
    # The engines take turns, so both meet the same conditions on a busy machine.
    da_runs: list[tuple[float, float, BacktestResult]] = []
    bt_runs: list[tuple[float, float, float, int, float]] = []
    for _ in range(max(1, repeat)):
        da_result, cpu, wall = timed(deepalpha)
        da_runs.append((cpu, wall, da_result))
        (value, executions, (load_cpu, load_wall)), cpu, wall = timed(bt_run)
        bt_runs.append((cpu - load_cpu, wall - load_wall, value, executions, load_cpu))
    da_seconds, da_wall, da = min(da_runs, key=lambda r: r[:2])
    assert da.bars == bars
    assert len({r[2].final_equity for r in da_runs}) == 1, "DeepAlpha runs differ"
    assert len({r[2:4] for r in bt_runs}) == 1, "backtrader runs differ"
    bt_seconds, bt_wall, bt_value, bt_executions, bt_loading = min(bt_runs)

    da_equity = da.final_equity.quantize(FEN)
    # backtrader keeps cash in floats; the true value is a whole number of fen and the float
    # error of ~10⁴ operations on 1e9 is far below half a fen, so rounding recovers it.
    bt_equity = Decimal(f"{bt_value:.2f}")
    equal = da_equity == bt_equity and len(da.fills) == bt_executions
    verdict = "EQUAL" if equal else "DIFFERENT"
    check = f"cpu s; final equity {da_equity} vs {bt_equity} ({len(da.fills)} fills): {verdict}"
    universe = {"symbols": symbols, "days": days}
    baseline = BenchResult(
        "backtest.backtrader",
        bars,
        "bars",
        bt_seconds,
        wall_seconds=bt_wall,
        check=f"cpu s; {bt_executions} executions; feed loading {bt_loading:.2f}s excluded",
        extra={"final_equity": str(bt_equity), "fills": bt_executions, **universe},
    )
    ours = BenchResult(
        "backtest.deepalpha",
        bars,
        "bars",
        da_seconds,
        wall_seconds=da_wall,
        check=check,
        ok=equal,
        extra={
            "final_equity": str(da_equity),
            "fills": len(da.fills),
            "equal_equity": equal,
            "target_ratio": 10,
            **universe,
        },
    ).against(baseline)
    return [baseline, ours]
