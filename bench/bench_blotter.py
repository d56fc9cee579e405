"""(d) Order blotter frame time at 1k, 100k and 1M orders.

The blotter runs in a headless Textual app at 120×40. A frame is: scroll to a new place (a page
down from a random row, with the strip cache cleared first, so every line is new) and render
every visible line through ``render_line`` — what the compositor asks of the widget. The number
is the median frame over the repeats; the baseline is the same frame at 1k orders, so the ratio
(items/s of 1M ÷ items/s of 1k, items being frames) says whether the size of the list costs
anything: it should be ~1×. Aim: < 16 ms a frame at every size. The check also times a filter
change at each size.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from textual.app import App, ComposeResult

from bench import BenchResult
from deepalpha.engine.orders import Order, OrderStatus, OrderType, Side
from deepalpha.widgets.order_blotter import OrderBlotter

SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 100_000)
FRAMES = 60
WIDTH, HEIGHT = 120, 40
TARGET_MS = 16.0
STATUSES = [OrderStatus.FILLED] * 6 + [
    OrderStatus.CANCELLED,
    OrderStatus.REJECTED,
    OrderStatus.EXPIRED,
    OrderStatus.OPEN,
]


def make_orders(n: int) -> list[Order]:
    start = datetime(2025, 6, 3, 1, 30, tzinfo=UTC)
    times = [start + timedelta(seconds=s) for s in range(3600)]
    symbols = ["600519.SH", "600036.SH", "000001.SZ", "00700.HK", "300750.SZ"]
    price, day = Decimal("12.34"), date(2025, 6, 3)
    amount = price * 100
    out = []
    for i in range(n):
        status = STATUSES[i % len(STATUSES)]
        filled = status is OrderStatus.FILLED
        out.append(
            Order(
                f"o{i}",
                "you" if i % 3 else "sma-bot",
                symbols[i % len(symbols)],
                Side.BUY if i % 2 else Side.SELL,
                OrderType.LIMIT,
                100,
                price,
                times[i % 3600],
                day,
                status=status,
                filled_quantity=100 if filled else 0,
                filled_amount=amount if filled else Decimal(0),
            )
        )
    return out


class _BlotterApp(App[None]):
    def compose(self) -> ComposeResult:
        yield OrderBlotter()


async def _measure(orders: list[Order], frames: int) -> tuple[list[float], float, int]:
    """Frame times (s), the time of a filter change (s), and the lines rendered per frame."""
    app = _BlotterApp()
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        blotter = app.query_one(OrderBlotter)
        blotter.set_orders(orders)
        await pilot.pause()
        t0 = time.perf_counter()
        blotter.set_filter(status_group="open")
        blotter.set_filter(status_group="all")
        refilter = (time.perf_counter() - t0) / 2
        rng = random.Random(7)
        height = blotter.size.height
        times = []
        for _ in range(frames):
            row = rng.randrange(max(1, blotter.row_count - height))
            blotter.clear_cache()  # a cold frame: every line rendered afresh
            t0 = time.perf_counter()
            blotter.move_cursor(row)
            blotter.action_page_down()
            for y in range(height):
                blotter.render_line(y)
            times.append(time.perf_counter() - t0)
        return times, refilter, height


def run(quick: bool, repeat: int) -> list[BenchResult]:
    results: list[BenchResult] = []
    base: BenchResult | None = None
    frames = FRAMES // 3 if quick else FRAMES
    for n in QUICK_SIZES if quick else SIZES:
        orders = make_orders(n)
        frame_times: list[float] = []
        refilter = float("inf")
        lines = 0
        for _ in range(max(1, repeat)):
            times, rf, lines = asyncio.run(_measure(orders, frames))
            frame_times += times
            refilter = min(refilter, rf)
        median = statistics.median(frame_times)
        ok = median * 1000 < TARGET_MS
        result = BenchResult(
            name=f"blotter frame {n:,} orders",
            items=1,
            unit="frame",
            seconds=median,
            check=(
                f"median {median * 1000:.2f} ms/frame ({lines} lines) "
                f"{'<' if ok else '≥'} {TARGET_MS:.0f} ms; refilter {refilter * 1000:.0f} ms"
            ),
            ok=ok,
            extra={
                "orders": n,
                "frame_ms_median": round(median * 1000, 3),
                "frame_ms_max": round(max(frame_times) * 1000, 3),
                "refilter_ms": round(refilter * 1000, 1),
            },
        )
        if base is None:
            base = result
        else:
            result.against(base)
        results.append(result)
        del orders
    return results
