"""Clocks: the machine's clock when live, simulated time for the simulator, replay and backtests.

Nothing in DeepAlpha reads the wall clock directly: code that needs the real moment is given a
``Clock``, and the application asks :func:`system_clock` for one in a single place, so a test
pins the moment there and a run behaves the same at 10:00 and at 15:50 Beijing time.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime."""
        ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def system_clock() -> Clock:
    """The machine's clock: what the application uses when it is given none."""
    return WallClock()


class ManualClock:
    """Time moves only when told: replay and backtests set it bar by bar."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("clock time must be timezone-aware")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("clock time must be timezone-aware")
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class SimulatedClock:
    """Runs ``speed`` times faster than real time from ``start``; can jump over dead time and
    be paused. Real time here is elapsed time (a monotonic counter), never the calendar."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("clock time must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._base = start
        self._t0 = _time.monotonic()
        self.speed = speed
        self.paused = False

    def now(self) -> datetime:
        if self.paused:
            return self._base
        elapsed = (_time.monotonic() - self._t0) * self.speed
        return self._base + timedelta(seconds=elapsed)

    def jump(self, moment: datetime) -> None:
        self._base = moment
        self._t0 = _time.monotonic()

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.jump(self.now())
        self.speed = speed

    def pause(self) -> None:
        if not self.paused:
            self.jump(self.now())
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.jump(self._base)
