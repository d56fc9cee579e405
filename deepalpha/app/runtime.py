"""The running engine on the embedded default: the store, the simulated market, the broker, the
demo traders and the writer that persists them. The TUI and ``--serve`` both run this."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepalpha.app import paths
from deepalpha.app.first_settings import FirstFrameSettings, first_frame_settings, use_settings_file
from deepalpha.app.lock import DataDirLock, FileLock, database_lock
from deepalpha.app.lost_database import check_not_lost, check_room, mark_created
from deepalpha.engine import clock as clocks
from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import Clock
from deepalpha.engine.events import (
    AccountState,
    Event,
    MarketStateEvent,
    NotificationEvent,
    QuoteEvent,
    StorageEvent,
)
from deepalpha.engine.feeds.simulator import SimulatedMarket, default_start
from deepalpha.engine.ids import sequential
from deepalpha.engine.markets.calendar import calendar_for
from deepalpha.engine.markets.instruments import Instrument, InstrumentRegistry
from deepalpha.engine.markets.rules import PriceLimitRules
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.minute_bars import MinuteBars
from deepalpha.engine.orders import Order, OrderRequest
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.i18n import Msg, language
from deepalpha.storage.errors import DatabaseError
from deepalpha.storage.peek import Peek, local_database, peek

# The first frame must not wait for SQLAlchemy, Alembic, httpx, numpy or TA-Lib (most of a
# second together): what needs them is imported where it is used, once the screen is up.
if TYPE_CHECKING:
    from deepalpha.app.settings import Settings
    from deepalpha.engine.ai.cycle import AiTrader
    from deepalpha.engine.ai.records import DecisionRecord
    from deepalpha.engine.broker import PaperBroker
    from deepalpha.engine.persistence import EventWriter, StoredState
    from deepalpha.engine.strategy_trader import StrategyTrader
    from deepalpha.storage.database import DatabaseTarget
    from deepalpha.storage.ownership import EngineLease
    from deepalpha.storage.repository import SqlStore

log = logging.getLogger("deepalpha")

AI_KINDS = (TraderKind.AI, TraderKind.HYBRID)

ZERO = Decimal(0)
LIVE_START = time(9, 29, 45)  # 15 s of the opening call auction, then continuous trading
DEMO_CASH = {"CNY": Decimal(1_000_000), "HKD": Decimal(1_000_000)}
YOU = "you"
SMA_BOT = "sma-bot"
AI_DEMO = "ai-demo"
SMA_SYMBOLS = ["600519.SH", "300750.SZ", "688981.SH", "00700.HK", "09988.HK", "01810.HK"]
AI_SYMBOLS = [
    "600519.SH",
    "300750.SZ",
    "688981.SH",
    "002594.SZ",
    "300760.SZ",
    "00700.HK",
    "09988.HK",
    "01810.HK",
]
AI_POLL_SECONDS = 0.25  # how often the AI scheduler looks at the market clock
BASELINE_PROFILE = "baseline"  # ai_models.BASELINE, without importing the model clients
LEASE_CHECK_SECONDS = 5.0  # how often the Postgres lock's connection is checked

# How often (real seconds) the simulated market's state is saved besides at a clean stop: a
# crash loses at most this much of the market's walk, never an order or a fill.
MARKET_SAVE_SECONDS = 5.0
SPEED_PREFERENCE = "simulator_speed"


def _warm_up_talib() -> None:
    from deepalpha.engine.ai.context import warm_up  # noqa: PLC0415

    warm_up()


def _store_opener() -> tuple[
    Callable[[str | None, Path], Coroutine[Any, Any, SqlStore]], Callable[[], Settings]
]:
    """Import the storage stack (SQLAlchemy, Alembic) and the settings (pydantic): called in a
    thread, off the screen's loop."""
    from deepalpha.app.settings import load_settings  # noqa: PLC0415
    from deepalpha.storage.connect import open_store  # noqa: PLC0415

    return open_store, load_settings


def demo_traders(ai_interval_minutes: int = 5) -> list[TraderConfig]:
    return [
        TraderConfig(YOU, "You", TraderKind.DISCRETIONARY, limits=RiskLimits(max_open_orders=200)),
        TraderConfig(
            SMA_BOT,
            "SMA Bot",
            TraderKind.STRATEGY,
            limits=RiskLimits(
                max_order_value=Decimal(300_000), max_open_orders=20, max_daily_loss=Decimal(50_000)
            ),
            settings={
                "strategy": "sma_cross",
                "fast": 5,
                "slow": 20,
                "qty": 200,
                "bar_seconds": 300,
                "symbols": SMA_SYMBOLS,
            },
        ),
        TraderConfig(
            AI_DEMO,
            "AI Demo",
            TraderKind.AI,
            limits=RiskLimits(
                max_order_value=Decimal(300_000), max_open_orders=20, max_daily_loss=Decimal(50_000)
            ),
            # Its first cycle is at the first continuous moment, on warmed-up indicators, so
            # a first run shows it deciding at once; the baseline needs no key, no network.
            settings={"symbols": AI_SYMBOLS, "interval_minutes": ai_interval_minutes},
            model_profile=BASELINE_PROFILE,
        ),
    ]


@dataclass(slots=True)
class RuntimeOptions:
    data_dir: Path
    database_url: str | None = None
    seed: int | None = None
    speed: float | None = None
    demo: bool = True
    auto_backup: bool | None = None
    tick_interval: float = 0.1
    # A larger simulated universe (symbol → (base price, daily turnover in millions)) with the
    # instruments it needs; benchmarks use it to load the screens with hundreds of symbols.
    universe: dict[str, tuple[str, int]] | None = None
    extra_instruments: list[Instrument] | None = None
    step_seconds: int = 3
    # Where the simulated market starts; it wins over resuming where the last run stopped.
    start_at: datetime | None = None
    frozen_at: datetime | None = None  # play to this moment, then hold still
    # The machine's clock (default: ``system_clock()``); only a fresh start and the backups'
    # timing read it. Tests pin it.
    clock: Clock | None = None


@dataclass(slots=True)
class Runtime:
    options: RuntimeOptions
    clock: Clock = field(init=False)
    settings: Settings = field(init=False)  # loaded with the engine (pydantic)
    first_settings: FirstFrameSettings = field(init=False)  # what the market is built from
    store: SqlStore = field(init=False)
    bus: EventBus = field(init=False)
    broker: PaperBroker = field(init=False)
    market: SimulatedMarket = field(init=False)
    writer: EventWriter = field(init=False)
    traders: dict[str, TraderConfig] = field(default_factory=dict)
    strategy_traders: dict[str, StrategyTrader] = field(default_factory=dict)
    ai_traders: dict[str, AiTrader] = field(default_factory=dict)
    ai_errors: dict[str, str] = field(default_factory=dict)  # why a trader's model is not open
    minute_bars: MinuteBars = field(init=False)
    instruments: InstrumentRegistry = field(init=False)
    _cycles: set[asyncio.Task[None]] = field(default_factory=set)
    _talib: asyncio.Task[None] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _lock: DataDirLock | None = None
    _db_lock: FileLock | None = None  # beside a SQLite file outside the data directory
    _lease: EngineLease | None = None  # the Postgres database's advisory lock
    # Called with the bus as soon as it exists, before recovery and the market publish.
    on_bus: list[Callable[[EventBus], None]] = field(default_factory=list)
    started: bool = False
    unsaved: int = 0  # changes a stop could not write (a full disk): the exit says so
    _market_saved: datetime | None = None
    _speed: float = 60.0
    # What ``prepare`` read and built for the first frame (see there).
    prepared: bool | None = None
    peeked: Peek | None = None
    _start_day: date | None = None
    # While the engine starts, a twin of the market plays on for the screen (see ``preroll``).
    _display: SimulatedMarket | None = None
    _display_task: asyncio.Task[None] | None = None
    on_preroll: list[Callable[[], None]] = field(default_factory=list)  # the twin's quotes moved

    @property
    def data_dir(self) -> Path:
        return self.options.data_dir

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    @property
    def screen_market(self) -> SimulatedMarket:
        """The market the screens show: the engine's, or its twin while the engine starts."""
        return self._display or self.market

    def prepare(self) -> bool:
        """The part of ``start`` the first frame needs, in milliseconds and without the
        database engine: the data directory's lock, the settings, the bus and the simulated
        market, built from the few rows ``storage.peek`` reads (the saved market, the last
        days played). True when the market is ready to show now; False when it has to wait for
        the stored state (a frozen market for pictures, a database URL, a schema to migrate),
        which ``start`` loads as before. ``start`` calls it when nobody did."""
        if self.prepared is not None:
            return self.prepared
        opts = self.options
        self.clock = opts.clock or clocks.system_clock()
        try:
            opts.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only mount, a file in the way, no permission
            raise DatabaseError(
                f"cannot create the data directory {opts.data_dir}: {exc.strerror}; "
                "choose another with --data-dir"
            ) from None
        self._lock = DataDirLock(opts.data_dir)
        self._lock.acquire()
        try:
            use_settings_file(paths.settings_file(opts.data_dir))
            # The full Settings (pydantic) loads with the engine; the first frame needs these.
            self.first_settings = first_frame_settings()
            self.instruments = InstrumentRegistry.default()
            for inst in opts.extra_instruments or ():
                self.instruments.add(inst)
            self.bus = EventBus()
            # Bars before anything publishes quotes; the simulator's warm-up history is read
            # lazily per symbol, from whichever market object is current by then.
            self.minute_bars = MinuteBars(history=lambda s: self.market.history(s))  # noqa: PLW0108
            self.bus.on(QuoteEvent, self.minute_bars.on_quote)
            for hook in self.on_bus:
                hook(self.bus)
            path = local_database(opts.database_url, opts.data_dir)
            if opts.frozen_at is None and path is not None:
                self.peeked = peek(path)
            if self.peeked is not None:
                self._speed = self._start_speed(self.peeked.preferences.get(SPEED_PREFERENCE))
                self.market = self._build_market(self.peeked.market, self._peeked_days())
        except BaseException:
            self._release_lock()
            raise
        self.prepared = self.peeked is not None
        return self.prepared

    def _peeked_days(self) -> dict[Market, date]:
        assert self.peeked is not None
        known = {m.value: m for m in Market}
        return {known[m]: d for m, d in self.peeked.last_days.items() if m in known}

    def preroll(self) -> None:
        """Show the market live while the engine starts: a twin built from the same state (the
        simulator is deterministic) plays on for the screen, and when the engine is ready the
        market catches up to it step by step with the broker attached, so every order, fill
        and bar is as if the engine had been there from the first moment."""
        if not self.prepared or self.started or self._display is not None:
            return
        assert self.peeked is not None
        twin = self._build_market(self.peeked.market, self._peeked_days(), quiet=True)
        for _ in twin.iter_to(twin.now()):  # the first moment: prices for the first frame
            pass
        self._display = twin
        self._display_task = asyncio.create_task(self._play_display(twin), name="market-preroll")

    async def _play_display(self, twin: SimulatedMarket) -> None:
        twin.clock.jump(twin.now())
        while True:
            await asyncio.sleep(self.options.tick_interval)
            moved = False
            for result in twin.iter_to(twin.clock.now()):
                moved = moved or bool(result.quotes)
            if moved:
                for hook in self.on_preroll:
                    hook()

    async def _stop_display(self) -> SimulatedMarket | None:
        task, self._display_task = self._display_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        twin, self._display = self._display, None
        return twin

    def _release_lock(self) -> None:
        for lock in (self._db_lock, self._lock):
            if lock is not None:
                lock.release()
        self._db_lock = self._lock = None

    async def _release_lease(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()

    async def _own_database(self, target: DatabaseTarget) -> None:
        """One engine per database, whatever data directory each names."""
        if target.path is None:
            from deepalpha.storage.ownership import acquire_lease  # noqa: PLC0415

            self._lease = await acquire_lease(target)
            return
        lock = database_lock(target.path)
        if self._lock is None or lock.path.resolve() != self._lock.path.resolve():
            lock.acquire()
            self._db_lock = lock

    async def start(self) -> None:
        self.prepare()
        try:
            await self._start()
        except BaseException:
            await self._stop_display()
            await self._release_lease()
            self._release_lock()
            raise

    async def _start(self) -> None:
        from deepalpha.engine.broker import BrokerSettings, PaperBroker  # noqa: PLC0415
        from deepalpha.engine.persistence import EventWriter, catch_up, restore  # noqa: PLC0415

        opts = self.options
        # TA-Lib takes ~0.6 s to import: start it in a thread now, so that by the time the
        # market opens the first AI cycle need not wait for it (nor block the event loop).
        self._talib = asyncio.create_task(asyncio.to_thread(_warm_up_talib), name="talib-import")
        # SQLAlchemy and Alembic take most of a second to import: in a thread, so the screen
        # (and the market twin on it) stays live meanwhile.
        open_store, settings = await asyncio.to_thread(_store_opener)
        self.settings = settings()
        if FirstFrameSettings.of(self.settings) != self.first_settings:
            self.first_settings = FirstFrameSettings.of(self.settings)  # changed meanwhile
            self.prepared = False
        from deepalpha.storage.database import resolve  # noqa: PLC0415 - imported by now

        target = resolve(opts.database_url, opts.data_dir)
        await self._own_database(target)
        database = target.path
        check_not_lost(database, opts.data_dir)  # before the store would make a schema afresh
        check_room(database)
        self.store = await open_store(opts.database_url, opts.data_dir)
        if not self.prepared:
            self._speed = self._start_speed(await self.store.get_preference(SPEED_PREFERENCE))
        state = await self.store.load_state()
        if not state.traders and opts.demo:
            state = await self._create_demo()
        mark_created(database, opts.data_dir)
        if not self.prepared or not self._same_market(state):
            self.market = self._build_market(state.market, state.last_days)
        ids: dict[str, Any] = {}
        if opts.frozen_at is not None:
            # A frozen market is for screenshots and snapshot tests on a fresh data directory:
            # ids that do not change between runs keep those images stable.
            ids = {"id_factory": sequential("O"), "fill_id_factory": sequential("F")}
        self.broker = PaperBroker(
            self.instruments,
            self.market,
            self.bus,
            BrokerSettings(
                fees=self.settings.fees.schedule(), limit_rules=self.settings.rules.limits()
            ),
            **ids,
        )
        self.writer = EventWriter(self.bus, self.store)
        self.bus.on(StorageEvent, self._on_storage)
        self.writer.start()  # before the catch-up, so what it expires is persisted
        restore(self.broker, state)
        for pf in (b.portfolio for b in self.broker.traders.values()):
            pf.fx = {"CNY": Decimal(1), "HKD": self.settings.market.hkd_cny}
        self.traders = {t.id: t for t in state.traders}
        start_day = self._start_day or self.market.now().date()
        expired = catch_up(
            self.broker, {m: calendar_for(m) for m in Market}, {m: start_day for m in Market}
        )
        for market, orders in expired.items():
            log.info(
                "expired %d day orders of %s left open when DeepAlpha stopped",
                len(orders),
                market.value,
            )
        await self.writer.flush()
        for trader in state.traders:
            if trader.kind is TraderKind.STRATEGY:
                self._attach_strategy(trader)
        open_records = {
            p["record_id"] for st in state.ai_states.values() for p in st.get("proposals", [])
        }
        records = await self.store.decisions_by_id(open_records)
        for trader in state.traders:
            if trader.kind in AI_KINDS:
                self._attach_ai(trader, state.ai_states.get(trader.id), records)
                runner = self.ai_traders.get(trader.id)
                if runner is not None and trader.kind is TraderKind.HYBRID:
                    recent = await self.store.decisions(trader.id, limit=200)
                    if runner.reconcile(recent):
                        log.info("%s: proposals left open by an unclean stop expired", trader.id)
        # The screen's twin stops here and the market plays every step it showed, now with
        # the broker and the traders listening; nothing awaits in between, so the screen sees
        # one market hand over to the other at the same moment.
        twin = await self._stop_display()
        if twin is not None:
            self.market.drive_to(twin.now(), self.broker, self.bus)
        if opts.frozen_at is not None:
            # Play the simulated market up to a fixed moment and stop there: the screens then
            # show the same state every time (snapshot tests, screenshots).
            self.market.drive_to(opts.frozen_at, self.broker, self.bus)
            await self.writer.flush()
        else:
            self._tasks.append(
                asyncio.create_task(
                    self.market.run(self.broker, self.bus, tick_interval=opts.tick_interval),
                    name="simulated-market",
                )
            )
        self._tasks.append(asyncio.create_task(self._kill_switch_loop(), name="kill-switch"))
        self._tasks.append(asyncio.create_task(self._save_market_loop(), name="save-market"))
        if opts.frozen_at is None:
            # A frozen market holds still for pictures: nothing decides on it.
            self._tasks.append(asyncio.create_task(self._ai_loop(), name="ai-traders"))
        auto = (
            opts.auto_backup if opts.auto_backup is not None else self.settings.storage.auto_backup
        )
        if auto and self.store.target is not None and self.store.target.is_sqlite:
            self._tasks.append(asyncio.create_task(self._auto_backup_loop(), name="auto-backup"))
        self._tasks.append(asyncio.create_task(self._clean_leftovers(), name="clean-leftovers"))
        if self._lease is not None:
            self._tasks.append(asyncio.create_task(self._watch_lease(), name="watch-lease"))
        self.started = True
        log.info(
            "engine ready: %d traders, %d open orders, database %s, %s at %s",
            len(self.traders),
            sum(1 for _ in self.broker.open_orders()),
            self.store.target.display if self.store.target else "?",
            self.market.label.lower(),
            self.market.now().isoformat(timespec="seconds"),
        )

    def _same_market(self, state: StoredState) -> bool:
        """Whether the stored state is what ``prepare`` built the market from (it is, unless
        something changed the database in between)."""
        assert self.peeked is not None
        return state.market == self.peeked.market and state.last_days == self._peeked_days()

    def _build_market(
        self,
        snapshot: Mapping[str, Any] | None,
        last_days: Mapping[Market, date],
        *,
        quiet: bool = False,
    ) -> SimulatedMarket:
        """The simulated market where it starts: the explicit start, else the saved snapshot's
        moment, else (see ``_start_moment``) a fresh start."""
        opts = self.options
        start = self._start_moment(snapshot, last_days)
        market = self._market(start)
        if snapshot is not None:
            try:
                market.restore(snapshot, at=opts.start_at)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                # An unreadable snapshot must not stop trading: the market starts afresh.
                if not quiet:
                    log.warning(
                        "the saved simulated market could not be read (%s); it restarts", exc
                    )
                market = self._market(self._start_moment(None, last_days))
            else:
                if not quiet:
                    log.info(
                        "simulated market continues from %s",
                        SimulatedMarket.snapshot_time(snapshot).isoformat(timespec="seconds"),
                    )
        self._start_day = market.now().date()
        return market

    def _market(self, start: datetime) -> SimulatedMarket:
        opts, first = self.options, self.first_settings
        return SimulatedMarket(
            seed=opts.seed if opts.seed is not None else first.simulator_seed,
            speed=self._speed,
            start=start,
            instruments=self.instruments,
            base_prices=opts.universe,
            step_seconds=opts.step_seconds,
            limit_rules=PriceLimitRules(st_ten_percent_from=first.st_ten_percent_from),
        )

    def _start_moment(
        self, snapshot: Mapping[str, Any] | None, last_days: Mapping[Market, date]
    ) -> datetime:
        """Where the simulated market starts: the explicit start; else where the last run
        stopped (its snapshot); else, on a data directory from before snapshots, the day
        after the last one played; else now. A fresh start before the continuous session
        starts moments before it, so the screen is live at once rather than after the
        auctions."""
        if self.options.start_at is not None:
            return self.options.start_at
        if snapshot is not None:
            return SimulatedMarket.snapshot_time(snapshot)
        start = default_start(self.clock.now())
        if last_days:
            last = max(last_days.values())
            if start.date() <= last:
                nxt = calendar_for(Market.CN).next_trading_day(last)
                start = datetime.combine(nxt, time(0, 0), SHANGHAI)
        local = start.astimezone(SHANGHAI)
        if local.time() < LIVE_START:
            return datetime.combine(local.date(), LIVE_START, SHANGHAI)
        return start

    def _start_speed(self, chosen: Any) -> float:
        """``--speed``, else the speed last chosen in the workstation (``chosen``: the stored
        preference), else the setting."""
        if self.options.speed is not None:
            return self.options.speed
        if isinstance(chosen, int | float) and not isinstance(chosen, bool) and chosen > 0:
            return float(chosen)
        return self.first_settings.simulator_speed

    async def set_speed(self, speed: float) -> None:
        """Run the simulated market at ``speed`` simulated seconds per real second from now
        on (and on later starts, unless ``--speed`` says otherwise)."""
        self.market.set_speed(speed)
        self._speed = speed
        await self.store.set_preference(SPEED_PREFERENCE, speed)

    def pause(self, paused: bool) -> None:
        """Hold the simulated market still (or let it run again); nothing trades meanwhile."""
        for market in {self.market, self.screen_market}:  # the twin too, while it shows
            if paused:
                market.pause()
            else:
                market.resume()

    def save_market(self) -> None:
        """Hand the simulated market's state to the writer (a restart continues from it)."""
        if self.market.now() != self._market_saved:
            self._market_saved = self.market.now()
            self.bus.publish(MarketStateEvent(self.market.snapshot()))

    async def persist_market(self) -> None:
        """Save the simulated market now and wait until it is written (before a backup, so
        the archive holds the market as it stands)."""
        self.save_market()
        await self.writer.flush()

    async def _save_market_loop(self) -> None:
        while True:
            await asyncio.sleep(MARKET_SAVE_SECONDS)
            self.save_market()

    async def _create_demo(self) -> StoredState:
        traders = demo_traders(self.settings.ai.interval_minutes)
        await self.store.create_traders(
            traders,
            [
                AccountState(t.id, currency, amount, ZERO, amount, ZERO, ZERO)
                for t in traders
                for currency, amount in DEMO_CASH.items()
            ],
        )
        await self.store.save_instruments(InstrumentRegistry.default())
        await self.store.audit("system", "first_run", None, {"traders": [t.id for t in traders]})
        log.info("first run: created demo traders %s", ", ".join(t.name for t in traders))
        return await self.store.load_state()

    def _attach_strategy(self, trader: TraderConfig) -> None:
        from deepalpha.engine.backtest.strategies import SmaCross  # noqa: PLC0415
        from deepalpha.engine.strategy_trader import StrategyTrader  # noqa: PLC0415

        s = trader.settings
        strategy = SmaCross(int(s.get("fast", 5)), int(s.get("slow", 20)), int(s.get("qty", 100)))
        runner = StrategyTrader(
            trader.id,
            strategy,
            list(s.get("symbols", SMA_SYMBOLS)),
            self.broker,
            bar_seconds=int(s.get("bar_seconds", 300)),
        )
        runner.running = trader.running
        runner.attach(self.bus)
        self.strategy_traders[trader.id] = runner

    def _attach_ai(
        self,
        trader: TraderConfig,
        state: Mapping[str, Any] | None = None,
        records: Sequence[DecisionRecord] = (),
    ) -> None:
        """Open the trader's model and schedule it; a model that cannot be opened (a missing
        key, an unknown profile) leaves the trader idle with the reason shown."""
        from deepalpha.app.ai_models import open_model, validation_settings  # noqa: PLC0415
        from deepalpha.engine.ai.baseline import BaselineModel  # noqa: PLC0415
        from deepalpha.engine.ai.client import ModelError  # noqa: PLC0415
        from deepalpha.engine.ai.cycle import AiTrader  # noqa: PLC0415

        ai = self.settings.ai
        s = trader.settings
        old = self.ai_traders.pop(trader.id, None)
        if old is not None and not isinstance(old.model, BaselineModel):
            self._spawn(old.model.aclose(), f"close-model-{trader.id}")
        try:
            model = open_model(trader.model_profile, ai)
        except ModelError as exc:
            self.ai_errors[trader.id] = exc.message
            log.warning("AI trader %s is idle: %s", trader.id, exc.message)
            self.bus.publish(NotificationEvent("warning", f"{trader.name}: {exc.message}"))
            return
        self.ai_errors.pop(trader.id, None)
        lang = s.get("lang") or self.settings.ui.language
        runner = AiTrader(
            trader.id,
            self.broker,
            model=model,
            symbols=list(s.get("symbols", AI_SYMBOLS)),
            lang=lang if lang in ("en", "zh") else language(),
            interval_minutes=int(s.get("interval_minutes", ai.interval_minutes)),
            settings=validation_settings(ai),
            mode="hybrid" if trader.kind is TraderKind.HYBRID else "ai",
            bars_source=self.minute_bars.get,
            publish=self.bus.publish,
            clock=self.market,
            proposal_minutes=int(s.get("proposal_minutes", ai.proposal_minutes)),
            answer_seconds=ai.proposal_real_minutes * 60,
            max_prompt_tokens=ai.max_prompt_tokens,
        )
        if old is not None:
            runner.restore(old.snapshot(), old.open_records())
        elif state:
            runner.restore(state, records)
        self.ai_traders[trader.id] = runner

    def _on_quote_exits(self, event: QuoteEvent) -> None:
        """Stop-loss and take-profit are the engine's job, checked on every quote."""
        if self.broker.suspended:
            return  # nothing can be sold while the ledger cannot be written: no retry storm
        symbol = event.quote.symbol
        for runner in self.ai_traders.values():
            if symbol in runner.exits:
                runner.check_exits((event.quote,))

    async def _ai_loop(self) -> None:
        if self._talib is not None:
            # Shielded: stopping this loop must not cancel the import that stop() waits for.
            await asyncio.shield(self._talib)
        self.bus.on(QuoteEvent, self._on_quote_exits)
        while True:
            if self.broker.suspended:  # decisions wait while nothing can be written
                await asyncio.sleep(AI_POLL_SECONDS)
                continue
            now = self.market.now()
            phases = dict(self.market.phase)
            for trader_id, runner in list(self.ai_traders.items()):
                config = self.traders.get(trader_id)
                if config is None or not config.running:
                    continue
                if runner.expire(now):
                    await self.writer.flush()
                if runner.should_run(now, phases):
                    if runner.running:
                        await runner.tick(now, phases)  # counts the skipped slot
                    else:
                        self._spawn(self._ai_cycle(runner, now, phases), f"ai-{trader_id}")
            await asyncio.sleep(AI_POLL_SECONDS)

    async def _ai_cycle(
        self, runner: AiTrader, now: datetime, phases: Mapping[Market, Phase]
    ) -> None:
        try:
            await runner.tick(now, phases)
            await self.writer.flush()
        except Exception as exc:  # one trader's bug must not stop the others or the feed
            log.exception("AI trader %s: the decision cycle failed", runner.trader_id)
            self.bus.publish(
                NotificationEvent("error", f"{runner.trader_id}: decision cycle failed: {exc}")
            )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._cycles.add(task)
        task.add_done_callback(self._cycles.discard)

    async def _kill_switch_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.broker.check_kill_switches()

    def _on_storage(self, event: StorageEvent) -> None:
        """A ledger that cannot be written stops trading until it can: nothing is accepted or
        filled that could be lost."""
        if event.ok:
            self.broker.resume("storage")
            log.warning("trading resumes: the database can be written again")
        else:
            reason = Msg("store.suspended", error=event.message)
            self.broker.suspend("storage", reason)
            log.error("trading suspended: %s", reason)

    async def _watch_lease(self) -> None:
        """Losing the Postgres connection that holds the database means another engine may
        take it: stop trading for good (a restart takes the database again, or says who has
        it)."""
        while self._lease is not None and await self._lease.alive():
            await asyncio.sleep(LEASE_CHECK_SECONDS)
        message = Msg("store.lease_lost")
        self.broker.suspend("lease", message)
        log.critical(message)
        self.bus.publish(NotificationEvent("error", message))

    async def _clean_leftovers(self) -> None:
        """What a killed backup or restore left behind goes on the next start (off its path)."""
        from deepalpha.sync.backup import clean_leftovers  # noqa: PLC0415

        target = self.store.target
        db_dir = target.path.parent if target is not None and target.path is not None else None
        try:
            await asyncio.to_thread(clean_leftovers, self.data_dir, db_dir)
        except OSError as exc:
            log.warning("could not remove what an interrupted backup left behind: %s", exc)

    async def backup_now(self) -> Path | None:
        """Today's automatic backup if there is none yet (the market saved into it first),
        then the retention policy."""
        from deepalpha.sync.backup import auto_backup  # noqa: PLC0415

        storage = self.settings.storage
        return await auto_backup(
            self.data_dir,
            self.options.database_url,
            (storage.keep_daily, storage.keep_weekly),
            self.persist_market,
        )

    async def _auto_backup_loop(self) -> None:
        while True:
            try:
                made = await self.backup_now()
                if made is not None:
                    log.info("daily backup written: %s", made)
            except Exception as exc:  # a failed backup must never stop trading
                log.error("daily backup failed: %s", exc)
                self.bus.publish(NotificationEvent("error", f"daily backup failed: {exc}"))
            await asyncio.sleep(3600)

    # --- commands -----------------------------------------------------------------------
    async def place_order(self, req: OrderRequest) -> Order:
        """Place an order and return once it is durable (the acknowledgement)."""
        order = self.broker.submit(req)
        await self.writer.flush()
        return order

    async def cancel_order(self, order_id: str) -> Order:
        order = self.broker.cancel(order_id)
        await self.writer.flush()
        return order

    async def cancel_all(self, trader_id: str | None = None) -> list[Order]:
        orders = self.broker.cancel_all(trader_id)
        await self.writer.flush()
        return orders

    async def save_trader(
        self, trader: TraderConfig, cash: Mapping[str, Decimal] | None = None
    ) -> None:
        """Create a trader with its opening cash, or update an existing one's settings."""
        book = self.broker.traders.get(trader.id)
        if book is None:
            accounts = [
                AccountState(trader.id, currency, amount, ZERO, amount, ZERO, ZERO)
                for currency, amount in (cash or {}).items()
            ]
            await self.store.create_traders([trader], accounts)
            book = self.broker.add_trader(trader.id, dict(cash or {}), limits=trader.limits)
            book.portfolio.base_currency = trader.base_currency
            book.portfolio.fx = {"CNY": Decimal(1), "HKD": self.settings.market.hkd_cny}
        else:
            await self.store.save_trader(trader)
            book.risk.limits = trader.limits
        self.traders[trader.id] = trader
        if trader.kind is TraderKind.STRATEGY:
            runner = self.strategy_traders.get(trader.id)
            if runner is None:
                self._attach_strategy(trader)
            else:
                runner.running = trader.running
        elif trader.kind in AI_KINDS:
            self._attach_ai(trader)  # a changed model, symbols or interval takes effect now
        await self.store.audit("user", "save_trader", trader.id, {"name": trader.name})

    def ai_trader_of_proposal(self, proposal_id: str) -> AiTrader:
        for runner in self.ai_traders.values():
            if any(p.id == proposal_id for p in runner.proposals):
                return runner
        raise KeyError(proposal_id)

    async def approve_proposal(self, proposal_id: str, quantity: int | None = None) -> Order:
        runner = self.ai_trader_of_proposal(proposal_id)
        order = runner.approve(proposal_id, quantity)
        await self.writer.flush()
        await self.store.audit(
            "user", "approve_proposal", runner.trader_id, {"proposal": proposal_id}
        )
        return order

    async def reject_proposal(self, proposal_id: str) -> None:
        runner = self.ai_trader_of_proposal(proposal_id)
        runner.reject(proposal_id)
        await self.writer.flush()
        await self.store.audit(
            "user", "reject_proposal", runner.trader_id, {"proposal": proposal_id}
        )

    async def run_ai_cycle(self, trader_id: str) -> DecisionRecord:
        runner = self.ai_traders.get(trader_id)
        if runner is None:
            reason = self.ai_errors.get(trader_id, "it is not an AI or hybrid trader")
            raise KeyError(f"{trader_id}: {reason}")
        record = await runner.run_cycle(self.market.now())
        await self.writer.flush()
        return record

    def publish(self, event: Event) -> None:
        self.bus.publish(event)

    async def stop(self) -> None:
        """Stop cleanly: the feed stops, open work is persisted, the database is closed."""
        await self._stop_display()
        tasks = [*self._tasks, *self._cycles]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._cycles.clear()
        if self._talib is not None:
            await self._talib  # a thread cannot be cancelled; it is nearly done anyway
            self._talib = None
        for runner in self.ai_traders.values():
            from deepalpha.engine.ai.baseline import BaselineModel  # noqa: PLC0415

            if not isinstance(runner.model, BaselineModel):
                await runner.model.aclose()
        if self.started:
            self.save_market()
            self.unsaved = await self.writer.stop()
            await self.store.close()
            self.started = False
            if self.unsaved:
                log.error(
                    "engine stopped with %d changes unsaved (%s); what was acknowledged before "
                    "is in the database",
                    self.unsaved,
                    self.writer.last_error,
                )
            else:
                log.info("engine stopped; everything persisted")
        await self._release_lease()
        self._release_lock()
