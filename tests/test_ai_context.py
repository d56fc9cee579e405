"""The AI decision context, its prompts and the baseline model (SPEC §5): the numbers the model
sees come from the broker and TA-Lib, prompts state the rules in both languages, the token budget
trims, and the baseline replies deterministically in the protocol without breaking the rules."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import talib

from deepalpha.engine.ai.baseline import BaselineModel
from deepalpha.engine.ai.context import (
    DecisionContext,
    aggregate_bars,
    bar_minutes,
    build_context,
    compute_performance,
    symbol_indicators,
)
from deepalpha.engine.ai.prompts import estimate_tokens, fit_to_budget, render_prompts
from deepalpha.engine.broker import BrokerSettings, PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.events import FillEvent
from deepalpha.engine.ids import sequential
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Fill, OrderRequest, OrderStatus, OrderType, Side

D = Decimal
CN = Market.CN
DAY1, DAY2 = date(2024, 3, 1), date(2024, 3, 4)
MOUTAI, CMB, PAB = "600519.SH", "600036.SH", "000001.SZ"  # PAB sits at limit-up
NOW = datetime.combine(DAY2, time(11, 30), SHANGHAI)


def make_bars(
    symbol: str, base: float, drift: float, n: int = 120, phase: float = 0.0
) -> list[Bar]:
    """``n`` deterministic 1-minute bars from 09:31 on DAY2: a drift plus a wiggle."""
    bars = []
    start = datetime.combine(DAY2, time(9, 30), SHANGHAI)
    prev = D(str(base))
    for i in range(n):
        close = D(f"{base * (1 + drift * i + 0.004 * math.sin(i / 5 + phase)):.2f}")
        high, low = max(prev, close) + D("0.02"), min(prev, close) - D("0.01")
        t = start + timedelta(minutes=i + 1)
        bars.append(Bar(symbol, t, DAY2, prev, high, low, close, 1000 + i))
        prev = close
    return bars


def quote(broker: PaperBroker, symbol: str, last: str, bid: str | None, ask: str | None) -> None:
    broker.on_quote(
        Quote(
            symbol,
            broker.clock.now(),
            D(last),
            D(bid) if bid else None,
            D(ask) if ask else None,
            100_000,
            100_000,
        )
    )


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(datetime.combine(DAY1, time(10, 0), SHANGHAI))
        bus = EventBus()
        self.fills: list[Fill] = []
        bus.on(FillEvent, lambda e: self.fills.append(e.fill))
        self.broker = b = PaperBroker(
            InstrumentRegistry.default(),
            self.clock,
            bus,
            BrokerSettings(),
            id_factory=sequential("o"),
            fill_id_factory=sequential("f"),
        )
        b.add_trader("t1", {"CNY": D("5000000")})
        b.start_day(CN, DAY1)
        b.set_phase(CN, Phase.CONTINUOUS)
        b.set_reference(CMB, DAY1, D("10.00"))
        quote(b, CMB, "10.00", "10.00", "10.00")
        self.buy(CMB, 1000)  # becomes sellable on DAY2
        b.end_day(CN, DAY1)
        b.snapshot_equity(DAY1)
        self.clock.set(datetime.combine(DAY2, time(10, 0), SHANGHAI))
        b.start_day(CN, DAY2)
        b.set_phase(CN, Phase.CONTINUOUS)
        for sym, ref in ((MOUTAI, "1700.00"), (CMB, "10.00"), (PAB, "10.00")):
            b.set_reference(sym, DAY2, D(ref))
        quote(b, CMB, "10.50", "10.50", "10.50")
        order = b.submit(OrderRequest("t1", CMB, Side.SELL, 200))  # a winning sell
        assert order.status is OrderStatus.FILLED, order.reject_reason
        self.buy(CMB, 500)  # bought today: not sellable (T+1)
        self.bars = {
            MOUTAI: make_bars(MOUTAI, 1700.0, 0.0001, phase=1.2),  # buy signal
            CMB: make_bars(CMB, 10.6, -0.0003),
            PAB: make_bars(PAB, 10.5, 0.0004),
        }
        self.clock.set(NOW)
        last = self.bars[MOUTAI][-1].close
        quote(b, MOUTAI, str(last), str(last - D("0.01")), str(last + D("0.01")))
        cmb_last = self.bars[CMB][-1].close
        quote(b, CMB, str(cmb_last), str(cmb_last), str(cmb_last + D("0.01")))
        quote(b, PAB, "11.00", "11.00", None)  # sealed at limit-up: no sellers

    def buy(self, symbol: str, qty: int) -> None:
        order = self.broker.submit(OrderRequest("t1", symbol, Side.BUY, qty, OrderType.MARKET))
        assert order.status is OrderStatus.FILLED, order.reject_reason

    def context(self, lang: str = "en") -> DecisionContext:
        return build_context(
            self.broker, "t1", [MOUTAI, CMB, PAB], self.bars, NOW, fills=self.fills, lang=lang
        )


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def test_account_positions_and_limit_flags(world: World) -> None:
    ctx = world.context()
    pf = world.broker.portfolio("t1")
    assert ctx.account.cash == pf.cash_total()
    assert ctx.account.available == {"CNY": pf.account("CNY").available}
    assert ctx.account.equity == pf.equity()
    (pos,) = ctx.positions
    assert (pos.symbol, pos.quantity, pos.sellable) == (CMB, 1300, 800)
    assert pos.avg_cost is not None and D("10.0") < pos.avg_cost < D("10.6")
    by = {s.symbol: s for s in ctx.symbols}
    assert by[PAB].at_limit_up and not by[PAB].at_limit_down
    assert (by[PAB].limit_up, by[PAB].limit_down) == (D("11.00"), D("9.00"))
    assert by[PAB].change_pct == D("10.00")
    assert not by[MOUTAI].at_limit_up and by[MOUTAI].board_lot == 100
    assert ctx.sessions == {"CN": "continuous", "HK": "closed"}


def test_indicators_are_talibs_on_the_same_series(world: World) -> None:
    ctx = world.context()
    bars = world.bars[MOUTAI]
    c = np.array([float(b.close) for b in bars])
    h = np.array([float(b.high) for b in bars])
    lo = np.array([float(b.low) for b in bars])
    ind = next(s for s in ctx.symbols if s.symbol == MOUTAI).indicators["1m"]
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(c, 20, 2.0, 2.0, talib.MA_Type.SMA)
    assert ind.bars == 120
    assert ind.ema20 == talib.EMA(c, 20)[-1] and ind.ema50 == talib.EMA(c, 50)[-1]
    assert (ind.macd, ind.macd_signal, ind.macd_hist) == (macd[-1], signal[-1], hist[-1])
    assert ind.rsi14 == talib.RSI(c, 14)[-1]
    assert ind.atr14 == talib.ATR(h, lo, c, 14)[-1]
    assert (ind.bb_upper, ind.bb_middle, ind.bb_lower) == (upper[-1], middle[-1], lower[-1])
    assert ind.closes == tuple(b.close for b in bars[-20:])


def test_fifteen_minute_bars_are_aggregated_from_one_minute(world: World) -> None:
    bars = world.bars[MOUTAI]
    agg = aggregate_bars(bars, 15)
    assert len(agg) == 8  # 09:31–11:30
    first = bars[:15]
    assert agg[0].time == datetime.combine(DAY2, time(9, 45), SHANGHAI)
    assert (agg[0].open, agg[0].close) == (first[0].open, first[-1].close)
    assert agg[0].high == max(b.high for b in first) and agg[0].low == min(b.low for b in first)
    assert agg[0].volume == sum(b.volume for b in first)
    ind = next(s for s in world.context().symbols if s.symbol == MOUTAI).indicators["15m"]
    assert ind.closes == tuple(b.close for b in agg)
    c = np.array([float(b.close) for b in agg])
    assert ind.ema20 is None and ind.rsi14 is None and ind.atr14 is None  # 8 bars: too few
    assert ind.ema20 is None or not math.isnan(ind.ema20)
    assert talib.EMA(c, 5)[-1] > 0


def test_performance_from_fills_and_equity_curve(world: World) -> None:
    perf = world.context().performance
    assert perf.trades == 1 and perf.win_rate == 1.0 and perf.profit_factor is None
    assert perf.fees_paid == sum((f.fees.total for f in world.fills), D(0)) > 0
    p = compute_performance([], [D(100), D(110), D(99), D(120)])
    assert p.max_drawdown == pytest.approx(11 / 110)
    returns = np.diff([100, 110, 99, 120]) / np.array([100, 110, 99])
    assert p.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(252))
    assert compute_performance([], [D(100)]).sharpe is None


@pytest.mark.parametrize(
    ("lang", "rules"),
    [
        ("en", ["T+1", "board lots", "limit_up", "No short selling", "1.5", "<decision>"]),
        ("zh", ["T+1", "整手", "涨停", "禁止卖空", "1.5", "<decision>"]),
    ],
)
def test_prompts_render_in_both_languages(world: World, lang: str, rules: list[str]) -> None:
    system, user = render_prompts(world.context(lang))
    for rule in rules:
        assert rule in system
    assert "$" not in system and "$" not in user
    for sym in (MOUTAI, CMB, PAB):
        assert sym in user
    assert ("LIMIT-UP" if lang == "en" else "涨停") in user
    assert "n/a" in user  # the 15m series is too short for EMA50
    assert "sellable 800" in user or "可卖 800" in user


def test_overrides_replace_or_extend_the_system_prompt(world: World) -> None:
    ctx = world.context()
    system, _ = render_prompts(ctx, overrides={"extra_instructions": "Prefer banks."})
    assert system.rstrip().endswith("Prefer banks.") and "T+1" in system
    system, _ = render_prompts(
        ctx, overrides={"system": "You are $trader_name. RR $min_reward_risk"}
    )
    assert system == "You are t1. RR 1.5"


def test_token_estimate_and_budget(world: World) -> None:
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("贵州茅台") == 4
    ctx = world.context()
    _, user = render_prompts(ctx)
    full = estimate_tokens(user)
    assert fit_to_budget(ctx, full) is ctx
    fewer = fit_to_budget(ctx, full - 50)
    assert fewer.trimmed and fewer.trimmed[0].startswith("closes 20→")
    assert estimate_tokens(render_prompts(fewer)[1]) <= full - 50
    tiny = fit_to_budget(ctx, 400)
    assert any(t.startswith("symbols dropped") for t in tiny.trimmed)
    assert CMB in {s.symbol for s in tiny.symbols} or not tiny.symbols  # held goes last
    assert "Left out to fit the context" in render_prompts(tiny)[1]


def _parse(reply: str) -> tuple[str, list[dict[str, Any]]]:
    m = re.fullmatch(r"<reasoning>(.*)</reasoning>\s*<decision>(.*)</decision>", reply, re.S)
    assert m, reply
    return m.group(1), json.loads(m.group(2))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_baseline_is_deterministic_and_keeps_the_rules(world: World, lang: str) -> None:
    model = BaselineModel()
    assert model.name == "baseline (no LLM)"
    ctx = world.context(lang)
    reply = model.reply(ctx)
    assert reply == model.reply(world.context(lang))
    reasoning, decisions = _parse(reply)
    assert reasoning
    keys = {
        "symbol",
        "action",
        "quantity",
        "order_type",
        "limit_price",
        "stop_loss",
        "take_profit",
        "confidence",
        "reasoning",
    }
    by = {d["symbol"]: d for d in decisions}
    assert set(by) == {MOUTAI, CMB, PAB}
    syms = {s.symbol: s for s in ctx.symbols}
    for d in decisions:
        assert set(d) == keys and d["action"] in {"buy", "sell", "hold", "wait"}
        assert 0 <= d["confidence"] <= 1
        if d["action"] == "buy":
            s = syms[d["symbol"]]
            assert not s.at_limit_up
            assert d["quantity"] > 0 and d["quantity"] % s.board_lot == 0
            price = D(str(d["limit_price"]))
            stop, take = D(str(d["stop_loss"])), D(str(d["take_profit"]))
            assert stop < price < take
            assert (take - price) / (price - stop) >= D("1.5")
        if d["action"] == "sell":
            pos = ctx.position(d["symbol"])
            assert pos is not None and 0 < d["quantity"] <= pos.sellable
    assert by[PAB]["action"] == "wait"  # limit-up: never chased
    assert by[MOUTAI]["action"] == "buy", by[MOUTAI]["reasoning"]
    assert by[CMB]["action"] == "sell" and by[CMB]["quantity"] == 800
    if lang == "zh":
        assert "观望" in reasoning


def test_baseline_waits_without_enough_bars(world: World) -> None:
    bars = {k: v[:10] for k, v in world.bars.items()}
    ctx = build_context(world.broker, "t1", [MOUTAI], bars, NOW)
    (d,) = [d for d in _parse(BaselineModel().reply(ctx))[1] if d["symbol"] == MOUTAI]
    assert d["action"] == "wait" and "not enough bars" in d["reasoning"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_official_parser_reads_the_baseline(world: World, lang: str) -> None:
    """The baseline and the parser agree on the protocol, in both languages."""
    from deepalpha.engine.ai.protocol import parse_reply

    reply = BaselineModel().reply(world.context(lang))
    parsed = parse_reply(reply)
    assert not parsed.fallback and not parsed.problems
    _reasoning, raw = _parse(reply)
    assert [d.symbol for d in parsed.decisions] == [d["symbol"] for d in raw]
    assert [d.action.value for d in parsed.decisions] == [d["action"] for d in raw]


def test_the_timeframe_label_follows_the_bars_spacing() -> None:
    """A 5-minute replay is shown to the model as 5m bars, the live feed as 1m."""
    minute = make_bars(MOUTAI, 1700.0, 0.0001, n=60)
    five = [
        dataclasses.replace(b, time=b.time + timedelta(minutes=4 * i)) for i, b in enumerate(minute)
    ]
    assert bar_minutes(minute) == 1 and bar_minutes(five) == 5
    assert symbol_indicators(five)["1m"].timeframe == "5m"  # keyed by role, labelled truly
    assert symbol_indicators(minute)["1m"].timeframe == "1m"
    assert bar_minutes([]) == 1
