"""The status bar: feed, database, and the session of each market, always in view."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from deepalpha.app.backend import MarketStatus
from deepalpha.engine.markets.sessions import Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.i18n import t

PHASE_STYLE = {
    Phase.CLOSED: "dim",
    Phase.PRE_OPEN: "yellow",
    Phase.CONTINUOUS: "bold green",
    Phase.LUNCH_BREAK: "cyan",
    Phase.CLOSING_AUCTION: "yellow",
}


def render_status(status: MarketStatus) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    if status.simulated:
        out.append(f" {t('status.simulated')} ", style="bold white on dark_red")
        out.append(" ")
    out.append(f"{status.time:%m-%d %H:%M:%S} ", style="bold")
    for market in (Market.CN, Market.HK):
        phase = status.phases.get(market, Phase.CLOSED)
        out.append(f"{t('market.' + market.value)} ", style="bold")
        out.append(t("phase." + phase.value), style=PHASE_STYLE[phase])
        out.append("  ")
    feed_ok = status.feed_alive
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
    return out


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        dock: top;
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    def show(self, status: MarketStatus) -> None:
        self.update(render_status(status))
