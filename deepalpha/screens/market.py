"""The market screen: the quote board (watchlist first, then A-shares and HK stocks) and the
K-line chart of the selected symbol.

Quotes are repainted from the backend's quote store at most ten times a second and only when
its version moved; only cells whose text changed are touched. The candles are redrawn at most
about once a second. Wide terminals show the board left and the chart right; narrow ones stack
them, and ``c`` hides the chart to give the board the whole height."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input

from deepalpha.engine.markets.instruments import Instrument
from deepalpha.engine.markets.symbols import Market
from deepalpha.i18n import t
from deepalpha.screens.base import BaseScreen, localize_bindings
from deepalpha.widgets.kline_chart import KLineChart
from deepalpha.widgets.quote_board import NAME_WIDTH, QuoteBoard, display_name

ROOMY = 150  # from this width on the board gets a wider name column
ROOMY_NAME_WIDTH = 16
CHART_SECONDS = 1.0  # the candles repaint at most this often
CHART_DEBOUNCE = 0.15  # after a change of selection (holding an arrow key down)
WATCHLIST_PREF = "watchlist"

# Binding id → catalogue key of its footer text (see ``localize``).
MARKET_BINDING_TEXT = {
    "market.filter": "mkt.key.filter",
    "market.watch": "mkt.key.watch",
    "market.chart": "mkt.key.chart",
    "market.clear_filter": "mkt.key.clear_filter",
    "market.focus_board": "mkt.key.to_board",
}


class MarketScreen(BaseScreen):
    TITLE_KEY = "screen.market"
    REFRESH_SECONDS = 0.1
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (Textual declares it this way)
        (0, "-narrow"),
        (120, "-wide"),
        (ROOMY, "-roomy"),
    ]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", id="market.filter"),
        Binding("w", "toggle_watch", "Watch", id="market.watch"),
        Binding("c", "toggle_chart", "Chart", id="market.chart"),
        Binding("escape", "clear_filter", show=False, id="market.clear_filter"),
        Binding("down", "focus_board", show=False, id="market.focus_board"),
    ]
    DEFAULT_CSS = """
    MarketScreen #market-body {
        height: 1fr;
    }
    MarketScreen #board-pane {
        width: 80;
        height: 1fr;
        border: round $primary 40%;
    }
    MarketScreen #board-pane:focus-within {
        border: round $accent;
    }
    MarketScreen.-roomy #board-pane {
        width: 86;
    }
    MarketScreen #market-filter {
        border: none;
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    MarketScreen #chart {
        width: 1fr;
        height: 1fr;
        border: round $primary 40%;
    }
    MarketScreen.-narrow #market-body {
        layout: vertical;
    }
    MarketScreen.-narrow #board-pane {
        width: 1fr;
        height: 1fr;
    }
    MarketScreen.-narrow #chart {
        height: 14;
    }
    MarketScreen.-narrow.-short #chart {
        height: 9;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.selected_symbol: str | None = None
        self.watchlist: list[str] = []
        self._filter = ""
        self._version = -1
        self._chart_at = 0.0
        self._chart_timer: Timer | None = None
        self._cursor_row = 0
        self._by_symbol: dict[str, Instrument] = {}

    # --- layout --------------------------------------------------------------------------
    def body(self) -> ComposeResult:
        with Horizontal(id="market-body"):
            with Vertical(id="board-pane"):
                yield Input(placeholder=t("mkt.filter"), id="market-filter")
                yield QuoteBoard(id="board")
            yield KLineChart(id="chart")

    @on(events.Mount)
    async def _load(self) -> None:
        localize_bindings(self, MARKET_BINDING_TEXT)
        self._by_symbol = {inst.symbol: inst for inst in self.backend.instruments()}
        saved = await self.backend.get_preference(WATCHLIST_PREF, [])
        if isinstance(saved, list):
            self.watchlist = [s for s in saved if isinstance(s, str) and s in self._by_symbol]
        self._rebuild()
        self.query_one(QuoteBoard).focus()

    # --- what the board shows ------------------------------------------------------------
    def _sections(self) -> list[tuple[str, Sequence[Instrument]]]:
        instruments = list(self.backend.instruments())
        self._by_symbol = {inst.symbol: inst for inst in instruments}
        if self._filter.strip():
            found = self.backend.search(self._filter, limit=len(instruments))
            keep = {inst.symbol for inst in found}
            instruments = [inst for inst in instruments if inst.symbol in keep]
        shown = {inst.symbol for inst in instruments}
        watched = [self._by_symbol[s] for s in self.watchlist if s in shown]
        rest = [inst for inst in instruments if inst.symbol not in set(self.watchlist)]
        return [
            ("watch", watched),
            (Market.CN.value, [i for i in rest if i.market is Market.CN]),
            (Market.HK.value, [i for i in rest if i.market is Market.HK]),
        ]

    def _rebuild(self) -> None:
        """Lay the board out again (filter, watchlist or language changed), keeping the
        selection where it can."""
        board = self.query_one(QuoteBoard)
        with self.app.batch_update():
            board.build(
                self._sections(),
                self.watchlist,
                self.backend.quotes(),
                name_width=self._name_width(),
            )
        self._version = self.backend.quotes_version()
        target = self.selected_symbol
        if target not in board.symbols:
            target = board.symbols[0] if board.symbols else None
        if target is None:
            self._set_selected(None)
            return
        row = board.row_of(target)
        if row is not None:
            self._cursor_row = row
            board.move_cursor(row=row, animate=False, scroll=True)
        self._set_selected(target)

    def _name_width(self) -> int:
        return ROOMY_NAME_WIDTH if self.size.width >= ROOMY else NAME_WIDTH

    def on_resize(self) -> None:
        if self.query_one(QuoteBoard).name_width != self._name_width():
            self._rebuild()

    # --- selection -----------------------------------------------------------------------
    def _set_selected(self, symbol: str | None) -> None:
        changed = symbol != self.selected_symbol
        self.selected_symbol = symbol
        self._paint_title()
        if changed:
            self._schedule_chart()

    def select_symbol(self, symbol: str) -> None:
        """Show ``symbol`` on the board and chart (the command palette's "go to symbol")."""
        board = self.query_one(QuoteBoard)
        if symbol not in board.symbols and self._filter:
            self._filter = ""
            self.query_one("#market-filter", Input).value = ""
            self._rebuild()
        row = board.row_of(symbol)
        if row is None:
            return
        self._cursor_row = row
        board.move_cursor(row=row, animate=False, scroll=True)
        board.focus()
        self._set_selected(symbol)

    @on(QuoteBoard.Highlighted, "#board")
    def _row_highlighted(self, event: QuoteBoard.Highlighted) -> None:
        board = self.query_one(QuoteBoard)
        row = event.cursor_row
        if row != board.cursor_row:
            return  # stale: the cursor moved again since (a rebuild, a select_symbol)
        symbol = board.symbol_at(row)
        if symbol is None:  # a section title: step over it the way the cursor was going
            step = 1 if row >= self._cursor_row else -1
            nxt = row + step
            while 0 <= nxt < board.row_count and board.symbol_at(nxt) is None:
                nxt += step
            if not 0 <= nxt < board.row_count:
                nxt = self._cursor_row if board.symbol_at(self._cursor_row) else row + 1
            if 0 <= nxt < board.row_count:
                board.move_cursor(row=nxt, animate=False)
            if row == 0:
                board.scroll_to(y=0, animate=False)
            return
        self._cursor_row = row
        self._set_selected(symbol)

    # --- repaint -------------------------------------------------------------------------
    def refresh_data(self) -> None:
        version = self.backend.quotes_version()
        if version != self._version:
            self._version = version
            with self.app.batch_update():
                self.query_one(QuoteBoard).paint(self.backend.quotes())
                self._paint_title()
        if time.monotonic() - self._chart_at >= CHART_SECONDS:
            self._paint_chart()

    def _paint_title(self) -> None:
        symbol = self.selected_symbol
        inst = self._by_symbol.get(symbol) if symbol else None
        name = display_name(inst) if inst else ""
        quote = self.backend.quotes().get(symbol) if symbol else None
        self.query_one(KLineChart).show_title(symbol, name, quote)

    def _schedule_chart(self) -> None:
        if self._chart_timer is None:
            self._chart_timer = self.set_timer(CHART_DEBOUNCE, self._paint_chart)

    def _paint_chart(self, *, force: bool = False) -> None:
        if self._chart_timer is not None:
            self._chart_timer.stop()
            self._chart_timer = None
        self._chart_at = time.monotonic()
        chart = self.query_one(KLineChart)
        if not chart.display:
            return
        symbol = self.selected_symbol
        bars = self.backend.bars(symbol) if symbol else []
        chart.show_bars(symbol, bars, force=force)

    def relabel(self) -> None:
        localize_bindings(self, MARKET_BINDING_TEXT)
        self.query_one("#market-filter", Input).placeholder = t("mkt.filter")
        self._rebuild()
        self._paint_chart(force=True)
        self.refresh_bindings()

    # --- actions -------------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#market-filter", Input).focus()

    def action_focus_board(self) -> None:
        self.query_one(QuoteBoard).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#market-filter", Input)
        if field.value:
            field.value = ""  # the Changed handler lays the board out again
        self.query_one(QuoteBoard).focus()

    def action_toggle_chart(self) -> None:
        chart = self.query_one(KLineChart)
        chart.display = not chart.display
        if chart.display:
            self._paint_chart(force=True)

    async def action_toggle_watch(self) -> None:
        symbol = self.selected_symbol
        if symbol is None:
            return
        if symbol in self.watchlist:
            self.watchlist.remove(symbol)
            message = t("mkt.watch_removed", symbol=symbol)
        else:
            self.watchlist.append(symbol)
            message = t("mkt.watch_added", symbol=symbol)
        self._rebuild()
        self.notify(message, timeout=2)
        await self.backend.set_preference(WATCHLIST_PREF, list(self.watchlist))

    @on(Input.Changed, "#market-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.value == self._filter:
            return
        self._filter = event.value
        self._rebuild()
        board = self.query_one(QuoteBoard)
        if self._filter.strip() and not board.symbols:
            self.notify(t("mkt.no_match", text=self._filter.strip()), timeout=2)

    @on(Input.Submitted, "#market-filter")
    def _filter_submitted(self) -> None:
        self.query_one(QuoteBoard).focus()
