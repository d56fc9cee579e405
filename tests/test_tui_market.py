"""The Market and Dashboard screens under Textual's Pilot, on a real LocalBackend."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Static

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.tui import DeepAlphaApp
from deepalpha.engine.events import NotificationEvent
from deepalpha.engine.orders import OrderRequest, OrderType, Side
from deepalpha.i18n import t
from deepalpha.screens.dashboard import DashboardScreen, ranked
from deepalpha.screens.market import MarketScreen
from deepalpha.widgets.kline_chart import KLineChart
from deepalpha.widgets.quote_board import QuoteBoard
from deepalpha.widgets.trader_card import TraderCard
from tests.tui_support import running_app, wait_for


def market(app: DeepAlphaApp) -> MarketScreen:
    screen = app.screen
    assert isinstance(screen, MarketScreen)
    return screen


def column_labels(table: DataTable[Any]) -> list[str]:
    return [str(col.label.plain) for col in table.ordered_columns]


def test_the_board_shows_every_instrument_and_its_prices_move(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path) as (app, pilot):
            await app.set_language("en")
            screen = market(app)
            board = screen.query_one(QuoteBoard)
            symbols = {inst.symbol for inst in app.backend.instruments()}
            assert set(board.symbols) == symbols
            assert len(board.symbols) == len(symbols)  # each once
            # A-shares and HK stocks in their own sections
            first_hk = next(i for i, s in enumerate(board.symbols) if s.endswith(".HK"))
            assert all(s.endswith(".HK") for s in board.symbols[first_hk:])

            def lasts() -> dict[str, str]:
                return {s: board.cell_text(s, "last") for s in board.symbols}

            await wait_for(pilot, lambda: "—" not in lasts().values())
            before = lasts()
            await wait_for(pilot, lambda: lasts() != before)
            # the board shows what the backend says
            await pilot.pause(0.3)
            quotes = app.backend.quotes()
            sym = board.symbols[0]
            assert board.cell_text(sym, "bid") != "—"
            assert float(board.cell_text(sym, "last").replace(",", "")) > 0
            assert quotes[sym].last > 0

    asyncio.run(scenario())


def test_the_selection_drives_the_chart_and_the_ticket(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path) as (app, pilot):
            screen = market(app)
            board = screen.query_one(QuoteBoard)
            chart = screen.query_one(KLineChart)
            first = board.symbols[0]
            assert screen.selected_symbol == first
            assert first in chart.title_text
            await pilot.press("down")
            assert screen.selected_symbol == board.symbols[1]
            assert board.symbols[1] in chart.title_text
            # the cursor steps over the section title between A-shares and HK stocks
            first_hk = next(s for s in board.symbols if s.endswith(".HK"))
            last_a = board.symbols[board.symbols.index(first_hk) - 1]
            screen.select_symbol(last_a)
            await pilot.pause()
            await pilot.press("down")
            assert screen.selected_symbol == first_hk
            await pilot.press("up")
            assert screen.selected_symbol == last_a
            # the command palette's "go to symbol"
            screen.select_symbol("00700.HK")
            await pilot.pause()
            assert screen.selected_symbol == "00700.HK"
            assert "00700.HK" in chart.title_text
            # b and enter open the ticket on the selected symbol
            await pilot.press("b")
            await pilot.pause()
            assert type(app.screen).__name__ == "OrderTicket"
            app.pop_screen()
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            assert type(app.screen).__name__ == "OrderTicket"

    asyncio.run(scenario())


def test_the_filter_narrows_the_board(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path) as (app, pilot):
            screen = market(app)
            board = screen.query_one(QuoteBoard)
            everything = list(board.symbols)
            await pilot.press("slash")
            await pilot.press(*"6005")
            await pilot.pause()
            assert board.symbols
            assert len(board.symbols) < len(everything)
            assert all(s.startswith("6005") for s in board.symbols)
            assert screen.selected_symbol in board.symbols
            await pilot.press("escape")
            await pilot.pause()
            assert board.symbols == everything
            # names too: Tencent by its English name
            await pilot.press("slash", *"tencent")
            await pilot.pause()
            assert board.symbols == ["00700.HK"]

    asyncio.run(scenario())


def test_the_watchlist_comes_first_and_survives_a_restart(tmp_path: Path) -> None:
    async def first_run() -> str:
        async with running_app(tmp_path) as (app, pilot):
            screen = market(app)
            board = screen.query_one(QuoteBoard)
            screen.select_symbol("00700.HK")
            await pilot.pause()
            await pilot.press("w")
            await pilot.pause()
            assert screen.watchlist == ["00700.HK"]
            assert board.symbols[0] == "00700.HK"
            assert board.symbols.count("00700.HK") == 1
            assert board.cell_text("00700.HK", "code").startswith("★")
            return "00700.HK"

    async def second_run() -> None:
        async with running_app(tmp_path) as (app, pilot):
            screen = market(app)
            board = screen.query_one(QuoteBoard)
            assert screen.watchlist == ["00700.HK"]
            assert board.symbols[0] == "00700.HK"
            # w again takes it off
            screen.select_symbol("00700.HK")
            await pilot.press("w")
            await pilot.pause()
            assert screen.watchlist == []
            assert await app.backend.get_preference("watchlist") == []

    asyncio.run(first_run())
    asyncio.run(second_run())


def test_the_dashboard_has_a_card_per_trader_and_ranks_by_return(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="dashboard") as (app, pilot):
            screen = app.screen
            assert isinstance(screen, DashboardScreen)
            traders = app.backend.traders()
            await wait_for(pilot, lambda: len(screen.query(TraderCard)) == len(traders))
            cards = {card.trader_id: card for card in screen.query(TraderCard)}
            assert set(cards) == {v.id for v in traders}
            for view in traders:
                assert view.name in cards[view.id].text
            await pilot.pause(1.0)  # let the market and the bot move
            screen.refresh_data()  # no await between reading and checking: one moment
            assert screen.leaderboard_ids() == [v.id for v in ranked(app.backend.traders())]
            table = screen.query_one("#leaderboard", DataTable)
            assert table.row_count == len(traders)

    asyncio.run(scenario())


def test_the_dashboard_shows_fills_and_notifications(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="dashboard") as (app, pilot):
            await app.set_language("en")
            screen = app.screen
            assert isinstance(screen, DashboardScreen)
            backend = app.backend
            # a fill: a market buy of one lot
            await backend.place_order(OrderRequest("you", "600519.SH", Side.BUY, 100))
            fills = screen.query_one("#fills", DataTable)

            def mine() -> list[str] | None:
                # The demo traders trade too: find this fill among theirs.
                for i in range(fills.row_count):
                    row = [cell.plain for cell in fills.get_row_at(i)]
                    if "You" in row and "600519.SH" in row:
                        return row
                return None

            await wait_for(pilot, mine)
            row = mine()
            assert row is not None and "100" in row and "Buy" in row
            # a rejection (not a whole lot) and an engine notice reach the notifications
            await backend.place_order(
                OrderRequest("you", "600036.SH", Side.BUY, 50, OrderType.LIMIT, Decimal("40"))
            )
            assert isinstance(backend, LocalBackend)
            backend.ui_bus.publish(NotificationEvent("warning", "feed lagging"))
            await wait_for(pilot, lambda: len(screen.notes) >= 2)
            text = str(screen.query_one("#notes", Static).render())
            assert "feed lagging" in text
            assert "Rejected 600036.SH" in text
            # the card counts the position
            await wait_for(
                pilot, lambda: "Positions: 1" in screen.query_one("#card-you", TraderCard).text
            )

    asyncio.run(scenario())


def test_switching_to_chinese_relabels_the_screens(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path) as (app, pilot):
            await app.set_language("en")
            board = market(app).query_one(QuoteBoard)
            assert column_labels(board)[:4] == ["Code", "Name", "Last", "Chg%"]
            await app.set_language("zh")
            await pilot.pause()
            assert column_labels(board) == [
                "代码",
                "名称",
                "最新价",
                "涨跌幅",
                "买一",
                "卖一",
                "成交量",
                "停板",
            ]
            assert "贵州茅台" in board.cell_text("600519.SH", "name")
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
            dash = app.screen
            leaders = dash.query_one("#leaderboard", DataTable)
            assert column_labels(leaders)[:4] == ["排名", "交易员", "模型", "收益率"]
            assert dash.query_one("#leader-pane").border_title == t("dash.leaderboard", "zh")
            await app.set_language("en")
            await pilot.pause()
            assert column_labels(leaders)[3] == "Return"

    asyncio.run(scenario())
