"""The positions screen: what each trader holds, sortable, with what can be sold today.

Positions are few, so a ``DataTable`` serves; each refresh updates only the cells whose values
changed and rebuilds the rows only when the set of positions or their order changes.

Keys: ``t`` cycles the trader, ``1``…``9``/``0`` sort by that column (again: reverse), ``o``
cycles the sort column, ``O`` reverses it, ``s`` opens the sell ticket for the selected row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from deepalpha.app.backend import PositionView
from deepalpha.i18n import Msg, language, money, t
from deepalpha.screens.base import BaseScreen, BindingText, localize_bindings
from deepalpha.widgets.colours import change_style
from deepalpha.widgets.formats import price

COLUMNS = (
    "trader",
    "symbol",
    "name",
    "quantity",
    "sellable",
    "avg_cost",
    "last",
    "value",
    "unrealized",
    "realized",
)
NUMERIC = frozenset(COLUMNS[3:])
# Each column's width in cells (the table pads a cell either side). Fixed, so what shows does
# not depend on the rows that happen to be there when the table is first laid out.
WIDE: dict[str, int] = {
    "trader": 8,
    "symbol": 9,
    "name": 14,
    "quantity": 7,
    "sellable": 14,
    "avg_cost": 9,
    "last": 9,
    "value": 14,
    "unrealized": 14,
    "realized": 13,
}
# Where not every column fits: tighter widths (the sellable count without its T+1 note, which
# the quantity beside it tells anyway) and the columns that fit, most useful first: what is
# held and what it made (unrealised and realised), then what can be sold and the price.
NARROW: dict[str, int] = WIDE | {
    "trader": 7,
    "name": 12,
    "sellable": 8,
    "value": 13,
    "unrealized": 12,
    "realized": 12,
}
PRIORITY = (
    "symbol",
    "unrealized",
    "realized",
    "quantity",
    "sellable",
    "last",
    "trader",
    "value",
    "avg_cost",
    "name",
)
NAME_MAX = 24
PADDING = 2  # the table's cell padding, one either side
SCROLLBAR = 2  # kept free so the columns do not change when the rows outgrow the screen
# Headers said shorter where the full one does not fit the narrow width.
SHORT_LABELS = {"unrealized": "positions.short.unrealized"}


@dataclass(frozen=True, slots=True)
class Layout:
    columns: tuple[str, ...]
    widths: dict[str, int]

    @property
    def narrow(self) -> bool:
        return self.widths is NARROW


def fit_columns(width: int) -> Layout:
    """The columns for a terminal ``width`` cells wide: all of them where they fit, else the
    most useful ones that do. It depends on the width alone."""
    room = width - SCROLLBAR
    spare = room - sum(w + PADDING for w in WIDE.values())
    if spare >= 0:  # the name takes what is spare, up to a long company name
        return Layout(COLUMNS, WIDE | {"name": min(NAME_MAX, WIDE["name"] + spare)})
    chosen: set[str] = set()
    used = 0
    for col in PRIORITY:
        need = NARROW[col] + PADDING
        if used + need <= room:
            chosen.add(col)
            used += need
    return Layout(tuple(c for c in COLUMNS if c in chosen), NARROW)


SORT_KEYS: dict[str, Callable[[PositionView], Any]] = {
    "trader": lambda p: p.trader_id,
    "symbol": lambda p: p.symbol,
    "name": lambda p: p.display_name(language()),
    "quantity": lambda p: p.quantity,
    "sellable": lambda p: p.sellable,
    "avg_cost": lambda p: p.avg_cost if p.avg_cost is not None else Decimal(0),
    "last": lambda p: p.last if p.last is not None else Decimal(0),
    "value": lambda p: p.market_value,
    "unrealized": lambda p: p.unrealized_pnl,
    "realized": lambda p: p.realized_pnl,
}
BINDING_TEXT: dict[str, BindingText] = {
    "positions.trader": "positions.key.trader",
    "positions.sort": "positions.key.sort",
    "positions.reverse": "positions.key.reverse",
    "order.sell": "key.sell",
    **{
        f"positions.sort_{i + 1}": Msg("positions.key.sort_by", column=Msg(f"positions.col.{col}"))
        for i, col in enumerate(COLUMNS)
    },
}


def _price(value: Decimal | None) -> str:
    return t("common.none") if value is None else price(value)


def cells(p: PositionView, trader_name: str, *, narrow: bool = False) -> tuple[Text, ...]:
    """One row of the table (every column), right-aligned numbers, P&L in the up/down
    colours."""
    locked = p.quantity - p.sellable
    sellable = Text(f"{p.sellable:,}", justify="right")
    if locked > 0 and not narrow:  # bought today: T+1 on A-shares
        sellable.append(" (" + t("positions.locked", count=f"{locked:,}") + ")", style="dim")
    row = (
        Text(trader_name),
        Text(p.symbol),
        Text(p.display_name(language())),
        Text(f"{p.quantity:,}", justify="right"),
        sellable,
        Text(_price(p.avg_cost), justify="right"),
        Text(_price(p.last), justify="right"),
        Text(money(p.market_value, p.currency, compact=True), justify="right"),
        Text(
            money(p.unrealized_pnl, p.currency, sign=True, compact=True),
            style=change_style(p.unrealized_pnl),
            justify="right",
        ),
        Text(
            money(p.realized_pnl, p.currency, sign=True, compact=True),
            style=change_style(p.realized_pnl),
            justify="right",
        ),
    )
    for text in row:  # one line a row: what does not fit its column ends in "…"
        text.no_wrap, text.overflow = True, "ellipsis"
    return row


class PositionsScreen(BaseScreen):
    TITLE_KEY = "screen.positions"
    REFRESH_SECONDS = 0.5
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "cycle_trader", t("positions.key.trader"), id="positions.trader"),
        Binding("o", "cycle_sort", t("positions.key.sort"), id="positions.sort"),
        Binding("O", "reverse_sort", t("positions.key.reverse"), id="positions.reverse"),
        Binding("s", "sell_selected", t("key.sell"), id="order.sell"),
        *(
            Binding(str((i + 1) % 10), f"sort_by({i})", show=False, id=f"positions.sort_{i + 1}")
            for i in range(len(COLUMNS))
        ),
    ]
    DEFAULT_CSS = """
    PositionsScreen #positions-summary { height: 1; padding: 0 1; background: $boost; }
    PositionsScreen #positions-table { height: 1fr; }
    PositionsScreen #positions-total { height: 1; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.trader_id: str | None = None
        self.sort_column = "value"
        self.sort_reverse = True
        self._lang = language()
        self._keys: list[str] = []  # row keys in the order shown
        self._rows: dict[str, PositionView] = {}
        self._shown: dict[str, tuple[Text, ...]] = {}
        self._names: dict[str, str] = {}
        self._layout: Layout | None = None

    def body(self) -> ComposeResult:
        yield Static("", id="positions-summary")
        yield DataTable(id="positions-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="positions-total", classes="muted")

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#positions-table", DataTable)

    def on_mount(self) -> None:
        super().on_mount()
        localize_bindings(self, BINDING_TEXT)
        self._columns()
        self.table.focus()

    def on_resize(self) -> None:
        if fit_columns(self.app.size.width) != self._layout:
            self._columns()
            self.refresh_data()

    def on_screen_resume(self) -> None:
        if self._lang != language():
            self.relabel()
        super().on_screen_resume()

    def relabel(self) -> None:
        self._lang = language()
        localize_bindings(self, BINDING_TEXT)
        self.refresh_bindings()
        self._columns()
        self.refresh_data()

    def _columns(self) -> None:
        # The terminal's size, known from the start (the screen's own is not until its first
        # layout): the columns never depend on when the table was built.
        layout = self._layout = fit_columns(self.app.size.width)
        table = self.table
        table.clear(columns=True)
        self._keys, self._shown = [], {}
        for col in layout.columns:
            width = layout.widths[col]
            label = t(f"positions.col.{col}")
            if cell_len(label) > width and col in SHORT_LABELS:
                label = t(SHORT_LABELS[col])
            header = Text(label, justify="right" if col in NUMERIC else "left")
            table.add_column(header, key=col, width=width)

    # --- the selected row ---------------------------------------------------------------
    @property
    def selected_position(self) -> PositionView | None:
        table = self.table
        if not self._keys or not 0 <= table.cursor_row < len(self._keys):
            return None
        return self._rows.get(self._keys[table.cursor_row])

    @property
    def selected_symbol(self) -> str | None:
        """The symbol of the selected row (the app's ticket opens on it)."""
        pos = self.selected_position
        return pos.symbol if pos is not None else None

    def action_sell_selected(self) -> None:
        pos = self.selected_position
        if pos is None:
            self.deepalpha.action_ticket("sell")
            return
        self.deepalpha.action_ticket("sell", pos.symbol, pos.trader_id)

    # --- repaint ------------------------------------------------------------------------
    def refresh_data(self) -> None:
        backend = self.backend
        self._names = {tv.id: tv.name for tv in backend.traders()}
        positions = backend.positions(self.trader_id)
        positions.sort(key=SORT_KEYS[self.sort_column], reverse=self.sort_reverse)
        rows = {f"{p.trader_id}|{p.symbol}": p for p in positions}
        keys = list(rows)
        self._rows = rows
        layout = self._layout or fit_columns(self.app.size.width)
        shown = [COLUMNS.index(c) for c in layout.columns]
        new = {}
        for k, p in rows.items():
            row = cells(p, self._names.get(p.trader_id, p.trader_id), narrow=layout.narrow)
            new[k] = tuple(row[i] for i in shown)
        table = self.table
        with self.app.batch_update():
            if keys != self._keys:
                self._rebuild(keys, new)
            else:
                for k in keys:
                    old = self._shown[k]
                    for col, before, after in zip(layout.columns, old, new[k], strict=True):
                        if before != after:
                            table.update_cell(k, col, after)
            self._shown = new
        self._summary(positions)

    def _rebuild(self, keys: list[str], new: dict[str, tuple[Text, ...]]) -> None:
        table = self.table
        selected = self._keys[table.cursor_row] if 0 <= table.cursor_row < len(self._keys) else None
        table.clear()
        for k in keys:
            table.add_row(*new[k], key=k)
        self._keys = keys
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)

    def _summary(self, positions: list[PositionView]) -> None:
        trader = self._names.get(self.trader_id, self.trader_id) if self.trader_id else None
        arrow = "positions.descending" if self.sort_reverse else "positions.ascending"
        self.query_one("#positions-summary", Static).update(
            t(
                "positions.summary",
                trader=trader or t("common.all"),
                count=len(positions),
                column=t(f"positions.col.{self.sort_column}"),
                direction=t(arrow),
            )
        )
        if not positions:
            self.query_one("#positions-total", Static).update(t("positions.none"))
            return
        values: dict[str, Decimal] = {}
        pnl: dict[str, Decimal] = {}
        for p in positions:
            values[p.currency] = values.get(p.currency, Decimal(0)) + p.market_value
            pnl[p.currency] = pnl.get(p.currency, Decimal(0)) + p.unrealized_pnl
        total = Text()
        for i, cur in enumerate(sorted(values)):
            if i:
                total.append("    ")
            total.append(t("positions.col.value") + " " + money(values[cur], cur) + "  ")
            total.append(t("positions.col.unrealized") + " ")
            total.append(money(pnl[cur], cur, sign=True), style=change_style(pnl[cur]))
        self.query_one("#positions-total", Static).update(total)

    # --- filters and sorting ------------------------------------------------------------
    def action_cycle_trader(self) -> None:
        choices: list[str | None] = [None, *(tv.id for tv in self.backend.traders())]
        i = choices.index(self.trader_id) if self.trader_id in choices else 0
        self.trader_id = choices[(i + 1) % len(choices)]
        self.refresh_data()

    def action_sort_by(self, index: int) -> None:
        column = COLUMNS[index]
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, column in NUMERIC
        self.refresh_data()

    def action_cycle_sort(self) -> None:
        i = COLUMNS.index(self.sort_column)
        column = COLUMNS[(i + 1) % len(COLUMNS)]
        self.sort_column, self.sort_reverse = column, column in NUMERIC
        self.refresh_data()

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.refresh_data()
