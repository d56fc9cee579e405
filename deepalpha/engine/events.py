"""Typed events on the bus: feed → engine → subscribers (storage writer, TUI, API, metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Fill, Order


class Event:
    """Base of every bus event."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class QuoteEvent(Event):
    quote: Quote


@dataclass(frozen=True, slots=True)
class BarEvent(Event):
    bar: Bar


@dataclass(frozen=True, slots=True)
class OrderEvent(Event):
    order: Order  # a snapshot


@dataclass(frozen=True, slots=True)
class FillEvent(Event):
    fill: Fill


@dataclass(frozen=True, slots=True)
class PositionEvent(Event):
    trader_id: str
    symbol: str
    quantity: int
    sellable: int
    cost_basis: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class AccountEvent(Event):
    trader_id: str
    currency: str
    cash: Decimal
    frozen: Decimal


@dataclass(frozen=True, slots=True)
class SessionEvent(Event):
    market: Market
    phase: Phase
    time: datetime
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class TradingDayEvent(Event):
    """A market's trading day began (T+1 roll done) or ended (day orders expired)."""

    market: Market
    day: date
    started: bool


@dataclass(frozen=True, slots=True)
class EquityEvent(Event):
    trader_id: str
    day: date
    time: datetime
    cash: Decimal
    market_value: Decimal
    equity: Decimal


@dataclass(frozen=True, slots=True)
class TraderHaltedEvent(Event):
    trader_id: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class NotificationEvent(Event):
    severity: str  # information | warning | error
    message: str
