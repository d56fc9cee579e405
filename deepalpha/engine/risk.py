"""Risk checks that stand between an order and the broker, and the daily-loss kill switch."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from deepalpha.engine.orders import RejectCode
from deepalpha.engine.portfolio import Portfolio
from deepalpha.i18n import Msg


@dataclass(slots=True)
class RiskLimits:
    """Per-trader limits; ``None`` means no limit. Values are in the order's currency except
    ``max_daily_loss``, which is in the trader's base currency."""

    trading_enabled: bool = True
    dry_run: bool = False
    max_position_value: Decimal | None = None
    max_order_value: Decimal | None = None
    max_open_orders: int | None = None
    max_orders_per_minute: int | None = None
    max_daily_loss: Decimal | None = None


class RiskRejection(Exception):
    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(slots=True)
class RiskState:
    limits: RiskLimits
    halted: tuple[RejectCode, str] | None = None  # set by the kill switch until re-enabled
    recent: deque[datetime] | None = None

    def enable(self) -> None:
        self.halted = None
        self.limits.trading_enabled = True


def check_trading_enabled(state: RiskState) -> None:
    if state.halted is not None:
        raise RiskRejection(*state.halted)
    if not state.limits.trading_enabled:
        raise RiskRejection(RejectCode.TRADING_DISABLED, Msg("risk.trading_disabled"))


def daily_loss_breach(state: RiskState, portfolio: Portfolio) -> Msg | None:
    """The kill switch: a message when today's loss reached the limit, else ``None``."""
    limit = state.limits.max_daily_loss
    if limit is None or portfolio.day_start_equity is None:
        return None
    loss = portfolio.day_start_equity - portfolio.equity()
    if loss >= limit:
        return Msg(
            "risk.daily_loss",
            loss=loss.quantize(Decimal("0.01")),
            currency=portfolio.base_currency,
            limit=limit,
        )
    return None


def check_order(
    state: RiskState,
    portfolio: Portfolio,
    *,
    symbol: str,
    currency: str,
    order_value: Decimal,
    is_buy: bool,
    open_orders: int,
    now: datetime,
    record: bool = True,
) -> None:
    """Raise :class:`RiskRejection` for the first limit the order would break. With
    ``record=False`` (a preview) nothing is counted and the kill switch is not thrown.

    The order-value and position-value limits cap the growth of exposure: a sell (there is no
    short selling, so every sell reduces a held position) is never held back by them — a
    trader must always be able to get out."""
    lim = state.limits
    if is_buy and lim.max_order_value is not None and order_value > lim.max_order_value:
        raise RiskRejection(
            RejectCode.RISK_MAX_ORDER_VALUE,
            Msg(
                "risk.max_order_value",
                value=order_value,
                currency=currency,
                limit=lim.max_order_value,
                symbol=symbol,
            ),
        )
    if is_buy and lim.max_position_value is not None:
        pos = portfolio.positions.get(symbol)
        held = pos.value if pos is not None else Decimal(0)
        if held + order_value > lim.max_position_value:
            raise RiskRejection(
                RejectCode.RISK_MAX_POSITION,
                Msg(
                    "risk.max_position",
                    symbol=symbol,
                    total=held + order_value,
                    currency=currency,
                    limit=lim.max_position_value,
                    held=held,
                    value=order_value,
                ),
            )
    if lim.max_open_orders is not None and open_orders >= lim.max_open_orders:
        raise RiskRejection(
            RejectCode.RISK_OPEN_ORDERS,
            Msg("risk.open_orders", count=open_orders, limit=lim.max_open_orders),
        )
    if lim.max_orders_per_minute is not None:
        recent = state.recent
        if recent is None:
            recent = state.recent = deque()
        cutoff = now - timedelta(minutes=1)
        while recent and recent[0] <= cutoff:
            recent.popleft()
        if len(recent) >= lim.max_orders_per_minute:
            raise RiskRejection(
                RejectCode.RISK_ORDER_RATE,
                Msg("risk.order_rate", count=len(recent), limit=lim.max_orders_per_minute),
            )
        if record:
            recent.append(now)
    breach = daily_loss_breach(state, portfolio)
    if breach is not None:
        if record:
            state.halted = (RejectCode.RISK_DAILY_LOSS, breach)
        raise RiskRejection(RejectCode.RISK_DAILY_LOSS, breach)
    if lim.dry_run:
        raise RiskRejection(RejectCode.DRY_RUN, Msg("risk.dry_run"))
