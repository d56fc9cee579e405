"""The backtest loop: replayed bars through the paper broker, as fast as the CPU allows.

Per bar, in time order: a new trading day closes the previous one (day orders expire, equity is
snapshotted) and rolls T+1; the broker matches the bar: first the orders resting from earlier
bars, then the orders due on this bar (strategy signals from the symbol's previous bar, then
scripted orders of this date/time, in file order), each validated and matched before the next,
so an order sees what the ones before it did; the strategy sees the bar's close. With an AI
trader, once all bars of a moment are matched the trader checks its exits and, when due, runs a
decision cycle (see ``backtest.ai``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from deepalpha.engine.ai.records import DecisionRecord
from deepalpha.engine.backtest.ai import AiDriver, AiSetup, AiSummary
from deepalpha.engine.backtest.scripted import ScriptedOrder
from deepalpha.engine.backtest.strategies import Strategy
from deepalpha.engine.broker import BrokerSettings, PaperBroker
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.feeds.csv_replay import BarSeries, merge
from deepalpha.engine.ids import sequential
from deepalpha.engine.marketdata import Bar
from deepalpha.engine.markets.fees import FeeSchedule
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.rules import PriceLimitRules
from deepalpha.engine.markets.sessions import MARKET_TZ
from deepalpha.engine.markets.symbols import CURRENCY, Market
from deepalpha.engine.orders import Fill, Order, OrderRequest, OrderType, RejectCode, Side
from deepalpha.engine.performance import RoundTrips, round_trips
from deepalpha.engine.portfolio import EquitySnapshot
from deepalpha.i18n import Msg

TRADER = "backtest"
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    cash: Decimal  # initial cash in each currency the data trades in
    start: date | None = None
    end: date | None = None
    fees: FeeSchedule = FeeSchedule()
    limit_rules: PriceLimitRules = PriceLimitRules()
    participation: Decimal = Decimal("0.25")
    slippage_bps: Decimal = Decimal(0)
    # CNY per unit of each currency; the report is in CNY when A-shares are in the data.
    fx: dict[str, Decimal] = field(
        default_factory=lambda: {"CNY": Decimal(1), "HKD": Decimal("0.92")}
    )


@dataclass(slots=True)
class BacktestResult:
    config: BacktestConfig
    strategy: str
    base_currency: str
    symbols: list[str]
    bars: int
    orders: list[Order]
    fills: list[Fill]
    equity: list[EquitySnapshot]
    initial_cash: Decimal
    final_equity: Decimal
    fees_total: Decimal
    trips: RoundTrips
    decisions: list[DecisionRecord] = field(default_factory=list)  # AI runs: one per cycle
    ai: AiSummary | None = None
    # What the person should know about how the run read its input, e.g. a strategy size
    # rounded down to a board lot.
    notes: list[str] = field(default_factory=list)


class _Context:
    """What a strategy may see and do; orders wait for the symbol's next bar."""

    __slots__ = ("broker", "instruments", "portfolio", "queued")

    def __init__(self, broker: PaperBroker) -> None:
        self.broker = broker
        self.instruments = broker.instruments
        self.portfolio = broker.portfolio(TRADER)
        self.queued: dict[str, list[OrderRequest]] = {}

    def position(self, symbol: str) -> int:
        pos = self.portfolio.positions.get(symbol)
        return pos.quantity if pos is not None else 0

    def has_open_order(self, symbol: str) -> bool:
        return bool(self.broker.book.get(symbol)) or symbol in self.queued

    def board_lot(self, symbol: str) -> int:
        return self.instruments.get(symbol).board_lot

    def order_next_bar(self, symbol: str, side: Side, quantity: int) -> None:
        self.queued.setdefault(symbol, []).append(
            OrderRequest(TRADER, symbol, side, quantity, OrderType.MARKET, source="strategy")
        )


def run_backtest(
    series: Sequence[BarSeries],
    config: BacktestConfig,
    instruments: InstrumentRegistry,
    *,
    strategy: Strategy | None = None,
    scripted: Sequence[ScriptedOrder] = (),
    ai: AiSetup | None = None,
    progress: ProgressFn | None = None,
) -> BacktestResult:
    # A backtest makes millions of short-lived objects (bars, Decimals, orders) without
    # reference cycles; the cyclic collector would scan them every 700 allocations for
    # nothing (about 15 % of the run), so it runs less often until the replay is done.
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    try:
        return _run(series, config, instruments, strategy, scripted, ai, progress)
    finally:
        gc.set_threshold(*threshold)


def _run(
    series: Sequence[BarSeries],
    config: BacktestConfig,
    instruments: InstrumentRegistry,
    strategy: Strategy | None,
    scripted: Sequence[ScriptedOrder],
    ai: AiSetup | None,
    progress: ProgressFn | None,
) -> BacktestResult:
    if not series:
        raise ValueError("no bars to replay")
    if ai is not None and not all(s.intraday for s in series):
        # A decision cycle runs every N minutes of continuous trading: daily bars have none.
        daily = ", ".join(str(s.source) for s in series if not s.intraday)
        raise ValueError(f"an AI trader needs intraday bars; daily: {daily}")
    # Before anything runs: a strategy size below a board lot is an error, not an empty run.
    notes = strategy.lot_notes([s.instrument for s in series]) if strategy is not None else []
    markets = {s.instrument.market for s in series}
    base = "CNY" if Market.CN in markets else "HKD"
    first = min(s.bars[0].time for s in series if s.bars)
    clock = ManualClock(first)
    broker = PaperBroker(
        instruments,
        clock,
        settings=BrokerSettings(
            fees=config.fees,
            limit_rules=config.limit_rules,
            slippage_bps=config.slippage_bps,
            participation=config.participation,
            check_sessions=False,
        ),
        id_factory=sequential(),
        fill_id_factory=sequential("F"),
    )
    broker.fills = []
    book = broker.add_trader(TRADER, {CURRENCY[m]: config.cash for m in sorted(markets)})
    pf = book.portfolio
    pf.base_currency = base
    pf.fx = dict(config.fx)
    ctx = _Context(broker)
    intraday = {s.symbol: s.intraday for s in series}
    market_of = {s.symbol: Market.HK if s.symbol.endswith(".HK") else Market.CN for s in series}

    # Scripted orders wait for the bar of their date (daily) or time (intraday).
    due: dict[tuple[str, date | datetime], list[ScriptedOrder]] = {}
    for so in scripted:
        due.setdefault((so.symbol, so.when), []).append(so)

    total = sum(len(s.bars) for s in series)
    step = max(1, total // 200)
    done = 0
    current_day: date | None = None
    # The markets that have started the current day, with the time of their continuous open:
    # when a daily bar's fills happen (an intraday bar's fills happen at its label).
    active: dict[Market, datetime] = {}
    queued = ctx.queued
    on_bar = strategy.on_bar if strategy is not None else None
    match_bar = broker.on_bar
    driver = (
        AiDriver(ai, broker, clock, TRADER, [s.symbol for s in series]) if ai is not None else None
    )
    # The bars of the moment being replayed: an AI trader acts once all of them are matched.
    moment: datetime | None = None
    moment_bars: list[Bar] = []

    def close_day(day: date) -> None:
        clock.set(max(clock.now(), datetime.combine(day, time(16, 10), MARKET_TZ[Market.HK])))
        for m in sorted(active):
            broker.end_day(m, day)
        active.clear()
        broker.snapshot_equity(day)

    try:
        for bar in merge(series, config.start, config.end):
            if driver is not None and bar.time != moment:
                if moment is not None:
                    driver.at(moment, moment_bars, active)
                moment, moment_bars = bar.time, []
            day = bar.trading_day
            symbol = bar.symbol
            if day != current_day:
                if current_day is not None:
                    close_day(current_day)
                current_day = day
            market = market_of[symbol]
            open_at = active.get(market)
            if open_at is None:
                open_at = active[market] = datetime.combine(day, time(9, 30), MARKET_TZ[market])
                clock.set(max(clock.now(), open_at))
                broker.start_day(market, day)
            clock.set(bar.time if intraday[symbol] else open_at)
            waiting = queued.pop(symbol, None)
            if due:
                key = (symbol, bar.time.replace(tzinfo=None) if intraday[symbol] else day)
                scripted_now = due.pop(key, None)
                if scripted_now:
                    waiting = (waiting or []) + [so.request(TRADER) for so in scripted_now]
            match_bar(bar, waiting or ())
            if on_bar is not None:
                clock.set(bar.time)
                on_bar(bar, ctx)
            if driver is not None:
                driver.on_bar(bar)
                moment_bars.append(bar)
            done += 1
            if progress is not None and done % step == 0:
                progress(done, total)
        if driver is not None and moment is not None:
            driver.at(moment, moment_bars, active)
    finally:
        if driver is not None:
            driver.close()
    if current_day is not None:
        close_day(current_day)
    # Scripted orders that never met a bar: suspended, not a trading day, or outside the data.
    for (symbol, when), items in sorted(due.items(), key=lambda kv: str(kv[0][1])):
        for so in items:
            broker.record_rejected(
                so.request(TRADER),
                RejectCode.MARKET_CLOSED,
                Msg("backtest.no_bar", line=so.line, symbol=symbol, when=str(when)),
            )
    if progress is not None:
        progress(total, total)
    fills = broker.fills or []
    return BacktestResult(
        config=config,
        strategy=strategy.name if strategy is not None else "ai" if ai is not None else "orders",
        base_currency=base,
        symbols=[s.symbol for s in series],
        bars=done,
        orders=list(broker.orders.values()),
        fills=fills,
        equity=list(pf.snapshots),
        initial_cash=pf.deposits_total(),
        final_equity=pf.equity(),
        fees_total=pf.fees_total(),
        trips=round_trips(fills),
        decisions=driver.records if driver is not None else [],
        ai=driver.summary() if driver is not None else None,
        notes=notes,
    )
