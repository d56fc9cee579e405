"""The event stream of ``/api/v1/ws``: numbered events, a bounded replay buffer, bounded queues.

Every event the engine publishes is numbered once, encoded once and kept in a ring buffer, so a
client that comes back with its last number gets what it missed, or "resync" when the buffer
has moved past it. Each client has its own bounded queue: one that cannot keep up is dropped
with a close code (it reconnects and resumes), and the others never wait for it. Quotes are not
sent one by one: changed quotes are gathered and sent together a few times a second; a batch
carries ``sent``, the server's wall time (unix seconds) when it was published, so a client can
tell how late it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from deepalpha.app.backend import Backend
from deepalpha.app.views import (
    DecisionView,
    FillView,
    OrderView,
    PositionItemView,
    ProposalItemView,
    QuoteView,
    message,
)
from deepalpha.engine.events import (
    AiStateEvent,
    DecisionEvent,
    EquityEvent,
    Event,
    FillEvent,
    NotificationEvent,
    OrderEvent,
    SessionEvent,
    StorageEvent,
    TraderHaltedEvent,
    TradingDayEvent,
)

log = logging.getLogger("deepalpha.stream")

CHANNELS = (
    "quotes",
    "orders",
    "fills",
    "positions",
    "decisions",
    "proposals",
    "notifications",
    "sessions",
    "traders",
)
SLOW_CLIENT = 4008  # close code: the client's queue overflowed; reconnect with the last seq
QUOTE_INTERVAL = 0.1  # seconds between batches of changed quotes


@dataclass(slots=True)
class Outgoing:
    seq: int
    channel: str
    text: str  # the encoded envelope
    symbols: frozenset[str] | None = None  # a quote batch: which symbols it carries
    quotes: list[dict[str, Any]] | None = None  # ...and its items, to cut per client
    sent: float | None = None  # a quote batch: when it was published (unix seconds)


@dataclass(eq=False, slots=True)
class Client:
    """One connection's subscription and queue (the socket itself stays with the route)."""

    name: str
    maxsize: int
    channels: set[str] = field(default_factory=set)
    symbols: set[str] | None = None  # None: every symbol
    queue: deque[str] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False
    # Called once when the queue overflows: the face drops the connection at once, even while
    # its sender is stuck writing to a client that stopped reading.
    on_overflow: Callable[[], None] | None = None

    def wants(self, out: Outgoing) -> bool:
        return out.channel in self.channels

    def offer(self, out: Outgoing) -> bool:
        """Queue ``out`` (cut to the client's symbols); False: the queue is full."""
        if self.overflowed:
            return False
        text = out.text
        if out.quotes is not None and self.symbols is not None:
            assert out.symbols is not None
            if self.symbols.isdisjoint(out.symbols):
                return True
            items = [q for q in out.quotes if q["symbol"] in self.symbols]
            text = _envelope(out.seq, "quotes", "quotes", {"quotes": items}, out.sent)
        if len(self.queue) >= self.maxsize:
            self.overflowed = True
            self.queue.clear()  # nothing more will be sent: free it now
            self.ready.set()
            if self.on_overflow is not None:
                self.on_overflow()
            return False
        self.queue.append(text)
        self.ready.set()
        return True

    async def next(self) -> str | None:
        """The next message to send; None once the client overflowed (close it)."""
        while not self.queue:
            if self.overflowed:
                return None
            self.ready.clear()
            await self.ready.wait()
        if self.overflowed:
            return None
        return self.queue.popleft()


def _envelope(seq: int, channel: str, kind: str, data: Any, sent: float | None = None) -> str:
    message: dict[str, Any] = {"type": "event", "seq": seq, "channel": channel, "event": kind}
    if sent is not None:
        message["sent"] = sent
    message["data"] = data
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def _json(model: Any) -> Any:
    return model.model_dump(mode="json")


class StreamHub:
    def __init__(
        self,
        backend: Backend,
        *,
        buffer: int = 10_000,
        client_queue: int = 2_000,
        quote_interval: float = QUOTE_INTERVAL,
        on_drop: Callable[[str], None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.wall = wall  # the machine's clock, for the ``sent`` stamp of quote batches
        self.seq = 0
        # Names this numbering: events are numbered from 1 in each server process, so a client
        # that comes back to another epoch (a restarted server) resumes from 0, not its seq.
        self.epoch = secrets.token_hex(8)
        self._ring: deque[Outgoing] = deque(maxlen=buffer)
        self.client_queue = client_queue
        self.quote_interval = quote_interval
        self.clients: set[Client] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._sent_quotes: dict[str, object] = {}
        self._on_drop = on_drop or (lambda _reason: None)
        self.dropped = 0

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        sub = self.backend.subscribe()
        self._tasks = [
            asyncio.create_task(self._pump(sub), name="stream-events"),
            asyncio.create_task(self._quotes(), name="stream-quotes"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # --- clients ----------------------------------------------------------------------------
    def connect(self, name: str) -> Client:
        client = Client(name=name, maxsize=self.client_queue)
        self.clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)

    def replay(self, client: Client, since: int) -> bool:
        """Queue the events after ``since`` the client wants; False: too far behind (the buffer
        no longer holds ``since + 1``), the client must resync from the REST snapshot."""
        if since >= self.seq:
            return True
        oldest = self._ring[0].seq if self._ring else self.seq + 1
        if since + 1 < oldest:
            return False
        for out in self._ring:
            if out.seq > since and client.wants(out) and not client.offer(out):
                break
        return True

    # --- publishing -------------------------------------------------------------------------
    def publish(
        self,
        channel: str,
        kind: str,
        data: Any,
        *,
        quotes: list[dict[str, Any]] | None = None,
    ) -> Outgoing:
        self.seq += 1
        sent = round(self.wall(), 6) if quotes is not None else None
        out = Outgoing(self.seq, channel, _envelope(self.seq, channel, kind, data, sent))
        if quotes is not None:
            out.quotes = quotes
            out.symbols = frozenset(q["symbol"] for q in quotes)
            out.sent = sent
        self._ring.append(out)
        for client in list(self.clients):
            if client.wants(out) and not client.offer(out) and client.overflowed:
                self.dropped += 1
                self._on_drop("slow_client")
        return out

    async def _pump(self, sub: Any) -> None:
        try:
            while True:
                event = await sub.get()
                try:
                    for channel, kind, data in self._translate(event):
                        self.publish(channel, kind, data)
                except Exception:  # one bad event must not end the stream for everyone
                    log.exception("could not stream %s", type(event).__name__)
        finally:
            sub.close()

    def _translate(self, event: Event) -> Iterable[tuple[str, str, Any]]:
        if isinstance(event, OrderEvent):
            yield "orders", "order", _json(OrderView.of(event.order))
        elif isinstance(event, FillEvent):
            yield "fills", "fill", _json(FillView.of(event.fill))
            yield "orders", "order", _json(OrderView.of(event.order))
            trader = event.fill.trader_id
            yield "positions", "positions", self._positions(trader)
        elif isinstance(event, DecisionEvent):
            yield "decisions", "decision", _json(DecisionView.of(event.record))
            yield "proposals", "proposals", self._proposals(event.record.trader_id)
        elif isinstance(event, AiStateEvent):
            yield "proposals", "proposals", self._proposals(event.trader_id)
        elif isinstance(event, NotificationEvent):
            yield (
                "notifications",
                "notification",
                {"severity": event.severity, "message": _json(message(event.message))},
            )
        elif isinstance(event, StorageEvent):
            yield (
                "notifications",
                "storage",
                {"ok": event.ok, "message": _json(message(event.message))},
            )
        elif isinstance(event, TraderHaltedEvent):
            yield (
                "traders",
                "halted",
                {
                    "trader_id": event.trader_id,
                    "code": event.code,
                    "reason": _json(message(event.reason)),
                },
            )
        elif isinstance(event, EquityEvent):
            yield (
                "traders",
                "equity",
                {
                    "trader_id": event.trader_id,
                    "day": event.day.isoformat(),
                    "time": event.time.isoformat(),
                    "cash": str(event.cash),
                    "market_value": str(event.market_value),
                    "equity": str(event.equity),
                },
            )
        elif isinstance(event, SessionEvent):
            yield (
                "sessions",
                "session",
                {
                    "market": event.market.value,
                    "phase": event.phase.value,
                    "time": event.time.isoformat(),
                    "simulated": event.simulated,
                },
            )
        elif isinstance(event, TradingDayEvent):
            yield (
                "sessions",
                "trading_day",
                {
                    "market": event.market.value,
                    "day": event.day.isoformat(),
                    "started": event.started,
                },
            )

    def _positions(self, trader_id: str) -> dict[str, Any]:
        items = [_json(PositionItemView.of(p)) for p in self.backend.positions(trader_id)]
        return {"trader_id": trader_id, "positions": items}

    def _proposals(self, trader_id: str) -> dict[str, Any]:
        items = [_json(ProposalItemView.of(p)) for p in self.backend.proposals(trader_id)]
        return {"trader_id": trader_id, "proposals": items}

    async def _quotes(self) -> None:
        """Changed quotes, gathered: a symbol ticking 50 times between batches is sent once."""
        version = -1
        while True:
            await asyncio.sleep(self.quote_interval)
            now = self.backend.quotes_version()
            if now == version:
                continue
            version = now
            sent = self._sent_quotes
            changed = [q for s, q in self.backend.quotes().items() if sent.get(s) is not q]
            if not changed:
                continue
            for q in changed:
                sent[q.symbol] = q
            if not any("quotes" in c.channels for c in self.clients):
                continue  # nobody listens: keep the sequence for events worth replaying
            items = [_json(QuoteView.of(q)) for q in changed]
            self.publish("quotes", "quotes", {"quotes": items}, quotes=items)
