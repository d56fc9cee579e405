"""Rule-based strategies that run inside backtests (and, later, as demo traders)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from deepalpha.engine.marketdata import Bar
from deepalpha.engine.markets.instruments import Instrument
from deepalpha.engine.orders import Side


class StrategyContext(Protocol):
    def position(self, symbol: str) -> int:
        """Shares held now."""
        ...

    def has_open_order(self, symbol: str) -> bool: ...

    def board_lot(self, symbol: str) -> int: ...

    def order_next_bar(self, symbol: str, side: Side, quantity: int) -> None:
        """A market order that executes at the open of the symbol's next bar."""
        ...


class Strategy(Protocol):
    name: str

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> None:
        """Called at each bar's close, after the broker has matched that bar."""
        ...

    def lot_notes(self, instruments: Iterable[Instrument]) -> list[str]:
        """What the board lots make of the strategy's order sizes, one note per instrument
        where a size is rounded; raises :class:`StrategyError` where a size is less than a
        lot, since the strategy could then never trade that instrument."""
        ...


class StrategyError(ValueError):
    pass


# Closes are kept as integers in units of 0.001 (the finest tick of either market), so the
# averages compare exactly: a float SMA can misjudge a tie, and "previous difference ≤ 0" makes
# ties part of the rule.
_SCALE = 1000


@dataclass(slots=True)
class _SmaState:
    closes: deque[int] = field(default_factory=deque)
    fast_sum: int = 0
    slow_sum: int = 0
    prev_sign: int | None = None  # sign of SMA(fast) − SMA(slow) at the previous close


class SmaCross:
    """Buy ``qty`` (rounded down to the board lot) when SMA(fast) crosses above SMA(slow) and
    the symbol is flat; sell everything held when it crosses below. Signals at a bar's close
    execute at the next bar's open."""

    name = "sma_cross"

    def __init__(self, fast: int = 5, slow: int = 20, qty: int = 1000) -> None:
        if not (0 < fast < slow):
            raise StrategyError(f"sma_cross needs 0 < fast < slow, got fast={fast} slow={slow}")
        if qty <= 0:
            raise StrategyError(f"sma_cross needs a positive qty, got {qty}")
        self.fast, self.slow, self.qty = fast, slow, qty
        self._state: dict[str, _SmaState] = {}

    def _lot_quantity(self, lot: int) -> int:
        return self.qty // lot * lot

    def lot_notes(self, instruments: Iterable[Instrument]) -> list[str]:
        notes: list[str] = []
        for inst in instruments:
            lot = inst.board_lot
            qty = self._lot_quantity(lot)
            if qty == 0:
                raise StrategyError(
                    f"{self.name}: qty={self.qty} is less than one board lot of {inst.symbol} "
                    f"({lot} shares); give qty={lot} or more"
                )
            if qty != self.qty:
                notes.append(
                    f"{self.name}: qty={self.qty} buys {qty} shares of {inst.symbol} "
                    f"(rounded down to its board lot of {lot})"
                )
        return notes

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> None:
        st = self._state.get(bar.symbol)
        if st is None:
            st = self._state[bar.symbol] = _SmaState()
        close = int(bar.close * _SCALE)
        closes, fast, slow = st.closes, self.fast, self.slow
        closes.append(close)
        st.fast_sum += close
        st.slow_sum += close
        n = len(closes)
        if n > fast:
            st.fast_sum -= closes[n - 1 - fast]
        if n > slow:
            st.slow_sum -= closes.popleft()
            n -= 1
        if n < slow:
            return
        # sign(fast_sum/fast − slow_sum/slow) without division
        diff = st.fast_sum * slow - st.slow_sum * fast
        sign = (diff > 0) - (diff < 0)
        prev = st.prev_sign
        st.prev_sign = sign
        if prev is None:
            return
        if prev <= 0 < sign:
            if ctx.position(bar.symbol) == 0 and not ctx.has_open_order(bar.symbol):
                qty = self._lot_quantity(ctx.board_lot(bar.symbol))
                if qty > 0:
                    ctx.order_next_bar(bar.symbol, Side.BUY, qty)
        elif prev >= 0 > sign:
            held = ctx.position(bar.symbol)
            if held > 0 and not ctx.has_open_order(bar.symbol):
                ctx.order_next_bar(bar.symbol, Side.SELL, held)


STRATEGIES = {"sma_cross": SmaCross}


def build_strategy(name: str, params: dict[str, str]) -> Strategy:
    cls = STRATEGIES.get(name)
    if cls is None:
        raise StrategyError(f"unknown strategy {name!r}; available: {', '.join(STRATEGIES)}")
    kwargs: dict[str, int] = {}
    allowed = {"fast", "slow", "qty"}
    for key, value in params.items():
        if key not in allowed:
            raise StrategyError(
                f"{name} has no parameter {key!r}; it takes {', '.join(sorted(allowed))}"
            )
        try:
            kwargs[key] = int(value)
        except ValueError:
            raise StrategyError(f"{name}: {key}={value!r} is not a whole number") from None
    return cls(**kwargs)
