"""Running the workstation under Textual's Pilot on a real ``LocalBackend`` (tmp data dir).

    async with running_app(tmp_path, screen="market") as (app, pilot):
        await pilot.press("down")
        await wait_for(pilot, lambda: app.screen.selected_symbol == "601318.SH")

The engine starts at the test's pinned moment (the ``moment`` fixture: a morning with both
markets trading, unless the test says otherwise), so quotes move whatever the real hour.
"""

from __future__ import annotations

import contextlib
import time as clock
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.app.tui import DeepAlphaApp, make_app

# The simulator's tick in tests: Pilot waits for the app to go idle after each key, and a
# 20 ms tick never lets it (every key would cost ~2 s); 0.1 s still moves prices every frame.
TICK = 0.1


def backend_for(data_dir: Path, *, speed: float = 600, tick_interval: float = TICK) -> LocalBackend:
    return LocalBackend(
        RuntimeOptions(
            data_dir=data_dir, speed=speed, tick_interval=tick_interval, auto_backup=False
        )
    )


@contextlib.asynccontextmanager
async def running_app(
    tmp_path: Path,
    *,
    screen: str = "market",
    size: tuple[int, int] = (120, 40),
    speed: float = 600,
    tick_interval: float = TICK,
    **kwargs: Any,
) -> AsyncIterator[tuple[DeepAlphaApp, Pilot[None]]]:
    """The app on a real backend in ``tmp_path / "data"`` (the same dir on every call with the
    same ``tmp_path``, so a second call is a restart); extra kwargs go to ``make_app``."""
    backend = backend_for(tmp_path / "data", speed=speed, tick_interval=tick_interval)
    app = make_app(backend, start_screen=screen, **kwargs)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await app.engine_started()  # the first frame comes sooner; the tests use the engine
        yield app, pilot


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], object], timeout: float = 10.0
) -> None:
    """Let the app run until ``condition()`` holds; fails after ``timeout`` seconds."""
    deadline = clock.monotonic() + timeout
    while not condition():
        if clock.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {condition}")
        await pilot.pause(0.05)
