"""Typed events on the bus: feed → engine → subscribers (storage writer, TUI, API, metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Fill, Order

if TYPE_CHECKING:  # the AI modules are not needed to start the workstation
    from deepalpha.engine.ai.records import DecisionRecord


class Event:
    """Base of every bus event."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class QuoteEvent(Event):
    quote: Quote


@dataclass(frozen=True, slots=True)
class OrderEvent(Event):
    order: Order  # a snapshot


@dataclass(frozen=True, slots=True)
class PositionState:
    """A position as it stands after a change (what storage keeps)."""

    trader_id: str
    symbol: str
    currency: str
    quantity: int
    sellable: int
    cost_basis: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    last_price: Decimal | None
    opened_at: datetime | None


@dataclass(frozen=True, slots=True)
class AccountState:
    trader_id: str
    currency: str
    cash: Decimal
    frozen: Decimal
    deposits: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal


@dataclass(frozen=True, slots=True)
class FillEvent(Event):
    """A fill with everything it changed, so storage can write it as one transaction."""

    fill: Fill
    order: Order  # a snapshot after the fill
    position: PositionState
    account: AccountState


@dataclass(frozen=True, slots=True)
class PositionEvent(Event):
    position: PositionState


@dataclass(frozen=True, slots=True)
class AccountEvent(Event):
    account: AccountState


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
    # Each trader's equity as the day began (the daily-loss kill switch measures from it).
    day_start_equity: tuple[tuple[str, Decimal], ...] = ()


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


@dataclass(frozen=True, slots=True)
class StorageEvent(Event):
    """Writing the ledger failed (``ok`` False, with why) or works again (``ok`` True)."""

    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class DecisionEvent(Event):
    """An AI decision cycle recorded, or its record updated (a proposal answered); storage
    upserts it by the record's id."""

    record: DecisionRecord


@dataclass(frozen=True, slots=True)
class MarketStateEvent(Event):
    """The simulated market as it stands (prices, days, random state, time), as JSON-safe
    data: storage keeps the latest, and a restart continues from it."""

    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AiStateEvent(Event):
    """What an AI trader must remember across a restart (its schedule, safe mode, stop-loss
    and take-profit levels, throttle history, open proposals), as JSON-safe data; storage
    keeps the latest per trader."""

    trader_id: str
    state: dict[str, Any]
