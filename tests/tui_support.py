"""Running the workstation under Textual's Pilot on a real ``LocalBackend`` (tmp data dir).

    async with running_app(tmp_path, screen="market") as (app, pilot):
        await pilot.press("down")
        await wait_for(pilot, lambda: app.screen.selected_symbol == "601318.SH")

``live=True`` (the default) starts the simulated market inside a continuous trading session,
so quotes move whatever the time of day the tests run at.
"""

from __future__ import annotations

import contextlib
import time as clock
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from unittest import mock

from textual.pilot import Pilot

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import Runtime, RuntimeOptions
from deepalpha.app.tui import DeepAlphaApp, make_app
from deepalpha.engine.markets.calendar import calendar_for
from deepalpha.engine.markets.sessions import SHANGHAI
from deepalpha.engine.markets.symbols import Market

LIVE_FROM, LIVE_UNTIL = time(9, 31), time(11, 20)  # inside the morning session of both markets
LIVE_AT = time(10, 0)
# The simulator's tick in tests: Pilot waits for the app to go idle after each key, and a
# 20 ms tick never lets it (every key would cost ~2 s); 0.1 s still moves prices every frame.
TICK = 0.1


def _open_in_both(day: date) -> bool:
    return all(calendar_for(m).is_trading_day(day) for m in Market)


def _live_start(start: datetime) -> datetime:
    """``start`` if it falls in a morning session of both markets, else 10:00 on the next
    day both markets trade."""
    local = start.astimezone(SHANGHAI)
    if _open_in_both(local.date()) and LIVE_FROM <= local.time() < LIVE_UNTIL:
        return start
    day = local.date()
    if not (_open_in_both(day) and local.time() < LIVE_AT):
        day = calendar_for(Market.CN).next_trading_day(day)
        while not _open_in_both(day):
            day = calendar_for(Market.CN).next_trading_day(day)
    return datetime.combine(day, LIVE_AT, SHANGHAI)


@contextlib.contextmanager
def live_session() -> Iterator[None]:
    """Start the simulated market in a continuous session (a later day when need be)."""
    original = Runtime._resume_time

    def resume(state: Any, default: datetime) -> datetime:
        return _live_start(original(state, default))

    with mock.patch.object(Runtime, "_resume_time", staticmethod(resume)):
        yield


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
    live: bool = True,
    speed: float = 600,
    tick_interval: float = TICK,
    **kwargs: Any,
) -> AsyncIterator[tuple[DeepAlphaApp, Pilot[None]]]:
    """The app on a real backend in ``tmp_path / "data"`` (the same dir on every call with the
    same ``tmp_path``, so a second call is a restart); extra kwargs go to ``make_app``."""
    backend = backend_for(tmp_path / "data", speed=speed, tick_interval=tick_interval)
    app = make_app(backend, start_screen=screen, **kwargs)
    with live_session() if live else contextlib.nullcontext():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
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
