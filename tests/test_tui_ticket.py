"""The order ticket, driven by keyboard only through Pilot, on a real LocalBackend: a market buy
that fills, a limit that rests, a lot-size problem shown before sending, a rejection only the
broker could find, the sellable quantity on a sell, and symbol search by name and alias."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import time
from decimal import Decimal
from pathlib import Path
from string import Formatter
from typing import Any

from textual.widgets import Input, Label, Static

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.app.tui import DeepAlphaApp, make_app
from deepalpha.engine.markets.fees import FEE_ITEMS
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import Order, OrderRequest, OrderStatus, OrderType, Side
from deepalpha.i18n.text_ticket import TEXT
from deepalpha.screens.confirm import ConfirmScreen
from deepalpha.screens.order_ticket import OrderTicket, Suggestions

D = Decimal
MOUTAI = "600519.SH"
TENCENT = "00700.HK"
SIZE = (100, 40)
# Continuous-trading windows (Shanghai time) with time to spare before the break or the close,
# so that no order of a test meets the lunch break or the day's end.
WINDOWS = ((time(9, 31), time(11, 0)), (time(13, 1), time(14, 25)))

Toasts = list[tuple[str, str, str]]
Scenario = Callable[[DeepAlphaApp, Any, LocalBackend, Toasts], Awaitable[None]]


def run(
    tmp_path: Path, scenario: Scenario, *, trading: bool = True, markets: tuple[Market, ...] = ()
) -> None:
    async def main() -> None:
        backend = LocalBackend(
            RuntimeOptions(
                data_dir=tmp_path, seed=11, speed=600, tick_interval=0.1, auto_backup=False
            )
        )
        app = make_app(backend, start_screen="market")
        toasts: Toasts = []
        notify = app.notify

        def record(message: str, *args: Any, **kwargs: Any) -> None:
            toasts.append((kwargs.get("title", ""), str(message), kwargs.get("severity", "")))
            notify(message, *args, **kwargs)

        app.notify = record  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: backend.runtime.started and app.current_mode == "market")
            if trading:
                await continuous_trading(backend, *markets)
            else:
                # Pilot waits for the app to go idle after each key: keep the feed light.
                backend.runtime.market.set_speed(60)
            await scenario(app, pilot, backend, toasts)

    asyncio.run(main())


async def until(cond: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.02)


async def continuous_trading(backend: LocalBackend, *markets: Market) -> None:
    """Run the simulated market fast to a moment of continuous trading (in Shanghai, and in the
    other ``markets`` asked for) with a quote to trade on, then at 60× so that it stays there for
    the test."""
    market = backend.runtime.market
    wanted = {Market.CN, *markets}
    symbols = [{Market.CN: MOUTAI, Market.HK: TENCENT}[m] for m in wanted]

    def ready() -> bool:
        status = backend.market_status()
        now = status.time.time()
        quotes = backend.quotes()
        return (
            all(status.phases[m] is Phase.CONTINUOUS for m in wanted)
            and any(lo <= now <= hi for lo, hi in WINDOWS)
            and all(quotes.get(s) is not None and quotes[s].ask is not None for s in symbols)
        )

    market.set_speed(10_000)
    await until(ready, timeout=30, what="continuous trading")
    market.set_speed(60)


def manual(backend: LocalBackend) -> list[Order]:
    """Orders placed by hand (the demo's strategy trader places its own meanwhile)."""
    return [o for o in backend.orders() if o.source == "manual"]


def status_of(backend: LocalBackend, order_id: str) -> OrderStatus:
    return next(o.status for o in backend.orders() if o.id == order_id)


def question(app: DeepAlphaApp) -> str:
    """The question of the confirmation on top, or "" when there is none."""
    if not isinstance(app.screen, ConfirmScreen):
        return ""
    return str(app.screen.query_one("#question", Label).render())


def ticket(app: DeepAlphaApp) -> OrderTicket:
    screen = app.screen
    assert isinstance(screen, OrderTicket), screen
    return screen


def text_of(screen: OrderTicket, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_ticket(app: DeepAlphaApp, pilot: Any, key: str) -> OrderTicket:
    await pilot.press(key)
    await until(lambda: isinstance(app.screen, OrderTicket), what="the ticket")
    await pilot.pause()
    return ticket(app)


async def pick(app: DeepAlphaApp, pilot: Any, typed: str, expect: str) -> OrderTicket:
    """Type into the symbol field (reached by keyboard), wait for the suggestions, Enter."""
    screen = ticket(app)
    if app.focused is not screen.query_one("#symbol"):
        await pilot.press("shift+tab")
    assert app.focused is screen.query_one("#symbol")
    await pilot.press("end", "ctrl+u", *typed)
    suggestions = screen.query_one(Suggestions)
    await until(lambda: screen._found and screen._found[0].symbol == expect, 3, typed)
    assert not suggestions.has_class("-empty")
    await pilot.press("enter")
    await pilot.pause()
    assert screen.instrument is not None and screen.instrument.symbol == expect
    assert app.focused is screen.query_one("#quantity")
    return screen


async def quantity(pilot: Any, screen: OrderTicket, qty: str) -> None:
    assert screen.app.focused is screen.query_one("#quantity")
    await pilot.press("end", "ctrl+u", *qty)
    await pilot.pause()


# --- a market buy that fills; then what a sell ticket says ---------------------------------


def test_market_buy_by_keyboard_fills_and_the_sell_ticket_shows_what_is_sellable(
    tmp_path: Path,
) -> None:
    async def scenario(
        app: DeepAlphaApp, pilot: Any, backend: LocalBackend, toasts: Toasts
    ) -> None:
        screen = await open_ticket(app, pilot, "b")
        assert screen.side is Side.BUY
        await pick(app, pilot, "茅台", MOUTAI)
        await quantity(pilot, screen, "100")
        assert "board lot 100" in text_of(screen, "#lot-hint")
        await pilot.press("tab")  # order type
        await pilot.press("right")  # limit → market
        assert screen.query_one("#price", Input).disabled
        await pilot.pause()
        estimate = text_of(screen, "#estimate")
        assert "market, est." in estimate and "Commission" in estimate, estimate
        assert "Limit down" in estimate and "Limit up" in estimate
        assert "Stamp duty" not in estimate  # buys pay no stamp duty in Shanghai
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        detail = str(app.screen.query_one("#detail", Static).render())
        assert "Buy 100 600519.SH 贵州茅台" in detail and "Market" in detail, detail
        assert "incl. fees" in detail
        await pilot.press("y")
        await until(lambda: not isinstance(app.screen, OrderTicket | ConfirmScreen))
        mine = manual(backend)
        assert len(mine) == 1
        order = mine[0]
        assert (order.side, order.type, order.quantity) == (Side.BUY, OrderType.MARKET, 100)
        await until(lambda: status_of(backend, order.id) is OrderStatus.FILLED, what="the fill")
        assert any(f.order_id == order.id for f in backend.fills())

        # The demo bots' fills are toasted too: look for this one.
        def mine() -> str | None:
            return next(
                (m for title, m, _ in toasts if title == "Filled" and "600519.SH" in m), None
            )

        await until(mine, what="toast")
        fill_toast = mine()
        assert fill_toast is not None and "100" in fill_toast
        assert fill_toast.startswith("Buy 100 600519.SH @ ") and fill_toast.endswith(" — You")

        # Sell what was bought today: T+1 says none of it is sellable, with the numbers.
        screen = await open_ticket(app, pilot, "s")
        assert screen.side is Side.SELL
        await pick(app, pilot, "600519", MOUTAI)
        hint = text_of(screen, "#lot-hint")
        assert "sellable 0" in hint and "T+1 locked 100" in hint, hint
        await quantity(pilot, screen, "100")
        problem = text_of(screen, "#problem")
        assert problem.startswith("T_PLUS_ONE — "), problem
        assert "only 0 sellable today" in problem and "bought today (100 shares)" in problem
        await quantity(pilot, screen, "200")
        problem = text_of(screen, "#problem")
        assert problem.startswith("INSUFFICIENT_POSITION — "), problem
        assert "sell 200 600519.SH: 100 shares held" in problem
        sent = len(manual(backend))
        await pilot.press("enter")  # refused: nothing to confirm, nothing sent
        await pilot.pause()
        assert app.screen is screen and len(manual(backend)) == sent
        # `b` in a text field is a letter, not the side; out of it, it switches side.
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused is screen.query_one("#side")
        await pilot.press("b")
        assert screen.side is Side.BUY and "Buy order" in str(
            screen.query_one("#ticket").border_title
        )
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, OrderTicket), what="closed")

        # Hong Kong has no T+1: a lot bought now is sellable now.
        bought = await backend.place_order(OrderRequest("you", TENCENT, Side.BUY, 100))
        await until(lambda: status_of(backend, bought.id) is OrderStatus.FILLED, what="HK fill")
        assert bought.status in (OrderStatus.OPEN, OrderStatus.FILLED)
        screen = await open_ticket(app, pilot, "s")
        await pick(app, pilot, "700.hk", TENCENT)
        hint = text_of(screen, "#lot-hint")
        assert "board lot 100 · sellable 100" in hint and "locked" not in hint, hint
        await quantity(pilot, screen, "100")
        assert text_of(screen, "#problem").startswith("ready"), text_of(screen, "#problem")
        estimate = text_of(screen, "#estimate")
        assert "no daily price limit" in estimate and "Stamp duty HK$" in estimate
        assert "Net proceeds" in estimate

    run(tmp_path, scenario, markets=(Market.HK,))


# --- a limit order that rests -------------------------------------------------------------


def test_limit_buy_below_the_market_rests_open(tmp_path: Path) -> None:
    async def scenario(
        app: DeepAlphaApp, pilot: Any, backend: LocalBackend, toasts: Toasts
    ) -> None:
        screen = await open_ticket(app, pilot, "b")
        await pick(app, pilot, "sh600519", MOUTAI)
        # The price is pre-filled from the touch (the ask, to buy), on the tick grid.
        price_field = screen.query_one("#price", Input)
        prefilled = D(price_field.value)
        quote = backend.quotes()[MOUTAI]
        assert abs(prefilled - (quote.ask or quote.last)) < quote.last * D("0.01")
        assert prefilled == prefilled.quantize(D("0.01"))
        await quantity(pilot, screen, "100")
        await pilot.press("up")  # one lot more
        assert screen.query_one("#quantity", Input).value == "200"
        await pilot.press("down")
        assert screen.query_one("#quantity", Input).value == "100"
        await pilot.press("tab", "tab")  # type (limit, the default) → price
        assert app.focused is price_field
        await pilot.press("end", "ctrl+u", "enter")  # a limit with no price is not sent
        await pilot.pause()
        assert text_of(screen, "#problem") == "enter a limit price"
        assert app.screen is screen and not manual(backend)
        low = quote.limit_down
        assert low is not None
        target = low + D("10.00")  # well below the market, inside the band
        await pilot.press("end", "ctrl+u", *str(target))
        await pilot.press("down")  # one tick lower
        assert D(price_field.value) == target - D("0.01")
        await pilot.press("up", "up")
        assert D(price_field.value) == target + D("0.01")
        await pilot.pause()
        assert text_of(screen, "#problem").startswith("ready")
        estimate = text_of(screen, "#estimate")
        assert f"Price {target + D('0.01'):,}" in estimate, estimate  # with separators
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmScreen))
        detail = str(app.screen.query_one("#detail", Static).render())
        assert f"Limit {target + D('0.01'):,}" in detail and "Account: You" in detail
        await pilot.press("y")
        # About 9 % below the last price: the fat-finger check asks once more.
        await until(lambda: "far from the market" in question(app), what="the price warning")
        assert "below the last price" in str(app.screen.query_one("#detail", Static).render())
        await pilot.press("y")
        await until(lambda: not isinstance(app.screen, OrderTicket | ConfirmScreen))
        order = manual(backend)[-1]
        assert (order.symbol, order.type, order.limit_price) == (
            MOUTAI,
            OrderType.LIMIT,
            target + D("0.01"),
        )
        await pilot.pause(0.3)
        assert status_of(backend, order.id) is OrderStatus.OPEN
        await until(lambda: any(title == "Order placed" for title, _, _ in toasts))

    run(tmp_path, scenario)


# --- a fat finger: a limit far from the market asks first -------------------------------------


def test_a_hk_buy_far_above_the_market_asks_first_and_is_not_sent_when_declined(
    tmp_path: Path,
) -> None:
    async def scenario(
        app: DeepAlphaApp, pilot: Any, backend: LocalBackend, toasts: Toasts
    ) -> None:
        last = backend.quotes()[TENCENT].last
        assert D(100) < last < D(1000)  # HK has no daily band: 5000 passes every rule
        screen = await open_ticket(app, pilot, "b")
        await pick(app, pilot, "700.hk", TENCENT)
        await quantity(pilot, screen, "100")
        await pilot.press("tab", "tab", "end", "ctrl+u", *"5000")
        await until(lambda: text_of(screen, "#problem").startswith("ready"), what="ready")

        async def review_and_confirm() -> str:
            await pilot.press("enter")
            await until(lambda: question(app) == "Confirm order", what="the confirmation")
            await pilot.press("y")
            await until(lambda: "far from the market" in question(app), what="the warning")
            return str(app.screen.query_one("#detail", Static).render())

        detail = await review_and_confirm()
        # It names both prices and how far apart they are, in %.
        quote_then = backend.quotes()[TENCENT].last
        assert detail.startswith("Buy 00700.HK at 5,000.00 is "), detail
        assert "% above the last price " in detail and "more than 5 %" in detail
        said = D(detail.split(" is ", 1)[1].split(" %", 1)[0].replace(",", ""))
        assert abs(said - (D(5000) - quote_then) / quote_then * 100) < 20  # the quote moves
        assert app.focused is not None and app.focused.id == "no"  # Enter does not send it
        await pilot.press("enter")  # declined
        await until(lambda: app.screen is screen, what="back on the ticket")
        await pilot.pause(0.3)
        assert not manual(backend)

        await review_and_confirm()
        await pilot.press("y")  # sent as typed
        await until(lambda: not isinstance(app.screen, OrderTicket | ConfirmScreen))
        [order] = manual(backend)
        assert (order.symbol, order.limit_price, order.quantity) == (TENCENT, D(5000), 100)
        await until(lambda: status_of(backend, order.id) is OrderStatus.FILLED, what="the fill")

        # The demo's AI trader may fill Tencent too: the toast says whose fill each one is.
        def filled() -> list[str]:
            return [m for title, m, _ in toasts if title == "Filled" and TENCENT in m]

        def yours() -> bool:
            return any(m.startswith("Buy 100 ") and m.endswith(" — You") for m in filled())

        await until(yours, what="the toast of your fill, naming you")
        assert not any(m.endswith(("— you", "— ai-demo", "— sma-bot")) for m in filled())

    run(tmp_path, scenario, markets=(Market.HK,))


def test_a_limit_near_the_market_asks_nothing_more(tmp_path: Path) -> None:
    async def scenario(
        app: DeepAlphaApp, pilot: Any, backend: LocalBackend, toasts: Toasts
    ) -> None:
        screen = await open_ticket(app, pilot, "b")
        await pick(app, pilot, "600519", MOUTAI)
        await quantity(pilot, screen, "100")  # the price is pre-filled from the ask
        await until(lambda: text_of(screen, "#problem").startswith("ready"), what="ready")
        await pilot.press("enter")
        await until(lambda: question(app) == "Confirm order", what="the confirmation")
        await pilot.press("y")
        await until(lambda: not isinstance(app.screen, OrderTicket | ConfirmScreen))
        [order] = manual(backend)
        assert order.type is OrderType.LIMIT and order.symbol == MOUTAI

    run(tmp_path, scenario)


# --- problems: before sending, and the one only the broker finds ---------------------------


def test_lot_size_is_shown_before_sending_and_a_broker_rejection_shows_code_and_numbers(
    tmp_path: Path,
) -> None:
    async def scenario(
        app: DeepAlphaApp, pilot: Any, backend: LocalBackend, toasts: Toasts
    ) -> None:
        screen = await open_ticket(app, pilot, "b")
        await pick(app, pilot, "600519", MOUTAI)
        await quantity(pilot, screen, "150")
        problem = text_of(screen, "#problem")
        assert problem == (
            "LOT_SIZE — 150 shares is not a multiple of the board lot 100 for 600519.SH"
        ), problem
        sent = len(manual(backend))
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and len(manual(backend)) == sent  # no way to force it
        await pilot.press("up")  # to the next whole lot
        assert screen.query_one("#quantity", Input).value == "200"
        await pilot.press("down")
        assert screen.query_one("#quantity", Input).value == "100"
        await pilot.press("tab", "right")  # market
        await pilot.pause()
        assert text_of(screen, "#problem").startswith("ready")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConfirmScreen))
        # While the confirmation is up, another order takes the cash: only the broker knows.
        cash = next(tr for tr in backend.traders() if tr.id == "you").cash["CNY"]
        low = backend.quotes()[MOUTAI].limit_down
        assert low is not None
        lots = int(cash * D("0.99") / (low * 100))  # what the cash allows at the floor
        hog = await backend.place_order(
            OrderRequest("you", MOUTAI, Side.BUY, lots * 100, OrderType.LIMIT, low, "strategy")
        )
        assert hog.status is OrderStatus.OPEN, hog.reject_reason
        await pilot.press("y")
        await until(lambda: screen._rejection is not None, what="the rejection")
        assert app.screen is screen  # kept open to fix the order
        problem = text_of(screen, "#problem")
        assert problem.startswith("Rejected INSUFFICIENT_CASH — buy 100 600519.SH at "), problem
        assert "needs" in problem and "available" in problem
        rejected = manual(backend)[-1]
        assert rejected.status is OrderStatus.REJECTED
        assert rejected.reject_code is not None and rejected.reject_code.value in problem
        title = "Rejected: INSUFFICIENT_CASH"
        await until(lambda: any(t == title for t, _, _ in toasts), what="the rejection toast")
        await pilot.pause(0.3)
        assert [(t, s) for t, _, s in toasts if t.startswith("Rejected")] == [(title, "error")]
        body = next(m for t, m, _ in toasts if t == title)
        assert "needs" in body and "available" in body and "600519.SH" in body
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, OrderTicket))

    run(tmp_path, scenario)


# --- search ---------------------------------------------------------------------------------


def test_a_ticket_opened_again_is_empty_and_in_the_current_language(tmp_path: Path) -> None:
    """The app keeps one ticket and opens it again (building one costs ~100 ms): nothing of
    the last order may remain, and a language switch builds it afresh."""

    async def scenario(
        app: DeepAlphaApp, pilot: Any, backend: LocalBackend, toasts: Toasts
    ) -> None:
        first = await open_ticket(app, pilot, "b")
        await pick(app, pilot, "tencent", TENCENT)
        await quantity(pilot, first, "300")
        await pilot.press("tab", "right")  # market
        assert first.query_one("#price", Input).disabled
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, OrderTicket))

        selected = app.screen.selected_symbol  # type: ignore[attr-defined]
        assert selected is not None and selected != TENCENT
        again = await open_ticket(app, pilot, "s")
        assert again is first  # the same screen, emptied
        # As a new ticket would be: the Market row's symbol, no quantity, a limit at the bid.
        assert again.side is Side.SELL and again.instrument is not None
        assert again.instrument.symbol == selected
        assert again.query_one("#symbol", Input).value == selected
        assert again.query_one("#quantity", Input).value == ""
        assert not again.query_one("#price", Input).disabled  # back to a limit order
        assert again.query_one("#price", Input).value == again._prefilled  # the market's
        assert app.focused is again.query_one("#quantity")
        assert "Sell" in str(again.query_one("#ticket").border_title)
        assert "Tencent" not in text_of(again, "#quote")
        await pick(app, pilot, "mout", MOUTAI)
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, OrderTicket))

        await app.set_language("zh")
        await pilot.pause()
        chinese = await open_ticket(app, pilot, "b")
        assert chinese is not first
        assert "买入" in str(chinese.query_one("#ticket").border_title)
        await pilot.press("escape")
        await app.set_language("en")

    run(tmp_path, scenario, trading=False)


def test_symbol_search_by_english_name_and_aliases(tmp_path: Path) -> None:
    async def scenario(
        app: DeepAlphaApp, pilot: Any, backend: LocalBackend, toasts: Toasts
    ) -> None:
        screen = await open_ticket(app, pilot, "b")
        for typed, expect in (("Tencent", TENCENT), ("sh600519", MOUTAI), ("700.hk", TENCENT)):
            await pick(app, pilot, typed, expect)
            assert screen.query_one("#symbol", Input).value == expect
        # ↓ moves in the suggestions; Enter picks the highlighted one.
        await pilot.press("shift+tab", "end", "ctrl+u", *"6005")
        await until(
            lambda: (
                len(screen._found) > 1 and all(i.code.startswith("6005") for i in screen._found)
            ),
            3,
            "several matches for 6005",
        )
        second = screen._found[1]
        await pilot.press("down", "enter")
        await pilot.pause()
        assert screen.instrument == second
        # Something that is nothing: said, not crashed.
        await pilot.press("shift+tab", "end", "ctrl+u", *"zzzz", "enter")
        await pilot.pause()
        assert screen.instrument is None
        assert "no instrument matches zzzz" in text_of(screen, "#problem")

    run(tmp_path, scenario, trading=False)


def test_ticket_texts_are_said_in_both_languages_with_the_same_placeholders() -> None:
    def names(template: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(template) if name is not None}

    for key, (en, zh) in TEXT.items():
        assert en.strip() and zh.strip(), key
        assert names(en) == names(zh), key
    fees = ("佣金", "印花税", "过户费", "交易征费", "会财局征费", "交易费", "结算费")
    assert tuple(TEXT[f"ticket.fee.{name}"][1] for name in FEE_ITEMS) == fees
