"""The built-in market simulator: reproducible, on the grid, inside the band, with sessions,
limit-up behaviour and the T+1 roll seen through the paper broker."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import pytest

from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import QuoteEvent, SessionEvent
from deepalpha.engine.feeds.simulator import (
    LABEL,
    DayKind,
    SimulatedMarket,
    StepResult,
    default_start,
)
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.instruments import Board, InstrumentRegistry
from deepalpha.engine.markets.rules import tick_error
from deepalpha.engine.markets.sessions import SHANGHAI, Phase, close_time, phase_at
from deepalpha.engine.markets.symbols import Market, market_of
from deepalpha.engine.orders import OrderRequest, OrderStatus, OrderType, RejectCode, Side

DAY1 = date(2025, 9, 1)  # a Monday both SSE/SZSE and HKEX trade
DAY2 = date(2025, 9, 2)


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=SHANGHAI)


def quotes_of(results: list[StepResult]) -> list[Quote]:
    return [q for r in results for q in r.quotes]


@pytest.fixture(scope="module")
def day_one() -> tuple[SimulatedMarket, list[StepResult]]:
    """One whole simulated day of the full universe, with a few limit days scripted."""
    sim = SimulatedMarket(seed=7, start=at(DAY1, 8, 0), step_seconds=15)
    sim.plan("600036.SH", DayKind.RUN_UP)
    sim.plan("000001.SZ", DayKind.RUN_DOWN)
    sim.plan("601318.SH", DayKind.ONE_PRICE_UP)
    primed, *day = sim.advance_to(at(DAY1, 17, 0))
    # Started before the open, the market first shows the last closed day (one quote each).
    assert not primed.phases and len(primed.quotes) == len(sim.symbols)
    return sim, day


def test_the_market_says_it_is_simulated() -> None:
    sim = SimulatedMarket(seed=1, start=at(DAY1, 9, 0), symbols=["600519.SH"])
    assert sim.simulated is True
    assert sim.label == LABEL == "SIMULATED MARKET"


def test_universe_covers_the_boards_one_st_and_hong_kong() -> None:
    sim = SimulatedMarket(seed=1, start=at(DAY1, 8, 0))
    universe = sim.universe()
    a_shares = [i for i in universe if i.market is Market.CN]
    hk = [i for i in universe if i.market is Market.HK]
    assert len(a_shares) >= 20
    assert len(hk) >= 10
    boards = {i.board for i in a_shares}
    assert {Board.MAIN, Board.CHINEXT, Board.STAR} <= boards
    assert [i.symbol for i in a_shares if i.st] == ["600518.SH"]
    real = InstrumentRegistry.default()
    for inst in universe:
        assert real.get(inst.symbol).board_lot == inst.board_lot
    assert {i.board_lot for i in hk} >= {100, 400, 500, 1000}


def test_same_seed_same_quotes_however_time_is_advanced() -> None:
    symbols = ["600519.SH", "300750.SZ", "688981.SH", "00700.HK", "00005.HK"]
    one = SimulatedMarket(seed=11, start=at(DAY1, 8, 0), symbols=symbols)
    whole = quotes_of(one.advance_to(at(DAY1, 10, 30)))
    # Same seed, symbols in another order, advanced in uneven chunks and single steps.
    two = SimulatedMarket(seed=11, start=at(DAY1, 8, 0), symbols=list(reversed(symbols)))
    chunked: list[Quote] = []
    for minute in range(0, 150, 7):
        chunked += quotes_of(two.advance_to(at(DAY1, 8 + minute // 60, minute % 60, 13)))
    while two.next_event_time() <= at(DAY1, 10, 30):
        chunked += two.step().quotes

    def by_symbol(qs: list[Quote]) -> dict[str, list[Quote]]:
        out: dict[str, list[Quote]] = defaultdict(list)
        for q in qs:
            out[q.symbol].append(q)
        return out

    assert len(whole) > 1000
    assert by_symbol(whole) == by_symbol(chunked)

    other = SimulatedMarket(seed=12, start=at(DAY1, 8, 0), symbols=symbols)
    different = quotes_of(other.advance_to(at(DAY1, 10, 30)))
    assert [q.last for q in different] != [q.last for q in whole]


def test_every_price_is_on_the_tick_grid(day_one: tuple[SimulatedMarket, list[StepResult]]) -> None:
    sim, results = day_one
    checked = 0
    for q in quotes_of(results):
        inst = sim.instruments.get(q.symbol)
        for price in (q.last, q.bid, q.ask, q.open, q.high, q.low, q.limit_up, q.limit_down):
            if price is not None:
                assert tick_error(inst, price, DAY1) is None, (q.symbol, price)
                checked += 1
    assert checked > 30_000
    # HK prices in the 200–500 band trade in HK$0.20 steps, 50–100 in HK$0.05.
    tencent = [q.last for q in quotes_of(results) if q.symbol == "00700.HK"]
    assert all(p % Decimal("0.2") == 0 for p in tencent if p <= 500)
    etf = [q.last for q in quotes_of(results) if q.symbol == "510300.SH"]
    assert any(p % Decimal("0.01") for p in etf)  # funds quote in ¥0.001


def test_prices_never_leave_the_band_and_hk_has_none(
    day_one: tuple[SimulatedMarket, list[StepResult]],
) -> None:
    _, results = day_one
    for q in quotes_of(results):
        if market_of(q.symbol) is Market.HK:
            assert q.limit_up is None and q.limit_down is None
            continue
        assert q.limit_down is not None and q.limit_up is not None
        for price in (q.last, q.bid, q.ask, q.high, q.low):
            if price is not None:
                assert q.limit_down <= price <= q.limit_up, (q.symbol, price)
    st = next(q for q in quotes_of(results) if q.symbol == "600518.SH")
    chinext = next(q for q in quotes_of(results) if q.symbol == "300750.SZ")
    assert st.pre_close is not None and st.limit_up is not None
    assert chinext.pre_close is not None and chinext.limit_up is not None
    # ST on the main board: ±10 % since 2025-07-07; ChiNext: ±20 %.
    assert st.limit_up == (st.pre_close * Decimal("1.1")).quantize(Decimal("0.01"))
    assert chinext.limit_up == (chinext.pre_close * Decimal("1.2")).quantize(Decimal("0.01"))


def test_at_a_limit_one_side_of_the_book_is_empty(
    day_one: tuple[SimulatedMarket, list[StepResult]],
) -> None:
    _, results = day_one
    quotes = quotes_of(results)
    at_up = [q for q in quotes if q.limit_up is not None and q.last == q.limit_up]
    at_down = [q for q in quotes if q.limit_down is not None and q.last == q.limit_down]
    assert {q.symbol for q in at_up} >= {"600036.SH", "601318.SH"}
    assert "000001.SZ" in {q.symbol for q in at_down}
    for q in at_up:
        assert q.ask is None and q.bid == q.limit_up and q.bid_size > 0
    for q in at_down:
        assert q.bid is None and q.ask == q.limit_down and q.ask_size > 0
    # A one-price limit-up day opens sealed and never trades below the limit.
    sealed = [q for q in quotes if q.symbol == "601318.SH"]
    assert sealed[0].open == sealed[0].limit_up
    assert all(q.last == q.limit_up and q.low == q.limit_up for q in sealed)
    # Elsewhere the book has both sides, the touch around the last price.
    normal = [q for q in quotes if q.symbol == "600519.SH"]
    assert all(q.bid is not None and q.ask is not None and q.bid < q.ask for q in normal)
    assert all(q.bid <= q.last <= q.ask for q in normal if q.bid and q.ask)


def test_no_quotes_outside_continuous_trading_but_the_close(
    day_one: tuple[SimulatedMarket, list[StepResult]],
) -> None:
    _, results = day_one
    for q in quotes_of(results):
        market = market_of(q.symbol)
        phase = phase_at(market, q.time)
        if phase is not Phase.CONTINUOUS:
            # The closing auction's print, at the end of the day.
            assert q.time == close_time(market, DAY1), (q.symbol, q.time)
    lunch_cn = [
        q
        for q in quotes_of(results)
        if market_of(q.symbol) is Market.CN and at(DAY1, 11, 30) <= q.time < at(DAY1, 13, 0)
    ]
    lunch_hk = [
        q
        for q in quotes_of(results)
        if market_of(q.symbol) is Market.HK and at(DAY1, 12, 0) <= q.time < at(DAY1, 13, 0)
    ]
    assert lunch_cn == [] and lunch_hk == []
    afternoon = [q for q in quotes_of(results) if at(DAY1, 13, 0) < q.time < at(DAY1, 14, 0)]
    assert afternoon


def test_phases_of_one_simulated_day(day_one: tuple[SimulatedMarket, list[StepResult]]) -> None:
    _, results = day_one
    seen: dict[Market, list[Phase]] = defaultdict(list)
    for r in results:
        for change in r.phases:
            seen[change.market].append(change.phase)
            assert change.day == DAY1
            assert phase_at(change.market, change.time) is change.phase
    expected = [
        Phase.PRE_OPEN,
        Phase.CONTINUOUS,
        Phase.LUNCH_BREAK,
        Phase.CONTINUOUS,
        Phase.CLOSING_AUCTION,
        Phase.CLOSED,
    ]
    assert seen[Market.CN] == expected
    assert seen[Market.HK] == expected
    started = [s for r in results for s in r.started]
    ended = [e for r in results for e in r.ended]
    assert started == [(Market.HK, DAY1), (Market.CN, DAY1)]  # HK pre-opens at 09:00
    assert ended == [(Market.CN, DAY1), (Market.HK, DAY1)]
    assert [r.snapshot_day for r in results if r.snapshot_day] == [DAY1]


def test_volumes_grow_in_board_lots(day_one: tuple[SimulatedMarket, list[StepResult]]) -> None:
    sim, results = day_one
    last_volume: dict[str, int] = {}
    for q in quotes_of(results):
        lot = sim.instruments.get(q.symbol).board_lot
        assert q.volume % lot == 0 and q.bid_size % lot == 0 and q.ask_size % lot == 0
        assert q.volume >= last_volume.get(q.symbol, 0)
        last_volume[q.symbol] = q.volume
    assert all(v > 0 for v in last_volume.values())
    assert last_volume["00005.HK"] % 400 == 0 and last_volume["00883.HK"] % 1000 == 0


def test_the_close_becomes_the_next_pre_close() -> None:
    sim = SimulatedMarket(seed=5, start=at(DAY1, 8, 0), symbols=["002594.SZ", "00941.HK"])
    sim.advance_to(at(DAY1, 17, 0))
    closes = {s: q.last for s, q in sim.quotes.items()}
    day2 = quotes_of(sim.advance_to(at(DAY2, 9, 45)))
    for symbol, close in closes.items():
        assert next(q for q in day2 if q.symbol == symbol).pre_close == close
    assert sim.day[Market.CN] == DAY2


def _broker(sim: SimulatedMarket, bus: EventBus | None = None) -> PaperBroker:
    broker = PaperBroker(sim.instruments, sim, bus)
    broker.add_trader("t1", cash={"CNY": Decimal(1_000_000), "HKD": Decimal(1_000_000)})
    return broker


def test_t_plus_one_roll_through_the_broker() -> None:
    symbol = "600900.SH"
    sim = SimulatedMarket(seed=3, start=at(DAY1, 8, 0), symbols=[symbol])
    bus = EventBus()
    broker = _broker(sim, bus)
    sim.drive_to(at(DAY1, 10, 0), broker, bus)
    _, _, limit_up = sim.reference(symbol)
    assert limit_up is not None
    buy = broker.submit(
        OrderRequest("t1", symbol, Side.BUY, 500, OrderType.LIMIT, limit_price=limit_up)
    )
    sim.drive_to(at(DAY1, 10, 30), broker, bus)
    assert buy.status is OrderStatus.FILLED
    pos = broker.portfolio("t1").position(symbol)
    assert (pos.quantity, pos.sellable) == (500, 0)
    sell = broker.submit(OrderRequest("t1", symbol, Side.SELL, 500))
    assert sell.status is OrderStatus.REJECTED and sell.reject_code is RejectCode.T_PLUS_ONE

    sim.drive_to(at(DAY2, 9, 20), broker, bus)  # day 2's opening auction
    assert broker.day[Market.CN] == DAY2
    assert (pos.quantity, pos.sellable) == (500, 500)
    sim.drive_to(at(DAY2, 10, 0), broker, bus)
    sell = broker.submit(OrderRequest("t1", symbol, Side.SELL, 500))
    sim.drive_to(at(DAY2, 10, 30), broker, bus)
    assert sell.status is OrderStatus.FILLED
    assert pos.quantity == 0


def test_limit_up_blocks_buys_and_fills_sells() -> None:
    symbol = "300015.SZ"
    sim = SimulatedMarket(seed=9, start=at(DAY1, 8, 0), symbols=[symbol])
    broker = _broker(sim)
    sim.drive_to(at(DAY1, 10, 0), broker)
    _, _, day1_up = sim.reference(symbol)
    assert day1_up is not None
    day1_buy = broker.submit(
        OrderRequest("t1", symbol, Side.BUY, 1000, OrderType.LIMIT, limit_price=day1_up)
    )
    sim.drive_to(at(DAY1, 10, 30), broker)
    assert day1_buy.status is OrderStatus.FILLED
    sim.plan(symbol, DayKind.ONE_PRICE_UP)
    sim.drive_to(at(DAY2, 9, 20), broker)
    _, _, limit_up = sim.reference(symbol)
    assert limit_up is not None
    sell = broker.submit(
        OrderRequest("t1", symbol, Side.SELL, 600, OrderType.LIMIT, limit_price=limit_up)
    )
    buy = broker.submit(
        OrderRequest("t1", symbol, Side.BUY, 200, OrderType.LIMIT, limit_price=limit_up)
    )
    assert (sell.status, buy.status) == (OrderStatus.OPEN, OrderStatus.OPEN)
    sim.drive_to(at(DAY2, 14, 0), broker)
    q = sim.quotes[symbol]
    assert q.last == limit_up and q.ask is None and q.bid == limit_up
    assert sell.status is OrderStatus.FILLED and sell.avg_price == limit_up
    assert buy.status is OrderStatus.OPEN and buy.filled_quantity == 0
    assert buy.last_miss is not None and buy.last_miss[0] is RejectCode.PRICE_LIMIT
    sim.drive_to(at(DAY2, 15, 30), broker)
    assert buy.status is OrderStatus.EXPIRED and buy.reject_code is RejectCode.PRICE_LIMIT


def test_default_start_follows_the_given_moment() -> None:
    # Within trading hours of either market (lunch included): start right there.
    assert default_start(at(DAY1, 10, 17, 5)) == at(DAY1, 10, 17, 5)
    assert default_start(at(DAY1, 12, 30)) == at(DAY1, 12, 30)
    assert default_start(at(DAY1, 15, 50)) == at(DAY1, 15, 50)  # HK trades till 16:10
    # Outside: the next pre-open (HK opens first, at 09:00).
    assert default_start(at(DAY1, 20, 0)) == at(DAY2, 9, 0)
    assert default_start(at(date(2025, 9, 6), 11, 0)) == at(date(2025, 9, 8), 9, 0)
    # Christmas night: HKEX is closed on Boxing Day too, so the SSE pre-open comes first.
    assert default_start(at(date(2025, 12, 25), 20, 0)) == at(date(2025, 12, 26), 9, 15)


def test_run_skips_dead_time_and_publishes_simulated_sessions() -> None:
    sim = SimulatedMarket(
        seed=2, start=at(DAY1, 11, 59, 30), speed=600.0, symbols=["600519.SH", "00700.HK"]
    )
    bus = EventBus()
    broker = _broker(sim, bus)
    sessions: list[SessionEvent] = []
    quotes: list[QuoteEvent] = []
    bus.on(SessionEvent, sessions.append)
    bus.on(QuoteEvent, quotes.append)

    async def play() -> None:
        task = asyncio.create_task(sim.run(broker, bus, tick_interval=0.01, idle_pause=0.05))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(play())
    # 0.5 s at 600× is 5 simulated minutes: only skipping the lunch hour reaches 13:00.
    assert sim.now() > at(DAY1, 13, 0)
    assert all(e.simulated for e in sessions)
    assert (Market.HK, Phase.LUNCH_BREAK) in [(e.market, e.phase) for e in sessions]
    assert any(q.quote.time > at(DAY1, 13, 0) for q in quotes)
    assert broker.phase[Market.CN] is Phase.CONTINUOUS


def test_the_pre_open_is_shown_then_skipped() -> None:
    """At 60× the two pre-open auctions would take half a real minute; after a moment to
    see them (and enter an order for the open) the market skips to the open."""
    sim = SimulatedMarket(seed=2, start=at(DAY1, 9, 10), speed=60.0, symbols=["00700.HK"])
    broker = _broker(sim, EventBus())

    async def play() -> None:
        task = asyncio.create_task(
            sim.run(broker, tick_interval=0.01, idle_pause=0.05, auction_pause=0.2)
        )
        await asyncio.sleep(0.1)
        assert sim.phase[Market.HK] is Phase.PRE_OPEN  # shown first ...
        await asyncio.sleep(0.6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(play())
    assert sim.phase[Market.HK] is Phase.CONTINUOUS  # ... then skipped: 0.7 s is 42 s at 60×
    assert sim.now() >= at(DAY1, 9, 30)


def test_started_at_lunch_the_morning_counts_as_played() -> None:
    sim = SimulatedMarket(seed=6, start=at(DAY1, 12, 10), symbols=["600519.SH", "00700.HK"])
    first = sim.step()
    assert {q.symbol for q in first.quotes} == {"600519.SH", "00700.HK"}
    assert all(q.open is not None and q.volume > 0 for q in first.quotes)
    assert [(c.market, c.phase) for c in first.phases] == [
        (Market.CN, Phase.LUNCH_BREAK),
        (Market.HK, Phase.LUNCH_BREAK),
    ]
    later = quotes_of(sim.advance_to(at(DAY1, 13, 5)))
    assert later and all(q.time > at(DAY1, 13, 0) for q in later)
