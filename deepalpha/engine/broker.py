"""The paper broker: validates orders against the market rules and risk limits, matches them
against quotes (live, simulated) or bars (replay, backtests), and books fills into portfolios.

One broker serves every trader. It never blocks and never awaits: feeds call ``on_quote`` /
``on_bar`` and the session driver calls ``set_phase``, ``start_day`` and ``end_day``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import Clock
from deepalpha.engine.events import (
    AccountEvent,
    AccountState,
    EquityEvent,
    FillEvent,
    OrderEvent,
    PositionEvent,
    PositionState,
    TraderHaltedEvent,
    TradingDayEvent,
)
from deepalpha.engine.ids import new_id
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.fees import NO_FEES, FeeSchedule, estimate_fees, fill_fees
from deepalpha.engine.markets.instruments import (
    Board,
    Instrument,
    InstrumentRegistry,
    UnknownInstrument,
)
from deepalpha.engine.markets.rules import (
    LISTED,
    DayStatus,
    PriceLimitRules,
    buy_lot_error,
    sell_lot_error,
    snap_to_tick,
    tick_error,
)
from deepalpha.engine.markets.sessions import MARKET_TZ, Phase, accepts_orders
from deepalpha.engine.markets.symbols import Market, SymbolError
from deepalpha.engine.money import ZERO
from deepalpha.engine.orders import (
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from deepalpha.engine.portfolio import CashAccount, Portfolio, Position
from deepalpha.engine.risk import (
    RiskLimits,
    RiskRejection,
    RiskState,
    check_order,
    check_trading_enabled,
    daily_loss_breach,
)
from deepalpha.i18n import Msg

R = RejectCode


def position_state(trader_id: str, pos: Position) -> PositionState:
    return PositionState(
        trader_id,
        pos.symbol,
        pos.currency,
        pos.quantity,
        pos.sellable,
        pos.cost_basis,
        pos.realized_pnl,
        pos.fees_paid,
        pos.last_price,
        pos.opened_at,
    )


def account_state(trader_id: str, acct: CashAccount) -> AccountState:
    return AccountState(
        trader_id,
        acct.currency,
        acct.cash,
        acct.frozen,
        acct.deposits,
        acct.realized_pnl,
        acct.fees_paid,
    )


def _reason(exc: Exception) -> str:
    """An exception's message as raised (a Msg stays a Msg; ``str(exc)`` would not)."""
    arg = exc.args[0] if len(exc.args) == 1 else None
    return arg if isinstance(arg, str) else str(exc)


class Rejected(Exception):
    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message  # a Msg; ``str(exc)`` would be its plain English


@dataclass(slots=True)
class SymbolState:
    """What the broker knows about a symbol's market right now."""

    inst: Instrument
    day: date | None = None
    pre_close: Decimal | None = None
    status: DayStatus = LISTED
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: int = 0
    ask_size: int = 0
    # The price band is worked out from a new reference when it is first read, not when the
    # reference is set: a backtest sets one per symbol and day and most days never need it.
    band_due: tuple[PriceLimitRules, date, Decimal, DayStatus] | None = field(
        default=None, repr=False
    )
    _limit_down: Decimal | None = None
    _limit_up: Decimal | None = None

    def refer(
        self, rules: PriceLimitRules, day: date, pre_close: Decimal, status: DayStatus
    ) -> None:
        """A new reference price; the band follows from it under ``rules``."""
        self.day, self.pre_close, self.status = day, pre_close, status
        self.band_due = (rules, day, pre_close, status)

    def _settle_band(self) -> None:
        if self.band_due is not None:
            rules, day, pre_close, status = self.band_due
            self.band_due = None
            band = rules.band(self.inst, day, pre_close, status)
            self._limit_down, self._limit_up = band if band else (None, None)

    @property
    def limit_down(self) -> Decimal | None:
        self._settle_band()
        return self._limit_down

    @limit_down.setter
    def limit_down(self, value: Decimal | None) -> None:
        self._settle_band()
        self._limit_down = value

    @property
    def limit_up(self) -> Decimal | None:
        self._settle_band()
        return self._limit_up

    @limit_up.setter
    def limit_up(self, value: Decimal | None) -> None:
        self._settle_band()
        self._limit_up = value


@dataclass(slots=True)
class TraderBook:
    trader_id: str
    portfolio: Portfolio
    risk: RiskState
    open_orders: int = 0


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    fees: FeeSchedule = FeeSchedule()
    limit_rules: PriceLimitRules = PriceLimitRules()
    slippage_bps: Decimal = Decimal(0)  # market orders: worse than the touch by this much
    participation: Decimal = Decimal("0.25")  # at most this share of a bar's volume
    check_sessions: bool = True  # replay drives whole bars and switches this off


class PaperBroker:
    def __init__(
        self,
        instruments: InstrumentRegistry,
        clock: Clock,
        bus: EventBus | None = None,
        settings: BrokerSettings | None = None,
        id_factory: Callable[[], str] = new_id,
        fill_id_factory: Callable[[], str] = new_id,
    ) -> None:
        self.instruments = instruments
        self.clock = clock
        self.bus = bus or EventBus()
        self.settings = settings or BrokerSettings()
        self._new_order_id = id_factory
        self._new_fill_id = fill_id_factory
        self.traders: dict[str, TraderBook] = {}
        self.orders: dict[str, Order] = {}
        self.book: dict[str, list[Order]] = {}  # open orders by symbol, oldest first
        self.symbols: dict[str, SymbolState] = {}
        self.phase: dict[Market, Phase] = {Market.CN: Phase.CLOSED, Market.HK: Phase.CLOSED}
        self.day: dict[Market, date | None] = {Market.CN: None, Market.HK: None}
        self.fills: list[Fill] | None = None  # backtests keep every fill here when set
        # Why trading is suspended (the ledger cannot be written, the database is no longer
        # ours), by cause; while any is set no order is accepted and nothing is matched.
        self.suspended: dict[str, str] = {}

    # --- traders ------------------------------------------------------------------------
    def add_trader(
        self,
        trader_id: str,
        cash: dict[str, Decimal] | None = None,
        limits: RiskLimits | None = None,
        portfolio: Portfolio | None = None,
    ) -> TraderBook:
        pf = portfolio or Portfolio(trader_id)
        for currency, amount in (cash or {}).items():
            pf.deposit(currency, amount)
        book = TraderBook(trader_id, pf, RiskState(limits or RiskLimits()))
        book.open_orders = sum(
            1 for o in self.orders.values() if o.trader_id == trader_id and o.status.is_open
        )
        self.traders[trader_id] = book
        return book

    def portfolio(self, trader_id: str) -> Portfolio:
        return self.traders[trader_id].portfolio

    # --- market state -------------------------------------------------------------------
    def state(self, symbol: str) -> SymbolState:
        st = self.symbols.get(symbol)
        if st is None:
            st = self.symbols[symbol] = SymbolState(self.instruments.get(symbol))
        return st

    def set_reference(
        self, symbol: str, day: date, pre_close: Decimal, status: DayStatus = LISTED
    ) -> SymbolState:
        """The day's reference price, from which the price band follows."""
        st = self.state(symbol)
        if st.day == day and st.pre_close == pre_close and st.status == status:
            return st
        st.refer(self.settings.limit_rules, day, pre_close, status)
        return st

    def set_phase(self, market: Market, phase: Phase) -> None:
        self.phase[market] = phase

    def start_day(self, market: Market, day: date) -> None:
        """A new trading day: the T+1 roll, daily counters reset."""
        if self.day[market] == day:
            return
        self.day[market] = day
        for book in self.traders.values():
            book.portfolio.roll(market)
            book.portfolio.day_start_equity = book.portfolio.equity()
            if self.bus.wants(PositionEvent):
                for pos in book.portfolio.held():
                    self._publish_position(book.trader_id, pos.symbol)
        if self.bus.wants(TradingDayEvent):
            equity = tuple(
                (b.trader_id, b.portfolio.day_start_equity or Decimal(0))
                for b in self.traders.values()
            )
            self.bus.publish(TradingDayEvent(market, day, started=True, day_start_equity=equity))

    def end_day(self, market: Market, day: date) -> list[Order]:
        """The close: every open day order of the market expires, with why it did not fill."""
        now = self.clock.now()
        expired: list[Order] = []
        for orders in list(self.book.values()):
            if not orders or orders[0].symbol.endswith(".HK") != (market is Market.HK):
                continue
            for order in list(orders):
                code, why = order.last_miss or (
                    R.DAY_END,
                    Msg("expire.day_end", remaining=order.remaining, quantity=order.quantity),
                )
                order.reject_code, order.reject_reason = code, why
                self._finish(order, OrderStatus.EXPIRED, now)
                expired.append(order)
        self.phase[market] = Phase.CLOSED
        if self.bus.wants(TradingDayEvent):
            self.bus.publish(TradingDayEvent(market, day, started=False))
        return expired

    def snapshot_equity(self, day: date) -> None:
        now = self.clock.now()
        for book in self.traders.values():
            snap = book.portfolio.snapshot(day, now)
            if self.bus.wants(EquityEvent):
                self.bus.publish(
                    EquityEvent(book.trader_id, day, now, snap.cash, snap.market_value, snap.equity)
                )

    # --- orders -------------------------------------------------------------------------
    def submit(self, req: OrderRequest) -> Order:
        """Validate and place an order. A rejected order is returned with its code and reason
        (it is never raised): every order the broker sees is recorded."""
        now = self.clock.now()
        oid = self._new_order_id()
        book = self.traders.get(req.trader_id)
        inst: Instrument | None = None
        unknown = ""
        symbol = req.symbol
        try:
            inst = self.instruments.get(req.symbol)
            symbol = inst.symbol
        except (SymbolError, UnknownInstrument) as exc:
            unknown = _reason(exc)
        market = (
            inst.market if inst else (Market.HK if symbol.upper().endswith("HK") else Market.CN)
        )
        day = self.day[market] or now.astimezone(MARKET_TZ[market]).date()
        order = Order(
            oid,
            req.trader_id,
            symbol,
            req.side,
            req.type,
            req.quantity,
            req.limit_price,
            now,
            day,
            req.source,
            updated_at=now,
        )
        self.orders[oid] = order
        was_halted = book is not None and book.risk.halted is not None
        try:
            if book is None:
                raise Rejected(
                    R.UNKNOWN_TRADER, Msg("order.unknown_trader", trader=repr(req.trader_id))
                )
            if inst is None:
                raise Rejected(R.UNKNOWN_SYMBOL, unknown)
            if self.suspended:
                raise Rejected(R.STORAGE_UNAVAILABLE, next(iter(self.suspended.values())))
            self._validate(order, inst, book, now)
        except (Rejected, RiskRejection) as exc:
            code = exc.code
            message = exc.message
            order.reject(code, message, now)
            self._publish_order(order)
            # The kill switch stops the trader once; later orders are only rejected.
            if code is R.RISK_DAILY_LOSS and book is not None and not was_halted:
                self._halt(book, code, message)
            return order
        self._accept(order, inst, book)
        return order

    def suspend(self, cause: str, reason: str) -> None:
        """Stop trading for ``cause``: new orders are rejected with ``reason``, resting ones
        wait unmatched (a fill that cannot be written must not happen)."""
        self.suspended[cause] = reason

    def resume(self, cause: str) -> None:
        self.suspended.pop(cause, None)

    def record_rejected(self, req: OrderRequest, code: RejectCode, reason: str) -> Order:
        """Record an order that never reached validation (e.g. a scripted order with no bar)."""
        now = self.clock.now()
        market = Market.HK if req.symbol.endswith(".HK") else Market.CN
        day = self.day[market] or now.astimezone(MARKET_TZ[market]).date()
        order = Order(
            self._new_order_id(),
            req.trader_id,
            req.symbol,
            req.side,
            req.type,
            req.quantity,
            req.limit_price,
            now,
            day,
            req.source,
            updated_at=now,
        )
        self.orders[order.id] = order
        order.reject(code, reason, now)
        self._publish_order(order)
        return order

    def check(self, req: OrderRequest) -> tuple[RejectCode, str] | None:
        """What ``submit`` would reject the order for, without placing or counting it."""
        now = self.clock.now()
        book = self.traders.get(req.trader_id)
        if book is None:
            return R.UNKNOWN_TRADER, Msg("order.unknown_trader", trader=repr(req.trader_id))
        try:
            inst = self.instruments.get(req.symbol)
        except (SymbolError, UnknownInstrument) as exc:
            return R.UNKNOWN_SYMBOL, _reason(exc)
        if self.suspended:
            return R.STORAGE_UNAVAILABLE, next(iter(self.suspended.values()))
        day = self.day[inst.market] or now.astimezone(MARKET_TZ[inst.market]).date()
        probe = Order(
            "preview",
            req.trader_id,
            inst.symbol,
            req.side,
            req.type,
            req.quantity,
            req.limit_price,
            now,
            day,
            req.source,
        )
        try:
            self._validate(probe, inst, book, now, record=False)
        except Rejected as exc:
            return exc.code, exc.message
        except RiskRejection as exc:
            return exc.code, exc.message
        return None

    def _validate(
        self, order: Order, inst: Instrument, book: TraderBook, now: datetime, record: bool = True
    ) -> None:
        qty, price = order.quantity, order.limit_price
        if not isinstance(qty, int) or isinstance(qty, bool):
            raise Rejected(R.INVALID_ORDER, Msg("order.whole_shares", quantity=repr(qty)))
        if order.type is OrderType.LIMIT and price is None:
            raise Rejected(R.INVALID_ORDER, Msg("order.limit_needs_price"))
        if order.type is OrderType.MARKET and price is not None:
            raise Rejected(R.INVALID_ORDER, Msg("order.market_no_price"))
        check_trading_enabled(book.risk)
        market = inst.market
        if self.settings.check_sessions:
            phase = self.phase[market]
            if not accepts_orders(phase):
                raise Rejected(
                    R.MARKET_CLOSED,
                    Msg(
                        "session.not_accepting",
                        market=Msg(f"market.{market.value}"),
                        phase=Msg(f"session.phase.{phase.value}"),
                    ),
                )
            if order.type is OrderType.MARKET and phase is not Phase.CONTINUOUS:
                raise Rejected(
                    R.MARKET_CLOSED,
                    Msg(
                        "session.market_order_continuous",
                        market=Msg(f"market.{market.value}"),
                        phase=Msg(f"session.phase.{phase.value}"),
                    ),
                )
        pf = book.portfolio
        pos = pf.positions.get(inst.symbol)
        if order.side is Side.BUY:
            err = buy_lot_error(inst, qty)
        else:
            err = sell_lot_error(inst, qty, pos.available if pos else 0)
        if err:
            raise Rejected(R.LOT_SIZE, err)
        st = self.state(inst.symbol)
        if price is not None:
            err = tick_error(inst, price, order.trading_day)
            if err:
                raise Rejected(R.TICK_SIZE, err)
            if (
                st.limit_up is not None
                and st.limit_down is not None
                and not (st.limit_down <= price <= st.limit_up)
            ):
                raise Rejected(
                    R.PRICE_LIMIT,
                    Msg(
                        "band.outside",
                        price=price,
                        low=st.limit_down,
                        high=st.limit_up,
                        symbol=inst.symbol,
                        reference=st.pre_close,
                    ),
                )
        if order.side is Side.SELL:
            held = pos.quantity - pos.frozen if pos else 0
            if qty > held:
                raise Rejected(
                    R.INSUFFICIENT_POSITION,
                    Msg("position.insufficient", quantity=qty, symbol=inst.symbol, held=held),
                )
            avail = pos.available if pos else 0
            if qty > avail:
                raise Rejected(
                    R.T_PLUS_ONE,
                    Msg(
                        "t1.not_sellable",
                        quantity=qty,
                        symbol=inst.symbol,
                        sellable=avail,
                        bought=pos.bought_today if pos else 0,
                    ),
                )
        ref = self._reference_price(order, st)
        value = ref * qty if ref is not None else ZERO
        if order.side is Side.BUY:
            if ref is None:
                raise Rejected(R.MARKET_CLOSED, Msg("order.no_price_yet", symbol=inst.symbol))
            need = value + estimate_fees(
                inst.market, False, value, order.trading_day, self.settings.fees
            )
            avail_cash = pf.account(inst.currency).available
            if need > avail_cash:
                raise Rejected(
                    R.INSUFFICIENT_CASH,
                    Msg(
                        "cash.insufficient",
                        quantity=qty,
                        symbol=inst.symbol,
                        price=ref,
                        need=need,
                        currency=inst.currency,
                        available=avail_cash,
                    ),
                )
            order.frozen_cash = need
        check_order(
            book.risk,
            pf,
            symbol=inst.symbol,
            currency=inst.currency,
            order_value=value,
            is_buy=order.side is Side.BUY,
            open_orders=book.open_orders,
            now=now,
            record=record,
        )

    def _reference_price(self, order: Order, st: SymbolState) -> Decimal | None:
        if order.limit_price is not None:
            return order.limit_price
        touch = st.ask if order.side is Side.BUY else st.bid
        return touch if touch is not None else st.last

    def _accept(self, order: Order, inst: Instrument, book: TraderBook) -> None:
        now = order.created_at
        if order.side is Side.BUY:
            book.portfolio.freeze_cash(inst.currency, order.frozen_cash)
        else:
            book.portfolio.position(inst.symbol).frozen += order.quantity
        order.transition(OrderStatus.OPEN, now)
        book.open_orders += 1
        self.book.setdefault(inst.symbol, []).append(order)
        self._publish_order(order)
        self._publish_account(book, inst.currency)
        st = self.symbols.get(inst.symbol)
        if (
            st is not None
            and (st.ask is not None or st.bid is not None)
            and self.phase[inst.market] is Phase.CONTINUOUS
        ):
            self._match_quote_order(order, st)

    def cancel(self, order_id: str, reason: str | None = None) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(f"no order {order_id}")
        if not order.status.is_open:
            raise ValueError(
                f"order {order_id} is {order.status.value}; only open orders can be cancelled"
            )
        order.reject_reason = reason if reason is not None else Msg("cancel.by_request")
        self._finish(order, OrderStatus.CANCELLED, self.clock.now())
        return order

    def expire(self, order: Order) -> None:
        """Expire an open order now (its code and reason set by the caller)."""
        self._finish(order, OrderStatus.EXPIRED, self.clock.now())

    def cancel_all(self, trader_id: str | None = None) -> list[Order]:
        out = []
        for orders in list(self.book.values()):
            for order in list(orders):
                if trader_id is None or order.trader_id == trader_id:
                    out.append(self.cancel(order.id))
        return out

    def open_orders(self, trader_id: str | None = None) -> Iterable[Order]:
        for orders in self.book.values():
            for o in orders:
                if trader_id is None or o.trader_id == trader_id:
                    yield o

    def _finish(self, order: Order, status: OrderStatus, now: datetime) -> None:
        """Take an order off the book and give back what it held."""
        book = self.traders[order.trader_id]
        st = self.symbols.get(order.symbol)  # every accepted order has one; no re-parsing
        inst = st.inst if st is not None else self.instruments.get(order.symbol)
        if order.side is Side.BUY:
            if order.frozen_cash:
                book.portfolio.release_cash(inst.currency, order.frozen_cash)
                order.frozen_cash = ZERO
        else:
            pos = book.portfolio.position(order.symbol)
            pos.frozen -= order.remaining if status is not OrderStatus.FILLED else 0
        order.transition(status, now)
        resting = self.book.get(order.symbol)
        if resting is not None:
            resting.remove(order)
            if not resting:
                del self.book[order.symbol]
        book.open_orders -= 1
        self._publish_order(order)
        self._publish_account(book, inst.currency)

    # --- matching -----------------------------------------------------------------------
    def on_quote(self, q: Quote) -> None:
        st = self.symbols.get(q.symbol)
        if st is None:
            st = self.state(q.symbol)
        st.last, st.bid, st.ask, st.bid_size, st.ask_size = (
            q.last,
            q.bid,
            q.ask,
            q.bid_size,
            q.ask_size,
        )
        if q.limit_up is not None:
            st.limit_up, st.limit_down = q.limit_up, q.limit_down
        if q.pre_close is not None:
            st.pre_close = q.pre_close
        for book in self.traders.values():
            book.portfolio.mark(q.symbol, q.last)
        resting = self.book.get(q.symbol)
        if resting and self.phase[st.inst.market] is Phase.CONTINUOUS and not self.suspended:
            for order in list(resting):
                self._match_quote_order(order, st)

    def _match_quote_order(self, order: Order, st: SymbolState) -> None:
        inst = st.inst
        slip = self.settings.slippage_bps / 10000
        if order.side is Side.BUY:
            touch, size = st.ask, st.ask_size
            if touch is None:
                self._miss_no_touch(order, st)
                return
            if order.type is OrderType.LIMIT:
                assert order.limit_price is not None
                if touch > order.limit_price:
                    return
                price = touch
            else:
                price = (
                    snap_to_tick(inst, touch * (1 + slip), order.trading_day, up=True)
                    if slip
                    else touch
                )
                if st.limit_up is not None and price > st.limit_up:
                    price = st.limit_up
        else:
            touch, size = st.bid, st.bid_size
            if touch is None:
                self._miss_no_touch(order, st)
                return
            if order.type is OrderType.LIMIT:
                assert order.limit_price is not None
                if touch < order.limit_price:
                    return
                price = touch
            else:
                price = (
                    snap_to_tick(inst, touch * (1 - slip), order.trading_day, up=False)
                    if slip
                    else touch
                )
                if st.limit_down is not None and price < st.limit_down:
                    price = st.limit_down
        if self._blocked_by_limit(order, st, price):
            return
        cap = size if size > 0 else order.remaining
        self._execute(order, inst, price, cap)

    def _miss_no_touch(self, order: Order, st: SymbolState) -> None:
        at_limit = st.limit_up if order.side is Side.BUY else st.limit_down
        buy = order.side is Side.BUY
        if at_limit is not None and st.last == at_limit:
            key = "nofill.sealed_up" if buy else "nofill.sealed_down"
            order.last_miss = (R.PRICE_LIMIT, Msg(key, symbol=order.symbol, price=at_limit))
        else:
            key = "nofill.no_ask" if buy else "nofill.no_bid"
            order.last_miss = (R.NO_LIQUIDITY, Msg(key, symbol=order.symbol))

    def _blocked_by_limit(self, order: Order, st: SymbolState, price: Decimal) -> bool:
        """No buy fills at or above limit-up, no sell fills at or below limit-down."""
        if order.side is Side.BUY and st.limit_up is not None and price >= st.limit_up:
            order.last_miss = (
                R.PRICE_LIMIT,
                Msg("nofill.at_limit_up", symbol=order.symbol, price=price, limit=st.limit_up),
            )
            return True
        if order.side is Side.SELL and st.limit_down is not None and price <= st.limit_down:
            order.last_miss = (
                R.PRICE_LIMIT,
                Msg("nofill.at_limit_down", symbol=order.symbol, price=price, limit=st.limit_down),
            )
            return True
        return False

    def on_bar(self, bar: Bar, arriving: Sequence[OrderRequest] = ()) -> list[Order]:
        """Match the symbol's open orders against a bar, then mark positions at its close.

        ``arriving`` are orders placed on this bar (a replay's strategy signals and scripted
        orders); the placed orders are returned. They come after the resting ones, which were
        there first, and one at a time: each is validated and matched against the bar before
        the next is validated, as an exchange would have processed them. So a market buy that
        fills at the open is held when a sell of the same bar is checked — sellable at once in
        Hong Kong (T+0), not before the next trading day for an A-share (T+1)."""
        symbol, day, pre_close, close = bar.symbol, bar.trading_day, bar.pre_close, bar.close
        st = self.symbols.get(symbol)
        if st is None:
            st = self.state(symbol)
        if pre_close is not None and (st.day != day or st.pre_close != pre_close):
            st.refer(self.settings.limit_rules, day, pre_close, bar.status)
        resting = self.book.get(symbol)
        if resting:
            for order in list(resting):
                self._match_bar_order(order, st, bar)
        placed: list[Order] = []
        if arriving:
            if st.last is None:
                st.last = bar.open  # the symbol's first bar: its open is the first price known
            for req in arriving:
                order = self.submit(req)
                placed.append(order)
                if order.status.is_open:
                    self._match_bar_order(order, st, bar)
        st.last = close
        st.bid = st.ask = None
        for book in self.traders.values():
            book.portfolio.mark(symbol, close)
        return placed

    def _match_bar_order(self, order: Order, st: SymbolState, bar: Bar) -> None:
        if order.type is OrderType.MARKET:
            price = bar.open
        elif order.side is Side.BUY:
            assert order.limit_price is not None
            if bar.low > order.limit_price:
                order.last_miss = (
                    R.DAY_END,
                    Msg("nofill.not_reached_low", limit=order.limit_price, low=bar.low),
                )
                return
            price = min(bar.open, order.limit_price)
        else:
            assert order.limit_price is not None
            if bar.high < order.limit_price:
                order.last_miss = (
                    R.DAY_END,
                    Msg("nofill.not_reached_high", limit=order.limit_price, high=bar.high),
                )
                return
            price = max(bar.open, order.limit_price)
        if self._blocked_by_limit(order, st, price):
            return
        cap = int(bar.volume * self.settings.participation)
        if cap <= 0:
            order.last_miss = (
                R.NO_LIQUIDITY,
                Msg(
                    "nofill.no_volume",
                    symbol=order.symbol,
                    time=f"{bar.time:%Y-%m-%d %H:%M}",
                    volume=bar.volume,
                ),
            )
            return
        self._execute(order, st.inst, price, cap)

    def _fill_quantity(self, order: Order, inst: Instrument, cap: int) -> int:
        """The largest fill the cap allows that keeps the order in valid lots."""
        remaining = order.remaining
        if remaining <= cap:
            return remaining
        if inst.board is Board.STAR:
            return cap if cap >= 200 else 0  # STAR trades in any size from 200 shares
        lot = inst.board_lot
        return (cap // lot) * lot

    def _execute(self, order: Order, inst: Instrument, price: Decimal, cap: int) -> None:
        qty = self._fill_quantity(order, inst, cap)
        if qty <= 0:
            order.last_miss = (
                R.NO_LIQUIDITY,
                Msg("nofill.below_one_lot", symbol=order.symbol, cap=cap),
            )
            return
        book = self.traders[order.trader_id]
        pf = book.portfolio
        market, sell = inst.market, order.side is Side.SELL
        settings = self.settings
        amount = price * qty
        fees = fill_fees(
            market,
            sell,
            order.filled_amount,
            order.filled_amount + amount,
            order.trading_day,
            settings.fees,
        )
        if not sell:
            acct = pf.account(inst.currency)
            budget = acct.available + order.frozen_cash
            cost = amount + fees.total
            if cost > budget:
                # Fill what the cash allows, in whole lots (STAR: at least 200 shares).
                step = 1 if inst.board is Board.STAR else inst.board_lot
                qty = int(budget / price) // step * step
                while qty > 0:
                    amount = price * qty
                    fees = fill_fees(
                        market,
                        sell,
                        order.filled_amount,
                        order.filled_amount + amount,
                        order.trading_day,
                        settings.fees,
                    )
                    if amount + fees.total <= budget:
                        break
                    qty -= step
                if qty <= 0 or (inst.board is Board.STAR and qty < 200):
                    order.last_miss = (
                        R.INSUFFICIENT_CASH,
                        Msg(
                            "nofill.cash",
                            symbol=order.symbol,
                            price=price,
                            need=cost,
                            currency=inst.currency,
                            available=budget,
                        ),
                    )
                    return
        now = self.clock.now()
        order.filled_quantity += qty
        order.filled_amount += amount
        # An order's first fill: its fees are the fill's (adding them to NO_FEES gives the same
        # values and is a costly field-by-field sum).
        order.fees = fees if order.fees is NO_FEES else order.fees + fees
        order.last_miss = None
        if not sell and order.frozen_cash:
            # A fill is paid out of the cash frozen for the order, as far as it goes. Releasing
            # a pro-rata share instead would let available cash go negative whenever a fill
            # costs more than its share (the ¥5 minimum on a first small fill, a market order
            # filling above the price it froze at); the budget check above covers the rest.
            if order.remaining == 0:
                release = order.frozen_cash
            else:
                release = min(order.frozen_cash, amount + fees.total)
            pf.release_cash(inst.currency, release)
            order.frozen_cash -= release
        fill = Fill(
            self._new_fill_id(),
            order.id,
            order.trader_id,
            order.symbol,
            order.side,
            qty,
            price,
            amount,
            fees,
            now,
            order.trading_day,
            inst.currency,
        )
        realized = pf.apply_fill(fill)
        if realized:
            fill = Fill(
                fill.id,
                fill.order_id,
                fill.trader_id,
                fill.symbol,
                fill.side,
                fill.quantity,
                fill.price,
                fill.amount,
                fill.fees,
                fill.time,
                fill.trading_day,
                fill.currency,
                realized,
            )
        if self.fills is not None:
            self.fills.append(fill)
        if order.remaining == 0:
            self._finish(order, OrderStatus.FILLED, now)
        else:
            order.transition(OrderStatus.PARTIALLY_FILLED, now)
            self._publish_order(order)
            self._publish_account(book, inst.currency)
        bus = self.bus
        if bus.wants(FillEvent):
            bus.publish(
                FillEvent(
                    fill,
                    order.snapshot(),
                    position_state(order.trader_id, pf.position(order.symbol)),
                    account_state(order.trader_id, pf.account(inst.currency)),
                )
            )
        self._publish_position(order.trader_id, order.symbol)
        breach = daily_loss_breach(book.risk, pf)
        if breach is not None and book.risk.halted is None:
            self._halt(book, R.RISK_DAILY_LOSS, breach)

    def check_kill_switches(self) -> None:
        """Run the daily-loss check for every trader (the app calls this on a timer)."""
        for book in self.traders.values():
            if book.risk.halted is None:
                breach = daily_loss_breach(book.risk, book.portfolio)
                if breach is not None:
                    self._halt(book, R.RISK_DAILY_LOSS, breach)

    def _halt(self, book: TraderBook, code: RejectCode, message: str) -> None:
        book.risk.halted = (code, message)
        if self.bus.wants(TraderHaltedEvent):
            self.bus.publish(TraderHaltedEvent(book.trader_id, code.value, message))

    # --- events -------------------------------------------------------------------------
    def _publish_order(self, order: Order) -> None:
        if self.bus.wants(OrderEvent):
            self.bus.publish(OrderEvent(order.snapshot()))

    def _publish_account(self, book: TraderBook, currency: str) -> None:
        if self.bus.wants(AccountEvent):
            acct = book.portfolio.account(currency)
            self.bus.publish(AccountEvent(account_state(book.trader_id, acct)))

    def _publish_position(self, trader_id: str, symbol: str) -> None:
        if self.bus.wants(PositionEvent):
            pos = self.traders[trader_id].portfolio.position(symbol)
            self.bus.publish(PositionEvent(position_state(trader_id, pos)))
