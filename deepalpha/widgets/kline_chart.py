"""The K-line (candlestick) chart of one symbol: a one-line title with the live quote, and
one-minute candles drawn by plotext. The title follows quotes; the candles are repainted only
when asked (the market screen does it at most about once a second).

plotext takes ~40 ms to import and the market screen is the first frame, whose quotes must not
wait for it: the plot joins a moment after the first frame and draws what was asked of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from deepalpha.engine.marketdata import Bar, Quote
from deepalpha.i18n import t
from deepalpha.widgets.colours import change_style, down_colour, up_colour
from deepalpha.widgets.formats import percent, price

if TYPE_CHECKING:
    from textual_plotext.plot import Plot

    from deepalpha.widgets.candle_plot import CandlePlot

PLOT_AFTER = 0.3  # seconds after mounting: the first frame (the quotes) is on screen by then

# Shanghai and Hong Kong keep the same clock (UTC+8): one zone labels both markets' bars.
MARKET_CLOCK = ZoneInfo("Asia/Shanghai")


def render_title(
    symbol: str | None, name: str, quote: Quote | None, *, high_low: bool = True
) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    if symbol is None:
        out.append(t("mkt.no_symbol"), style="dim")
        return out
    out.append(f"{symbol} ", style="bold")
    out.append(f"{name}  ", style="bold")
    if quote is None:
        return out
    chg = quote.change_pct
    style = change_style(chg)
    out.append(price(quote.last), style=f"bold {style}".strip())
    if quote.pre_close:
        diff = quote.last - quote.pre_close
        out.append(f" {diff:+,.2f} {percent(chg)}", style=style)
    if high_low and quote.high is not None and quote.low is not None:
        out.append(f"  {t('mkt.high')} {price(quote.high)}", style="dim")
        out.append(f" {t('mkt.low')} {price(quote.low)}", style="dim")
    return out


class KLineChart(Vertical):
    DEFAULT_CSS = """
    KLineChart {
        height: 1fr;
    }
    KLineChart > #kline-title {
        height: 1;
        padding: 0 1;
    }
    KLineChart > #kline-plot {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._painted: tuple[object, ...] | None = None
        self._plot: CandlePlot | None = None
        self._asked: tuple[str | None, Sequence[Bar]] | None = None  # before the plot was up
        self.title_text = ""
        self._title: Text | None = None
        self._title_of: tuple[str | None, str, Quote | None] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="kline-title")

    def on_mount(self) -> None:
        self.set_timer(PLOT_AFTER, self._add_plot)

    async def _add_plot(self) -> None:
        from deepalpha.widgets.candle_plot import CandlePlot  # noqa: PLC0415

        plot = CandlePlot(id="kline-plot")
        await self.mount(plot)
        self._plot = plot
        if self._asked is not None:
            self.show_bars(*self._asked, force=True)
            self._asked = None

    def show_title(self, symbol: str | None, name: str, quote: Quote | None) -> None:
        self._title_of = (symbol, name, quote)
        text = render_title(symbol, name, quote)
        room = self.size.width - 2
        if room > 0 and text.cell_len > room:
            text = render_title(symbol, name, quote, high_low=False)
        if text == self._title:
            return
        self._title = text
        self.title_text = text.plain
        self.query_one("#kline-title", Static).update(text, layout=False)  # one line

    def on_resize(self) -> None:
        # Whether the high and low fit depends on the width: a title shown before the first
        # layout (no width yet) or before a resize is fitted again.
        if self._title_of is not None:
            self.show_title(*self._title_of)

    def show_bars(self, symbol: str | None, bars: Sequence[Bar], *, force: bool = False) -> None:
        """Redraw the candles, unless nothing they show has changed."""
        plot = self._plot
        if plot is None:
            self._asked = (symbol, bars)
            return
        width = plot.size.width or 60
        keep = max(8, (width - 12) // 2)
        shown = list(bars[-keep:])
        last = shown[-1] if shown else None
        key = (
            symbol,
            width,
            plot.size.height,
            len(shown),
            last and (last.time, last.close, last.high, last.low),
        )
        if key == self._painted and not force:
            return
        self._painted = key
        plot.draw(_candles(symbol, shown))

    def relabel(self) -> None:
        self._painted = None


def _candles(symbol: str | None, shown: list[Bar]) -> Callable[[Plot], None]:
    """The figure of ``shown`` (set up in the plot's drawing thread: plain data only)."""
    title = t("mkt.no_bars") if symbol else t("mkt.no_symbol")
    colours: list[str | int | tuple[int, int, int]] = [up_colour(), down_colour()]
    xs = [float(x) for x in range(1, len(shown) + 1)]
    prices = {
        "Open": [float(b.open) for b in shown],
        "Close": [float(b.close) for b in shown],
        "High": [float(b.high) for b in shown],
        "Low": [float(b.low) for b in shown],
    }
    step = max(1, len(shown) // 4)
    ticks = xs[::step]
    labels = [f"{shown[int(x) - 1].time.astimezone(MARKET_CLOCK):%H:%M}" for x in ticks]

    def configure(plt: Plot) -> None:
        plt.clear_figure()
        if not shown:
            plt.title(title)
            return
        # plotext takes numbers as well as date strings
        plt.candlestick(cast(Any, xs), prices, colors=colours)
        plt.xticks(ticks, labels)
        plt.xlim(0, len(shown) + 1)

    return configure
