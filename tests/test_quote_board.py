"""The quote board draws its rows straight into segments for speed; these tests hold that to
what Rich draws from the same cells (``QuoteBoard.cells``' ``Text`` form): every character with
the same style, for rising, falling and flat quotes, limit badges, missing quotes, a watched
row, the selected row, Chinese names, prices too wide for their column and sections."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult

from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.instruments import InstrumentRegistry, a_share
from deepalpha.engine.markets.sessions import SHANGHAI
from deepalpha.i18n import language, set_language
from deepalpha.widgets.quote_board import QuoteBoard

AT = datetime(2025, 12, 3, 10, 0, tzinfo=SHANGHAI)
D = Decimal


def quote(symbol: str, last: str, pre: str, **kw: str) -> Quote:
    p = D(last)
    up, down = kw.get("up"), kw.get("down")
    return Quote(
        symbol,
        AT,
        p,
        D(kw.get("bid", last)),
        D(kw.get("ask", last)),
        100,
        100,
        int(kw.get("volume", "123456")),
        None,
        D(pre),
        p,
        p,
        D(pre),
        D(up) if up else None,
        D(down) if down else None,
    )


def cells(segments: Iterator[Segment] | list[Segment]) -> list[tuple[str, Style | None]]:
    return [(ch, seg.style) for seg in segments for ch in seg.text]


class Board(App[None]):
    def compose(self) -> ComposeResult:
        yield QuoteBoard(id="board")


@pytest.fixture
def lang(request: pytest.FixtureRequest) -> Iterator[str]:
    before = language()
    set_language(request.param)
    yield request.param
    set_language(before)


@pytest.mark.parametrize("lang", ["en", "zh"], indirect=True)
def test_rows_are_drawn_as_rich_draws_them(lang: str) -> None:
    registry = InstrumentRegistry.default()
    cn = [registry.get(s) for s in ("600519.SH", "601318.SH", "000001.SZ", "300750.SZ")]
    hk = [registry.get(s) for s in ("00700.HK", "09988.HK")]
    long_name = a_share("600998.SH", "九州通医药集团股份", "Jointown Pharmaceutical Group Co")
    quotes = {
        q.symbol: q
        for q in (
            quote("600519.SH", "12345.67", "12000.00", bid="12345.66", volume="987654321"),
            quote("601318.SH", "55.00", "55.00"),  # flat
            quote("000001.SZ", "12.76", "11.60", up="12.76", down="10.44"),  # at limit-up
            quote("300750.SZ", "216.00", "270.00", up="324.00", down="216.00"),  # limit-down
            quote("00700.HK", "480.20", "480.00", ask="480.40"),
            quote("600998.SH", "9.99", "10.00"),
        )
    }  # 300750's neighbour 09988.HK has no quote: dashes

    async def go() -> None:
        app = Board()
        async with app.run_test(size=(120, 20)) as pilot:
            board = app.query_one(QuoteBoard)
            board.build(
                [("watch", [cn[0]]), ("CN", [*cn[1:], long_name]), ("HK", hk)],
                ["600519.SH"],
                quotes,
            )
            board.focus()
            await pilot.pause()
            for row in range(board.row_count):
                board.move_cursor(row=row)
                await pilot.pause()
                for y in range(1, board.size.height):
                    index = int(board.scroll_offset.y) + y - 1
                    if index >= board.row_count:
                        break
                    fast = board.render_line(y)
                    r = board._rows[index]
                    q = board._painted.get(r.key) if r.inst is not None else None
                    base = board.rich_style
                    if index == board.cursor_row and board.has_focus_within:
                        base = base + Style(reverse=True)
                    rich = board._assemble(board._cells(r, q), base, board.size.width)
                    assert cells(fast) == cells(rich), (r.key, row)

    asyncio.run(go())
