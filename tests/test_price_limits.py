"""Daily price limits of the A-share boards, by date (SPEC §3, Markets)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from deepalpha.engine.markets.instruments import Instrument, InstrumentRegistry, a_share
from deepalpha.engine.markets.rules import LISTED, DayStatus, PriceLimitRules

D = Decimal
RULES = PriceLimitRules()
REG = InstrumentRegistry.default()
MAIN = a_share("600519.SH")
SZ_MAIN = a_share("000001.SZ")
CHINEXT = a_share("300750.SZ")
STAR = a_share("688981.SH")
BSE = a_share("830799.BJ")
ETF = REG.get("510300.SH")
ST = DayStatus(st=True)


def band(
    inst: Instrument, day: date, pre_close: str, status: DayStatus = LISTED
) -> tuple[Decimal, Decimal] | None:
    return RULES.band(inst, day, D(pre_close), status)


# SSE/SZSE daily limit ±10 % from 1996-12-16; no limit before it.
def test_main_board_ten_percent_from_1996_12_16() -> None:
    assert RULES.ratio(MAIN, date(1996, 12, 16)) == D("0.1")
    assert RULES.ratio(SZ_MAIN, date(2024, 3, 1)) == D("0.1")
    assert RULES.ratio(MAIN, date(1996, 12, 13)) is None
    assert band(MAIN, date(1996, 12, 13), "10.00") is None
    assert band(MAIN, date(2024, 3, 1), "10.00") == (D("9.00"), D("11.00"))


# SZSE ChiNext registration reform, effective 2020-08-24: ±20 %, ST included; ±10 % before.
def test_chinext_ten_percent_before_2020_08_24_twenty_from_it() -> None:
    assert RULES.ratio(CHINEXT, date(2020, 8, 21)) == D("0.1")
    assert RULES.ratio(CHINEXT, date(2020, 8, 24)) == D("0.2")
    assert band(CHINEXT, date(2020, 8, 21), "100.00") == (D("90.00"), D("110.00"))
    assert band(CHINEXT, date(2020, 8, 24), "100.00") == (D("80.00"), D("120.00"))


def test_chinext_st_is_twenty_percent_from_the_reform() -> None:
    """ChiNext ST stocks: ±5 % before 2020-08-24, ±20 % like every ChiNext stock from it."""
    assert RULES.ratio(CHINEXT, date(2020, 8, 21), ST) == D("0.05")
    assert RULES.ratio(CHINEXT, date(2020, 8, 24), ST) == D("0.2")
    assert RULES.ratio(CHINEXT, date(2025, 7, 7), ST) == D("0.2")


# SSE STAR Market trading rules (2019-07-22): ±20 %, no limit in the first 5 trading days.
def test_star_twenty_percent_and_no_limit_in_first_five_days() -> None:
    day = date(2024, 3, 1)
    assert RULES.ratio(STAR, day) == D("0.2")
    assert RULES.ratio(STAR, day, ST) == D("0.2")
    for n in range(1, 6):
        assert RULES.ratio(STAR, day, DayStatus(listing_day=n)) is None
    assert RULES.ratio(STAR, day, DayStatus(listing_day=6)) == D("0.2")
    assert band(STAR, day, "50.00") == (D("40.00"), D("60.00"))


def test_chinext_no_limit_in_first_five_days_from_the_reform() -> None:
    day = date(2020, 8, 24)
    assert RULES.ratio(CHINEXT, day, DayStatus(listing_day=5)) is None
    assert RULES.ratio(CHINEXT, day, DayStatus(listing_day=6)) == D("0.2")
    # Before the reform only the first day was free (of the ±10 % band).
    before = date(2020, 8, 21)
    assert RULES.ratio(CHINEXT, before, DayStatus(listing_day=1)) is None
    assert RULES.ratio(CHINEXT, before, DayStatus(listing_day=2)) == D("0.1")


# BSE trading rules (2021-11-15): ±30 %, no limit on the first day.
def test_beijing_thirty_percent() -> None:
    day = date(2024, 3, 1)
    assert RULES.ratio(BSE, day) == D("0.3")
    assert band(BSE, day, "10.00") == (D("7.00"), D("13.00"))
    assert RULES.ratio(BSE, day, DayStatus(listing_day=1)) is None
    assert RULES.ratio(BSE, day, DayStatus(listing_day=2)) == D("0.3")


# Main-board risk-warning stocks: ±5 %; SSE/SZSE notice moves them to ±10 % from 2025-07-07.
def test_main_board_st_five_then_ten_percent_from_2025_07_07() -> None:
    assert RULES.ratio(MAIN, date(2025, 7, 4), ST) == D("0.05")
    assert RULES.ratio(SZ_MAIN, date(2025, 7, 4), ST) == D("0.05")
    assert RULES.ratio(MAIN, date(2025, 7, 7), ST) == D("0.1")
    assert band(MAIN, date(2025, 7, 4), "4.00", ST) == (D("3.80"), D("4.20"))
    assert band(MAIN, date(2025, 7, 7), "4.00", ST) == (D("3.60"), D("4.40"))


def test_st_date_is_a_setting() -> None:
    later = PriceLimitRules(st_ten_percent_from=date(2026, 1, 5))
    assert later.ratio(MAIN, date(2025, 7, 7), ST) == D("0.05")
    assert later.ratio(MAIN, date(2026, 1, 2), ST) == D("0.05")
    assert later.ratio(MAIN, date(2026, 1, 5), ST) == D("0.1")
    earlier = PriceLimitRules(st_ten_percent_from=date(2020, 1, 2))
    assert earlier.ratio(MAIN, date(2020, 1, 2), ST) == D("0.1")
    # The setting moves the ST rule only: a listed non-ST stock stays at ±10 %.
    assert later.ratio(MAIN, date(2025, 7, 7)) == D("0.1")


def test_no_limit_on_the_first_listing_day() -> None:
    """SSE/SZSE: no daily limit on the first trading day after an IPO (any era)."""
    first = DayStatus(listing_day=1)
    assert RULES.ratio(MAIN, date(2015, 6, 1), first) is None
    assert RULES.ratio(MAIN, date(2015, 6, 1), DayStatus(listing_day=2)) == D("0.1")


# Main-board registration reform, effective 2023-04-10: no limit in the first 5 trading days.
def test_main_board_no_limit_in_first_five_days_from_2023_04_10() -> None:
    third = DayStatus(listing_day=3)
    assert RULES.ratio(MAIN, date(2023, 4, 7), third) == D("0.1")
    assert RULES.ratio(MAIN, date(2023, 4, 10), third) is None
    assert RULES.ratio(MAIN, date(2023, 4, 10), DayStatus(listing_day=5)) is None
    assert RULES.ratio(MAIN, date(2023, 4, 10), DayStatus(listing_day=6)) == D("0.1")


def test_exchange_lifted_limit_day() -> None:
    assert RULES.ratio(MAIN, date(2024, 3, 1), DayStatus(no_limit=True)) is None


def test_hong_kong_has_no_daily_limit() -> None:
    assert band(REG.get("00700.HK"), date(2024, 3, 1), "300.00") is None


# SSE/SZSE: the limit price is the reference price × (1 ± limit), rounded half-up to the tick.
@pytest.mark.parametrize(
    ("inst", "pre_close", "expected"),
    [
        (MAIN, "10.05", (D("9.05"), D("11.06"))),  # 11.055 → 11.06; 9.045 → 9.05
        (MAIN, "10.04", (D("9.04"), D("11.04"))),  # 11.044 → 11.04; 9.036 → 9.04
        (MAIN, "1688.00", (D("1519.20"), D("1856.80"))),
        (STAR, "33.33", (D("26.66"), D("40.00"))),  # 39.996 → 40.00; 26.664 → 26.66
        (ETF, "3.855", (D("3.470"), D("4.241"))),  # ¥0.001 tick: 4.2405 → 4.241; 3.4695 → 3.470
    ],
)
def test_band_rounds_half_up_to_the_tick(
    inst: Instrument, pre_close: str, expected: tuple[Decimal, Decimal]
) -> None:
    assert band(inst, date(2024, 3, 1), pre_close) == expected


def test_st_band_rounding() -> None:
    # 2.25 × 1.05 = 2.3625 → 2.36; 2.25 × 0.95 = 2.1375 → 2.14
    assert band(MAIN, date(2024, 3, 1), "2.25", ST) == (D("2.14"), D("2.36"))


def test_limit_down_never_below_one_tick() -> None:
    assert band(MAIN, date(2024, 3, 1), "0.01") == (D("0.01"), D("0.01"))
