"""Benchmarks run by ``make bench``: speed as ratios against a baseline timed in the same process.

Absolute numbers depend on the machine; a ratio to a baseline run moments earlier in the same
interpreter does not (much). Times are CPU seconds of this process (``time.process_time``), so
other work on a shared machine does not count against a run; wall seconds go to the JSON too.
Each run is repeated and the fastest counts. The tests never time anything.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class BenchResult:
    """One timed run. ``baseline`` names the row it is compared with (``None``: it is one)."""

    name: str
    items: int
    unit: str  # what an item is: "bars", "quotes"
    seconds: float  # CPU seconds of the fastest run
    baseline: str | None = None
    ratio: float | None = None  # items/s of this row ÷ items/s of the baseline row
    check: str = ""  # the correctness check that goes with the number
    ok: bool = True
    wall_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("inf")

    def against(self, base: BenchResult) -> BenchResult:
        self.baseline = base.name
        self.ratio = self.rate / base.rate
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "items": self.items,
            "unit": self.unit,
            "cpu_seconds": round(self.seconds, 6),
            "wall_seconds": None if self.wall_seconds is None else round(self.wall_seconds, 6),
            "items_per_second": round(self.rate, 1),
            "baseline": self.baseline,
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "check": self.check,
            "ok": self.ok,
            **self.extra,
        }


CLOCK = time.process_time  # CPU time; see the module docstring


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """Run ``fn`` once after a full collection: its result, CPU seconds and wall seconds."""
    gc.collect()
    wall, cpu = time.perf_counter(), CLOCK()
    out = fn()
    return out, CLOCK() - cpu, time.perf_counter() - wall


def best_of(repeat: int, fn: Callable[[], T]) -> tuple[list[T], float, float]:
    """Run ``fn`` ``repeat`` times: every result, and the fastest run's CPU and wall seconds
    (the run least disturbed by whatever else the machine was doing)."""
    outs: list[T] = []
    best = (float("inf"), float("inf"))
    for _ in range(max(1, repeat)):
        out, cpu, wall = timed(fn)
        outs.append(out)
        best = min(best, (cpu, wall))
    return outs, best[0], best[1]
