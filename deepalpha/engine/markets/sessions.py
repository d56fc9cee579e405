"""Trading sessions of the A-share and Hong Kong markets, by date, in exchange-local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from deepalpha.engine.markets.dated import Dated
from deepalpha.engine.markets.symbols import Market

SHANGHAI = ZoneInfo("Asia/Shanghai")
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
MARKET_TZ = {Market.CN: SHANGHAI, Market.HK: HONG_KONG}


class Phase(StrEnum):
    CLOSED = "closed"
    PRE_OPEN = "pre_open"  # opening call auction / HK pre-opening session
    CONTINUOUS = "continuous"
    LUNCH_BREAK = "lunch_break"
    CLOSING_AUCTION = "closing_auction"


@dataclass(frozen=True, slots=True)
class Segment:
    start: time
    end: time
    phase: Phase


def _t(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def _day(*spec: tuple[str, str, Phase]) -> tuple[Segment, ...]:
    return tuple(Segment(_t(a), _t(b), p) for a, b, p in spec)


P = Phase
# SSE/SZSE: opening call auction 09:15–09:25 (orders accepted 09:25–09:30, matched at 09:30),
# continuous 09:30–11:30 and 13:00–14:57, closing call auction 14:57–15:00. SZSE had the closing
# auction since 2006; SSE adopted it on 2018-08-20, before which SSE traded continuously to 15:00.
A_SESSIONS: Dated[tuple[Segment, ...]] = Dated(
    "A-share sessions",
    [
        (
            date(1990, 1, 1),
            _day(
                ("09:15", "09:30", P.PRE_OPEN),
                ("09:30", "11:30", P.CONTINUOUS),
                ("11:30", "13:00", P.LUNCH_BREAK),
                ("13:00", "15:00", P.CONTINUOUS),
            ),
        ),
        (
            date(2018, 8, 20),
            _day(
                ("09:15", "09:30", P.PRE_OPEN),
                ("09:30", "11:30", P.CONTINUOUS),
                ("11:30", "13:00", P.LUNCH_BREAK),
                ("13:00", "14:57", P.CONTINUOUS),
                ("14:57", "15:00", P.CLOSING_AUCTION),
            ),
        ),
    ],
)
# HKEX: pre-opening session 09:00–09:30, continuous 09:30–12:00 and 13:00–16:00 (the 12:00–13:00
# lunch break since 2012-03-05), closing auction session 16:00–16:10 (since 2016-07-25).
# Half days (Christmas Eve, New Year's Eve, Lunar New Year's Eve) trade the morning only, with
# the closing auction 12:00–12:10.
HK_SESSIONS: Dated[tuple[Segment, ...]] = Dated(
    "HK sessions",
    [
        (
            date(1990, 1, 1),
            _day(
                ("09:00", "09:30", P.PRE_OPEN),
                ("09:30", "12:00", P.CONTINUOUS),
                ("12:00", "13:00", P.LUNCH_BREAK),
                ("13:00", "16:00", P.CONTINUOUS),
            ),
        ),
        (
            date(2016, 7, 25),
            _day(
                ("09:00", "09:30", P.PRE_OPEN),
                ("09:30", "12:00", P.CONTINUOUS),
                ("12:00", "13:00", P.LUNCH_BREAK),
                ("13:00", "16:00", P.CONTINUOUS),
                ("16:00", "16:10", P.CLOSING_AUCTION),
            ),
        ),
    ],
)
HK_HALF_DAY = _day(
    ("09:00", "09:30", P.PRE_OPEN),
    ("09:30", "12:00", P.CONTINUOUS),
    ("12:00", "12:10", P.CLOSING_AUCTION),
)


def segments(market: Market, day: date, *, half_day: bool = False) -> tuple[Segment, ...]:
    if market is Market.HK:
        return HK_HALF_DAY if half_day else HK_SESSIONS.at(day)
    return A_SESSIONS.at(day)


def phase_at(
    market: Market, moment: datetime, *, trading_day: bool = True, half_day: bool = False
) -> Phase:
    """The session phase at an aware moment (converted to exchange-local time)."""
    if not trading_day:
        return Phase.CLOSED
    local = moment.astimezone(MARKET_TZ[market])
    t = local.time()
    for seg in segments(market, local.date(), half_day=half_day):
        if seg.start <= t < seg.end:
            return seg.phase
    return Phase.CLOSED


def open_time(market: Market, day: date, *, half_day: bool = False) -> datetime:
    first = segments(market, day, half_day=half_day)[0]
    return datetime.combine(day, first.start, MARKET_TZ[market])


def close_time(market: Market, day: date, *, half_day: bool = False) -> datetime:
    """The end of the last session of the day (after the closing auction)."""
    last = segments(market, day, half_day=half_day)[-1]
    return datetime.combine(day, last.end, MARKET_TZ[market])


def continuous_minutes(market: Market, day: date, *, half_day: bool = False) -> int:
    total = timedelta()
    for seg in segments(market, day, half_day=half_day):
        if seg.phase is Phase.CONTINUOUS:
            total += datetime.combine(day, seg.end) - datetime.combine(day, seg.start)
    return int(total.total_seconds() // 60)


def accepts_orders(phase: Phase) -> bool:
    """Orders may be entered in the auctions and in continuous trading, not at lunch or closed."""
    return phase in (Phase.PRE_OPEN, Phase.CONTINUOUS, Phase.CLOSING_AUCTION)
