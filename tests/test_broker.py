"""The paper broker: the order state machine, rejections with their numbers, quote matching,
T+1 / T+0, frozen cash and shares, the risk checks and the kill switch (SPEC §3, §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from deepalpha.engine.broker import BrokerSettings, PaperBroker
from deepalpha.engine.bus import EventBus
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.events import Event, FillEvent, OrderEvent, TraderHaltedEvent
from deepalpha.engine.ids import sequential
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.fees import order_fees
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.sessions import HONG_KONG, SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import (
    Order,
    OrderRequest,
    OrderStateError,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from deepalpha.engine.risk import RiskLimits

D = Decimal
S = OrderStatus
R = RejectCode
BUY, SELL = Side.BUY, Side.SELL
MKT, LMT = OrderType.MARKET, OrderType.LIMIT
CN, HK = Market.CN, Market.HK
DAY1 = date(2024, 3, 1)  # a Friday, a trading day in Shanghai and Hong Kong
DAY2 = date(2024, 3, 4)
MOUTAI = "600519.SH"
CMB = "600036.SH"
TENCENT = "00700.HK"


@dataclass
class Desk:
    broker: PaperBroker
    clock: ManualClock
    events: list[Event] = field(default_factory=list)

    def submit(
        self,
        symbol: str,
        side: Side,
        qty: int,
        price: str | None = None,
        trader: str = "t1",
    ) -> Order:
        kind = LMT if price is not None else MKT
        return self.broker.submit(
            OrderRequest(trader, symbol, side, qty, kind, D(price) if price else None)
        )

    def quote(
        self,
        symbol: str,
        last: str,
        bid: str | None,
        ask: str | None,
        bid_size: int = 100_000,
        ask_size: int = 100_000,
    ) -> None:
        self.broker.on_quote(
            Quote(
                symbol,
                self.clock.now(),
                D(last),
                D(bid) if bid else None,
                D(ask) if ask else None,
                bid_size,
                ask_size,
            )
        )

    def open_day(self, market: Market, day: date) -> None:
        tz = HONG_KONG if market is HK else SHANGHAI
        self.clock.set(datetime.combine(day, time(10, 0), tz))
        self.broker.start_day(market, day)
        self.broker.set_phase(market, Phase.CONTINUOUS)

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def make_desk(cash: dict[str, str] | None = None, limits: RiskLimits | None = None) -> Desk:
    clock = ManualClock(datetime.combine(DAY1, time(10, 0), SHANGHAI))
    bus = EventBus()
    broker = PaperBroker(
        InstrumentRegistry.default(),
        clock,
        bus,
        BrokerSettings(),
        id_factory=sequential("o"),
        fill_id_factory=sequential("f"),
    )
    desk = Desk(broker, clock)
    bus.on(Event, desk.events.append)
    money = cash or {"CNY": "1000000", "HKD": "1000000"}
    broker.add_trader("t1", {c: D(v) for c, v in money.items()}, limits)
    desk.open_day(CN, DAY1)
    broker.set_reference(MOUTAI, DAY1, D("1700.00"))
    broker.set_reference(CMB, DAY1, D("10.00"))
    return desk


@pytest.fixture
def desk() -> Desk:
    return make_desk()


def hold(desk: Desk, symbol: str, qty: int, price: str) -> None:
    """Buy on DAY1 and roll to DAY2 so the shares are sellable (T+1)."""
    desk.quote(symbol, price, price, price)
    order = desk.submit(symbol, BUY, qty)
    assert order.status is S.FILLED, order.reject_reason
    desk.broker.end_day(CN, DAY1)
    desk.open_day(CN, DAY2)
    desk.broker.set_reference(symbol, DAY2, D(price))


# --- the state machine (SPEC §4) ----------------------------------------------------------


def test_state_machine_transitions() -> None:
    now = datetime(2024, 3, 1, 2, 0, tzinfo=SHANGHAI)
    order = Order("o", "t", MOUTAI, BUY, LMT, 300, D("1700"), now, DAY1)
    assert order.status is S.PENDING
    with pytest.raises(OrderStateError, match="pending → filled is not allowed"):
        order.transition(S.FILLED, now)
    order.transition(S.OPEN, now)
    order.transition(S.PARTIALLY_FILLED, now)
    order.transition(S.PARTIALLY_FILLED, now)
    order.transition(S.FILLED, now)
    for status in S:
        with pytest.raises(OrderStateError):
            order.transition(status, now)
    for final in (S.CANCELLED, S.EXPIRED):
        other = Order("p", "t", MOUTAI, BUY, LMT, 100, D("1700"), now, DAY1)
        other.transition(S.OPEN, now)
        other.transition(final, now)
        assert final.is_final and not final.is_open
        with pytest.raises(OrderStateError, match=f"{final} → open is not allowed"):
            other.transition(S.OPEN, now)
    rejected = Order("q", "t", MOUTAI, BUY, LMT, 100, D("1700"), now, DAY1)
    rejected.reject(R.LOT_SIZE, "why", now)
    with pytest.raises(OrderStateError):
        rejected.transition(S.OPEN, now)


def test_broker_walks_open_partial_filled(desk: Desk) -> None:
    desk.quote(MOUTAI, "1701.00", "1700.00", "1701.00")
    order = desk.submit(MOUTAI, BUY, 300, "1700.00")
    assert order.status is S.OPEN
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00", ask_size=100)
    assert (order.status, order.filled_quantity) == (S.PARTIALLY_FILLED, 100)
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00", ask_size=100)
    assert (order.status, order.filled_quantity) == (S.PARTIALLY_FILLED, 200)
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00", ask_size=5000)
    assert (order.status, order.filled_quantity) == (S.FILLED, 300)
    statuses = [e.order.status for e in desk.of(OrderEvent)]  # type: ignore[attr-defined]
    assert statuses == [S.OPEN, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, S.FILLED]
    fills = [e.fill for e in desk.of(FillEvent)]  # type: ignore[attr-defined]
    assert [f.quantity for f in fills] == [100, 100, 100]
    assert all(f.order_id == order.id for f in fills)


# --- frozen cash and shares ---------------------------------------------------------------


def test_open_limit_buy_freezes_cash_and_cancel_releases_it(desk: Desk) -> None:
    desk.quote(MOUTAI, "1701.00", "1700.00", "1701.00")
    acct = desk.broker.portfolio("t1").account("CNY")
    order = desk.submit(MOUTAI, BUY, 200, "1690.00")
    fees = order_fees(CN, False, D("338000.00"), DAY1, desk.broker.settings.fees).total
    assert fees == D("87.88")  # commission 84.50 + transfer fee 3.38
    assert order.frozen_cash == D("338087.88")
    assert acct.frozen == D("338087.88")
    assert acct.available == D("661912.12")
    assert acct.cash == D("1000000")
    desk.broker.cancel(order.id)
    assert order.status is S.CANCELLED
    assert (acct.frozen, acct.available, acct.cash) == (D("0"), D("1000000"), D("1000000"))
    with pytest.raises(ValueError, match="is cancelled; only open orders can be cancelled"):
        desk.broker.cancel(order.id)


def test_open_sell_freezes_shares(desk: Desk) -> None:
    hold(desk, MOUTAI, 500, "1700.00")
    pos = desk.broker.portfolio("t1").positions[MOUTAI]
    assert (pos.quantity, pos.sellable, pos.frozen) == (500, 500, 0)
    sell = desk.submit(MOUTAI, SELL, 300, "1800.00")
    assert sell.status is S.OPEN
    assert (pos.frozen, pos.available) == (300, 200)
    again = desk.submit(MOUTAI, SELL, 300, "1800.00")
    assert again.reject_code is R.INSUFFICIENT_POSITION
    assert again.reject_reason == (
        "sell 300 600519.SH: 200 shares held and not already in open sell orders"
    )
    desk.broker.cancel(sell.id)
    assert (pos.frozen, pos.available) == (0, 500)


# --- rejections, each with its numbers ----------------------------------------------------


def test_reject_lot_size(desk: Desk) -> None:
    order = desk.submit(MOUTAI, BUY, 150, "1700.00")
    assert (order.status, order.reject_code) == (S.REJECTED, R.LOT_SIZE)
    assert order.reject_reason == "150 shares is not a multiple of the board lot 100 for 600519.SH"
    assert desk.broker.orders[order.id] is order  # every order the broker sees is recorded


def test_reject_tick_size(desk: Desk) -> None:
    order = desk.submit(MOUTAI, BUY, 100, "1700.005")
    assert order.reject_code is R.TICK_SIZE
    assert order.reject_reason == "price 1,700.005 is not a multiple of the tick 0.01 for 600519.SH"


def test_reject_price_outside_the_band(desk: Desk) -> None:
    """Main board ±10 % of the reference price 1700.00: band 1530.00–1870.00."""
    up = desk.submit(MOUTAI, BUY, 100, "1870.01")
    assert up.reject_code is R.PRICE_LIMIT
    assert up.reject_reason == (
        "limit price 1,870.01 is outside today's band 1,530.00–1,870.00 for 600519.SH "
        "(reference 1,700.00)"
    )
    down = desk.submit(MOUTAI, BUY, 100, "1529.99")
    assert down.reject_code is R.PRICE_LIMIT
    assert desk.submit(MOUTAI, BUY, 100, "1870.00").status is S.OPEN
    assert desk.submit(MOUTAI, BUY, 100, "1530.00").status is S.OPEN


def test_reject_t_plus_one(desk: Desk) -> None:
    """SSE/SZSE: shares bought today are sellable from the next trading day."""
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    assert desk.submit(MOUTAI, BUY, 200).status is S.FILLED
    sell = desk.submit(MOUTAI, SELL, 200, "1700.00")
    assert sell.reject_code is R.T_PLUS_ONE
    assert sell.reject_reason == (
        "sell 200 600519.SH: only 0 sellable today; what was bought today (200 shares) "
        "becomes sellable on the next trading day (T+1)"
    )
    desk.broker.end_day(CN, DAY1)
    desk.open_day(CN, DAY2)
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    assert desk.submit(MOUTAI, SELL, 200).status is S.FILLED


def test_reject_insufficient_cash() -> None:
    desk = make_desk({"CNY": "1000.00"})
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    order = desk.submit(MOUTAI, BUY, 100, "1700.00")
    assert order.reject_code is R.INSUFFICIENT_CASH
    assert order.reject_reason == (
        "buy 100 600519.SH at 1,700.00 needs 170,044.20 CNY with fees; available 1,000.00"
    )


def test_reject_insufficient_position(desk: Desk) -> None:
    order = desk.submit(MOUTAI, SELL, 100, "1700.00")
    assert order.reject_code is R.INSUFFICIENT_POSITION
    assert order.reject_reason == (
        "sell 100 600519.SH: 0 shares held and not already in open sell orders"
    )


def test_reject_market_closed_at_lunch(desk: Desk) -> None:
    desk.broker.set_phase(CN, Phase.LUNCH_BREAK)
    order = desk.submit(MOUTAI, BUY, 100, "1700.00")
    assert order.reject_code is R.MARKET_CLOSED
    assert order.reject_reason == (
        "the CN market is at its lunch break; orders are accepted only in the auctions and "
        "continuous trading"
    )


def test_market_order_in_pre_open_is_refused_limit_is_accepted(desk: Desk) -> None:
    desk.broker.set_phase(CN, Phase.PRE_OPEN)
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    market = desk.submit(MOUTAI, BUY, 100)
    assert market.reject_code is R.MARKET_CLOSED
    assert market.reject_reason == (
        "market orders are accepted only in continuous trading; the CN market is in its "
        "opening auction"
    )
    limit = desk.submit(MOUTAI, BUY, 100, "1700.00")
    assert limit.status is S.OPEN  # queued for the auction, not matched before 09:30
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    assert limit.status is S.OPEN
    desk.broker.set_phase(CN, Phase.CONTINUOUS)
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    assert limit.status is S.FILLED


def test_reject_unknown_symbol(desk: Desk) -> None:
    hk = desk.submit("09999.HK", BUY, 100, "100.00")
    assert hk.reject_code is R.UNKNOWN_SYMBOL
    assert "board lot of 09999.HK is unknown" in (hk.reject_reason or "")
    assert "--instruments FILE" in (hk.reject_reason or "")
    bad = desk.submit("XYZ", BUY, 100, "1.00")
    assert bad.reject_code is R.UNKNOWN_SYMBOL
    assert "'XYZ' is not a symbol" in (bad.reject_reason or "")


def test_reject_risk_max_position() -> None:
    desk = make_desk(limits=RiskLimits(max_position_value=D("300000")))
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    assert desk.submit(MOUTAI, BUY, 100).status is S.FILLED
    order = desk.submit(MOUTAI, BUY, 100, "1700.00")
    assert order.reject_code is R.RISK_MAX_POSITION
    assert order.reject_reason == (
        "position in 600519.SH would be 340,000.00 CNY, above the limit 300,000.00 "
        "(held 170,000.00, order 170,000.00)"
    )


def test_reject_risk_max_order_value() -> None:
    desk = make_desk(limits=RiskLimits(max_order_value=D("200000")))
    order = desk.submit(MOUTAI, BUY, 200, "1700.00")
    assert order.reject_code is R.RISK_MAX_ORDER_VALUE
    assert order.reject_reason == (
        "order value 340,000.00 CNY exceeds the limit 200,000.00 for 600519.SH"
    )
    assert desk.submit(MOUTAI, BUY, 100, "1700.00").status is S.OPEN


def test_a_sell_that_reduces_a_position_passes_the_exposure_limits() -> None:
    """The SMA bot could not exit 200 × 600519: "order value 302868.00 exceeds the limit
    300000". The value limits cap growth of exposure, never a way out."""
    limits = RiskLimits(max_order_value=D("200000"), max_position_value=D("400000"))
    desk = make_desk(limits=limits)
    desk.open_day(CN, DAY1)
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    assert desk.submit(MOUTAI, BUY, 100).status is S.FILLED
    assert desk.submit(MOUTAI, BUY, 100).status is S.FILLED
    desk.open_day(CN, DAY2)  # T+1: yesterday's 200 shares are sellable
    desk.quote(MOUTAI, "1720.00", "1719.00", "1720.00")
    assert desk.submit(MOUTAI, BUY, 200).reject_code is R.RISK_MAX_ORDER_VALUE  # growth: no
    sell = desk.submit(MOUTAI, SELL, 200)  # 343,800 CNY, above the 200,000 order limit
    assert sell.status is S.FILLED, sell.reject_reason
    assert sell.filled_quantity == 200 and sell.avg_price == D("1719.00")


def test_reject_risk_open_orders() -> None:
    desk = make_desk(limits=RiskLimits(max_open_orders=2))
    desk.submit(CMB, BUY, 100, "9.90")
    desk.submit(CMB, BUY, 100, "9.90")
    third = desk.submit(CMB, BUY, 100, "9.90")
    assert third.reject_code is R.RISK_OPEN_ORDERS
    assert third.reject_reason == "2 open orders already; the limit is 2"
    desk.broker.cancel_all("t1")
    assert desk.submit(CMB, BUY, 100, "9.90").status is S.OPEN


def test_reject_risk_order_rate() -> None:
    desk = make_desk(limits=RiskLimits(max_orders_per_minute=2))
    assert desk.submit(CMB, BUY, 100, "9.90").status is S.OPEN
    desk.clock.advance(timedelta(seconds=30))
    assert desk.submit(CMB, BUY, 100, "9.90").status is S.OPEN
    third = desk.submit(CMB, BUY, 100, "9.90")
    assert third.reject_code is R.RISK_ORDER_RATE
    assert third.reject_reason == "2 orders in the last minute; the limit is 2 a minute"
    desk.clock.advance(timedelta(seconds=31))  # the first order is now a minute old
    assert desk.submit(CMB, BUY, 100, "9.90").status is S.OPEN


def test_reject_trading_disabled() -> None:
    desk = make_desk(limits=RiskLimits(trading_enabled=False))
    order = desk.submit(CMB, BUY, 100, "9.90")
    assert order.reject_code is R.TRADING_DISABLED
    assert order.reject_reason == "trading is disabled for this trader"


def test_daily_loss_kill_switch_halts_the_trader() -> None:
    desk = make_desk({"CNY": "1000000"}, RiskLimits(max_daily_loss=D("5000")))
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    assert desk.submit(MOUTAI, BUY, 100).status is S.FILLED
    desk.broker.check_kill_switches()
    assert desk.of(TraderHaltedEvent) == []
    # 1700 → 1640: 100 shares lose 6,000 plus 44.20 of fees, above the 5,000 limit.
    desk.quote(MOUTAI, "1640.00", "1639.00", "1640.00")
    order = desk.submit(CMB, BUY, 100, "9.90")
    assert order.reject_code is R.RISK_DAILY_LOSS
    expected = (
        "today's loss 6,044.20 CNY reached the daily limit 5,000.00; trading stopped until "
        "re-enabled"
    )
    assert order.reject_reason == expected
    halted = desk.of(TraderHaltedEvent)
    assert halted == [TraderHaltedEvent("t1", "RISK_DAILY_LOSS", expected)]
    # Halted: even a sell that would cut the loss is refused until re-enabled.
    desk.broker.end_day(CN, DAY1)
    again = desk.submit(MOUTAI, BUY, 100, "1640.00")
    assert again.reject_code is R.RISK_DAILY_LOSS
    desk.broker.check_kill_switches()
    assert len(desk.of(TraderHaltedEvent)) == 1  # the trader is stopped once, not per order
    desk.broker.traders["t1"].risk.enable()
    desk.broker.start_day(CN, DAY2)  # a new day, a new day-start equity
    desk.broker.set_phase(CN, Phase.CONTINUOUS)
    desk.broker.set_reference(CMB, DAY2, D("10.00"))
    assert desk.submit(CMB, BUY, 100, "9.90").status is S.OPEN


def test_kill_switch_on_a_timer_emits_the_halt() -> None:
    desk = make_desk({"CNY": "1000000"}, RiskLimits(max_daily_loss=D("5000")))
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    desk.submit(MOUTAI, BUY, 100)
    desk.quote(MOUTAI, "1640.00", "1639.00", "1640.00")
    desk.broker.check_kill_switches()
    (event,) = desk.of(TraderHaltedEvent)
    assert isinstance(event, TraderHaltedEvent)
    assert (event.trader_id, event.code) == ("t1", "RISK_DAILY_LOSS")
    assert "6,044.20" in event.reason
    assert desk.submit(CMB, BUY, 100, "9.90").reject_code is R.RISK_DAILY_LOSS


def test_dry_run_places_nothing() -> None:
    desk = make_desk(limits=RiskLimits(dry_run=True))
    order = desk.submit(CMB, BUY, 100, "9.90")
    assert order.reject_code is R.DRY_RUN
    assert desk.broker.portfolio("t1").account("CNY").frozen == D("0")


# --- matching against quotes --------------------------------------------------------------


def test_limit_buy_fills_at_the_ask_when_ask_reaches_the_limit(desk: Desk) -> None:
    desk.quote(MOUTAI, "1702.00", "1701.00", "1702.00")
    order = desk.submit(MOUTAI, BUY, 100, "1700.00")
    assert order.status is S.OPEN
    desk.quote(MOUTAI, "1696.00", "1695.00", "1696.00")
    assert order.status is S.FILLED
    (event,) = desk.of(FillEvent)
    assert isinstance(event, FillEvent)
    assert (event.fill.price, event.fill.quantity, event.fill.amount) == (
        D("1696.00"),
        100,
        D("169600.00"),
    )


def test_limit_sell_fills_at_the_bid(desk: Desk) -> None:
    hold(desk, MOUTAI, 100, "1700.00")
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    order = desk.submit(MOUTAI, SELL, 100, "1710.00")
    assert order.status is S.OPEN
    desk.quote(MOUTAI, "1712.00", "1711.00", "1712.00")
    assert order.status is S.FILLED
    assert order.avg_price == D("1711.00")


def test_no_buy_fill_at_limit_up_and_expiry_says_why(desk: Desk) -> None:
    """SPEC §4: no buy fill at limit-up. Sealed at 1870.00 (1700.00 + 10 %), no sellers."""
    desk.quote(MOUTAI, "1870.00", "1870.00", None, ask_size=0)
    order = desk.submit(MOUTAI, BUY, 100, "1870.00")
    assert order.status is S.OPEN
    desk.quote(MOUTAI, "1870.00", "1870.00", None, ask_size=0)
    assert order.status is S.OPEN
    expired = desk.broker.end_day(CN, DAY1)
    assert expired == [order]
    assert (order.status, order.reject_code) == (S.EXPIRED, R.PRICE_LIMIT)
    assert order.reject_reason == "600519.SH sealed at limit-up 1,870.00: no sellers"
    assert desk.broker.portfolio("t1").account("CNY").frozen == D("0")


def test_no_sell_fill_at_limit_down(desk: Desk) -> None:
    hold(desk, MOUTAI, 100, "1700.00")  # DAY2 band 1530.00–1870.00
    desk.quote(MOUTAI, "1530.00", None, "1530.00", bid_size=0)
    order = desk.submit(MOUTAI, SELL, 100, "1530.00")
    desk.quote(MOUTAI, "1530.00", None, "1530.00", bid_size=0)
    assert order.status is S.OPEN
    desk.broker.end_day(CN, DAY2)
    assert (order.status, order.reject_code) == (S.EXPIRED, R.PRICE_LIMIT)
    assert order.reject_reason == "600519.SH sealed at limit-down 1,530.00: no buyers"
    assert desk.broker.portfolio("t1").positions[MOUTAI].frozen == 0


def test_day_orders_expire_at_the_close(desk: Desk) -> None:
    desk.quote(MOUTAI, "1702.00", "1701.00", "1702.00")
    order = desk.submit(MOUTAI, BUY, 100, "1650.00")
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00")
    assert desk.broker.end_day(CN, DAY1) == [order]
    assert (order.status, order.reject_code) == (S.EXPIRED, R.DAY_END)
    assert order.reject_reason == "day order expired at the close with 100 of 100 shares unfilled"
    assert desk.broker.portfolio("t1").account("CNY").frozen == D("0")
    assert list(desk.broker.open_orders()) == []


def test_end_day_expires_only_its_market(desk: Desk) -> None:
    desk.open_day(HK, DAY1)
    cn = desk.submit(MOUTAI, BUY, 100, "1650.00")
    hk = desk.submit(TENCENT, BUY, 100, "300.00")
    desk.broker.end_day(HK, DAY1)
    assert (cn.status, hk.status) == (S.OPEN, S.EXPIRED)


def test_partial_fills_against_ask_size(desk: Desk) -> None:
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00", ask_size=250)
    order = desk.submit(MOUTAI, BUY, 500, "1700.00")
    # 250 offered: the fill keeps whole lots, 200 shares.
    assert (order.status, order.filled_quantity) == (S.PARTIALLY_FILLED, 200)
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00", ask_size=50)
    assert order.filled_quantity == 200  # below one lot: no fill
    desk.quote(MOUTAI, "1700.00", "1699.00", "1700.00", ask_size=300)
    assert (order.status, order.filled_quantity) == (S.FILLED, 500)
    # The ¥5 minimum and every other item are charged once on the order's total amount.
    assert order.fees == order_fees(CN, False, D("850000.00"), DAY1, desk.broker.settings.fees)
    acct = desk.broker.portfolio("t1").account("CNY")
    assert acct.frozen == D("0")
    assert acct.cash == D("1000000") - D("850000.00") - order.fees.total


def test_partial_fills_never_make_available_cash_negative() -> None:
    """Exactly enough cash for 1,000 × 10.00 with fees (10,005.10); the first 100-share fill
    pays the whole ¥5 minimum commission, more than its pro-rata share of the frozen cash."""
    desk = make_desk({"CNY": "10005.10"})
    acct = desk.broker.portfolio("t1").account("CNY")
    desk.quote(CMB, "10.01", "10.00", "10.01")
    order = desk.submit(CMB, BUY, 1000, "10.00")
    assert (order.status, acct.available) == (S.OPEN, D("0"))
    desk.quote(CMB, "10.00", "9.99", "10.00", ask_size=100)
    assert order.filled_quantity == 100
    assert acct.available >= 0
    assert acct.frozen == order.frozen_cash
    for _ in range(9):
        desk.quote(CMB, "10.00", "9.99", "10.00", ask_size=100)
        assert acct.available >= 0
        assert acct.frozen == order.frozen_cash
    assert order.status is S.FILLED
    assert (acct.cash, acct.frozen) == (D("0.00"), D("0"))


def test_market_buy_remainder_at_a_higher_price_keeps_available_cash_non_negative() -> None:
    desk = make_desk({"CNY": "20020.00"})
    acct = desk.broker.portfolio("t1").account("CNY")
    desk.quote(CMB, "10.00", "9.99", "10.00", ask_size=1000)
    order = desk.submit(CMB, BUY, 2000)  # frozen at the ask 10.00
    assert order.filled_quantity == 1000
    desk.quote(CMB, "10.02", "10.01", "10.02", ask_size=5000)
    assert acct.available >= 0
    assert acct.cash >= 0
    assert order.status in (S.PARTIALLY_FILLED, S.FILLED)
    desk.broker.end_day(CN, DAY1)
    assert acct.frozen == D("0")


def test_hk_is_t_plus_zero() -> None:
    """HKEX allows same-day round trips; settlement T+2 affects only withdrawable cash."""
    desk = make_desk({"HKD": "1000000"})
    desk.open_day(HK, DAY1)
    desk.quote(TENCENT, "280.20", "280.00", "280.20")
    buy = desk.submit(TENCENT, BUY, 200)
    assert buy.status is S.FILLED
    pos = desk.broker.portfolio("t1").positions[TENCENT]
    assert (pos.quantity, pos.sellable) == (200, 200)
    sell = desk.submit(TENCENT, SELL, 200)
    assert sell.status is S.FILLED
    assert pos.quantity == 0
    odd = desk.submit(TENCENT, BUY, 150, "280.20")
    assert odd.reject_code is R.LOT_SIZE


def test_round_trip_realized_pnl_equals_cash_change(desk: Desk) -> None:
    pf = desk.broker.portfolio("t1")
    acct = pf.account("CNY")
    start = acct.cash
    hold(desk, MOUTAI, 100, "1700.00")
    desk.quote(MOUTAI, "1710.00", "1710.00", "1710.01")
    sell = desk.submit(MOUTAI, SELL, 100)
    assert sell.status is S.FILLED
    fills = [e.fill for e in desk.of(FillEvent)]  # type: ignore[attr-defined]
    # Buy 170,000.00 + 42.50 commission + 1.70 transfer = 170,044.20 paid;
    # sell 171,000.00 − 42.75 − 85.50 stamp duty − 1.71 = 170,870.04 received.
    assert [f.fees_total for f in fills] == [D("44.20"), D("129.96")]
    assert fills[-1].realized_pnl == D("825.84")
    assert acct.realized_pnl == D("825.84")
    assert acct.cash - start == D("825.84")
    assert pf.positions[MOUTAI].cost_basis == D("0")


def test_hk_round_trip_realized_pnl_equals_cash_change() -> None:
    desk = make_desk({"HKD": "500000"})
    desk.open_day(HK, DAY1)
    acct = desk.broker.portfolio("t1").account("HKD")
    desk.quote(TENCENT, "300.00", "299.80", "300.00")
    desk.submit(TENCENT, BUY, 300)
    desk.quote(TENCENT, "305.00", "305.00", "305.20")
    desk.submit(TENCENT, SELL, 300)
    # Buy 90,000: commission 27.00, stamp 90, SFC 2.43, AFRC 0.14, trading 5.09, settlement 2.
    # Sell 91,500: commission 27.45, stamp 92, SFC 2.47, AFRC 0.14, trading 5.17, settlement 2.
    assert acct.realized_pnl == D("1500") - D("126.66") - D("129.23")
    assert acct.cash - D("500000") == acct.realized_pnl
