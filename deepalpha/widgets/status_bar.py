"""The status bar: feed, database, the session of each market and, attached to a server, the
connection, always in view."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from deepalpha.app.backend import MarketStatus
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.i18n import say, t

PHASE_STYLE = {
    Phase.CLOSED: "dim",
    Phase.PRE_OPEN: "yellow",
    Phase.CONTINUOUS: "bold green",
    Phase.LUNCH_BREAK: "cyan",
    Phase.CLOSING_AUCTION: "yellow",
}


def render_status(status: MarketStatus, width: int = 200) -> Text:
    full = _render(status, compact=False)
    if full.cell_len <= width:
        return full
    # Narrower: single spaces; then (paused, 80 columns) the word SIMULATED gives way, so that
    # the speed, PAUSED, the clock and the feed and database marks still fit.
    for tight in (0, 1, 2):
        line = _render(status, compact=True, tight=tight)
        if line.cell_len <= width:
            break
    return line


def _render(status: MarketStatus, *, compact: bool, tight: int = 0) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    gap = " " if tight else "  "
    if status.connection and not status.connection_ok:
        # First, whatever the width: commands are not going through.
        out.append(f" {say(status.connection)} ", style="bold white on red")
        out.append(" ")
    if status.simulated:
        speed = f"{status.speed:g}×"
        badge = speed if tight > 1 else f"{t('status.simulated')}{gap}{speed}"
        out.append(f" {badge} ", style="bold white on dark_red")
        if status.paused:
            out.append(f" {t('status.paused')} ", style="bold black on yellow")
        out.append(" ")
    stamp = f"{status.time:%H:%M:%S} " if compact else f"{status.time:%m-%d %H:%M:%S} "
    out.append(stamp, style="bold")
    for market in (Market.CN, Market.HK):
        phase = status.phases.get(market, Phase.CLOSED)
        out.append(f"{t('market.' + market.value)} ", style="bold")
        out.append(t("phase." + phase.value), style=PHASE_STYLE[phase])
        out.append(gap)
    feed_ok = status.feed_alive
    if compact:  # the feed and database as marks: green when well, red when not
        out.append(f"{t('status.feed')}", style="dim")
        out.append("●", style="green" if feed_ok else "bold red")
        out.append(f" {t('status.db')}", style="dim")
        out.append("●", style="green" if status.database_ok else "bold red")
        _connection(out, status, compact=True)
        return out
    out.append(f"{t('status.feed')}:", style="dim")
    out.append(
        t("status.feed_ok" if feed_ok else "status.feed_down"),
        style="green" if feed_ok else "bold red",
    )
    out.append(f"  {t('status.db')}:", style="dim")
    out.append(
        t("status.db_ok" if status.database_ok else "status.db_error"),
        style="green" if status.database_ok else "bold red",
    )
    _connection(out, status, compact=False)
    return out


def _connection(out: Text, status: MarketStatus, *, compact: bool) -> None:
    """Attached to a server and connected: a mark, or its address when there is room (a lost
    connection leads the line instead, see ``_render``)."""
    if not status.connection or not status.connection_ok:
        return
    if compact:
        out.append(f" {t('status.link')}", style="dim")
        out.append("●", style="green")
        return
    out.append(f"  {t('status.link')}:", style="dim")
    out.append(say(status.connection), style="green")


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    def show(self, status: MarketStatus) -> None:
        # One line, whatever it says: no layout pass (a repaint of the whole screen) per tick.
        self.update(render_status(status, self.size.width or 200), layout=False)
