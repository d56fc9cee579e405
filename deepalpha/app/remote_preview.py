"""What an order would do, judged at once from what a ``RemoteBackend`` knows.

The ticket asks for a preview on every keystroke and expects it now, not after a round trip.
So ``RemoteBackend`` answers with this estimate (the broker's own rule functions: board lots,
ticks, the daily band, T+1, cash, the trader's limits, the session) and asks the server's
``/orders/preview`` behind it; the server's answer, which also knows the order-rate limit and
the server's fee settings, replaces the estimate as soon as it comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from deepalpha.app.backend import OrderPreview, PositionView, TraderView
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.fees import NO_FEES, FeeSchedule, order_fees
from deepalpha.engine.markets.instruments import Instrument
from deepalpha.engine.markets.rules import buy_lot_error, sell_lot_error, tick_error, tick_size
from deepalpha.engine.markets.sessions import Phase, accepts_orders
from deepalpha.engine.orders import Order, OrderRequest, OrderType, Side
from deepalpha.engine.orders import RejectCode as R
from deepalpha.i18n import Msg

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Known:
    """What the read model holds that an order check needs."""

    instrument: Instrument
    quote: Quote | None
    phase: Phase
    trader: TraderView | None
    position: PositionView | None
    open_orders: Sequence[Order]  # the trader's working orders
    day: date


def estimate(req: OrderRequest, known: Known, fees: FeeSchedule | None = None) -> OrderPreview:
    inst = known.instrument
    quote = known.quote
    pos = known.position
    if req.type is OrderType.LIMIT and req.limit_price is not None:
        price: Decimal | None = req.limit_price
    elif quote is not None:
        touch = quote.ask if req.side is Side.BUY else quote.bid
        price = touch if touch is not None else quote.last
    else:
        price = None
    amount = price * req.quantity if price is not None and req.quantity > 0 else ZERO
    sell = req.side is Side.SELL
    problem = _problem(req, known, inst, price, amount, fees or FeeSchedule())
    return OrderPreview(
        ok=problem is None,
        code=problem[0].value if problem else None,
        message=problem[1] if problem else None,
        board_lot=inst.board_lot,
        sellable=(pos.sellable if pos else 0) if sell else None,
        limit_down=quote.limit_down if quote else None,
        limit_up=quote.limit_up if quote else None,
        tick=tick_size(inst, price, known.day) if price is not None else None,
        price=price,
        amount=amount,
        fees=order_fees(inst.market, sell, amount, known.day, fees or FeeSchedule()),
        currency=inst.currency,
    )


def refused(code: R, message: str) -> OrderPreview:
    """A preview of an order that names no instrument (an unknown symbol)."""
    return OrderPreview(
        False, code.value, message, 0, None, None, None, None, None, ZERO, NO_FEES, "CNY"
    )


def _problem(
    req: OrderRequest,
    known: Known,
    inst: Instrument,
    price: Decimal | None,
    amount: Decimal,
    fees: FeeSchedule,
) -> tuple[R, str] | None:
    """The first rule the order breaks, in the order the broker checks them."""
    trader = known.trader
    if trader is None:
        return R.UNKNOWN_TRADER, Msg("order.unknown_trader", trader=repr(req.trader_id))
    if req.type is OrderType.LIMIT and req.limit_price is None:
        return R.INVALID_ORDER, Msg("order.limit_needs_price")
    if req.type is OrderType.MARKET and req.limit_price is not None:
        return R.INVALID_ORDER, Msg("order.market_no_price")
    if trader.halted:
        return R.TRADING_DISABLED, trader.halted
    if not trader.limits.trading_enabled:
        return R.TRADING_DISABLED, Msg("risk.trading_disabled")
    market = Msg(f"market.{inst.market.value}")
    phase = Msg(f"session.phase.{known.phase.value}")
    if not accepts_orders(known.phase):
        return R.MARKET_CLOSED, Msg("session.not_accepting", market=market, phase=phase)
    if req.type is OrderType.MARKET and known.phase is not Phase.CONTINUOUS:
        return R.MARKET_CLOSED, Msg("session.market_order_continuous", market=market, phase=phase)
    pos = known.position
    sellable = pos.sellable if pos else 0
    lot = (
        buy_lot_error(inst, req.quantity)
        if req.side is Side.BUY
        else sell_lot_error(inst, req.quantity, sellable)
    )
    if lot:
        return R.LOT_SIZE, lot
    quote = known.quote
    if req.limit_price is not None:
        tick = tick_error(inst, req.limit_price, known.day)
        if tick:
            return R.TICK_SIZE, tick
        if (
            quote is not None
            and quote.limit_up is not None
            and quote.limit_down is not None
            and not (quote.limit_down <= req.limit_price <= quote.limit_up)
        ):
            band = Msg(
                "band.outside",
                price=req.limit_price,
                low=quote.limit_down,
                high=quote.limit_up,
                symbol=inst.symbol,
                reference=quote.pre_close,
            )
            return R.PRICE_LIMIT, band
    mine = [o for o in known.open_orders if o.symbol == inst.symbol]
    if req.side is Side.SELL:
        selling = sum(o.remaining for o in mine if o.side is Side.SELL)
        held = (pos.quantity if pos else 0) - selling
        if req.quantity > held:
            return R.INSUFFICIENT_POSITION, Msg(
                "position.insufficient", quantity=req.quantity, symbol=inst.symbol, held=held
            )
        if req.quantity > sellable:
            bought = (pos.quantity - pos.sellable) if pos else 0
            return R.T_PLUS_ONE, Msg(
                "t1.not_sellable",
                quantity=req.quantity,
                symbol=inst.symbol,
                sellable=sellable,
                bought=bought,
            )
    else:
        if price is None:
            return R.MARKET_CLOSED, Msg("order.no_price_yet", symbol=inst.symbol)
        need = amount + order_fees(inst.market, False, amount, known.day, fees).total
        hk = inst.currency == "HKD"
        frozen = sum(
            (
                o.frozen_cash
                for o in known.open_orders
                if o.side is Side.BUY and o.symbol.endswith(".HK") == hk
            ),
            start=ZERO,
        )
        available = trader.cash.get(inst.currency, ZERO) - frozen
        if need > available:
            return R.INSUFFICIENT_CASH, Msg(
                "cash.insufficient",
                quantity=req.quantity,
                symbol=inst.symbol,
                price=price,
                need=need,
                currency=inst.currency,
                available=available,
            )
    return _limits(req, trader, inst, amount, pos)


def _limits(
    req: OrderRequest,
    trader: TraderView,
    inst: Instrument,
    value: Decimal,
    pos: PositionView | None,
) -> tuple[R, str] | None:
    """The trader's own limits (``engine.risk.check_order``), but the order rate and the daily
    loss, which only the server counts."""
    lim = trader.limits
    buy = req.side is Side.BUY
    if buy and lim.max_order_value is not None and value > lim.max_order_value:
        return R.RISK_MAX_ORDER_VALUE, Msg(
            "risk.max_order_value",
            value=value,
            currency=inst.currency,
            limit=lim.max_order_value,
            symbol=inst.symbol,
        )
    if buy and lim.max_position_value is not None:
        held = pos.market_value if pos else ZERO
        if held + value > lim.max_position_value:
            return R.RISK_MAX_POSITION, Msg(
                "risk.max_position",
                symbol=inst.symbol,
                total=held + value,
                currency=inst.currency,
                limit=lim.max_position_value,
                held=held,
                value=value,
            )
    if lim.max_open_orders is not None and trader.open_orders >= lim.max_open_orders:
        return R.RISK_OPEN_ORDERS, Msg(
            "risk.open_orders", count=trader.open_orders, limit=lim.max_open_orders
        )
    if lim.dry_run:
        return R.DRY_RUN, Msg("risk.dry_run")
    return None
