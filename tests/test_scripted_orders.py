"""Scripted-order cases through the backtest runner, each with the status and code it must give.

Orders are matched on the bar of their date (daily files) or time (intraday files).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from deepalpha.engine.backtest.runner import BacktestConfig, BacktestResult, run_backtest
from deepalpha.engine.backtest.scripted import OrdersFileError, check_symbols, load_orders
from deepalpha.engine.feeds.csv_replay import load_bar_files
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.orders import Order, OrderStatus

CASH = Decimal(10_000_000)


def run(
    tmp_path: Path, bar_files: list[Path], orders_csv: str, cash: Decimal = CASH
) -> BacktestResult:
    registry = InstrumentRegistry.default()
    orders_path = tmp_path / "orders.csv"
    orders_path.write_text(orders_csv, "utf-8")
    series = load_bar_files(bar_files, registry)
    return run_backtest(
        series, BacktestConfig(cash=cash), registry, scripted=load_orders(orders_path)
    )


def by_line(result: BacktestResult) -> list[Order]:
    return sorted(result.orders, key=lambda o: int(o.id))


def test_a_share_buy_of_150_is_rejected_lot_size(tmp_path: Path, real_data: Path) -> None:
    result = run(
        tmp_path,
        [real_data / "a_600519_daily.csv"],
        "date,symbol,side,quantity,type,limit_price\n2021-03-01,600519.SH,buy,150,market,\n",
    )
    [order] = result.orders
    assert order.status is OrderStatus.REJECTED
    assert order.reject_code == "LOT_SIZE"
    assert order.reject_reason == "150 shares is not a multiple of the board lot 100 for 600519.SH"
    assert result.fills == []


def test_same_day_sell_is_t_plus_one_and_sells_next_day(tmp_path: Path, real_data: Path) -> None:
    # 5-minute bars (SOURCES.md §2): buy on the first bar, try to sell 25 minutes later, then
    # sell on the next trading day's first bar.
    result = run(
        tmp_path,
        [real_data / "a_600519_5min_2026.csv"],
        "datetime,symbol,side,quantity,type,limit_price\n"
        "2026-02-05 09:35:00,600519,buy,100,market,\n"
        "2026-02-05 10:00:00,600519,sell,100,market,\n"
        "2026-02-06 09:35:00,600519,sell,100,market,\n",
    )
    buy, early_sell, next_day_sell = by_line(result)
    assert buy.status is OrderStatus.FILLED
    assert buy.avg_price == Decimal("1520")  # the 09:35 bar's open
    assert early_sell.status is OrderStatus.REJECTED
    assert early_sell.reject_code == "T_PLUS_ONE"
    assert "only 0 sellable today" in (early_sell.reject_reason or "")
    assert next_day_sell.status is OrderStatus.FILLED
    assert next_day_sell.avg_price == Decimal("1555")  # 2026-02-06 09:35 open


def test_buy_on_one_price_limit_up_day_is_price_limit(tmp_path: Path, real_data: Path) -> None:
    # 300750 on 2018-06-12: O=H=L=C=39.82 = round(36.20 × 1.1) — sealed at limit-up all day.
    result = run(
        tmp_path,
        [real_data / "a_300750_daily.csv"],
        "date,symbol,side,quantity,type,limit_price\n"
        "2018-06-12,300750,buy,100,market,\n"
        "2018-06-12,300750,buy,100,limit,39.82\n",
    )
    for order in result.orders:
        assert order.status is OrderStatus.EXPIRED
        assert order.reject_code == "PRICE_LIMIT"
        assert "limit-up 39.82" in (order.reject_reason or "")
    assert result.fills == []


def test_limit_price_above_the_band_is_rejected(tmp_path: Path, real_data: Path) -> None:
    result = run(
        tmp_path,
        [real_data / "a_300750_daily.csv"],
        "date,symbol,side,quantity,type,limit_price\n2018-06-12,300750,buy,100,limit,39.83\n",
    )
    [order] = result.orders
    assert order.status is OrderStatus.REJECTED
    assert order.reject_code == "PRICE_LIMIT"
    assert "outside today's band 32.58–39.82" in (order.reject_reason or "")


def test_star_buy_of_201_fills_and_199_is_lot_size(tmp_path: Path, real_data: Path) -> None:
    # SSE STAR trading rules: at least 200 shares per buy, then steps of 1.
    result = run(
        tmp_path,
        [real_data / "a_688981_daily.csv"],
        "date,symbol,side,quantity,type,limit_price\n"
        "2021-03-01,688981,buy,201,market,\n"
        "2021-03-01,688981,buy,199,market,\n",
    )
    ok, small = by_line(result)
    assert ok.status is OrderStatus.FILLED and ok.filled_quantity == 201
    assert small.status is OrderStatus.REJECTED and small.reject_code == "LOT_SIZE"
    assert "below the STAR minimum of 200" in (small.reject_reason or "")


def test_star_odd_remainder_sells_only_whole(tmp_path: Path, real_data: Path) -> None:
    # Hold 201 STAR shares: a sell below 200 that is not the whole holding is refused; the
    # whole 201 sells.
    result = run(
        tmp_path,
        [real_data / "a_688981_daily.csv"],
        "date,symbol,side,quantity,type,limit_price\n"
        "2021-03-01,688981,buy,201,market,\n"
        "2021-03-02,688981,sell,150,market,\n"
        "2021-03-03,688981,sell,201,market,\n",
    )
    _, partial, whole = by_line(result)
    assert partial.status is OrderStatus.REJECTED and partial.reject_code == "LOT_SIZE"
    assert whole.status is OrderStatus.FILLED and whole.filled_quantity == 201


def test_hk_buy_of_150_tencent_is_lot_size(tmp_path: Path, real_data: Path) -> None:
    result = run(
        tmp_path,
        [real_data / "hk_00700_daily.csv"],
        "date,symbol,side,quantity,type,limit_price\n2020-06-02,700.HK,buy,150,market,\n",
    )
    [order] = result.orders
    assert order.reject_code == "LOT_SIZE"
    assert order.reject_reason == "150 shares is not a multiple of the board lot 100 for 00700.HK"


def test_hk_fees_and_stamp_duty_rounded_up_to_the_dollar(tmp_path: Path, real_data: Path) -> None:
    # 2020-06-02 open 436 × 100 = HK$43,600: stamp duty 0.1 % = 43.60 → 44 (rounded up to the
    # dollar); SFC 0.0027 % = 1.1772 → 1.18; no AFRC levy before 2022; trading fee
    # 0.005 % = 2.18 + HK$0.50 tariff; settlement 0.002 % = 0.872 → minimum HK$2;
    # commission 0.03 % = 13.08 (above the HK$3 minimum).
    result = run(
        tmp_path,
        [real_data / "hk_00700_daily.csv"],
        "date,symbol,side,quantity,type,limit_price\n2020-06-02,00700.HK,buy,100,market,\n",
    )
    [fill] = result.fills
    assert fill.amount == Decimal("43600")
    fees = fill.fees
    assert fees.stamp_duty == Decimal("44")
    assert fees.sfc_levy == Decimal("1.18")
    assert fees.afrc_levy == 0
    assert fees.trading_fee == Decimal("2.68")
    assert fees.settlement_fee == Decimal("2.00")
    assert fees.commission == Decimal("13.08")
    assert fees.total == Decimal("62.94")


def test_stamp_duty_on_sells_only_at_the_rate_of_the_date(tmp_path: Path, real_data: Path) -> None:
    # Stamp duty on A-share sells halved from 0.1 % to 0.05 % on 2023-08-28.
    result = run(
        tmp_path,
        [real_data / "a_600519_daily_2023-08.csv"],
        "date,symbol,side,quantity,type,limit_price\n"
        "2023-08-14,600519,buy,100,market,\n"
        "2023-08-25,600519,sell,100,market,\n"
        "2023-08-28,600519,buy,100,market,\n"
        "2023-09-01,600519,sell,100,market,\n",
    )
    buy1, sell1, buy2, sell2 = sorted(result.fills, key=lambda f: f.time)
    assert buy1.fees.stamp_duty == 0 and buy2.fees.stamp_duty == 0
    assert sell1.amount == Decimal("180879.00")
    assert sell1.fees.stamp_duty == Decimal("180.88")  # 0.1 % of 180,879 = 180.879
    assert sell2.amount == Decimal("185283.00")
    assert sell2.fees.stamp_duty == Decimal("92.64")  # 0.05 % of 185,283 = 92.6415
    # Commission 0.025 % and transfer fee 0.001 % on both sides, each rounded half-up.
    assert buy1.fees.commission == Decimal("45.25")
    assert buy1.fees.transfer_fee == Decimal("1.81")


def test_five_yuan_minimum_applies_once_per_order(tmp_path: Path) -> None:
    # A 1,000-share buy at ¥10 is ¥10,000: 0.025 % is ¥2.50, so the ¥5 minimum applies — once
    # for the order, although the 25 % participation cap splits it over two 5-minute bars.
    bars = tmp_path / "bars.csv"
    bars.write_text(
        "datetime,code,open,high,low,close,volume\n"
        "2024-03-04 09:35:00,600000,10.00,10.00,10.00,10.00,2000\n"
        "2024-03-04 09:40:00,600000,10.00,10.00,10.00,10.00,2000\n",
        "utf-8",
    )
    result = run(
        tmp_path,
        [bars],
        "datetime,symbol,side,quantity,type,limit_price\n"
        "2024-03-04 09:35:00,600000,buy,1000,limit,10.00\n",
    )
    [order] = result.orders
    assert order.status is OrderStatus.FILLED
    first, second = result.fills
    assert (first.quantity, second.quantity) == (500, 500)
    assert first.fees.commission == Decimal("5.00")
    assert second.fees.commission == Decimal("0.00")
    assert order.fees.commission == Decimal("5.00")


def test_odd_lot_remainder_sells_only_as_a_whole() -> None:
    """SSE/SZSE: 余额不足 100 股部分应当一次性申报卖出 — the odd lot of a holding (e.g. from
    bonus shares) can only be sold in one order."""
    from datetime import date, datetime

    from deepalpha.engine.broker import BrokerSettings, PaperBroker
    from deepalpha.engine.clock import ManualClock
    from deepalpha.engine.markets.fees import NO_FEES
    from deepalpha.engine.markets.sessions import SHANGHAI
    from deepalpha.engine.markets.symbols import Market
    from deepalpha.engine.orders import Fill, OrderRequest, OrderType, Side

    clock = ManualClock(datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI))
    broker = PaperBroker(
        InstrumentRegistry.default(), clock, settings=BrokerSettings(check_sessions=False)
    )
    book = broker.add_trader("t", {"CNY": CASH})
    # 250 shares held, e.g. after a 10-for-4 bonus issue on 100 shares... booked as a fill.
    book.portfolio.apply_fill(
        Fill(
            "seed",
            "seed",
            "t",
            "600519.SH",
            Side.BUY,
            250,
            Decimal("1700"),
            Decimal("425000"),
            NO_FEES,
            clock.now(),
            date(2024, 3, 1),
            "CNY",
        )
    )
    broker.start_day(Market.CN, date(2024, 3, 4))
    broker.set_reference("600519.SH", date(2024, 3, 4), Decimal("1700"))

    def sell(quantity: int) -> Order:
        return broker.submit(
            OrderRequest("t", "600519.SH", Side.SELL, quantity, OrderType.LIMIT, Decimal("1700"))
        )

    bad = sell(30)
    assert bad.reject_code == "LOT_SIZE"
    assert "the odd lot of 50 shares can only be sold whole" in (bad.reject_reason or "")
    assert sell(150).status is OrderStatus.OPEN  # 100 + the whole odd lot of 50
    broker.cancel_all("t")
    assert sell(50).status is OrderStatus.OPEN  # the odd lot alone
    assert sell(200).status is OrderStatus.OPEN  # whole lots from what is left


def test_orders_without_a_bar_are_rejected_market_closed(tmp_path: Path, real_data: Path) -> None:
    result = run(
        tmp_path,
        [real_data / "a_600519_daily.csv"],
        "date,symbol,side,quantity,type,limit_price\n2021-03-06,600519,buy,100,market,\n",
    )  # a Saturday
    [order] = result.orders
    assert order.status is OrderStatus.REJECTED
    assert order.reject_code == "MARKET_CLOSED"
    assert "line 2: no bar for 600519.SH at 2021-03-06" in (order.reject_reason or "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("symbol,side,quantity\n", ":1: no 'date' or 'datetime' column"),
        (
            "date,symbol,side,quantity\n2024-01-02,600519,hold,100\n",
            ":2: side 'hold' must be buy or sell",
        ),
        (
            "date,symbol,side,quantity\n2024-01-02,600519,buy,1.5\n",
            ":2: quantity '1.5' must be a whole number of shares",
        ),
        (
            "date,symbol,side,quantity,type,limit_price\n2024-01-02,600519,buy,100,limit,\n",
            ":2: a limit order needs a limit_price",
        ),
        ("date,symbol,side,quantity\n2024-01-02,ABC,buy,100\n", ":2: 'ABC' is not a symbol"),
        (
            "date,symbol,side,quantity\n02/01/2024,600519,buy,100\n",
            ":2: date '02/01/2024' is not ISO",
        ),
    ],
)
def test_bad_orders_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(text, "utf-8")
    with pytest.raises(OrdersFileError) as err:
        load_orders(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_orders_for_symbols_the_data_lacks_are_refused_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "date,symbol,side,quantity\n2024-01-02,600519,buy,100\n2024-01-02,hk.1234,buy,100\n",
        "utf-8",
    )
    orders = load_orders(path)
    registry = InstrumentRegistry.default()
    check_symbols(orders[:1], path, registry, ["600519.SH"])  # every symbol has bars: fine
    with pytest.raises(OrdersFileError) as err:
        check_symbols(orders, path, registry, ["600519.SH"])
    assert str(err.value).startswith(f"{path}:3: symbol 01234.HK is not in the instrument data")
    assert "--instruments FILE" in str(err.value)
