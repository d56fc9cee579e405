"""How the engine persists without knowing SQL: a store protocol, a batching writer on the bus,
and the rebuild of broker state on start.

The writer appends the events that change state to a buffer inline (no await on the engine's
path) and a task commits the whole buffer as one transaction every few milliseconds. Since the
broker publishes every event of a fill within one synchronous call, a fill and the cash and
position changes it causes always land in the same transaction. ``flush()`` waits until
everything published before it is committed: an order is acknowledged only after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import (
    AccountEvent,
    AccountState,
    AiStateEvent,
    DecisionEvent,
    EquityEvent,
    Event,
    FillEvent,
    MarketStateEvent,
    NotificationEvent,
    OrderEvent,
    PositionEvent,
    PositionState,
    StorageEvent,
    TraderHaltedEvent,
    TradingDayEvent,
)
from deepalpha.engine.markets.calendar import TradingCalendar
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Order, RejectCode, Side
from deepalpha.engine.portfolio import CashAccount, Portfolio, Position
from deepalpha.engine.traders import TraderConfig
from deepalpha.i18n import Msg

log = logging.getLogger(__name__)

PERSISTED: tuple[type[Event], ...] = (
    OrderEvent,
    FillEvent,
    PositionEvent,
    AccountEvent,
    EquityEvent,
    TradingDayEvent,
    TraderHaltedEvent,
    DecisionEvent,
    AiStateEvent,
    MarketStateEvent,
)


@dataclass(slots=True)
class StoredState:
    """Everything the engine needs to carry on after a restart."""

    traders: list[TraderConfig] = field(default_factory=list)
    accounts: list[AccountState] = field(default_factory=list)
    positions: list[PositionState] = field(default_factory=list)
    open_orders: list[Order] = field(default_factory=list)
    halted: dict[str, tuple[str, str]] = field(default_factory=dict)
    day_start_equity: dict[str, Decimal] = field(default_factory=dict)
    last_days: dict[Market, date] = field(default_factory=dict)
    ai_states: dict[str, dict[str, Any]] = field(default_factory=dict)  # AI traders' memory
    market: dict[str, Any] | None = None  # the simulated market's last snapshot


class Store(Protocol):
    """What storage offers the engine (implemented in ``deepalpha.storage``)."""

    async def load_state(self) -> StoredState: ...

    async def write_events(self, events: Sequence[Event]) -> None:
        """Persist the events in one transaction, in order."""
        ...

    async def save_trader(self, trader: TraderConfig) -> None: ...

    async def save_account(self, account: AccountState) -> None: ...


class PersistenceError(RuntimeError):
    pass


FAILING_STOP_SECONDS = 5.0  # a stop's last tries when the store was already failing


class EventWriter:
    """Persists state-changing events in batches; ``flush`` makes them durable."""

    def __init__(
        self, bus: EventBus, store: Store, *, interval: float = 0.02, retry_interval: float = 1.0
    ) -> None:
        self.bus = bus
        self.store = store
        self.interval = interval
        self.retry_interval = retry_interval
        self._buffer: list[Event] = []
        self._inflight: list[Event] = []  # the batch being written, until it is committed
        self._published = 0  # events buffered so far
        self._committed = 0  # events known to be durable
        self._wake = asyncio.Event()
        self._urgent = False  # someone waits in flush(): commit without gathering a batch
        self._durable = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.batches = 0

    def start(self) -> None:
        for t in PERSISTED:
            self.bus.on(t, self._append)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="event-writer")

    def _append(self, event: Event) -> None:
        self._buffer.append(event)
        self._published += 1
        if len(self._buffer) == 1:
            self._wake.set()

    @property
    def pending(self) -> int:
        return self._published - self._committed

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._urgent:
                await asyncio.sleep(self.interval)  # gather a batch
            self._urgent = False
            await self._commit_buffer()

    async def _commit_buffer(self) -> None:
        while self._buffer:
            batch = self._inflight = self._buffer
            self._buffer = []
            upto = self._committed + len(batch)
            while True:
                try:
                    await self.store.write_events(batch)
                    break
                except Exception as exc:  # keep the batch; retry until storage is back
                    message = Msg("store.save_failed", count=len(batch), error=str(exc))
                    if message != self.last_error:
                        log.error(message)
                        self.bus.publish(NotificationEvent("error", message))
                    if self.last_error is None:
                        self.bus.publish(StorageEvent(False, message))
                    self.last_error = message
                    await asyncio.sleep(self.retry_interval)
            self._committed = upto
            self._inflight = []
            if self.last_error is not None:
                message = Msg("store.saving_again", count=len(batch))
                log.warning(message)
                self.bus.publish(NotificationEvent("information", message))
                self.bus.publish(StorageEvent(True, message))
            self.last_error = None
            self.batches += 1
            async with self._durable:
                self._durable.notify_all()

    async def flush(self, timeout: float | None = 10.0) -> None:
        """Return once every event published before this call is committed."""
        target = self._published
        if self._committed >= target:
            return
        self._urgent = True
        self._wake.set()
        async with self._durable:
            try:
                await asyncio.wait_for(
                    self._durable.wait_for(lambda: self._committed >= target), timeout
                )
            except TimeoutError:
                raise PersistenceError(self.last_error or Msg("store.too_slow")) from None

    async def stop(self, timeout: float = 30.0) -> int:
        """Commit what is left and stop; give up after ``timeout`` seconds of failing.
        Returns how many changes were left unsaved (0: everything is written)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight:
            # The cancel may have cut a commit short: write that batch again before the rest
            # (the writes are idempotent upserts, so a batch that did commit is harmless).
            self._buffer = self._inflight + self._buffer
            self._inflight = []
        if self.last_error is not None:
            timeout = min(timeout, FAILING_STOP_SECONDS)  # failing already: do not hold the exit
        try:
            await asyncio.wait_for(self._commit_buffer(), timeout)
        except TimeoutError:
            message = Msg("store.stopped_unsaved", count=self.pending, error=self.last_error)
            log.error(message)
            self.bus.publish(NotificationEvent("error", message))
        async with self._durable:
            self._durable.notify_all()
        for t in PERSISTED:
            self.bus.off(t, self._append)
        return self.pending


def restore(broker: PaperBroker, state: StoredState) -> None:
    """Rebuild traders, cash, positions (with sellable) and open orders in the broker."""
    by_trader: dict[str, Portfolio] = {}
    for trader in state.traders:
        pf = Portfolio(trader.id, base_currency=trader.base_currency)
        by_trader[trader.id] = pf
        book = broker.add_trader(trader.id, limits=trader.limits, portfolio=pf)
        halted = state.halted.get(trader.id)
        if halted is not None:
            book.risk.halted = (RejectCode(halted[0]), halted[1])
        pf.day_start_equity = state.day_start_equity.get(trader.id)
    for a in state.accounts:
        owner = by_trader.get(a.trader_id)
        if owner is None:
            continue
        owner.accounts[a.currency] = CashAccount(
            a.currency, a.cash, a.frozen, a.deposits, a.realized_pnl, a.fees_paid
        )
    for p in state.positions:
        holder = by_trader.get(p.trader_id)
        if holder is None or not (p.quantity or p.realized_pnl):
            continue
        pos = Position(
            p.symbol,
            p.currency,
            t_plus_one=not p.symbol.endswith(".HK"),
            quantity=p.quantity,
            sellable=p.sellable,
            cost_basis=p.cost_basis,
            realized_pnl=p.realized_pnl,
            fees_paid=p.fees_paid,
            last_price=p.last_price,
            opened_at=p.opened_at,
        )
        holder.positions[p.symbol] = pos
        # Value at the last price known (at cost when none): the feed marks it again soon.
        pos.value = pos.quantity * p.last_price if p.last_price is not None else pos.cost_basis
        holder.account(pos.currency).market_value += pos.value
    # Frozen cash and shares follow from the open orders, whatever the stored totals say.
    for pf in by_trader.values():
        for acct in pf.accounts.values():
            acct.frozen = Decimal(0)
    for order in state.open_orders:
        owner_book = broker.traders.get(order.trader_id)
        if owner_book is None:
            continue
        broker.orders[order.id] = order
        broker.book.setdefault(order.symbol, []).append(order)
        owner_book.open_orders += 1
        if order.side is Side.BUY:
            inst = broker.instruments.get(order.symbol)
            owner_book.portfolio.account(inst.currency).frozen += order.frozen_cash
        else:
            owner_book.portfolio.position(order.symbol).frozen += order.remaining
    for market, day in state.last_days.items():
        broker.day[market] = day


def catch_up(
    broker: PaperBroker, calendars: dict[Market, TradingCalendar], today: dict[Market, date]
) -> dict[Market, list[Order]]:
    """Close the trading days the app missed: day orders of earlier days expire at the close of
    their day, and the T+1 roll happens once for the new day. Returns what expired."""
    expired: dict[Market, list[Order]] = {}
    for market, now_day in today.items():
        last = broker.day.get(market)
        cal = calendars[market]
        current = now_day if cal.is_trading_day(now_day) else cal.previous_trading_day(now_day)
        stale = [
            o
            for o in broker.open_orders()
            if (o.symbol.endswith(".HK") == (market is Market.HK)) and o.trading_day < current
        ]
        if stale:
            out = expired.setdefault(market, [])
            for order in stale:
                order.reject_code = RejectCode.DAY_END
                order.reject_reason = Msg(
                    "expire.missed_close",
                    day=order.trading_day.isoformat(),
                    remaining=order.remaining,
                    quantity=order.quantity,
                )
                broker.expire(order)
                out.append(order)
        if last is None or last < current:
            broker.start_day(market, current)
    return expired
