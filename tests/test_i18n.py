"""The message catalogue: every entry in both languages, engine rejections said in Chinese with
their numbers, reasons that survive a restart, and money and counts the Chinese way."""

from __future__ import annotations

import asyncio
import pickle
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from string import Formatter

import pytest
from sqlalchemy import text

from deepalpha.engine.broker import BrokerSettings, PaperBroker
from deepalpha.engine.clock import ManualClock
from deepalpha.engine.events import OrderEvent
from deepalpha.engine.ids import sequential
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.instruments import InstrumentRegistry
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Order, OrderRequest, OrderType, RejectCode, Side
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.i18n import MESSAGES as EVERY_MESSAGE
from deepalpha.i18n import (
    NOUNS,
    Msg,
    count,
    from_stored,
    money,
    plural,
    render,
    say,
    t,
    to_stored,
)
from deepalpha.i18n.catalogue import MESSAGES
from deepalpha.storage.connect import open_store

D = Decimal
R = RejectCode
DAY1 = date(2024, 3, 1)  # a Friday
DAY2 = date(2024, 3, 4)
CMB = "600036.SH"


def fields(template: str) -> list[tuple[str, str, str | None]]:
    return [
        (name, spec, conv)
        for _, name, spec, conv in Formatter().parse(template)
        if name is not None
    ]


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_entry_is_said_in_both_languages_with_the_same_placeholders(key: str) -> None:
    en, zh = MESSAGES[key]
    assert en.strip() and zh.strip(), key
    en_fields, zh_fields = fields(en), fields(zh)
    assert {f[0] for f in en_fields} == {f[0] for f in zh_fields}, key
    # Only the catalogue's own number specs, no conversions: a stored parameter (a number
    # kept as its text) must render exactly as the value did, in either language.
    known = {"", "money", "price", "qty", *NOUNS}
    assert all(spec in known and conv is None for _, spec, conv in en_fields + zh_fields), key
    assert all(name and name.isidentifier() for name, _, _ in en_fields), key


def test_labels_for_the_ui_are_in_the_catalogue() -> None:
    assert t("status.open", "zh") == "已报"
    assert t("status.rejected", "zh") == "废单"
    assert t("side.sell", "zh") == "卖出"
    assert t("phase.lunch_break", "zh") == "午间休市"
    assert t("market.HK", "zh") == "港股"
    assert t("board.star", "zh") == "科创板"
    assert t("kind.hybrid", "zh") == "人机协同"


# --- engine rejections in Chinese -----------------------------------------------------------


def broker(limits: RiskLimits | None = None) -> PaperBroker:
    clock = ManualClock(datetime.combine(DAY1, time(10, 0), SHANGHAI))
    b = PaperBroker(
        InstrumentRegistry.default(),
        clock,
        settings=BrokerSettings(),
        id_factory=sequential("o"),
        fill_id_factory=sequential("f"),
    )
    b.add_trader("t1", {"CNY": D("10000")}, limits)
    b.start_day(Market.CN, DAY1)
    b.set_phase(Market.CN, Phase.CONTINUOUS)
    b.set_reference(CMB, DAY1, D("36.20"))
    return b


def submit(b: PaperBroker, side: Side, qty: int, price: str) -> Order:
    return b.submit(OrderRequest("t1", CMB, side, qty, OrderType.LIMIT, D(price)))


def test_a_lot_size_rejection_in_chinese() -> None:
    order = submit(broker(), Side.BUY, 150, "36.20")
    assert order.reject_code is R.LOT_SIZE
    assert order.reject_reason == f"150 shares is not a multiple of the board lot 100 for {CMB}"
    assert isinstance(order.reject_reason, Msg) and order.reject_reason.key == "lot.multiple"
    assert say(order.reject_reason, "zh") == f"150 股不是 {CMB} 每手 100 股的整数倍"


def test_a_price_band_rejection_in_chinese() -> None:
    order = submit(broker(), Side.BUY, 100, "39.83")
    assert order.reject_code is R.PRICE_LIMIT
    assert order.reject_reason == (
        f"limit price 39.83 is outside today's band 32.58–39.82 for {CMB} (reference 36.20)"
    )
    assert say(order.reject_reason, "zh") == (
        f"{CMB} 委托价 39.83 超出今日涨跌停区间 32.58–39.82（昨收 36.20）"
    )


def test_a_t_plus_one_rejection_in_chinese() -> None:
    b = broker()
    bought = b.submit(OrderRequest("t1", CMB, Side.BUY, 100, OrderType.MARKET, None))
    assert bought.reject_code is R.MARKET_CLOSED  # no price yet: said in Chinese too
    assert say(bought.reject_reason or "", "zh") == f"{CMB} 暂无行情价格，市价委托须有报价或K线"
    order = submit(b, Side.BUY, 100, "36.20")
    b.on_quote(_quote(b, "36.20"))
    assert order.filled_quantity == 100
    sell = submit(b, Side.SELL, 100, "36.20")
    assert sell.reject_code is R.T_PLUS_ONE
    zh = say(sell.reject_reason or "", "zh")
    assert zh == (f"T+1：卖出 {CMB} 100 股，今日可卖 0 股；今日买入的 100 股下一交易日才可卖出")


def _quote(b: PaperBroker, price: str) -> Quote:
    p = D(price)
    return Quote(CMB, b.clock.now(), p, p, p, 100_000, 100_000)


def test_insufficient_cash_in_chinese() -> None:
    order = submit(broker(), Side.BUY, 300, "36.20")
    assert order.reject_code is R.INSUFFICIENT_CASH
    assert order.reject_reason == (
        f"buy 300 {CMB} at 36.20 needs 10,865.11 CNY with fees; available 10,000.00"
    )
    assert say(order.reject_reason, "zh") == (
        f"资金不足：以 36.20 买入 {CMB} 300 股含费用需 10,865.11 CNY，可用资金 10,000.00"
    )


def test_a_risk_limit_in_chinese() -> None:
    b = broker(RiskLimits(max_order_value=D("3000")))
    order = submit(b, Side.BUY, 100, "36.20")
    assert order.reject_code is R.RISK_MAX_ORDER_VALUE
    assert order.reject_reason == (f"order value 3,620.00 CNY exceeds the limit 3,000.00 for {CMB}")
    assert say(order.reject_reason, "zh") == f"{CMB} 委托金额 3,620.00 CNY 超过单笔上限 3,000.00"


def test_a_closed_market_says_market_and_phase_in_chinese() -> None:
    b = broker()
    b.set_phase(Market.CN, Phase.LUNCH_BREAK)
    order = submit(b, Side.BUY, 100, "36.20")
    assert order.reject_reason == (
        "the CN market is at its lunch break; orders are accepted only in the auctions and "
        "continuous trading"
    )
    assert say(order.reject_reason, "zh") == (
        "A股市场正在午间休市；仅在集合竞价和连续竞价时段接受委托"
    )
    b.set_phase(Market.CN, Phase.PRE_OPEN)
    market = b.submit(OrderRequest("t1", CMB, Side.BUY, 100, OrderType.MARKET, None))
    assert market.reject_reason == (
        "market orders are accepted only in continuous trading; the CN market is in its "
        "opening auction"
    )
    assert say(market.reject_reason or "", "zh") == (
        "市价委托仅在连续竞价时段接受；A股市场正处于开盘集合竞价"
    )


def test_a_day_end_expiry_in_chinese() -> None:
    b = broker()
    order = submit(b, Side.BUY, 100, "33.00")
    [expired] = b.end_day(Market.CN, DAY1)
    assert expired is order and order.reject_code is R.DAY_END
    assert order.reject_reason == "day order expired at the close with 100 of 100 shares unfilled"
    assert say(order.reject_reason, "zh") == "当日委托收盘失效，100 股中 100 股未成交"


def test_a_message_pickles_with_its_key() -> None:
    msg = Msg(
        "band.outside",
        price=D("39.83"),
        low=D("32.58"),
        high=D("39.82"),
        symbol=CMB,
        reference=D("36.20"),
    )
    back = pickle.loads(pickle.dumps(msg))
    assert isinstance(back, Msg) and back == msg and back.key == "band.outside"


# --- a restart ------------------------------------------------------------------------------


def test_a_reason_survives_storage_and_is_said_in_chinese_after_reload(tmp_path: Path) -> None:
    b = broker()
    band = submit(b, Side.BUY, 100, "39.83")
    b.set_phase(Market.CN, Phase.CLOSED)
    closed = submit(b, Side.BUY, 100, "36.20")  # a message with messages inside
    plain = submit(b, Side.BUY, 100, "36.20")
    plain.reject_reason = "an old reason, from before the catalogue"
    gone = submit(b, Side.BUY, 100, "36.20")

    async def scenario() -> dict[str, Order]:
        store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'i18n.db'}", tmp_path)
        try:
            await store.save_trader(TraderConfig("t1", "Alice", TraderKind.DISCRETIONARY))
            await store.write_events(
                [OrderEvent(o.snapshot()) for o in (band, closed, plain, gone)]
            )
            async with store.engine.begin() as conn:  # a key a later version dropped
                await conn.execute(
                    text("UPDATE orders SET reject_key = 'no.such_key' WHERE id = :id"),
                    {"id": gone.id},
                )
            return {o.id: o for o in await store.orders()}
        finally:
            await store.close()

    loaded = asyncio.run(scenario())
    again = loaded[band.id].reject_reason
    assert isinstance(again, Msg) and again.key == "band.outside"
    assert again == band.reject_reason  # the same English, byte for byte
    assert say(again, "zh") == f"{CMB} 委托价 39.83 超出今日涨跌停区间 32.58–39.82（昨收 36.20）"
    nested = loaded[closed.id].reject_reason
    assert isinstance(nested, Msg) and nested == closed.reject_reason
    assert say(nested, "zh").startswith("A股市场已休市；")
    assert not isinstance(loaded[plain.id].reject_reason, Msg)
    assert loaded[plain.id].reject_reason == "an old reason, from before the catalogue"
    assert not isinstance(loaded[gone.id].reject_reason, Msg)
    assert loaded[gone.id].reject_reason == gone.reject_reason


def test_stored_parameters_are_json_safe() -> None:
    msg = Msg("expire.missed_close", day=DAY2, remaining=100, quantity=200)
    key, params = to_stored(msg)
    assert (key, params) == (
        "expire.missed_close",
        {"day": "2024-03-04", "remaining": 100, "quantity": 200},
    )
    assert from_stored(key, params, "x") == msg
    assert from_stored(key, {"day": "2024-03-04"}, "the text") == "the text"  # missing params
    assert from_stored(None, None, "the text") == "the text"


# --- money and counts -----------------------------------------------------------------------


def test_money_and_counts() -> None:
    assert money(D("1234.5"), "CNY", "en") == "¥1,234.50"
    assert money(D("1234.5"), "CNY", "zh") == "¥1,234.50"
    # Balances and P&L read to the fen in Chinese too; 万/亿 only in compact columns.
    assert money(D("1234567.891"), "CNY", "zh") == "¥1,234,567.89"
    assert money(D("123456789"), "CNY", "zh", compact=True) == "¥1.23亿"
    assert money(D("45600"), "CNY", "zh", compact=True) == "¥4.56万"
    assert money(D("45600"), "CNY", "en", compact=True) == "¥45,600.00"
    assert money(D("45600"), "CNY", "en") == "¥45,600.00"
    assert money(D("1234.5"), "HKD", "en") == "HK$1,234.50"
    assert money(D("-12.3"), "HKD", "en") == "-HK$12.30"
    assert money(D("12.3"), "CNY", "en", sign=True) == "+¥12.30"
    assert count(12345, "en") == "12,345"
    assert count(45600, "zh") == "4.56万"
    assert count(456_000_000, "zh") == "4.56亿"
    assert count(9999, "zh") == "9,999"


# --- plurals and numbers in messages --------------------------------------------------------


def test_counts_take_the_singular_for_one_in_english_and_a_measure_word_in_chinese() -> None:
    assert plural(1, "shares", "en") == "1 share"
    assert plural(2, "shares", "en") == "2 shares"
    assert plural(0, "orders", "en") == "0 orders"
    assert plural(1, "lots", "en") == "1 lot"
    assert plural(1, "cycles", "en") == "1 cycle"
    assert plural(1200, "traders", "en") == "1,200 traders"
    assert plural(1, "shares", "zh") == "1 股"
    assert plural(3, "orders", "zh") == "3 笔委托"
    assert t("toast.cancelled", "en", count=1) == "Cancelled 1 order"
    assert t("toast.cancelled", "en", count=2) == "Cancelled 2 orders"
    assert t("confirm.cancel_all", "en", count=1) == "Cancel 1 open order?"
    assert t("risk.open_orders", "en", count=1, limit=1) == "1 open order already; the limit is 1"
    assert t("backups.info", "en", count=1, folder="/b") == "1 backup in /b"
    one = Msg("lot.multiple", quantity=1, lot=100, symbol=CMB)
    assert one == f"1 share is not a multiple of the board lot 100 for {CMB}"
    assert say(one, "zh") == f"1 股不是 {CMB} 每手 100 股的整数倍"


def test_a_rejection_prints_money_to_the_cent_and_counts_with_separators() -> None:
    msg = Msg(
        "cash.insufficient",
        quantity=20000,
        symbol="600519.SH",
        price=D("1514.00"),
        need=D("30286812.3456"),
        currency="CNY",
        available=D("1234567.8900"),
    )
    assert msg == (
        "buy 20,000 600519.SH at 1,514.00 needs 30,286,812.35 CNY with fees; available 1,234,567.89"
    )
    assert say(msg, "zh") == (
        "资金不足：以 1,514.00 买入 600519.SH 20,000 股含费用需 30,286,812.35 CNY，"
        "可用资金 1,234,567.89"
    )
    # Stored, the numbers are their text: reloaded, the message reads the same.
    key, params = to_stored(msg)
    again = from_stored(key, params, None)
    assert again == msg and say(again or "", "zh") == say(msg, "zh")
    # A reason stored before the numbers were formatted (money as bare digits) reads the new way.
    old = from_stored(key, {**params, "need": "302868.00", "available": "1234567.8900"}, None)
    assert "needs 302,868.00 CNY" in (old or "") and "available 1,234,567.89" in (old or "")
    # An off-grid price shows as typed, so the reader sees why it is off the grid.
    tick = Msg("tick.off_grid", price=D("36.205"), tick=D("0.01"), symbol=CMB)
    assert tick == f"price 36.205 is not a multiple of the tick 0.01 for {CMB}"


@pytest.mark.parametrize("key", sorted(k for k in EVERY_MESSAGE if k.startswith("risk.")))
def test_every_risk_message_formats_its_money(key: str) -> None:
    params = {
        "loss": D("1234567.8"),
        "limit": D("1000000"),
        "currency": "CNY",
        "value": D("302868"),
        "symbol": CMB,
        "total": D("1302868.456"),
        "held": D("1000000.456"),
        "count": 12,
    }
    en = render(key, "en", params)
    zh = render(key, "zh", params)
    for said in (en, zh):
        for raw in ("1234567.8", "302868", "1302868.456", "1000000.456"):
            assert raw not in said, (key, said)
    if key == "risk.max_position":
        assert "1,302,868.46" in en and "1,000,000.00" in zh
