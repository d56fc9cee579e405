"""The Textual workstation. One factory builds it for the CLI and the tests (``make_app``).

Screens reach the engine only through the :class:`Backend`. Quotes are not pushed as messages:
each screen repaints from the backend's quote store on a timer (at most ~10 Hz). Orders, fills,
rejections and notifications arrive through one subscription and become toasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from deepalpha.app.backend import Backend
from deepalpha.app.first_settings import SettingsError
from deepalpha.app.lock import DataDirBusy
from deepalpha.app.remote_session import RemoteError
from deepalpha.engine.events import (
    FillEvent,
    NotificationEvent,
    OrderEvent,
    TraderHaltedEvent,
)
from deepalpha.engine.orders import OrderStatus
from deepalpha.i18n import language, language_from_locale, say, set_language, t
from deepalpha.screens.host import Workstation
from deepalpha.screens.navigation import (
    BINDING_TEXT,
    SCREENS,
    app_bindings,
    next_speed,
    screen_class,
    speed_text,
)
from deepalpha.storage.errors import DatabaseError
from deepalpha.widgets.colours import set_convention

if TYPE_CHECKING:
    from deepalpha.screens.order_ticket import OrderTicket

ASSETS = Path(__file__).resolve().parents[1] / "assets"
THEMES = {"dark": "textual-dark", "light": "textual-light"}

TICKET = "order-ticket"  # the installed ticket screen's name

# Screens that need nothing but the market (and the preferences) to draw: the first frame may
# show them before the engine has started; every other screen waits for it.
QUICK_SCREENS = frozenset({"market", "help"})


def _lazy_screen(name: str) -> Callable[[], Screen[Any]]:
    """A mode's screen, its module imported when the mode is first shown: importing every
    screen (charts, tables, forms) would hold up the first frame."""

    def make() -> Screen[Any]:
        return screen_class(name)()

    return make


def _symbol_provider() -> Any:
    from deepalpha.app.commands import SymbolProvider  # noqa: PLC0415

    return SymbolProvider


class DeepAlphaApp(App[None]):
    TITLE = "DeepAlpha"
    CSS_PATH = str(ASSETS / "deepalpha.tcss")
    COMMANDS: ClassVar[set[Any]] = App.COMMANDS | {_symbol_provider}
    BINDINGS: ClassVar[list[BindingType]] = app_bindings()

    def __init__(
        self,
        backend: Backend,
        *,
        start_screen: str | None = None,
        keymap: dict[str, str] | None = None,
        start_backend: bool = True,
    ) -> None:
        self.backend = backend
        self._start_screen = start_screen
        self._keymap_override = keymap or {}
        self._start_backend = start_backend
        self.current_trader: str | None = None
        self.colours_setting = "auto"
        self._engine_ready = False
        self.start_error: Exception | None = None  # why the engine could not start
        self._ticket: OrderTicket | None = None  # the order ticket, built once, opened again
        # Keys typed between `b`/`s` and the ticket's first field taking focus, in order; None
        # while no ticket is opening (see ``on_event``).
        self._keys_for_ticket: list[events.Key] | None = None
        self._ticket_coming = False
        self._hold_id = 0
        super().__init__()
        self._modes = {name: _lazy_screen(name) for name in SCREENS}

    # --- start-up -----------------------------------------------------------------------
    async def on_mount(self) -> None:
        # The first frame comes before the engine's start: ``open`` readies the market and the
        # preferences in milliseconds; the database engine, the broker and the traders start
        # behind the screen (``_start_engine``).
        if self._start_backend:
            try:
                await self.backend.open()
            except (DatabaseError, DataDirBusy, SettingsError, RemoteError) as exc:
                self._cannot_start(exc)
                return
        await self._load_preferences()
        first = self._start_screen or self._last_screen
        if first not in QUICK_SCREENS:
            await self.engine_started()
        await self.switch_mode(first)
        self._listen()
        self._start_engine()
        self._warm_ticket()

    def _cannot_start(self, exc: Exception) -> None:
        """A database or data directory the engine cannot use is a person's problem, told in
        one line once the screen has closed (``start_error``), not a traceback."""
        self.start_error = exc
        self.exit(return_code=2)

    async def engine_started(self) -> None:
        """Wait until the whole engine runs (at once when it does); when it cannot start, the
        app closes with the reason and this never returns."""
        if self._start_backend:
            try:
                await self.backend.start()
            except (DatabaseError, DataDirBusy, SettingsError, RemoteError) as exc:
                self._cannot_start(exc)
                await asyncio.Event().wait()  # cancelled as the app closes
        if self.current_trader is None:
            traders = self.backend.traders()
            if traders:
                self.current_trader = traders[0].id
        if not self._engine_ready:
            # What exists now (modules, screens, the engine and its history) lives as long as
            # the app: out of the collector's full passes, which otherwise walk all of it and
            # stopped the screen for 100–200 ms every few seconds under a quote storm.
            gc.freeze()
        self._engine_ready = True

    @work(exclusive=True, group="engine-start")
    async def _start_engine(self) -> None:
        await self.engine_started()

    @work(group="warm-ticket")
    async def _warm_ticket(self) -> None:
        """Import the order ticket behind the first frame, so that the first `b` opens it at
        once instead of waiting for its modules."""
        await asyncio.sleep(0)  # after the first paint
        await asyncio.to_thread(importlib.import_module, "deepalpha.screens.order_ticket")

    async def _load_preferences(self) -> None:
        from deepalpha.app.first_settings import first_frame_settings  # noqa: PLC0415

        ui = first_frame_settings()  # language, colours, theme, keys: no pydantic yet
        backend = self.backend
        lang = await backend.get_preference("language", None) or ui.language
        set_language(language_from_locale() if lang == "auto" else lang)
        self.colours_setting = await backend.get_preference("colours", None) or ui.colours
        self._apply_colours()
        theme = await backend.get_preference("theme", None) or ui.theme
        self.theme = THEMES.get(theme, THEMES["dark"])
        self._last_screen = await backend.get_preference("last_screen", "market")
        if self._last_screen not in SCREENS:
            self._last_screen = "market"
        self.current_trader = await backend.get_preference("trader", None)
        keymap = {**ui.keys, **self._keymap_override}
        if keymap:
            self.set_keymap(keymap)
        self.localize_bindings()

    @work(exclusive=True, group="engine-events")
    async def _listen(self) -> None:
        """Toasts for fills, rejections, expiries, halts and engine notifications."""
        sub = self.backend.subscribe()
        try:
            while True:
                event = await sub.get()
                self._toast(event)
        finally:
            sub.close()

    def _toast(self, event: object) -> None:
        if isinstance(event, FillEvent):
            f = event.fill
            # Several traders fill side by side: the toast says whose fill it is (also for a
            # fill while the engine starts, before the trader views are ready).
            try:
                trader = self.backend.trader_config(f.trader_id).name
            except KeyError:
                trader = f.trader_id
            self.notify(
                t(
                    "toast.fill",
                    side=t(f"side.{f.side.value}"),
                    quantity=f.quantity,
                    symbol=f.symbol,
                    price=f.price,
                    trader=trader,
                ),
                title=t("toast.fill_title"),
                timeout=4,
            )
        elif isinstance(event, OrderEvent):
            o = event.order
            if o.status is OrderStatus.REJECTED and o.source != "strategy":
                code = o.reject_code.value if o.reject_code else "?"
                self.notify(
                    say(o.reject_reason or ""),
                    title=t("toast.rejected_title", code=code),
                    severity="error",
                    timeout=8,
                )
            elif o.status is OrderStatus.EXPIRED and o.source == "manual" and o.reject_code:
                self.notify(
                    say(o.reject_reason or ""),
                    title=t("toast.expired_title", code=o.reject_code.value),
                    severity="warning",
                    timeout=6,
                )
        elif isinstance(event, TraderHaltedEvent):
            self.notify(
                say(event.reason), title=t("toast.halted_title"), severity="error", timeout=10
            )
        elif isinstance(event, NotificationEvent):
            severity = (
                "error"
                if event.severity == "error"
                else ("warning" if event.severity == "warning" else "information")
            )
            self.notify(
                say(event.message),
                severity=severity,  # type: ignore[arg-type]
                title=t("toast.error_title") if severity == "error" else "",
            )

    # --- navigation and orders ----------------------------------------------------------
    async def action_goto(self, name: str) -> None:
        if name not in SCREENS:
            return
        if name not in QUICK_SCREENS:
            await self.engine_started()
        if self.current_mode != name:
            await self.switch_mode(name)
        self.save_preference("last_screen", name)

    def action_ticket(
        self, side: str, symbol: str | None = None, trader_id: str | None = None
    ) -> None:
        from deepalpha.screens.order_ticket import OrderTicket  # noqa: PLC0415

        if isinstance(self.screen, OrderTicket):
            return
        self._hold_keys_for_ticket(coming=True)
        symbol = symbol or getattr(self.screen, "selected_symbol", None)
        if not self._engine_ready:  # the ticket previews against the broker: after the start
            self._ticket_when_started(side, symbol, trader_id)
            return
        trader_id = trader_id or self.current_trader
        ticket = self._ticket
        traders = [(tr.name, tr.id) for tr in self.backend.traders()]
        if ticket is not None and ticket.is_mounted and ticket.fits(traders):
            ticket.reopen(side, symbol=symbol, trader_id=trader_id)
        else:
            if ticket is not None:
                self.uninstall_screen(ticket)
            ticket = self._ticket = OrderTicket(side, symbol=symbol, trader_id=trader_id)
            self.install_screen(ticket, TICKET)  # kept after it closes: opening again is cheap
        self.push_screen(TICKET)

    @work(exclusive=True, group="ticket")
    async def _ticket_when_started(
        self, side: str, symbol: str | None, trader_id: str | None
    ) -> None:
        await self.engine_started()
        self.action_ticket(side, symbol, trader_id)

    # --- keys typed ahead of the ticket -------------------------------------------------
    # `b` then `300` typed at once must put 300 in the ticket. Textual hands every key to the
    # focused widget first and runs the app's `b` binding only when the key comes back up, by
    # which time the keys typed after it have gone to the screen below (where digits sort the
    # positions) or nowhere. So from a `b`/`s` that will open a ticket, later keys are held at
    # the door and replayed, in order, once the ticket's first field has focus.
    HOLD_KEYS_SECONDS = 10.0  # a ticket that never opens gives the keys back after this
    NO_TICKET_SECONDS = 0.5  # a `b`/`s` that opened no ticket gives them back after this

    def _hold_keys_for_ticket(self, *, coming: bool) -> None:
        self._ticket_coming = self._ticket_coming or coming
        if self._keys_for_ticket is not None:
            return
        self._keys_for_ticket = []
        self._ticket_coming = coming
        self._hold_id += 1
        hold = self._hold_id
        self.set_timer(self.NO_TICKET_SECONDS, lambda: self._no_ticket(hold))
        self.set_timer(self.HOLD_KEYS_SECONDS, lambda: self._no_ticket(hold, at_all=True))

    def _no_ticket(self, hold: int, *, at_all: bool = False) -> None:
        if hold == self._hold_id and (at_all or not self._ticket_coming):
            self.release_keys()

    def release_keys(self) -> None:
        """The ticket has its first field focused (or none is coming): replay the held keys."""
        held, self._keys_for_ticket = self._keys_for_ticket, None
        self._ticket_coming = False
        for key in held or ():
            self.post_message(events.Key(key.key, key.character))

    def _opens_ticket(self, key: str) -> bool:
        """Whether this key, now, is a `b`/`s` that opens the ticket: not typed into a text
        field, not on a dialog."""
        from textual.widgets import Input, TextArea  # noqa: PLC0415

        if self.screen.is_modal or isinstance(self.focused, Input | TextArea):
            return False
        ticket_keys = {self.key_for("order.buy"), self.key_for("order.sell")}
        return any(key in keys.split(",") for keys in ticket_keys)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._keys_for_ticket is not None and not any(
                b.priority for b in self._bindings.key_to_bindings.get(event.key, ())
            ):
                self._keys_for_ticket.append(event)
                return
            if self._opens_ticket(event.key):
                self._hold_keys_for_ticket(coming=False)
        await super().on_event(event)

    # --- the simulated market's clock ---------------------------------------------------
    async def action_market_pause(self) -> None:
        """Hold the simulated market still, or let it run again."""
        if not await self._market_is_simulated():
            return
        paused = not self.backend.market_status().paused
        try:
            self.backend.pause_market(paused)
        except RemoteError as exc:  # attached to a server that is out of reach: say so
            self.notify(str(exc), severity="error")
            return
        self._paint_status()
        self.notify(t("market.paused" if paused else "market.resumed"), timeout=2)

    async def action_market_speed(self, step: int) -> None:
        """One step down (``step`` < 0) or up the speed ladder."""
        if not await self._market_is_simulated():
            return
        current = self.backend.market_status().speed
        speed = next_speed(current, step)
        if speed is None:
            self.bell()
            key = "market.slowest" if step < 0 else "market.fastest"
            self.notify(t(key, speed=speed_text(current)), timeout=2)
            return
        await self.set_market_speed(speed)

    async def set_market_speed(self, speed: float) -> None:
        try:
            await self.backend.set_market_speed(speed)
        except RemoteError as exc:
            self.notify(str(exc), severity="error")
            return
        self._paint_status()
        self.notify(t("market.speed_set", speed=speed_text(speed)), timeout=2)

    async def _market_is_simulated(self) -> bool:
        """Speed and pause belong to the simulated market; a replay or a real feed runs at the
        pace of its data, and the person is told so rather than left wondering."""
        await self.engine_started()  # the engine's market, not the first frame's twin
        status = self.backend.market_status()
        if not status.simulated:
            self.bell()
            self.notify(t("market.not_simulated", label=status.label), severity="warning")
        return status.simulated

    def key_for(self, binding_id: str) -> str:
        """The keys of an app binding as they are in force (after any remapping)."""
        keymap: dict[str, str] = dict(getattr(self, "_keymap", {}) or {})
        if binding_id in keymap:
            return keymap[binding_id]
        found = (b for b in Binding.make_bindings(self.BINDINGS) if b.id == binding_id)
        return next(found).key

    def _paint_status(self) -> None:
        """The status bars in view say the new speed or pause at once, not at their next tick."""
        from deepalpha.widgets.status_bar import StatusBar  # noqa: PLC0415

        status = self.backend.market_status()
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.show(status)

    @work(group="preferences")
    async def save_preference(self, key: str, value: Any) -> None:
        await self.backend.set_preference(key, value)

    # --- language, theme, colours -------------------------------------------------------
    def localize_bindings(self) -> None:
        """Footer texts in the current language (binding descriptions come from the
        catalogue, keyed by binding id)."""
        nodes: list[Any] = [self, *self.screen_stack]
        nodes += [s for s in getattr(self, "_screens", {}).values() if isinstance(s, Screen)]
        from deepalpha.screens.base import localize_bindings  # noqa: PLC0415

        for node in nodes:
            localize_bindings(node, BINDING_TEXT)
        self.refresh_bindings()

    def _apply_colours(self) -> None:
        """``auto`` follows the language: red up in Chinese, green up otherwise."""
        name = self.colours_setting
        if name == "auto":
            name = "cn" if language() == "zh" else "western"
        set_convention(name)

    async def set_language(self, lang: str) -> None:
        set_language(lang)
        self._apply_colours()
        self.localize_bindings()
        # The screens shown now relabel at once; the other modes' screens when shown again.
        for screen in self.screen_stack:
            relabel = getattr(screen, "follow_language", None) or getattr(screen, "relabel", None)
            if relabel is not None:
                relabel()
        await self.backend.set_preference("language", lang)

    async def set_theme_name(self, name: str) -> None:
        self.theme = THEMES[name]
        await self.backend.set_preference("theme", name)

    async def set_colours(self, name: str) -> None:
        self.colours_setting = name
        self._apply_colours()
        await self.backend.set_preference("colours", name)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # The workstation's own commands come first; Textual's (theme, keys, quit) after.
        from deepalpha.app.commands import workstation_commands  # noqa: PLC0415

        yield from workstation_commands(self)
        yield from super().get_system_commands(screen)

    async def on_unmount(self) -> None:
        if self._engine_ready:
            gc.unfreeze()  # collectable again once the app is gone (tests run many apps)
        if self._start_backend:
            with contextlib.suppress(asyncio.CancelledError):
                await self.backend.stop()


# The screens see the app through this protocol (importing the app would be a circle): the type
# checker makes sure the app fits it.
_FITS_THE_SCREENS: type[Workstation] = DeepAlphaApp


def make_app(backend: Backend, **kwargs: Any) -> DeepAlphaApp:
    """The one place the workstation is built, for the CLI and for the tests."""
    return DeepAlphaApp(backend, **kwargs)
