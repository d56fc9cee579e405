"""Portfolio accounting: cash per currency, positions with T+1 sellable, P&L net of fees.

Exactness: ``cost_basis`` is the total paid for the shares held, buy fees included; a partial
sell removes a share of it rounded to the fen and the last share sold takes what is left, so for
each currency ``cash + Σ cost_basis − realized_pnl`` equals the money put in, to the fen, always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from deepalpha.engine.markets.symbols import CURRENCY, Market, market_of
from deepalpha.engine.money import ZERO, round_half_up
from deepalpha.engine.orders import Fill, Side


@dataclass(slots=True)
class Position:
    symbol: str
    currency: str
    t_plus_one: bool  # A-shares: shares bought today are sellable from the next trading day
    quantity: int = 0
    sellable: int = 0
    frozen: int = 0  # shares held by open sell orders
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    last_price: Decimal | None = None
    value: Decimal = ZERO  # market value at last_price (cost when no price yet)
    opened_at: datetime | None = None

    @property
    def avg_cost(self) -> Decimal | None:
        return self.cost_basis / self.quantity if self.quantity else None

    @property
    def market_value(self) -> Decimal:
        return self.value

    @property
    def unrealized_pnl(self) -> Decimal:
        return self.value - self.cost_basis

    @property
    def available(self) -> int:
        """Shares that a new sell order may take now."""
        return self.sellable - self.frozen

    @property
    def bought_today(self) -> int:
        return self.quantity - self.sellable


@dataclass(slots=True)
class CashAccount:
    currency: str
    cash: Decimal = ZERO
    frozen: Decimal = ZERO  # held for open buy orders
    deposits: Decimal = ZERO  # money put in (initial cash and later transfers)
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    market_value: Decimal = ZERO  # Σ position.value in this currency, kept incrementally

    @property
    def available(self) -> Decimal:
        return self.cash - self.frozen

    @property
    def equity(self) -> Decimal:
        return self.cash + self.market_value


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    day: date
    time: datetime
    cash: Decimal
    market_value: Decimal
    equity: Decimal


@dataclass(slots=True)
class Portfolio:
    trader_id: str
    base_currency: str = "CNY"
    fx: dict[str, Decimal] = field(
        default_factory=lambda: {"CNY": Decimal(1), "HKD": Decimal("0.92")}
    )
    accounts: dict[str, CashAccount] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    snapshots: list[EquitySnapshot] = field(default_factory=list)
    day_start_equity: Decimal | None = None

    # --- cash ---------------------------------------------------------------------------
    def account(self, currency: str) -> CashAccount:
        acct = self.accounts.get(currency)
        if acct is None:
            acct = self.accounts[currency] = CashAccount(currency)
        return acct

    def deposit(self, currency: str, amount: Decimal) -> None:
        acct = self.account(currency)
        acct.cash += amount
        acct.deposits += amount

    def freeze_cash(self, currency: str, amount: Decimal) -> None:
        self.account(currency).frozen += amount

    def release_cash(self, currency: str, amount: Decimal) -> None:
        self.account(currency).frozen -= amount

    # --- positions ----------------------------------------------------------------------
    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            market = market_of(symbol)
            pos = self.positions[symbol] = Position(
                symbol, CURRENCY[market], t_plus_one=market is Market.CN
            )
        return pos

    def held(self) -> list[Position]:
        return [p for p in self.positions.values() if p.quantity]

    def _revalue(self, pos: Position, acct: CashAccount) -> None:
        new = pos.quantity * pos.last_price if pos.last_price is not None else pos.cost_basis
        acct.market_value += new - pos.value
        pos.value = new

    def mark(self, symbol: str, price: Decimal) -> None:
        pos = self.positions.get(symbol)
        if pos is None:
            return
        pos.last_price = price
        if pos.quantity:  # _revalue, inlined: this runs for every bar and quote
            new = pos.quantity * price
            self.account(pos.currency).market_value += new - pos.value
            pos.value = new

    def apply_fill(self, fill: Fill) -> Decimal:
        """Book a fill; returns the realized P&L it made (sells) or zero (buys)."""
        pos = self.position(fill.symbol)
        acct = self.account(fill.currency)
        fees = fill.fees.total
        realized = ZERO
        if fill.side is Side.BUY:
            acct.cash -= fill.amount + fees
            if not pos.quantity:
                pos.opened_at = fill.time
            pos.quantity += fill.quantity
            if not pos.t_plus_one:
                pos.sellable += fill.quantity
            pos.cost_basis += fill.amount + fees
        else:
            if fill.quantity > pos.sellable or fill.quantity > pos.quantity:
                raise ValueError(
                    f"sell fill of {fill.quantity} {fill.symbol} exceeds sellable {pos.sellable}"
                )
            removed = (
                pos.cost_basis
                if fill.quantity == pos.quantity
                else round_half_up(pos.cost_basis * fill.quantity / pos.quantity)
            )
            realized = fill.amount - fees - removed
            acct.cash += fill.amount - fees
            pos.quantity -= fill.quantity
            pos.sellable -= fill.quantity
            pos.frozen = max(0, pos.frozen - fill.quantity)
            pos.cost_basis -= removed
            pos.realized_pnl += realized
            acct.realized_pnl += realized
        pos.fees_paid += fees
        acct.fees_paid += fees
        pos.last_price = fill.price
        self._revalue(pos, acct)
        return realized

    def roll(self, market: Market) -> None:
        """The trading-day change: yesterday's buys become sellable (T+1)."""
        currency = CURRENCY[market]
        for pos in self.positions.values():
            if pos.currency == currency:
                pos.sellable = pos.quantity

    # --- totals -------------------------------------------------------------------------
    def to_base(self, currency: str, amount: Decimal) -> Decimal:
        if currency == self.base_currency:
            return amount
        return amount * self.fx[currency] / self.fx[self.base_currency]

    def cash_total(self) -> Decimal:
        return sum((self.to_base(a.currency, a.cash) for a in self.accounts.values()), ZERO)

    def market_value_total(self) -> Decimal:
        return sum((self.to_base(a.currency, a.market_value) for a in self.accounts.values()), ZERO)

    def equity(self) -> Decimal:
        return sum((self.to_base(a.currency, a.equity) for a in self.accounts.values()), ZERO)

    def deposits_total(self) -> Decimal:
        return sum((self.to_base(a.currency, a.deposits) for a in self.accounts.values()), ZERO)

    def fees_total(self) -> Decimal:
        return sum((self.to_base(a.currency, a.fees_paid) for a in self.accounts.values()), ZERO)

    def daily_pnl(self) -> Decimal:
        return self.equity() - (
            self.day_start_equity if self.day_start_equity is not None else self.deposits_total()
        )

    def snapshot(self, day: date, at: datetime) -> EquitySnapshot:
        cash, mv = self.cash_total(), self.market_value_total()
        snap = EquitySnapshot(day, at, cash, mv, cash + mv)
        if self.snapshots and self.snapshots[-1].day == day:
            self.snapshots[-1] = snap
        else:
            self.snapshots.append(snap)
        return snap
