"""Input latency of the workstation under a quote storm.

A LocalBackend simulates 500 A-shares at about 2,000 quote updates a second; the Market screen
is open. Each sample presses a key (moving the selection on the board) and waits until the app
has handled it and refreshed. The baseline is the same with the market closed (no quotes), so
the ratio says what the storm costs.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from bench import BenchResult

SYMBOLS = 500


def _universe(n: int) -> tuple[dict[str, tuple[str, int]], list]:
    from deepalpha.engine.markets.instruments import a_share

    universe: dict[str, tuple[str, int]] = {}
    instruments = []
    for i in range(n):
        symbol = f"{603000 + i}.SH"
        price = f"{10 + (i % 90)}.{(i * 7) % 100:02d}"
        universe[symbol] = (price, 500)
        instruments.append(a_share(symbol, f"测试{i:03d}", f"Test {i:03d}"))
    return universe, instruments


async def _latency(data_dir: Path, *, storm: bool, presses: int) -> tuple[list[float], float]:
    from deepalpha.app.local_backend import LocalBackend
    from deepalpha.app.runtime import RuntimeOptions
    from deepalpha.app.tui import make_app
    from deepalpha.engine.markets.calendar import calendar_for
    from deepalpha.engine.markets.sessions import SHANGHAI
    from deepalpha.engine.markets.symbols import Market

    universe, instruments = _universe(SYMBOLS)
    day = calendar_for(Market.CN).next_trading_day(date.today())
    # In the storm the simulated clock sits in continuous trading; the baseline starts at night.
    start = datetime.combine(day, dtime(10, 0) if storm else dtime(20, 0), SHANGHAI)
    options = RuntimeOptions(
        data_dir=data_dir,
        speed=36.0,  # ~4 quotes per symbol-second of market time → ~2,000 quotes/s
        tick_interval=0.05,
        auto_backup=False,
        universe=universe,
        extra_instruments=instruments,
        step_seconds=3,
        start_at=start,
    )
    backend = LocalBackend(options)
    app = make_app(backend, start_screen="market")
    samples: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        # The first frame comes before the engine has started; measure the running engine.
        await app.engine_started()
        await pilot.pause(1.0)
        # Time from posting a key to the first frame written after the app handled it: the
        # App's _display is where a frame goes to the terminal.
        frames: list[float] = []
        original = app._display

        def display(screen: object, renderable: object) -> None:
            frames.append(time.perf_counter())
            original(screen, renderable)  # type: ignore[arg-type]

        app._display = display  # type: ignore[method-assign]
        v0, t0 = backend.quotes_version(), time.perf_counter()
        for i in range(presses):
            key = "down" if i % 20 < 10 else "up"
            screen = app.screen
            before = getattr(screen, "selected_symbol", None)
            began = time.perf_counter()
            app.simulate_key(key)
            while getattr(screen, "selected_symbol", None) == before:
                await asyncio.sleep(0.001)
            handled = time.perf_counter()
            while not frames or frames[-1] < handled:
                await asyncio.sleep(0.001)
            samples.append((frames[-1] - began) * 1000)
            await asyncio.sleep(0.05)
        rate = (backend.quotes_version() - v0) / (time.perf_counter() - t0)
        app._display = original  # type: ignore[method-assign]
    return samples, rate


def run(quick: bool = False, repeat: int = 1) -> list[BenchResult]:
    presses = 20 if quick else 60
    with tempfile.TemporaryDirectory() as tmp:
        quiet, _ = asyncio.run(_latency(Path(tmp) / "quiet", storm=False, presses=presses))
        loud, rate = asyncio.run(_latency(Path(tmp) / "storm", storm=True, presses=presses))
    p95 = sorted(loud)[int(len(loud) * 0.95) - 1]
    base_med, med = statistics.median(quiet), statistics.median(loud)
    return [
        BenchResult(
            "tui.input_latency.quiet",
            presses,
            "keys",
            sum(quiet) / 1000,
            check=f"wall s; median {base_med:.1f} ms; no quotes",
        ),
        BenchResult(
            "tui.input_latency.storm",
            presses,
            "keys",
            sum(loud) / 1000,
            baseline="tui.input_latency.quiet",
            ratio=base_med / med if med else None,
            check=f"wall s; median {med:.1f} ms, p95 {p95:.1f} ms (aim < 100 ms) at "
            f"{rate:,.0f} quotes/s over {SYMBOLS} symbols",
        ),
    ]
