"""``LocalBackend``: the engine in this process, on the embedded default (or a database URL)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepalpha.app.backend import (
    AiStatus,
    Backend,
    BacktestCost,
    BackupView,
    MarketStatus,
    OrderPreview,
    PositionView,
    ProgressFn,
    ProposalView,
    TraderView,
)
from deepalpha.app.instrument_search import InstrumentSearch
from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.engine.bus import EventBus, Subscription
from deepalpha.engine.events import (
    DecisionEvent,
    EquityEvent,
    FillEvent,
    NotificationEvent,
    OrderEvent,
    QuoteEvent,
    SessionEvent,
    TraderHaltedEvent,
)
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.fees import NO_FEES, order_fees
from deepalpha.engine.markets.instruments import Instrument
from deepalpha.engine.markets.rules import tick_size
from deepalpha.engine.markets.symbols import SymbolError
from deepalpha.engine.orders import Fill, Order, OrderRequest, OrderType, Side
from deepalpha.engine.performance import closes_round_trip, is_win, max_drawdown, win_rate
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.i18n import Msg, language

if TYPE_CHECKING:
    from deepalpha.app.backtest_job import AiOptions
    from deepalpha.engine.ai.records import DecisionRecord

ZERO = Decimal(0)
ORDER_HISTORY = 200_000  # orders loaded back on start for the blotter
DECISIONS_KEPT = 500  # records held for the Decisions screen (each carries its prompts)
UI_EVENTS = (
    OrderEvent,
    FillEvent,
    NotificationEvent,
    SessionEvent,
    TraderHaltedEvent,
    EquityEvent,
    DecisionEvent,
)


class LocalBackend(Backend):
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.runtime = Runtime(options)
        self._orders: list[Order] = []
        self._order_index: dict[str, int] = {}
        self._fills: deque[Fill] = deque(maxlen=1000)
        self._curves: dict[str, list[tuple[date, Decimal]]] = {}
        self._quotes_version = 0
        self._search = InstrumentSearch(())
        self._decisions: dict[str, DecisionRecord] = {}  # oldest first
        self._trips: dict[str, list[int]] = {}  # trader → [closing fills, profitable ones]
        # Screens subscribe here; it outlives a runtime restarted by a restore.
        self.ui_bus = EventBus()
        self._starting: asyncio.Future[None] | None = None
        self.ready = False  # the whole engine has started (``open`` shows the market sooner)
        # Other listeners of the engine's bus (the server's metrics): on this runtime and on
        # the one a restore starts.
        self.bus_hooks: list[Callable[[EventBus], None]] = []

    # --- lifecycle ---------------------------------------------------------------------
    def _attach(self, bus: EventBus) -> None:
        """Listen from the moment the runtime's bus exists: what happens while it starts
        (recovery, a frozen market's morning) reaches the screens too."""
        bus.on(QuoteEvent, self._on_quote)
        bus.on(OrderEvent, self._on_order)
        bus.on(FillEvent, self._on_fill)
        bus.on(EquityEvent, self._on_equity)
        bus.on(DecisionEvent, self._on_decision)
        for event_type in UI_EVENTS:
            bus.on(event_type, self.ui_bus.publish)

    def _hook(self) -> None:
        rt = self.runtime
        if self._attach not in rt.on_bus:
            rt.on_bus.append(self._attach)
            rt.on_preroll.append(self._on_preroll)
            rt.on_bus.extend(self.bus_hooks)

    def add_bus_hook(self, hook: Callable[[EventBus], None]) -> None:
        """Listen to the engine's bus: now if it runs, and on every runtime after."""
        self.bus_hooks.append(hook)
        rt = self.runtime
        if self._attach in rt.on_bus:
            rt.on_bus.append(hook)
        bus = getattr(rt, "bus", None)
        if bus is not None:
            hook(bus)

    async def open(self) -> None:
        """What the first frame needs, without the database engine: the market at its first
        moment, playing on for the screen, and the stored preferences (``Runtime.prepare``).
        The rest comes with ``start``; when the market cannot be shown before it, this is
        ``start``."""
        self._hook()
        if self.runtime.prepare():
            self._build_search()
            self.runtime.preroll()
        else:
            await self.start()

    async def start(self) -> None:
        """Start the whole engine; a second call (after ``open``, from a command waiting for
        the engine) waits for the same start."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        self._hook()
        await self.runtime.start()
        store = self.runtime.store
        # History first (oldest first), then what arrived while starting, newest state wins.
        early = list(self._orders)
        self._orders, self._order_index = [], {}
        for order in reversed(await store.orders(limit=ORDER_HISTORY)):
            self._remember(order)
        for order in early:
            self._remember(order)
        for order in self.runtime.broker.orders.values():
            self._remember(order.snapshot())
        known = {f.id for f in self._fills}
        stored = [
            f for f in await store.fills(limit=self._fills.maxlen or 1000) if f.id not in known
        ]
        self._fills.extend(stored)  # both newest first: live fills, then older stored ones
        for trader_id in self.runtime.traders:
            self._curves[trader_id] = await store.equity_curve(trader_id)
        live = dict(self._decisions)
        self._decisions = {r.id: r for r in reversed(await store.decisions(limit=DECISIONS_KEPT))}
        self._decisions.update(live)
        await self.runtime.writer.flush()  # the counts below then include this run's fills
        self._trips = {t: [n, w] for t, (n, w) in (await store.round_trips()).items()}
        self._build_search()
        self.ready = True

    async def stop(self) -> None:
        starting = self._starting
        if starting is not None and not starting.done():
            # Quitting while the engine starts: let it finish, then stop it cleanly.
            with contextlib.suppress(Exception):
                await starting
        await self.runtime.stop()

    def subscribe(self) -> Subscription:
        return self.ui_bus.subscribe(*UI_EVENTS)

    @property
    def data_dir(self) -> Path:
        return self.options.data_dir

    # --- bus handlers (inline on the engine's path: keep them cheap) ---------------------
    def _on_quote(self, event: QuoteEvent) -> None:
        self._quotes_version += 1

    def _on_preroll(self) -> None:
        self._quotes_version += 1

    def _remember(self, order: Order) -> None:
        i = self._order_index.get(order.id)
        if i is None:
            self._order_index[order.id] = len(self._orders)
            self._orders.append(order)
        else:
            self._orders[i] = order

    def _on_order(self, event: OrderEvent) -> None:
        self._remember(event.order)

    def _on_fill(self, event: FillEvent) -> None:
        self._fills.appendleft(event.fill)
        self._remember(event.order)
        fill = event.fill
        if closes_round_trip(fill):
            trips = self._trips.setdefault(fill.trader_id, [0, 0])
            trips[0] += 1
            trips[1] += is_win(fill)

    def _on_decision(self, event: DecisionEvent) -> None:
        record = event.record
        if record.id not in self._decisions and len(self._decisions) >= DECISIONS_KEPT:
            del self._decisions[next(iter(self._decisions))]
        self._decisions[record.id] = record

    def _on_equity(self, event: EquityEvent) -> None:
        curve = self._curves.setdefault(event.trader_id, [])
        if curve and curve[-1][0] == event.day:
            curve[-1] = (event.day, event.equity)
        else:
            curve.append((event.day, event.equity))

    # --- market -------------------------------------------------------------------------
    def market_status(self) -> MarketStatus:
        rt = self.runtime
        market = rt.screen_market
        feed_alive = all(not t.done() for t in rt.tasks if t.get_name() == "simulated-market")
        target = rt.store.target if self.ready else None
        return MarketStatus(
            label=market.label,
            simulated=True,
            time=market.now(),
            phases=dict(market.phase),
            feed_alive=feed_alive,
            database=target.display if target else "",
            database_ok=rt.writer.last_error is None if self.ready else True,
            speed=market.speed,
            paused=market.paused,
        )

    async def set_market_speed(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"the speed must be a positive number, not {speed}")
        await self.start()  # the choice is stored
        await self.runtime.set_speed(speed)

    def pause_market(self, paused: bool) -> None:
        self.runtime.pause(paused)

    def instruments(self) -> Sequence[Instrument]:
        return self.runtime.screen_market.universe()

    def _build_search(self) -> None:
        instruments = self.runtime.instruments
        self._search = InstrumentSearch(instruments, find=instruments.find)

    def search(self, text: str, limit: int = 10) -> list[Instrument]:
        return self._search.search(text, limit)

    def quotes(self) -> Mapping[str, Quote]:
        return self.runtime.screen_market.quotes

    def quotes_version(self) -> int:
        return self._quotes_version

    def bars(self, symbol: str) -> Sequence[Bar]:
        return self.runtime.minute_bars.get(symbol)

    # --- traders and accounts -----------------------------------------------------------
    def traders(self) -> list[TraderView]:
        rt = self.runtime
        out: list[TraderView] = []
        if not self.ready:
            return out
        for trader in rt.traders.values():
            book = rt.broker.traders.get(trader.id)
            if book is None:
                continue
            pf = book.portfolio
            runner = rt.strategy_traders.get(trader.id)
            running = runner.running if runner is not None else trader.running
            ai = rt.ai_traders.get(trader.id)
            closed, won = self._trips.get(trader.id, (0, 0))
            out.append(
                TraderView(
                    id=trader.id,
                    name=trader.name,
                    kind=trader.kind.value,
                    running=running,
                    halted=book.risk.halted[1] if book.risk.halted else None,
                    model_label=self._model_label(trader),
                    equity=pf.equity(),
                    deposits=pf.deposits_total(),
                    day_pnl=pf.daily_pnl(),
                    cash={c: a.cash for c, a in pf.accounts.items()},
                    positions=len(pf.held()),
                    open_orders=book.open_orders,
                    trades=closed,
                    fees=pf.fees_total(),
                    limits=book.risk.limits,
                    settings=dict(trader.settings),
                    win_rate=win_rate(won, closed),
                    max_drawdown=max_drawdown(
                        [*(e for _, e in self._curves.get(trader.id, ())), pf.equity()],
                        start=pf.deposits_total(),
                    ),
                    safe_mode=ai.safe_mode if ai is not None else False,
                    open_proposals=len(ai.proposals) if ai is not None else 0,
                )
            )
        return out

    def _model_label(self, trader: TraderConfig) -> str:
        from deepalpha.app.ai_models import model_label  # noqa: PLC0415

        if trader.kind is TraderKind.STRATEGY:
            s = trader.settings
            return f"{s.get('strategy', 'strategy')} {s.get('fast', '')}/{s.get('slow', '')}"
        if trader.kind is TraderKind.DISCRETIONARY:
            return "—"
        return model_label(trader.model_profile, self.runtime.settings.ai)

    def positions(self, trader_id: str | None = None) -> list[PositionView]:
        rt = self.runtime
        out: list[PositionView] = []
        if not self.ready:
            return out
        for tid, book in rt.broker.traders.items():
            if trader_id is not None and tid != trader_id:
                continue
            for pos in book.portfolio.held():
                inst = rt.broker.instruments.find(pos.symbol)
                out.append(
                    PositionView(
                        tid,
                        pos.symbol,
                        inst.name if inst else pos.symbol,
                        pos.currency,
                        pos.quantity,
                        pos.available,
                        pos.avg_cost,
                        pos.last_price,
                        pos.value,
                        pos.unrealized_pnl,
                        pos.realized_pnl,
                        inst.name_en if inst else "",
                    )
                )
        return out

    def orders(self) -> Sequence[Order]:
        return self._orders

    def fills(self, limit: int = 100) -> list[Fill]:
        return list(self._fills)[:limit]

    def equity_curves(self) -> dict[str, list[tuple[date, Decimal]]]:
        rt = self.runtime
        out: dict[str, list[tuple[date, Decimal]]] = {}
        if not self.ready:
            return out
        today = rt.market.now().date()
        for trader_id, curve in self._curves.items():
            book = rt.broker.traders.get(trader_id)
            points = list(curve)
            if book is not None:  # the live point: equity now
                live = (today, book.portfolio.equity())
                if points and points[-1][0] == today:
                    points[-1] = live
                else:
                    points.append(live)
            out[trader_id] = points
        return out

    def trader_config(self, trader_id: str) -> TraderConfig:
        return self.runtime.traders[trader_id]

    # --- AI traders ---------------------------------------------------------------------
    def decisions(self, trader_id: str | None = None, limit: int = 200) -> list[DecisionRecord]:
        out: list[DecisionRecord] = []
        for record in reversed(self._decisions.values()):
            if trader_id is None or record.trader_id == trader_id:
                out.append(record)
                if len(out) >= limit:
                    break
        return out

    def proposals(self, trader_id: str | None = None) -> list[ProposalView]:
        out = []
        market = self.runtime.market
        real_now = time.monotonic()
        for tid, runner in self.runtime.ai_traders.items():
            if trader_id is not None and tid != trader_id:
                continue
            for p in runner.proposals:
                record = self._decisions.get(p.record_id)
                reasoning = ""
                if record is not None and p.index < len(record.decisions):
                    reasoning = str(record.decisions[p.index].get("reasoning") or "")
                r = p.request
                left: float | None = None
                if not market.paused:
                    on_market = (p.expires_at - market.now()).total_seconds() / market.speed
                    left = max(0.0, on_market, p.answer_by - real_now)
                out.append(
                    ProposalView(
                        p.id,
                        tid,
                        r.symbol,
                        r.side.value,
                        r.quantity,
                        r.type.value,
                        r.limit_price,
                        p.stop_loss,
                        p.take_profit,
                        p.created,
                        p.expires_at,
                        p.record_id,
                        reasoning,
                        left,
                    )
                )
        return sorted(out, key=lambda v: v.created)

    def ai_status(self, trader_id: str) -> AiStatus | None:
        from deepalpha.app.ai_models import model_label  # noqa: PLC0415

        rt = self.runtime
        trader = rt.traders.get(trader_id)
        if trader is None or trader.kind not in (TraderKind.AI, TraderKind.HYBRID):
            return None
        label = model_label(trader.model_profile, rt.settings.ai)
        runner = rt.ai_traders.get(trader_id)
        if runner is None:
            interval = int(trader.settings.get("interval_minutes", rt.settings.ai.interval_minutes))
            return AiStatus(
                trader_id, label, interval, 0, None, False, False, 0, 0, rt.ai_errors.get(trader_id)
            )
        return AiStatus(
            trader_id,
            label,
            int(runner.interval.total_seconds() // 60),
            runner.cycle,
            runner.last_cycle,
            runner.running,
            runner.safe_mode,
            runner.failures,
            runner.skipped,
        )

    async def approve_proposal(self, proposal_id: str, quantity: int | None = None) -> Order:
        await self.start()  # commands wait for the engine (``open`` shows the market sooner)
        return await self.runtime.approve_proposal(proposal_id, quantity)

    async def reject_proposal(self, proposal_id: str) -> None:
        await self.start()  # commands wait for the engine (``open`` shows the market sooner)
        await self.runtime.reject_proposal(proposal_id)

    def model_profiles(self) -> list[tuple[str, str]]:
        from deepalpha.app.ai_models import model_label, profile_names  # noqa: PLC0415

        ai = self.runtime.settings.ai
        return [(p, model_label(p, ai)) for p in profile_names(ai)]

    def ai_interval_minutes(self) -> int:
        return self.runtime.settings.ai.interval_minutes

    def fat_finger_percent(self) -> Decimal:
        return self.runtime.settings.ui.fat_finger_percent

    async def run_ai_cycle(self, trader_id: str) -> DecisionRecord:
        await self.start()  # commands wait for the engine (``open`` shows the market sooner)
        return await self.runtime.run_ai_cycle(trader_id)

    # --- commands -----------------------------------------------------------------------
    def preview_order(self, req: OrderRequest) -> OrderPreview:
        broker = self.runtime.broker
        try:
            inst = broker.instruments.get(req.symbol)
        except (SymbolError, LookupError) as exc:
            return OrderPreview(
                False,
                "UNKNOWN_SYMBOL",
                exc.args[0] if exc.args else str(exc),  # keep the Msg for translation
                0,
                None,
                None,
                None,
                None,
                None,
                ZERO,
                NO_FEES,
                "CNY",
            )
        st = broker.state(inst.symbol)
        pf = broker.portfolio(req.trader_id) if req.trader_id in broker.traders else None
        pos = pf.positions.get(inst.symbol) if pf else None
        sellable = pos.available if pos else 0
        day = broker.day[inst.market] or self.runtime.market.now().date()
        if req.type is OrderType.LIMIT and req.limit_price is not None:
            price: Decimal | None = req.limit_price
        else:
            touch = st.ask if req.side is Side.BUY else st.bid
            price = touch if touch is not None else st.last
        amount = price * req.quantity if price is not None and req.quantity > 0 else ZERO
        fees = order_fees(inst.market, req.side is Side.SELL, amount, day, broker.settings.fees)
        problem = broker.check(req)
        return OrderPreview(
            ok=problem is None,
            code=problem[0].value if problem else None,
            message=problem[1] if problem else None,
            board_lot=inst.board_lot,
            sellable=sellable if req.side is Side.SELL else None,
            limit_down=st.limit_down,
            limit_up=st.limit_up,
            tick=tick_size(inst, price, day) if price is not None else None,
            price=price,
            amount=amount,
            fees=fees,
            currency=inst.currency,
        )

    async def place_order(self, req: OrderRequest) -> Order:
        await self.start()  # commands wait for the engine (``open`` shows the market sooner)
        order = await self.runtime.place_order(req)
        return order.snapshot()

    async def cancel_order(self, order_id: str) -> Order:
        await self.start()  # commands wait for the engine (``open`` shows the market sooner)
        return (await self.runtime.cancel_order(order_id)).snapshot()

    async def cancel_all(self, trader_id: str | None = None) -> list[Order]:
        await self.start()  # commands wait for the engine (``open`` shows the market sooner)
        return [o.snapshot() for o in await self.runtime.cancel_all(trader_id)]

    async def set_trader_running(self, trader_id: str, running: bool) -> None:
        await self.start()  # commands wait for the engine (``open`` shows the market sooner)
        rt = self.runtime
        trader = rt.traders[trader_id]
        trader.running = running
        runner = rt.strategy_traders.get(trader_id)
        if runner is not None:
            runner.running = running
        book = rt.broker.traders[trader_id]
        if running:
            book.risk.enable()
            await rt.store.clear_halt(trader_id)
        await rt.store.save_trader(trader)

    async def save_trader(
        self, trader: TraderConfig, cash: Mapping[str, Decimal] | None = None
    ) -> None:
        await self.start()
        await self.runtime.save_trader(trader, cash)

    # --- backtests, backups, preferences ------------------------------------------------
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
        from deepalpha.app.backtest_job import run_backtest_job  # noqa: PLC0415

        settings = self.runtime.settings
        return await asyncio.to_thread(
            run_backtest_job,
            settings,
            list(data),
            cash,
            strategy,
            dict(params or {}),
            orders_file,
            progress,
            ai=_ai_options(ai_model, ai_interval),
        )

    async def estimate_backtest(
        self,
        data: Sequence[Path],
        cash: Decimal,
        *,
        ai_model: str,
        ai_interval: int | None = None,
        progress: ProgressFn | None = None,
    ) -> BacktestCost | None:
        from deepalpha.app.backtest_job import estimate, prepare  # noqa: PLC0415

        settings = self.runtime.settings
        options = _ai_options(ai_model, ai_interval)

        def work() -> BacktestCost | None:
            prepared = prepare(settings, list(data), cash, None, {}, None, ai=options)
            found = estimate(prepared, progress)
            if found is None:
                return None
            return BacktestCost(
                found.profile,
                found.model,
                found.cycles,
                found.cached,
                found.calls,
                found.cost,
                found.currency,
                found.priced,
            )

        return await asyncio.to_thread(work)

    async def list_backups(self) -> list[BackupView]:
        from deepalpha.sync.backup import list_backups  # noqa: PLC0415

        found = await asyncio.to_thread(list_backups, self.data_dir)
        return [
            BackupView(
                b.path,
                b.created_at,
                b.size,
                b.label,
                (b.manifest or {}).get("schema_revision"),
                b.error,
            )
            for b in found
        ]

    async def create_backup(self, label: str | None = None) -> Path:
        await self.start()  # commands wait for the engine (``open`` shows the market sooner)
        from deepalpha.sync.backup import create_backup  # noqa: PLC0415

        await self.runtime.persist_market()
        return await asyncio.to_thread(
            create_backup, self.data_dir, self.options.database_url, None, label
        )

    async def verify_backup(self, path: Path) -> list[str]:
        from deepalpha.sync.backup import verify_backup  # noqa: PLC0415

        result = await asyncio.to_thread(verify_backup, path)
        return list(result.problems)

    async def restore_backup(self, path: Path) -> None:
        from deepalpha.sync.backup import restore_backup, verify_backup  # noqa: PLC0415

        result = await asyncio.to_thread(verify_backup, path)
        if not result.ok:
            from deepalpha.sync.backup import BackupError  # noqa: PLC0415

            raise BackupError(f"{path}: " + "; ".join(result.problems))
        await self.start()
        await self.runtime.stop()
        try:
            await asyncio.to_thread(
                restore_backup, path, self.data_dir, database_url=self.options.database_url
            )
        finally:
            # Carry on, on the restored state (or the untouched one if the restore refused).
            self.runtime = Runtime(self.options)
            self._starting, self.ready = None, False
            self._orders, self._order_index = [], {}
            self._fills.clear()
            self._curves = {}
            self._decisions, self._trips = {}, {}
            await self.start()
        self.ui_bus.publish(
            NotificationEvent("information", Msg("backup.restored", path=path.name))
        )

    async def get_preference(self, key: str, default: Any = None) -> Any:
        peeked = self.runtime.peeked
        if not self.ready and peeked is not None:
            return peeked.preferences.get(key, default)  # the first frame's, read by ``open``
        await self.start()
        return await self.runtime.store.get_preference(key, default)

    async def set_preference(self, key: str, value: Any) -> None:
        peeked = self.runtime.peeked
        if not self.ready and peeked is not None:
            peeked.preferences[key] = value  # read back as written while the engine starts
        await self.start()
        await self.runtime.store.set_preference(key, value)


def _ai_options(model: str | None, interval: int | None) -> AiOptions | None:
    """The AI trader of a backtest: a profile by name, prompts in the user's language."""
    from deepalpha.app.backtest_job import AiOptions  # noqa: PLC0415 - only for backtests

    if model is None:
        return None
    return AiOptions(model=model, interval_minutes=interval, lang=language())


__all__ = ["LocalBackend"]
