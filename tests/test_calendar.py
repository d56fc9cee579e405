"""Trading days from exchange-calendars (XSHG, XHKG with half days), cached as plain data
(SPEC §3; STYLE: the hot path never touches pandas)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from deepalpha.engine.markets import calendar as calmod
from deepalpha.engine.markets.calendar import TradingCalendar, calendar_for
from deepalpha.engine.markets.symbols import Market

# exchange-calendars still uses pandas APIs that pandas 3 deprecates (Pandas4Warning).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:exchange_calendars|pandas")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private cache dir and a fresh in-process cache, so the real build path runs once."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPALPHA_CACHE_DIR", str(path))
        mp.setattr(calmod, "_loaded", {})
        yield path


@pytest.fixture(scope="module")
def xshg(cache_dir: Path) -> TradingCalendar:
    return calendar_for(Market.CN)


@pytest.fixture(scope="module")
def xhkg(cache_dir: Path) -> TradingCalendar:
    return calendar_for(Market.HK)


def test_spring_festival_2026_closed_on_xshg(xshg: TradingCalendar) -> None:
    """SSE 2026 holiday notice: Spring Festival closure 2026-02-16 (Mon) to 2026-02-23 (Mon)."""
    assert xshg.code == "XSHG"
    assert xshg.is_trading_day(date(2026, 2, 13))
    for offset in range(8):
        assert not xshg.is_trading_day(date(2026, 2, 16) + timedelta(days=offset))
    assert xshg.is_trading_day(date(2026, 2, 24))
    assert xshg.next_trading_day(date(2026, 2, 13)) == date(2026, 2, 24)
    assert xshg.previous_trading_day(date(2026, 2, 24)) == date(2026, 2, 13)


def test_national_day_2025_closed_on_xshg(xshg: TradingCalendar) -> None:
    """SSE 2025 notice: National Day/Mid-Autumn closure 2025-10-01 to 2025-10-08."""
    assert not xshg.is_trading_day(date(2025, 10, 1))
    assert not xshg.is_trading_day(date(2025, 10, 8))
    assert xshg.next_trading_day(date(2025, 9, 30)) == date(2025, 10, 9)
    assert xshg.trading_days_between(date(2025, 9, 29), date(2025, 10, 10)) == [
        date(2025, 9, 30),
        date(2025, 10, 9),
        date(2025, 10, 10),
    ]


def test_weekends_are_closed(xshg: TradingCalendar, xhkg: TradingCalendar) -> None:
    assert not xshg.is_trading_day(date(2024, 3, 2))
    assert not xhkg.is_trading_day(date(2024, 3, 3))
    assert xshg.next_trading_day(date(2024, 3, 1)) == date(2024, 3, 4)
    assert xshg.previous_trading_day(date(2024, 3, 4)) == date(2024, 3, 1)


def test_xhkg_half_days(xhkg: TradingCalendar) -> None:
    """HKEX half days: Christmas Eve, New Year's Eve, Lunar New Year's Eve (morning only)."""
    assert xhkg.code == "XHKG"
    for day in (date(2025, 12, 24), date(2025, 12, 31), date(2026, 2, 16)):
        assert xhkg.is_trading_day(day)
        assert xhkg.is_half_day(day)
    assert not xhkg.is_half_day(date(2025, 12, 23))
    assert not xhkg.is_trading_day(date(2025, 12, 25))  # Christmas Day
    assert not xhkg.is_trading_day(date(2025, 12, 26))  # the first weekday after Christmas
    assert xhkg.next_trading_day(date(2025, 12, 24)) == date(2025, 12, 29)


def test_hk_and_shanghai_holidays_differ(xshg: TradingCalendar, xhkg: TradingCalendar) -> None:
    # 2025-12-25: Hong Kong closed for Christmas, Shanghai open.
    assert xshg.is_trading_day(date(2025, 12, 25))
    assert not xhkg.is_trading_day(date(2025, 12, 25))


def test_past_the_last_recorded_year_weekdays_are_assumed(xshg: TradingCalendar) -> None:
    last = xshg.last_known
    assert not xshg.assumed(last)
    after = last + timedelta(days=1)
    while after.weekday() >= 5:
        after += timedelta(days=1)
    assert xshg.assumed(after)
    assert xshg.is_trading_day(after)
    assert xshg.next_trading_day(last) == after
    assert xshg.previous_trading_day(after) == last
    saturday = after + timedelta(days=(5 - after.weekday()) % 7)
    assert not xshg.is_trading_day(saturday)
    monday = saturday + timedelta(days=2)
    assert xshg.next_trading_day(saturday) == monday
    assert xshg.previous_trading_day(monday) == saturday - timedelta(days=1)


def test_no_day_before_the_first(xshg: TradingCalendar) -> None:
    with pytest.raises(LookupError, match="XSHG: no trading day before"):
        xshg.previous_trading_day(xshg.days[0])


def test_calendar_is_cached_as_plain_data(cache_dir: Path, xshg: TradingCalendar) -> None:
    files = sorted(p.name for p in cache_dir.glob("calendar-XSHG-*.json"))
    assert len(files) == 1
    raw = json.loads((cache_dir / files[0]).read_text("utf-8"))
    assert "2026-02-13" in raw["days"]
    assert "2026-02-16" not in raw["days"]
    assert raw["days"][-1] == xshg.last_known.isoformat()


def test_cache_file_is_what_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cache_dir: Path, xhkg: TradingCalendar
) -> None:
    """A later process reads the cached days and never rebuilds from exchange-calendars."""
    monkeypatch.setenv("DEEPALPHA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(calmod, "_loaded", {})
    name = next(cache_dir.glob("calendar-XHKG-*.json")).name
    (tmp_path / name).write_text(
        json.dumps({"days": ["2030-01-02", "2030-01-04"], "half_days": ["2030-01-04"]}),
        "utf-8",
    )
    cal = calendar_for(Market.HK)
    assert cal.days == [date(2030, 1, 2), date(2030, 1, 4)]
    assert not cal.is_trading_day(date(2030, 1, 3))
    assert cal.is_half_day(date(2030, 1, 4))
    assert calendar_for(Market.HK) is cal  # built once per process


def test_corrupt_cache_is_rebuilt(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cache_dir: Path, xshg: TradingCalendar
) -> None:
    monkeypatch.setenv("DEEPALPHA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(calmod, "_loaded", {})
    name = next(cache_dir.glob("calendar-XSHG-*.json")).name
    (tmp_path / name).write_text("{not json", "utf-8")
    cal = calendar_for(Market.CN)
    assert not cal.is_trading_day(date(2026, 2, 16))
    assert json.loads((tmp_path / name).read_text("utf-8"))["days"][0] == cal.days[0].isoformat()
