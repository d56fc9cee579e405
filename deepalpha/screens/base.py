"""What every screen shares: the status bar on top, the footer with keys below, access to the
backend, and a repaint timer that runs only while the screen is shown."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from deepalpha.app.backend import Backend
from deepalpha.i18n import Msg, language, say, t
from deepalpha.screens.host import Workstation, workstation
from deepalpha.screens.navigation import SCREEN_KEYS, SCREENS
from deepalpha.widgets.nav_bar import NavBar
from deepalpha.widgets.status_bar import StatusBar

BEHIND_DIALOG_SECONDS = 1.0  # a screen behind a dialog repaints this often

# What a binding does: a catalogue key, or a Msg where the text has parameters ("Sort by
# Last") whose own texts come from the catalogue too.
BindingText = str | Msg


def describe(text: BindingText) -> str:
    """A binding's description in the current language."""
    return say(text) if isinstance(text, Msg) else t(text)


def localize_bindings(node: Any, texts: Mapping[str, BindingText]) -> None:
    """Footer texts of a node's own bindings in the current language: ``texts`` maps a binding
    id to its catalogue key (Textual has no public setter for binding descriptions)."""
    bindings = node._bindings.key_to_bindings
    for key, items in bindings.items():
        bindings[key] = [
            dataclasses.replace(b, description=describe(texts[b.id])) if b.id in texts else b
            for b in items
        ]


class BaseScreen(Screen[None]):
    """A workstation screen. Subclasses compose ``body()`` and repaint in ``refresh_data()``."""

    TITLE_KEY: ClassVar[str] = "app.title"
    REFRESH_SECONDS: ClassVar[float] = 0.5

    @property
    def backend(self) -> Backend:
        return self.deepalpha.backend

    @property
    def deepalpha(self) -> Workstation:
        return workstation(self.app)

    SCREEN_NAME: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        # The language the labels were drawn in: Textual modes keep a screen alive while
        # another is shown, so one built before a language change relabels when shown again.
        self._lang = language()

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield NavBar(id="nav-bar")
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self._behind_at = 0.0  # when it last repainted behind a dialog (monotonic seconds)
        self._timer = self.set_interval(self.REFRESH_SECONDS, self._tick, pause=True)

    def on_screen_resume(self) -> None:
        self.follow_language()
        self._tick()
        self._timer.resume()

    def on_screen_suspend(self) -> None:
        # Under a dialog (order ticket, confirmation) the screen stays in view behind it: its
        # clock, sessions and countdowns keep going. Only a screen out of view stops.
        if not self.is_current:  # is_current: on top, or in view behind a dialog
            self._timer.pause()

    def _tick(self) -> None:
        if not self.is_current:  # switched away while a dialog was on top of it
            self._timer.pause()
            return
        if self.app.screen is not self:
            # Behind a dialog once a second is enough for a clock and a countdown; each repaint
            # here also re-renders the dialog's dimmed background, which at 10 Hz held up the
            # dialog itself (the ticket's first frame, the keys typed into it).
            now = time.monotonic()
            if now - self._behind_at < BEHIND_DIALOG_SECONDS:
                return
            self._behind_at = now
        self.query_one(StatusBar).show(self.backend.market_status())
        self._show_nav()
        self.refresh_data()

    def _show_nav(self) -> None:
        order = [*SCREENS[:-1], SCREENS[-1]]
        current = self.SCREEN_NAME or getattr(self.app, "current_mode", "")
        self.query_one(NavBar).show(current, [(n, SCREEN_KEYS[n]) for n in order])

    def refresh_data(self) -> None:
        """Repaint from the backend; called on a timer while the screen is shown."""

    def follow_language(self) -> None:
        """Relabel when the language changed since the labels were drawn."""
        if self._lang != language():
            self._lang = language()
            self.relabel()

    def relabel(self) -> None:
        """Re-render labels after a language change."""
        self._show_nav()
        self.refresh_data()
