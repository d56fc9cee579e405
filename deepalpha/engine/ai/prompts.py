"""Prompts from a decision context: templates in ``deepalpha/assets/prompts/<lang>/`` filled with
``string.Template`` fields, per-trader overrides, a token estimate and trimming to a budget.

Overrides (per trader): ``"system"`` replaces the system template, ``"user"`` the user template,
``"extra_instructions"`` is appended to the system prompt. Templates use ``$field`` names; an
unknown ``$name`` in an override is left as written rather than failing the cycle.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from importlib import resources
from string import Template

from deepalpha.engine.ai.context import (
    DecisionContext,
    FillContext,
    Indicators,
    Performance,
    PositionContext,
    SymbolContext,
)

LANGS = ("en", "zh")
MIN_REWARD_RISK = Decimal("1.5")  # the validator's minimum; the system prompt states it
MIN_CLOSES = 5  # fit_to_budget never shows fewer closes per timeframe than this

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "none": "none",
        "cash": "cash",
        "available": "available",
        "market_value": "market value",
        "equity": "equity",
        "daily_pnl": "today's P&L",
        "qty": "qty",
        "sellable": "sellable",
        "avg_cost": "avg cost",
        "last": "last",
        "unrealized": "unrealized",
        "lot": "lot",
        "tick": "tick",
        "bid": "bid",
        "ask": "ask",
        "chg": "chg",
        "band": "band",
        "limit_up": "LIMIT-UP",
        "limit_down": "LIMIT-DOWN",
        "bars": "bars",
        "closes": "closes",
        "trades": "closing trades",
        "win_rate": "win rate",
        "profit_factor": "profit factor",
        "sharpe": "Sharpe",
        "max_drawdown": "max drawdown",
        "fees_paid": "fees paid",
        "realized": "realized P&L",
        "buy": "BUY",
        "sell": "SELL",
        "fees": "fees",
        "pnl": "P&L",
        "trimmed": "Left out to fit the context",
    },
    "zh": {
        "none": "无",
        "cash": "现金",
        "available": "可用",
        "market_value": "市值",
        "equity": "总资产",
        "daily_pnl": "当日盈亏",
        "qty": "数量",
        "sellable": "可卖",
        "avg_cost": "成本价",
        "last": "现价",
        "unrealized": "浮动盈亏",
        "lot": "每手",
        "tick": "最小价位",
        "bid": "买一",
        "ask": "卖一",
        "chg": "涨跌幅",
        "band": "涨跌停",
        "limit_up": "涨停",
        "limit_down": "跌停",
        "bars": "根K线",
        "closes": "收盘价",
        "trades": "平仓笔数",
        "win_rate": "胜率",
        "profit_factor": "利润因子",
        "sharpe": "夏普比率",
        "max_drawdown": "最大回撤",
        "fees_paid": "已付费用",
        "realized": "已实现盈亏",
        "buy": "买入",
        "sell": "卖出",
        "fees": "费用",
        "pnl": "盈亏",
        "trimmed": "为适应上下文长度而省略",
    },
}


@cache
def template(lang: str, which: str) -> str:
    """A packaged template: ``which`` is ``system`` or ``user``."""
    if lang not in LANGS:
        raise ValueError(f"no prompts for language {lang!r}; have {', '.join(LANGS)}")
    res = resources.files("deepalpha.assets").joinpath("prompts", lang, f"{which}.txt")
    return res.read_text("utf-8")


# --- formatting ---------------------------------------------------------------------------


def _num(x: float | None, places: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{places}f}"


def _dec(x: Decimal | None) -> str:
    return "n/a" if x is None else str(x)


def _signed(x: Decimal | None, suffix: str = "") -> str:
    return "n/a" if x is None else f"{x:+}{suffix}"


def _ratio_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def _account(ctx: DecisionContext, lb: Mapping[str, str]) -> str:
    a = ctx.account
    avail = ", ".join(f"{c} {v}" for c, v in a.available.items()) or lb["none"]
    return (
        f"{lb['cash']} {a.base_currency} {a.cash} | {lb['available']}: {avail} | "
        f"{lb['market_value']} {a.market_value} | {lb['equity']} {a.equity} | "
        f"{lb['daily_pnl']} {_signed(a.daily_pnl)} ({_signed(a.daily_pnl_pct, '%')})"
    )


def _position(p: PositionContext, lb: Mapping[str, str]) -> str:
    return (
        f"- {p.symbol} {p.name} | {lb['qty']} {p.quantity} | {lb['sellable']} {p.sellable} | "
        f"{lb['avg_cost']} {_dec(p.avg_cost)} | {lb['last']} {_dec(p.last)} | "
        f"{lb['market_value']} {p.market_value} | {lb['unrealized']} {_signed(p.unrealized)} "
        f"({_signed(p.unrealized_pct, '%')})"
    )


def _indicators(ind: Indicators, closes: int, lb: Mapping[str, str]) -> str:
    shown = ind.closes[-closes:] if closes else ()
    return (
        f"  {ind.timeframe} ({ind.bars} {lb['bars']}): ema20 {_num(ind.ema20)} "
        f"ema50 {_num(ind.ema50)} macd {_num(ind.macd)}/{_num(ind.macd_signal)}/"
        f"{_num(ind.macd_hist)} rsi14 {_num(ind.rsi14, 1)} atr14 {_num(ind.atr14)} "
        f"bb {_num(ind.bb_upper)}/{_num(ind.bb_middle)}/{_num(ind.bb_lower)}\n"
        f"    {lb['closes']}: {' '.join(map(str, shown)) or 'n/a'}"
    )


def _symbol(s: SymbolContext, closes: int, lb: Mapping[str, str]) -> str:
    flags = "".join(
        f" | {lb[k]}"
        for k, on in (("limit_up", s.at_limit_up), ("limit_down", s.at_limit_down))
        if on
    )
    head = (
        f"- {s.symbol} {s.name} ({s.currency}) | {lb['lot']} {s.board_lot} | "
        f"{lb['tick']} {s.tick} | {lb['last']} {_dec(s.last)} {lb['bid']} {_dec(s.bid)} "
        f"{lb['ask']} {_dec(s.ask)} | {lb['chg']} {_signed(s.change_pct, '%')} | "
        f"{lb['band']} {_dec(s.limit_down)}–{_dec(s.limit_up)}{flags}"
    )
    return "\n".join([head, *(_indicators(i, closes, lb) for i in s.indicators.values())])


def _fill(f: FillContext, lb: Mapping[str, str]) -> str:
    side = lb["buy"] if f.side.value == "buy" else lb["sell"]
    pnl = f" {lb['pnl']} {_signed(f.realized_pnl)}" if f.side.value == "sell" else ""
    return (
        f"- {f.time.isoformat(timespec='minutes')} {side} {f.symbol} {f.quantity} @ {f.price} "
        f"{lb['fees']} {f.fees}{pnl}"
    )


def _performance(p: Performance, lb: Mapping[str, str]) -> str:
    pf = "n/a" if p.profit_factor is None else f"{p.profit_factor:.2f}"
    return (
        f"{lb['trades']} {p.trades} | {lb['win_rate']} {_ratio_pct(p.win_rate)} | "
        f"{lb['profit_factor']} {pf} | {lb['sharpe']} {_num(p.sharpe, 2)} | "
        f"{lb['max_drawdown']} {_ratio_pct(p.max_drawdown)} | {lb['fees_paid']} {p.fees_paid} | "
        f"{lb['realized']} {_signed(p.realized_pnl)}"
    )


def render_user(
    ctx: DecisionContext, lang: str = "en", *, closes: int | None = None, text: str | None = None
) -> str:
    lb = _LABELS[lang]
    shown = (
        closes
        if closes is not None
        else max((len(i.closes) for s in ctx.symbols for i in s.indicators.values()), default=0)
    )
    trimmed = f"\n{lb['trimmed']}: {'; '.join(ctx.trimmed)}\n" if ctx.trimmed else ""
    fields = {
        "time": ctx.time.isoformat(timespec="minutes"),
        "trader_id": ctx.trader_id,
        "sessions": ", ".join(f"{m} {p}" for m, p in ctx.sessions.items()),
        "account": _account(ctx, lb),
        "positions": "\n".join(_position(p, lb) for p in ctx.positions) or lb["none"],
        "symbols": "\n".join(_symbol(s, shown, lb) for s in ctx.symbols) or lb["none"],
        "fills": "\n".join(_fill(f, lb) for f in ctx.recent_fills) or lb["none"],
        "performance": _performance(ctx.performance, lb),
        "trimmed": trimmed,
    }
    return Template(text or template(lang, "user")).safe_substitute(fields)


def render_prompts(
    ctx: DecisionContext,
    lang: str | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    trader_name: str | None = None,
    min_reward_risk: Decimal = MIN_REWARD_RISK,
) -> tuple[str, str]:
    """``(system, user)`` for one cycle, in ``lang`` (default: the context's language)."""
    lang = lang or ctx.lang
    over = overrides or {}
    system = Template(over.get("system") or template(lang, "system")).safe_substitute(
        trader_name=trader_name or ctx.trader_id, min_reward_risk=min_reward_risk
    )
    extra = over.get("extra_instructions", "").strip()
    if extra:
        system = f"{system.rstrip()}\n\n{extra}\n"
    return system, render_user(ctx, lang, text=over.get("user"))


# --- the token budget ---------------------------------------------------------------------

# CJK ideographs, kana, hangul and full-width forms: about one token each in the common BPE
# vocabularies; other text about four characters per token.
_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def estimate_tokens(text: str) -> int:
    wide = len(_WIDE.findall(text))
    return wide + -(-(len(text) - wide) // 4)


def _relevance(s: SymbolContext, held: set[str]) -> tuple[bool, Decimal]:
    """Held symbols first, then the biggest movers."""
    return (s.symbol in held, abs(s.change_pct) if s.change_pct is not None else Decimal(-1))


def _with_closes(ctx: DecisionContext, n: int) -> DecisionContext:
    return dataclasses.replace(
        ctx,
        symbols=tuple(
            dataclasses.replace(
                s,
                indicators={
                    k: dataclasses.replace(i, closes=i.closes[-n:]) for k, i in s.indicators.items()
                },
            )
            for s in ctx.symbols
        ),
    )


def fit_to_budget(
    ctx: DecisionContext, max_tokens: int, lang: str | None = None
) -> DecisionContext:
    """A context whose user prompt fits ``max_tokens``: first fewer closes per timeframe (the
    oldest go; never below ``MIN_CLOSES``), then fewer recent fills, then the least relevant
    candidates (not held, smallest move). What went is listed in ``trimmed``."""
    lang = lang or ctx.lang

    def fits(c: DecisionContext) -> bool:
        return estimate_tokens(render_user(c, lang)) <= max_tokens

    if fits(ctx):
        return ctx
    notes = list(ctx.trimmed)
    most = max((len(i.closes) for s in ctx.symbols for i in s.indicators.values()), default=0)
    n = most
    while n > MIN_CLOSES:
        n = max(MIN_CLOSES, n // 2)
        ctx = _with_closes(ctx, n)
        if fits(dataclasses.replace(ctx, trimmed=(*notes, f"closes {most}→{n}"))):
            break
    if n < most:
        notes.append(f"closes {most}→{n}")
    ctx = dataclasses.replace(ctx, trimmed=tuple(notes))
    if not fits(ctx) and ctx.recent_fills:
        notes.append(f"fills {len(ctx.recent_fills)}→0")
        ctx = dataclasses.replace(ctx, recent_fills=(), trimmed=tuple(notes))
    held = {p.symbol for p in ctx.positions}
    order = sorted(ctx.symbols, key=lambda s: _relevance(s, held))  # least relevant first
    dropped: list[str] = []
    while not fits(ctx) and order:
        dropped.append(order.pop(0).symbol)
        keep = set(dropped)
        ctx = dataclasses.replace(
            ctx,
            symbols=tuple(s for s in ctx.symbols if s.symbol not in keep),
            trimmed=(*notes, f"symbols dropped: {', '.join(dropped)}"),
        )
    return ctx
