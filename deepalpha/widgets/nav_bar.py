"""The row of screens under the status bar: which F-key opens what, the current one marked."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from deepalpha.i18n import t


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar {
        height: 1;
        background: $boost;
        color: $text-muted;
    }
    """

    _shown: Text | None = None

    def show(self, current: str, screens: list[tuple[str, str]]) -> None:
        """``screens``: (name, key) in display order. When the labels do not fit, only the
        current screen keeps its label (the Help screen lists them all)."""
        full = sum(len(k) + len(t(f"screen.{n}")) + 3 for n, k in screens)
        compact = full > max(self.size.width, 1)
        out = Text(no_wrap=True, overflow="ellipsis")
        for name, key in screens:
            label = t(f"screen.{name}")
            if name == current:
                out.append(f" {key.upper()} {label} ", style="bold reverse")
            elif compact:
                out.append(f" {key.upper()}", style="bold")
            else:
                out.append(f" {key.upper()}", style="bold")
                out.append(f" {label} ")
        if out != self._shown:  # it is asked every tick and rarely changes
            self._shown = out
            self.update(out, layout=False)  # one line: no layout pass
