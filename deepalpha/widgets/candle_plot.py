"""The K-line chart's plot: textual-plotext's widget, its picture made a line at a time.

plotext builds a chart of a few thousand cells in Python, Rich parses its ANSI output and Textual
cuts that into lines of styled cells: ~80 ms a picture on these machines, once a second on the
market screen. Done inside ``render`` (as ``PlotextPlot`` does) that blocks the event loop in
one piece, and a key pressed meanwhile waits for all of it. Here the conversion goes a line at a
time (the picture's lines are independent: plotext resets the style at the end of each), with
the loop free to handle keys and quotes between lines, and the widget shows the last finished
picture through the Line API (``render_line``). Each line is made exactly as
``Widget._render_content`` would make it. A worker thread would not do: it shares the GIL with
the loop, and every hand-over of the GIL waits on the OS scheduler, which on a busy machine
cost the loop far more than the work itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.strip import Strip
from textual.visual import Visual
from textual.worker import Worker
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

Configure = Callable[[Plot], None]


class CandlePlot(PlotextPlot):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lines: list[Strip] = []
        self._configure: Configure | None = None
        self._drawing: Worker[None] | None = None
        self._again = False

    def on_mount(self) -> None:
        # PlotextPlot's own on_mount (Textual calls both) registers the app's themes.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    def on_resize(self) -> None:
        self._redraw()

    def render_line(self, y: int) -> Strip:
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.rich_style)

    def draw(self, configure: Configure) -> None:
        """Set the figure up with ``configure`` (called on the plotext ``Plot``) and show the
        picture when it is made; a draw asked for while one is being made follows it, with
        the newest figure."""
        self._configure = configure
        self._redraw()

    def _redraw(self) -> None:
        if self._configure is None:
            return
        if self._drawing is not None and not self._drawing.is_finished:
            self._again = True
            return
        # A worker of the widget's: it ends with the widget (the app quitting, a screen gone).
        self._drawing = self.run_worker(self._make(), group="candle-plot")

    async def _make(self) -> None:
        while True:
            self._again = False
            configure = self._configure
            width, height = self.size.width, self.size.height
            if configure is None or not width or not height:
                return
            plt = self.plt
            configure(plt)
            # As PlotextPlot.render does: both calls are needed for plotext to take the size.
            plt.plotsize(width, height)
            plt._set_size(width, height)
            plt.theme(self._get_plotext_theme_name(self.app.theme))
            ansi = plt.build()
            style = self.visual_style
            console = self.app.console
            lines: list[Strip] = []
            for row in ansi.split("\n"):
                await asyncio.sleep(0)  # keys and quotes go first
                content = Content.from_rich_text(Text.from_ansi(row), console=console)
                lines.extend(Visual.to_strips(self, content, width, 1, style))
            self._lines = lines
            self.refresh()
            if not self._again:
                return
