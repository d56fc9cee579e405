"""The orders screen: every order in a blotter, filtered by trader, status and symbol; cancel one
or all.

Keys: ``t`` cycles the trader, ``f`` the status group, ``/`` types a symbol filter (Enter keeps
it, Escape clears it), ``c`` cancels the selected order, ``C`` or ``x`` cancels every open order
of the trader in the filter (or of everyone) after a confirmation.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, SelectionList, Static

from deepalpha.engine.markets.sessions import SHANGHAI
from deepalpha.engine.orders import Order
from deepalpha.i18n import language, money, say, t
from deepalpha.screens.base import BaseScreen, localize_bindings
from deepalpha.screens.confirm import ConfirmScreen
from deepalpha.widgets.order_blotter import OPTIONAL_COLUMNS, STATUS_GROUPS, OrderBlotter

BINDING_TEXT = {
    "orders.trader": "orders.key.trader",
    "orders.status": "orders.key.status",
    "orders.symbol": "orders.key.symbol",
    "orders.cancel": "orders.key.cancel",
    "orders.cancel_all": "orders.key.cancel_all",
    "orders.clear": "orders.key.clear",
    "orders.columns": "orders.key.columns",
    "columns.keep": "orders.key.keep_columns",
    "columns.cancel": "common.cancel",
}


COLUMNS_PREF = "orders.hidden_columns"


class ColumnChooser(ModalScreen[frozenset[str] | None]):
    """Which optional blotter columns to show; space toggles, Enter keeps, Escape cancels."""

    DEFAULT_CSS = """
    ColumnChooser { align: center middle; }
    ColumnChooser > Vertical {
        width: 40; height: auto; border: thick $primary; background: $surface; padding: 0 1;
    }
    ColumnChooser SelectionList { height: auto; max-height: 12; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "keep", show=False, id="columns.keep", priority=True),
        Binding("escape", "dismiss(None)", show=False, id="columns.cancel"),
    ]

    def __init__(self, hidden: frozenset[str]) -> None:
        super().__init__()
        self.hidden = hidden

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("orders.columns_title"), classes="title")
            yield SelectionList[str](
                *[(t(f"orders.col.{key}"), key, key not in self.hidden) for key in OPTIONAL_COLUMNS]
            )

    def action_keep(self) -> None:
        shown = set(self.query_one(SelectionList).selected)
        self.dismiss(frozenset(k for k in OPTIONAL_COLUMNS if k not in shown))


class OrdersScreen(BaseScreen):
    TITLE_KEY = "screen.orders"
    REFRESH_SECONDS = 0.25
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "cycle_trader", t("orders.key.trader"), id="orders.trader"),
        Binding("f", "cycle_status", t("orders.key.status"), id="orders.status"),
        Binding(
            "slash", "symbol_filter", t("orders.key.symbol"), key_display="/", id="orders.symbol"
        ),
        Binding("c", "cancel_selected", t("orders.key.cancel"), id="orders.cancel"),
        Binding("C,x", "cancel_all", t("orders.key.cancel_all"), id="orders.cancel_all"),
        Binding("escape", "clear_symbol", t("orders.key.clear"), show=False, id="orders.clear"),
        Binding("k", "choose_columns", t("orders.key.columns"), id="orders.columns"),
    ]
    DEFAULT_CSS = """
    OrdersScreen #orders-filter { height: 1; padding: 0 1; background: $boost; }
    OrdersScreen #orders-detail { height: 1; padding: 0 1; }
    OrdersScreen #orders-symbol { display: none; height: 3; }
    OrdersScreen #orders-symbol.shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._lang = language()

    def body(self) -> ComposeResult:
        yield Static("", id="orders-filter")
        yield OrderBlotter(id="orders-blotter")
        yield Input(placeholder=t("orders.symbol_prompt"), id="orders-symbol")
        yield Static("", id="orders-detail", classes="muted")

    @property
    def blotter(self) -> OrderBlotter:
        return self.query_one(OrderBlotter)

    @property
    def selected_symbol(self) -> str | None:
        """The symbol of the selected order (the ticket opens on it)."""
        order = self.blotter.selected_order
        return order.symbol if order is not None else None

    def on_mount(self) -> None:
        super().on_mount()
        localize_bindings(self, BINDING_TEXT)
        blotter = self.blotter
        blotter.set_orders(self.backend.orders())
        self._names()
        blotter.focus()
        self._load_columns()

    @work(group="orders-columns")
    async def _load_columns(self) -> None:
        hidden = await self.backend.get_preference(COLUMNS_PREF, [])
        if isinstance(hidden, list):
            self.blotter.set_hidden_columns(frozenset(str(h) for h in hidden))

    def action_choose_columns(self) -> None:
        async def chosen(hidden: frozenset[str] | None) -> None:
            if hidden is None:
                return
            self.blotter.set_hidden_columns(hidden)
            await self.backend.set_preference(COLUMNS_PREF, sorted(hidden))

        self.app.push_screen(ColumnChooser(self.blotter.hidden_columns), chosen)

    def on_screen_resume(self) -> None:
        if self._lang != language():
            self.relabel()
        super().on_screen_resume()

    def relabel(self) -> None:
        self._lang = language()
        localize_bindings(self, BINDING_TEXT)
        self.refresh_bindings()
        self.query_one("#orders-symbol", Input).placeholder = t("orders.symbol_prompt")
        self.blotter.clear_cache()
        self.blotter.refresh()
        self.refresh_data()

    def _names(self) -> None:
        names = {tv.id: tv.name for tv in self.backend.traders()}
        if names != self.blotter.trader_names:
            self.blotter.trader_names = names

    # --- repaint ------------------------------------------------------------------------
    def refresh_data(self) -> None:
        blotter = self.blotter
        blotter.today = self.backend.market_status().time.astimezone(SHANGHAI).date()
        blotter.refresh_from(self.backend.orders())
        self._summary()
        self._detail(blotter.selected_order)

    def _summary(self) -> None:
        b = self.blotter
        trader = b.trader_names.get(b.trader_id, b.trader_id) if b.trader_id else None
        text = t(
            "orders.filter",
            trader=trader or t("common.all"),
            status=t(f"orders.group.{b.status_group}"),
            symbol=b.symbol_filter or t("common.none"),
        )
        text += "   " + t(
            "orders.summary",
            shown=f"{b.row_count:,}",
            total=f"{b.total_count:,}",
            open=len(b.open_orders(b.trader_id)),
        )
        self.query_one("#orders-filter", Static).update(text)

    def _detail(self, order: Order | None) -> None:
        if order is None:
            line = t("orders.no_selection")
        else:
            currency = "HKD" if order.symbol.endswith(".HK") else "CNY"
            created = order.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
            line = t(
                "orders.detail",
                id=order.id,
                source=order.source,
                created=created,
                fees=money(order.fees.total, currency),
            )
            if order.reject_reason:
                line += " · " + say(order.reject_reason)
        self.query_one("#orders-detail", Static).update(line)

    @on(OrderBlotter.SelectionChanged)
    def _selection(self, event: OrderBlotter.SelectionChanged) -> None:
        self._detail(event.order)

    # --- filters ------------------------------------------------------------------------
    def action_cycle_trader(self) -> None:
        self._names()
        choices: list[str | None] = [None, *self.blotter.trader_names]
        current = self.blotter.trader_id
        i = choices.index(current) if current in choices else 0
        self.blotter.set_filter(trader_id=choices[(i + 1) % len(choices)])
        self._summary()

    def action_cycle_status(self) -> None:
        i = STATUS_GROUPS.index(self.blotter.status_group)
        self.blotter.set_filter(status_group=STATUS_GROUPS[(i + 1) % len(STATUS_GROUPS)])
        self._summary()

    def action_symbol_filter(self) -> None:
        box = self.query_one("#orders-symbol", Input)
        box.add_class("shown")
        box.value = self.blotter.symbol_filter
        box.focus()

    @on(Input.Changed, "#orders-symbol")
    def _symbol_typed(self, event: Input.Changed) -> None:
        if event.input.has_class("shown"):
            self.blotter.set_filter(symbol=event.value)
            self._summary()

    @on(Input.Submitted, "#orders-symbol")
    def _symbol_kept(self) -> None:
        self._close_symbol_box()

    def action_clear_symbol(self) -> None:
        self._close_symbol_box()
        if self.blotter.symbol_filter:
            self.blotter.set_filter(symbol="")
            self._summary()

    def _close_symbol_box(self) -> None:
        box = self.query_one("#orders-symbol", Input)
        box.remove_class("shown")
        self.blotter.focus()

    # --- cancelling ---------------------------------------------------------------------
    def action_cancel_selected(self) -> None:
        order = self.blotter.selected_order
        if order is None:
            self.notify(t("orders.no_selection"), severity="warning")
            return
        if not order.status.is_open:
            self.notify(
                t("orders.not_open", id=order.id, status=t(f"status.{order.status.value}")),
                severity="warning",
            )
            return
        self._cancel_one(order.id)

    @work(group="orders-cancel")
    async def _cancel_one(self, order_id: str) -> None:
        try:
            await self.backend.cancel_order(order_id)
        except Exception as exc:  # gone or filled meanwhile: say so, keep the screen
            self.notify(t("orders.cancel_failed", error=say(str(exc))), severity="error")
        else:
            self.notify(t("toast.cancelled", count=1))
        self.refresh_data()

    @work(group="orders-cancel")
    async def action_cancel_all(self) -> None:
        trader = self.blotter.trader_id
        self.blotter.refresh_from(self.backend.orders())
        count = len(self.blotter.open_orders(trader))
        if not count:
            self.notify(t("orders.none_open"), severity="warning")
            return
        if trader is None:
            question = t("confirm.cancel_all", count=count)
        else:
            name = self.blotter.trader_names.get(trader, trader)
            question = t("orders.cancel_all_of", count=count, trader=name)
        if not await self.app.push_screen_wait(ConfirmScreen(question)):
            return
        try:
            cancelled = await self.backend.cancel_all(trader)
        except Exception as exc:
            self.notify(t("orders.cancel_failed", error=say(str(exc))), severity="error")
        else:
            self.notify(t("toast.cancelled", count=len(cancelled)))
        self.refresh_data()
