"""The row of screens under the status bar: which F-key opens what, the current one marked."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from deepalpha.i18n import t


def render_nav(current: str, screens: list[tuple[str, str]], width: int) -> Text:
    """``screens``: (name, key) in display order. Every key shows at any width from 80 cells:
    where the full labels do not fit with room around them, they go closer; then short labels
    (the current screen keeps its full one while there is room); then the space between key
    and label goes; last, the labels of all but the current screen."""
    full = {name: t(f"screen.{name}") for name, _ in screens}
    short = {name: t(f"nav.{name}") for name, _ in screens}
    short_but_current = short | {current: full.get(current, "")}
    candidates = (
        _roomy(current, screens, full),
        _line(current, screens, full),
        _line(current, screens, short_but_current),
        _line(current, screens, short),
        _line(current, screens, short_but_current, gap=""),
        _line(current, screens, short, gap=""),
        _line(current, screens, {current: short.get(current, "")}, gap=""),
    )
    for line in candidates:
        if line.cell_len < width and not line.plain.startswith(" "):
            return Text(" ", no_wrap=True, overflow="ellipsis") + line  # in line with the status
        if line.cell_len <= width:
            return line
    return candidates[-1]  # cut at the right edge: narrower than any workstation needs


def _roomy(current: str, screens: list[tuple[str, str]], labels: dict[str, str]) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    for name, key in screens:
        if name == current:
            out.append(f" {key.upper()} {labels[name]} ", style="bold reverse")
        else:
            out.append(f" {key.upper()}", style="bold")
            out.append(f" {labels[name]} ")
    return out


def _line(
    current: str, screens: list[tuple[str, str]], labels: dict[str, str], *, gap: str = " "
) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    for i, (name, key) in enumerate(screens):
        label = labels.get(name, "")
        if i:
            out.append(" ")
        if name == current:
            out.append(f"{key.upper()}{gap}{label}" if label else key.upper(), "bold reverse")
            continue
        out.append(key.upper(), style="bold")  # bold key, plain label: apart without a gap
        if label:
            out.append(f"{gap}{label}")
    return out


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar {
        height: 1;
        background: $boost;
        color: $text-muted;
    }
    """

    _shown: Text | None = None
    _screens: tuple[str, list[tuple[str, str]]] | None = None

    def show(self, current: str, screens: list[tuple[str, str]]) -> None:
        """``screens``: (name, key) in display order."""
        self._screens = (current, screens)
        # The bar spans the terminal: its width is the app's, known before the first layout.
        out = render_nav(current, screens, self.app.size.width)
        if out != self._shown:  # it is asked every tick and rarely changes
            self._shown = out
            self.update(out, layout=False)  # one line: no layout pass

    def on_resize(self) -> None:
        if self._screens is not None:
            self.show(*self._screens)
