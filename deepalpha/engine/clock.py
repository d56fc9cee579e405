"""Clocks: wall time when live, simulated time for the simulator, replay and backtests."""

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
    """Runs ``speed`` times faster than the wall from ``start``; can jump over dead time."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("clock time must be timezone-aware")
        self._base = start
        self._t0 = _time.monotonic()
        self.speed = speed

    def now(self) -> datetime:
        elapsed = (_time.monotonic() - self._t0) * self.speed
        return self._base + timedelta(seconds=elapsed)

    def jump(self, moment: datetime) -> None:
        self._base = moment
        self._t0 = _time.monotonic()

    def set_speed(self, speed: float) -> None:
        self.jump(self.now())
        self.speed = speed
