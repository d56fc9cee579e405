"""The workstation's screens and the keys that work on every one of them: a screen's name, its
function key and its class; the app's own bindings (go to a screen, the ticket, the simulated
market's clock, quit, the palette) and the catalogue keys of their texts; the speed ladder.

The app builds its modes and bindings from here, and the screens read the same (the nav bar,
the help screen, the settings): it lives beside the screens so that none of them has to import
the app that shows them.
"""

from __future__ import annotations

import importlib
from typing import Any

from textual.binding import Binding, BindingType
from textual.screen import Screen

from deepalpha.i18n import t

SCREENS = (
    "dashboard",
    "market",
    "orders",
    "positions",
    "traders",
    "backtest",
    "backups",
    "settings",
    "decisions",
    "help",
)
SCREEN_KEYS = {
    "help": "f1",
    "dashboard": "f2",
    "market": "f3",
    "orders": "f4",
    "positions": "f5",
    "traders": "f6",
    "backtest": "f7",
    "backups": "f8",
    "settings": "f9",
    "decisions": "f10",
}
# Module and class of each screen, imported when first needed: importing every screen (charts,
# tables, forms) would hold up the first frame.
SCREEN_CLASSES = {
    "dashboard": ("deepalpha.screens.dashboard", "DashboardScreen"),
    "market": ("deepalpha.screens.market", "MarketScreen"),
    "orders": ("deepalpha.screens.orders", "OrdersScreen"),
    "positions": ("deepalpha.screens.positions", "PositionsScreen"),
    "traders": ("deepalpha.screens.traders", "TradersScreen"),
    "backtest": ("deepalpha.screens.backtest", "BacktestScreen"),
    "backups": ("deepalpha.screens.backups", "BackupsScreen"),
    "settings": ("deepalpha.screens.settings", "SettingsScreen"),
    "decisions": ("deepalpha.screens.decisions", "DecisionsScreen"),
    "help": ("deepalpha.screens.help", "HelpScreen"),
}


def screen_class(name: str) -> type[Screen[Any]]:
    """The class of the screen called ``name``, its module imported now if it was not yet."""
    module, cls = SCREEN_CLASSES[name]
    found: type[Screen[Any]] = getattr(importlib.import_module(module), cls)
    return found


def app_bindings() -> list[BindingType]:
    """The bindings of the app itself, in force on every screen."""
    out: list[BindingType] = [
        Binding(
            SCREEN_KEYS[name],
            f"goto('{name}')",
            t(f"screen.{name}"),
            id=f"screen.{name}",
            show=False,  # the nav bar under the status bar shows every screen and its key
        )
        for name in SCREENS
    ]
    out += [
        Binding("b", "ticket('buy')", t("key.buy"), id="order.buy"),
        Binding("s", "ticket('sell')", t("key.sell"), id="order.sell"),
        # The simulator's clock. Not in the footer, which keeps its room for each screen's own
        # keys: the status bar shows the speed and the pause, Help and Settings the keys.
        Binding("P", "market_pause", t("key.market_pause"), id="market.pause", show=False),
        Binding(
            "left_square_bracket",
            "market_speed(-1)",
            t("key.slower"),
            id="market.slower",
            show=False,
        ),
        Binding(
            "right_square_bracket",
            "market_speed(1)",
            t("key.faster"),
            id="market.faster",
            show=False,
        ),
        Binding("ctrl+q", "quit", t("key.quit"), id="app.quit", priority=True, show=False),
        # Declared here (Textual adds its own otherwise) so its footer text has an id to be
        # said in the current language by.
        Binding(
            "ctrl+p",
            "command_palette",
            t("key.palette"),
            id="app.palette",
            show=False,
            priority=True,
            tooltip=t("key.palette"),
        ),
    ]
    return out


# Binding id → catalogue key of its description (see ``screens.base.localize_bindings``).
BINDING_TEXT = {f"screen.{name}": f"screen.{name}" for name in SCREENS} | {
    "order.buy": "key.buy",
    "order.sell": "key.sell",
    "market.pause": "key.market_pause",
    "market.slower": "key.slower",
    "market.faster": "key.faster",
    "app.quit": "key.quit",
    "app.palette": "key.palette",
}
# The simulator's speeds (simulated seconds per real second) that `[` and `]` step through.
SPEEDS = (1, 2, 5, 10, 30, 60, 120, 300, 600)


def next_speed(current: float, step: int) -> float | None:
    """The ladder's next speed above (``step`` > 0) or below ``current``; None at the end. A
    speed off the ladder (``--speed 36``) steps to its nearest neighbour on that side."""
    if step > 0:
        return next((float(s) for s in SPEEDS if s > current), None)
    return next((float(s) for s in reversed(SPEEDS) if s < current), None)


def speed_text(speed: float) -> str:
    """``60×``, ``0.5×``."""
    return f"{speed:g}×"
