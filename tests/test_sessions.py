"""Trading sessions by date in exchange-local time (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from deepalpha.engine.markets.sessions import (
    HONG_KONG,
    SHANGHAI,
    Phase,
    accepts_orders,
    close_time,
    continuous_minutes,
    open_time,
    phase_at,
)
from deepalpha.engine.markets.symbols import Market

CN, HK = Market.CN, Market.HK
P = Phase


def sh(day: date, hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return datetime.combine(day, time(int(h), int(m)), SHANGHAI)


def hk(day: date, hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return datetime.combine(day, time(int(h), int(m)), HONG_KONG)


# SSE/SZSE: opening call auction 09:15–09:25 (matched at 09:30), continuous 09:30–11:30 and
# 13:00–14:57, closing call auction 14:57–15:00 (SSE since 2018-08-20).
@pytest.mark.parametrize(
    ("hhmm", "phase"),
    [
        ("09:00", P.CLOSED),
        ("09:14", P.CLOSED),
        ("09:15", P.PRE_OPEN),
        ("09:25", P.PRE_OPEN),
        ("09:29", P.PRE_OPEN),
        ("09:30", P.CONTINUOUS),
        ("11:29", P.CONTINUOUS),
        ("11:30", P.LUNCH_BREAK),
        ("12:59", P.LUNCH_BREAK),
        ("13:00", P.CONTINUOUS),
        ("14:56", P.CONTINUOUS),
        ("14:57", P.CLOSING_AUCTION),
        ("14:59", P.CLOSING_AUCTION),
        ("15:00", P.CLOSED),
        ("20:00", P.CLOSED),
    ],
)
def test_a_share_phases(hhmm: str, phase: Phase) -> None:
    assert phase_at(CN, sh(date(2024, 3, 1), hhmm)) is phase


def test_sse_closing_auction_from_2018_08_20() -> None:
    """SSE adopted the 14:57–15:00 closing call auction on 2018-08-20; before it, continuous
    trading ran to 15:00."""
    assert phase_at(CN, sh(date(2018, 8, 17), "14:58")) is P.CONTINUOUS
    assert phase_at(CN, sh(date(2018, 8, 17), "15:00")) is P.CLOSED
    assert phase_at(CN, sh(date(2018, 8, 20), "14:58")) is P.CLOSING_AUCTION


# HKEX: pre-opening 09:00–09:30, continuous 09:30–12:00 and 13:00–16:00, closing auction
# session 16:00–16:10 (since 2016-07-25).
@pytest.mark.parametrize(
    ("hhmm", "phase"),
    [
        ("08:59", P.CLOSED),
        ("09:00", P.PRE_OPEN),
        ("09:29", P.PRE_OPEN),
        ("09:30", P.CONTINUOUS),
        ("11:59", P.CONTINUOUS),
        ("12:00", P.LUNCH_BREAK),
        ("12:59", P.LUNCH_BREAK),
        ("13:00", P.CONTINUOUS),
        ("15:59", P.CONTINUOUS),
        ("16:00", P.CLOSING_AUCTION),
        ("16:09", P.CLOSING_AUCTION),
        ("16:10", P.CLOSED),
    ],
)
def test_hk_phases(hhmm: str, phase: Phase) -> None:
    assert phase_at(HK, hk(date(2024, 3, 1), hhmm)) is phase


def test_hk_closing_auction_from_2016_07_25() -> None:
    assert phase_at(HK, hk(date(2016, 7, 22), "16:05")) is P.CLOSED
    assert phase_at(HK, hk(date(2016, 7, 25), "16:05")) is P.CLOSING_AUCTION


def test_hk_half_day_trades_the_morning_only() -> None:
    """Half days (Christmas Eve, New Year's Eve, Lunar New Year's Eve): morning session, then
    the closing auction 12:00–12:10."""
    day = date(2025, 12, 24)
    assert phase_at(HK, hk(day, "09:00"), half_day=True) is P.PRE_OPEN
    assert phase_at(HK, hk(day, "11:59"), half_day=True) is P.CONTINUOUS
    assert phase_at(HK, hk(day, "12:00"), half_day=True) is P.CLOSING_AUCTION
    assert phase_at(HK, hk(day, "12:10"), half_day=True) is P.CLOSED
    assert phase_at(HK, hk(day, "14:00"), half_day=True) is P.CLOSED
    assert close_time(HK, day, half_day=True) == hk(day, "12:10")
    assert continuous_minutes(HK, day, half_day=True) == 150


def test_aware_utc_moment_is_converted_to_exchange_time() -> None:
    # 01:30 UTC is 09:30 in Shanghai and Hong Kong (UTC+8, no DST).
    moment = datetime(2024, 3, 1, 1, 30, tzinfo=UTC)
    assert phase_at(CN, moment) is P.CONTINUOUS
    assert phase_at(HK, moment) is P.CONTINUOUS
    # 06:57 UTC is 14:57 in Shanghai (closing auction), still continuous in Hong Kong.
    late = datetime(2024, 3, 1, 6, 57, tzinfo=UTC)
    assert phase_at(CN, late) is P.CLOSING_AUCTION
    assert phase_at(HK, late) is P.CONTINUOUS
    # 16:00 UTC on 29 Feb is 00:00 on 1 Mar locally: closed.
    assert phase_at(CN, datetime(2024, 2, 29, 16, 0, tzinfo=UTC)) is P.CLOSED
    # The local date picks the session table: 06:58 UTC on 2018-08-20 is 14:58 in Shanghai.
    assert phase_at(CN, datetime(2018, 8, 20, 6, 58, tzinfo=UTC)) is P.CLOSING_AUCTION


def test_non_trading_day_is_closed() -> None:
    assert phase_at(CN, sh(date(2024, 3, 2), "10:00"), trading_day=False) is P.CLOSED


def test_open_close_and_minutes() -> None:
    day = date(2024, 3, 1)
    assert open_time(CN, day) == sh(day, "09:15")
    assert close_time(CN, day) == sh(day, "15:00")
    assert continuous_minutes(CN, day) == 237  # 120 + 117
    assert continuous_minutes(CN, date(2018, 8, 17)) == 240
    assert open_time(HK, day) == hk(day, "09:00")
    assert close_time(HK, day) == hk(day, "16:10")
    assert continuous_minutes(HK, day) == 330


def test_orders_accepted_in_auctions_and_continuous_only() -> None:
    assert accepts_orders(P.PRE_OPEN)
    assert accepts_orders(P.CONTINUOUS)
    assert accepts_orders(P.CLOSING_AUCTION)
    assert not accepts_orders(P.LUNCH_BREAK)
    assert not accepts_orders(P.CLOSED)
