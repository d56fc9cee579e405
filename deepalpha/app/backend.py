"""The one way screens reach the engine: commands go in, events come out.

``LocalBackend`` runs the engine in this process; ``RemoteBackend`` speaks the same interface to
a ``deepalpha serve`` over HTTP/WebSocket and passes the same contract tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepalpha.engine.bus import Subscription
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.fees import FeeBreakdown
from deepalpha.engine.markets.instruments import Instrument
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Fill, Order, OrderRequest
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig

if TYPE_CHECKING:  # the AI modules are not needed to start the workstation
    from deepalpha.engine.ai.records import DecisionRecord


@dataclass(frozen=True, slots=True)
class MarketStatus:
    label: str  # e.g. "SIMULATED MARKET"
    simulated: bool
    time: datetime
    phases: Mapping[Market, Phase]
    feed_alive: bool = True
    database: str = ""
    database_ok: bool = True
    speed: float = 1.0  # simulated seconds per real second
    paused: bool = False
    # Attached to a server: how the connection stands (a Msg, said by the status bar); empty
    # for the engine in this process.
    connection: str = ""
    connection_ok: bool = True


@dataclass(frozen=True, slots=True)
class TraderView:
    id: str
    name: str
    kind: str
    running: bool
    halted: str | None
    model_label: str
    equity: Decimal  # in CNY
    deposits: Decimal
    day_pnl: Decimal
    cash: Mapping[str, Decimal]
    positions: int
    open_orders: int
    trades: int  # closing (sell) fills since the start: the win rate's round trips
    fees: Decimal
    limits: RiskLimits
    settings: Mapping[str, Any] = field(default_factory=dict)
    win_rate: Decimal | None = None  # share of closed round trips with a profit, 0..1
    max_drawdown: Decimal | None = None  # deepest fall from a peak of equity, 0..1
    safe_mode: bool = False  # an AI trader whose model failed 3 times in a row
    open_proposals: int = 0  # hybrid proposals waiting for a person

    @property
    def pnl(self) -> Decimal:
        return self.equity - self.deposits

    @property
    def return_pct(self) -> Decimal:
        return (self.equity / self.deposits - 1) * 100 if self.deposits else Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionView:
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

    def display_name(self, lang: str) -> str:
        return self.name if lang == "zh" or not self.name_en else self.name_en


@dataclass(frozen=True, slots=True)
class OrderPreview:
    """What an order would do, checked before it is sent (the ticket's estimate)."""

    ok: bool
    code: str | None
    message: str | None
    board_lot: int
    sellable: int | None
    limit_down: Decimal | None
    limit_up: Decimal | None
    tick: Decimal | None
    price: Decimal | None  # the limit, or the price a market order is estimated at
    amount: Decimal
    fees: FeeBreakdown
    currency: str

    @property
    def total(self) -> Decimal:
        return self.amount + self.fees.total


@dataclass(frozen=True, slots=True)
class BackupView:
    path: Path
    created_at: datetime | None
    size: int
    label: str | None
    schema_revision: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProposalView:
    """A hybrid trader's accepted decision, waiting for a person to approve or reject it."""

    id: str
    trader_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: int
    order_type: str
    limit_price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    created: datetime
    expires_at: datetime  # on the market clock
    record_id: str
    reasoning: str = ""
    # Real seconds left to answer (the later of the market clock's expiry at the current speed
    # and a person's real minimum); None while the market is paused (nothing expires then).
    seconds_left: float | None = None


@dataclass(frozen=True, slots=True)
class AiStatus:
    """Where an AI trader's decision loop stands."""

    trader_id: str
    model_label: str
    interval_minutes: int
    cycle: int
    last_cycle: datetime | None
    running: bool  # a cycle is in progress
    safe_mode: bool
    failures: int  # consecutive model failures
    skipped: int  # cycles skipped because the last one still ran
    error: str | None = None  # why the model could not be opened (e.g. a missing key)


@dataclass(frozen=True, slots=True)
class BacktestCost:
    """What an AI backtest would still pay its model (replies already cached are free)."""

    profile: str
    model: str
    cycles: int
    cached: int
    calls: int
    cost: Decimal
    currency: str
    priced: bool  # False: a paid endpoint missing from the price table; the cost is unknown


ProgressFn = Callable[[int, int], None]


class Backend(ABC):
    # --- lifecycle ---------------------------------------------------------------------
    async def open(self) -> None:
        """Get ready for the first frame (quotes, instruments, preferences) as fast as
        possible; :meth:`start` completes the start. By default it is the whole start."""
        await self.start()

    @abstractmethod
    async def start(self) -> None:
        """Start everything; once started (or while starting) a call waits and returns."""

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    def subscribe(self) -> Subscription:
        """Engine events (orders, fills, notifications, sessions, ...). Quotes are not sent
        one by one: screens read :meth:`quotes` on a timer."""

    # --- market -------------------------------------------------------------------------
    @abstractmethod
    def market_status(self) -> MarketStatus: ...

    @abstractmethod
    async def set_market_speed(self, speed: float) -> None:
        """Simulated seconds per real second from now on (a simulated market only)."""

    @abstractmethod
    def pause_market(self, paused: bool) -> None:
        """Hold the simulated market still, or let it run again."""

    @abstractmethod
    def instruments(self) -> Sequence[Instrument]: ...

    @abstractmethod
    def search(self, text: str, limit: int = 10) -> list[Instrument]:
        """Instruments matching a code, an alias, or a Chinese or English name."""

    @abstractmethod
    def quotes(self) -> Mapping[str, Quote]:
        """The latest quote per symbol (a live view; do not mutate)."""

    @abstractmethod
    def quotes_version(self) -> int:
        """Grows whenever a quote changes: a cheap way to know whether to repaint."""

    @abstractmethod
    def bars(self, symbol: str) -> Sequence[Bar]:
        """Recent one-minute bars of a symbol, oldest first (for the K-line chart)."""

    # --- traders and accounts -----------------------------------------------------------
    @abstractmethod
    def traders(self) -> list[TraderView]: ...

    @abstractmethod
    def positions(self, trader_id: str | None = None) -> list[PositionView]: ...

    @abstractmethod
    def orders(self) -> Sequence[Order]:
        """Every order known, oldest first (this run's and the recent history)."""

    @abstractmethod
    def fills(self, limit: int = 100) -> list[Fill]:
        """Recent fills, newest first."""

    @abstractmethod
    def equity_curves(self) -> dict[str, list[tuple[date, Decimal]]]: ...

    # --- AI traders ---------------------------------------------------------------------
    @abstractmethod
    def decisions(self, trader_id: str | None = None, limit: int = 200) -> list[DecisionRecord]:
        """Decision records, newest first (this run's and the stored history); a record
        whose proposals were answered is shown with its latest results."""

    @abstractmethod
    def proposals(self, trader_id: str | None = None) -> list[ProposalView]:
        """Open hybrid proposals, oldest first."""

    @abstractmethod
    def ai_status(self, trader_id: str) -> AiStatus | None:
        """``None`` for a trader that is not ai/hybrid."""

    @abstractmethod
    async def approve_proposal(self, proposal_id: str, quantity: int | None = None) -> Order:
        """Place a proposal (with another quantity if given). Raises ``KeyError`` when it was
        already answered or expired."""

    @abstractmethod
    async def reject_proposal(self, proposal_id: str) -> None: ...

    @abstractmethod
    def model_profiles(self) -> list[tuple[str, str]]:
        """(profile, label) of every model a trader can use, the baseline first."""

    @abstractmethod
    def ai_interval_minutes(self) -> int:
        """The default decision interval of a new AI trader."""

    @abstractmethod
    def fat_finger_percent(self) -> Decimal:
        """How far (in %) a limit price may be from the last price before the ticket asks
        to confirm it; 0 never asks (``[ui] fat_finger_percent``)."""

    @abstractmethod
    async def run_ai_cycle(self, trader_id: str) -> DecisionRecord:
        """Decide now, outside the schedule (the person asked)."""

    # --- commands -----------------------------------------------------------------------
    @abstractmethod
    def preview_order(self, req: OrderRequest) -> OrderPreview: ...

    @abstractmethod
    async def place_order(self, req: OrderRequest) -> Order:
        """Place an order; returns once it is durable (acknowledged) or rejected."""

    @abstractmethod
    async def cancel_order(self, order_id: str) -> Order: ...

    @abstractmethod
    async def cancel_all(self, trader_id: str | None = None) -> list[Order]: ...

    @abstractmethod
    async def set_trader_running(self, trader_id: str, running: bool) -> None: ...

    @abstractmethod
    async def save_trader(
        self, trader: TraderConfig, cash: Mapping[str, Decimal] | None = None
    ) -> None:
        """Create a trader (with opening cash) or update its settings and limits."""

    @abstractmethod
    def trader_config(self, trader_id: str) -> TraderConfig: ...

    # --- backtests, backups, preferences ------------------------------------------------
    @abstractmethod
    async def run_backtest(
        self,
        data: Sequence[Path],
        cash: Decimal,
        *,
        strategy: str | None = None,
        params: Mapping[str, str] | None = None,
        orders_file: Path | None = None,
        ai_model: str | None = None,
        ai_interval: int | None = None,
        progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        """Run a backtest off the UI thread; returns the JSON report. With ``ai_model`` (a
        profile name) an AI trader trades the data; a paid model is run only after
        :meth:`estimate_backtest` was shown to the person."""

    @abstractmethod
    async def estimate_backtest(
        self,
        data: Sequence[Path],
        cash: Decimal,
        *,
        ai_model: str,
        ai_interval: int | None = None,
        progress: ProgressFn | None = None,
    ) -> BacktestCost | None:
        """What an AI backtest would cost; ``None`` when its model is free (the baseline, a
        local server)."""

    @abstractmethod
    async def list_backups(self) -> list[BackupView]: ...

    @abstractmethod
    async def create_backup(self, label: str | None = None) -> Path: ...

    @abstractmethod
    async def verify_backup(self, path: Path) -> list[str]:
        """Problems found (empty: the archive is sound)."""

    @abstractmethod
    async def restore_backup(self, path: Path) -> None:
        """Restore and carry on from the restored state (the engine restarts on it)."""

    @abstractmethod
    async def get_preference(self, key: str, default: Any = None) -> Any: ...

    @abstractmethod
    async def set_preference(self, key: str, value: Any) -> None: ...

    @property
    @abstractmethod
    def data_dir(self) -> Path: ...
