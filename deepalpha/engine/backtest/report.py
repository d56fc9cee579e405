"""The backtest report: summary metrics, orders, fills, the equity curve and (AI runs) the
decision records, money as text.

``decisions`` holds one entry per decision cycle: ``time``, ``trader``, ``model``, ``cycle``,
``actions`` (per decision: ``symbol``, ``action``, ``quantity``, ``accepted``, ``status``,
``reject_code``, ``reject_reason``, ``order_id``), ``raw_reply``, ``latency_ms``, ``tokens``
(``{"prompt": n, "completion": n}``, as the model counted them), ``cost`` (what this run paid for
the reply, in ``summary.ai.currency``), ``cached`` (the reply came from the reply cache: latency
0, cost 0) and ``error`` (the model's failure, or what the parser had to skip). ``summary.ai``
counts the cycles, the model calls made, the cached replies, and the tokens and cost of the
calls made in this run; it is ``null`` for strategy and scripted runs. ``summary.notes`` lists,
as sentences, what the run made of its input that the person should know (a strategy's size
rounded down to a board lot).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from deepalpha.engine.ai.records import DecisionRecord
from deepalpha.engine.backtest.ai import AiSummary
from deepalpha.engine.backtest.runner import BacktestResult
from deepalpha.engine.markets.fees import FEE_ITEMS
from deepalpha.engine.money import ZERO
from deepalpha.engine.performance import TRADING_DAYS_PER_YEAR, max_drawdown, sharpe

CENT = Decimal("0.01")
RATIO = Decimal("0.000001")
COST = Decimal("0.000001")  # model costs are fractions of a fen per call
ACTION_FIELDS = (
    "symbol",
    "action",
    "quantity",
    "accepted",
    "status",
    "reject_code",
    "reject_reason",
    "order_id",
)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(RATIO))


def _cost(value: Decimal) -> str:
    return str(value.quantize(COST))


def decision_entry(record: DecisionRecord, *, cached: bool = False) -> dict[str, Any]:
    return {
        "time": record.time.isoformat(),
        "trader": record.trader_id,
        "model": record.model,
        "cycle": record.cycle,
        "actions": [{k: r.get(k) for k in ACTION_FIELDS} for r in record.results],
        "raw_reply": record.raw_reply,
        "latency_ms": record.latency_ms,
        "tokens": {"prompt": record.prompt_tokens, "completion": record.completion_tokens},
        "cost": _cost(record.cost),
        "cached": cached,
        "error": record.error,
    }


def ai_summary(ai: AiSummary) -> dict[str, Any]:
    return {
        "profile": ai.profile,
        "model": ai.model,
        "base_url": ai.base_url,
        "interval_minutes": ai.interval_minutes,
        "symbols": list(ai.symbols),
        "cycles": ai.cycles,
        "model_calls": ai.model_calls,
        "cached_replies": ai.cached_replies,
        "failed_cycles": ai.failed_cycles,
        "tokens": {"prompt": ai.prompt_tokens, "completion": ai.completion_tokens},
        "cost": _cost(ai.cost),
        "currency": ai.currency,
    }


def metrics(result: BacktestResult) -> dict[str, Any]:
    """Return, annualized return, Sharpe (daily, √252, no risk-free rate), max drawdown."""
    curve = [s.equity for s in result.equity]
    initial, final = result.initial_cash, result.final_equity
    with localcontext() as ctx:
        ctx.prec = 28
        total_return = final / initial - 1 if initial else ZERO
        days = len(curve)
        annualized: Decimal | None = None
        if days > 1 and initial > 0 and final > 0:
            annualized = (final / initial) ** (Decimal(TRADING_DAYS_PER_YEAR) / days) - 1
        ratio = sharpe(curve, start=initial)
        max_dd = max_drawdown(curve, start=initial) or ZERO
        pf_fx = result.config.fx
        traded = sum(
            (f.amount * pf_fx[f.currency] / pf_fx[result.base_currency] for f in result.fills), ZERO
        )
        avg_equity = sum(curve, ZERO) / len(curve) if curve else initial
        turnover = traded / avg_equity if avg_equity else ZERO
    return {
        "total_return": total_return,
        "annualized_return": annualized,
        "sharpe": ratio,
        "max_drawdown": max_dd,
        "traded_value": traded,
        "turnover": turnover,
    }


def build_report(result: BacktestResult) -> dict[str, Any]:
    m = metrics(result)
    curve = result.equity
    summary = {
        "start": curve[0].day.isoformat() if curve else None,
        "end": curve[-1].day.isoformat() if curve else None,
        "bars": result.bars,
        "symbols": len(result.symbols),
        "strategy": result.strategy,
        "currency": result.base_currency,
        "initial_cash": _money(result.initial_cash),
        "final_equity": _money(result.final_equity),
        "total_return": _ratio(m["total_return"]),
        "annualized_return": _ratio(m["annualized_return"]),
        "sharpe": _ratio(m["sharpe"]),
        "max_drawdown": _ratio(m["max_drawdown"]),
        "trades": len(result.fills),
        "round_trips": result.trips.closed,
        "win_rate": _ratio(result.trips.win_rate),
        "profit_factor": _ratio(result.trips.profit_factor),
        "fees_total": _money(result.fees_total),
        "traded_value": _money(m["traded_value"]),
        "turnover": _ratio(m["turnover"]),
        "ai": ai_summary(result.ai) if result.ai is not None else None,
        "notes": list(result.notes),
    }
    orders = [
        {
            "id": o.id,
            "time": o.created_at.isoformat(),
            "symbol": o.symbol,
            "side": o.side.value,
            "type": o.type.value,
            "quantity": o.quantity,
            "limit_price": str(o.limit_price) if o.limit_price is not None else None,
            "status": o.status.value,
            "filled_quantity": o.filled_quantity,
            "avg_price": str(o.avg_price.quantize(Decimal("0.0001")))
            if o.avg_price is not None
            else None,
            "reject_code": o.reject_code.value if o.reject_code else None,
            "reject_reason": o.reject_reason if o.reject_code else None,
        }
        for o in result.orders
    ]
    fills = [
        {
            "time": f.time.isoformat(),
            "symbol": f.symbol,
            "side": f.side.value,
            "quantity": f.quantity,
            "price": str(f.price),
            "amount": str(f.amount),
            "currency": f.currency,
            "fees": {k: str(getattr(f.fees, k)) for k in FEE_ITEMS},
            "fees_total": str(f.fees.total),
            "realized_pnl": str(f.realized_pnl),
        }
        for f in result.fills
    ]
    equity = [
        {
            "date": s.day.isoformat(),
            "cash": _money(s.cash),
            "market_value": _money(s.market_value),
            "equity": _money(s.equity),
        }
        for s in curve
    ]
    cached = result.ai.cached_cycles if result.ai is not None else frozenset()
    decisions = [decision_entry(r, cached=r.cycle in cached) for r in result.decisions]
    return {
        "summary": summary,
        "orders": orders,
        "fills": fills,
        "equity": equity,
        "decisions": decisions,
    }
