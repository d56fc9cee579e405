"""Validation of AI decisions before they become orders (SPEC §5).

The market rules (lots, tick, price band, T+1, cash, risk limits) are the broker's own:
every decision is previewed with :meth:`PaperBroker.check`, so an AI trader is held to exactly
the rules a person is. On top of them come the rules for models, enforced in code whatever the
model says: a minimum confidence, a real reward:risk against the current price (not the entry
the model assumed), a position cap as a share of equity, at most so many buys an hour, a
cooldown after a sell and a minimum holding time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from deepalpha.engine.ai.protocol import Action, Decision
from deepalpha.engine.broker import PaperBroker
from deepalpha.engine.markets.instruments import UnknownInstrument
from deepalpha.engine.markets.symbols import SymbolError
from deepalpha.engine.orders import OrderRequest, OrderType, Side
from deepalpha.i18n import Msg

D = Decimal
HOUR = timedelta(hours=1)


class AiRejectCode(StrEnum):
    """Codes of the rules for models; the engine's own rules keep their :class:`RejectCode`."""

    LOW_CONFIDENCE = "LOW_CONFIDENCE"
    REWARD_RISK = "REWARD_RISK"
    POSITION_CAP = "POSITION_CAP"
    THROTTLE_BUYS = "THROTTLE_BUYS"
    COOLDOWN = "COOLDOWN"
    MIN_HOLDING = "MIN_HOLDING"
    BAD_DECISION = "BAD_DECISION"


A = AiRejectCode


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    min_confidence: Decimal = D("0.6")
    min_reward_risk: Decimal = D("1.5")
    max_buys_per_hour: int = 4
    cooldown_after_sell_minutes: int = 30  # no buy of a symbol this soon after selling it
    min_holding_minutes: int = 60  # no sell of a position opened this recently
    max_position_fraction: Decimal = D("0.3")  # position value after a buy, share of equity


@dataclass(slots=True)
class TradeHistory:
    """What one AI trader did recently, for the throttles. The caller records each buy and
    sell as it is placed (or filled); :func:`validate` only reads."""

    buys: list[datetime] = field(default_factory=list)
    last_sell: dict[str, datetime] = field(default_factory=dict)
    opened: dict[str, datetime] = field(default_factory=dict)

    def record_buy(self, symbol: str, at: datetime) -> None:
        self.buys = [t for t in self.buys if at - t < timedelta(days=1)]
        self.buys.append(at)
        self.opened.setdefault(symbol, at)

    def record_sell(self, symbol: str, at: datetime, *, closed: bool = False) -> None:
        """A sell; ``closed`` when it left no shares, so the next buy opens a new position."""
        self.last_sell[symbol] = at
        if closed:
            self.opened.pop(symbol, None)

    def buys_since(self, since: datetime) -> int:
        return sum(1 for t in self.buys if t > since)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision judged. ``request`` is the order it makes (``source="ai"``) — also on a
    rejection, so the caller can record the rejected order; ``None`` for hold and wait."""

    decision: Decision
    accepted: bool
    code: str | None = None  # a RejectCode or an AiRejectCode value
    reason: Msg | None = None
    request: OrderRequest | None = None


def validate(
    decisions: Iterable[Decision],
    *,
    broker: PaperBroker,
    trader_id: str,
    now: datetime,
    history: TradeHistory,
    settings: ValidationSettings | None = None,
) -> list[Verdict]:
    """Judge each decision; accepted buys of this reply count towards the hourly buy limit of
    the ones after them."""
    rules = settings or ValidationSettings()
    pending_buys = 0
    verdicts: list[Verdict] = []
    for decision in decisions:
        verdict = _judge(decision, broker, trader_id, now, history, rules, pending_buys)
        if verdict.accepted and decision.action is Action.BUY:
            pending_buys += 1
        verdicts.append(verdict)
    return verdicts


def _judge(
    decision: Decision,
    broker: PaperBroker,
    trader_id: str,
    now: datetime,
    history: TradeHistory,
    rules: ValidationSettings,
    pending_buys: int,
) -> Verdict:
    action = decision.action
    if action in (Action.HOLD, Action.WAIT):
        return Verdict(decision, True)
    if not decision.symbol:
        return Verdict(
            decision, False, A.BAD_DECISION, Msg("ai.rule.no_symbol", action=action.value)
        )
    side = Side.BUY if action is Action.BUY else Side.SELL
    limit = decision.limit_price if decision.order_type is OrderType.LIMIT else None
    req = OrderRequest(
        trader_id, decision.symbol, side, decision.quantity, decision.order_type, limit, "ai"
    )

    def reject(code: str, reason: Msg) -> Verdict:
        return Verdict(decision, False, code, reason, req)

    why = _confidence(decision, rules)
    if why is not None:
        return reject(A.LOW_CONFIDENCE, why)
    found = broker.check(req)
    if found is not None:
        code, text = found
        return reject(code, text if isinstance(text, Msg) else Msg("ai.rule.engine", text=text))
    if side is Side.SELL:
        why = _min_holding(decision, broker, trader_id, now, history, rules)
        return (
            reject(A.MIN_HOLDING, why) if why is not None else Verdict(decision, True, request=req)
        )
    price = _entry_price(decision, broker)
    if price is None:
        return reject(A.REWARD_RISK, Msg("ai.rule.no_price", symbol=decision.symbol))
    why = _reward_risk(decision, price, rules)
    if why is not None:
        return reject(A.REWARD_RISK, why)
    why = _position_cap(decision, price, broker, trader_id, rules)
    if why is not None:
        return reject(A.POSITION_CAP, why)
    recent = history.buys_since(now - HOUR) + pending_buys
    if recent >= rules.max_buys_per_hour:
        return reject(
            A.THROTTLE_BUYS,
            Msg(
                "ai.rule.throttle_buys",
                symbol=decision.symbol,
                count=recent,
                maximum=rules.max_buys_per_hour,
            ),
        )
    sold = history.last_sell.get(decision.symbol)
    cooldown = timedelta(minutes=rules.cooldown_after_sell_minutes)
    if sold is not None and now - sold < cooldown:
        return reject(
            A.COOLDOWN,
            Msg(
                "ai.rule.cooldown",
                symbol=decision.symbol,
                minutes=_minutes(now - sold),
                cooldown=rules.cooldown_after_sell_minutes,
            ),
        )
    return Verdict(decision, True, request=req)


def _confidence(decision: Decision, rules: ValidationSettings) -> Msg | None:
    conf = decision.confidence
    who = {"action": decision.action.value, "symbol": decision.symbol}
    if conf is None:
        return Msg("ai.rule.no_confidence", minimum=rules.min_confidence, **who)
    if conf < rules.min_confidence:
        return Msg("ai.rule.low_confidence", confidence=conf, minimum=rules.min_confidence, **who)
    return None


def _entry_price(decision: Decision, broker: PaperBroker) -> Decimal | None:
    """Where a buy would really get in: the ask now (or the last price); a limit below that
    can only fill at the limit or better, so the limit."""
    st = broker.state(decision.symbol)
    current = st.ask if st.ask is not None else st.last
    limit = decision.limit_price if decision.order_type is OrderType.LIMIT else None
    if current is None:
        return limit
    if limit is not None and limit < current:
        return limit
    return current


def _reward_risk(decision: Decision, price: Decimal, rules: ValidationSettings) -> Msg | None:
    """reward = take-profit − price, risk = price − stop-loss, against the real entry."""
    stop, target, symbol = decision.stop_loss, decision.take_profit, decision.symbol
    shown = price
    if stop is None or target is None:
        return Msg("ai.rule.needs_stops", symbol=symbol, price=shown)
    if stop >= price:
        return Msg("ai.rule.stop_not_below", symbol=symbol, stop=stop, price=shown)
    if target <= price:
        return Msg("ai.rule.target_not_above", symbol=symbol, target=target, price=shown)
    ratio = (target - price) / (price - stop)
    if ratio < rules.min_reward_risk:
        return Msg(
            "ai.rule.reward_risk",
            symbol=symbol,
            ratio=_ratio(ratio),
            price=shown,
            stop=stop,
            target=target,
            minimum=rules.min_reward_risk,
        )
    return None


def _position_cap(
    decision: Decision,
    price: Decimal,
    broker: PaperBroker,
    trader_id: str,
    rules: ValidationSettings,
) -> Msg | None:
    """The position after the buy — shares held, open buys and this order — as a share of
    the trader's equity (in its base currency)."""
    pf = broker.portfolio(trader_id)
    symbol = decision.symbol
    try:
        currency = broker.instruments.get(symbol).currency
    except (SymbolError, UnknownInstrument):  # broker.check has already said so
        return None
    held = pf.positions.get(symbol)
    value = held.market_value if held is not None else D(0)
    for order in broker.open_orders(trader_id):
        if order.symbol == symbol and order.side is Side.BUY:
            value += order.remaining * (order.limit_price or price)
    value += decision.quantity * price
    equity = pf.equity()
    share = pf.to_base(currency, value) / equity if equity > 0 else D(1)
    if share > rules.max_position_fraction:
        return Msg(
            "ai.rule.position_cap",
            quantity=decision.quantity,
            symbol=symbol,
            value=value,
            currency=currency,
            percent=_ratio(share * 100),
            cap=_ratio(rules.max_position_fraction * 100),
        )
    return None


def _min_holding(
    decision: Decision,
    broker: PaperBroker,
    trader_id: str,
    now: datetime,
    history: TradeHistory,
    rules: ValidationSettings,
) -> Msg | None:
    opened = history.opened.get(decision.symbol)
    if opened is None:
        pos = broker.portfolio(trader_id).positions.get(decision.symbol)
        opened = pos.opened_at if pos is not None else None
    if opened is None:
        return None
    held = now - opened
    if held < timedelta(minutes=rules.min_holding_minutes):
        return Msg(
            "ai.rule.min_holding",
            symbol=decision.symbol,
            minutes=_minutes(held),
            minimum=rules.min_holding_minutes,
        )
    return None


def _ratio(value: Decimal) -> str:
    """Two places at most, rounded down so that 1.497 never reads as the minimum 1.5."""
    text = f"{value.quantize(D('0.01'), rounding=ROUND_DOWN):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
