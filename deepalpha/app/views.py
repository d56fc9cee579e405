"""What the faces exchange with the engine, as serialisable pydantic models.

``LocalBackend`` hands screens the engine's own value types; the API sends these models as JSON
and ``RemoteBackend`` turns them back into the same types, so a screen cannot tell which backend
it is on. Money and prices cross as decimal text (pydantic's JSON form of ``Decimal``), never as
a float. A message crosses as its catalogue key and parameters, so each face says it in its own
language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from deepalpha.app.backend import (
    AiStatus,
    BacktestCost,
    MarketStatus,
    OrderPreview,
    PositionView,
    ProposalView,
    TraderView,
)
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.fees import FeeBreakdown
from deepalpha.engine.markets.instruments import Board, Instrument, Kind
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Exchange, Market
from deepalpha.engine.orders import (
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.i18n import MESSAGES, Msg


class View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Command(BaseModel):
    """A request body: unknown fields are refused, so a typo is a 422, not a silent default."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- what a command's numbers may be --------------------------------------------------------
# Money and prices in a command are decimal strings, never JSON numbers (a float would round
# them); at most 4 decimal places, as prices and cash are kept.
POSITIVE_DECIMAL = (
    r"^(?:[1-9][0-9]{0,13}(?:\.[0-9]{1,4})?"
    r"|0\.(?:[1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9]))$"
)
NON_NEGATIVE_DECIMAL = r"^[0-9]{1,14}(?:\.[0-9]{1,4})?$"


def _decimal_text(pattern: str, what: str) -> Callable[[Any], Any]:
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, Decimal):
            return value  # from Python (``of``), already exact
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise ValueError(f'{what} as a decimal string such as "12.34" (up to 4 decimals)')
        return Decimal(value)

    return check


def _decimal_schema(pattern: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": ["12.34"]})


def _whole(value: Any) -> Any:
    # JSON has one number type: 100 and 100.0 are the same count, "100" and true are not.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("a whole number")
        return int(value)
    return value


def _flag(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


Price = Annotated[
    Decimal,
    BeforeValidator(_decimal_text(POSITIVE_DECIMAL, "a price above 0")),
    _decimal_schema(POSITIVE_DECIMAL),
]
Amount = Annotated[
    Decimal,
    BeforeValidator(_decimal_text(NON_NEGATIVE_DECIMAL, "an amount of 0 or more")),
    _decimal_schema(NON_NEGATIVE_DECIMAL),
]


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a number")
    return value


# The bounds first: they then constrain the integer schema (JSON schema "exclusiveMinimum"...).
Quantity = Annotated[int, Field(gt=0, le=1_000_000_000), BeforeValidator(_whole)]
Count = Annotated[int, Field(ge=0, le=1_000_000), BeforeValidator(_whole)]
Flag = Annotated[bool, BeforeValidator(_flag)]


# --- messages ------------------------------------------------------------------------------


class MessageView(View):
    """A message as its catalogue key and parameters (``key`` None: plain text, e.g. a
    model's own words), with the English text for clients that do not translate."""

    key: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    text: str


def _param(value: Any) -> Any:
    if isinstance(value, Msg):
        return {"$msg": message(value).model_dump(mode="json")}
    if isinstance(value, Decimal | date | datetime):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _param(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_param(v) for v in value]
    return value


def message(text: str) -> MessageView:
    if isinstance(text, Msg):
        return MessageView(
            key=text.key, params={k: _param(v) for k, v in text.params.items()}, text=str(text)
        )
    return MessageView(text=str(text))


def _unparam(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$msg"}:
        return to_msg(MessageView.model_validate(value["$msg"]))
    return value


def to_msg(view: MessageView) -> str:
    """The message back as a ``Msg`` (translatable) when its key is known here, else its text."""
    if view.key is None or view.key not in MESSAGES:
        return view.text
    try:
        return Msg(view.key, **{k: _unparam(v) for k, v in view.params.items()})
    except (KeyError, ValueError, IndexError, TypeError):
        return view.text  # a server newer than this client: its English text still reads


# --- market --------------------------------------------------------------------------------


class InstrumentView(View):
    symbol: str
    name: str
    name_en: str
    market: Market
    exchange: Exchange
    board: Board
    kind: Kind
    board_lot: int
    currency: str
    st: bool = False
    listed: date | None = None

    @classmethod
    def of(cls, i: Instrument) -> InstrumentView:
        return cls.model_construct(**{f.name: getattr(i, f.name) for f in fields(Instrument)})

    def to_domain(self) -> Instrument:
        return Instrument(**{f.name: getattr(self, f.name) for f in fields(Instrument)})


class QuoteView(View):
    symbol: str
    time: AwareDatetime
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int = 0
    ask_size: int = 0
    volume: int = 0
    turnover: Decimal = Decimal(0)
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    pre_close: Decimal | None = None
    limit_up: Decimal | None = None
    limit_down: Decimal | None = None

    @classmethod
    def of(cls, q: Quote) -> QuoteView:
        return cls.model_construct(**{f.name: getattr(q, f.name) for f in fields(Quote)})

    def to_domain(self) -> Quote:
        return Quote(**{f.name: getattr(self, f.name) for f in fields(Quote)})


class BarView(View):
    symbol: str
    time: AwareDatetime
    trading_day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    amount: Decimal | None = None
    pre_close: Decimal | None = None

    @classmethod
    def of(cls, b: Bar) -> BarView:
        return cls.model_construct(**{name: getattr(b, name) for name in cls.model_fields})

    def to_domain(self) -> Bar:
        return Bar(**{name: getattr(self, name) for name in type(self).model_fields})


class MarketStatusView(View):
    label: str
    simulated: bool
    time: AwareDatetime
    phases: dict[Market, Phase]
    feed_alive: bool = True
    database: str = ""
    database_ok: bool = True
    speed: float = Field(1.0, description="simulated seconds per real second (not money)")
    paused: bool = False

    @classmethod
    def of(cls, s: MarketStatus) -> MarketStatusView:
        return cls.model_construct(**{name: getattr(s, name) for name in cls.model_fields})

    def to_domain(self) -> MarketStatus:
        # The connection is the client's own to say (``RemoteBackend``), not the server's.
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return MarketStatus(**{**values, "phases": dict(self.phases)})


# --- orders and fills ----------------------------------------------------------------------


class FeesView(View):
    commission: Decimal = Decimal(0)
    stamp_duty: Decimal = Decimal(0)
    transfer_fee: Decimal = Decimal(0)
    sfc_levy: Decimal = Decimal(0)
    afrc_levy: Decimal = Decimal(0)
    trading_fee: Decimal = Decimal(0)
    settlement_fee: Decimal = Decimal(0)
    total: Decimal = Decimal(0)

    @classmethod
    def of(cls, f: FeeBreakdown) -> FeesView:
        return cls.model_construct(**{name: getattr(f, name) for name in cls.model_fields})

    def to_domain(self) -> FeeBreakdown:
        return FeeBreakdown(
            **{name: getattr(self, name) for name in type(self).model_fields if name != "total"}
        )


class OrderView(View):
    id: str
    trader_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: int
    limit_price: Decimal | None
    created_at: AwareDatetime
    trading_day: date
    source: str
    status: OrderStatus
    filled_quantity: int
    filled_amount: Decimal
    avg_price: Decimal | None
    fees: FeesView
    frozen_cash: Decimal
    reject_code: RejectCode | None = None
    reject_reason: MessageView | None = None
    updated_at: AwareDatetime | None = None

    @classmethod
    def of(cls, o: Order) -> OrderView:
        return cls.model_construct(
            id=o.id,
            trader_id=o.trader_id,
            symbol=o.symbol,
            side=o.side,
            type=o.type,
            quantity=o.quantity,
            limit_price=o.limit_price,
            created_at=o.created_at,
            trading_day=o.trading_day,
            source=o.source,
            status=o.status,
            filled_quantity=o.filled_quantity,
            filled_amount=o.filled_amount,
            avg_price=o.avg_price,
            fees=FeesView.of(o.fees),
            frozen_cash=o.frozen_cash,
            reject_code=o.reject_code,
            reject_reason=None if o.reject_reason is None else message(o.reject_reason),
            updated_at=o.updated_at,
        )

    def to_domain(self) -> Order:
        return Order(
            id=self.id,
            trader_id=self.trader_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            quantity=self.quantity,
            limit_price=self.limit_price,
            created_at=self.created_at,
            trading_day=self.trading_day,
            source=self.source,
            status=self.status,
            filled_quantity=self.filled_quantity,
            filled_amount=self.filled_amount,
            fees=self.fees.to_domain(),
            frozen_cash=self.frozen_cash,
            reject_code=self.reject_code,
            reject_reason=None if self.reject_reason is None else to_msg(self.reject_reason),
            updated_at=self.updated_at,
        )


class FillView(View):
    id: str
    order_id: str
    trader_id: str
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    amount: Decimal
    fees: FeesView
    time: AwareDatetime
    trading_day: date
    currency: str
    realized_pnl: Decimal = Decimal(0)

    @classmethod
    def of(cls, f: Fill) -> FillView:
        values = {name: getattr(f, name) for name in cls.model_fields}
        return cls.model_construct(**{**values, "fees": FeesView.of(f.fees)})

    def to_domain(self) -> Fill:
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return Fill(**{**values, "fees": self.fees.to_domain()})


class OrderCommand(Command):
    """Place an order. ``client_id`` makes a retry safe: the same id places one order."""

    trader_id: str = Field(min_length=1, max_length=64)
    symbol: str = Field(pattern=r"^[0-9A-Za-z]{1,10}\.(SH|SZ|BJ|HK|sh|sz|bj|hk)$")
    side: Side
    quantity: Quantity
    type: OrderType = OrderType.MARKET
    limit_price: Price | None = None
    client_id: str | None = Field(None, max_length=64)

    @classmethod
    def of(cls, r: OrderRequest) -> OrderCommand:
        return cls(
            trader_id=r.trader_id,
            symbol=r.symbol,
            side=r.side,
            quantity=r.quantity,
            type=r.type,
            limit_price=r.limit_price,
            client_id=r.client_id,
        )

    def to_domain(self, source: str = "manual") -> OrderRequest:
        return OrderRequest(
            trader_id=self.trader_id,
            symbol=self.symbol.upper(),
            side=self.side,
            quantity=self.quantity,
            type=self.type,
            limit_price=self.limit_price,
            source=source,
            client_id=self.client_id,
        )


class OrderPreviewView(View):
    ok: bool
    code: str | None
    message: MessageView | None
    board_lot: int
    sellable: int | None
    limit_down: Decimal | None
    limit_up: Decimal | None
    tick: Decimal | None
    price: Decimal | None
    amount: Decimal
    fees: FeesView
    currency: str
    total: Decimal

    @classmethod
    def of(cls, p: OrderPreview) -> OrderPreviewView:
        values = {f.name: getattr(p, f.name) for f in fields(OrderPreview)}
        return cls.model_construct(
            **{
                **values,
                "message": None if p.message is None else message(p.message),
                "fees": FeesView.of(p.fees),
                "total": p.total,
            }
        )

    def to_domain(self) -> OrderPreview:
        values = {f.name: getattr(self, f.name) for f in fields(OrderPreview)}
        return OrderPreview(
            **{
                **values,
                "message": None if self.message is None else to_msg(self.message),
                "fees": self.fees.to_domain(),
            }
        )


# --- traders and accounts ------------------------------------------------------------------


class LimitsView(View):
    trading_enabled: Flag = True
    dry_run: Flag = False
    max_position_value: Amount | None = None
    max_order_value: Amount | None = None
    max_open_orders: Count | None = None
    max_orders_per_minute: Count | None = None
    max_daily_loss: Amount | None = None

    @classmethod
    def of(cls, limits: RiskLimits) -> LimitsView:
        return cls.model_construct(**{f.name: getattr(limits, f.name) for f in fields(RiskLimits)})

    def to_domain(self) -> RiskLimits:
        return RiskLimits(**{f.name: getattr(self, f.name) for f in fields(RiskLimits)})


class TraderSummaryView(View):
    id: str
    name: str
    kind: str
    running: bool
    halted: str | None
    model_label: str
    equity: Decimal
    deposits: Decimal
    day_pnl: Decimal
    cash: dict[str, Decimal]
    positions: int
    open_orders: int
    trades: int
    fees: Decimal
    limits: LimitsView
    settings: dict[str, Any] = Field(default_factory=dict)
    win_rate: Decimal | None = None
    max_drawdown: Decimal | None = None
    safe_mode: bool = False
    open_proposals: int = 0
    pnl: Decimal
    return_pct: Decimal

    @classmethod
    def of(cls, t: TraderView) -> TraderSummaryView:
        values = {f.name: getattr(t, f.name) for f in fields(TraderView)}
        return cls.model_construct(
            **{
                **values,
                "cash": dict(t.cash),
                "settings": dict(t.settings),
                "limits": LimitsView.of(t.limits),
                "pnl": t.pnl,
                "return_pct": t.return_pct,
            }
        )

    def to_domain(self) -> TraderView:
        values = {f.name: getattr(self, f.name) for f in fields(TraderView)}
        return TraderView(**{**values, "limits": self.limits.to_domain()})


class TraderConfigView(Command):
    """A trader's settings, as read and as written (create or update)."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=100)
    kind: TraderKind
    base_currency: Literal["CNY", "HKD"] = "CNY"
    limits: LimitsView = Field(default_factory=LimitsView)
    settings: dict[str, Any] = Field(default_factory=dict)
    model_profile: str | None = Field(None, max_length=100)
    running: Flag = True

    @classmethod
    def of(cls, c: TraderConfig) -> TraderConfigView:
        return cls.model_construct(
            id=c.id,
            name=c.name,
            kind=c.kind,
            base_currency=c.base_currency,  # type: ignore[arg-type] # the engine's are CNY/HKD
            limits=LimitsView.of(c.limits),
            settings=dict(c.settings),
            model_profile=c.model_profile,
            running=c.running,
        )

    def to_domain(self) -> TraderConfig:
        return TraderConfig(
            id=self.id,
            name=self.name,
            kind=self.kind,
            base_currency=self.base_currency,
            limits=self.limits.to_domain(),
            settings=dict(self.settings),
            model_profile=self.model_profile,
            running=self.running,
        )


class SaveTraderCommand(Command):
    trader: TraderConfigView
    cash: dict[Literal["CNY", "HKD"], Amount] | None = Field(
        None, description="opening cash of a new trader, per currency"
    )


class PositionItemView(View):
    trader_id: str
    symbol: str
    name: str
    currency: str
    quantity: int
    sellable: int
    avg_cost: Decimal | None
    last: Decimal | None
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    name_en: str = ""

    @classmethod
    def of(cls, p: PositionView) -> PositionItemView:
        return cls.model_construct(**{f.name: getattr(p, f.name) for f in fields(PositionView)})

    def to_domain(self) -> PositionView:
        return PositionView(**{f.name: getattr(self, f.name) for f in fields(PositionView)})


class EquityPointView(View):
    day: date
    equity: Decimal


# --- AI traders ----------------------------------------------------------------------------


class DecisionView(View):
    id: str
    trader_id: str
    cycle: int
    time: AwareDatetime
    model: str
    system_prompt: str
    user_prompt: str
    raw_reply: str
    reasoning: str
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    results: list[dict[str, Any]] = Field(default_factory=list)
    latency_ms: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    success: bool = True
    error: str | None = None

    @classmethod
    def of(cls, r: Any) -> DecisionView:
        return cls.model_construct(
            **{name: _param(getattr(r, name)) for name in cls.model_fields}
            | {"time": r.time, "cost": r.cost}
        )

    def to_domain(self) -> Any:
        from deepalpha.engine.ai.records import DecisionRecord  # noqa: PLC0415

        values = {name: getattr(self, name) for name in type(self).model_fields}
        return DecisionRecord(
            **{
                **values,
                "decisions": [dict(d) for d in self.decisions],
                "results": [dict(r) for r in self.results],
            }
        )


class ProposalItemView(View):
    id: str
    trader_id: str
    symbol: str
    side: Side
    quantity: int
    order_type: str
    limit_price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    created: AwareDatetime
    expires_at: AwareDatetime
    record_id: str
    reasoning: str = ""
    seconds_left: float | None = Field(
        None, description="real seconds left to answer; null while the market is paused"
    )

    @classmethod
    def of(cls, p: ProposalView) -> ProposalItemView:
        values = {f.name: getattr(p, f.name) for f in fields(ProposalView)}
        return cls.model_construct(**{**values, "side": Side(p.side)})

    def to_domain(self) -> ProposalView:
        values = {f.name: getattr(self, f.name) for f in fields(ProposalView)}
        return ProposalView(**{**values, "side": str(self.side)})


class ApproveCommand(Command):
    quantity: Quantity | None = None


class AiStatusView(View):
    trader_id: str
    model_label: str
    interval_minutes: int
    cycle: int
    last_cycle: AwareDatetime | None
    running: bool
    safe_mode: bool
    failures: int
    skipped: int
    error: str | None = None

    @classmethod
    def of(cls, s: AiStatus) -> AiStatusView:
        return cls.model_construct(**{f.name: getattr(s, f.name) for f in fields(AiStatus)})

    def to_domain(self) -> AiStatus:
        return AiStatus(**{f.name: getattr(self, f.name) for f in fields(AiStatus)})


class ModelProfileView(View):
    profile: str
    label: str


class TradingDefaultsView(View):
    models: list[ModelProfileView]
    ai_interval_minutes: int
    fat_finger_percent: Decimal


# --- backtests, backups, preferences -------------------------------------------------------


class BacktestCostView(View):
    profile: str
    model: str
    cycles: int
    cached: int
    calls: int
    cost: Decimal
    currency: str
    priced: bool

    @classmethod
    def of(cls, c: BacktestCost) -> BacktestCostView:
        return cls.model_construct(**{f.name: getattr(c, f.name) for f in fields(BacktestCost)})

    def to_domain(self) -> BacktestCost:
        return BacktestCost(**{f.name: getattr(self, f.name) for f in fields(BacktestCost)})


class BackupItemView(View):
    """A backup, referred to by its id (the archive's name), never by a server path."""

    id: str
    created_at: AwareDatetime | None
    size: int
    label: str | None
    schema_revision: str | None
    error: str | None = None


class CreateBackupCommand(Command):
    label: str | None = Field(None, max_length=80, pattern=r"^[\w .-]*$")


class PreferenceView(Command):
    value: Any = None


class SpeedCommand(Command):
    # Below 0.1 the simulated market would take hours of real time for a minute of its own.
    speed: Annotated[float, BeforeValidator(_number)] = Field(
        ge=0.1, le=10_000, description="simulated seconds per real second"
    )


class PauseCommand(Command):
    paused: Flag


class ProblemsView(View):
    problems: list[str]


T = TypeVar("T")


class Page(View, Generic[T]):
    """One page of a list; ``next`` is the cursor of the following page (None: the last)."""

    items: list[T]
    next: str | None = None
