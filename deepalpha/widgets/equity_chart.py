"""Every trader's equity over time on one plotext chart (daily points, the last one live)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from textual_plotext import PlotextPlot

from deepalpha.i18n import language, t

# plotext colour names, one per trader in turn
PALETTE = ("cyan", "magenta", "yellow", "blue", "orange", "white", "green", "red")
Y_TICKS = 4


def axis_label(value: Decimal) -> str:
    """An axis label in plain ASCII (plotext counts every character as one cell, so 万 would
    break its frame): yuan in English, 万元 in Chinese (the chart's title names the unit)."""
    if language() == "zh":
        return f"{value / 10_000:,.2f}"
    return f"{value:,.0f}"


class EquityChart(PlotextPlot):
    DEFAULT_CSS = """
    EquityChart {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._shown: tuple[object, ...] | None = None

    def show(
        self,
        curves: Mapping[str, Sequence[tuple[date, Decimal]]],
        names: Mapping[str, str],
        *,
        force: bool = False,
    ) -> None:
        """Redraw, unless the curves, names and size are what is drawn already."""
        key = (
            tuple((tid, len(c), c[-1] if c else None) for tid, c in curves.items()),
            tuple(names.items()),
            self.size,
            t("dash.equity"),
        )
        if key == self._shown and not force:
            return
        self._shown = key
        plt = self.plt
        plt.clear_figure()
        days = sorted({d for curve in curves.values() for d, _ in curve})
        if not days:
            plt.title(t("dash.no_curve"))
            self.refresh()
            return
        x_of = {d: i + 1 for i, d in enumerate(days)}
        values: list[Decimal] = []
        for n, (tid, curve) in enumerate(curves.items()):
            if not curve:
                continue
            xs = [x_of[d] for d, _ in curve]
            ys = [float(v) for _, v in curve]
            values += [v for _, v in curve]
            draw = plt.plot if len(curve) > 1 else plt.scatter
            draw(
                xs,
                ys,
                label=names.get(tid, tid),
                color=PALETTE[n % len(PALETTE)],
                marker="braille" if len(curve) > 1 else "●",
            )
        lo, hi = min(values), max(values)
        if lo == hi:
            pad = max(abs(lo) * Decimal("0.01"), Decimal(1))
            lo, hi = lo - pad, hi + pad
        ticks = [lo + (hi - lo) * i / (Y_TICKS - 1) for i in range(Y_TICKS)]
        plt.ylim(float(lo), float(hi))
        plt.yticks([float(v) for v in ticks], [axis_label(v) for v in ticks])
        step = max(1, len(days) // 5)
        shown = [float(x) for x in range(1, len(days) + 1)][::step]
        plt.xticks(shown, [f"{days[int(x) - 1]:%m-%d}" for x in shown])
        plt.xlim(0.5, len(days) + 0.5)
        self.refresh()
