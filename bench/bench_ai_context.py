"""(e) One AI decision cycle's context and prompts, model time excluded.

A cycle is ``build_context`` (account, positions, indicators at 1m and 15m through TA-Lib) plus
``render_prompts`` for 50 candidate symbols with 800 one-minute bars each: the window the
running engine keeps per symbol (``minute_bars.BARS_KEPT``), a little over three A-share days.
The baseline row is the same cycle for 1 symbol, so the ratio (symbols/s at 50 ÷ symbols/s at 1)
says whether per-symbol cost stays flat: ~1× is good. Aim: < 50 ms a cycle at 50 symbols. The
check also asserts every symbol reaches the prompt with its indicators computed.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from bench import BenchResult, best_of
from deepalpha.engine.ai.context import DecisionContext, build_context
from deepalpha.engine.ai.prompts import estimate_tokens, render_prompts
from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.instruments import InstrumentRegistry, a_share
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.minute_bars import BARS_KEPT

SYMBOLS = 50
BARS = BARS_KEPT
TARGET_MS = 50.0
DAY = date(2024, 3, 4)
NOW = datetime.combine(DAY, time(15, 0), SHANGHAI)
HELD = 5  # symbols the trader holds


def _minutes() -> list[datetime]:
    """One-minute bar end times (09:31–11:30, 13:01–15:00) of the days up to DAY, the last
    ``BARS`` of them."""
    out: list[datetime] = []
    for back in range(BARS // 240 + 1, -1, -1):
        day = DAY - timedelta(days=back)
        for start in (time(9, 30), time(13, 0)):
            t0 = datetime.combine(day, start, SHANGHAI)
            out.extend(t0 + timedelta(minutes=i + 1) for i in range(120))
    return out[-BARS:]


def make_desk(n: int) -> tuple[PaperBroker, list[str], dict[str, list[Bar]]]:
    symbols = [f"{600000 + i}.SH" for i in range(n)]
    broker = PaperBroker(InstrumentRegistry([a_share(s) for s in symbols]), ManualClock(NOW))
    broker.add_trader("t1", {"CNY": Decimal(10_000_000)})
    broker.start_day(Market.CN, DAY)
    broker.set_phase(Market.CN, Phase.CONTINUOUS)
    pf = broker.portfolio("t1")
    times = _minutes()
    bars: dict[str, list[Bar]] = {}
    for k, sym in enumerate(symbols):
        base = 10.0 + k
        prev = Decimal(f"{base:.2f}")
        series = []
        for i, t in enumerate(times):
            close = Decimal(f"{base * (1 + 0.0002 * i + 0.004 * math.sin(i / 5 + k)):.2f}")
            hi, lo = max(prev, close) + Decimal("0.02"), min(prev, close) - Decimal("0.01")
            series.append(Bar(sym, t, t.date(), prev, hi, lo, close, 10_000 + i))
            prev = close
        bars[sym] = series
        broker.set_reference(sym, DAY, Decimal(f"{base:.2f}"))
        last = series[-1].close
        broker.on_quote(Quote(sym, NOW, last, last - Decimal("0.01"), last, 10_000, 10_000))
        if k < HELD:  # held positions, half of them bought today
            pos = pf.position(sym)
            pos.quantity, pos.sellable, pos.cost_basis = 1000, 500, Decimal(f"{base * 1000:.2f}")
            pf.mark(sym, last)
    return broker, symbols, bars


def _cycle(
    broker: PaperBroker, symbols: list[str], bars: dict[str, list[Bar]]
) -> tuple[DecisionContext, str, str]:
    ctx = build_context(broker, "t1", symbols, bars, NOW)
    system, user = render_prompts(ctx)
    return ctx, system, user


def _row(n: int, cycles: int, repeat: int) -> tuple[BenchResult, float, bool, int]:
    broker, symbols, bars = make_desk(n)
    _cycle(broker, symbols, bars)  # warm-up: imports TA-Lib, loads the templates

    def run() -> tuple[DecisionContext, str, str]:
        out = _cycle(broker, symbols, bars)
        for _ in range(cycles - 1):
            out = _cycle(broker, symbols, bars)
        return out

    outs, cpu, wall = best_of(repeat, run)
    ctx, _, user = outs[-1]
    ok = (
        len(ctx.symbols) == n
        and all(s.symbol in user for s in ctx.symbols)
        and all(s.indicators["1m"].ema50 is not None for s in ctx.symbols)
        # 15-minute buckets of each day (a day's first bucket may be partial).
        and all(abs(s.indicators["15m"].bars - BARS / 15) <= 4 for s in ctx.symbols)
        and len(ctx.positions) == min(n, HELD)
    )
    ms = cpu / cycles * 1000
    result = BenchResult(
        f"ai context {n} symbol{'s' if n > 1 else ''}",
        n * cycles,
        "symbols",
        cpu,
        wall_seconds=wall,
        extra={"ms_per_cycle": round(ms, 3), "cycles": cycles, "bars": BARS},
    )
    return result, ms, ok, estimate_tokens(user)


def run(quick: bool, repeat: int) -> list[BenchResult]:
    cycles = 3 if quick else 10
    base, base_ms, base_ok, _ = _row(1, cycles * 10, repeat)
    base.check = f"cpu s; {base_ms:.2f} ms/cycle, {BARS} 1m bars → 1m + 15m indicators"
    base.ok = base_ok
    full, ms, ok, tokens = _row(SYMBOLS, cycles, repeat)
    full.against(base)
    full.ok = ok and ms < TARGET_MS
    full.check = (
        f"cpu s; {ms:.1f} ms/cycle (aim < {TARGET_MS:.0f} ms), user prompt ~{tokens:,} tokens"
        + ("" if ok else "; CHECK FAILED")
    )
    return [base, full]
