"""How long the market feed has been silent while a market trades, in real seconds.

Counted on the machine's monotonic clock, not the market's: the simulated market runs many
times faster than real time and a live feed stamps quotes with the exchange's time, so "market
now minus the last quote's time" means a different thing on each; what an operator needs to
know is whether quotes are still arriving now. Silence while no market trades continuously
(night, the lunch break, a holiday, the auctions) is not lag: the watch counts from the later of
the last quote and the moment a market began continuous trading. A paused simulated market
sends nothing, and shows as lag here (the readiness check knows it is paused).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from deepalpha.engine.bus import EventBus
from deepalpha.engine.events import QuoteEvent, SessionEvent
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market


class FeedWatch:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._phases: dict[Market, Phase] = {}
        self._last_quote: float | None = None
        self._trading_since: float | None = None

    def attach(self, bus: EventBus, phases: Mapping[Market, Phase] | None = None) -> None:
        """Watch ``bus``; ``phases`` are the markets' phases now (the session events that
        told them were published before the watch was there)."""
        if phases:
            self._phases.update(phases)
            if self.trading:
                self._trading_since = self._clock()
        bus.on(QuoteEvent, self._on_quote)
        bus.on(SessionEvent, self._on_session)

    def _on_quote(self, _event: QuoteEvent) -> None:
        self._last_quote = self._clock()

    def _on_session(self, event: SessionEvent) -> None:
        was_trading = self.trading
        self._phases[event.market] = event.phase
        if self.trading and not was_trading:
            self._trading_since = self._clock()

    @property
    def trading(self) -> bool:
        """Some market trades continuously now: quotes are due."""
        return any(p is Phase.CONTINUOUS for p in self._phases.values())

    @property
    def phases(self) -> dict[Market, Phase]:
        return dict(self._phases)

    def quote_age(self) -> float | None:
        """Real seconds since the last quote arrived (None: none has yet)."""
        if self._last_quote is None:
            return None
        return max(0.0, self._clock() - self._last_quote)

    def lag(self) -> float:
        """Real seconds the feed has been silent while a market trades (0 when none does)."""
        if not self.trading:
            return 0.0
        marks = [m for m in (self._last_quote, self._trading_since) if m is not None]
        if not marks:
            return 0.0
        return max(0.0, self._clock() - max(marks))
