"""The order blotter: every order, newest first, filtered, with a cursor — fast at a million rows.

A Line-API ``ScrollView`` (Textual's ``Log``, toolong's ``log_lines.py``): ``render_line(y)``
paints one row from the backend's order list, through an LRU cache of ``Strip``s keyed by the
order's id and version, the width and whether the row is selected. Nothing per row is built for
rows not on screen.

The backend's list only grows, and an order's update replaces the element at the same index.
So the blotter keeps ``_index``, the ascending list of positions that match the filter, and
``_live``, the positions of orders that can still change (pending, open, partially filled; a
final order never changes again). A refresh looks at the new tail and at the live positions
only; the whole list is scanned only when the filter changes or the list is replaced.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import EllipsisType
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from deepalpha.engine.markets.sessions import HONG_KONG, SHANGHAI
from deepalpha.engine.orders import Order, OrderStatus, Side
from deepalpha.i18n import language, say, t
from deepalpha.widgets.colours import convention, down_colour, up_colour
from deepalpha.widgets.formats import price

S = OrderStatus
STATUS_GROUPS: tuple[str, ...] = ("all", "open", "filled", "cancelled", "rejected", "expired")
GROUP_STATUSES: dict[str, frozenset[OrderStatus] | None] = {
    "all": None,
    "open": frozenset({S.PENDING, S.OPEN, S.PARTIALLY_FILLED}),
    "filled": frozenset({S.FILLED}),
    "cancelled": frozenset({S.CANCELLED}),
    "rejected": frozenset({S.REJECTED}),
    "expired": frozenset({S.EXPIRED}),
}
# Orders that may still change (and so are watched on every refresh).
_CHANGEABLE = frozenset({S.PENDING, S.OPEN, S.PARTIALLY_FILLED})
_OPEN = frozenset({S.OPEN, S.PARTIALLY_FILLED})


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    width: int
    right: bool = False


# Widths in cells; the reason column takes what is left. Chinese labels are two cells a glyph.
TIME = Column("time", 11)
TRADER = Column("trader", 8)
SYMBOL = Column("symbol", 9)
SIDE = Column("side", 4)
TYPE = Column("type", 6)
QUANTITY = Column("quantity", 9, right=True)
FILLED = Column("filled", 9, right=True)
PRICE = Column("price", 9, right=True)
STATUS = Column("status", 11)
REASON = Column("reason", 0)
ALL_COLUMNS = (TIME, TRADER, SYMBOL, SIDE, TYPE, QUANTITY, FILLED, PRICE, STATUS)
MIN_REASON = 16
MIN_USEFUL_REASON = 6  # narrower, the reason column is left out (the detail line says it)
# (column, cells the reason must keep): the filled count goes first when the reason would get
# fewer than MIN_REASON cells (the status says partly filled); who placed the order and its
# type stay while they fit at all (80 columns), for the detail line under the blotter says
# the selected order's reason in full.
DROP_ORDER = (("filled", MIN_REASON), ("type", 0), ("trader", 0))


# Columns a person may hide (the Orders screen's column chooser); the rest always show.
OPTIONAL_COLUMNS = ("trader", "type", "quantity", "filled", "price")


def layout(
    width: int, *, show_trader: bool = True, hidden: frozenset[str] = frozenset()
) -> tuple[Column, ...]:
    """The columns that fit ``width``, the reason column last with the remaining width."""
    cols = [c for c in ALL_COLUMNS if (show_trader or c is not TRADER) and c.key not in hidden]
    for key, reason in DROP_ORDER:
        used = sum(c.width + 1 for c in cols)
        if used + reason <= width:
            break
        cols = [c for c in cols if c.key != key]
    left = width - sum(c.width + 1 for c in cols)
    return (*cols, Column("reason", left if left >= MIN_USEFUL_REASON else 0))


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells: padded, or cut with an ellipsis."""
    if width <= 0:
        return ""
    n = len(text) if text.isascii() else cell_len(text)
    if n > width:
        text = set_cell_size(text, width - 1) + "…" if width > 1 else "…"
        n = width
    pad = " " * (width - n)
    return pad + text if right else text + pad


# Binding id → catalogue key of what it does (the Help screen's text).
BINDING_TEXT = {
    "blotter.up": "keys.row_up",
    "blotter.down": "keys.row_down",
    "blotter.page_up": "keys.page_up",
    "blotter.page_down": "keys.page_down",
    "blotter.home": "keys.first",
    "blotter.end": "keys.last",
}


class OrderBlotter(ScrollView, can_focus=True):
    """Orders newest first, one per line, with a header, a filter and a cursor."""

    DEFAULT_CSS = """
    OrderBlotter {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: scroll;
        height: 1fr;
        & > .order-blotter--header { text-style: bold; background: $panel; }
        & > .order-blotter--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .order-blotter--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
        & > .order-blotter--muted { color: $text-muted; }
        & > .order-blotter--warning { color: $warning; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "order-blotter--header",
        "order-blotter--cursor",
        "order-blotter--muted",
        "order-blotter--warning",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", show=False, id="blotter.up"),
        Binding("down", "cursor_down", show=False, id="blotter.down"),
        Binding("pageup", "page_up", show=False, id="blotter.page_up"),
        Binding("pagedown", "page_down", show=False, id="blotter.page_down"),
        Binding("home", "first", show=False, id="blotter.home"),
        Binding("end", "last", show=False, id="blotter.end"),
    ]

    class SelectionChanged(Message):
        """The cursor moved to another order (or to none)."""

        def __init__(self, blotter: OrderBlotter, order: Order | None) -> None:
            super().__init__()
            self.blotter = blotter
            self.order = order

        @property
        def control(self) -> OrderBlotter:
            return self.blotter

    def __init__(
        self,
        orders: Sequence[Order] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._orders: Sequence[Order] = orders
        self._seen = 0  # positions below this have been looked at
        self._index: list[int] = []  # ascending positions of the rows that match the filter
        self._live: dict[int, Order] = {}  # position → the element seen there, while changeable
        self.trader_id: str | None = None
        self.status_group = "all"
        self.symbol_filter = ""
        self.cursor = 0  # display row (0 = newest)
        self.today: date | None = None  # exchange-local date; older orders show their date
        self.trader_names: Mapping[str, str] = {}
        self._cache: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self.hidden_columns: frozenset[str] = frozenset()
        self._styles: dict[str, Style] = {}
        self._paint_context: tuple[object, ...] = ()
        self._last_selected: Order | None = None
        self.set_orders(orders)

    # --- data ---------------------------------------------------------------------------
    def set_orders(self, orders: Sequence[Order]) -> None:
        """Show ``orders`` (oldest first; a live list that may grow): a full scan."""
        self._orders = orders
        n = len(orders)
        self._seen = n
        self._live = {i: o for i, o in enumerate(orders) if o.status in _CHANGEABLE}
        self._refilter()

    def refresh_from(self, orders: Sequence[Order]) -> bool:
        """Catch up with the list cheaply: its new tail and the orders that could have
        changed. Returns whether anything did."""
        if orders is not self._orders or len(orders) < self._seen:
            self.set_orders(orders)
            return True
        index, live, match = self._index, self._live, self._matcher()
        changed = False
        was_rows = len(index)
        selected_pos = self._selected_position()
        # Orders that may have moved on: the backend put a new snapshot at their position.
        for pos, old in list(live.items()):
            cur = orders[pos]
            if cur is old:
                continue
            changed = True
            if cur.status in _CHANGEABLE:
                live[pos] = cur
            else:
                del live[pos]
            if match is None:
                continue
            i = bisect_left(index, pos)
            present = i < len(index) and index[i] == pos
            wanted = match(cur)
            if wanted and not present:
                index.insert(i, pos)
            elif present and not wanted:
                del index[i]
        # New orders at the end.
        n = len(orders)
        if n > self._seen:
            changed = True
            for pos in range(self._seen, n):
                o = orders[pos]
                if o.status in _CHANGEABLE:
                    live[pos] = o
                if match is None or match(o):
                    index.append(pos)
            self._seen = n
        if changed:
            self._rows_changed(was_rows, selected_pos)
        return changed

    def set_filter(
        self,
        *,
        trader_id: str | EllipsisType | None = ...,
        status_group: str | None = None,
        symbol: str | None = None,
    ) -> None:
        """Change any part of the filter (``trader_id=None`` is every trader) and refilter."""
        if not isinstance(trader_id, EllipsisType):
            self.trader_id = trader_id
        if status_group is not None:
            if status_group not in GROUP_STATUSES:
                raise ValueError(f"unknown status group {status_group!r}")
            self.status_group = status_group
        if symbol is not None:
            self.symbol_filter = symbol.strip().upper()
        self._refilter()

    def _matcher(self) -> Callable[[Order], bool] | None:
        statuses = GROUP_STATUSES[self.status_group]
        trader, needle = self.trader_id, self.symbol_filter
        if statuses is None and trader is None and not needle:
            return None

        def match(o: Order) -> bool:
            return (
                (statuses is None or o.status in statuses)
                and (trader is None or o.trader_id == trader)
                and (not needle or needle in o.symbol)
            )

        return match

    def _refilter(self) -> None:
        orders = self._orders
        statuses = GROUP_STATUSES[self.status_group]
        trader, needle = self.trader_id, self.symbol_filter
        selected_pos = self._selected_position() if self._index else None
        # Orders that arrived since the last look may still change: watch them too.
        live = self._live
        for pos in range(self._seen, len(orders)):
            if orders[pos].status in _CHANGEABLE:
                live[pos] = orders[pos]
        self._seen = len(orders)
        # The common filters as plain comprehensions: ~20× cheaper than a call per row.
        if statuses is None and trader is None and not needle:
            self._index = list(range(len(orders)))
        elif trader is None and not needle:
            assert statuses is not None
            self._index = [i for i, o in enumerate(orders) if o.status in statuses]
        elif statuses is None and not needle:
            self._index = [i for i, o in enumerate(orders) if o.trader_id == trader]
        elif not needle:
            assert statuses is not None
            self._index = [
                i for i, o in enumerate(orders) if o.trader_id == trader and o.status in statuses
            ]
        else:
            match = self._matcher()
            assert match is not None
            self._index = [i for i, o in enumerate(orders) if match(o)]
        # Keep the same order under the cursor if it still matches; else the top row.
        row = self._row_of(selected_pos) if selected_pos is not None else None
        self.cursor = row if row is not None else 0
        self._update_size()
        if self.is_mounted:
            self.scroll_to(y=0 if row is None else None, animate=False, immediate=True)
            self._scroll_to_cursor()
            self.refresh()
        self._announce()

    def _rows_changed(self, was_rows: int, selected_pos: int | None) -> None:
        """After a refresh: keep the selected order under the cursor and the view still."""
        rows = len(self._index)
        if selected_pos is not None and self.cursor > 0:
            row = self._row_of(selected_pos)
            if row is not None:
                shift = row - self.cursor
                self.cursor = row
                if shift and self.is_mounted and self.scroll_offset.y > 0:
                    self.scroll_to(y=self.scroll_offset.y + shift, animate=False, immediate=True)
        self.cursor = max(0, min(self.cursor, rows - 1))
        if rows != was_rows:
            self._update_size()
        if self.is_mounted:
            self.refresh()
        self._announce()

    def _update_size(self) -> None:
        self.virtual_size = Size(0, len(self._index) + 1)  # + the header line

    # --- what is shown ------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._index)

    @property
    def total_count(self) -> int:
        return self._seen

    def order_at(self, row: int) -> Order | None:
        """The order on display row ``row`` (0 = newest)."""
        if 0 <= row < len(self._index):
            return self._orders[self._index[-1 - row]]
        return None

    @property
    def selected_order(self) -> Order | None:
        return self.order_at(self.cursor)

    def open_orders(self, trader_id: str | None = None) -> list[Order]:
        """Open orders of ``trader_id`` (or of everyone), from the watched positions only."""
        return [
            o
            for o in self._live.values()
            if o.status in _OPEN and (trader_id is None or o.trader_id == trader_id)
        ]

    def _selected_position(self) -> int | None:
        if 0 <= self.cursor < len(self._index):
            return self._index[-1 - self.cursor]
        return None

    def _row_of(self, pos: int) -> int | None:
        index = self._index
        i = bisect_left(index, pos)
        if i < len(index) and index[i] == pos:
            return len(index) - 1 - i
        return None

    def _announce(self) -> None:
        order = self.selected_order
        if order is not self._last_selected:
            self._last_selected = order
            if self.is_mounted:
                self.post_message(self.SelectionChanged(self, order))

    # --- cursor -------------------------------------------------------------------------
    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_cursor(self, row: int) -> None:
        rows = len(self._index)
        new = max(0, min(row, rows - 1)) if rows else 0
        if new != self.cursor:
            self.cursor = new
            self.refresh()
        self._scroll_to_cursor()
        self._announce()

    def _scroll_to_cursor(self) -> None:
        if not self.is_mounted:
            return
        top, page = self.scroll_offset.y, self._page
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + page:
            self.scroll_to(y=self.cursor - page + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self._page)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self._page)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._index) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self.move_cursor(self.scroll_offset.y + offset.y - 1)

    # --- painting -----------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.clear_cache()

    def clear_cache(self) -> None:
        """Forget rendered rows (after a change of language, colours, date or names)."""
        self._cache.clear()
        self._styles.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            if name == "base":
                style = self.rich_style
            elif name in ("up", "down"):
                style = self.rich_style + Style(
                    color=up_colour() if name == "up" else down_colour()
                )
            else:
                style = self.rich_style + self.get_component_rich_style(f"order-blotter--{name}")
            self._styles[name] = style
        return style

    def _check_context(self) -> None:
        # What every cached row depends on besides the order: clear the cache when it moves.
        context = (language(), convention(), self.today, id(self.trader_names))
        if context != self._paint_context:
            self._paint_context = context
            self._cache.clear()
            self._styles.clear()

    def set_hidden_columns(self, hidden: frozenset[str]) -> None:
        self.hidden_columns = frozenset(hidden) & frozenset(OPTIONAL_COLUMNS)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        self._check_context()
        width = self.scrollable_content_region.width
        show_trader = self.trader_id is None
        if y == 0:
            return self._header(width, show_trader)
        row = self.scroll_offset.y + y - 1
        index = self._index
        if row >= len(index):
            return Strip.blank(width, self._style("base"))
        order = self._orders[index[-1 - row]]
        selected = row == self.cursor
        key = (
            order.id,
            order.updated_at,
            order.status,
            order.filled_quantity,
            width,
            show_trader,
            self.hidden_columns,
            selected,
        )
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_order(order, width, show_trader, selected)
            self._cache[key] = strip
        return strip

    def _header(self, width: int, show_trader: bool) -> Strip:
        key = ("header", width, show_trader, self.hidden_columns)
        strip = self._cache.get(key)
        if strip is None:
            style = self._style("header")
            cols = layout(width, show_trader=show_trader, hidden=self.hidden_columns)
            text = " ".join(fit(t(f"orders.col.{c.key}"), c.width, c.right) for c in cols)
            strip = Strip([Segment(fit(text, width), style)], width)
            self._cache[key] = strip
        return strip

    def _render_order(self, o: Order, width: int, show_trader: bool, selected: bool) -> Strip:
        base = self._style("cursor" if selected else "base")
        segments: list[Segment] = []
        used = 0
        for col in layout(width, show_trader=show_trader, hidden=self.hidden_columns):
            text, style_name = self._cell(o, col.key)
            cell = fit(text, col.width, col.right)
            style = base if selected or style_name is None else self._style(style_name)
            if segments:
                segments.append(Segment(" ", base))
                used += 1
            segments.append(Segment(cell, style))
            used += col.width
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments, width)

    def _cell(self, o: Order, key: str) -> tuple[str, str | None]:
        hk = o.symbol.endswith(".HK")
        if key == "time":
            local = o.created_at.astimezone(HONG_KONG if hk else SHANGHAI)
            if self.today is not None and local.date() != self.today:
                return f"{local:%m-%d %H:%M}", "muted"
            return f"{local:%H:%M:%S}", None
        if key == "trader":
            return self.trader_names.get(o.trader_id, o.trader_id), None
        if key == "symbol":
            return o.symbol, None
        if key == "side":
            return t(f"side.{o.side.value}"), "up" if o.side is Side.BUY else "down"
        if key == "type":
            return t(f"type.{o.type.value}"), None
        if key == "quantity":
            return f"{o.quantity:,}", None
        if key == "filled":
            return (f"{o.filled_quantity:,}" if o.filled_quantity else "—"), None
        if key == "price":
            avg = o.avg_price
            if avg is not None:
                return price(avg), None
            if o.limit_price is not None:
                return price(o.limit_price), None
            return t("orders.market_price"), "muted"
        if key == "status":
            s = o.status
            label = t("orders.partial") if s is S.PARTIALLY_FILLED else t(f"status.{s.value}")
            if s in (S.REJECTED, S.EXPIRED):
                return label, "warning"
            if s is S.CANCELLED:
                return label, "muted"
            return label, None
        # The reason: the rule's label, then what the engine said, in the user's language.
        if o.reject_code is None and not o.reject_reason:
            return "", None
        code = t(f"code.{o.reject_code.value}") if o.reject_code is not None else ""
        reason = say(o.reject_reason or "")
        return (f"{code}: {reason}" if code and reason else code or reason), "warning"
