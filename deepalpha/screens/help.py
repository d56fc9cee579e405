"""The help screen: every key of the workstation, where it works, and its binding id.

The list is read from the bindings themselves (the app's, each screen's, the order ticket's
and the forms'), so it cannot drift from what the keys do. Keys shown are the ones in force,
after any remapping in the data directory's settings.toml (``[ui.keys]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from deepalpha.app.paths import settings_file
from deepalpha.i18n import language, t
from deepalpha.screens.base import BaseScreen, BindingText, describe
from deepalpha.screens.navigation import BINDING_TEXT, SCREENS, app_bindings, screen_class


def _own_bindings(cls: type) -> list[Binding]:
    """The bindings a DeepAlpha class declares (its own and its DeepAlpha bases'), not the
    ones Textual's widgets bring (focus movement, scrolling)."""
    found: list[BindingType] = []
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("deepalpha") and "BINDINGS" in klass.__dict__:
            found += list(klass.__dict__["BINDINGS"])
    return list(Binding.make_bindings(found))


def binding_texts() -> dict[str, BindingText]:
    """Binding id → catalogue key of its description, for every binding of the workstation."""
    from deepalpha.screens import (  # noqa: PLC0415
        backtest,
        backups,
        confirm,
        decisions,
        market,
        order_ticket,
        orders,
        positions,
        traders,
    )
    from deepalpha.widgets import order_blotter, quote_board  # noqa: PLC0415

    return {
        **BINDING_TEXT,
        **market.MARKET_BINDING_TEXT,
        **quote_board.BINDING_TEXT,
        **orders.BINDING_TEXT,
        **order_blotter.BINDING_TEXT,
        **positions.BINDING_TEXT,
        **traders.BINDING_TEXT,
        **backtest.BINDING_TEXT,
        **backups.BINDING_TEXT,
        **decisions.BINDING_TEXT,
        **order_ticket.BINDING_TEXT,
        **confirm.BINDING_TEXT,
    }


def binding_groups() -> list[tuple[str, list[Binding]]]:
    """(where, bindings) for the app, each screen, the order ticket and the modal forms."""
    from deepalpha.screens.confirm import ConfirmScreen  # noqa: PLC0415
    from deepalpha.screens.decisions import QuantityForm  # noqa: PLC0415
    from deepalpha.screens.order_ticket import OrderTicket  # noqa: PLC0415
    from deepalpha.screens.orders import ColumnChooser  # noqa: PLC0415
    from deepalpha.screens.traders import TraderForm  # noqa: PLC0415

    groups: list[tuple[str, list[Binding]]] = [
        (t("help.everywhere"), list(Binding.make_bindings(app_bindings())))
    ]
    for name in SCREENS:
        groups.append((t(f"screen.{name}"), _own_bindings(screen_class(name))))
    groups.append((t("help.ticket"), _own_bindings(OrderTicket)))
    groups.append((t("help.trader_form"), _own_bindings(TraderForm)))
    groups.append((t("help.quantity_form"), _own_bindings(QuantityForm)))
    groups.append((t("help.column_chooser"), _own_bindings(ColumnChooser)))
    groups.append((t("help.confirm"), _own_bindings(ConfirmScreen)))
    return [(where, items) for where, items in groups if items]


KEY_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "space": "Space",
    "escape": "Esc",
    "enter": "Enter",
    "tab": "Tab",
    "delete": "Del",
    "backspace": "Backspace",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
}


def key_text(keys: str) -> str:
    """``ctrl+q`` → ``Ctrl+Q``, ``f1`` → ``F1``, ``space,r`` → ``Space / r``."""
    out = []
    for one in keys.split(","):
        *mods, last = one.strip().split("+")
        name = KEY_NAMES.get(last)
        if name is None:
            if len(last) == 1:
                name = last.upper() if mods else last
            elif last[0] == "f" and last[1:].isdigit():
                name = last.upper()
            else:
                name = last.capitalize()
        out.append("+".join([*(m.capitalize() for m in mods), name]))
    return " / ".join(out)


class HelpScreen(BaseScreen):
    TITLE_KEY = "screen.help"
    REFRESH_SECONDS = 1.0
    BINDINGS: ClassVar[list[BindingType]] = []
    DEFAULT_CSS = """
    HelpScreen #help-note { height: auto; padding: 0 1; }
    HelpScreen #help-table { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._lang = language()
        self.binding_ids: list[str] = []

    def body(self) -> ComposeResult:
        yield Static(t("screen.help"), classes="title", id="help-title")
        yield Static("", id="help-note", classes="muted", markup=False)
        yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._fill()

    def on_screen_resume(self) -> None:
        if self._lang != language():
            self.relabel()
        super().on_screen_resume()

    def relabel(self) -> None:
        self._lang = language()
        self.query_one("#help-title", Static).update(t("screen.help"))
        self._fill()

    def refresh_data(self) -> None:
        """The keys do not change while the screen is shown."""

    def _rows(self) -> Iterable[tuple[Any, ...]]:
        keymap: dict[str, str] = dict(getattr(self.app, "_keymap", {}) or {})
        texts = binding_texts()
        for where, bindings in binding_groups():
            first = True
            for b in bindings:
                keys = keymap.get(b.id, b.key) if b.id else b.key
                # Never the action itself (``sort_by(0)``): a binding without a text in the
                # catalogue shows a dash, and the tests make sure there is none.
                what = describe(texts[b.id]) if b.id in texts else t("common.none")
                remapped = b.id is not None and b.id in keymap
                yield (
                    Text(where, style="bold") if first else "",
                    Text(key_text(keys), style="bold cyan" if remapped else "bold"),
                    what,
                    Text(b.id or "—", style="dim"),
                    b.id,
                )
                first = False

    def _fill(self) -> None:
        self.query_one("#help-note", Static).update(
            t("help.remap", file=str(settings_file(self.backend.data_dir)))
        )
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for col in ("where", "keys", "what", "id"):
            table.add_column(t(f"help.c_{col}"), key=col)
        self.binding_ids = []
        for *cells, binding_id in self._rows():
            table.add_row(*cells)
            if binding_id:
                self.binding_ids.append(binding_id)
