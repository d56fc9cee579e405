"""The built-in market simulator: the workstation's default feed.

A seeded, reproducible universe of A-shares and Hong Kong stocks (real names, codes and board
lots from ``instruments.csv``) trading on its own simulated clock, so the workstation is alive
at any hour. It plays whole trading days: the opening auction, continuous trading, the lunch
break, the closing auction, the close, and the next trading day with the T+1 roll. Everything it
produces is marked as simulated (``SimulatedMarket.simulated``, ``label``, and
``SessionEvent.simulated``): nobody should mistake it for a live market.

How it stays fast and exact: prices are held as integers of ¥/HK$0.001 (the finest tick of both
markets) and only become ``Decimal`` on the way out, in a ``Quote``. Random draws are floats but
are turned into whole ticks before they touch a price, and every price is put back on the
exchange's grid (A-shares ¥0.01, funds ¥0.001, HKEX spread table by price band) and inside the
day's price band.

Reproducibility: each symbol draws from its own ``random.Random`` seeded from (seed, symbol), and
ticks happen on a fixed grid of simulated time (every ``step_seconds`` from the start of each
continuous session), so the same seed and start give the same quotes however the time is
advanced — in one call, step by step, or by the real-time driver.
"""

from __future__ import annotations

import asyncio
import base64
import math
import random
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from deepalpha.engine.clock import SimulatedClock
from deepalpha.engine.events import QuoteEvent, SessionEvent
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.calendar import TradingCalendar, calendar_for
from deepalpha.engine.markets.instruments import Board, Instrument, InstrumentRegistry, Kind
from deepalpha.engine.markets.rules import (
    HK_SPREAD_TABLE,
    DayStatus,
    PriceLimitRules,
    a_share_tick,
)
from deepalpha.engine.markets.sessions import (
    MARKET_TZ,
    SHANGHAI,
    Phase,
    continuous_minutes,
    open_time,
    phase_at,
    segments,
)
from deepalpha.engine.markets.symbols import Market

if TYPE_CHECKING:  # a driver feeds them; the market itself needs neither
    from deepalpha.engine.broker import PaperBroker
    from deepalpha.engine.bus import EventBus

LABEL = "SIMULATED MARKET"
SNAPSHOT_VERSION = 1
MARKETS = (Market.CN, Market.HK)
HISTORY_BARS = 800  # warm-up bars per symbol: EMA 50 on 15-minute bars needs 750
UNIT = 1000  # prices are integers of 0.001, the finest tick of both markets
_UTC8 = 8 * 3600  # Shanghai and Hong Kong both keep UTC+8 (no DST since 1991 / 1979)
_EPOCH = date(1970, 1, 1)
_HK_MIN_U = 10  # HKEX's lowest price, HK$0.01

# Starting previous closes (realistic levels, 2025) and the typical daily turnover in millions of
# the local currency; the turnover sets how many lots trade per tick.
SIM_UNIVERSE: dict[str, tuple[str, int]] = {
    "600519.SH": ("1450.00", 6000),
    "601318.SH": ("55.00", 3000),
    "600036.SH": ("42.00", 2500),
    "601398.SH": ("7.30", 2500),
    "600900.SH": ("28.50", 1500),
    "600276.SH": ("60.00", 2500),
    "600030.SH": ("28.00", 4000),
    "600518.SH": ("2.10", 150),
    "000001.SZ": ("11.60", 1500),
    "000858.SZ": ("125.00", 2500),
    "000333.SZ": ("76.00", 2500),
    "002594.SZ": ("105.00", 6000),
    "002415.SZ": ("31.00", 1500),
    "300750.SZ": ("270.00", 8000),
    "300059.SZ": ("25.00", 8000),
    "300760.SZ": ("230.00", 1000),
    "300015.SZ": ("12.50", 1000),
    "300437.SZ": ("6.50", 200),
    "300064.SZ": ("1.80", 100),
    "300766.SZ": ("32.00", 600),
    "688981.SH": ("90.00", 8000),
    "688111.SH": ("300.00", 1500),
    "688012.SH": ("190.00", 2500),
    "688041.SH": ("150.00", 4000),
    "510300.SH": ("4.000", 5000),
    "00700.HK": ("480.00", 15000),
    "09988.HK": ("120.00", 10000),
    "00005.HK": ("95.00", 3000),
    "00941.HK": ("85.00", 1500),
    "01211.HK": ("110.00", 4000),
    "03690.HK": ("130.00", 6000),
    "01299.HK": ("70.00", 2500),
    "00388.HK": ("400.00", 3000),
    "02318.HK": ("50.00", 2500),
    "00883.HK": ("19.50", 1500),
    "01810.HK": ("50.00", 12000),
    "00939.HK": ("7.50", 2500),
}


class DayKind(StrEnum):
    """The character of one stock's trading day, drawn each morning (or planned)."""

    NORMAL = "normal"
    ONE_PRICE_UP = "one_price_up"  # 一字涨停: opens sealed at limit-up and stays there
    RUN_UP = "run_up"  # rallies into limit-up during the day (HK: a strong up day)
    RUN_DOWN = "run_down"  # sells off into limit-down (HK: a strong down day)


# Daily probabilities for an A-share stock; funds never see limit days in the simulator.
P_ONE_PRICE_UP = 0.01
P_RUN_UP = 0.03
P_RUN_DOWN = 0.02
# The chance per traded tick that a seal at the limit breaks ("opens the board"): a seal on a
# normal day is shaky, on a run day firm, on a one-price day it holds all day.
P_BREAK = {
    DayKind.NORMAL: 0.05,
    DayKind.RUN_UP: 0.002,
    DayKind.RUN_DOWN: 0.002,
    DayKind.ONE_PRICE_UP: 0.0,
}


def daily_sigma(inst: Instrument) -> float:
    """Daily volatility of a simulated stock: about 2 %, more on the growth boards."""
    if inst.kind is Kind.FUND:
        return 0.010
    if inst.market is Market.HK:
        return 0.020
    if inst.board in (Board.CHINEXT, Board.STAR):
        return 0.028
    return 0.025 if inst.st else 0.018


@dataclass(frozen=True, slots=True)
class PhaseChange:
    market: Market
    phase: Phase
    time: datetime
    day: date | None  # the trading day the phase belongs to


@dataclass(slots=True)
class StepResult:
    """What happened at one moment of simulated time, in the order a driver applies it."""

    time: datetime
    started: list[tuple[Market, date]] = field(default_factory=list)  # days begun (pre-open)
    phases: list[PhaseChange] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    ended: list[tuple[Market, date]] = field(default_factory=list)  # days closed
    snapshot_day: date | None = None  # set when this step closed the last open market

    def __bool__(self) -> bool:
        return bool(self.started or self.phases or self.quotes or self.ended)


def _local_day(ts: int) -> date:
    return _EPOCH + timedelta(days=(ts + _UTC8) // 86400)


_Table = tuple[tuple[int, int], ...]
_hk_tables: dict[int, _Table] = {}


def _hk_table(day: date) -> _Table:
    """The HKEX spread table in force on ``day`` as (upper bound, tick) in price units."""
    table = HK_SPREAD_TABLE.at(day)
    key = id(table)
    cached = _hk_tables.get(key)
    if cached is None:
        cached = _hk_tables[key] = tuple((int(up * UNIT), int(t * UNIT)) for up, t in table)
    return cached


def _hk_tick(u: int, table: _Table) -> int:
    for upper, tick in table:
        if u <= upper:
            return tick
    return 5 * UNIT


def _minute_ends(market: Market, day: date, *, half_day: bool) -> list[datetime]:
    """The end of each minute of continuous trading on ``day`` (a one-minute bar's label)."""
    tz = MARKET_TZ[market]
    out = []
    for seg in segments(market, day, half_day=half_day):
        if seg.phase is Phase.CONTINUOUS:
            end = datetime.combine(day, seg.end, tz)
            t = datetime.combine(day, seg.start, tz) + timedelta(minutes=1)
            while t <= end:
                out.append(t)
                t += timedelta(minutes=1)
    return out


def _units(price: Decimal) -> int:
    scaled = price * UNIT
    u = int(scaled)
    if u != scaled:
        raise ValueError(f"price {price} is finer than the simulator's 0.001 unit")
    return u


class _Stock:
    """One simulated stock: its day's state in integer price units and its own RNG."""

    __slots__ = (
        "_cache",
        "ask",
        "ask_lots",
        "base",
        "bid",
        "bid_lots",
        "close",
        "day",
        "drift",
        "fund",
        "high",
        "hk_table",
        "inst",
        "kind",
        "last",
        "ld",
        "ld_d",
        "lot",
        "low",
        "lu",
        "lu_d",
        "mean_lots",
        "open",
        "open_d",
        "p_break",
        "p_trade",
        "planned",
        "pre_close",
        "pre_close_d",
        "rng",
        "seal",
        "sigma",
        "sigma_step",
        "status",
        "symbol",
        "target",
        "tick",
        "trades",
        "turnover",
        "turnover_m",
        "volume",
    )

    def __init__(self, inst: Instrument, seed: int, base: Decimal, turnover_m: int) -> None:
        self.inst = inst
        self.symbol = inst.symbol
        # A string seed is hashed with SHA-512, so it is stable across runs and processes.
        self.rng = random.Random(f"{seed}:{inst.symbol}")
        self.lot = inst.board_lot
        self.fund = inst.kind is Kind.FUND
        self.tick = 0 if inst.market is Market.HK else _units(a_share_tick(inst))
        self.status = DayStatus(st=inst.st)
        self.sigma = daily_sigma(inst)
        self.turnover_m = turnover_m
        # Liquid names print on most ticks, thin ones on fewer.
        self.p_trade = 0.3 + 0.5 * min(1.0, turnover_m / 8000)
        self.close = self.base = _units(base)
        self.target = 0  # a run's price target; 0 when the day has none
        self.trades = 1.0  # expected traded ticks in the day
        self.planned: DayKind | None = None
        self._cache: dict[int, Decimal] = {}
        self.hk_table: _Table = ()
        self.day: date | None = None
        self.kind = DayKind.NORMAL
        self.pre_close = self.last = self.high = self.low = self.close
        self.pre_close_d = self.dec(self.close)
        self.open: int | None = None
        self.open_d: Decimal | None = None
        self.lu: int | None = None
        self.ld: int | None = None
        self.lu_d: Decimal | None = None
        self.ld_d: Decimal | None = None
        self.bid: int | None = None
        self.ask: int | None = None
        self.bid_lots = self.ask_lots = 0
        self.volume = self.turnover = 0
        self.seal = 0  # +1 sealed at limit-up, -1 at limit-down
        self.drift = self.sigma_step = self.mean_lots = self.p_break = 0.0

    # --- prices on the grid ---------------------------------------------------------------
    def dec(self, u: int) -> Decimal:
        d = self._cache.get(u)
        if d is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            # Quote A-share stocks and HK prices in cents unless the tick needs the third place.
            d = Decimal(u).scaleb(-3) if self.fund or u % 10 else Decimal(u // 10).scaleb(-2)
            self._cache[u] = d
        return d

    def tick_at(self, u: int) -> int:
        return self.tick or _hk_tick(u, self.hk_table)

    def up(self, u: int) -> int:
        # The step above uses the tick of the band just above u (HKEX bands are lower < p <= upper).
        return u + (self.tick or _hk_tick(u + 1, self.hk_table))

    def down(self, u: int) -> int:
        return u - (self.tick or _hk_tick(u, self.hk_table))

    def snap(self, u: int) -> int:
        """The nearest price on the grid, inside the day's band (HK: at least HK$0.01)."""
        t = self.tick_at(u)
        u = (u + t // 2) // t * t
        if self.lu is not None and u >= self.lu:
            return self.lu
        if self.ld is not None and u <= self.ld:
            return self.ld
        if not self.tick and u < _HK_MIN_U:
            return _HK_MIN_U
        return max(u, t)

    def grid(self, u: int) -> int:
        """The nearest price on the grid, whatever today's band (for other days' prices)."""
        t = self.tick_at(u)
        u = (u + t // 2) // t * t
        if not self.tick and u < _HK_MIN_U:
            return _HK_MIN_U
        return max(u, t)

    def move(self, ret: float) -> int:
        """``last`` moved by a relative return, in whole ticks: stochastic rounding keeps the
        walk unbiased even when one step is worth less than a tick."""
        rng = self.rng
        last = self.last
        t = self.tick_at(last)
        n = math.floor(last * ret / t + rng.random())
        return self.snap(last + n * t) if n else last

    # --- the day ------------------------------------------------------------------------
    def begin_day(self, day: date, steps: int, rules: PriceLimitRules) -> None:
        rng = self.rng
        inst = self.inst
        self.day = day
        if inst.market is Market.HK:
            self.hk_table = _hk_table(day)
        self.pre_close = self.close
        self.pre_close_d = self.dec(self.close)
        band = rules.band(inst, day, self.pre_close_d, self.status)
        if band is None:
            self.ld = self.lu = None
            self.ld_d = self.lu_d = None
        else:
            self.ld, self.lu = _units(band[0]), _units(band[1])
            self.ld_d, self.lu_d = self.dec(self.ld), self.dec(self.lu)
        draw = rng.random()  # drawn every day so a plan does not shift later days' draws
        kind = DayKind.NORMAL
        if self.planned is not None:
            kind, self.planned = self.planned, None
        elif not self.fund:
            if self.lu is not None and draw < P_ONE_PRICE_UP:
                kind = DayKind.ONE_PRICE_UP
            elif draw < P_ONE_PRICE_UP + P_RUN_UP:
                kind = DayKind.RUN_UP
            elif draw < P_ONE_PRICE_UP + P_RUN_UP + P_RUN_DOWN:
                kind = DayKind.RUN_DOWN
        if kind is DayKind.ONE_PRICE_UP and self.lu is None:
            kind = DayKind.RUN_UP  # no limit to seal at (HK)
        self.kind = kind
        trades = self.trades = max(1.0, steps * self.p_trade)
        self.sigma_step = self.sigma / math.sqrt(trades)
        frac = 0.2 + 0.6 * rng.random()  # how far into the day a run reaches its target
        self.target = 0
        if kind in (DayKind.RUN_UP, DayKind.RUN_DOWN):
            up = kind is DayKind.RUN_UP
            limit = self.lu if up else self.ld
            # A-shares aim past the limit so the run seals there; HK has none, so a strong day
            # of about 7 % ends the run.
            if limit is not None:
                log_target = math.log(limit / self.pre_close) * 1.2
            else:
                log_target = 0.07 if up else -0.07
            self.target = int(self.pre_close * math.exp(log_target))
            self.drift = log_target / (frac * trades)
        else:
            # A pull back toward the base level keeps a long-running universe at realistic
            # prices instead of wandering off over months.
            pull = -0.05 * math.log(self.pre_close / self.base)
            self.drift = (pull + rng.gauss(0.0, self.sigma * 0.3)) / trades
        self.p_break = P_BREAK[kind]
        lots_per_day = (
            self.turnover_m * 1_000_000 * UNIT / (self.pre_close * self.lot)
        ) * rng.lognormvariate(0.0, 0.3)
        if kind is not DayKind.NORMAL:
            lots_per_day *= 2.0
        self.mean_lots = max(1.0, lots_per_day / trades)
        self.open = self.open_d = None
        self.volume = self.turnover = 0
        self.bid = self.ask = None
        self.bid_lots = self.ask_lots = 0
        self.seal = 0
        self.last = self.high = self.low = self.pre_close

    def _trade(self, price: int, lots: int) -> None:
        shares = lots * self.lot
        self.volume += shares
        self.turnover += shares * price
        self.last = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)

    def _book(self, direction: int) -> None:
        """Best bid and ask around ``last``: sealed at a limit one side is empty."""
        rng = self.rng
        last = self.last
        size = max(1, int(self.mean_lots * 3))
        if self.seal > 0:
            self.bid, self.ask = last, None
            self.bid_lots, self.ask_lots = max(self.bid_lots, size * 50), 0
            return
        if self.seal < 0:
            self.bid, self.ask = None, last
            self.bid_lots, self.ask_lots = 0, max(self.ask_lots, size * 50)
            return
        # An uptick traded at the ask, a downtick at the bid.
        if direction > 0:
            self.bid, self.ask = self.down(last), last
        elif direction < 0:
            self.bid, self.ask = last, self.up(last)
        elif self.bid is None or self.ask is None or not (self.bid <= last <= self.ask):
            self.bid, self.ask = self.down(last), last
        if self.bid is not None and self.bid < _HK_MIN_U and not self.tick:
            self.bid = None
        self.bid_lots = rng.randint(1, size)
        self.ask_lots = rng.randint(1, size)

    def open_auction(self, played: float = 0.0) -> None:
        """The opening call auction: one price, one print. ``played``: the share of the day's
        continuous trading already gone when the simulator starts mid-day, whose volume is
        added to the print."""
        rng = self.rng
        if self.kind is DayKind.ONE_PRICE_UP and self.lu is not None:
            price = self.lu
        else:
            gap = {DayKind.RUN_UP: 0.015, DayKind.RUN_DOWN: -0.015}.get(self.kind, 0.0)
            ret = rng.gauss(gap, self.sigma * 0.35)
            price = self.snap(self.pre_close + math.floor(self.pre_close * ret))
        self.high = self.low = price
        lots = max(1, int(self.mean_lots * rng.uniform(5.0, 30.0)))
        if self.kind is DayKind.ONE_PRICE_UP:
            lots = max(1, lots // 5)  # few sellers meet a sealed limit-up
        lots += int(self.mean_lots * self.trades * played)
        self._trade(price, lots)
        self.open = price
        self.open_d = self.dec(price)
        self.seal = 1 if price == self.lu else -1 if price == self.ld else 0
        self._book(0)

    def tick_once(self) -> bool:
        """One tick of continuous trading; False when the stock did not trade."""
        rng = self.rng
        if rng.random() >= self.p_trade:
            return False
        if self.seal and rng.random() >= self.p_break:
            # Sealed: only a trickle of trades against the queue at the limit.
            lots = 1 + int(rng.expovariate(1.0) * self.mean_lots * 0.3)
            self._trade(self.last, lots)
            if self.seal > 0:
                self.bid_lots = max(1, self.bid_lots - lots + rng.randint(0, 2 * lots))
            else:
                self.ask_lots = max(1, self.ask_lots - lots + rng.randint(0, 2 * lots))
            return True
        if self.seal:
            # The seal breaks: the price falls back (or bounces) a few ticks off the limit.
            price = self.last
            for _ in range(rng.randint(1, 4)):
                price = self.down(price) if self.seal > 0 else self.up(price)
            direction = -self.seal
            self.seal = 0
            price = self.snap(price)
        else:
            price = self.move(self.drift + self.sigma_step * rng.gauss(0.0, 1.0))
            if self.target and (price >= self.target) == (self.drift > 0):
                self.drift, self.target = 0.0, 0  # the run is done; the rest is noise
            direction = (price > self.last) - (price < self.last)
            if price == self.lu:
                self.seal = 1
            elif price == self.ld:
                self.seal = -1
        lots = 1 + int(rng.expovariate(1.0) * self.mean_lots)
        self._trade(price, lots)
        self._book(direction)
        return True

    def close_auction(self) -> None:
        """The close: the closing auction's price (a sealed stock closes at its limit)."""
        rng = self.rng
        if self.open is None:
            self.open_auction()
        price = self.last
        if not self.seal:
            n = round(rng.gauss(0.0, 1.0))
            for _ in range(abs(n)):
                price = self.up(price) if n > 0 else self.down(price)
            price = self.snap(price)
            self.seal = 1 if price == self.lu else -1 if price == self.ld else 0
        self._trade(price, max(1, int(self.mean_lots * rng.uniform(10.0, 40.0))))
        self.close = price
        self._book(0)

    def quote(self, when: datetime) -> Quote:
        dec = self.dec
        bid, ask = self.bid, self.ask
        return Quote(
            self.symbol,
            when,
            dec(self.last),
            None if bid is None else dec(bid),
            None if ask is None else dec(ask),
            self.bid_lots * self.lot if bid is not None else 0,
            self.ask_lots * self.lot if ask is not None else 0,
            self.volume,
            dec_amount(self.turnover),
            self.open_d,
            dec(self.high),
            dec(self.low),
            self.pre_close_d,
            self.lu_d,
            self.ld_d,
        )

    # --- what a restart needs ---------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The stock's day as JSON-safe data: prices in units, the day's plan, and the random
        generator's exact state, so a restart continues the same walk."""
        version, internal, gauss_next = self.rng.getstate()
        return {
            "day": self.day.isoformat() if self.day else None,
            "kind": self.kind.value,
            "planned": self.planned.value if self.planned else None,
            "prices": [
                self.pre_close,
                self.close,
                self.last,
                self.high,
                self.low,
                self.open,
                self.lu,
                self.ld,
                self.bid,
                self.ask,
                self.target,
            ],
            "book": [self.bid_lots, self.ask_lots, self.volume, self.turnover, self.seal],
            "walk": [self.drift, self.sigma_step, self.mean_lots, self.p_break, self.trades],
            "rng": [
                version,
                base64.b64encode(array("I", internal).tobytes()).decode("ascii"),
                gauss_next,
            ],
        }

    def load(self, data: Mapping[str, Any]) -> None:
        day = data.get("day")
        self.day = date.fromisoformat(day) if day else None
        self.kind = DayKind(data["kind"])
        self.planned = DayKind(data["planned"]) if data.get("planned") else None
        (
            self.pre_close,
            self.close,
            self.last,
            self.high,
            self.low,
            self.open,
            self.lu,
            self.ld,
            self.bid,
            self.ask,
            self.target,
        ) = data["prices"]
        self.bid_lots, self.ask_lots, self.volume, self.turnover, self.seal = data["book"]
        self.drift, self.sigma_step, self.mean_lots, self.p_break, self.trades = data["walk"]
        if "rng" in data:
            version, packed, gauss_next = data["rng"]
            internal = array("I")
            internal.frombytes(base64.b64decode(packed))
            self.rng.setstate((version, tuple(internal), gauss_next))
        if self.inst.market is Market.HK and self.day is not None:
            self.hk_table = _hk_table(self.day)
        self.pre_close_d = self.dec(self.pre_close)
        self.open_d = None if self.open is None else self.dec(self.open)
        self.lu_d = None if self.lu is None else self.dec(self.lu)
        self.ld_d = None if self.ld is None else self.dec(self.ld)


def dec_amount(u: int) -> Decimal:
    """An amount in 0.001 units as Decimal, in cents when it has no third decimal."""
    return Decimal(u // 10).scaleb(-2) if u % 10 == 0 else Decimal(u).scaleb(-3)


_Schedule = tuple[tuple[int, int, Phase], ...]
_TRADED_PHASES = (Phase.CONTINUOUS, Phase.LUNCH_BREAK, Phase.CLOSING_AUCTION)


class SimulatedMarket:
    """The simulated A/H market and its driver.

    Two ways to use it: synchronously with :meth:`step` / :meth:`advance_to` (tests, benchmarks,
    no sleeping) or :meth:`drive_to` which also feeds a broker; or in real time with
    :meth:`run`, which paces simulated time at ``speed`` simulated seconds per real second and
    skips dead time (nights, lunch breaks, holidays). The object is also a ``Clock``: ``now()``
    is the simulated time of the last moment it processed, so a broker fed by it stamps orders
    and fills in simulated time.
    """

    simulated = True
    label = LABEL

    def __init__(
        self,
        *,
        seed: int = 7,
        speed: float = 60.0,
        start: datetime,
        instruments: InstrumentRegistry | None = None,
        symbols: Iterable[str] | None = None,
        base_prices: Mapping[str, tuple[str, int]] | None = None,
        step_seconds: int = 3,
        limit_rules: PriceLimitRules | None = None,
    ) -> None:
        if step_seconds < 1:
            raise ValueError("step_seconds must be at least 1")
        self.seed = seed
        self.step_seconds = step_seconds
        self.instruments = instruments or InstrumentRegistry.default()
        self.limit_rules = limit_rules or PriceLimitRules()
        table = SIM_UNIVERSE if base_prices is None else base_prices
        wanted = (
            list(table) if symbols is None else [self.instruments.get(s).symbol for s in symbols]
        )
        missing = [s for s in wanted if s not in table]
        if missing:
            raise ValueError(f"no simulated base price for {', '.join(missing)}")
        self._stocks: dict[str, _Stock] = {}
        for symbol in wanted:
            price, turnover = table[symbol]
            self._stocks[symbol] = _Stock(
                self.instruments.get(symbol), seed, Decimal(price), turnover
            )
        self._by_market: dict[Market, list[_Stock]] = {
            m: [s for s in self._stocks.values() if s.inst.market is m] for m in MARKETS
        }
        self._calendars: dict[Market, TradingCalendar] = {m: calendar_for(m) for m in MARKETS}
        self._schedules: dict[tuple[Market, date], _Schedule] = {}
        self.phase: dict[Market, Phase] = {m: Phase.CLOSED for m in MARKETS}
        self.day: dict[Market, date | None] = {m: None for m in MARKETS}
        self._opened: dict[Market, bool] = {m: False for m in MARKETS}
        self.quotes: dict[str, Quote] = {}
        if start.tzinfo is None:
            raise ValueError("the simulator's start must be timezone-aware")
        self._ts = int(start.timestamp())
        self._first = True
        self._pending: deque[StepResult] = deque()  # results due before the next moment
        self._now = self._moment(self._ts)
        # Put the base prices on the grid of the first day (HK ticks depend on the price band).
        first_day = _local_day(self._ts)
        for stock in self._stocks.values():
            if stock.inst.market is Market.HK:
                stock.hk_table = _hk_table(first_day)
            stock.close = stock.base = stock.snap(stock.close)
            stock.pre_close = stock.last = stock.high = stock.low = stock.close
            stock.pre_close_d = stock.dec(stock.close)
        # Where the warm-up history joins the simulated days: the first day this run plays
        # (per market) and each stock's reference price on it (its base price when fresh).
        self._anchor_day: dict[Market, date] = {m: self._first_day(m, self._ts) for m in MARKETS}
        self._anchor_price: dict[str, int] = {s: st.close for s, st in self._stocks.items()}
        self.clock = SimulatedClock(self._now, speed)

    # --- what it is ---------------------------------------------------------------------
    @property
    def speed(self) -> float:
        return self.clock.speed

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)

    @property
    def paused(self) -> bool:
        return self.clock.paused

    def pause(self) -> None:
        """Hold simulated time still (the real-time driver keeps running, idle)."""
        self.clock.pause()

    def resume(self) -> None:
        self.clock.resume()

    def now(self) -> datetime:
        """Simulated time of the last processed moment (the ``Clock`` a broker should use)."""
        return self._now

    @property
    def symbols(self) -> list[str]:
        return list(self._stocks)

    def universe(self) -> list[Instrument]:
        return [s.inst for s in self._stocks.values()]

    def history(self, symbol: str, count: int = HISTORY_BARS) -> list[Bar]:
        """One-minute bars of the trading days before the first day this run simulates,
        ending at the stock's reference price on that day: a deterministic warm-up (same seed,
        same bars) so that indicators are ready at the first decision instead of an hour into
        the session. Empty for a symbol the simulator does not trade."""
        stock = self._stocks.get(symbol)
        if stock is None or count <= 0:
            return []
        market = stock.inst.market
        calendar = self._calendars[market]
        stamps: list[tuple[date, datetime]] = []
        day = self._anchor_day[market]
        while len(stamps) < count:
            day = calendar.previous_trading_day(day)
            half = calendar.is_half_day(day)
            minutes = [(day, end) for end in _minute_ends(market, day, half_day=half)]
            stamps[:0] = minutes
        stamps = stamps[-count:]
        rng, sigma, closes = self._history_closes(stock, count)
        closes.reverse()
        per_minute = stock.turnover_m * 1_000_000 / max(1, stock.base / UNIT) / 240
        bars = []
        for (trading_day, end), open_u, close_u in zip(
            stamps, closes[:-1], closes[1:], strict=True
        ):
            wick = abs(rng.gauss(0.0, sigma / 2))
            high = stock.grid(round(max(open_u, close_u) * (1 + wick)))
            low = stock.grid(round(min(open_u, close_u) * (1 - wick)))
            lots = max(1, round(per_minute * rng.uniform(0.3, 1.7) / stock.lot))
            bars.append(
                Bar(
                    symbol,
                    end,
                    trading_day,
                    stock.dec(open_u),
                    stock.dec(max(high, open_u, close_u)),
                    stock.dec(min(low, open_u, close_u)),
                    stock.dec(close_u),
                    lots * stock.lot,
                )
            )
        return bars

    def _history_closes(self, stock: _Stock, count: int) -> tuple[random.Random, float, list[int]]:
        """The warm-up's one-minute closes walked back from the anchor price (newest first),
        with its generator (positioned after them) and per-minute volatility."""
        market = stock.inst.market
        rng = random.Random(f"{self.seed}:{stock.symbol}:history")
        minutes_a_day = continuous_minutes(market, self._anchor_day[market])
        sigma = stock.sigma / math.sqrt(minutes_a_day)
        # Stocks trend for days at a time: each history has its own drift (about half a
        # day's volatility per day), so the warm-up gives the indicators something to see.
        drift = rng.gauss(0.0, stock.sigma / 2) / minutes_a_day
        # Walk back from the reference price, so the history joins the first simulated day.
        closes = [self._anchor_price[stock.symbol]]
        for _ in range(count):
            step = drift + rng.gauss(0.0, sigma)
            closes.append(stock.grid(round(closes[-1] / (1 + step))))
        return rng, sigma, closes

    def reference(self, symbol: str) -> tuple[Decimal, Decimal | None, Decimal | None]:
        """(pre_close, limit_down, limit_up) of the current or coming day."""
        s = self._stocks[symbol]
        return s.pre_close_d, s.ld_d, s.lu_d

    def plan(self, symbol: str, kind: DayKind) -> None:
        """Script the next trading day of a symbol (demos and tests of limit behaviour)."""
        self._stocks[self.instruments.get(symbol).symbol].planned = kind

    @property
    def idle(self) -> bool:
        """No market is trading or in an auction: the driver may skip ahead."""
        return all(p in (Phase.CLOSED, Phase.LUNCH_BREAK) for p in self.phase.values())

    @property
    def before_open(self) -> bool:
        """Nothing trades continuously yet, but a market takes orders for its opening
        auction: the driver lets a person see it, then skips to the open."""
        return not self.idle and all(
            p in (Phase.CLOSED, Phase.LUNCH_BREAK, Phase.PRE_OPEN) for p in self.phase.values()
        )

    # --- continuing across restarts ----------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything a restart needs to continue this market where it stands: the simulated
        time, each market's day and phase, and each stock's prices, day and random state."""
        return {
            "version": SNAPSHOT_VERSION,
            "time": self._ts,
            "seed": self.seed,
            "markets": {
                m.value: {
                    "day": d.isoformat() if (d := self.day[m]) else None,
                    "phase": self.phase[m].value,
                    "opened": self._opened[m],
                }
                for m in MARKETS
            },
            "stocks": {symbol: stock.state() for symbol, stock in self._stocks.items()},
        }

    @staticmethod
    def snapshot_time(snapshot: Mapping[str, Any]) -> datetime:
        return datetime.fromtimestamp(int(snapshot["time"]), SHANGHAI)

    def restore(self, snapshot: Mapping[str, Any], at: datetime | None = None) -> None:
        """Continue from a :meth:`snapshot`, at its moment or at ``at`` (an explicit start).

        Prices, the day's open/high/low/volume and each random generator carry on exactly. A
        day that ended while the market was away (``at`` past its close, or a later day) is
        closed at its last price, so the next day opens from it. A stock the snapshot does not
        know starts from its base price."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unknown simulator snapshot version {snapshot.get('version')!r}")
        same_seed = snapshot.get("seed") == self.seed
        stocks = snapshot.get("stocks", {})
        for symbol, stock in self._stocks.items():
            data = stocks.get(symbol)
            if data is None:
                continue
            state = dict(data)
            if not same_seed:
                del state["rng"]  # another seed was asked for: the prices go on, the draws differ
            stock.load(state)
        for m in MARKETS:
            info = snapshot.get("markets", {}).get(m.value, {})
            day = info.get("day")
            self.day[m] = date.fromisoformat(day) if day else None
            self.phase[m] = Phase(info.get("phase", Phase.CLOSED.value))
            self._opened[m] = bool(info.get("opened", False))
        ts = int(at.timestamp()) if at is not None else int(snapshot["time"])
        self._ts = ts
        self._now = when = self._moment(ts)
        self._first = False
        self._pending.clear()
        for m in MARKETS:
            self._anchor_day[m] = self.day[m] or self._first_day(m, ts)
        self._anchor_price = {s: st.pre_close for s, st in self._stocks.items()}
        # What the engine must be told: the days in progress (their reference prices), the
        # phases, the last quotes, and the close of a day that ended while nobody watched.
        result = StepResult(when)
        for m in MARKETS:
            day = self.day[m]
            if day is None:
                continue
            over = day != _local_day(ts) or self._phase_at(m, ts)[0] is Phase.CLOSED
            if not over:
                result.started.append((m, day))
            elif self.phase[m] is not Phase.CLOSED:
                for stock in self._by_market[m]:
                    stock.close = stock.last
                self.phase[m] = Phase.CLOSED
                result.ended.append((m, day))
            result.phases.append(PhaseChange(m, self.phase[m], when, day))
            for stock in self._by_market[m]:
                if stock.day is not None:
                    result.quotes.append(self._quote(stock, when))
        primed = self._prime(ts)  # a market the snapshot never saw trading
        if primed:
            self._pending.append(primed)
        if result:
            self._pending.append(result)
        # A later start may find another phase than the snapshot's (or a new day): catch up
        # with it now, without a tick — the snapshot's moment was already traded.
        caught_up = self._process(ts, tick=False)
        if caught_up:
            self._pending.append(caught_up)
        self.clock.jump(when)

    def _first_day(self, market: Market, ts: int) -> date:
        """The first day a fresh run starting at ``ts`` plays: today, unless the market does
        not trade today or today's session is over; then the next trading day."""
        day = _local_day(ts)
        sched = self._schedule(market, day)
        if sched and ts < sched[-1][1]:
            return day
        return self._calendars[market].next_trading_day(day)

    def _prime(self, ts: int) -> StepResult | None:
        """The last day of the warm-up history, as one quote per stock, for each market that
        has not started a day and is not trading at ``ts`` (closed, on its holiday, or in the
        pre-open): its rows show the last price and that day's change, never a dash."""
        when = self._moment(ts)
        result = StepResult(when)
        for market in MARKETS:
            if self.day[market] is not None or self._phase_at(market, ts)[0] in _TRADED_PHASES:
                continue
            cal = self._calendars[market]
            day = cal.previous_trading_day(self._anchor_day[market])
            minutes = len(_minute_ends(market, day, half_day=cal.is_half_day(day)))
            for stock in self._by_market[market]:
                result.quotes.append(self._primed_quote(stock, day, minutes, when))
        return result if result else None

    def _primed_quote(self, stock: _Stock, day: date, minutes: int, when: datetime) -> Quote:
        """A closed day summed up from the warm-up history's closes: the day's open is the
        close before it, and it closes at the price the simulated days start from."""
        _, _, closes = self._history_closes(stock, minutes)
        day_closes = closes[: minutes + 1]
        last, pre_close = closes[0], closes[minutes]
        lots = max(1, round(stock.turnover_m * 1_000_000 * UNIT / (last * stock.lot)))
        volume = lots * stock.lot
        band = self.limit_rules.band(stock.inst, day, stock.dec(pre_close), stock.status)
        dec = stock.dec
        q = Quote(
            stock.symbol,
            when,
            dec(last),
            None,
            None,
            0,
            0,
            volume,
            dec_amount(volume * (sum(day_closes) // len(day_closes))),
            dec(pre_close),
            dec(max(day_closes)),
            dec(min(day_closes)),
            dec(pre_close),
            None if band is None else band[1],
            None if band is None else band[0],
        )
        self.quotes[stock.symbol] = q
        return q

    # --- the timetable ------------------------------------------------------------------
    def _schedule(self, market: Market, day: date) -> _Schedule:
        key = (market, day)
        sched = self._schedules.get(key)
        if sched is None:
            cal = self._calendars[market]
            if not cal.is_trading_day(day):
                sched = ()
            else:
                tz = MARKET_TZ[market]
                sched = tuple(
                    (
                        int(datetime.combine(day, seg.start, tz).timestamp()),
                        int(datetime.combine(day, seg.end, tz).timestamp()),
                        seg.phase,
                    )
                    for seg in segments(market, day, half_day=cal.is_half_day(day))
                )
            self._schedules[key] = sched
        return sched

    def _phase_at(self, market: Market, ts: int) -> tuple[Phase, int]:
        """The phase at ``ts`` and the start of its segment (same table as ``phase_at``)."""
        for start, end, phase in self._schedule(market, _local_day(ts)):
            if start <= ts < end:
                return phase, start
        return Phase.CLOSED, 0

    def _next_for(self, market: Market, ts: int) -> int:
        day = _local_day(ts)
        step = self.step_seconds
        for start, end, phase in self._schedule(market, day):
            if ts < start:
                return start
            if ts < end:
                if phase is Phase.CONTINUOUS:
                    return min(start + ((ts - start) // step + 1) * step, end)
                return end
        nxt = self._calendars[market].next_trading_day(day)
        return self._schedule(market, nxt)[0][0]

    def next_event_time(self) -> datetime:
        """When something next happens (a tick or a phase change)."""
        return self._moment(self._next_event(self._ts))

    def _next_event(self, ts: int) -> int:
        return min(self._next_for(m, ts) for m in MARKETS)

    @staticmethod
    def _moment(ts: int) -> datetime:
        return datetime.fromtimestamp(ts, SHANGHAI)

    # --- stepping -----------------------------------------------------------------------
    def _process(self, ts: int, *, tick: bool = True) -> StepResult:
        when = self._now = self._moment(ts)
        result = StepResult(when)
        day = _local_day(ts)
        step = self.step_seconds
        for market in MARKETS:
            new, seg_start = self._phase_at(market, ts)
            old = self.phase[market]
            stocks = self._by_market[market]
            if new is old:
                if tick and new is Phase.CONTINUOUS and (ts - seg_start) % step == 0:
                    for stock in stocks:
                        if stock.tick_once():
                            result.quotes.append(self._quote(stock, when))
                continue
            if new is not Phase.CLOSED and self.day[market] != day:
                self.day[market] = day
                self._opened[market] = False
                steps = self._continuous_seconds(market, day) // step
                for stock in stocks:
                    stock.begin_day(day, steps, self.limit_rules)
                result.started.append((market, day))
            # The opening auction prints when continuous trading starts. Started mid-day (at
            # lunch or in the closing auction) the morning is taken as played: one print now,
            # so the screen has prices at once.
            if new in _TRADED_PHASES and not self._opened[market]:
                self._opened[market] = True
                played = self._played(market, day, ts)
                for stock in stocks:
                    stock.open_auction(played)
                    result.quotes.append(self._quote(stock, when))
            self.phase[market] = new
            result.phases.append(PhaseChange(market, new, when, self.day[market]))
            if new is Phase.CLOSED and self.day[market] is not None:
                for stock in stocks:
                    stock.close_auction()
                    result.quotes.append(self._quote(stock, when))
                result.ended.append((market, self.day[market]))  # type: ignore[arg-type]
                if all(p is Phase.CLOSED for p in self.phase.values()):
                    result.snapshot_day = self.day[market]
        return result

    def _quote(self, stock: _Stock, when: datetime) -> Quote:
        q = stock.quote(when)
        self.quotes[stock.symbol] = q
        return q

    def _played(self, market: Market, day: date, ts: int) -> float:
        """The share of the day's continuous trading before ``ts``."""
        total = self._continuous_seconds(market, day)
        gone = sum(
            min(e, ts) - s
            for s, e, p in self._schedule(market, day)
            if p is Phase.CONTINUOUS and s < ts
        )
        return gone / total if total else 0.0

    def _continuous_seconds(self, market: Market, day: date) -> int:
        return sum(e - s for s, e, p in self._schedule(market, day) if p is Phase.CONTINUOUS)

    def _opening(self) -> None:
        """The first moment: a fresh market first plays, in one print, the last day of each
        market that is not trading now (so a closed market shows its last prices and the
        day's change, never a dash), then processes the start."""
        self._first = False
        primed = self._prime(self._ts)
        if primed:
            self._pending.append(primed)
        first = self._process(self._ts)
        if first:
            self._pending.append(first)

    def step(self) -> StepResult:
        """Process the next moment at which something happens (it may bring no quotes)."""
        if self._first:
            self._opening()
        if self._pending:
            return self._pending.popleft()
        self._ts = self._next_event(self._ts)
        return self._process(self._ts)

    def iter_to(self, moment: datetime) -> Iterator[StepResult]:
        """Process every moment up to and including ``moment``, yielding what happened."""
        target = math.floor(moment.timestamp())
        if self._first and self._ts <= target:
            self._opening()
        while self._pending:
            yield self._pending.popleft()
        while True:
            nxt = self._next_event(self._ts)
            if nxt > target:
                if target > self._ts:
                    self._ts = target
                    self._now = self._moment(target)
                return
            self._ts = nxt
            result = self._process(nxt)
            if result:
                yield result

    def advance_to(self, moment: datetime) -> list[StepResult]:
        return list(self.iter_to(moment))

    def advance(self, seconds: float) -> list[StepResult]:
        return self.advance_to(self._now + timedelta(seconds=seconds))

    # --- driving the engine -------------------------------------------------------------
    def apply(self, result: StepResult, broker: PaperBroker, bus: EventBus | None = None) -> None:
        """Feed one step to the broker and the bus: day start (T+1 roll and reference prices),
        phase changes, quotes, then the close (day orders expire) and the equity snapshot."""
        for market, day in result.started:
            broker.start_day(market, day)
            for stock in self._by_market[market]:
                broker.set_reference(stock.symbol, day, stock.pre_close_d, stock.status)
        for change in result.phases:
            broker.set_phase(change.market, change.phase)
            if bus is not None:
                bus.publish(SessionEvent(change.market, change.phase, change.time, simulated=True))
        wants_quotes = bus is not None and bus.wants(QuoteEvent)
        for q in result.quotes:
            broker.on_quote(q)
            if wants_quotes:
                bus.publish(QuoteEvent(q))  # type: ignore[union-attr]
        for market, day in result.ended:
            broker.end_day(market, day)
        if result.snapshot_day is not None:
            broker.snapshot_equity(result.snapshot_day)

    def drive_to(
        self, moment: datetime, broker: PaperBroker, bus: EventBus | None = None
    ) -> list[StepResult]:
        """``advance_to`` that feeds each step to the broker as it happens."""
        out = []
        for result in self.iter_to(moment):
            self.apply(result, broker, bus)
            out.append(result)
        return out

    async def run(
        self,
        broker: PaperBroker,
        bus: EventBus | None = None,
        *,
        tick_interval: float = 0.1,
        idle_pause: float = 1.0,
        auction_pause: float = 5.0,
    ) -> None:
        """Play the market in real time until cancelled.

        Simulated time runs at ``speed``; when no market trades (night, lunch, holiday) it
        lingers ``idle_pause`` real seconds so a screen can show the break, then jumps to the
        next event. A pre-open auction (which the simulator prints at the open) lingers
        ``auction_pause`` real seconds, time to enter an order for the open, then jumps too:
        nobody waits half a real minute for a session.
        """
        bus = bus if bus is not None else broker.bus
        loop = asyncio.get_running_loop()
        self.clock.jump(self._now)
        waiting_since: float | None = None
        while True:
            for result in self.iter_to(self.clock.now()):
                self.apply(result, broker, bus)
            pause = idle_pause if self.idle else auction_pause if self.before_open else None
            if pause is not None and not self.clock.paused:
                wall = loop.time()
                if waiting_since is None:
                    waiting_since = wall
                elif wall - waiting_since >= pause:
                    self.clock.jump(max(self.next_event_time(), self.clock.now()))
                    waiting_since = None
            else:
                waiting_since = None
            await asyncio.sleep(tick_interval)


def default_start(real_now: datetime) -> datetime:
    """Where a fresh simulated market starts for someone starting it at ``real_now``: that
    moment if a market is within its trading hours, else the next pre-open."""
    local = real_now.astimezone(SHANGHAI)
    day = local.date()
    opens = []
    for market in MARKETS:
        cal = calendar_for(market)
        half = cal.is_half_day(day)
        if cal.is_trading_day(day):
            if phase_at(market, local, half_day=half) is not Phase.CLOSED:
                return local.replace(microsecond=0)
            if local < open_time(market, day, half_day=half):
                opens.append(open_time(market, day, half_day=half))
                continue
        nxt = cal.next_trading_day(day)
        opens.append(open_time(market, nxt, half_day=cal.is_half_day(nxt)))
    return min(opens).astimezone(SHANGHAI)


__all__ = [
    "LABEL",
    "SIM_UNIVERSE",
    "DayKind",
    "PhaseChange",
    "SimulatedMarket",
    "StepResult",
    "default_start",
]
