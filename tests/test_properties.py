"""Accounting invariants under random trading (SPEC §2 money is exact, §4 portfolio; STYLE:
property tests for accounting). Random orders, cancels, quotes, session phases and day changes
go through the real PaperBroker; every invariant is checked after every step."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from deepalpha.engine.broker import BrokerSettings, PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.events import FillEvent
from deepalpha.engine.ids import sequential
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.fees import NO_FEES, FeeBreakdown, order_fees
from deepalpha.engine.markets.instruments import Board, InstrumentRegistry
from deepalpha.engine.markets.rules import tick_size
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Fill, OrderRequest, OrderType, Side
from deepalpha.engine.risk import RiskLimits

D = Decimal
REG = InstrumentRegistry.default()
START = date(2024, 3, 1)


@dataclass(frozen=True)
class Sym:
    symbol: str
    base: Decimal
    swing: int  # ± percent the quotes move around the reference (HK: kept inside one band)


UNIVERSE = [
    Sym("600519.SH", D("1700.00"), 10),  # main board, ±10 %
    Sym("600036.SH", D("10.00"), 10),
    Sym("688981.SH", D("50.00"), 20),  # STAR: 200 then steps of 1
    Sym("300750.SZ", D("180.00"), 20),  # ChiNext ±20 %
    Sym("510300.SH", D("3.855"), 10),  # ETF, ¥0.001 tick
    Sym("00700.HK", D("300.00"), 5),  # HK tick 0.20, lot 100
    Sym("00005.HK", D("60.00"), 5),  # HK tick 0.05, lot 400
]

quote_action = st.tuples(
    st.just("quote"),
    st.integers(0, len(UNIVERSE) - 1),
    st.integers(-100, 100),  # where the last trade sits in the swing, in percent of it
    st.integers(0, 12),  # bid/ask size, in lots (0: take the order's remainder)
    st.sampled_from(["two_sided", "two_sided", "two_sided", "no_ask", "no_bid"]),
)
order_action = st.tuples(
    st.just("order"),
    st.integers(0, len(UNIVERSE) - 1),
    st.sampled_from([Side.BUY, Side.SELL]),
    # lots; -1: sell all available (odd lots included); -2: buy with all the available cash
    st.sampled_from([-2, -1, 1, 1, 2, 3, 5, 8]),
    st.sampled_from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 37, 50]),  # extra odd shares (mostly none)
    st.one_of(st.none(), st.integers(-12, 12)),  # None: market; else limit offset in ticks
)
cancel_action = st.tuples(st.just("cancel"), st.integers(0, 20))
day_action = st.tuples(st.just("day"))
phase_action = st.tuples(
    st.just("phase"),
    st.sampled_from([Market.CN, Market.HK]),
    st.sampled_from(
        [Phase.CONTINUOUS] * 4 + [Phase.LUNCH_BREAK, Phase.PRE_OPEN, Phase.CLOSING_AUCTION]
    ),
)
actions = st.lists(
    st.one_of(
        quote_action,
        quote_action,
        order_action,
        order_action,
        order_action,
        cancel_action,
        day_action,
        phase_action,
    ),
    min_size=20,
    max_size=80,
)


class World:
    def __init__(self, slippage_bps: int, cash_cny: str, cash_hkd: str) -> None:
        self.day = START
        self.clock = ManualClock(datetime.combine(START, time(10, 0), SHANGHAI))
        self.bus = EventBus()
        self.fills: list[Fill] = []
        self.bus.on(FillEvent, lambda e: self.fills.append(e.fill))
        self.settings = BrokerSettings(slippage_bps=D(slippage_bps))
        self.broker = PaperBroker(
            REG,
            self.clock,
            self.bus,
            self.settings,
            id_factory=sequential("o"),
            fill_id_factory=sequential("f"),
        )
        self.broker.add_trader(
            "t", {"CNY": D(cash_cny), "HKD": D(cash_hkd)}, RiskLimits(max_daily_loss=None)
        )
        self.ref: dict[str, Decimal] = {s.symbol: s.base for s in UNIVERSE}
        self.last: dict[str, Decimal] = dict(self.ref)
        self.open_day()

    def open_day(self) -> None:
        self.clock.set(datetime.combine(self.day, time(10, 0), SHANGHAI))
        for market in (Market.CN, Market.HK):
            self.broker.start_day(market, self.day)
            self.broker.set_phase(market, Phase.CONTINUOUS)
        for i, s in enumerate(UNIVERSE):
            self.ref[s.symbol] = self.last[s.symbol]
            self.broker.set_reference(s.symbol, self.day, self.ref[s.symbol])
            self.quote(i, 0, 5, "two_sided")  # the opening quote

    def snap(self, symbol: str, price: Decimal) -> Decimal:
        inst = REG.get(symbol)
        tick = tick_size(inst, price, self.day)
        return (price / tick).quantize(D(1), rounding=ROUND_HALF_UP) * tick

    def band(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        state = self.broker.state(symbol)
        return state.limit_down, state.limit_up

    def step(self, action: tuple[object, ...]) -> None:
        self.clock.advance(timedelta(seconds=7))
        kind = action[0]
        if kind == "quote":
            self.quote(*action[1:])  # type: ignore[arg-type]
        elif kind == "order":
            self.order(*action[1:])  # type: ignore[arg-type]
        elif kind == "cancel":
            live = list(self.broker.open_orders("t"))
            if live:
                self.broker.cancel(live[int(action[1]) % len(live)].id)  # type: ignore[call-overload]
        elif kind == "day":
            self.broker.end_day(Market.CN, self.day)
            self.broker.end_day(Market.HK, self.day)
            self.day += timedelta(days=3 if self.day.weekday() == 4 else 1)
            self.open_day()
        elif kind == "phase":
            self.broker.set_phase(action[1], action[2])  # type: ignore[arg-type]

    def quote(self, idx: int, where: int, lots: int, shape: str) -> None:
        s = UNIVERSE[idx]
        inst = REG.get(s.symbol)
        ref = self.ref[s.symbol]
        price = self.snap(s.symbol, ref * (1 + D(s.swing) / 100 * D(where) / 100))
        down, up = self.band(s.symbol)
        if up is not None and down is not None:
            price = min(max(price, down), up)
        tick = tick_size(inst, price, self.day)
        bid: Decimal | None = price
        ask: Decimal | None = price + tick
        if up is not None and ask is not None and ask > up:
            ask = up
        if shape == "no_ask":
            ask = None
        elif shape == "no_bid":
            bid = None
        size = lots * inst.board_lot + (37 if inst.board is Board.STAR and lots else 0)
        self.last[s.symbol] = price
        self.broker.on_quote(Quote(s.symbol, self.clock.now(), price, bid, ask, size, size))

    def all_in(self, symbol: str, limit: Decimal | None) -> int:
        """The most shares the available cash buys, fees included: the tightest order."""
        inst = REG.get(symbol)
        state = self.broker.state(symbol)
        price = limit if limit is not None else (state.ask or state.last)
        if price is None:
            return inst.board_lot
        available = self.broker.portfolio("t").account(inst.currency).available
        step = 1 if inst.board is Board.STAR else inst.board_lot
        qty = int(available / price) // step * step
        while qty > 0:
            value = price * qty
            fees = order_fees(inst.market, False, value, self.day, self.settings.fees).total
            if value + fees <= available:
                return qty
            qty -= step
        return inst.board_lot

    def held(self, symbol: str) -> bool:
        pos = self.broker.portfolio("t").positions.get(symbol)
        return pos is not None and pos.quantity > 0

    def order(self, idx: int, side: Side, lots: int, odd: int, offset: int | None) -> None:
        held = [i for i, u in enumerate(UNIVERSE) if self.held(u.symbol)]
        if side is Side.SELL and idx % 3:
            if held:
                idx = held[idx % len(held)]  # mostly sell what is held
            else:
                side = Side.BUY  # nothing to sell: build a position instead
        s = UNIVERSE[idx]
        inst = REG.get(s.symbol)
        pos = self.broker.portfolio("t").positions.get(s.symbol)
        price = None
        if offset is not None:
            last = self.last[s.symbol]
            price = last + offset * tick_size(inst, last, self.day)
            if price <= 0:
                price = last
        if lots == -2 and side is Side.BUY:
            qty = self.all_in(s.symbol, price)
        elif lots < 0:
            qty = pos.available if pos is not None and side is Side.SELL else inst.board_lot
        else:
            qty = lots * inst.board_lot + odd
        self.broker.submit(
            OrderRequest(
                "t",
                s.symbol,
                side,
                qty,
                OrderType.LIMIT if price is not None else OrderType.MARKET,
                price,
            )
        )

    def check(self) -> None:
        broker = self.broker
        pf = broker.portfolio("t")
        orders = broker.orders
        live = [o for o in orders.values() if o.status.is_open]
        cost_by_ccy: dict[str, Decimal] = defaultdict(Decimal)
        for pos in pf.positions.values():
            cost_by_ccy[pos.currency] += pos.cost_basis
            assert 0 <= pos.sellable <= pos.quantity, pos
            assert 0 <= pos.frozen <= pos.sellable, pos
            frozen_by_orders = sum(
                o.remaining for o in live if o.symbol == pos.symbol and o.side is Side.SELL
            )
            assert pos.frozen == frozen_by_orders, (pos, frozen_by_orders)
            if pos.quantity == 0:
                assert pos.cost_basis == 0, pos
        fees_by_ccy: dict[str, Decimal] = defaultdict(Decimal)
        for acct in pf.accounts.values():
            ccy = acct.currency
            # Conservation: cash + cost of what is held − realized P&L == money put in, exactly.
            assert acct.cash + cost_by_ccy[ccy] - acct.realized_pnl == acct.deposits, acct
            assert acct.cash >= 0, acct
            assert acct.available >= 0, acct
            held_for_buys = sum(
                (
                    o.frozen_cash
                    for o in live
                    if o.side is Side.BUY and REG.get(o.symbol).currency == ccy
                ),
                Decimal(0),
            )
            assert acct.frozen == held_for_buys, (acct, held_for_buys)
        for o in orders.values():
            if not (o.status.is_open and o.side is Side.BUY):
                assert o.frozen_cash == 0, o
        by_order: dict[str, list[Fill]] = defaultdict(list)
        qty_by_symbol: dict[str, int] = defaultdict(int)
        for fill in self.fills:
            assert fill.order_id in orders, fill
            by_order[fill.order_id].append(fill)
            fees_by_ccy[fill.currency] += fill.fees.total
            sign = 1 if fill.side is Side.BUY else -1
            qty_by_symbol[fill.symbol] += sign * fill.quantity
        for oid, order in orders.items():
            fills = by_order.get(oid, [])
            assert order.filled_quantity == sum(f.quantity for f in fills), order
            assert order.filled_amount == sum((f.amount for f in fills), Decimal(0)), order
            fee_sum = sum((f.fees for f in fills), NO_FEES)
            assert isinstance(fee_sum, FeeBreakdown)
            assert order.fees == fee_sum, order
            # The order pays exactly what a contract note on its total amount shows.
            market = REG.get(order.symbol).market if order.filled_quantity else Market.CN
            expected = order_fees(
                market,
                order.side is Side.SELL,
                order.filled_amount,
                order.trading_day,
                self.settings.fees,
            )
            assert order.fees == expected, (order, expected)
            assert 0 <= order.filled_quantity <= order.quantity, order
        for symbol, pos in pf.positions.items():
            assert pos.quantity == qty_by_symbol[symbol], pos
        for acct in pf.accounts.values():
            assert acct.fees_paid == fees_by_ccy[acct.currency], acct


@settings(max_examples=600, deadline=None)
@given(
    actions,
    st.sampled_from([0, 0, 5, 30]),
    st.sampled_from(["2000000", "200000", "10005.10"]),
    st.sampled_from(["1000000", "100000", "30000"]),
)
def test_accounting_invariants_hold_after_every_step(
    steps: list[tuple[object, ...]], slippage: int, cash_cny: str, cash_hkd: str
) -> None:
    world = World(slippage, cash_cny, cash_hkd)
    world.check()
    for action in steps:
        world.step(action)
        world.check()


def test_the_generator_reaches_fills_and_partial_fills() -> None:
    """Guard against a vacuous property: a plain scripted run produces fills and sells."""
    world = World(0, "2000000", "1000000")
    script: list[tuple[object, ...]] = [
        ("quote", 0, 0, 1, "two_sided"),
        ("order", 0, Side.BUY, 3, 0, None),
        ("order", 0, Side.BUY, 3, 0, None),
        ("quote", 0, 0, 12, "two_sided"),
        ("day",),
        ("quote", 0, 50, 12, "two_sided"),
        ("order", 0, Side.SELL, -1, 0, None),
        ("quote", 5, 0, 3, "two_sided"),
        ("order", 5, Side.BUY, 2, 0, None),
        ("order", 5, Side.SELL, 2, 0, None),
    ]
    for action in script:
        world.step(action)
        world.check()
    sides = [f.side for f in world.fills]
    assert Side.SELL in sides and Side.BUY in sides
    assert len({f.order_id for f in world.fills}) < len(world.fills)  # some order filled twice
    assert world.broker.portfolio("t").account("CNY").realized_pnl != 0
