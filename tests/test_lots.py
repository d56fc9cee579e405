"""Board lots: A-share buys in 100s, STAR from 200 in steps of 1, odd lots sold whole, HK whole
board lots per stock (SPEC §3)."""

from __future__ import annotations

import pytest

from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.rules import buy_lot_error, sell_lot_error

REG = InstrumentRegistry.default()
MOUTAI = REG.get("600519.SH")
CATL = REG.get("300750.SZ")
SMIC = REG.get("688981.SH")
TENCENT = REG.get("00700.HK")
HSBC = REG.get("00005.HK")


# SSE/SZSE trading rules 3.3.x (in force throughout): buys in multiples of 100 shares.
def test_a_share_buys_in_hundreds() -> None:
    assert buy_lot_error(MOUTAI, 100) is None
    assert buy_lot_error(MOUTAI, 1200) is None
    assert buy_lot_error(CATL, 300) is None
    assert buy_lot_error(MOUTAI, 150) == (
        "150 shares is not a multiple of the board lot 100 for 600519.SH"
    )
    assert buy_lot_error(CATL, 50) == (
        "50 shares is not a multiple of the board lot 100 for 300750.SZ"
    )


@pytest.mark.parametrize("qty", [0, -100])
def test_non_positive_quantity(qty: int) -> None:
    assert buy_lot_error(MOUTAI, qty) == f"quantity {qty} must be a positive whole number of shares"
    assert sell_lot_error(MOUTAI, qty, 500) == (
        f"quantity {qty} must be a positive whole number of shares"
    )


# SSE STAR Market trading rules art. 18 (2019-07-22): at least 200 shares, then steps of 1.
def test_star_buys_from_200_in_steps_of_one() -> None:
    assert buy_lot_error(SMIC, 200) is None
    assert buy_lot_error(SMIC, 201) is None
    assert buy_lot_error(SMIC, 333) is None
    assert buy_lot_error(SMIC, 199) == (
        "199 shares is below the STAR minimum of 200 shares for 688981.SH"
    )
    assert buy_lot_error(SMIC, 100) is not None


def test_star_sell_remainder_below_200_is_sold_whole() -> None:
    assert sell_lot_error(SMIC, 201, 350) is None
    assert sell_lot_error(SMIC, 350, 350) is None
    assert sell_lot_error(SMIC, 150, 150) is None  # the whole remainder
    assert sell_lot_error(SMIC, 150, 350) == (
        "150 shares is below the STAR minimum of 200; a remainder below 200 must be sold whole "
        "(350 shares) for 688981.SH"
    )


# SSE/SZSE trading rules: 余额不足 100 股部分，应当一次性申报卖出 (an odd-lot remainder is sold
# in one order, whole).
@pytest.mark.parametrize(
    ("held", "qty", "ok"),
    [
        (250, 250, True),
        (250, 150, True),
        (250, 50, True),
        (250, 200, True),
        (250, 30, False),
        (250, 120, False),
        (300, 150, False),
        (300, 300, True),
        (50, 50, True),
        (50, 20, False),
    ],
)
def test_a_share_odd_lot_sells_only_whole(held: int, qty: int, ok: bool) -> None:
    err = sell_lot_error(MOUTAI, qty, held)
    assert (err is None) is ok, err


def test_odd_lot_message_names_the_numbers() -> None:
    assert sell_lot_error(MOUTAI, 30, 250) == (
        "30 shares is not a multiple of the board lot 100 for 600519.SH; "
        "the odd lot of 50 shares can only be sold whole"
    )
    assert sell_lot_error(MOUTAI, 150, 300) == (
        "150 shares is not a multiple of the board lot 100 for 600519.SH"
    )


# HKEX: orders in whole board lots set per stock; odd lots trade in a separate market.
def test_hk_whole_lots_only() -> None:
    assert buy_lot_error(TENCENT, 100) is None
    assert buy_lot_error(TENCENT, 150) == (
        "150 shares is not a multiple of the board lot 100 for 00700.HK"
    )
    assert buy_lot_error(HSBC, 800) is None
    assert buy_lot_error(HSBC, 100) == (
        "100 shares is not a multiple of the board lot 400 for 00005.HK"
    )
    assert sell_lot_error(TENCENT, 150, 150) == (
        "150 shares is not a multiple of the board lot 100 for 00700.HK "
        "(odd lots trade in a separate market)"
    )
    assert sell_lot_error(HSBC, 400, 1200) is None
