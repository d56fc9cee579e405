"""Trading costs: the broker's commission (a setting) and the statutory items, by date.

Fees of an order are computed on the order's cumulative filled amount, and each fill carries the
increment. So a minimum (the ¥5 commission, HK's old settlement fee) applies once per order, not
per fill, and the per-order total equals what a contract note shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from deepalpha.engine.markets.dated import Dated
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.money import ZERO, round_half_up, round_up

D = Decimal
EPOCH = date(1990, 1, 1)


@dataclass(frozen=True, slots=True)
class FeeBreakdown:
    commission: Decimal = ZERO
    stamp_duty: Decimal = ZERO
    transfer_fee: Decimal = ZERO
    sfc_levy: Decimal = ZERO
    afrc_levy: Decimal = ZERO
    trading_fee: Decimal = ZERO
    settlement_fee: Decimal = ZERO

    total: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Read many times per fill (cash, cost basis, reports): add once.
        object.__setattr__(
            self,
            "total",
            self.commission
            + self.stamp_duty
            + self.transfer_fee
            + self.sfc_levy
            + self.afrc_levy
            + self.trading_fee
            + self.settlement_fee,
        )

    # Spelled out field by field: these run on every fill of every backtest.
    def __add__(self, other: FeeBreakdown) -> FeeBreakdown:
        return FeeBreakdown(
            self.commission + other.commission,
            self.stamp_duty + other.stamp_duty,
            self.transfer_fee + other.transfer_fee,
            self.sfc_levy + other.sfc_levy,
            self.afrc_levy + other.afrc_levy,
            self.trading_fee + other.trading_fee,
            self.settlement_fee + other.settlement_fee,
        )

    def __sub__(self, other: FeeBreakdown) -> FeeBreakdown:
        return FeeBreakdown(
            self.commission - other.commission,
            self.stamp_duty - other.stamp_duty,
            self.transfer_fee - other.transfer_fee,
            self.sfc_levy - other.sfc_levy,
            self.afrc_levy - other.afrc_levy,
            self.trading_fee - other.trading_fee,
            self.settlement_fee - other.settlement_fee,
        )

    def as_dict(self) -> dict[str, str]:
        return {f: str(getattr(self, f)) for f in FEE_ITEMS}


FEE_ITEMS: tuple[str, ...] = tuple(f.name for f in fields(FeeBreakdown) if f.init)
NO_FEES = FeeBreakdown()


@dataclass(frozen=True, slots=True)
class Commission:
    """The broker's commission: a rate with a minimum per order (a setting, not a rule)."""

    rate: Decimal
    minimum: Decimal

    def on(self, amount: Decimal) -> Decimal:
        if amount <= 0:
            return ZERO
        return max(round_half_up(amount * self.rate), self.minimum)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Broker commissions per market. Defaults: A 0.025 % min ¥5; HK 0.03 % min HK$3."""

    cn: Commission = Commission(D("0.00025"), D("5"))
    hk: Commission = Commission(D("0.0003"), D("3"))

    def commission(self, market: Market) -> Commission:
        return self.hk if market is Market.HK else self.cn


class StampDuty(NamedTuple):
    rate: Decimal
    sells_only: bool


# A-share stamp duty (Ministry of Finance / State Taxation Administration announcements):
# 0.3 % both sides from 2007-05-30; 0.1 % both sides from 2008-04-24; 0.1 % on sells only from
# 2008-09-19; halved to 0.05 % on sells only from 2023-08-28. Earlier: 0.4 % from 1998-06-12,
# 0.2 % from 2001-11-16, 0.1 % from 2005-01-24.
A_STAMP_DUTY: Dated[StampDuty] = Dated(
    "A-share stamp duty",
    [
        (EPOCH, StampDuty(D("0.004"), False)),
        (date(2001, 11, 16), StampDuty(D("0.002"), False)),
        (date(2005, 1, 24), StampDuty(D("0.001"), False)),
        (date(2007, 5, 30), StampDuty(D("0.003"), False)),
        (date(2008, 4, 24), StampDuty(D("0.001"), False)),
        (date(2008, 9, 19), StampDuty(D("0.001"), True)),
        (date(2023, 8, 28), StampDuty(D("0.0005"), True)),
    ],
)
# CSDC transfer fee, both sides: 0.002 % of the amount on SSE and SZSE from 2015-08-01,
# 0.001 % from 2022-04-29. Before 2015-08-01 SSE charged per share and SZSE nothing; that older
# schedule is not modelled and the 2015 rate is applied instead.
A_TRANSFER_FEE: Dated[Decimal] = Dated(
    "A-share transfer fee",
    [
        (EPOCH, D("0.00002")),
        (date(2022, 4, 29), D("0.00001")),
    ],
)

# Hong Kong stamp duty, both sides, rounded up to the whole dollar (Stamp Duty Ordinance):
# 0.1 % from 2001-09-01, 0.13 % from 2021-08-01, back to 0.1 % from 2023-11-17.
HK_STAMP_DUTY: Dated[Decimal] = Dated(
    "HK stamp duty",
    [
        (EPOCH, D("0.001")),
        (date(2021, 8, 1), D("0.0013")),
        (date(2023, 11, 17), D("0.001")),
    ],
)
# SFC transaction levy 0.0027 % (in force throughout the data DeepAlpha ships).
HK_SFC_LEVY: Dated[Decimal] = Dated("HK SFC levy", [(EPOCH, D("0.000027"))])
# AFRC transaction levy 0.00015 %, charged since 2022-01-01.
HK_AFRC_LEVY: Dated[Decimal] = Dated(
    "HK AFRC levy",
    [
        (EPOCH, ZERO),
        (date(2022, 1, 1), D("0.0000015")),
    ],
)


class TradingFee(NamedTuple):
    rate: Decimal
    tariff: Decimal  # per transaction (order)


# HKEX trading fee 0.005 % plus a HK$0.50 trading tariff per transaction; from 2023-01-01 the
# tariff was abolished and the fee set to 0.00565 %.
HK_TRADING_FEE: Dated[TradingFee] = Dated(
    "HKEX trading fee",
    [
        (EPOCH, TradingFee(D("0.00005"), D("0.50"))),
        (date(2023, 1, 1), TradingFee(D("0.0000565"), ZERO)),
    ],
)


class SettlementFee(NamedTuple):
    rate: Decimal
    minimum: Decimal | None
    maximum: Decimal | None


# HKSCC (CCASS) stock settlement fee: 0.002 % min HK$2 max HK$100; from 2025-06-30 0.0042 % with
# no minimum or maximum.
HK_SETTLEMENT_FEE: Dated[SettlementFee] = Dated(
    "CCASS settlement fee",
    [
        (EPOCH, SettlementFee(D("0.00002"), D("2"), D("100"))),
        (date(2025, 6, 30), SettlementFee(D("0.000042"), None, None)),
    ],
)


def _a_share_fees(sell: bool, amount: Decimal, day: date, commission: Commission) -> FeeBreakdown:
    stamp = A_STAMP_DUTY.at(day)
    stamp_duty = ZERO
    if sell or not stamp.sells_only:
        stamp_duty = round_half_up(amount * stamp.rate)
    return FeeBreakdown(
        commission=commission.on(amount),
        stamp_duty=stamp_duty,
        transfer_fee=round_half_up(amount * A_TRANSFER_FEE.at(day)),
    )


def _hk_fees(amount: Decimal, day: date, commission: Commission) -> FeeBreakdown:
    trading = HK_TRADING_FEE.at(day)
    settle = HK_SETTLEMENT_FEE.at(day)
    settlement = round_half_up(amount * settle.rate)
    if settle.minimum is not None:
        settlement = max(settlement, settle.minimum)
    if settle.maximum is not None:
        settlement = min(settlement, settle.maximum)
    return FeeBreakdown(
        commission=commission.on(amount),
        stamp_duty=round_up(amount * HK_STAMP_DUTY.at(day)),
        sfc_levy=round_half_up(amount * HK_SFC_LEVY.at(day)),
        afrc_levy=round_half_up(amount * HK_AFRC_LEVY.at(day)),
        trading_fee=round_half_up(amount * trading.rate) + trading.tariff,
        settlement_fee=settlement,
    )


def order_fees(
    market: Market, sell: bool, amount: Decimal, day: date, schedule: FeeSchedule
) -> FeeBreakdown:
    """All fees of an order whose filled amount so far is ``amount`` (zero amount: no fees)."""
    if amount <= 0:
        return NO_FEES
    commission = schedule.commission(market)
    if market is Market.HK:
        return _hk_fees(amount, day, commission)
    return _a_share_fees(sell, amount, day, commission)


def fill_fees(
    market: Market,
    sell: bool,
    amount_before: Decimal,
    amount_after: Decimal,
    day: date,
    schedule: FeeSchedule,
) -> FeeBreakdown:
    """The fees a fill adds: the order's fees after it minus its fees before it."""
    after = order_fees(market, sell, amount_after, day, schedule)
    if amount_before <= 0:
        return after
    return after - order_fees(market, sell, amount_before, day, schedule)


def estimate_fees(
    market: Market, sell: bool, amount: Decimal, day: date, schedule: FeeSchedule
) -> Decimal:
    return order_fees(market, sell, amount, day, schedule).total
