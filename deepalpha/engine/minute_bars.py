"""One-minute bars built from quotes, per symbol: what the K-line chart draws and what AI
traders read their indicators from.

A symbol's bars may start from a history (the simulator's warm-up, or stored bars) so that
indicators are ready at the first decision rather than an hour into the session. The history is
read when the symbol's bars are first asked for, not when its first bar closes: bars close for
every symbol in the same minute, and a warm-up of ~10 ms a symbol for the whole universe at once
would stall the feed (and the screen) on the engine's hot path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from deepalpha.engine.events import QuoteEvent
from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.engine.markets.sessions import MARKET_TZ
from deepalpha.engine.markets.symbols import market_of

BAR_SECONDS = 60
BARS_KEPT = 800  # enough for EMA 50 on 15-minute bars (750 one-minute bars)

History = Callable[[str], Sequence[Bar]]


class MinuteBars:
    def __init__(self, *, kept: int = BARS_KEPT, history: History | None = None) -> None:
        self.kept = kept
        self.history = history
        self._bars: dict[str, deque[Bar]] = {}
        self._with_history: set[str] = set()  # symbols whose deque starts with the history
        # symbol → (minute bucket, the bar being built, the day's volume when it began)
        self._building: dict[str, tuple[int, Bar, int]] = {}

    def on_quote(self, event: QuoteEvent) -> None:
        self.add(event.quote)

    def _closed(self, symbol: str) -> deque[Bar]:
        bars = self._bars.get(symbol)
        if bars is None:
            bars = self._bars[symbol] = deque(maxlen=self.kept)
        return bars

    def _loaded(self, symbol: str) -> deque[Bar]:
        """The closed bars with the history before them (read now, once)."""
        bars = self._closed(symbol)
        if symbol not in self._with_history:
            self._with_history.add(symbol)
            if self.history is not None and len(bars) < self.kept:
                bars = deque((*self.history(symbol), *bars), maxlen=self.kept)
                self._bars[symbol] = bars
        return bars

    def add(self, q: Quote) -> None:
        bucket = int(q.time.timestamp()) // BAR_SECONDS
        cur = self._building.get(q.symbol)
        if cur is not None and cur[0] == bucket:
            _, b, vol0 = cur
            self._building[q.symbol] = (
                bucket,
                Bar(
                    q.symbol,
                    q.time,
                    b.trading_day,
                    b.open,
                    max(b.high, q.last),
                    min(b.low, q.last),
                    q.last,
                    max(0, q.volume - vol0),
                ),
                vol0,
            )
            return
        if cur is not None:
            self._closed(q.symbol).append(cur[1])
        day = q.time.astimezone(MARKET_TZ[market_of(q.symbol)]).date()
        self._building[q.symbol] = (
            bucket,
            Bar(q.symbol, q.time, day, q.last, q.last, q.last, q.last, 0),
            q.volume,
        )

    def get(self, symbol: str) -> list[Bar]:
        """The symbol's bars, oldest first, the one being built last."""
        out = list(self._loaded(symbol))
        cur = self._building.get(symbol)
        if cur is not None:
            out.append(cur[1])
        return out
