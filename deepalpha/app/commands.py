"""Command palette entries (Ctrl+P): go to a symbol or screen, cancel all orders, switch, start
or stop a trader, ask an AI trader to decide now, create a backup, change theme or language."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.command import Hit, Hits, Provider

from deepalpha.i18n import language, t

if TYPE_CHECKING:
    from deepalpha.app.tui import DeepAlphaApp


def workstation_commands(app: DeepAlphaApp) -> Iterable[SystemCommand]:
    from deepalpha.app.tui import SCREENS  # noqa: PLC0415

    backend = app.backend
    for name in SCREENS:
        yield SystemCommand(
            t("palette.goto_screen", screen=t(f"screen.{name}")),
            "",
            lambda n=name: app.run_worker(app.action_goto(n)),
        )
    yield SystemCommand(t("palette.cancel_all"), "", lambda: _cancel_all(app))
    for trader in backend.traders():
        yield SystemCommand(
            t("palette.switch_trader", name=trader.name),
            trader.id,
            lambda tid=trader.id: _switch_trader(app, tid),
        )
        key = "palette.stop_trader" if trader.running else "palette.start_trader"
        yield SystemCommand(
            t(key, name=trader.name),
            trader.id,
            lambda tr=trader: app.run_worker(backend.set_trader_running(tr.id, not tr.running)),
        )
        if trader.kind in ("ai", "hybrid"):
            yield SystemCommand(
                t("palette.decide_now", name=trader.name),
                trader.id,
                lambda tid=trader.id: _decide_now(app, tid),
            )
    yield SystemCommand(t("palette.create_backup"), "", lambda: _backup(app))
    yield SystemCommand(
        t("palette.toggle_theme"),
        "",
        lambda: app.run_worker(
            app.set_theme_name("light" if app.theme == "textual-dark" else "dark")
        ),
    )
    yield SystemCommand(
        t("palette.toggle_language"),
        "",
        lambda: app.run_worker(app.set_language("en" if language() == "zh" else "zh")),
    )


class SymbolProvider(Provider):
    """ "Go to symbol" by code, alias, Chinese or English name: "mout" finds 贵州茅台 (Kweichow
    Moutai), "700" Tencent. The ticket's symbol search finds the instruments, so both agree;
    the palette's fuzzy matcher only ranks and highlights them."""

    async def search(self, query: str) -> Hits:
        from deepalpha.app.tui import DeepAlphaApp  # noqa: PLC0415

        app = self.app
        if not isinstance(app, DeepAlphaApp) or not query.strip():
            return
        matcher = self.matcher(query)
        for rank, inst in enumerate(app.backend.search(query, limit=10)):
            title = t("palette.goto_symbol", symbol=inst.symbol, name=inst.name)
            if inst.name_en and inst.name_en != inst.name:
                title += f" · {inst.name_en}"
            fields = (inst.symbol, inst.code, inst.name, inst.name_en)
            fuzzy = max(matcher.match(field) for field in fields if field)
            # Aliases (sh600519, 700.HK) match no field letter by letter: rank keeps the order.
            score = max(fuzzy, 0.9 - rank * 0.05)
            yield Hit(
                score,
                matcher.highlight(title),
                lambda s=inst.symbol: _goto_symbol(app, s),
                text=title,
            )


def _switch_trader(app: DeepAlphaApp, trader_id: str) -> None:
    app.current_trader = trader_id
    app._save_pref("trader", trader_id)


def _decide_now(app: DeepAlphaApp, trader_id: str) -> None:
    """Run a cycle and show its record on the Decisions screen."""

    async def go() -> None:
        await app.action_goto("decisions")
        decide = getattr(app.screen, "decide", None)
        if decide is not None:
            decide(trader_id)

    app.run_worker(go())


def _goto_symbol(app: DeepAlphaApp, symbol: str) -> None:
    async def go() -> None:
        await app.action_goto("market")
        select = getattr(app.screen, "select_symbol", None)
        if select is not None:
            select(symbol)

    app.run_worker(go())


def _cancel_all(app: DeepAlphaApp) -> None:
    from deepalpha.screens.confirm import ConfirmScreen  # noqa: PLC0415

    count = sum(1 for o in app.backend.orders() if o.status.is_open)

    async def answered(yes: bool | None) -> None:
        if yes:
            cancelled = await app.backend.cancel_all()
            app.notify(t("toast.cancelled", count=len(cancelled)))

    app.push_screen(ConfirmScreen(t("confirm.cancel_all", count=count)), answered)


def _backup(app: DeepAlphaApp) -> None:
    async def go() -> None:
        path = await app.backend.create_backup()
        app.notify(t("backup.created", name=path.name))

    app.run_worker(go())
