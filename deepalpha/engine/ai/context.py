"""What an AI trader sees in one decision cycle (SPEC §5): the account, positions with their
sellable quantity, candidate symbols with recent bars and indicators at two timeframes, price
limit flags, the session, recent fills and performance.

Money and prices stay ``Decimal`` and reach the model as their exact strings. Indicators are
analytics, not money: TA-Lib computes them on float64 arrays and an indicator without enough bars
is ``None`` (never NaN), which the prompt shows as "n/a".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from types import ModuleType
from typing import TYPE_CHECKING

from deepalpha.engine.marketdata import Bar
from deepalpha.engine.markets.rules import tick_size
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.money import ZERO
from deepalpha.engine.orders import Fill, Side
from deepalpha.engine.performance import max_drawdown, round_trips, sharpe
from deepalpha.engine.portfolio import EquitySnapshot

if TYPE_CHECKING:
    import numpy as np

    from deepalpha.engine.broker import PaperBroker

PRIMARY = "1m"
SECONDARY_MINUTES = 15
SECONDARY = f"{SECONDARY_MINUTES}m"
CLOSES_SHOWN = 20  # the last N closes per timeframe shown to the model
RECENT_FILLS = 10
PCT = Decimal("0.01")

_talib: ModuleType | None = None


def _ta() -> ModuleType:
    """TA-Lib, imported on first use: it costs ~0.6 s and the first screen must not wait."""
    global _talib
    if _talib is None:
        import talib  # noqa: PLC0415

        _talib = talib
    return _talib


def warm_up() -> None:
    """Import TA-Lib now (e.g. in a worker thread) so the first cycle does not pay for it."""
    _ta()


class _Floats(dict[Decimal, float]):
    """Prices as floats for TA-Lib. ``float(Decimal)`` costs ~0.3 µs (it goes through the
    decimal string) and a cycle converts three prices of 800 bars for each symbol; prices sit
    on a tick grid and repeat, so a lookup here (~0.04 µs) answers nearly every one."""

    LIMIT = 200_000

    def __missing__(self, price: Decimal) -> float:
        if len(self) >= self.LIMIT:
            self.clear()
        value = self[price] = float(price)
        return value


_floats = _Floats()
_HIGH, _LOW, _CLOSE = attrgetter("high"), attrgetter("low"), attrgetter("close")


def _as_floats(prices: Iterable[Decimal], n: int) -> np.ndarray:
    import numpy as np  # noqa: PLC0415 - the first frame must not wait for numpy

    return np.fromiter(map(_floats.__getitem__, prices), np.float64, n)


@dataclass(frozen=True, slots=True)
class Indicators:
    """One timeframe of one symbol: the last closes and the indicators at the last bar."""

    timeframe: str
    bars: int  # bars the indicators were computed on
    closes: tuple[Decimal, ...]  # the last ``CLOSES_SHOWN`` closes, oldest first
    ema20: float | None = None
    ema50: float | None = None
    macd: float | None = None
    macd_signal: float | None = None
    macd_hist: float | None = None
    rsi14: float | None = None
    atr14: float | None = None
    bb_upper: float | None = None
    bb_middle: float | None = None
    bb_lower: float | None = None


@dataclass(frozen=True, slots=True)
class SymbolContext:
    symbol: str
    name: str
    currency: str
    board_lot: int
    tick: Decimal  # the tick size at the last price
    last: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    pre_close: Decimal | None
    change_pct: Decimal | None
    limit_up: Decimal | None
    limit_down: Decimal | None
    at_limit_up: bool
    at_limit_down: bool
    indicators: dict[str, Indicators] = field(default_factory=dict)  # {"1m": …, "15m": …}


@dataclass(frozen=True, slots=True)
class AccountContext:
    base_currency: str
    cash: Decimal  # all currencies, in the base currency
    available: dict[str, Decimal]  # cash a new buy may use, per currency (cash − frozen)
    market_value: Decimal
    equity: Decimal
    daily_pnl: Decimal
    daily_pnl_pct: Decimal | None


@dataclass(frozen=True, slots=True)
class PositionContext:
    symbol: str
    name: str
    currency: str
    quantity: int
    sellable: int  # what a new sell may take now: T+1 sellable less shares held by open sells
    avg_cost: Decimal | None
    last: Decimal | None
    market_value: Decimal
    unrealized: Decimal
    unrealized_pct: Decimal | None


@dataclass(frozen=True, slots=True)
class FillContext:
    time: datetime
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    fees: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class Performance:
    trades: int  # closing (sell) fills
    win_rate: float | None
    profit_factor: float | None  # gross profit ÷ gross loss; None without a loss
    sharpe: float | None  # annualised, from the equity curve's period returns
    max_drawdown: float | None  # the largest peak-to-trough fall, as a fraction (0.12 = 12 %)
    fees_paid: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class DecisionContext:
    time: datetime
    trader_id: str
    lang: str
    sessions: dict[str, str]  # market → phase
    account: AccountContext
    positions: tuple[PositionContext, ...]
    symbols: tuple[SymbolContext, ...]
    recent_fills: tuple[FillContext, ...]
    performance: Performance
    trimmed: tuple[str, ...] = ()  # what fit_to_budget left out, for the model and the record

    def position(self, symbol: str) -> PositionContext | None:
        for pos in self.positions:
            if pos.symbol == symbol:
                return pos
        return None


# --- bars and indicators ------------------------------------------------------------------


def _bucket_ends(bars: Sequence[Bar], minutes: int) -> list[int]:
    """Index of the last 1-minute bar of each ``minutes`` bucket. Bars are labelled by their end
    time, so the bar ending 09:31 belongs to (09:30, 09:45]. Buckets follow the bars' own
    clock (exchange time): both markets' UTC offsets are whole hours, so these are the same
    buckets as epoch minutes would give, without a ``timestamp()`` per bar (~0.7 µs)."""
    keys = [
        (b.trading_day, (t.hour * 60 + t.minute - 1) // minutes) for b in bars for t in (b.time,)
    ]
    ends = [i for i in range(len(keys) - 1) if keys[i] != keys[i + 1]]
    if bars:
        ends.append(len(bars) - 1)
    return ends


def aggregate_bars(bars: Sequence[Bar], minutes: int = SECONDARY_MINUTES) -> list[Bar]:
    """1-minute bars into ``minutes`` bars (the last one may be still forming)."""
    out: list[Bar] = []
    start = 0
    for end in _bucket_ends(bars, minutes):
        chunk = bars[start : end + 1]
        last = chunk[-1]
        out.append(
            Bar(
                last.symbol,
                last.time,
                last.trading_day,
                chunk[0].open,
                max(b.high for b in chunk),
                min(b.low for b in chunk),
                last.close,
                sum(b.volume for b in chunk),
                pre_close=last.pre_close,
                name=last.name,
            )
        )
        start = end + 1
    return out


def _last(values: np.ndarray) -> float | None:
    if not len(values):
        return None
    x = float(values[-1])
    return None if math.isnan(x) else x


def compute_indicators(
    timeframe: str,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    closes: Sequence[Decimal],
) -> Indicators:
    """EMA 20/50, MACD 12/26/9, RSI 14, ATR 14, Bollinger 20/2 at the last bar."""
    ta = _ta()
    n = len(close)
    kw: dict[str, float | None] = {}
    if n:
        kw["ema20"] = _last(ta.EMA(close, 20))
        kw["ema50"] = _last(ta.EMA(close, 50))
        macd, signal, hist = ta.MACD(close, 12, 26, 9)
        kw["macd"], kw["macd_signal"], kw["macd_hist"] = _last(macd), _last(signal), _last(hist)
        kw["rsi14"] = _last(ta.RSI(close, 14))
        kw["atr14"] = _last(ta.ATR(high, low, close, 14))
        upper, middle, lower = ta.BBANDS(close, 20, 2.0, 2.0, ta.MA_Type.SMA)
        kw["bb_upper"], kw["bb_middle"], kw["bb_lower"] = _last(upper), _last(middle), _last(lower)
    return Indicators(timeframe, n, tuple(closes[-CLOSES_SHOWN:]), **kw)


def bar_minutes(bars: Sequence[Bar]) -> int:
    """The spacing of a bar series in minutes (1 for the live feed, 5 for a 5-minute replay):
    the shortest gap between recent bars of one trading day."""
    gaps = [
        int((b.time - a.time).total_seconds() // 60)
        for a, b in zip(bars[-12:-1], bars[-11:], strict=False)
        if a.trading_day == b.trading_day and b.time > a.time
    ]
    return max(1, min(gaps)) if gaps else 1


def symbol_indicators(bars: Sequence[Bar]) -> dict[str, Indicators]:
    """Both timeframes from one series of bars (converted to floats once). The keys name the
    roles (``PRIMARY``: the bars as given, ``SECONDARY``: 15-minute buckets); each
    ``Indicators.timeframe`` says what the bars really are, so a 5-minute replay is shown to
    the model as 5m, not 1m."""
    import numpy as np  # noqa: PLC0415

    n = len(bars)
    high = _as_floats(map(_HIGH, bars), n)
    low = _as_floats(map(_LOW, bars), n)
    close = _as_floats(map(_CLOSE, bars), n)
    shown = [b.close for b in bars[-CLOSES_SHOWN:]]
    primary = compute_indicators(f"{bar_minutes(bars)}m", high, low, close, shown)
    ends = _bucket_ends(bars, SECONDARY_MINUTES)
    if ends:
        idx = np.asarray(ends, dtype=np.intp)
        starts = np.concatenate(([0], idx[:-1] + 1))
        secondary = compute_indicators(
            SECONDARY,
            np.maximum.reduceat(high, starts),
            np.minimum.reduceat(low, starts),
            close[idx],
            [bars[i].close for i in ends[-CLOSES_SHOWN:]],
        )
    else:
        secondary = Indicators(SECONDARY, 0, ())
    return {PRIMARY: primary, SECONDARY: secondary}


# --- performance --------------------------------------------------------------------------


def compute_performance(
    fills: Iterable[Fill],
    equity_curve: Iterable[Decimal | EquitySnapshot],
    *,
    start: Decimal | None = None,
) -> Performance:
    """Win rate and profit factor of the round trips the fills closed; Sharpe and max drawdown
    of the equity path (``engine.performance``, as the dashboard and the backtest report)."""
    fills = list(fills)  # read twice
    fees = sum((f.fees.total for f in fills), ZERO)
    trips = round_trips(fills)
    path = [p.equity if isinstance(p, EquitySnapshot) else p for p in equity_curve]
    ratio = sharpe(path, start=start)
    drawdown = max_drawdown(path, start=start) if len(path) + bool(start) >= 2 else None
    return Performance(
        trades=trips.closed,
        win_rate=_float(trips.win_rate),
        profit_factor=_float(trips.profit_factor),
        sharpe=_float(ratio),
        max_drawdown=_float(drawdown),
        fees_paid=fees,
        realized_pnl=trips.realized_pnl,
    )


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# --- the context --------------------------------------------------------------------------


def _pct(part: Decimal, whole: Decimal | None) -> Decimal | None:
    if not whole:
        return None
    return (part / whole * 100).quantize(PCT)


def build_context(
    broker: PaperBroker,
    trader_id: str,
    symbols: Sequence[str],
    bars_by_symbol: Mapping[str, Sequence[Bar]],
    now: datetime,
    equity_curve: Iterable[Decimal | EquitySnapshot] = (),
    fills: Sequence[Fill] = (),
    lang: str = "en",
) -> DecisionContext:
    """One cycle's context. ``bars_by_symbol`` holds 1-minute bars, oldest first; the second
    timeframe is aggregated from them. Without ``equity_curve`` the portfolio's daily equity
    snapshots are used. Held symbols that are not candidates still appear under positions."""
    pf = broker.portfolio(trader_id)
    equity = pf.equity()
    available: dict[str, Decimal] = {}
    for acct in sorted(pf.accounts.values(), key=lambda a: a.currency):
        available[acct.currency] = acct.available
    daily = pf.daily_pnl()
    account = AccountContext(
        base_currency=pf.base_currency,
        cash=pf.cash_total(),
        available=available,
        market_value=pf.market_value_total(),
        equity=equity,
        daily_pnl=daily,
        daily_pnl_pct=_pct(daily, equity - daily),
    )

    positions = []
    for pos in sorted(pf.held(), key=lambda p: p.symbol):
        inst = broker.instruments.find(pos.symbol)
        positions.append(
            PositionContext(
                symbol=pos.symbol,
                name=inst.name if inst else pos.symbol,
                currency=pos.currency,
                quantity=pos.quantity,
                sellable=pos.available,
                avg_cost=pos.avg_cost.quantize(Decimal("0.001")) if pos.avg_cost else None,
                last=pos.last_price,
                market_value=pos.market_value,
                unrealized=pos.unrealized_pnl,
                unrealized_pct=_pct(pos.unrealized_pnl, pos.cost_basis),
            )
        )

    contexts = []
    for symbol in symbols:
        st = broker.state(symbol)
        inst = st.inst
        bars = bars_by_symbol.get(symbol, ())
        last = st.last if st.last is not None else (bars[-1].close if bars else None)
        pre_close = st.pre_close
        up, down = st.limit_up, st.limit_down
        day = st.day or now.date()
        contexts.append(
            SymbolContext(
                symbol=symbol,
                name=inst.name,
                currency=inst.currency,
                board_lot=inst.board_lot,
                tick=tick_size(inst, last, day) if last else Decimal("0.01"),
                last=last,
                bid=st.bid,
                ask=st.ask,
                pre_close=pre_close,
                change_pct=_pct(last - pre_close, pre_close) if last and pre_close else None,
                limit_up=up,
                limit_down=down,
                at_limit_up=up is not None and last is not None and last >= up,
                at_limit_down=down is not None and last is not None and last <= down,
                indicators=symbol_indicators(bars),
            )
        )

    curve = [*(list(equity_curve) or list(pf.snapshots)), pf.equity()]  # and equity now
    return DecisionContext(
        time=now,
        trader_id=trader_id,
        lang=lang,
        sessions={m.value: broker.phase[m].value for m in Market},
        account=account,
        positions=tuple(positions),
        symbols=tuple(contexts),
        recent_fills=tuple(
            FillContext(f.time, f.symbol, f.side, f.quantity, f.price, f.fees.total, f.realized_pnl)
            for f in fills[-RECENT_FILLS:]
        ),
        performance=compute_performance(fills, curve, start=pf.deposits_total()),
    )
