"""What the screens and the command palette ask of the app they run in, and nothing more.

The app (``app.tui.DeepAlphaApp``) shows the screens, so the screens cannot import it without
an import circle; they see it through this protocol instead (a ``TYPE_CHECKING`` import would
still be a circle to the import contracts). The app's module checks that it fits.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from textual.app import App

from deepalpha.app.backend import Backend


class Workstation(Protocol):
    """The workstation app, as its screens see it."""

    @property
    def backend(self) -> Backend: ...

    current_trader: str | None  # the trader the ticket and the dashboard start from

    def action_ticket(
        self, side: str, symbol: str | None = None, trader_id: str | None = None
    ) -> None: ...

    def release_keys(self) -> None: ...

    def key_for(self, binding_id: str) -> str: ...

    async def action_goto(self, name: str) -> None: ...

    async def action_market_pause(self) -> None: ...

    async def set_market_speed(self, speed: float) -> None: ...

    async def set_language(self, lang: str) -> None: ...

    async def set_theme_name(self, name: str) -> None: ...

    async def set_colours(self, name: str) -> None: ...

    def save_preference(self, key: str, value: Any) -> object: ...


def workstation(app: App[Any]) -> Workstation:
    """The app a screen runs in, as the workstation. Only the workstation app shows these
    screens; no check here, as this is asked on every repaint (a protocol ``isinstance`` costs
    ~20 µs)."""
    return cast("Workstation", app)
