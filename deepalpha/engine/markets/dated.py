"""A value that changes on known dates: every rate, limit and ladder is one of these."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date
from typing import Generic, TypeVar

T = TypeVar("T")


class Dated(Generic[T]):
    """``(effective_from, value)`` pairs; ``at(day)`` is the value in force on ``day``."""

    __slots__ = ("_days", "_values", "name")

    def __init__(self, name: str, entries: Sequence[tuple[date, T]]) -> None:
        ordered = sorted(entries, key=lambda e: e[0])
        self.name = name
        self._days = [e[0] for e in ordered]
        self._values = [e[1] for e in ordered]

    def at(self, day: date) -> T:
        i = bisect_right(self._days, day) - 1
        if i < 0:
            raise LookupError(
                f"{self.name}: no rule in force on {day} (the table starts on {self._days[0]})"
            )
        return self._values[i]

    def entries(self) -> list[tuple[date, T]]:
        return list(zip(self._days, self._values, strict=True))
