"""Trading days from exchange-calendars (XSHG, XHKG), cached as plain data.

exchange-calendars pulls in pandas (about a second to import and build), so what it tells is
cached as a JSON list of days per calendar and the hot path only touches ``date`` objects.
Past the last year the library records holidays for, weekdays are assumed, and ``assumed`` says
so.
"""

from __future__ import annotations

import json
import os
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from deepalpha.engine.markets.symbols import Market

CALENDAR_CODE = {Market.CN: "XSHG", Market.HK: "XHKG"}
FIRST_DAY = date(1991, 1, 2)


@dataclass(slots=True)
class TradingCalendar:
    code: str
    days: list[date]
    half_days: frozenset[date] = frozenset()
    _set: frozenset[date] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._set = frozenset(self.days)

    @property
    def last_known(self) -> date:
        return self.days[-1]

    def assumed(self, day: date) -> bool:
        """True when ``day`` is past the recorded holidays (weekdays are assumed open)."""
        return day > self.last_known

    def is_trading_day(self, day: date) -> bool:
        if day > self.last_known:
            return day.weekday() < 5
        return day in self._set

    def is_half_day(self, day: date) -> bool:
        return day in self.half_days

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after ``day``."""
        if day < self.last_known:
            i = bisect_right(self.days, day)
            return self.days[i]
        nxt = day + timedelta(days=1)
        while nxt.weekday() >= 5:
            nxt += timedelta(days=1)
        return nxt

    def previous_trading_day(self, day: date) -> date:
        if day > self.last_known:
            prev = day - timedelta(days=1)
            while prev > self.last_known and prev.weekday() >= 5:
                prev -= timedelta(days=1)
            if prev > self.last_known:
                return prev
            day = prev + timedelta(days=1)
        i = bisect_left(self.days, day)
        if i == 0:
            raise LookupError(f"{self.code}: no trading day before {day}")
        return self.days[i - 1]

    def trading_days_between(self, start: date, end: date) -> list[date]:
        """Trading days d with start < d <= end (the days a closed app missed)."""
        out: list[date] = []
        day = start
        while True:
            day = self.next_trading_day(day)
            if day > end:
                return out
            out.append(day)


_lock = threading.Lock()
_loaded: dict[str, TradingCalendar] = {}


def cache_dir() -> Path:
    """``DEEPALPHA_CACHE_DIR``, else the platform cache directory: calendars, model replies."""
    env = os.environ.get("DEEPALPHA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir  # noqa: PLC0415 - only needed when caching

    return Path(user_cache_dir("deepalpha"))


def _build(code: str) -> TradingCalendar:
    import exchange_calendars as xc  # noqa: PLC0415 - heavy (pandas); only on a cache miss

    cal = xc.get_calendar(code, start=FIRST_DAY.isoformat())
    days = [ts.date() for ts in cal.sessions]
    half = frozenset(ts.date() for ts in cal.early_closes)
    return TradingCalendar(code, days, half)


def _cache_file(code: str) -> Path:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        ver = version("exchange-calendars")
    except Exception:  # pragma: no cover - metadata missing only in odd installs
        ver = "unknown"
    return cache_dir() / f"calendar-{code}-{ver}.json"


def calendar_for(market: Market) -> TradingCalendar:
    """The trading calendar of a market, built once per process and cached on disk."""
    code = CALENDAR_CODE[market]
    with _lock:
        cal = _loaded.get(code)
        if cal is not None:
            return cal
        path = _cache_file(code)
        try:
            raw = json.loads(path.read_text("utf-8"))
            cal = TradingCalendar(
                code,
                [date.fromisoformat(x) for x in raw["days"]],
                frozenset(date.fromisoformat(x) for x in raw["half_days"]),
            )
        except (OSError, ValueError, KeyError):
            cal = _build(code)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(
                    json.dumps(
                        {
                            "days": [x.isoformat() for x in cal.days],
                            "half_days": sorted(x.isoformat() for x in cal.half_days),
                        }
                    ),
                    "utf-8",
                )
                tmp.replace(path)
            except OSError:
                pass  # a read-only cache only costs the rebuild next time
        _loaded[code] = cal
        return cal
