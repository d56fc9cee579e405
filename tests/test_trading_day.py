"""A trading day a person can trust: the simulated market continues across restarts, a closed
market still shows its last prices, and the engine starts at the moment it is given."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.engine.ai.cycle import Exits
from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import AiStateEvent, QuoteEvent
from deepalpha.engine.feeds.simulator import SIM_UNIVERSE, SimulatedMarket
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market, market_of
from deepalpha.engine.orders import OrderRequest, OrderStatus, Side
from deepalpha.engine.traders import TraderConfig, TraderKind

DAY1 = date(2025, 9, 1)  # a Monday both SSE/SZSE and HKEX trade
TENCENT = "00700.HK"


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=SHANGHAI)


async def until(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


def by_symbol(quotes: list[Quote]) -> dict[str, list[Quote]]:
    out: dict[str, list[Quote]] = {}
    for q in quotes:
        out.setdefault(q.symbol, []).append(q)
    return out


# --- the simulator alone ---------------------------------------------------------------


def test_a_snapshot_continues_the_very_same_walk() -> None:
    """Stopped at 10:15 and continued from its saved state (through JSON, as stored), the
    market plays exactly what it would have played without the stop."""
    symbols = ["600519.SH", "300750.SZ", "688981.SH", TENCENT, "00005.HK"]
    straight = SimulatedMarket(seed=5, start=at(DAY1, 9, 0), symbols=symbols)
    straight.advance_to(at(DAY1, 10, 15))
    saved = json.loads(json.dumps(straight.snapshot()))
    expected = [q for r in straight.advance_to(at(DAY1, 14, 0)) for q in r.quotes]

    resumed = SimulatedMarket(seed=5, start=at(DAY1, 8, 0), symbols=symbols)
    resumed.restore(saved)
    assert resumed.now() == at(DAY1, 10, 15)
    first, *rest = resumed.advance_to(at(DAY1, 14, 0))
    # It first says where it stands: the days in progress and the last quotes, unchanged.
    assert first.started == [(Market.CN, DAY1), (Market.HK, DAY1)]
    assert {q.symbol: q.last for q in first.quotes} == {
        s: q.last for s, q in straight_quotes_at(saved, symbols).items()
    }
    assert by_symbol([q for r in rest for q in r.quotes]) == by_symbol(expected)


def straight_quotes_at(saved: dict[str, Any], symbols: list[str]) -> dict[str, Quote]:
    """The quotes a market restored from ``saved`` starts with (a second, independent one)."""
    sim = SimulatedMarket(seed=5, start=at(DAY1, 8, 0), symbols=symbols)
    sim.restore(saved)
    return {q.symbol: q for q in sim.step().quotes}


def test_a_day_that_ended_while_away_closes_at_its_last_price() -> None:
    sim = SimulatedMarket(seed=3, start=at(DAY1, 9, 0), symbols=["600519.SH", TENCENT])
    sim.advance_to(at(DAY1, 11, 0))
    last = {s: q.last for s, q in sim.quotes.items()}
    saved = sim.snapshot()
    later = SimulatedMarket(seed=3, start=at(DAY1, 9, 0), symbols=["600519.SH", TENCENT])
    day2 = date(2025, 9, 2)
    later.restore(saved, at=at(day2, 9, 29, 59))
    resumed, *_ = later.advance_to(at(day2, 9, 35))
    # The day the market was away from closed at its last price (orders of it expire) ...
    assert resumed.ended == [(Market.CN, DAY1), (Market.HK, DAY1)] and not resumed.started
    # ... and the next one opens from it.
    pre_close = {s: later.reference(s)[0] for s in last}
    assert pre_close == last


# --- the engine ----------------------------------------------------------------------------


def quotes_seen(first: dict[str, Quote]) -> Callable[[EventBus], None]:
    """A runtime hook that keeps the first quote of each symbol after a start."""

    def hook(bus: EventBus) -> None:
        def keep(event: QuoteEvent) -> None:
            first.setdefault(event.quote.symbol, event.quote)

        bus.on(QuoteEvent, keep)

    return hook


def test_a_restart_continues_prices_and_fires_no_stop(tmp_path: Path) -> None:
    """Quit and start again: prices go on from the last ones (not the simulator's base
    levels), so a stop-loss set between the two is not fired by the restart."""
    data = tmp_path / "data"
    guard = TraderConfig(
        "guard",
        "Guard",
        TraderKind.AI,
        model_profile="baseline",
        settings={"symbols": [TENCENT], "interval_minutes": 240},
    )
    base = Decimal(SIM_UNIVERSE[TENCENT][0])

    async def first() -> tuple[dict[str, Decimal], datetime, Exits]:
        # Slow while setting up (the morning lasts 90 real seconds at 60×), then fast.
        rt = Runtime(RuntimeOptions(data, speed=60, tick_interval=0.01, auto_backup=False))
        await rt.start()
        try:
            await rt.save_trader(guard, {"HKD": Decimal(1_000_000)})
            order = await rt.place_order(OrderRequest("guard", TENCENT, Side.BUY, 100))
            assert order.status is OrderStatus.FILLED, order.reject_reason
            # Let the price wander off its base level.
            await rt.set_speed(600)
            await until(lambda: abs(rt.market.quotes[TENCENT].last - base) >= 3, timeout=30)
            rt.market.pause()
            last = rt.market.quotes[TENCENT].last
            # A stop-loss between the base level and the price now: only a price reset
            # (a restart from the base level) would cross it.
            middle = ((last + base) / 2).quantize(Decimal("0.2"))
            exits = Exits(middle, None) if last > base else Exits(None, middle)
            runner = rt.ai_traders["guard"]
            runner.exits[TENCENT] = exits
            rt.bus.publish(AiStateEvent("guard", runner.snapshot()))
            return {s: q.last for s, q in rt.market.quotes.items()}, rt.market.now(), exits
        finally:
            await rt.stop()

    async def second(
        lasts: dict[str, Decimal], stopped_at: datetime, exits: Exits
    ) -> dict[str, Quote]:
        seen: dict[str, Quote] = {}
        rt = Runtime(RuntimeOptions(data, speed=1, tick_interval=0.05, auto_backup=False))
        rt.on_bus.append(quotes_seen(seen))
        await rt.start()
        try:
            assert rt.market.now() == stopped_at
            await until(lambda: len(seen) == len(lasts))
            await asyncio.sleep(0.5)
            assert rt.ai_traders["guard"].exits[TENCENT] == exits
            # Nothing was sold on the quotes the restart brought back (any trader's stops).
            fired = [
                o
                for o in rt.broker.orders.values()
                if o.side is Side.SELL and o.created_at == stopped_at
            ]
            assert fired == [], "the restart fired a stop"
            assert all(o.trader_id != "guard" for o in rt.broker.orders.values())
            held = rt.broker.portfolio("guard").positions[TENCENT]
            assert held.quantity == 100 and held.last_price == lasts[TENCENT]
            return seen
        finally:
            await rt.stop()

    lasts, stopped_at, exits = asyncio.run(first())
    seen = asyncio.run(second(lasts, stopped_at, exits))
    assert {s: q.last for s, q in seen.items()} == lasts


@pytest.mark.parametrize(
    ("closed", "open_"),
    [
        pytest.param(Market.CN, Market.HK, marks=pytest.mark.moment("2025-12-03 15:50")),
        pytest.param(Market.HK, Market.CN, marks=pytest.mark.moment("2025-12-25 10:00")),
        pytest.param(Market.CN, Market.HK, marks=pytest.mark.moment("2025-10-02 10:00")),
    ],
    ids=["cn-after-its-close", "hk-christmas", "cn-national-day"],
)
def test_a_closed_market_shows_its_last_prices_and_change(
    tmp_path: Path, closed: Market, open_: Market, moment: datetime
) -> None:
    async def go() -> None:
        backend = LocalBackend(
            RuntimeOptions(tmp_path / "data", speed=60, tick_interval=0.05, auto_backup=False)
        )
        await backend.start()
        try:
            status = backend.market_status()
            # A fresh start at the moment given (the market has played a few seconds since).
            assert moment <= status.time < moment + timedelta(minutes=2)
            assert status.phases[closed] is Phase.CLOSED
            assert status.phases[open_] is Phase.CONTINUOUS
            symbols = {i.symbol for i in backend.instruments()}
            await until(lambda: symbols <= set(backend.quotes()))
            for symbol in symbols:
                q = backend.quotes()[symbol]
                assert q.last > 0 and q.pre_close is not None and q.change_pct is not None
            shut = [q for s, q in backend.quotes().items() if market_of(s) is closed]
            # A day's change, not a row of zeros: the last day really moved.
            assert sum(1 for q in shut if q.last != q.pre_close) > len(shut) // 2
        finally:
            await backend.stop()

    asyncio.run(go())


@pytest.mark.moment("2025-12-03 20:00")
def test_at_night_the_market_starts_at_the_next_session(tmp_path: Path) -> None:
    async def go() -> None:
        backend = LocalBackend(RuntimeOptions(tmp_path / "data", speed=60, auto_backup=False))
        await backend.start()
        try:
            # Moments before the next continuous session, every row already priced.
            start = at(date(2025, 12, 4), 9, 29, 45)
            assert start <= backend.market_status().time < start + timedelta(minutes=2)
            assert len(backend.quotes()) == len(backend.instruments())
        finally:
            await backend.stop()

    asyncio.run(go())


def test_an_explicit_start_wins_over_resuming(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def go(start: datetime | None) -> datetime:
        rt = Runtime(RuntimeOptions(data, start_at=start, speed=60, auto_backup=False))
        await rt.start()
        try:
            return rt.market.now()
        finally:
            await rt.stop()

    assert asyncio.run(go(None)) == at(date(2025, 12, 3), 10, 0)
    explicit = at(date(2025, 12, 4), 9, 25)
    assert asyncio.run(go(explicit)) == explicit
    assert asyncio.run(go(None)) >= explicit  # and the next run continues from there


@pytest.mark.moment("2025-12-03 15:30")
def test_an_ai_trader_of_both_markets_at_15_30_considers_only_hong_kong(tmp_path: Path) -> None:
    both = TraderConfig(
        "both",
        "Both",
        TraderKind.AI,
        model_profile="baseline",
        settings={"symbols": ["600519.SH", "300750.SZ", TENCENT, "09988.HK"]},
    )

    async def go() -> None:
        backend = LocalBackend(
            RuntimeOptions(tmp_path / "data", speed=60, tick_interval=0.05, auto_backup=False)
        )
        await backend.start()
        try:
            await backend.save_trader(both, {"CNY": Decimal(1_000_000), "HKD": Decimal(1_000_000)})
            await until(lambda: len(backend.decisions("both")) >= 2)
            for record in backend.decisions("both"):
                assert TENCENT in record.user_prompt
                assert "600519" not in record.user_prompt and "300750" not in record.user_prompt
                assert all(market_of(r["symbol"]) is Market.HK for r in record.results)
        finally:
            await backend.stop()

    asyncio.run(go())


def test_a_restored_backup_resumes_the_market_it_was_taken_with(tmp_path: Path) -> None:
    async def go() -> None:
        backend = LocalBackend(
            RuntimeOptions(tmp_path / "data", tick_interval=0.05, auto_backup=False)
        )
        await backend.start()
        try:
            # The archive remembers 1× (a chosen speed is kept with the data): the restored
            # market then hardly moves while the test looks at it.
            await backend.set_market_speed(1)
            backend.pause_market(True)
            taken_at = backend.market_status().time
            prices = {s: q.last for s, q in backend.quotes().items()}
            archive = await backend.create_backup(label="before")
            await backend.set_market_speed(600)
            backend.pause_market(False)
            await until(lambda: backend.market_status().time > taken_at + timedelta(minutes=30))
            assert {s: q.last for s, q in backend.quotes().items()} != prices
            await backend.restore_backup(archive)
            status = backend.market_status()
            assert status.speed == 1
            assert taken_at <= status.time <= taken_at + timedelta(seconds=3)
            # Every quote not ticked since the restore is the one the backup was taken with.
            restored = {s: q.last for s, q in backend.quotes().items() if q.time == taken_at}
            assert len(restored) > len(prices) // 2
            assert restored == {s: prices[s] for s in restored}
        finally:
            await backend.stop()

    asyncio.run(go())
