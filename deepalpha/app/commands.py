"""Command palette entries (Ctrl+P): go to a symbol or screen, cancel all orders, switch, start
or stop a trader, ask an AI trader to decide now, create a backup, change theme or language."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.command import Hit, Hits, Provider

from deepalpha.i18n import language, say, t
from deepalpha.screens.host import workstation
from deepalpha.screens.navigation import SCREENS


def workstation_commands(app: App[Any]) -> Iterable[SystemCommand]:
    host = workstation(app)
    backend = host.backend
    for name in SCREENS:
        yield SystemCommand(
            t("palette.goto_screen", screen=t(f"screen.{name}")),
            "",
            lambda n=name: app.run_worker(host.action_goto(n)),
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
            lambda tr=trader: app.run_worker(
                _or_say(app, backend.set_trader_running(tr.id, not tr.running))
            ),
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
            host.set_theme_name("light" if app.theme == "textual-dark" else "dark")
        ),
    )
    yield SystemCommand(
        t("palette.toggle_language"),
        "",
        lambda: app.run_worker(host.set_language("en" if language() == "zh" else "zh")),
    )


class SymbolProvider(Provider):
    """ "Go to symbol" by code, alias, Chinese or English name: "mout" finds 贵州茅台 (Kweichow
    Moutai), "700" Tencent. The ticket's symbol search finds the instruments, so both agree;
    the palette's fuzzy matcher only ranks and highlights them."""

    async def search(self, query: str) -> Hits:
        app = self.app  # the workstation: the only app this provider is given to
        if not query.strip():
            return
        matcher = self.matcher(query)
        for rank, inst in enumerate(workstation(app).backend.search(query, limit=10)):
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


async def _or_say(app: App[Any], work: Awaitable[Any]) -> Any:
    """A command's result, or None when it was refused (a server out of reach, a full disk):
    said in a toast rather than ending the app, as a worker's error would."""
    try:
        return await work
    except Exception as exc:
        reason = exc.args[0] if len(exc.args) == 1 else None  # a Msg is said in the language
        app.notify(say(reason) if isinstance(reason, str) else str(exc), severity="error")
        return None


def _switch_trader(app: App[Any], trader_id: str) -> None:
    host = workstation(app)
    host.current_trader = trader_id
    host.save_preference("trader", trader_id)


def _decide_now(app: App[Any], trader_id: str) -> None:
    """Run a cycle and show its record on the Decisions screen."""

    async def go() -> None:
        await workstation(app).action_goto("decisions")
        decide = getattr(app.screen, "decide", None)
        if decide is not None:
            decide(trader_id)

    app.run_worker(go())


def _goto_symbol(app: App[Any], symbol: str) -> None:
    async def go() -> None:
        await workstation(app).action_goto("market")
        select = getattr(app.screen, "select_symbol", None)
        if select is not None:
            select(symbol)

    app.run_worker(go())


def _cancel_all(app: App[Any]) -> None:
    from deepalpha.screens.confirm import ConfirmScreen  # noqa: PLC0415

    backend = workstation(app).backend
    count = sum(1 for o in backend.orders() if o.status.is_open)

    async def answered(yes: bool | None) -> None:
        if yes:
            cancelled = await _or_say(app, backend.cancel_all())
            if cancelled is not None:
                app.notify(t("toast.cancelled", count=len(cancelled)))

    app.push_screen(ConfirmScreen(t("confirm.cancel_all", count=count)), answered)


def _backup(app: App[Any]) -> None:
    async def go() -> None:
        path = await _or_say(app, workstation(app).backend.create_backup())
        if path is not None:
            app.notify(t("backup.created", name=path.name))

    app.run_worker(go())
