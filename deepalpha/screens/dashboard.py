"""The dashboard: a card per trader, the leaderboard, every trader's equity on one chart,
recent fills and the last engine notifications.

Notifications come from a subscription the screen keeps from its first showing on (a worker):
engine notices, rejections and halts, the last ``NOTES_KEPT`` of them, said again in the
current language after a language switch. Wide terminals get two columns; narrow ones stack
everything in one scrolling column."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from deepalpha.app.backend import TraderView
from deepalpha.engine.events import NotificationEvent, OrderEvent, TraderHaltedEvent
from deepalpha.engine.orders import Fill, OrderStatus, Side
from deepalpha.i18n import say, t
from deepalpha.screens.base import BaseScreen
from deepalpha.widgets.colours import change_style, down_colour, up_colour
from deepalpha.widgets.equity_chart import EquityChart
from deepalpha.widgets.formats import percent, price, short_money
from deepalpha.widgets.trader_card import TraderCard

NOTES_KEPT = 20
FILLS_SHOWN = 20
CHART_EVERY = 2  # ticks (of REFRESH_SECONDS) between equity chart checks
MARKET_CLOCK = ZoneInfo("Asia/Shanghai")
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "information": ""}

LEADER_COLUMNS: tuple[tuple[str, str, int, bool], ...] = (
    ("rank", "dash.col.rank", 4, True),
    ("trader", "dash.col.trader", 9, False),
    ("model", "dash.col.model", 14, False),
    ("return", "dash.col.return", 8, True),
    ("pnl", "dash.col.pnl", 11, True),
    ("trades", "dash.col.trades", 6, True),
    ("fees", "dash.col.fees", 10, True),
)
FILL_COLUMNS: tuple[tuple[str, str, int, bool], ...] = (
    ("time", "dash.col.time", 8, False),
    ("trader", "dash.col.trader", 10, False),
    ("side", "dash.col.side", 4, False),
    ("symbol", "dash.col.symbol", 9, False),
    ("qty", "dash.col.qty", 7, True),
    ("price", "dash.col.price", 9, True),
    ("amount", "dash.col.amount", 12, True),
)


@dataclass(frozen=True, slots=True)
class Note:
    time: datetime
    severity: str
    text: Callable[[], str]  # said in the current language when shown


def ranked(traders: list[TraderView]) -> list[TraderView]:
    """Best return since start first; ties by name."""
    return sorted(traders, key=lambda v: (-v.return_pct, v.name))


def _columns(table: DataTable[Text], columns: tuple[tuple[str, str, int, bool], ...]) -> None:
    table.clear(columns=True)
    for key, label, width, right in columns:
        table.add_column(Text(t(label), justify="right" if right else "left"), width=width, key=key)


class DashboardScreen(BaseScreen):
    TITLE_KEY = "screen.dashboard"
    REFRESH_SECONDS = 0.5
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (Textual declares it this way)
        (0, "-narrow"),
        (120, "-wide"),
    ]
    DEFAULT_CSS = """
    DashboardScreen #dash {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    DashboardScreen #cards {
        layout: grid;
        grid-size: 4;
        grid-gutter: 0 1;
        height: auto;
    }
    DashboardScreen .dash-pane {
        border: round $primary 40%;
        border-title-style: bold;
    }
    DashboardScreen .dash-pane:focus-within {
        border: round $accent;
    }
    DashboardScreen DataTable {
        height: auto;
        max-height: 100%;
        scrollbar-size-vertical: 1;
    }
    DashboardScreen #notes {
        height: auto;
        padding: 0 1;
    }
    /* wide: two columns filling the screen */
    DashboardScreen.-wide .dash-row {
        height: 1fr;
        min-height: 12;
    }
    DashboardScreen.-wide .dash-pane {
        width: 1fr;
        height: 100%;
    }
    /* narrow: one scrolling column */
    DashboardScreen.-narrow .dash-row {
        layout: vertical;
        height: auto;
    }
    DashboardScreen.-narrow .dash-pane {
        height: auto;
    }
    DashboardScreen.-narrow #chart-pane {
        height: 16;
    }
    DashboardScreen.-narrow DataTable {
        max-height: 22;
    }
    DashboardScreen.-narrow #notes {
        min-height: 3;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.notes: deque[Note] = deque(maxlen=NOTES_KEPT)
        self._ranking: list[str] = []
        self._leader_cells: dict[tuple[str, str], str] = {}
        self._newest_fill: str | None = ""
        self._ticks = 0
        self._names: dict[str, str] = {}

    # --- layout --------------------------------------------------------------------------
    def body(self) -> ComposeResult:
        with VerticalScroll(id="dash"):
            yield Grid(id="cards")
            with Horizontal(classes="dash-row", id="dash-mid"):
                with Vertical(classes="dash-pane", id="leader-pane"):
                    yield DataTable[Text](id="leaderboard", cursor_type="row")
                with Vertical(classes="dash-pane", id="chart-pane"):
                    yield EquityChart(id="equity-chart")
            with Horizontal(classes="dash-row", id="dash-low"):
                with Vertical(classes="dash-pane", id="fills-pane"):
                    yield DataTable[Text](id="fills", cursor_type="row")
                with Vertical(classes="dash-pane", id="notes-pane"):
                    yield Static("", id="notes")

    def on_mount(self) -> None:
        self._titles()
        _columns(self.query_one("#leaderboard", DataTable), LEADER_COLUMNS)
        _columns(self.query_one("#fills", DataTable), FILL_COLUMNS)
        self._paint_notes()
        self._listen()

    def _titles(self) -> None:
        for pane, key in (
            ("#leader-pane", "dash.leaderboard"),
            ("#chart-pane", "dash.equity_chart"),
            ("#fills-pane", "dash.fills"),
            ("#notes-pane", "dash.notifications"),
        ):
            self.query_one(pane).border_title = t(key)

    # --- notifications -------------------------------------------------------------------
    @work(exclusive=True, group="dashboard-events")
    async def _listen(self) -> None:
        sub = self.backend.subscribe()
        try:
            while True:
                note = self._note(await sub.get())
                if note is not None:
                    self.notes.appendleft(note)
                    self._paint_notes()
        finally:
            sub.close()

    def _note(self, event: object) -> Note | None:
        now = self.backend.market_status().time
        if isinstance(event, NotificationEvent):
            message = event.message
            return Note(now, event.severity, lambda: say(message))
        if isinstance(event, OrderEvent) and event.order.status is OrderStatus.REJECTED:
            order = event.order
            return Note(
                now,
                "error",
                lambda: t(
                    "dash.rejected", symbol=order.symbol, reason=say(order.reject_reason or "")
                ),
            )
        if isinstance(event, TraderHaltedEvent):
            halted = event
            return Note(
                now,
                "error",
                lambda: t(
                    "dash.trader_halted",
                    trader=self._names.get(halted.trader_id, halted.trader_id),
                    reason=say(halted.reason),
                ),
            )
        return None

    def _paint_notes(self) -> None:
        if not self.notes:
            self.query_one("#notes", Static).update(Text(t("dash.no_notifications"), style="dim"))
            return
        out = Text(no_wrap=True, overflow="ellipsis")
        for i, note in enumerate(self.notes):
            if i:
                out.append("\n")
            out.append(f"{note.time.astimezone(MARKET_CLOCK):%H:%M:%S} ", style="dim")
            out.append(note.text(), style=SEVERITY_STYLE.get(note.severity, ""))
        self.query_one("#notes", Static).update(out)

    # --- repaint -------------------------------------------------------------------------
    def refresh_data(self) -> None:
        traders = self.backend.traders()
        self._names = {v.id: v.name for v in traders}
        with self.app.batch_update():
            self._paint_cards(traders)
            self._paint_leaderboard(traders)
            self._paint_fills()
        if self._ticks % CHART_EVERY == 0:
            self.query_one(EquityChart).show(self.backend.equity_curves(), self._names)
        self._ticks += 1

    def _paint_cards(self, traders: list[TraderView]) -> None:
        grid = self.query_one("#cards", Grid)
        cards = {card.trader_id: card for card in grid.query(TraderCard)}
        ids = [v.id for v in traders]
        if list(cards) != ids:
            grid.remove_children()
            cards = {v.id: TraderCard(v.id, id=f"card-{v.id}") for v in traders}
            grid.mount_all(cards.values())
        columns = max(1, min(len(ids), 4 if self.has_class("-wide") else 2))
        if grid.styles.grid_size_columns != columns:
            grid.styles.grid_size_columns = columns
        current = self.deepalpha.current_trader
        for view in traders:
            cards[view.id].show(view, current=view.id == current)

    def _paint_leaderboard(self, traders: list[TraderView]) -> None:
        table = self.query_one("#leaderboard", DataTable)
        order = ranked(traders)
        ids = [v.id for v in order]
        rebuild = ids != self._ranking
        if rebuild:
            table.clear()
            self._leader_cells.clear()
            self._ranking = ids
        for rank, view in enumerate(order, start=1):
            style = change_style(view.pnl)
            cells = {
                "rank": Text(str(rank), justify="right"),
                "trader": Text(view.name, style="bold"),
                "model": Text(view.model_label),
                "return": Text(percent(view.return_pct), style=style, justify="right"),
                "pnl": Text(short_money(view.pnl, sign=True), style=style, justify="right"),
                "trades": Text(str(view.trades), justify="right"),
                "fees": Text(short_money(view.fees), justify="right"),
            }
            if rebuild:
                table.add_row(*cells.values(), key=view.id)
                for col, cell in cells.items():
                    self._leader_cells[(view.id, col)] = cell.markup
                continue
            for col, cell in cells.items():
                if self._leader_cells.get((view.id, col)) != cell.markup:
                    self._leader_cells[(view.id, col)] = cell.markup
                    table.update_cell(view.id, col, cell)

    def _paint_fills(self, *, force: bool = False) -> None:
        fills = self.backend.fills(FILLS_SHOWN)
        newest = fills[0].id if fills else None
        if newest == self._newest_fill and not force:
            return
        self._newest_fill = newest
        table = self.query_one("#fills", DataTable)
        table.clear()
        for fill in fills:
            table.add_row(*self._fill_cells(fill), key=fill.id)
        self.query_one("#fills-pane").border_subtitle = "" if fills else t("dash.no_fills")

    def _fill_cells(self, f: Fill) -> list[Text]:
        side_style = up_colour() if f.side is Side.BUY else down_colour()
        return [
            Text(f"{f.time.astimezone(MARKET_CLOCK):%H:%M:%S}", style="dim"),
            Text(self._names.get(f.trader_id, f.trader_id)),
            Text(t(f"side.{f.side.value}"), style=side_style),
            Text(f.symbol),
            Text(f"{f.quantity:,}", justify="right"),
            Text(price(f.price), justify="right"),
            Text(short_money(f.amount, f.currency), justify="right"),
        ]

    def leaderboard_ids(self) -> list[str]:
        """Trader ids in leaderboard order (top first)."""
        table = self.query_one("#leaderboard", DataTable)
        return [str(row.key.value) for row in table.ordered_rows]

    def relabel(self) -> None:
        self._titles()
        _columns(self.query_one("#leaderboard", DataTable), LEADER_COLUMNS)
        _columns(self.query_one("#fills", DataTable), FILL_COLUMNS)
        self._ranking = []
        self._paint_fills(force=True)
        self._paint_notes()
        self.query_one(EquityChart).show(self.backend.equity_curves(), self._names, force=True)
        self.refresh_data()
