"""Orders, fills and the order state machine (SPEC §4).

``pending → open → partially_filled → filled``, or ``cancelled``, ``rejected`` (with a code and a
reason), ``expired``. Any other transition is a bug and raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from deepalpha.engine.markets.fees import NO_FEES, FeeBreakdown
from deepalpha.engine.money import ZERO


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in _LIVE

    @property
    def is_final(self) -> bool:
        return self not in _LIVE and self is not OrderStatus.PENDING


_LIVE = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})
S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.OPEN, S.REJECTED}),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


class RejectCode(StrEnum):
    """Stable codes for rejections and expiries; messages carry the numbers."""

    LOT_SIZE = "LOT_SIZE"
    TICK_SIZE = "TICK_SIZE"
    PRICE_LIMIT = "PRICE_LIMIT"
    T_PLUS_ONE = "T_PLUS_ONE"
    INSUFFICIENT_CASH = "INSUFFICIENT_CASH"
    INSUFFICIENT_POSITION = "INSUFFICIENT_POSITION"
    MARKET_CLOSED = "MARKET_CLOSED"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    RISK_MAX_POSITION = "RISK_MAX_POSITION"
    RISK_MAX_ORDER_VALUE = "RISK_MAX_ORDER_VALUE"
    RISK_DAILY_LOSS = "RISK_DAILY_LOSS"
    RISK_OPEN_ORDERS = "RISK_OPEN_ORDERS"
    RISK_ORDER_RATE = "RISK_ORDER_RATE"
    TRADING_DISABLED = "TRADING_DISABLED"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"  # the ledger cannot be written: nothing trades
    DRY_RUN = "DRY_RUN"
    INVALID_ORDER = "INVALID_ORDER"
    UNKNOWN_TRADER = "UNKNOWN_TRADER"
    NO_LIQUIDITY = "NO_LIQUIDITY"  # expiry: the market never offered what the order needed
    DAY_END = "DAY_END"  # expiry: a day order's remainder at the close


class OrderStateError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class OrderRequest:
    trader_id: str
    symbol: str
    side: Side
    quantity: int
    type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    source: str = "manual"  # manual | strategy | ai
    client_id: str | None = None  # an idempotency key from the caller, if any


@dataclass(slots=True)
class Order:
    id: str
    trader_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: int
    limit_price: Decimal | None
    created_at: datetime
    trading_day: date
    source: str = "manual"
    status: OrderStatus = OrderStatus.PENDING
    filled_quantity: int = 0
    filled_amount: Decimal = ZERO
    fees: FeeBreakdown = NO_FEES
    frozen_cash: Decimal = ZERO  # buys: cash held back for the unfilled part
    reject_code: RejectCode | None = None
    reject_reason: str | None = None
    updated_at: datetime | None = None
    # Why the order did not fill on the last chance it had; becomes the expiry code at the close.
    last_miss: tuple[RejectCode, str] | None = field(default=None, repr=False)

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def avg_price(self) -> Decimal | None:
        if not self.filled_quantity:
            return None
        return self.filled_amount / self.filled_quantity

    def transition(self, status: OrderStatus, at: datetime) -> None:
        if status not in TRANSITIONS[self.status]:
            raise OrderStateError(f"order {self.id}: {self.status} → {status} is not allowed")
        self.status = status
        self.updated_at = at

    def reject(self, code: RejectCode, reason: str, at: datetime) -> None:
        self.reject_code, self.reject_reason = code, reason
        self.transition(OrderStatus.REJECTED, at)

    def snapshot(self) -> Order:
        """A detached copy for subscribers (the live object keeps changing)."""
        return Order(
            self.id,
            self.trader_id,
            self.symbol,
            self.side,
            self.type,
            self.quantity,
            self.limit_price,
            self.created_at,
            self.trading_day,
            self.source,
            self.status,
            self.filled_quantity,
            self.filled_amount,
            self.fees,
            self.frozen_cash,
            self.reject_code,
            self.reject_reason,
            self.updated_at,
            self.last_miss,
        )


@dataclass(frozen=True, slots=True)
class Fill:
    id: str
    order_id: str
    trader_id: str
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    amount: Decimal
    fees: FeeBreakdown
    time: datetime
    trading_day: date
    currency: str
    realized_pnl: Decimal = ZERO  # sells: proceeds − fees − cost of the shares sold

    @property
    def fees_total(self) -> Decimal:
        return self.fees.total

    @property
    def cash_delta(self) -> Decimal:
        """What the fill does to cash: a buy pays amount + fees, a sell receives amount − fees."""
        if self.side is Side.BUY:
            return -(self.amount + self.fees.total)
        return self.amount - self.fees.total
