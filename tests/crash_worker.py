"""A trading process for the crash test: ``python -m tests.crash_worker DATA_DIR SEED``.

SEED grows with each run of a test (it also numbers the ids, so they sort across runs).
It opens (or recovers) the SQLite store in DATA_DIR, rebuilds the broker from it as the app does,
then places, fills and cancels orders as fast as it can until it is killed. After each
``writer.flush()`` it prints what is now durable, one line each, and flushes stdout:

    READY {json}                 after the restore: cash, frozen and positions as rebuilt
    ACK <order_id> <status> <filled_quantity>
    CANCEL <order_id>
    FILL <fill_id>

Whatever it printed must be in the database after a SIGKILL at any moment.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path

from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.events import AccountState, FillEvent
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.calendar import calendar_for
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.rules import tick_size
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Order, OrderRequest, OrderType, Side
from deepalpha.engine.persistence import EventWriter, catch_up, restore
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.storage.connect import open_store

TRADERS = ("alice", "bob")
DEPOSITS = {"CNY": Decimal(3_000_000), "HKD": Decimal(3_000_000)}
# Prices stay within one HKEX tick band (00700: 0.20 in 200–500; 01810: 0.05 in 20–100).
START_PRICE = {
    "600036.SH": Decimal("35.00"),
    "000001.SZ": Decimal("11.00"),
    "300750.SZ": Decimal("200.00"),
    "00700.HK": Decimal("380.00"),
    "01810.HK": Decimal("30.00"),
}
FIRST_DAY = date(2025, 6, 3)
ORDERS_PER_DAY = 150
WALK = 30  # ticks either side of the start price


def _ids(prefix: str, run: int) -> Callable[[], str]:
    """Ids that sort in the order they were made, across restarts too: the test starts runs
    with increasing numbers (never the wall clock, which a test may not read)."""
    counter = iter(range(1, 10**9))
    return lambda: f"{prefix}{run:06d}-{next(counter):09d}"


def _both_open(day: date) -> bool:
    return calendar_for(Market.CN).is_trading_day(day) and calendar_for(Market.HK).is_trading_day(
        day
    )


def _next_day(day: date) -> date:
    cn = calendar_for(Market.CN)
    day = cn.next_trading_day(day)
    while not _both_open(day):
        day = cn.next_trading_day(day)
    return day


def _out(lines: list[str]) -> None:
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


class Worker:
    def __init__(self, broker: PaperBroker, rng: random.Random, clock: ManualClock) -> None:
        self.broker = broker
        self.rng = rng
        self.clock = clock
        self.ticks: dict[str, int] = {s: 0 for s in START_PRICE}
        self.fills: list[str] = []
        broker.bus.on(FillEvent, lambda e: self.fills.append(e.fill.id))

    def price(self, symbol: str) -> tuple[Decimal, Decimal]:
        inst = self.broker.instruments.get(symbol)
        base = START_PRICE[symbol]
        tick = tick_size(inst, base, FIRST_DAY)
        return base + tick * self.ticks[symbol], tick

    def quote(self, symbol: str) -> None:
        rng = self.rng
        step = self.ticks[symbol] + rng.choice((-1, 0, 1))
        self.ticks[symbol] = max(-WALK, min(WALK, step))
        mid, tick = self.price(symbol)
        self.clock.advance(timedelta(milliseconds=1))
        self.broker.on_quote(
            Quote(
                symbol,
                self.clock.now(),
                mid,
                mid - tick,
                mid + tick,
                bid_size=rng.choice((0, 300, 1000, 20_000)),
                ask_size=rng.choice((0, 300, 1000, 20_000)),
            )
        )

    def act(self) -> tuple[Order | None, str | None]:
        """One random action: an order (returned) or a cancel (its id)."""
        rng, broker = self.rng, self.broker
        trader = rng.choice(TRADERS)
        symbol = rng.choice(list(START_PRICE))
        inst = broker.instruments.get(symbol)
        lot = inst.board_lot
        mid, tick = self.price(symbol)
        roll = rng.random()
        self.clock.advance(timedelta(milliseconds=3))
        if roll < 0.40:
            req = OrderRequest(trader, symbol, Side.BUY, lot * rng.randint(1, 5))
        elif roll < 0.55:
            away = mid - tick * rng.randint(0, 4)
            req = OrderRequest(
                trader, symbol, Side.BUY, lot * rng.randint(1, 3), OrderType.LIMIT, away
            )
        elif roll < 0.85:
            held = [
                p
                for p in broker.portfolio(trader).positions.values()
                if p.available >= broker.instruments.get(p.symbol).board_lot
            ]
            if not held:
                return None, None
            pos = rng.choice(held)
            sell_inst = broker.instruments.get(pos.symbol)
            lots = pos.available // sell_inst.board_lot
            qty = sell_inst.board_lot * rng.randint(1, min(lots, 4))
            if rng.random() < 0.6:
                req = OrderRequest(trader, pos.symbol, Side.SELL, qty)
            else:
                sell_mid, sell_tick = self.price(pos.symbol)
                limit = sell_mid + sell_tick * rng.randint(0, 4)
                req = OrderRequest(trader, pos.symbol, Side.SELL, qty, OrderType.LIMIT, limit)
        elif roll < 0.95:
            live = list(broker.open_orders())
            if not live:
                return None, None
            victim = rng.choice(live)
            broker.cancel(victim.id)
            return None, victim.id
        else:  # an odd lot: rejected, and still recorded
            req = OrderRequest(trader, symbol, Side.BUY, lot * 2 + 1)
        return broker.submit(req), None

    def new_day(self) -> None:
        broker = self.broker
        day = broker.day[Market.CN] or FIRST_DAY
        for market in Market:
            broker.end_day(market, broker.day[market] or day)
        nxt = _next_day(day)
        self.clock.set(datetime.combine(nxt, dtime(9, 31), SHANGHAI))
        for market in Market:
            broker.start_day(market, nxt)
            broker.set_phase(market, Phase.CONTINUOUS)


async def main(data_dir: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = await open_store(None, data_dir)
    state = await store.load_state()
    # First run, or a first run killed half-way: make what is missing.
    have = {t.id for t in state.traders}
    accounts = {(a.trader_id, a.currency) for a in state.accounts}
    for tid in TRADERS:
        if tid not in have:
            await store.save_trader(
                TraderConfig(tid, tid.title(), TraderKind.DISCRETIONARY, limits=RiskLimits())
            )
        for currency, amount in DEPOSITS.items():
            if (tid, currency) not in accounts:
                zero = Decimal(0)
                await store.save_account(
                    AccountState(tid, currency, amount, zero, amount, zero, zero)
                )
    state = await store.load_state()

    last = state.last_days.get(Market.CN)
    today = FIRST_DAY if last is None else (_next_day(last) if rng.random() < 0.3 else last)
    clock = ManualClock(datetime.combine(today, dtime(10, 0), SHANGHAI))
    bus = EventBus()
    broker = PaperBroker(
        InstrumentRegistry.default(),
        clock,
        bus,
        id_factory=_ids("o", seed),
        fill_id_factory=_ids("f", seed),
    )
    worker = Worker(broker, rng, clock)
    writer = EventWriter(bus, store, interval=0.002)
    writer.start()
    restore(broker, state)
    rebuilt = {
        "accounts": {
            f"{tid}/{cur}": [str(a.cash), str(a.frozen)]
            for tid, book in broker.traders.items()
            for cur, a in book.portfolio.accounts.items()
        },
        "positions": {
            f"{tid}/{sym}": [p.quantity, p.sellable, str(p.cost_basis), p.frozen]
            for tid, book in broker.traders.items()
            for sym, p in book.portfolio.positions.items()
            if p.quantity
        },
        "open_orders": sorted(o.id for o in broker.open_orders()),
    }
    catch_up(broker, {m: calendar_for(m) for m in Market}, {m: today for m in Market})
    for market in Market:
        broker.start_day(market, today)  # no-op unless nothing was stored yet
        broker.set_phase(market, Phase.CONTINUOUS)
    await writer.flush()
    _out([f"READY {json.dumps(rebuilt)}"])

    placed = 0
    while True:
        worker.fills.clear()
        orders: list[Order] = []
        cancels: list[str] = []
        for _ in range(rng.randint(1, 3)):
            worker.quote(rng.choice(list(START_PRICE)))
        for _ in range(rng.randint(1, 8)):
            order, cancelled = worker.act()
            if order is not None:
                orders.append(order)
                placed += 1
                if placed % ORDERS_PER_DAY == 0:
                    worker.new_day()
            if cancelled is not None:
                cancels.append(cancelled)
        await writer.flush()
        lines = [f"ACK {o.id} {o.status.value} {o.filled_quantity}" for o in orders]
        lines += [f"CANCEL {oid}" for oid in cancels]
        lines += [f"FILL {fid}" for fid in worker.fills]
        _out(lines)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
