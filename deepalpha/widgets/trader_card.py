"""A trader at a glance: name, kind, model, running state, equity, P&L, day P&L, counts; for an
AI or hybrid trader also whether its model is trusted (safe mode) and proposals waiting."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from deepalpha.app.backend import TraderView
from deepalpha.i18n import money, say, t
from deepalpha.widgets.colours import change_style
from deepalpha.widgets.formats import model_text, percent


def render_card(view: TraderView) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(t(f"kind.{view.kind}"), style="bold")
    out.append("  ")
    if view.halted:
        out.append(f"■ {t('dash.halted')}", style="bold red")
    elif view.running:
        out.append(f"● {t('dash.running')}", style="green")
    else:
        out.append(f"○ {t('dash.stopped')}", style="dim")
    out.append(f"\n{t('dash.model')}: ", style="dim")
    out.append(model_text(view.model_label))
    out.append(f"\n{t('dash.equity')}: ", style="dim")
    out.append(money(view.equity, "CNY"), style="bold")
    style = change_style(view.pnl)
    out.append(f"\n{t('dash.pnl')}: ", style="dim")
    out.append(f"{money(view.pnl, 'CNY', sign=True)} ({percent(view.return_pct)})", style=style)
    out.append(f"\n{t('dash.day_pnl')}: ", style="dim")
    out.append(money(view.day_pnl, "CNY", sign=True), style=change_style(view.day_pnl))
    out.append(f"\n{t('dash.positions')}: ", style="dim")
    out.append(str(view.positions))
    out.append(f"  {t('dash.open_orders')}: ", style="dim")
    out.append(str(view.open_orders))
    if view.kind in ("ai", "hybrid"):
        # Always a line for AI traders, so a card does not jump when safe mode comes and goes.
        out.append("\n")
        if view.safe_mode:
            out.append(f"⚠ {t('dash.safe_mode')}", style="bold red")
        else:
            out.append(f"✓ {t('dash.ai_ok')}", style="dim green")
        if view.kind == "hybrid":
            out.append(f"  {t('dash.proposals')}: ", style="dim")
            out.append(str(view.open_proposals), style="bold yellow" if view.open_proposals else "")
    if view.halted:
        out.append(f"\n{say(view.halted)}", style="red")
    return out


class TraderCard(Static):
    """One trader's card; ``show`` repaints it only when what it says changed."""

    DEFAULT_CSS = """
    TraderCard {
        height: auto;
        min-height: 8;
        border: round $primary 40%;
        border-title-style: bold;
        padding: 0 1;
    }
    TraderCard.-current {
        border: round $accent;
    }
    TraderCard.-halted {
        border: round $error;
    }
    TraderCard.-safe {
        border: round $warning;
    }
    """

    def __init__(self, trader_id: str, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.trader_id = trader_id
        self._shown: tuple[object, ...] | None = None
        self.text = ""

    def show(self, view: TraderView, *, current: bool = False) -> None:
        key = (view, current, t("dash.equity"))
        if key == self._shown:
            return
        self._shown = key
        self.border_title = view.name
        self.set_class(current, "-current")
        self.set_class(bool(view.halted), "-halted")
        self.set_class(view.safe_mode and not view.halted, "-safe")
        text = render_card(view)
        self.text = f"{view.name}\n{text.plain}"
        self.update(text)
