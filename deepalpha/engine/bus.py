"""The event bus: synchronous handlers on the engine's path, asyncio queues for the rest.

Engine-side handlers (portfolio marks, the storage writer's batcher) run inline on ``publish``
so ordering is exact and nothing waits on a loop. Async consumers (the TUI, the WebSocket
broadcaster) ``subscribe`` to a bounded queue; a slow consumer loses the oldest quotes, never an
order or a fill.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from deepalpha.engine.events import Event, QuoteEvent

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]


class Subscription:
    """A bounded queue of events for one async consumer. Full, it makes room for a new quote by
    dropping the oldest queued quote (the newer one supersedes it); other events are never
    dropped, so an order or a fill always arrives."""

    def __init__(self, bus: EventBus, types: tuple[type[Event], ...], maxsize: int) -> None:
        self._bus = bus
        self.types = types
        self._items: deque[Event] = deque()
        self._ready = asyncio.Event()
        self.maxsize = maxsize
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, event: Event) -> None:
        items = self._items
        if len(items) >= self.maxsize and isinstance(event, QuoteEvent):
            self.dropped += 1
            for i, queued in enumerate(items):
                if isinstance(queued, QuoteEvent):
                    del items[i]
                    break
            else:
                return  # nothing older to drop: this quote is the oldest
        items.append(event)
        self._ready.set()

    async def get(self) -> Event:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.get()


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)
        self._subs: list[Subscription] = []
        self._routes: dict[type[Event], tuple[list[Handler], list[Subscription]]] = {}

    def on(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        """Call ``handler`` inline for every event of ``event_type`` (or a subclass)."""
        self._handlers[event_type].append(handler)
        self._routes.clear()

    def off(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._handlers[event_type].remove(handler)
        self._routes.clear()

    def subscribe(self, *types: type[Event], maxsize: int = 10_000) -> Subscription:
        sub = Subscription(self, types or (Event,), maxsize)
        self._subs.append(sub)
        self._routes.clear()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._routes.clear()

    def deepest_queue(self) -> int:
        """How many events the most behind async consumer has yet to take (0: none waits);
        health and metrics read it to see a consumer falling behind."""
        return max((len(s) for s in self._subs), default=0)

    def _route(self, event_type: type[Event]) -> tuple[list[Handler], list[Subscription]]:
        route = self._routes.get(event_type)
        if route is None:
            handlers = [
                h for t, hs in self._handlers.items() if issubclass(event_type, t) for h in hs
            ]
            subs = [s for s in self._subs if issubclass(event_type, s.types)]
            route = self._routes[event_type] = (handlers, subs)
        return route

    def wants(self, event_type: type[Event]) -> bool:
        handlers, subs = self._route(event_type)
        return bool(handlers or subs)

    def publish(self, event: Event) -> None:
        handlers, subs = self._route(type(event))
        for h in handlers:
            h(event)
        for s in subs:
            s.offer(event)
