"""Trading costs by date: commission (a setting), stamp duty, transfer fee, HK levies and fees,
each item rounded as its rule says (SPEC §3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise

import pytest

from deepalpha.engine.markets.fees import (
    Commission,
    FeeBreakdown,
    FeeSchedule,
    estimate_fees,
    fill_fees,
    order_fees,
)
from deepalpha.engine.markets.symbols import Market

D = Decimal
CN, HK = Market.CN, Market.HK
DEFAULT = FeeSchedule()
DAY = date(2024, 3, 1)


def a_fees(sell: bool, amount: str, day: date = DAY) -> FeeBreakdown:
    return order_fees(CN, sell, D(amount), day, DEFAULT)


def hk_fees(amount: str, day: date = DAY, sell: bool = False) -> FeeBreakdown:
    return order_fees(HK, sell, D(amount), day, DEFAULT)


# --- A-shares -----------------------------------------------------------------------------


def test_a_commission_minimum_five_yuan_per_order() -> None:
    """Default broker commission 0.025 % with a ¥5 minimum per order (a setting)."""
    small = a_fees(False, "10000")  # 2.50 → the ¥5 minimum
    assert small == FeeBreakdown(commission=D("5.00"), transfer_fee=D("0.10"))
    assert small.total == D("5.10")
    large = a_fees(False, "1000000")
    assert large.commission == D("250.00")
    assert large.transfer_fee == D("10.00")
    assert large.stamp_duty == D("0")


def test_a_commission_is_a_setting() -> None:
    cheap = FeeSchedule(cn=Commission(D("0.0001"), D("0")))
    assert order_fees(CN, False, D("10000"), DAY, cheap).commission == D("1.00")
    assert order_fees(CN, False, D("10000"), DAY, cheap).total == D("1.10")


def test_a_minimum_applies_once_per_order_across_partial_fills() -> None:
    """Two fills of 5,000 each: the order's commission is ¥5 (2.50 is below the minimum),
    charged once — the second fill adds nothing — so the order pays 5.00, not 10.00."""
    first = fill_fees(CN, False, D("0"), D("5000"), DAY, DEFAULT)
    second = fill_fees(CN, False, D("5000"), D("10000"), DAY, DEFAULT)
    assert first.commission == D("5.00")
    assert second.commission == D("0.00")
    assert first.commission + second.commission == D("5.00")
    assert first + second == order_fees(CN, False, D("10000"), DAY, DEFAULT)
    # Once the order passes ¥20,000 the rate takes over and later fills pay the increment.
    third = fill_fees(CN, False, D("10000"), D("40000"), DAY, DEFAULT)
    assert third.commission == D("5.00")  # 10.00 − 5.00
    assert (first + second + third).commission == D("10.00")


def test_a_stamp_duty_sells_only_halved_from_2023_08_28() -> None:
    """MoF/STA announcement 2023 No. 39: stamp duty halved to 0.05 % from 2023-08-28; 0.1 %
    on sells only from 2008-09-19."""
    assert a_fees(False, "100000", date(2023, 8, 28)).stamp_duty == D("0")
    assert a_fees(True, "100000", date(2023, 8, 25)).stamp_duty == D("100.00")
    assert a_fees(True, "100000", date(2023, 8, 28)).stamp_duty == D("50.00")
    assert a_fees(True, "100000", date(2008, 9, 19)).stamp_duty == D("100.00")
    assert a_fees(False, "100000", date(2008, 9, 19)).stamp_duty == D("0")


def test_a_stamp_duty_both_sides_before_2008_09_19() -> None:
    """0.1 % on both sides from 2008-04-24 to 2008-09-18; 0.3 % both sides from 2007-05-30."""
    assert a_fees(False, "100000", date(2008, 9, 18)).stamp_duty == D("100.00")
    assert a_fees(True, "100000", date(2008, 9, 18)).stamp_duty == D("100.00")
    assert a_fees(False, "100000", date(2008, 4, 23)).stamp_duty == D("300.00")


def test_a_transfer_fee_by_date() -> None:
    """CSDC transfer fee, both sides: 0.002 % from 2015-08-01, 0.001 % from 2022-04-29."""
    assert a_fees(False, "100000", date(2015, 8, 1)).transfer_fee == D("2.00")
    assert a_fees(True, "100000", date(2022, 4, 28)).transfer_fee == D("2.00")
    assert a_fees(False, "100000", date(2022, 4, 29)).transfer_fee == D("1.00")
    assert a_fees(True, "100000", date(2022, 4, 29)).transfer_fee == D("1.00")


def test_a_each_item_rounded_half_up_to_the_fen() -> None:
    # 1,234,500 × 0.001 % = 12.345 → 12.35 (banker's rounding would give 12.34)
    assert a_fees(False, "1234500").transfer_fee == D("12.35")
    # 24,690 × 0.05 % = 12.345 → 12.35
    assert a_fees(True, "24690").stamp_duty == D("12.35")
    # 49,380 × 0.025 % = 12.345 → 12.35
    assert a_fees(False, "49380").commission == D("12.35")
    # 1,234,567.89 sold on 2023-08-28: 308.6419725, 617.283945, 12.3456789
    sell = a_fees(True, "1234567.89", date(2023, 8, 28))
    assert sell == FeeBreakdown(
        commission=D("308.64"), stamp_duty=D("617.28"), transfer_fee=D("12.35")
    )
    assert sell.total == D("938.27")


def test_zero_amount_has_no_fees() -> None:
    assert a_fees(True, "0").total == D("0")
    assert hk_fees("0").total == D("0")


# --- Hong Kong ----------------------------------------------------------------------------


def test_hk_fees_on_a_concrete_amount() -> None:
    """HK$100,001 on 2024-03-01, either side: stamp 0.1 % rounded up to the dollar (101),
    SFC 0.0027 % (2.70), AFRC 0.00015 % (0.15), trading fee 0.00565 % (5.65), settlement
    0.002 % min 2 max 100 (2.00), commission 0.03 % (30.00)."""
    expected = FeeBreakdown(
        commission=D("30.00"),
        stamp_duty=D("101"),
        sfc_levy=D("2.70"),
        afrc_levy=D("0.15"),
        trading_fee=D("5.65"),
        settlement_fee=D("2.00"),
    )
    assert hk_fees("100001") == expected
    assert hk_fees("100001", sell=True) == expected
    assert expected.total == D("141.50")


def test_hk_stamp_duty_rates_by_date() -> None:
    """Stamp Duty Ordinance: 0.1 % before 2021-08-01, 0.13 % from 2021-08-01 to 2023-11-16,
    0.1 % from 2023-11-17; rounded up to the whole dollar."""
    assert hk_fees("100000", date(2021, 7, 30)).stamp_duty == D("100")
    assert hk_fees("100000", date(2021, 8, 1)).stamp_duty == D("130")
    assert hk_fees("100001", date(2023, 11, 16)).stamp_duty == D("131")  # 130.0013 → 131
    assert hk_fees("100000", date(2023, 11, 17)).stamp_duty == D("100")
    assert hk_fees("100001", date(2023, 11, 17)).stamp_duty == D("101")  # 100.001 → 101
    assert hk_fees("500", date(2023, 11, 17)).stamp_duty == D("1")  # 0.5 → 1


def test_hk_sfc_levy() -> None:
    """SFC transaction levy 0.0027 %, rounded to the cent."""
    assert hk_fees("1000000").sfc_levy == D("27.00")
    assert hk_fees("123456").sfc_levy == D("3.33")  # 3.333312


def test_hk_afrc_levy_since_2022_01_01() -> None:
    assert hk_fees("1000000", date(2021, 12, 31)).afrc_levy == D("0")
    assert hk_fees("1000000", date(2022, 1, 1)).afrc_levy == D("1.50")


def test_hk_trading_fee_and_tariff() -> None:
    """HKEX trading fee 0.005 % + HK$0.50 trading tariff per transaction before 2023-01-01;
    0.00565 % and no tariff since."""
    assert hk_fees("100000", date(2022, 12, 30)).trading_fee == D("5.50")
    assert hk_fees("100000", date(2023, 1, 1)).trading_fee == D("5.65")  # 5.65
    assert hk_fees("1000000", date(2023, 1, 1)).trading_fee == D("56.50")


def test_hk_settlement_fee_by_date() -> None:
    """CCASS settlement 0.002 % min HK$2 max HK$100; from 2025-06-30 0.0042 %, no min or max."""
    before, after = date(2025, 6, 27), date(2025, 6, 30)
    assert hk_fees("50000", before).settlement_fee == D("2")  # 1.00 → min 2
    assert hk_fees("500000", before).settlement_fee == D("10.00")
    assert hk_fees("10000000", before).settlement_fee == D("100")  # 200 → max 100
    assert hk_fees("50000", after).settlement_fee == D("2.10")
    assert hk_fees("10000000", after).settlement_fee == D("420.00")
    assert hk_fees("100001", after).settlement_fee == D("4.20")  # 4.200042


def test_hk_commission_minimum() -> None:
    """Default HK broker commission 0.03 %, min HK$3 (a setting)."""
    assert hk_fees("5000").commission == D("3")
    assert hk_fees("1000000").commission == D("300.00")


def test_hk_partial_fills_pay_the_order_fees() -> None:
    """Fees are on the cumulative amount: the stamp duty round-up and the old settlement
    minimum apply to the order, not to each fill."""
    day = date(2025, 6, 27)
    fills = [D("0"), D("35000.50"), D("70001"), D("100001")]
    total = FeeBreakdown()
    for before, after in pairwise(fills):
        total = total + fill_fees(HK, True, before, after, day, DEFAULT)
    assert total == order_fees(HK, True, D("100001"), day, DEFAULT)
    assert total.stamp_duty == D("101")
    assert total.settlement_fee == D("2.00")


def test_estimate_is_the_order_total() -> None:
    assert estimate_fees(CN, True, D("10000"), DAY, DEFAULT) == D("10.10")
    assert estimate_fees(HK, False, D("100001"), DAY, DEFAULT) == D("141.50")


@pytest.mark.parametrize("market", [CN, HK])
def test_fees_grow_with_the_amount(market: Market) -> None:
    """Increments are never negative, so a fill never refunds fees."""
    prev = D("0")
    for amount in ("1", "999.99", "20000", "20000.01", "100000", "5000000"):
        total = order_fees(market, True, D(amount), DAY, DEFAULT).total
        assert total >= prev
        prev = total
