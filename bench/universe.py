"""A seeded universe of daily A-share bars for the benchmarks, as DeepAlpha ``BarSeries``.

N Shanghai main-board stocks (600000, 600001, ...; board lot 100) over D weekdays from
2024-01-02. Every rule that could make two engines disagree for reasons other than speed is kept
out of the data, and :func:`check_universe` proves it:

- prices are on the ¥0.01 grid and each day's pre_close is the previous close;
- every price of a day lies within ±7 % of pre_close, well inside the ±10 % band, so no bar
  ever touches a price limit;
- volumes are millions of shares, so the 25 % participation cap never binds;
- the dates start after 2023-08-28, so one stamp-duty rate (0.05 %, sells only) applies;
- optionally (``tie_free``), SMA(fast) never exactly equals SMA(slow) at any close. On an exact
  tie the engines' crossover rules legitimately differ: DeepAlpha counts a tie as "not above"
  (``prev ≤ 0 < now``), backtrader's CrossOver skips zero differences, and a float SMA can turn a
  tie into ±1e-15. Without ties both rules are "the sign of SMA(fast) − SMA(slow) changed".
  A close that would make a tie is moved up by ¥0.01, which changes
  ``fast_sum·slow − slow_sum·fast`` by ``slow − fast`` ≠ 0 and so always breaks it.
"""

from __future__ import annotations

import math
import random
from collections import deque
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from deepalpha.engine.feeds.csv_replay import BarSeries, VolumeUnit
from deepalpha.engine.marketdata import Bar
from deepalpha.engine.markets.instruments import Board, InstrumentRegistry
from deepalpha.engine.markets.rules import PriceLimitRules
from deepalpha.engine.markets.sessions import MARKET_TZ
from deepalpha.engine.markets.symbols import Market

# The A-share stamp duty was halved to 0.05 % on sells from 2023-08-28; starting later keeps
# a single rate for the whole run.
START = date(2024, 1, 2)
STAMP_DUTY_CHANGE = date(2023, 8, 28)
MAX_MOVE = 0.07  # largest distance of any price of a day from its pre_close
SOURCE = Path("<generated>")


def weekdays(start: date, count: int) -> list[date]:
    """``count`` weekdays from ``start``: the trading calendar of the generated data."""
    out: list[date] = []
    day = start
    while len(out) < count:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def _fen(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)  # exact, two decimal places, like "12.34" in a CSV


def generate_universe(
    symbols: int = 100,
    days: int = 2000,
    *,
    seed: int = 20240102,
    start: date = START,
    tie_free: tuple[int, int] | None = (5, 20),
    instruments: InstrumentRegistry | None = None,
) -> list[BarSeries]:
    """Daily bars for ``symbols`` stocks over ``days`` weekdays (see the module docstring)."""
    if start < STAMP_DUTY_CHANGE:
        raise ValueError(f"start {start} is before {STAMP_DUTY_CHANGE}: two stamp-duty rates")
    if symbols > 1000:
        raise ValueError("at most 1000 symbols (600000–600999)")
    registry = instruments or InstrumentRegistry()
    calendar = weekdays(start, days)
    tz = MARKET_TZ[Market.CN]
    labels = [datetime.combine(d, time(15, 0), tz) for d in calendar]  # the close, 15:00
    out: list[BarSeries] = []
    for i in range(symbols):
        inst = registry.get(f"{600000 + i}.SH")
        assert inst.board is Board.MAIN and inst.board_lot == 100
        rng = random.Random(seed * 1_000_003 + i)
        anchor = rng.randint(500, 8000)  # ¥5–¥80, in fen
        pre = anchor
        closes: deque[int] = deque()
        bars: list[Bar] = []
        for day, label in zip(calendar, labels, strict=True):
            # A mean-reverting walk in log price keeps the level near the anchor, so the fen
            # grid stays fine relative to the price over thousands of days.
            pull = -0.03 * math.log(pre / anchor)
            ret = max(-0.05, min(0.05, rng.gauss(0.0, 0.018) + pull))
            close = round(pre * (1 + ret))
            open_ = round(pre * (1 + max(-0.03, min(0.03, rng.gauss(0.0, 0.008)))))
            if tie_free is not None:
                fast, slow = tie_free
                closes.append(close)
                if len(closes) > slow:
                    closes.popleft()
                if len(closes) == slow:
                    window = list(closes)
                    if sum(window[-fast:]) * slow == sum(window) * fast:
                        close += 1
                        closes[-1] = close
            high = math.ceil(max(open_, close) * (1 + rng.uniform(0.0, 0.015)))
            low = math.floor(min(open_, close) * (1 - rng.uniform(0.0, 0.015)))
            bars.append(
                Bar(
                    inst.symbol,
                    label,
                    day,
                    _fen(open_),
                    _fen(high),
                    _fen(low),
                    _fen(close),
                    rng.randint(5_000_000, 50_000_000),
                    None,
                    _fen(pre),
                )
            )
            pre = close
        out.append(BarSeries(inst, SOURCE, False, VolumeUnit.SHARES, bars))
    return out


def check_universe(
    series: list[BarSeries],
    tie_free: tuple[int, int] | None = (5, 20),
    participation: Decimal = Decimal("0.25"),
    largest_order: int = 0,
) -> None:
    """Raise ``AssertionError`` if the data could hit a price limit, a volume cap or a tie."""
    rules = PriceLimitRules()
    for s in series:
        prev_close: Decimal | None = None
        closes: list[Decimal] = []
        for bar in s.bars:
            assert bar.pre_close is not None
            if prev_close is not None:
                assert bar.pre_close == prev_close, f"{bar.symbol} {bar.trading_day}: pre_close"
            band = rules.band(s.instrument, bar.trading_day, bar.pre_close)
            assert band is not None
            down, up = band
            assert down < bar.low <= bar.high < up, f"{bar.symbol} {bar.trading_day}: limit"
            reach = bar.pre_close * Decimal(str(MAX_MOVE))
            assert bar.high - bar.pre_close <= reach and bar.pre_close - bar.low <= reach, (
                f"{bar.symbol} {bar.trading_day}: a move beyond {MAX_MOVE:.0%}"
            )
            assert int(bar.volume * participation) >= largest_order, f"{bar.symbol}: volume"
            for price in (bar.open, bar.high, bar.low, bar.close):
                assert price == price.quantize(Decimal("0.01")), f"{bar.symbol}: off the grid"
            prev_close = bar.close
            closes.append(bar.close)
            if tie_free is not None and len(closes) >= tie_free[1]:
                fast, slow = tie_free
                assert sum(closes[-fast:]) * slow != sum(closes[-slow:]) * fast, (
                    f"{bar.symbol} {bar.trading_day}: SMA tie"
                )
