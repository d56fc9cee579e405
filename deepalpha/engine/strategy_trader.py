"""A rule-based trader that runs an engine strategy on live (or simulated) quotes.

Quotes are folded into bars of ``bar_seconds`` of market time; at each bar's close the strategy
decides, and its market orders go to the broker at once (they fill on the next quote, in
continuous trading). The same strategies run in backtests, where orders wait for the next bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from deepalpha.engine.backtest.strategies import Strategy
from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import QuoteEvent, TradingDayEvent
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.sessions import MARKET_TZ
from deepalpha.engine.markets.symbols import market_of
from deepalpha.engine.orders import OrderRequest, OrderType, Side


@dataclass(slots=True)
class _Building:
    start: int  # bucket number
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume_at_open: int
    volume: int
    time: datetime


class StrategyTrader:
    def __init__(
        self,
        trader_id: str,
        strategy: Strategy,
        symbols: list[str],
        broker: PaperBroker,
        *,
        bar_seconds: int = 300,
    ) -> None:
        self.trader_id = trader_id
        self.strategy = strategy
        self.symbols = set(symbols)
        self.broker = broker
        self.bar_seconds = bar_seconds
        self.running = True
        self._bars: dict[str, _Building] = {}
        self.decisions = 0

    # StrategyContext
    def position(self, symbol: str) -> int:
        pos = self.broker.portfolio(self.trader_id).positions.get(symbol)
        return pos.quantity if pos is not None else 0

    def has_open_order(self, symbol: str) -> bool:
        return any(o.trader_id == self.trader_id for o in self.broker.book.get(symbol, ()))

    def board_lot(self, symbol: str) -> int:
        return self.broker.instruments.get(symbol).board_lot

    def order_next_bar(self, symbol: str, side: Side, quantity: int) -> None:
        if self.broker.suspended:
            return  # the ledger cannot be written: a signal now would only be rejected
        if side is Side.SELL:
            pos = self.broker.portfolio(self.trader_id).positions.get(symbol)
            quantity = min(quantity, pos.available if pos else 0)  # T+1: only what is sellable
            if quantity <= 0:
                return
        self.broker.submit(
            OrderRequest(
                self.trader_id, symbol, side, quantity, OrderType.MARKET, source="strategy"
            )
        )

    # feed
    def attach(self, bus: EventBus) -> None:
        bus.on(QuoteEvent, self.on_quote)
        bus.on(TradingDayEvent, self._on_day)

    def _on_day(self, event: TradingDayEvent) -> None:
        if not event.started:
            # A bar never spans the close: drop what was building.
            for symbol in [s for s in self._bars if market_of(s) is event.market]:
                del self._bars[symbol]

    def on_quote(self, event: QuoteEvent) -> None:
        q: Quote = event.quote
        if q.symbol not in self.symbols:
            return
        bucket = int(q.time.timestamp()) // self.bar_seconds
        bar = self._bars.get(q.symbol)
        if bar is not None and bucket != bar.start:
            self._close(q.symbol, bar)
            bar = None
        if bar is None:
            self._bars[q.symbol] = _Building(
                bucket, q.last, q.last, q.last, q.last, q.volume, q.volume, q.time
            )
            return
        bar.high = max(bar.high, q.last)
        bar.low = min(bar.low, q.last)
        bar.close = q.last
        bar.volume = q.volume
        bar.time = q.time

    def _close(self, symbol: str, b: _Building) -> None:
        if not self.running:
            return
        day = b.time.astimezone(MARKET_TZ[market_of(symbol)]).date()
        bar = Bar(
            symbol, b.time, day, b.open, b.high, b.low, b.close, max(0, b.volume - b.volume_at_open)
        )
        self.decisions += 1
        self.strategy.on_bar(bar, self)
