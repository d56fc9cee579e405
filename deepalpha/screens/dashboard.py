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
from decimal import Decimal
from zoneinfo import ZoneInfo

from rich.cells import cell_len
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
from deepalpha.widgets.formats import (
    BASELINE_LABEL,
    NONE,
    model_text,
    percent,
    price,
    short_money,
)
from deepalpha.widgets.trader_card import TraderCard

NOTES_KEPT = 20
FILLS_SHOWN = 20
CHART_EVERY = 2  # ticks (of REFRESH_SECONDS) between equity chart checks
MARKET_CLOCK = ZoneInfo("Asia/Shanghai")
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "information": ""}

# (key, catalogue key of the header, width, right-aligned)
Column = tuple[str, str, int, bool]
DATATABLE_PADDING = 2  # a DataTable pads each cell by one on either side

# The model column takes the width the others leave (at least LEADER_MODEL_MIN); on narrow
# panes P&L goes first (the cards show it), then fees and trades.
LEADER_COLUMNS: tuple[Column, ...] = (
    ("rank", "dash.col.rank", 4, True),
    ("trader", "dash.col.trader", 9, False),
    ("model", "dash.col.model", 10, False),
    ("return", "dash.col.return", 8, True),
    ("pnl", "dash.col.pnl", 11, True),
    ("win", "dash.col.win_rate", 6, True),
    ("mdd", "dash.col.max_dd", 8, True),
    ("trades", "dash.col.trades", 6, True),
    ("fees", "dash.col.fees", 10, True),
)
LEADER_DROP = ("pnl", "fees", "trades")
LEADER_MODEL_MIN = 10
FILL_COLUMNS: tuple[Column, ...] = (
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


def fit_columns(
    columns: tuple[Column, ...],
    width: int,
    *,
    drop: tuple[str, ...] = (),
    flex: str | None = None,
    flex_min: int = 0,
) -> tuple[Column, ...]:
    """The columns that fit in ``width`` cells: those named in ``drop`` go, in that order,
    until the rest fit; then the ``flex`` column (at least ``flex_min`` wide) takes what is
    left. A pane not laid out yet (width 0) keeps every column."""
    if width <= 0:
        return columns

    def need(cols: tuple[Column, ...]) -> int:
        return sum((flex_min if c[0] == flex else c[2]) + DATATABLE_PADDING for c in cols)

    kept = columns
    for key in drop:
        if need(kept) <= width:
            break
        kept = tuple(c for c in kept if c[0] != key)
    if flex is None:
        return kept
    spare = max(0, width - need(kept))
    return tuple((k, label, flex_min + spare if k == flex else w, r) for k, label, w, r in kept)


def short_model(label: str, width: int) -> str:
    """The baseline's label where it does not fit: "baseline (no LLM)" cut to "baseline (n"
    would hide the one word that matters. The cards and the Decisions detail say it whole."""
    if label != BASELINE_LABEL:
        return label
    full = model_text(label)
    return full if cell_len(full) <= width else t("dec.baseline")


def leader_cells(rank: int, view: TraderView, model_width: int = 99) -> dict[str, Text]:
    """One leaderboard row. An AI trader in safe mode is marked on its name and model: it
    buys nothing until its model answers again."""
    style = change_style(view.pnl)
    win = None if view.win_rate is None else view.win_rate * 100
    drawdown = None if view.max_drawdown is None else view.max_drawdown * 100
    name = Text(view.name, style="bold")
    model = Text(short_model(view.model_label, model_width))
    if view.safe_mode:
        name = Text(f"⚠ {view.name}", style="bold red")
        model.stylize("red")
    return {
        "rank": Text(str(rank), justify="right"),
        "trader": name,
        "model": model,
        "return": Text(percent(view.return_pct), style=style, justify="right"),
        "pnl": Text(short_money(view.pnl, sign=True), style=style, justify="right"),
        "win": Text(one_place(win), justify="right"),
        "mdd": Text(two_places(drawdown), style=down_colour() if drawdown else "", justify="right"),
        "trades": Text(str(view.trades), justify="right"),
        "fees": Text(short_money(view.fees), justify="right"),
    }


def one_place(value: Decimal | None) -> str:
    """A share in percent with one decimal (55.0%), or a dash when there is none yet."""
    return NONE if value is None else f"{value:.1f}%"


def two_places(value: Decimal | None) -> str:
    """A drawdown in percent with two decimals, like the return beside it (0.01%)."""
    return NONE if value is None else f"{value:.2f}%"


def _columns(table: DataTable[Text], columns: tuple[Column, ...]) -> None:
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
    /* the leaderboard's nine columns need more room than the chart */
    DashboardScreen.-wide #leader-pane {
        width: 5fr;
    }
    DashboardScreen.-wide #chart-pane {
        width: 3fr;
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
        self._leader_columns: tuple[Column, ...] = ()
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
        self._fit_leaderboard()
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
        ids = [v.id for v in traders]
        # Removing is not immediate: a card on its way out keeps its id for a moment, so only
        # the cards of new traders are mounted (a rebuilt grid would mount duplicate ids).
        cards = {c.trader_id: c for c in grid.query(TraderCard) if not c.has_class("-gone")}
        for trader_id in [tid for tid in cards if tid not in ids]:
            cards.pop(trader_id).add_class("-gone").remove()
        new = [TraderCard(tid, id=f"card-{tid}") for tid in ids if tid not in cards]
        if new:
            grid.mount_all(new)
            cards.update((card.trader_id, card) for card in new)
        columns = max(1, min(len(ids), 4 if self.has_class("-wide") else 2))
        if grid.styles.grid_size_columns != columns:
            grid.styles.grid_size_columns = columns
        current = self.deepalpha.current_trader
        for view in traders:
            cards[view.id].show(view, current=view.id == current)

    def _fit_leaderboard(self) -> None:
        """Columns for the pane's width; rows are rebuilt when the set changes. (A handful of
        traders never needs the table's own scrollbar.)"""
        width = self.query_one("#leader-pane").content_region.width
        columns = fit_columns(
            LEADER_COLUMNS, width, drop=LEADER_DROP, flex="model", flex_min=LEADER_MODEL_MIN
        )
        if columns != self._leader_columns:
            self._leader_columns = columns
            _columns(self.query_one("#leaderboard", DataTable), columns)
            self._ranking = []

    def _paint_leaderboard(self, traders: list[TraderView]) -> None:
        self._fit_leaderboard()
        table = self.query_one("#leaderboard", DataTable)
        order = ranked(traders)
        ids = [v.id for v in order]
        rebuild = ids != self._ranking
        if rebuild:
            table.clear()
            self._leader_cells.clear()
            self._ranking = ids
        shown = [key for key, *_ in self._leader_columns]
        model_width = next((w for k, _, w, _ in self._leader_columns if k == "model"), 0)
        for rank, view in enumerate(order, start=1):
            every = leader_cells(rank, view, model_width)
            cells = {key: every[key] for key in shown}
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
        self._leader_columns = ()
        self._fit_leaderboard()
        _columns(self.query_one("#fills", DataTable), FILL_COLUMNS)
        self._ranking = []
        self._paint_fills(force=True)
        self._paint_notes()
        self.query_one(EquityChart).show(self.backend.equity_curves(), self._names, force=True)
        self.refresh_data()
