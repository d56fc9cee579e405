"""Market data the feeds produce: quotes (live or simulated) and bars (replay)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from deepalpha.engine.markets.rules import LISTED, DayStatus


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    time: datetime
    last: Decimal
    bid: Decimal | None  # None: no buyers (e.g. sealed at limit-down)
    ask: Decimal | None  # None: no sellers (e.g. sealed at limit-up)
    bid_size: int = 0
    ask_size: int = 0
    volume: int = 0  # shares traded today so far
    turnover: Decimal = Decimal(0)
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    pre_close: Decimal | None = None
    limit_up: Decimal | None = None
    limit_down: Decimal | None = None

    @property
    def change_pct(self) -> Decimal | None:
        if not self.pre_close:
            return None
        return (self.last - self.pre_close) / self.pre_close * 100


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar, labelled by its end time (aware). ``volume`` is in shares."""

    symbol: str
    time: datetime
    trading_day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    amount: Decimal | None = None
    pre_close: Decimal | None = None  # the reference price of the trading day
    status: DayStatus = LISTED
    name: str | None = None
