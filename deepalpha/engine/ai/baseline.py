"""The ``baseline`` model: deterministic rules, no network, replies in the same protocol as an LLM
(``<reasoning>…</reasoning><decision>[…]</decision>``). It is the default when no key is set.

Rules, on the primary (1-minute) timeframe:

- flat, and EMA20 > EMA50, MACD histogram > 0, 40 ≤ RSI14 ≤ 70, not at limit-up, an ask to buy
  from: buy whole lots worth up to ``cash_fraction`` of the available cash at the ask, with the
  stop at entry − 2×ATR and the take-profit at entry + 3.5×ATR, ATR being the larger of the 1-
  and 15-minute ATR 14 (reward:risk 1.75, rounded outwards onto the tick grid: validation
  measures it from the price at that moment, which may be a tick or two from the entry, against
  a minimum of 1.5 by default);
- held: sell the sellable shares when EMA20 < EMA50 or the price is at or below avg cost − 2×ATR;
  otherwise hold;
- anything else: wait.

Same context in, same text out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from deepalpha.engine.ai.context import (
    PRIMARY,
    SECONDARY,
    DecisionContext,
    Indicators,
    SymbolContext,
)
from deepalpha.engine.ai.records import BASELINE_NAME

FEE_MARGIN = Decimal("1.003")  # cash kept back for fees on a buy

_TEXT = {
    "en": {
        "no_data": "{s}: not enough bars for the indicators; wait.",
        "limit_up": "{s}: at limit-up {up}, buying would chase a sealed board; wait.",
        "no_ask": "{s}: no sellers at the ask; wait.",
        "buy": (
            "{s}: EMA20 {e20} > EMA50 {e50}, MACD hist {h} > 0, RSI {r} in 40–70: buy {q} @ {p}, "
            "stop {sl} (−2×ATR {atr}), take-profit {tp} (+3.5×ATR), reward:risk {rr}."
        ),
        "no_cash": "{s}: a buy signal, but the cash allotted does not cover a lot of {lot}; wait.",
        "no_signal": (
            "{s}: EMA20 {e20} vs EMA50 {e50}, MACD hist {h}, RSI {r}: no entry signal; wait."
        ),
        "sell_trend": "{s}: EMA20 {e20} < EMA50 {e50}, the trend turned; sell {q} sellable.",
        "sell_stop": "{s}: price {p} ≤ stop {sl} (avg cost − 2×ATR); sell {q} sellable.",
        "exit_locked": "{s}: exit signal but nothing is sellable today (T+1); hold.",
        "hold": "{s}: EMA20 {e20} ≥ EMA50 {e50}, price {p} above stop {sl}; hold.",
        "none": "No candidates this cycle.",
        "head": "Baseline rules (no LLM) on {tf} bars.",
    },
    "zh": {
        "no_data": "{s}：K线不足，无法计算指标；观望。",
        "limit_up": "{s}：已涨停（{up}），追高封板风险大；观望。",
        "no_ask": "{s}：卖盘为空；观望。",
        "buy": (
            "{s}：EMA20 {e20} > EMA50 {e50}，MACD 柱 {h} > 0，RSI {r} 在 40–70 之间："
            "以 {p} 买入 {q} 股，止损 {sl}（−2×ATR {atr}），止盈 {tp}（+3.5×ATR），盈亏比 {rr}。"
        ),
        "no_cash": "{s}：有买入信号，但分配的资金不足一手（{lot} 股）；观望。",
        "no_signal": "{s}：EMA20 {e20}，EMA50 {e50}，MACD 柱 {h}，RSI {r}：无入场信号；观望。",
        "sell_trend": "{s}：EMA20 {e20} < EMA50 {e50}，趋势转弱；卖出可卖的 {q} 股。",
        "sell_stop": "{s}：价格 {p} ≤ 止损 {sl}（成本价 − 2×ATR）；卖出可卖的 {q} 股。",
        "exit_locked": "{s}：出现卖出信号，但今日无可卖股份（T+1）；继续持有。",
        "hold": "{s}：EMA20 {e20} ≥ EMA50 {e50}，价格 {p} 高于止损 {sl}；继续持有。",
        "none": "本周期没有候选股票。",
        "head": "基线规则（非 LLM），基于 {tf} K线。",
    },
}


def _f(x: float | None, places: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{places}f}"


def _snap(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    units = (price / tick).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
    return units * tick


def _number(x: Decimal | None) -> float | None:
    # JSON has no decimal type; a price on the tick grid round-trips through float's repr.
    return None if x is None else float(x)


@dataclass(frozen=True, slots=True)
class BaselineModel:
    """Rule-based stand-in for an LLM; see the module docstring for the rules."""

    name: str = BASELINE_NAME
    timeframe: str = PRIMARY
    cash_fraction: Decimal = Decimal("0.10")
    stop_atr: Decimal = Decimal(2)
    take_atr: Decimal = Decimal("3.5")
    rsi_low: float = 40.0
    rsi_high: float = 70.0

    def reply(self, ctx: DecisionContext) -> str:
        text = _TEXT.get(ctx.lang, _TEXT["en"])
        tf = next(
            (
                s.indicators[self.timeframe].timeframe
                for s in ctx.symbols
                if self.timeframe in s.indicators
            ),
            self.timeframe,
        )
        lines = [text["head"].format(tf=tf)]
        decisions: list[dict[str, Any]] = []
        budget = dict(ctx.account.available)
        allot = {c: v * self.cash_fraction for c, v in budget.items()}
        seen: set[str] = set()
        for s in ctx.symbols:
            seen.add(s.symbol)
            line, decision = self._decide(ctx, s, text, budget, allot)
            lines.append(line)
            decisions.append(decision)
        for pos in ctx.positions:  # held but not a candidate: nothing to judge it by
            if pos.symbol not in seen:
                decisions.append(_decision(pos.symbol, "hold", reasoning="not a candidate"))
        if not ctx.symbols:
            lines.append(text["none"])
        body = json.dumps(decisions, ensure_ascii=False, indent=1)
        return f"<reasoning>{' '.join(lines)}</reasoning>\n<decision>{body}</decision>"

    def _decide(
        self,
        ctx: DecisionContext,
        s: SymbolContext,
        text: dict[str, str],
        budget: dict[str, Decimal],
        allot: dict[str, Decimal],
    ) -> tuple[str, dict[str, Any]]:
        ind = s.indicators.get(self.timeframe)
        pos = ctx.position(s.symbol)
        held = pos is not None and pos.quantity > 0
        idle = "hold" if held else "wait"
        if ind is None or s.last is None or not _ready(ind):
            line = text["no_data"].format(s=s.symbol)
            return line, _decision(s.symbol, idle, reasoning=line)
        assert ind.ema20 is not None and ind.ema50 is not None and ind.atr14 is not None
        assert ind.macd_hist is not None and ind.rsi14 is not None
        nums = {
            "s": s.symbol,
            "e20": _f(ind.ema20),
            "e50": _f(ind.ema50),
            "h": _f(ind.macd_hist, 4),
            "r": _f(ind.rsi14, 1),
            "p": s.last,
        }
        atr = Decimal(repr(ind.atr14))
        # Stops a few one-minute ATRs away are inside the noise and sell at a loss within
        # minutes (fees both ways, HK stamp duty each side): measure the distance on the
        # slower timeframe when it is ready.
        slow = s.indicators.get(SECONDARY)
        if slow is not None and slow.atr14 is not None:
            atr = max(atr, Decimal(repr(slow.atr14)))
        if held and pos is not None:
            stop = _snap((pos.avg_cost or s.last) - self.stop_atr * atr, s.tick, up=False)
            nums["sl"] = stop
            exit_key = (
                "sell_trend" if ind.ema20 < ind.ema50 else "sell_stop" if s.last <= stop else None
            )
            if exit_key is None:
                line = text["hold"].format(**nums)
                return line, _decision(s.symbol, "hold", confidence=0.6, reasoning=line)
            if pos.sellable <= 0:
                line = text["exit_locked"].format(**nums)
                return line, _decision(s.symbol, "hold", confidence=0.5, reasoning=line)
            line = text[exit_key].format(q=pos.sellable, **nums)
            return line, _decision(
                s.symbol,
                "sell",
                quantity=pos.sellable,
                order_type="limit" if s.bid is not None else "market",
                limit_price=s.bid,
                confidence=0.7,
                reasoning=line,
            )
        if s.at_limit_up:
            line = text["limit_up"].format(up=s.limit_up, **nums)
            return line, _decision(s.symbol, "wait", reasoning=line)
        signal = (
            ind.ema20 > ind.ema50
            and ind.macd_hist > 0
            and self.rsi_low <= ind.rsi14 <= self.rsi_high
            and atr > 0
        )
        if not signal:
            line = text["no_signal"].format(**nums)
            return line, _decision(s.symbol, "wait", reasoning=line)
        if s.ask is None:
            line = text["no_ask"].format(**nums)
            return line, _decision(s.symbol, "wait", reasoning=line)
        entry = s.ask
        if s.limit_up is not None and entry > s.limit_up:
            entry = s.limit_up
        stop = _snap(entry - self.stop_atr * atr, s.tick, up=False)
        take = _snap(entry + self.take_atr * atr, s.tick, up=True)
        if stop <= 0 or not stop < entry < take:
            line = text["no_signal"].format(**nums)
            return line, _decision(s.symbol, "wait", reasoning=line)
        cash = min(allot.get(s.currency, Decimal(0)), budget.get(s.currency, Decimal(0)))
        lots = int(cash / (entry * s.board_lot * FEE_MARGIN))
        quantity = lots * s.board_lot
        if quantity <= 0:
            line = text["no_cash"].format(lot=s.board_lot, **nums)
            return line, _decision(s.symbol, "wait", reasoning=line)
        budget[s.currency] -= quantity * entry * FEE_MARGIN
        rr = ((take - entry) / (entry - stop)).quantize(Decimal("0.01"), ROUND_FLOOR)
        line = text["buy"].format(
            q=quantity,
            sl=stop,
            tp=take,
            atr=atr.quantize(Decimal("0.001")),
            rr=rr,
            **{**nums, "p": entry},
        )
        rsi_mid = (self.rsi_low + self.rsi_high) / 2
        confidence = round(0.75 - abs(ind.rsi14 - rsi_mid) / 100, 2)
        return line, _decision(
            s.symbol,
            "buy",
            quantity=quantity,
            order_type="limit",
            limit_price=entry,
            stop_loss=stop,
            take_profit=take,
            confidence=confidence,
            reasoning=line,
        )


def _ready(ind: Indicators) -> bool:
    return None not in (ind.ema20, ind.ema50, ind.macd_hist, ind.rsi14, ind.atr14)


def _decision(
    symbol: str,
    action: str,
    *,
    quantity: int = 0,
    order_type: str = "limit",
    limit_price: Decimal | None = None,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    confidence: float = 0.5,
    reasoning: str = "",
) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "action": action,
        "quantity": quantity,
        "order_type": order_type,
        "limit_price": _number(limit_price),
        "stop_loss": _number(stop_loss),
        "take_profit": _number(take_profit),
        "confidence": confidence,
        "reasoning": reasoning,
    }
