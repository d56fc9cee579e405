"""``RemoteBackend``: the workstation on a ``deepalpha serve`` elsewhere, over its API.

Screens read on timers and expect an answer at once, so every read is served from a read model
kept here: the WebSocket stream keeps it current event by event (quotes in batches; orders,
fills, decisions, positions, proposals, sessions, notifications), and a refresher reads what
the stream does not carry (the market's status, the traders' figures, AI loops) twice a second.
The engine's own types come back from the wire models (``views``), so a screen cannot tell this
backend from ``LocalBackend``; engine events are published again on a local bus for it.

Commands go over REST and return once the server answered; the parts of the read model a
command changes are read again before it returns, so what a screen reads next includes it. A
command while the connection is down is refused with ``RemoteError("disconnected")``, never
queued. The stream reconnects by itself with a growing pause; it resumes from the last event's
number so that no order or fill event is lost (after a restart of the server, from the new
server's first event), or reads the lists again when the server says it is too far behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from deepalpha.app import paths
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
from deepalpha.app.remote_preview import Known, estimate, refused
from deepalpha.app.remote_session import (
    API,
    TIMEOUT,
    RemoteError,
    Tokens,
    base_url,
    disconnected,
    error_of,
    renew,
    unreachable,
    where,
)
from deepalpha.app.views import (
    AiStatusView,
    BackupItemView,
    BarView,
    DecisionView,
    FillView,
    InstrumentView,
    MarketStatusView,
    MessageView,
    OrderCommand,
    OrderPreviewView,
    OrderView,
    PositionItemView,
    ProposalItemView,
    QuoteView,
    SaveTraderCommand,
    TraderConfigView,
    TraderSummaryView,
    TradingDefaultsView,
    to_msg,
)
from deepalpha.engine.bus import EventBus, Subscription
from deepalpha.engine.events import (
    AccountState,
    DecisionEvent,
    EquityEvent,
    FillEvent,
    NotificationEvent,
    OrderEvent,
    PositionState,
    SessionEvent,
    TraderHaltedEvent,
)
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.instruments import Instrument, UnknownInstrument, a_share
from deepalpha.engine.markets.sessions import MARKET_TZ, Phase
from deepalpha.engine.markets.symbols import Market, SymbolError, normalize
from deepalpha.engine.orders import Fill, Order, OrderRequest, OrderStatus
from deepalpha.engine.orders import RejectCode as R
from deepalpha.engine.traders import TraderConfig
from deepalpha.i18n import Msg

if TYPE_CHECKING:
    from deepalpha.engine.ai.records import DecisionRecord

log = logging.getLogger("deepalpha.remote")

ZERO = Decimal(0)
ORDER_HISTORY = 20_000  # orders read at the start for the blotter (newest first, in pages)
FILLS_KEPT = 1000
DECISIONS_KEPT = 500
REFRESH_SECONDS = 0.5  # the market's status, traders, positions, proposals, AI loops
SLOW_EVERY = 10  # refreshes between readings of equity curves and trader settings
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0  # seconds between reconnection attempts
RENEW_BEFORE = 60.0  # seconds before the access token expires that it is renewed
PREVIEW_FRESH, PREVIEW_ASK = 1.5, 0.8  # a server preview is used this long, asked again after
BARS_FRESH = 1.0
EXTRAPOLATE_MAX = 2.0  # real seconds the market clock is run on between status readings
EVENT_CHANNELS = (
    "orders",
    "fills",
    "positions",
    "decisions",
    "proposals",
    "notifications",
    "sessions",
    "traders",
)
UI_EVENTS = (
    OrderEvent,
    FillEvent,
    NotificationEvent,
    SessionEvent,
    TraderHaltedEvent,
    EquityEvent,
    DecisionEvent,
)
AI_KINDS = ("ai", "hybrid")
NOT_HERE = "backtests run locally with 'deepalpha backtest'"


def _final(order: Order) -> bool:
    return not order.status.is_open and order.status is not OrderStatus.PENDING


def _older(new: Order, old: Order) -> bool:
    """Whether ``new`` is an earlier state of ``old`` (a late or replayed event, a list read
    while the order moved on): the newer state is kept."""
    if _final(old) and not _final(new):
        return True
    if new.filled_quantity < old.filled_quantity:
        return True
    return bool(new.updated_at and old.updated_at and new.updated_at < old.updated_at)


class RemoteBackend(Backend):
    def __init__(
        self,
        url: str,
        tokens: Tokens,
        *,
        data_dir: Path | None = None,
        on_tokens: Callable[[Tokens], None] | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        renew_after: float | None = None,
    ) -> None:
        """``tokens`` from :func:`remote_session.sign_in` (or ``renew``); ``on_tokens`` is told
        each renewed pair (to keep the refresh token); ``renew_after`` (seconds) renews sooner
        than a minute before the access token expires. ``data_dir`` is this machine's (its
        settings file); the server's data stays on the server."""
        self.url = base_url(url)
        self._tokens = tokens
        self._tokens_at = time.monotonic()
        self._on_tokens = on_tokens
        self._refresh_seconds = refresh_seconds
        self._renew_after = renew_after
        self._data_dir = data_dir or paths.data_dir()
        self.ui_bus = EventBus()
        self._http: httpx.AsyncClient | None = None
        self._socket: ClientConnection | None = None
        self._starting: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Future[None]] = set()
        self._lock = asyncio.Lock()  # a read and its writing-down are not interleaved
        self._renewing = asyncio.Lock()
        # The connection.
        self._connected = False
        self._reason = "not connected yet"
        self._retry_at: float | None = None
        self._epoch: str | None = None
        self._seq = 0
        # The read model.
        self._instruments: list[Instrument] = []
        self._search = InstrumentSearch(())
        self._quotes: dict[str, Quote] = {}
        self._quotes_version = 0
        self._bars: dict[str, tuple[float, list[Bar]]] = {}
        self._bars_asked: set[str] = set()
        self._status: MarketStatus | None = None
        self._status_at = 0.0
        self._traders: list[TraderView] = []
        self._configs: dict[str, TraderConfig] = {}
        self._positions: dict[str, list[PositionView]] = {}
        self._orders: list[Order] = []
        self._order_index: dict[str, int] = {}
        self._fills: deque[Fill] = deque(maxlen=FILLS_KEPT)
        self._curves: dict[str, list[tuple[date, Decimal]]] = {}
        self._decisions: dict[str, DecisionRecord] = {}  # oldest first
        self._proposals: list[tuple[ProposalView, float]] = []  # with when it was read
        self._ai: dict[str, AiStatus] = {}
        self._models: list[tuple[str, str]] = []
        self._interval = 0
        self._fat_finger = ZERO
        self._prefs: dict[str, Any] = {}
        self._previews: dict[tuple[Any, ...], tuple[float, OrderPreview]] = {}
        self._signed_out: str | None = None  # why the server refused the refresh token
        self._asking: set[tuple[Any, ...]] = set()

    # --- the connection -----------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def connection_reason(self) -> str:
        """Why it is not connected (empty while it is)."""
        return "" if self._connected else self._reason

    @property
    def tokens(self) -> Tokens:
        return self._tokens

    def _connection_text(self) -> str:
        if self._signed_out is not None:
            return Msg("remote.signed_out")
        if self._connected:
            return Msg("remote.connected", where=where(self.url))
        if self._retry_at is not None:
            seconds = max(1, math.ceil(self._retry_at - time.monotonic()))
            return Msg("remote.retry_in", seconds=seconds)
        return Msg("remote.reconnecting")

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Read the catalogue and the lists, open the stream; a second call waits for the
        same start. Fails with ``RemoteError`` when the server cannot be reached."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        self._http = httpx.AsyncClient(base_url=self.url, timeout=TIMEOUT)
        self._set_auth()
        try:
            await asyncio.gather(self._load_instruments(), self._load_defaults())
            socket, welcome = await self._open_socket()
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise unreachable(self.url, exc) from None
        self._epoch = welcome.get("epoch")
        try:
            await self._load_lists()
            await self._subscribe(socket, int(welcome.get("seq", 0)))
        except BaseException as exc:
            await socket.close()
            if isinstance(exc, httpx.HTTPError):
                raise unreachable(self.url, exc) from None
            raise
        self._tasks = [
            asyncio.create_task(self._stream(socket), name="remote-stream"),
            asyncio.create_task(self._refresh_loop(), name="remote-refresh"),
            asyncio.create_task(self._renew_loop(), name="remote-renew"),
        ]

    async def stop(self) -> None:
        starting = self._starting
        if starting is not None and not starting.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._connected = False
        self._reason = "closed"
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close()
            self._socket = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def subscribe(self) -> Subscription:
        return self.ui_bus.subscribe(*UI_EVENTS)

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    # --- HTTP ----------------------------------------------------------------------------
    def _set_auth(self) -> None:
        if self._http is not None:
            self._http.headers["Authorization"] = f"Bearer {self._tokens.access}"

    async def _get(self, path: str, **params: Any) -> Any:
        """A read; a failure is the caller's to skip (the next refresh tries again)."""
        assert self._http is not None, "start() first"
        query = {k: v for k, v in params.items() if v is not None}
        response = await self._http.get(f"{API}{path}", params=query)
        if response.status_code == 401 and await self._renew_quietly():
            response = await self._http.get(f"{API}{path}", params=query)
        if response.status_code >= 400:
            raise error_of(response)
        return response.json()

    async def _command(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        errors: Mapping[str, Callable[[RemoteError], Exception]] | None = None,
    ) -> Any:
        """A command: refused at once while disconnected; the server's refusal as the exception
        ``LocalBackend`` raises for the same case (``errors``, by code) or a ``RemoteError``."""
        if self._signed_out is not None:
            raise RemoteError(
                "signed_out",
                f"signed out of {where(self.url)} ({self._signed_out}): the command was not "
                "sent; quit and run deepalpha connect again",
            )
        if not self._connected or self._http is None:
            raise disconnected(self.url)
        http = self._http
        try:
            response = await http.request(method, f"{API}{path}", json=body, params=params)
            if response.status_code == 401 and await self._renew_quietly():
                response = await http.request(method, f"{API}{path}", json=body, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise disconnected(self.url) from None
        except httpx.HTTPError as exc:
            raise RemoteError(
                "no_answer",
                f"{where(self.url)} did not answer ({type(exc).__name__}): the command may have "
                "been carried out; look before repeating it",
            ) from None
        if response.status_code >= 400:
            error = error_of(response)
            make = (errors or {}).get(error.code)
            raise make(error) if make is not None else error
        return response.json() if response.content else None

    # --- tokens --------------------------------------------------------------------------
    async def _renew_loop(self) -> None:
        while True:
            life = self._tokens.expires_in
            after = self._renew_after
            if after is None:
                after = max(life - RENEW_BEFORE, life / 2)
            await asyncio.sleep(max(0.0, self._tokens_at + after - time.monotonic()))
            try:
                await self._renew()
            except RemoteError as exc:
                log.warning("could not renew the session with %s: %s", where(self.url), exc)
                await asyncio.sleep(BACKOFF_MAX)

    async def _renew(self) -> None:
        async with self._renewing:
            tokens = await renew(self.url, self._tokens.refresh)
            self._tokens, self._tokens_at = tokens, time.monotonic()
            self._set_auth()
            socket = self._socket
            if socket is not None:
                with contextlib.suppress(ConnectionClosed):
                    await socket.send(json.dumps({"type": "auth", "token": tokens.access}))
            if self._on_tokens is not None:
                self._on_tokens(tokens)

    async def _renew_quietly(self) -> bool:
        """After a 401: a new access token if the refresh token still gives one. A refresh
        token the server refuses (401) signs this session out: retrying cannot help."""
        try:
            await self._renew()
        except RemoteError as exc:
            log.warning("signed out of %s: %s", where(self.url), exc)
            if exc.status == 401 and self._signed_out is None:
                self._signed_out = exc.message
                self._notify(
                    "error",
                    Msg("remote.signed_out_toast", where=where(self.url), reason=exc.message),
                )
            return False
        return True

    # --- the stream ----------------------------------------------------------------------
    def _ws_url(self) -> str:
        scheme = "wss" if self.url.startswith("https") else "ws"
        return f"{scheme}{self.url[self.url.index(':') :]}{API}/ws"

    async def _open_socket(self) -> tuple[ClientConnection, dict[str, Any]]:
        socket = await connect(
            self._ws_url(), open_timeout=TIMEOUT, max_size=2**24, close_timeout=2
        )
        try:
            await socket.send(json.dumps({"type": "auth", "token": self._tokens.access}))
            welcome = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
        except ConnectionClosed as exc:
            reason = exc.rcvd.reason if exc.rcvd is not None else "closed"
            code = exc.rcvd.code if exc.rcvd is not None else 0
            raise RemoteError("not_authenticated" if code == 4001 else "closed", reason) from None
        except BaseException:
            await socket.close()
            raise
        if not isinstance(welcome, dict) or welcome.get("type") != "welcome":
            await socket.close()
            raise RemoteError("not_deepalpha", f"{self.url} did not welcome the stream")
        return socket, welcome

    async def _subscribe(self, socket: ClientConnection, since: int) -> None:
        """Events from ``since`` on (replayed by the server), then the quotes (a snapshot and
        batches, never replayed: only the latest matters)."""
        self._seq = since
        await socket.send(
            json.dumps({"type": "subscribe", "channels": list(EVENT_CHANNELS), "since": since})
        )
        await socket.send(json.dumps({"type": "subscribe", "channels": ["quotes"]}))
        self._socket = socket
        self._connected, self._reason, self._retry_at = True, "", None

    async def _stream(self, socket: ClientConnection | None) -> None:
        delay = BACKOFF_FIRST
        while True:
            if socket is not None:
                why = await self._read(socket)
                self._socket = None
                self._connected, self._reason = False, why
                log.warning("disconnected from %s: %s", where(self.url), why)
                self._notify("warning", Msg("remote.lost", where=where(self.url), reason=why))
            self._retry_at = time.monotonic() + delay
            await asyncio.sleep(delay)
            self._retry_at = None
            try:
                socket = await self._reconnect()
            except RemoteError as exc:
                socket, self._reason = None, exc.message
                if exc.code == "not_authenticated":
                    await self._renew_quietly()
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                socket, self._reason = None, str(exc) or type(exc).__name__
            except httpx.HTTPError as exc:
                socket, self._reason = None, str(exc) or type(exc).__name__
            if self._signed_out is not None:
                self._retry_at = None
                return  # nothing to retry: the person must sign in again
            if socket is None:
                delay = min(delay * 2, BACKOFF_MAX)
            else:
                delay = BACKOFF_FIRST
                log.info("reconnected to %s", where(self.url))
                self._notify("information", Msg("remote.back", where=where(self.url)))

    async def _reconnect(self) -> ClientConnection:
        socket, welcome = await self._open_socket()
        try:
            epoch = welcome.get("epoch")
            if epoch != self._epoch:
                # Another server process (a restart): its events are numbered from 1, and
                # what the old one did after the socket closed is only in the lists.
                self._epoch = epoch
                await self._load_lists()
                since = 0
            else:
                since = self._seq
            await self._subscribe(socket, since)
        except BaseException:
            self._socket, self._connected = None, False
            await socket.close()
            raise
        await self._refresh()
        return socket

    async def _read(self, socket: ClientConnection) -> str:
        """Handle messages until the socket closes; why it closed."""
        try:
            async for raw in socket:
                try:
                    await self._on_message(json.loads(raw))
                except (ValidationError, ValueError, KeyError, TypeError) as exc:
                    log.warning("a stream message this client does not understand: %s", exc)
        except ConnectionClosed as exc:
            frame = exc.rcvd
            if frame is not None:
                return frame.reason or f"closed ({frame.code})"
            return "the connection was lost"
        except OSError as exc:
            return str(exc) or type(exc).__name__
        return "closed"

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "event":
            seq = int(message["seq"])
            if seq <= self._seq:
                return  # already had it
            self._seq = seq
            await self._on_event(message["channel"], message["event"], message["data"])
        elif kind == "snapshot":
            self._on_quotes(message["data"]["quotes"])
        elif kind == "resync":
            log.info("the server says this client is too far behind: reading the lists again")
            await self._load_lists()
            self._seq = max(self._seq, int(message.get("seq", 0)))
        elif kind == "error":
            log.warning("the stream refused a message: %s", message.get("message"))

    def _on_quotes(self, items: list[dict[str, Any]]) -> None:
        quotes = self._quotes
        for item in items:
            quote = QuoteView.model_validate(item).to_domain()
            quotes[quote.symbol] = quote
        self._quotes_version += len(items)

    async def _on_event(self, channel: str, event: str, data: Any) -> None:
        publish = self.ui_bus.publish
        if event == "quotes":
            self._on_quotes(data["quotes"])
        elif event == "order":
            order = OrderView.model_validate(data).to_domain()
            if self._remember(order):
                publish(OrderEvent(order))
        elif event == "fill":
            await self._on_fill(FillView.model_validate(data).to_domain())
        elif event == "positions":
            held = [PositionItemView.model_validate(p).to_domain() for p in data["positions"]]
            async with self._lock:
                self._positions[data["trader_id"]] = held
        elif event == "decision":
            record = DecisionView.model_validate(data).to_domain()
            async with self._lock:  # its AI loop's figures as of this record
                with contextlib.suppress(httpx.HTTPError, RemoteError):
                    await self._read_ai(record.trader_id)
            self._remember_decision(record)
            publish(DecisionEvent(record))
        elif event == "proposals":
            open_ = [ProposalItemView.model_validate(p).to_domain() for p in data["proposals"]]
            at = time.monotonic()
            async with self._lock:
                kept = [p for p in self._proposals if p[0].trader_id != data["trader_id"]]
                self._proposals = kept + [(p, at) for p in open_]
        elif event == "notification":
            message = to_msg(MessageView.model_validate(data["message"]))
            publish(NotificationEvent(str(data["severity"]), message))
        elif event == "halted":
            reason = to_msg(MessageView.model_validate(data["reason"]))
            async with self._lock:
                with contextlib.suppress(httpx.HTTPError, RemoteError):
                    await self._read_traders()
            publish(TraderHaltedEvent(data["trader_id"], data["code"], reason))
        elif event == "equity":
            equity = EquityEvent(
                data["trader_id"],
                date.fromisoformat(data["day"]),
                datetime.fromisoformat(data["time"]),
                Decimal(data["cash"]),
                Decimal(data["market_value"]),
                Decimal(data["equity"]),
            )
            curve = self._curves.setdefault(equity.trader_id, [])
            if curve and curve[-1][0] == equity.day:
                curve[-1] = (equity.day, equity.equity)
            else:
                curve.append((equity.day, equity.equity))
            publish(equity)
        elif event == "session":
            session = SessionEvent(
                Market(data["market"]),
                Phase(data["phase"]),
                datetime.fromisoformat(data["time"]),
                bool(data.get("simulated", False)),
            )
            if self._status is not None:
                phases = {**self._status.phases, session.market: session.phase}
                self._status = replace(self._status, phases=phases)
            publish(session)

    async def _on_fill(self, fill: Fill) -> None:
        if any(f.id == fill.id for f in self._fills):
            return
        # The account as the fill left it, before the fill is shown: whoever sees the fill
        # sees its position and the trader's figures too.
        async with self._lock:
            with contextlib.suppress(httpx.HTTPError, RemoteError):
                await asyncio.gather(self._read_traders(), self._read_positions(fill.trader_id))
        order = self._order(fill.order_id)
        if order is None:
            with contextlib.suppress(httpx.HTTPError, RemoteError, ValidationError):
                found = await self._get(f"/orders/{fill.order_id}")
                order = OrderView.model_validate(found).to_domain()
                self._remember(order)
        self._fills.appendleft(fill)
        if order is not None:
            self.ui_bus.publish(FillEvent(fill, order, *self._states(fill)))

    def _states(self, fill: Fill) -> tuple[PositionState, AccountState]:
        """The position and account a ``FillEvent`` carries, from the read model (the screens
        read neither; storage, which does, is on the server)."""
        pos = next(
            (p for p in self._positions.get(fill.trader_id, ()) if p.symbol == fill.symbol), None
        )
        view = next((t for t in self._traders if t.id == fill.trader_id), None)
        cash = view.cash.get(fill.currency, ZERO) if view is not None else ZERO
        position = PositionState(
            fill.trader_id,
            fill.symbol,
            fill.currency,
            pos.quantity if pos else 0,
            pos.sellable if pos else 0,
            (pos.avg_cost or ZERO) * pos.quantity if pos else ZERO,
            pos.realized_pnl if pos else ZERO,
            ZERO,
            pos.last if pos else None,
            None,
        )
        account = AccountState(fill.trader_id, fill.currency, cash, ZERO, ZERO, ZERO, ZERO)
        return position, account

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Work behind a synchronous read (a preview, bars, a pause), held until it ends."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _notify(self, severity: str, message: str) -> None:
        self.ui_bus.publish(NotificationEvent(severity, message))

    # --- reading the server --------------------------------------------------------------
    async def _load_instruments(self) -> None:
        found: list[Instrument] = []
        cursor: str | None = None
        while True:
            page = await self._get("/instruments", limit=1000, cursor=cursor)
            found += [InstrumentView.model_validate(i).to_domain() for i in page["items"]]
            cursor = page.get("next")
            if not cursor:
                break
        self._instruments = found
        self._search = InstrumentSearch(found)

    async def _load_defaults(self) -> None:
        defaults = TradingDefaultsView.model_validate(await self._get("/defaults"))
        self._models = [(m.profile, m.label) for m in defaults.models]
        self._interval = defaults.ai_interval_minutes
        self._fat_finger = defaults.fat_finger_percent

    async def _load_lists(self) -> None:
        """Everything: the histories (orders, fills, decisions) merged into what is known, and
        the figures the refresher keeps current."""
        orders: list[Order] = []
        cursor: str | None = None
        while len(orders) < ORDER_HISTORY:
            page = await self._get("/orders", limit=1000, cursor=cursor)
            orders += [OrderView.model_validate(o).to_domain() for o in page["items"]]
            cursor = page.get("next")
            if not cursor:
                break
        for order in reversed(orders):  # oldest first, as the blotter lists them
            self._remember(order)
        page = await self._get("/fills", limit=FILLS_KEPT)
        fills = {f.id: f for f in self._fills}
        for item in page["items"]:
            fill = FillView.model_validate(item).to_domain()
            fills.setdefault(fill.id, fill)
        newest = sorted(fills.values(), key=lambda f: f.time, reverse=True)
        self._fills = deque(newest[:FILLS_KEPT], maxlen=FILLS_KEPT)
        page = await self._get("/decisions", limit=DECISIONS_KEPT)
        records = dict(self._decisions)
        for item in page["items"]:
            record = DecisionView.model_validate(item).to_domain()
            records[record.id] = record
        ordered = sorted(records.values(), key=lambda r: r.time)[-DECISIONS_KEPT:]
        self._decisions = {r.id: r for r in ordered}
        await self._refresh(slow=True)

    async def _refresh(self, *, slow: bool = False) -> None:
        """The figures the stream does not carry, read and written down as one step."""
        async with self._lock:
            reads: list[Awaitable[None]] = [
                self._read_status(),
                self._read_traders(),
                self._read_positions(None),
                self._read_proposals(),
            ]
            if slow:
                reads.append(self._read_equity())
            await asyncio.gather(*reads)
            ai = [t.id for t in self._traders if t.kind in AI_KINDS]
            configs = [t.id for t in self._traders if slow or t.id not in self._configs]
            await asyncio.gather(
                *(self._read_ai(trader_id) for trader_id in ai),
                *(self._read_config(trader_id) for trader_id in configs),
            )

    async def _refresh_loop(self) -> None:
        count = 0
        while True:
            await asyncio.sleep(self._refresh_seconds)
            if not self._connected:
                continue
            count += 1
            try:
                await self._refresh(slow=count % SLOW_EVERY == 0)
            except (httpx.HTTPError, RemoteError, ValidationError) as exc:
                log.debug("refresh from %s failed: %s", where(self.url), exc)

    async def _read_status(self) -> None:
        status = MarketStatusView.model_validate(await self._get("/status")).to_domain()
        self._status, self._status_at = status, time.monotonic()

    async def _read_traders(self) -> None:
        items = await self._get("/traders")
        self._traders = [TraderSummaryView.model_validate(t).to_domain() for t in items]

    async def _read_positions(self, trader_id: str | None) -> None:
        items = await self._get("/positions", trader_id=trader_id)
        found: dict[str, list[PositionView]] = {}
        for item in items:
            view = PositionItemView.model_validate(item).to_domain()
            found.setdefault(view.trader_id, []).append(view)
        if trader_id is None:
            self._positions = found
        else:
            self._positions[trader_id] = found.get(trader_id, [])

    async def _read_proposals(self) -> None:
        items = await self._get("/proposals")
        at = time.monotonic()
        self._proposals = [(ProposalItemView.model_validate(p).to_domain(), at) for p in items]

    async def _read_ai(self, trader_id: str) -> None:
        found = await self._get(f"/traders/{trader_id}/ai")
        if found is None:
            self._ai.pop(trader_id, None)
        else:
            self._ai[trader_id] = AiStatusView.model_validate(found).to_domain()

    async def _read_config(self, trader_id: str) -> None:
        found = await self._get(f"/traders/{trader_id}/config")
        self._configs[trader_id] = TraderConfigView.model_validate(found).to_domain()

    async def _read_equity(self) -> None:
        curves = await self._get("/equity")
        self._curves = {
            trader_id: [(date.fromisoformat(p["day"]), Decimal(p["equity"])) for p in points]
            for trader_id, points in curves.items()
        }

    async def _read_after(self, *reads: Awaitable[None]) -> None:
        """What a command changed, read before the command returns."""
        async with self._lock:
            with contextlib.suppress(httpx.HTTPError, RemoteError, ValidationError):
                await asyncio.gather(*reads)

    # --- the read model's bookkeeping ----------------------------------------------------
    def _remember(self, order: Order) -> bool:
        """Keep ``order``'s newest state; False when it is older than the one known."""
        i = self._order_index.get(order.id)
        if i is None:
            self._order_index[order.id] = len(self._orders)
            self._orders.append(order)
            return True
        if _older(order, self._orders[i]):
            return False
        self._orders[i] = order
        return True

    def _order(self, order_id: str) -> Order | None:
        i = self._order_index.get(order_id)
        return None if i is None else self._orders[i]

    def _remember_decision(self, record: DecisionRecord) -> None:
        if record.id not in self._decisions and len(self._decisions) >= DECISIONS_KEPT:
            del self._decisions[next(iter(self._decisions))]
        self._decisions[record.id] = record

    # --- market -------------------------------------------------------------------------
    def market_status(self) -> MarketStatus:
        status = self._status
        if status is None:
            status = MarketStatus("—", False, datetime.fromtimestamp(0, UTC), {})
        moment = status.time
        if self._connected and status.simulated and not status.paused:
            # The clock runs on between readings, as it does on the server.
            ran = min(time.monotonic() - self._status_at, EXTRAPOLATE_MAX)
            moment += timedelta(seconds=ran * status.speed)
        return replace(
            status,
            time=moment,
            connection=self._connection_text(),
            connection_ok=self._connected,
        )

    async def set_market_speed(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"the speed must be a positive number, not {speed}")
        found = await self._command("POST", "/market/speed", {"speed": speed})
        self._status = MarketStatusView.model_validate(found).to_domain()
        self._status_at = time.monotonic()

    def pause_market(self, paused: bool) -> None:
        """Sent behind the screen (the interface is synchronous); shown paused at once, and a
        refusal comes back as an error notification."""
        if not self._connected:
            raise disconnected(self.url)
        if self._status is not None:
            self._status = replace(self._status, paused=paused)

        async def send() -> None:
            try:
                found = await self._command("POST", "/market/pause", {"paused": paused})
                self._status = MarketStatusView.model_validate(found).to_domain()
                self._status_at = time.monotonic()
            except RemoteError as exc:
                self._notify("error", exc.message)
                await self._read_after(self._read_status())

        self._spawn(send())

    def instruments(self) -> Sequence[Instrument]:
        return self._instruments

    def search(self, text: str, limit: int = 10) -> list[Instrument]:
        return self._search.search(text, limit)

    def quotes(self) -> Mapping[str, Quote]:
        return self._quotes

    def quotes_version(self) -> int:
        return self._quotes_version

    def bars(self, symbol: str) -> Sequence[Bar]:
        """The bars read last; read again behind the screen when they are a second old."""
        held = self._bars.get(symbol)
        fresh = held is not None and time.monotonic() - held[0] < BARS_FRESH
        if not fresh and self._connected and symbol not in self._bars_asked:
            self._bars_asked.add(symbol)
            self._spawn(self._read_bars(symbol))
        return held[1] if held is not None else []

    async def _read_bars(self, symbol: str) -> None:
        try:
            items = await self._get(f"/bars/{symbol}")
            bars = [BarView.model_validate(b).to_domain() for b in items]
            self._bars[symbol] = (time.monotonic(), bars)
        except (httpx.HTTPError, RemoteError, ValidationError) as exc:
            log.debug("bars of %s: %s", symbol, exc)
        finally:
            self._bars_asked.discard(symbol)

    # --- traders and accounts -----------------------------------------------------------
    def traders(self) -> list[TraderView]:
        return list(self._traders)

    def positions(self, trader_id: str | None = None) -> list[PositionView]:
        if trader_id is not None:
            return list(self._positions.get(trader_id, ()))
        return [p for items in self._positions.values() for p in items]

    def orders(self) -> Sequence[Order]:
        return self._orders

    def fills(self, limit: int = 100) -> list[Fill]:
        return list(self._fills)[:limit]

    def equity_curves(self) -> dict[str, list[tuple[date, Decimal]]]:
        today = self.market_status().time.date()
        equity = {t.id: t.equity for t in self._traders}
        out: dict[str, list[tuple[date, Decimal]]] = {}
        for trader_id, curve in self._curves.items():
            points = list(curve)
            if trader_id in equity:  # the live point: equity now
                live = (today, equity[trader_id])
                if points and points[-1][0] == today:
                    points[-1] = live
                else:
                    points.append(live)
            out[trader_id] = points
        return out

    def trader_config(self, trader_id: str) -> TraderConfig:
        return self._configs[trader_id]

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
        now = time.monotonic()
        out = []
        for view, at in self._proposals:
            if trader_id is not None and view.trader_id != trader_id:
                continue
            left = view.seconds_left
            if left is not None:  # the time to answer runs on between readings
                left = max(0.0, left - (now - at))
            out.append(replace(view, seconds_left=left))
        return sorted(out, key=lambda v: v.created)

    def ai_status(self, trader_id: str) -> AiStatus | None:
        return self._ai.get(trader_id)

    async def approve_proposal(self, proposal_id: str, quantity: int | None = None) -> Order:
        found = await self._command(
            "POST",
            f"/proposals/{proposal_id}/approve",
            {"quantity": quantity} if quantity is not None else None,
            errors=_PROPOSAL_GONE,
        )
        order = OrderView.model_validate(found).to_domain()
        self._remember(order)
        await self._read_after(self._read_proposals(), self._read_traders())
        return order

    async def reject_proposal(self, proposal_id: str) -> None:
        await self._command("POST", f"/proposals/{proposal_id}/reject", errors=_PROPOSAL_GONE)
        await self._read_after(self._read_proposals(), self._read_traders())

    def model_profiles(self) -> list[tuple[str, str]]:
        return list(self._models)

    def ai_interval_minutes(self) -> int:
        return self._interval

    def fat_finger_percent(self) -> Decimal:
        return self._fat_finger

    async def run_ai_cycle(self, trader_id: str) -> DecisionRecord:
        def not_ai(e: RemoteError) -> Exception:
            return KeyError(f"{trader_id}: {e.message}")

        found = await self._command(
            "POST",
            f"/traders/{trader_id}/cycle",
            errors={"unknown_trader": not_ai, "not_ai": not_ai},
        )
        record = DecisionView.model_validate(found).to_domain()
        self._remember_decision(record)
        await self._read_after(self._read_ai(trader_id), self._read_proposals())
        return record

    # --- commands -----------------------------------------------------------------------
    def preview_order(self, req: OrderRequest) -> OrderPreview:
        """The server's preview when it answered a moment ago, else the estimate made here
        (and the server asked, for the next time the ticket looks)."""
        key = (req.trader_id, req.symbol, req.side, req.quantity, req.type, req.limit_price)
        now = time.monotonic()
        answered = self._previews.get(key)
        if (answered is None or now - answered[0] > PREVIEW_ASK) and self._connected:
            self._ask_preview(key, req)
        if answered is not None and now - answered[0] <= PREVIEW_FRESH:
            return answered[1]
        return self._estimate(req)

    def _ask_preview(self, key: tuple[Any, ...], req: OrderRequest) -> None:
        if key in self._asking or self._http is None:
            return
        self._asking.add(key)

        async def ask() -> None:
            try:
                symbol = normalize(req.symbol)
                body = OrderCommand.of(replace(req, symbol=symbol)).model_dump(
                    mode="json", exclude_none=True
                )
                assert self._http is not None
                response = await self._http.post(f"{API}/orders/preview", json=body)
                if response.status_code == 200:
                    preview = OrderPreviewView.model_validate(response.json()).to_domain()
                    if len(self._previews) > 200:
                        self._previews.clear()
                    self._previews[key] = (time.monotonic(), preview)
            except (httpx.HTTPError, ValidationError, ValueError, SymbolError) as exc:
                log.debug("preview: %s", exc)
            finally:
                self._asking.discard(key)

        self._spawn(ask())

    def _estimate(self, req: OrderRequest) -> OrderPreview:
        try:
            symbol = normalize(req.symbol)
            inst = self._search.find(symbol)
            if inst is None:
                if symbol.endswith(".HK"):
                    raise UnknownInstrument(Msg("symbol.hk_lot_unknown", symbol=symbol))
                inst = a_share(symbol)
        except (SymbolError, LookupError) as exc:
            return refused(R.UNKNOWN_SYMBOL, exc.args[0] if exc.args else str(exc))
        status = self.market_status()
        trader = next((t for t in self._traders if t.id == req.trader_id), None)
        held = self._positions.get(req.trader_id, ())
        known = Known(
            instrument=inst,
            quote=self._quotes.get(inst.symbol),
            phase=status.phases.get(inst.market, Phase.CLOSED),
            trader=trader,
            position=next((p for p in held if p.symbol == inst.symbol), None),
            open_orders=[
                o for o in self._orders if o.trader_id == req.trader_id and o.status.is_open
            ],
            day=status.time.astimezone(MARKET_TZ[inst.market]).date(),
        )
        return estimate(req, known)

    async def place_order(self, req: OrderRequest) -> Order:
        with contextlib.suppress(SymbolError):  # "600519" as the broker reads it: 600519.SH
            req = replace(req, symbol=normalize(req.symbol))
        try:
            body = OrderCommand.of(req).model_dump(mode="json", exclude_none=True)
        except ValidationError as exc:
            raise RemoteError("invalid_request", _first_problem(exc)) from None
        found = await self._command("POST", "/orders", body)
        order = OrderView.model_validate(found).to_domain()
        self._remember(order)
        await self._read_after(self._read_traders())
        return order

    async def cancel_order(self, order_id: str) -> Order:
        found = await self._command(
            "POST",
            f"/orders/{order_id}/cancel",
            errors={
                "unknown_order": lambda e: KeyError(f"no order {order_id}"),
                "order_final": lambda e: ValueError(e.message),
            },
        )
        order = OrderView.model_validate(found).to_domain()
        self._remember(order)
        await self._read_after(self._read_traders())
        return order

    async def cancel_all(self, trader_id: str | None = None) -> list[Order]:
        params = {"trader_id": trader_id} if trader_id is not None else None
        found = await self._command(
            "POST", "/orders/cancel-all", params=params, errors=_UNKNOWN_TRADER
        )
        orders = [OrderView.model_validate(o).to_domain() for o in found]
        for order in orders:
            self._remember(order)
        await self._read_after(self._read_traders())
        return orders

    async def set_trader_running(self, trader_id: str, running: bool) -> None:
        action = "start" if running else "stop"
        await self._command("POST", f"/traders/{trader_id}/{action}", errors=_UNKNOWN_TRADER)
        reads = [self._read_traders(), self._read_config(trader_id)]
        if self._ai.get(trader_id) is not None:
            reads.append(self._read_ai(trader_id))
        await self._read_after(*reads)

    async def save_trader(
        self, trader: TraderConfig, cash: Mapping[str, Decimal] | None = None
    ) -> None:
        command = SaveTraderCommand.model_validate(
            {
                "trader": TraderConfigView.of(trader).model_dump(mode="json"),
                "cash": {k: str(v) for k, v in cash.items()} if cash else None,
            }
        )
        await self._command(
            "PUT", f"/traders/{trader.id}", command.model_dump(mode="json", exclude_none=True)
        )
        await self._read_after(self._read_traders(), self._read_config(trader.id))
        if trader.kind.value in AI_KINDS:
            await self._read_after(self._read_ai(trader.id))

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
        raise RemoteError("not_on_server", NOT_HERE)

    async def estimate_backtest(
        self,
        data: Sequence[Path],
        cash: Decimal,
        *,
        ai_model: str,
        ai_interval: int | None = None,
        progress: ProgressFn | None = None,
    ) -> BacktestCost | None:
        raise RemoteError("not_on_server", NOT_HERE)

    async def list_backups(self) -> list[BackupView]:
        """Backups by name: a ``BackupView.path`` here is the server's archive name only."""
        found = await self._command("GET", "/backups")
        return [_backup(BackupItemView.model_validate(b)) for b in found]

    async def create_backup(self, label: str | None = None) -> Path:
        found = await self._command("POST", "/backups", {"label": label} if label else None)
        return Path(BackupItemView.model_validate(found).id)

    async def verify_backup(self, path: Path) -> list[str]:
        found = await self._command(
            "POST",
            f"/backups/{path.name}/verify",
            errors={"unknown_backup": lambda e: FileNotFoundError(e.message)},
        )
        return [str(p) for p in found["problems"]]

    async def restore_backup(self, path: Path) -> None:
        from deepalpha.sync.backup import BackupError  # noqa: PLC0415

        await self._command(
            "POST",
            f"/backups/{path.name}/restore",
            errors={
                "backup_unsound": lambda e: BackupError(f"{path.name}: {e.message}"),
                "unknown_backup": lambda e: FileNotFoundError(e.message),
            },
        )
        await self._load_lists()  # the server carries on from the restored state

    async def get_preference(self, key: str, default: Any = None) -> Any:
        if key not in self._prefs and self._http is not None and self._connected:
            try:
                self._prefs[key] = (await self._get(f"/preferences/{key}"))["value"]
            except (httpx.HTTPError, RemoteError, KeyError) as exc:
                log.debug("preference %s: %s", key, exc)
        value = self._prefs.get(key)
        return default if value is None else value

    async def set_preference(self, key: str, value: Any) -> None:
        """Kept here at once and written to the server when connected. A preference is how
        this screen looks, not an order: while disconnected it lasts for this session."""
        self._prefs[key] = value
        if not self._connected:
            return
        try:
            await self._command("PUT", f"/preferences/{key}", {"value": value})
        except (RemoteError, TypeError) as exc:
            log.info("preference %s kept on this screen only: %s", key, exc)


def _backup(b: BackupItemView) -> BackupView:
    return BackupView(Path(b.id), b.created_at, b.size, b.label, b.schema_revision, b.error)


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    return f"{field}: {first.get('msg', 'invalid')}"


_PROPOSAL_GONE: dict[str, Callable[[RemoteError], Exception]] = {
    "unknown_proposal": lambda e: KeyError(e.message),
    "proposal_closed": lambda e: KeyError(e.message),
}
_UNKNOWN_TRADER: dict[str, Callable[[RemoteError], Exception]] = {
    "unknown_trader": lambda e: KeyError(e.message),
}


__all__ = ["RemoteBackend", "RemoteError"]
