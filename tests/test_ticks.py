"""Tick sizes: A-share ¥0.01 / funds ¥0.001, and the dated HKEX spread table (SPEC §3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.rules import hk_tick, snap_to_tick, tick_error, tick_size, tick_up

D = Decimal
REG = InstrumentRegistry.default()
MOUTAI = REG.get("600519.SH")
ETF = REG.get("510300.SH")
TENCENT = REG.get("00700.HK")
BEFORE = date(2025, 8, 1)  # the last trading day on the old spread table
REFORM = date(2025, 8, 4)  # HKEX spread-table reform, phase 1, effective 2025-08-04


# SSE/SZSE trading rules 3.3.x: stocks ¥0.01, funds (ETFs) ¥0.001.
def test_a_share_ticks() -> None:
    day = date(2024, 3, 1)
    assert tick_size(MOUTAI, D("1688.00"), day) == D("0.01")
    assert tick_size(ETF, D("3.855"), day) == D("0.001")
    assert tick_error(MOUTAI, D("1688.01"), day) is None
    assert tick_error(ETF, D("3.855"), day) is None
    assert tick_error(MOUTAI, D("1688.005"), day) == (
        "price 1,688.005 is not a multiple of the tick 0.01 for 600519.SH"
    )
    assert tick_error(ETF, D("3.8555"), day) == (
        "price 3.8555 is not a multiple of the tick 0.001 for 510300.SH"
    )


def test_non_positive_price_is_refused() -> None:
    assert tick_error(MOUTAI, D("0"), date(2024, 3, 1)) == "price 0.00 must be positive"
    assert tick_error(MOUTAI, D("-1.00"), date(2024, 3, 1)) == "price -1.00 must be positive"


# HKEX spread table (Part A): band lower < p <= upper. Bands that did not change in 2025.
@pytest.mark.parametrize(
    ("price", "tick"),
    [
        ("0.01", "0.001"),
        ("0.25", "0.001"),
        ("0.255", "0.005"),
        ("0.50", "0.005"),
        ("0.51", "0.01"),
        ("10.00", "0.01"),
        ("50.05", "0.05"),
        ("100.00", "0.05"),
        ("100.10", "0.10"),
        ("200.00", "0.10"),
        ("200.20", "0.20"),
        ("500.00", "0.20"),
        ("500.50", "0.50"),
        ("1000.00", "0.50"),
        ("1001", "1"),
        ("2000", "1"),
        ("2002", "2"),
        ("5000", "2"),
        ("5005", "5"),
        ("9995", "5"),
    ],
)
@pytest.mark.parametrize("day", [BEFORE, REFORM])
def test_hk_unchanged_bands(price: str, tick: str, day: date) -> None:
    assert hk_tick(D(price), day) == D(tick)


def test_hk_ten_to_twenty_band_before_and_after_2025_08_04() -> None:
    assert hk_tick(D("10.02"), BEFORE) == D("0.02")
    assert hk_tick(D("20.00"), BEFORE) == D("0.02")
    assert hk_tick(D("10.01"), REFORM) == D("0.01")
    assert hk_tick(D("20.00"), REFORM) == D("0.01")
    # 10.00 sits in the 0.50–10 band either way.
    assert tick_error(TENCENT, D("10.00"), BEFORE) is None
    assert tick_error(TENCENT, D("10.02"), BEFORE) is None
    assert tick_error(TENCENT, D("10.01"), BEFORE) == (
        "price 10.01 is not a multiple of the tick 0.02 for 00700.HK"
    )
    assert tick_error(TENCENT, D("10.01"), REFORM) is None
    assert tick_error(TENCENT, D("10.02"), REFORM) is None


def test_hk_twenty_to_fifty_band_before_and_after_2025_08_04() -> None:
    assert hk_tick(D("20.05"), BEFORE) == D("0.05")
    assert hk_tick(D("50.00"), BEFORE) == D("0.05")
    assert hk_tick(D("20.02"), REFORM) == D("0.02")
    assert hk_tick(D("50.00"), REFORM) == D("0.02")
    assert tick_error(TENCENT, D("20.02"), BEFORE) == (
        "price 20.02 is not a multiple of the tick 0.05 for 00700.HK"
    )
    assert tick_error(TENCENT, D("20.02"), REFORM) is None
    assert tick_error(TENCENT, D("20.05"), REFORM) == (
        "price 20.05 is not a multiple of the tick 0.02 for 00700.HK"
    )


def test_hk_fifty_to_hundred_is_five_cents() -> None:
    assert tick_error(TENCENT, D("50.05"), REFORM) is None
    assert tick_error(TENCENT, D("50.02"), REFORM) == (
        "price 50.02 is not a multiple of the tick 0.05 for 00700.HK"
    )


def test_hk_price_range() -> None:
    assert tick_error(TENCENT, D("10000"), REFORM) == (
        "price 10,000.00 is outside HKEX's range 0.01–9,995.00"
    )
    assert tick_error(TENCENT, D("0.005"), REFORM) == (
        "price 0.005 is outside HKEX's range 0.01–9,995.00"
    )
    assert tick_error(TENCENT, D("9995"), REFORM) is None
    assert tick_error(TENCENT, D("350.30"), REFORM) == (
        "price 350.30 is not a multiple of the tick 0.20 for 00700.HK"
    )


def test_tick_up_crosses_band_boundaries() -> None:
    assert tick_up(TENCENT, D("10.00"), BEFORE) == D("10.02")
    assert tick_up(TENCENT, D("10.00"), REFORM) == D("10.01")
    assert tick_up(TENCENT, D("99.95"), REFORM) == D("100.00")
    assert tick_up(TENCENT, D("100.00"), REFORM) == D("100.10")
    assert tick_up(MOUTAI, D("1688.00"), REFORM) == D("1688.01")


def test_snap_to_tick() -> None:
    assert snap_to_tick(TENCENT, D("350.33"), REFORM, up=True) == D("350.40")
    assert snap_to_tick(TENCENT, D("350.33"), REFORM, up=False) == D("350.20")
    assert snap_to_tick(ETF, D("3.8551"), REFORM, up=True) == D("3.856")
