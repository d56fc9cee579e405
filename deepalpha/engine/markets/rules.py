"""Price limits, tick sizes and board lots of the A-share and Hong Kong markets, by date.

Each table cites its source. A backtest of 2019 uses 2019's rules; today's session uses today's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from deepalpha.engine.markets.dated import Dated
from deepalpha.engine.markets.instruments import Board, Instrument, Kind
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.money import ROUND_HALF_UP, is_multiple
from deepalpha.i18n import Msg

D = Decimal
EPOCH = date(1990, 1, 1)

# --- price limits -----------------------------------------------------------------------

# SSE/SZSE introduced the ±10 % daily limit on 1996-12-16 (no limits before it).
LIMITS_START = date(1996, 12, 16)
# ChiNext registration reform: ±20 % for all ChiNext stocks, ST included, and no limit in the
# first 5 trading days after listing (SZSE ChiNext trading rules, effective 2020-08-24).
CHINEXT_REFORM = date(2020, 8, 24)
# Main-board registration reform: no limit in the first 5 trading days after listing
# (SSE/SZSE trading rules, effective 2023-04-10).
MAIN_REGISTRATION = date(2023, 4, 10)
# SSE/SZSE notice: main-board risk-warning (ST, *ST) stocks move from ±5 % to ±10 %, effective
# 2025-07-07. The date is a setting (``PriceLimitRules.st_ten_percent_from``).
ST_TEN_PERCENT_FROM = date(2025, 7, 7)


@dataclass(frozen=True, slots=True)
class DayStatus:
    """What the rules need to know about a stock on one day.

    ``listing_day``: 1 on the first trading day after listing, 2 on the second, ...; ``None``
    when long listed. ``no_limit``: a day the exchange lifted the limit (e.g. resumption after
    the share-structure reform, marked by the ``G`` name prefix).
    """

    st: bool = False
    listing_day: int | None = None
    no_limit: bool = False


LISTED = DayStatus()


@dataclass(frozen=True, slots=True)
class PriceLimitRules:
    st_ten_percent_from: date = ST_TEN_PERCENT_FROM

    def ratio(self, inst: Instrument, day: date, status: DayStatus = LISTED) -> Decimal | None:
        """The daily limit as a fraction of the reference price, or ``None`` for no limit."""
        board = inst.board
        if inst.market is Market.HK or status.no_limit or day < LIMITS_START:
            return None  # HKEX has no daily price limit (the VCM is not modelled)
        first_days = status.listing_day is not None and status.listing_day <= 5
        first_day = status.listing_day == 1
        if board is Board.STAR:
            # SSE STAR Market trading rules: ±20 %, no limit in the first 5 days (2019-07-22).
            return None if first_days else D("0.2")
        if board is Board.BEIJING:
            # BSE trading rules: ±30 %, no limit on the first day (2021-11-15).
            return None if first_day else D("0.3")
        if board is Board.CHINEXT and day >= CHINEXT_REFORM:
            return None if first_days else D("0.2")
        if first_day or (first_days and board is Board.MAIN and day >= MAIN_REGISTRATION):
            return None
        if status.st:
            return (
                D("0.1") if (board is Board.MAIN and day >= self.st_ten_percent_from) else D("0.05")
            )
        return D("0.1")

    def band(
        self, inst: Instrument, day: date, pre_close: Decimal, status: DayStatus = LISTED
    ) -> tuple[Decimal, Decimal] | None:
        """(limit_down, limit_up) from the reference price, rounded half-up to the tick."""
        ratio = self.ratio(inst, day, status)
        if ratio is None:
            return None
        tick = a_share_tick(inst)
        up = (pre_close * (1 + ratio) / tick).quantize(D(1), rounding=ROUND_HALF_UP) * tick
        down = (pre_close * (1 - ratio) / tick).quantize(D(1), rounding=ROUND_HALF_UP) * tick
        return max(down, tick), up


# --- ticks ------------------------------------------------------------------------------

# SSE/SZSE trading rules 3.3.x: stocks quote in ¥0.01, funds (incl. ETFs) in ¥0.001.
A_STOCK_TICK = D("0.01")
A_FUND_TICK = D("0.001")


def a_share_tick(inst: Instrument) -> Decimal:
    return A_FUND_TICK if inst.kind is Kind.FUND else A_STOCK_TICK


# HKEX spread table (Part A), as (upper bound of the band, tick). A price p is in the band
# whose lower bound < p <= upper bound. HKEX reduced the minimum spreads on 2025-08-04:
# 10–20 from 0.02 to 0.01 and 20–50 from 0.05 to 0.02 (HKEX circular, phase 1 of the
# spread-table reform).
_HK_COMMON_LOW = [(D("0.25"), D("0.001")), (D("0.50"), D("0.005")), (D("10"), D("0.01"))]
_HK_COMMON_HIGH = [
    (D("200"), D("0.10")),
    (D("500"), D("0.20")),
    (D("1000"), D("0.50")),
    (D("2000"), D("1")),
    (D("5000"), D("2")),
    (D("9995"), D("5")),
]
HK_SPREAD_TABLE: Dated[list[tuple[Decimal, Decimal]]] = Dated(
    "HKEX spread table",
    [
        (EPOCH, [*_HK_COMMON_LOW, (D("20"), D("0.02")), (D("100"), D("0.05")), *_HK_COMMON_HIGH]),
        (
            date(2025, 8, 4),
            [
                *_HK_COMMON_LOW,
                (D("20"), D("0.01")),
                (D("50"), D("0.02")),
                (D("100"), D("0.05")),
                *_HK_COMMON_HIGH,
            ],
        ),
    ],
)
HK_MIN_PRICE = D("0.01")
HK_MAX_PRICE = D("9995")


def hk_tick(price: Decimal, day: date) -> Decimal:
    """The HKEX tick for a price: the band that holds the price (lower < p <= upper)."""
    for upper, tick in HK_SPREAD_TABLE.at(day):
        if price <= upper:
            return tick
    return D("5")


def tick_size(inst: Instrument, price: Decimal, day: date) -> Decimal:
    return hk_tick(price, day) if inst.market is Market.HK else a_share_tick(inst)


def tick_error(inst: Instrument, price: Decimal, day: date) -> Msg | None:
    """Why a price is not on the tick grid, or ``None`` if it is."""
    if price <= 0:
        return Msg("tick.not_positive", price=price)
    if inst.market is Market.HK and not (HK_MIN_PRICE <= price <= HK_MAX_PRICE):
        return Msg("tick.hk_range", price=price, low=HK_MIN_PRICE, high=HK_MAX_PRICE)
    tick = tick_size(inst, price, day)
    if not is_multiple(price, tick):
        return Msg("tick.off_grid", price=price, tick=tick, symbol=inst.symbol)
    return None


def tick_up(inst: Instrument, price: Decimal, day: date) -> Decimal:
    """The next price on the grid above ``price`` (which must be on the grid)."""
    return price + tick_size(inst, price + tick_size(inst, price, day) / 2, day)


def tick_down(inst: Instrument, price: Decimal, day: date) -> Decimal:
    return price - tick_size(inst, price, day)


def snap_to_tick(inst: Instrument, price: Decimal, day: date, *, up: bool) -> Decimal:
    """Round a price onto the grid: up for a buyer's protective price, down for a seller's."""
    tick = tick_size(inst, price, day)
    units = price / tick
    units = units.to_integral_value(rounding="ROUND_CEILING" if up else "ROUND_FLOOR")
    return units * tick


# --- lots -------------------------------------------------------------------------------


def buy_lot_error(inst: Instrument, quantity: int) -> Msg | None:
    """SSE/SZSE rules 3.3.x: buys in multiples of 100 shares. STAR (SSE STAR trading rules
    art. 18): at least 200 shares, then steps of 1. HKEX: whole board lots, set per stock."""
    if quantity <= 0:
        return Msg("lot.not_positive", quantity=quantity)
    lot = inst.board_lot
    if inst.board is Board.STAR:
        if quantity < 200:
            return Msg("lot.star_min", quantity=quantity, symbol=inst.symbol)
        return None
    if quantity % lot:
        return Msg("lot.multiple", quantity=quantity, lot=lot, symbol=inst.symbol)
    return None


def sell_lot_error(inst: Instrument, quantity: int, sellable: int) -> Msg | None:
    """A sell is in whole lots, except that an odd-lot remainder must be sold in one order
    (SSE/SZSE rules: 余额不足 100 股部分应当一次性申报卖出; STAR: below 200 shares, all at
    once). HKEX odd lots trade in a separate market, not modelled: whole lots only."""
    if quantity <= 0:
        return Msg("lot.not_positive", quantity=quantity)
    lot = inst.board_lot
    if inst.market is Market.HK:
        if quantity % lot:
            return Msg("lot.hk_multiple", quantity=quantity, lot=lot, symbol=inst.symbol)
        return None
    if inst.board is Board.STAR:
        if quantity < 200 and quantity != sellable:
            return Msg(
                "lot.star_remainder", quantity=quantity, sellable=sellable, symbol=inst.symbol
            )
        return None
    odd, held_odd = quantity % 100, sellable % 100
    if odd and odd != held_odd:
        if held_odd:
            return Msg("lot.sell_odd_whole", quantity=quantity, symbol=inst.symbol, odd=held_odd)
        return Msg("lot.multiple", quantity=quantity, lot=100, symbol=inst.symbol)
    return None
