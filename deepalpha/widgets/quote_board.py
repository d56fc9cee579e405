"""The quote board: one row per instrument in sections (watchlist, A-shares, HK), live last,
change, bid/ask, volume and a limit-up/limit-down badge.

A Line-API widget: only the lines on screen are rendered, each from a cache keyed by the quote
it shows (quotes are immutable, so a new quote is a new key). A repaint that finds no visible
quote changed does nothing; one that does refreshes just those lines. The cost of a tick does
not grow with the number of symbols on the board.

Under a quote storm most rows on screen change every repaint, so a row is drawn straight into
segments (text, style) rather than through Rich ``Text`` objects and a console render: the same
characters and styles (``cells`` keeps the ``Text`` form, which the tests draw through Rich to
check this), at a fraction of the cost. Styles are resolved once and kept until Textual says the
widget's style changed (``notify_style_update``: a theme, a focus class).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.instruments import Instrument
from deepalpha.i18n import language, t
from deepalpha.widgets.colours import change_style, down_colour, up_colour
from deepalpha.widgets.formats import NONE, percent, price, volume

SECTION_PREFIX = "§"
WATCH_MARK = "★"

# (column key, catalogue key of its header, width, right-aligned)
COLUMNS: tuple[tuple[str, str, int, bool], ...] = (
    ("code", "mkt.col.code", 7, False),
    ("name", "mkt.col.name", 10, False),
    ("last", "mkt.col.last", 8, True),
    ("change", "mkt.col.change", 7, True),
    ("bid", "mkt.col.bid", 8, True),
    ("ask", "mkt.col.ask", 8, True),
    ("volume", "mkt.col.volume", 8, True),
    ("limit", "mkt.col.limit", 4, False),
)
QUOTE_COLUMNS = ("last", "change", "bid", "ask", "volume", "limit")
NAME_WIDTH = 10  # the name column's width by default; ``build`` may be given more room
CACHE_LINES = 2000
ELLIPSIS = "…"

# A cell drawn fast: runs of (text, style name) and whether it is right-aligned.
Run = tuple[str, str]
FastCell = tuple[tuple[Run, ...], bool]


def display_name(inst: Instrument) -> str:
    return inst.name if language() == "zh" or not inst.name_en else inst.name_en


def limit_badge(q: Quote) -> Text:
    if q.limit_up is not None and q.last >= q.limit_up:
        return Text(t("mkt.limit_up"), style=f"bold white on {up_colour()}")
    if q.limit_down is not None and q.last <= q.limit_down:
        return Text(t("mkt.limit_down"), style=f"bold white on {down_colour()}")
    return Text("")


def _badge(q: Quote) -> Run:
    """The limit badge as (text, style): what ``limit_badge`` shows."""
    if q.limit_up is not None and q.last >= q.limit_up:
        return t("mkt.limit_up"), f"bold white on {up_colour()}"
    if q.limit_down is not None and q.last <= q.limit_down:
        return t("mkt.limit_down"), f"bold white on {down_colour()}"
    return "", ""


def _fast_quote_cells(q: Quote | None) -> list[FastCell]:
    """``quote_cells`` as runs, in ``QUOTE_COLUMNS`` order."""
    if q is None:
        none: FastCell = (((NONE, "dim"),), True)
        return [none] * (len(QUOTE_COLUMNS) - 1) + [(((("", ""),)), False)]
    chg = q.change_pct
    style = change_style(chg)
    return [
        (((price(q.last), style),), True),
        (((percent(chg), style),), True),
        (((price(q.bid), ""),), True),
        (((price(q.ask), ""),), True),
        (((volume(q.volume), ""),), True),
        ((_badge(q),), False),
    ]


def quote_cells(q: Quote | None) -> dict[str, Text]:
    """The text of each quote column of a row."""
    if q is None:
        return {key: Text(NONE, style="dim", justify="right") for key in QUOTE_COLUMNS[:-1]} | {
            "limit": Text("")
        }
    chg = q.change_pct
    style = change_style(chg)
    return {
        "last": Text(price(q.last), style=style, justify="right"),
        "change": Text(percent(chg), style=style, justify="right"),
        "bid": Text(price(q.bid), justify="right"),
        "ask": Text(price(q.ask), justify="right"),
        "volume": Text(volume(q.volume), justify="right"),
        "limit": limit_badge(q),
    }


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: Text


@dataclass(frozen=True, slots=True)
class _Row:
    key: str  # a symbol, or SECTION_PREFIX + section
    inst: Instrument | None
    title: str = ""
    watched: bool = False


# Binding id → catalogue key of what it does (the Help screen's text).
BINDING_TEXT = {
    "market.ticket": "mkt.key.ticket",
    "board.up": "keys.row_up",
    "board.down": "keys.row_down",
    "board.page_up": "keys.page_up",
    "board.page_down": "keys.page_down",
    "board.home": "keys.first",
    "board.end": "keys.last",
}


class QuoteBoard(ScrollView, can_focus=True):
    """Rows keyed by symbol (section rows by ``§name``), a cursor that skips nothing itself
    (the screen steps over section rows), and a fixed header line."""

    DEFAULT_CSS = """
    QuoteBoard {
        height: 1fr;
        scrollbar-size-vertical: 1;
        background: $surface;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "app.ticket('buy')", t("mkt.key.ticket"), show=False, id="market.ticket"),
        Binding("up", "cursor(-1)", show=False, id="board.up"),
        Binding("down", "cursor(1)", show=False, id="board.down"),
        Binding("pageup", "page(-1)", show=False, id="board.page_up"),
        Binding("pagedown", "page(1)", show=False, id="board.page_down"),
        Binding("home", "jump(0)", show=False, id="board.home"),
        Binding("end", "jump(-1)", show=False, id="board.end"),
    ]

    class Highlighted(Message):
        def __init__(self, board: QuoteBoard, cursor_row: int) -> None:
            super().__init__()
            self.board = board
            self.cursor_row = cursor_row

        @property
        def control(self) -> QuoteBoard:
            return self.board

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._rows: list[_Row] = []
        self._index: dict[str, int] = {}
        self._painted: dict[str, Quote | None] = {}
        self._shown: dict[str, Quote | None] = {}  # the quote each row was last drawn with
        self._cache: OrderedDict[tuple[object, ...], Strip] = OrderedDict()
        self._styles: dict[tuple[Style, str], Style] = {}  # (base, style name) → base + style
        self._base: Style | None = None
        self._header_cache: tuple[tuple[object, ...], Strip] | None = None
        self.symbols: list[str] = []  # instrument rows, in board order
        self.name_width = NAME_WIDTH
        self.cursor_row = 0
        self.ordered_columns: list[Column] = []

    # --- layout (only when the rows change) ----------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    def build(
        self,
        sections: Sequence[tuple[str, Sequence[Instrument]]],
        watched: Iterable[str],
        quotes: Mapping[str, Quote],
        *,
        name_width: int = NAME_WIDTH,
    ) -> None:
        """Lay the board out: a title row per non-empty section, then its instruments."""
        watched = set(watched)
        self.name_width = name_width
        self.ordered_columns = [
            Column(key, Text(t(label), justify="right" if right else "left"))
            for key, label, _w, right in COLUMNS
        ]
        rows: list[_Row] = []
        for section, instruments in sections:
            if not instruments:
                continue
            rows.append(_Row(SECTION_PREFIX + section, None, t(f"mkt.section.{section}")))
            rows += [_Row(i.symbol, i, watched=i.symbol in watched) for i in instruments]
        self._rows = rows
        self._index = {r.key: n for n, r in enumerate(rows)}
        self.symbols = [r.key for r in rows if r.inst is not None]
        self._painted = {s: quotes.get(s) for s in self.symbols}
        self._cache.clear()
        self._header_cache = None
        self.cursor_row = min(self.cursor_row, max(0, len(rows) - 1))
        self.virtual_size = Size(self._line_width(), len(rows) + 1)
        self.refresh()

    def _widths(self) -> list[int]:
        return [self.name_width if key == "name" else w for key, _l, w, _r in COLUMNS]

    def _line_width(self) -> int:
        return sum(self._widths()) + len(COLUMNS)

    # --- live repaint (many times a second) ----------------------------------------------
    def paint(self, quotes: Mapping[str, Quote]) -> int:
        """Take the latest quotes; refreshes only the lines on screen whose quote changed.
        Returns how many visible rows changed."""
        painted = self._painted
        for symbol in self.symbols:
            q = quotes.get(symbol)
            if q is not painted.get(symbol):
                painted[symbol] = q
        top = int(self.scroll_offset.y)
        shown = self._shown
        width = self.size.width
        lines = [
            Region(0, y, width, 1)
            for y, row in enumerate(self._rows[top : top + self.size.height - 1], 1)
            if row.inst is not None and shown.get(row.key) is not painted.get(row.key)
        ]
        if lines:
            self.refresh(*lines)
        return len(lines)

    def notify_style_update(self) -> None:
        # A theme or a pseudo-class changed this widget's style: redraw with the new one.
        self._base = None
        self._styles.clear()
        self._cache.clear()
        self._header_cache = None
        super().notify_style_update()

    def _base_style(self) -> Style:
        """``rich_style`` walks the ancestors (~0.3 ms); it changes only with the CSS."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def _style(self, base: Style, name: str) -> Style:
        style = self._styles.get((base, name))
        if style is None:
            style = base + self.app.console.get_style(name) if name else base
            self._styles[(base, name)] = style
        return style

    # --- rendering -------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header(width)
        index = int(self.scroll_offset.y) + y - 1
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, self._base_style())
        row = self._rows[index]
        quote = self._painted.get(row.key) if row.inst is not None else None
        self._shown[row.key] = quote
        selected = index == self.cursor_row and self.has_focus_within
        key = (
            row.key,
            id(quote),
            selected,
            width,
            row.watched,
            self.name_width,
            int(self.scroll_offset.x),
        )
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(row, quote, selected, width)
            self._cache[key] = strip
            if len(self._cache) > CACHE_LINES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return strip

    def _cells(self, row: _Row, quote: Quote | None) -> list[Text]:
        if row.inst is None:
            return [Text("──", style="dim"), Text(row.title, style="bold cyan")]
        code = Text(f"{WATCH_MARK if row.watched else ' '}{row.inst.code}")
        code.stylize("yellow", 0, 1)
        cells = quote_cells(quote)
        return [code, Text(display_name(row.inst)), *(cells[k] for k in QUOTE_COLUMNS)]

    def _assemble(self, cells: list[Text], base: Style, width: int) -> Strip:
        segments: list[Segment] = []
        for text, col_width, (_k, _l, _w, right) in zip(
            cells, self._widths(), COLUMNS, strict=False
        ):
            cell = text.copy()
            if cell.style:  # Text.render draws spans only: make the base style a span
                cell.spans.insert(0, Span(0, len(cell), cell.style))
                cell.style = ""
            cell.truncate(col_width, overflow="ellipsis")
            pad = col_width - cell.cell_len
            if right or cell.justify == "right":
                cell.pad_left(pad)
            else:
                cell.pad_right(pad)
            cell.append(" ")
            segments.extend(cell.render(self.app.console))
        strip = (
            Strip(segments)
            .apply_style(base)
            .crop(int(self.scroll_offset.x), int(self.scroll_offset.x) + width)
        )
        return strip.extend_cell_length(width).apply_style(base)

    def _fast_cells(self, row: _Row, quote: Quote | None) -> list[FastCell]:
        """``_cells`` as runs of (text, style name)."""
        if row.inst is None:
            return [((("──", "dim"),), False), (((row.title, "bold cyan"),), False)]
        code: FastCell = (
            ((WATCH_MARK if row.watched else " ", "yellow"), (row.inst.code, "")),
            False,
        )
        return [code, (((display_name(row.inst), ""),), False), *_fast_quote_cells(quote)]

    def _draw(self, cells: list[FastCell], base: Style, width: int) -> Strip:
        """What ``_assemble`` draws, without Text objects: each cell truncated with an
        ellipsis to its column (by cell width: Chinese names are two cells a character),
        padded to it, then a space; the base style under every run's own."""
        segments: list[Segment] = []
        add = segments.append
        for (cell, right), col_width in zip(cells, self._widths(), strict=False):
            runs = cell
            plain = "".join(text for text, _ in runs)
            length = cell_len(plain)
            if length > col_width:
                # Rich's truncate: the text cut to one cell less, an ellipsis, the runs clipped
                # (the run that reaches the cut takes the ellipsis with it).
                cut = set_cell_size(plain, col_width - 1) + ELLIPSIS
                clipped: list[Run] = []
                start = 0
                for text, name in cell:
                    end = min(start + len(text), len(cut))
                    if start < end:
                        clipped.append((cut[start:end], name))
                    start += len(text)
                runs, length = tuple(clipped), col_width
            pad = " " * (col_width - length)
            if right and pad:
                add(Segment(pad, base))
            for text, name in runs:
                if text:
                    add(Segment(text, self._style(base, name)))
            add(Segment(pad + " " if not right else " ", base))
        strip = Strip(segments)
        scroll_x = int(self.scroll_offset.x)
        if scroll_x or strip.cell_length > width:
            strip = strip.crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base)

    def _render_row(self, row: _Row, quote: Quote | None, selected: bool, width: int) -> Strip:
        base = self._base_style()
        if selected:
            base = self._style(base, "reverse")
        return self._draw(self._fast_cells(row, quote), base, width)

    def _header(self, width: int) -> Strip:
        key = (width, int(self.scroll_offset.x), self.name_width)
        if self._header_cache is not None and self._header_cache[0] == key:
            return self._header_cache[1]
        labels = [c.label for c in self.ordered_columns] or [Text("")]
        strip = self._assemble(labels, self._base_style() + Style(bold=True, underline=True), width)
        self._header_cache = (key, strip)
        return strip

    # --- cursor ----------------------------------------------------------------------------
    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        if not self._rows:
            return
        row = max(0, min(row, len(self._rows) - 1))
        self.cursor_row = row
        if scroll:
            height = max(1, self.size.height - 1)
            top = int(self.scroll_offset.y)
            if row < top:
                self.scroll_to(y=row, animate=animate)
            elif row >= top + height:
                self.scroll_to(y=row - height + 1, animate=animate)
        self.refresh()
        self.post_message(self.Highlighted(self, row))

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(row=self.cursor_row + direction * max(1, self.size.height - 2))

    def action_jump(self, row: int) -> None:
        self.move_cursor(row=row if row >= 0 else len(self._rows) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(row=int(self.scroll_offset.y) + event.y - 1, scroll=False)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # --- rows ------------------------------------------------------------------------------
    def symbol_at(self, row: int) -> str | None:
        """The symbol of a row (None for a section row or outside the table)."""
        if not 0 <= row < len(self._rows):
            return None
        return self._rows[row].key if self._rows[row].inst is not None else None

    def row_of(self, symbol: str) -> int | None:
        return self._index.get(symbol)

    def cell_text(self, symbol: str, column: str) -> str:
        row = self._rows[self._index[symbol]]
        keys = [c[0] for c in COLUMNS]
        return self._cells(row, self._painted.get(symbol))[keys.index(column)].plain
