"""The order ticket: `b` buy / `s` sell from anywhere (SPEC §6).

Side, symbol (searched as you type), quantity with the board-lot hint and, on a sell, what is
sellable today; market or limit with the price pre-filled from the touch and stepped by the tick;
the trader account; a live estimate from ``Backend.preview_order`` — the same checks the broker
runs, so a problem (``LOT_SIZE``, ``PRICE_LIMIT``, ``T_PLUS_ONE``…) shows before anything is
sent. Enter reviews the order in a confirmation; only a confirmed order is placed.

Toasts: a fill and a rejection are toasted once, by the app's engine-event listener
(``DeepAlphaApp._toast``); the ticket toasts only an order that was placed and left open, and
keeps itself open on a rejection so the order can be fixed.
"""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from deepalpha.app.backend import Backend, OrderPreview
from deepalpha.engine.markets.fees import FEE_ITEMS
from deepalpha.engine.markets.instruments import Board, Instrument
from deepalpha.engine.orders import Order, OrderRequest, OrderStatus, OrderType, Side
from deepalpha.i18n import count, language, money, price_text, say, t
from deepalpha.screens.base import localize_bindings
from deepalpha.screens.confirm import ConfirmScreen
from deepalpha.screens.host import Workstation, workstation
from deepalpha.widgets.colours import down_colour, up_colour
from deepalpha.widgets.status_bar import StatusBar

SEARCH_DELAY = 0.15  # seconds of quiet typing before the symbol search runs
REFRESH_SECONDS = 1.0  # the estimate follows the market while the ticket is open
SUGGESTIONS = 6
# Binding id → catalogue key of its footer text (descriptions are said in the current language).
BINDING_TEXT = {
    "ticket.close": "ticket.key.close",
    "ticket.review": "ticket.key.review",
    "ticket.lot_up": "ticket.key.lot_up",
    "ticket.lot_down": "ticket.key.lot_down",
    "ticket.tick_up": "ticket.key.tick_up",
    "ticket.tick_down": "ticket.key.tick_down",
    "ticket.review_ctrl": "ticket.key.review",
    "ticket.buy": "side.buy",
    "ticket.sell": "side.sell",
    "ticket.suggest_up": "ticket.key.previous_match",
    "ticket.suggest_down": "ticket.key.next_match",
    "choice.left": "ticket.key.previous_choice",
    "choice.right": "ticket.key.next_choice",
}


class Choice(Static, can_focus=True):
    """One of a few values, chosen with ←/→ or space: ``[ Buy ]  Sell``."""

    DEFAULT_CSS = """
    Choice { width: auto; height: 1; padding: 0 1; }
    Choice:focus { background: $accent 30%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", show=False, id="choice.left"),
        Binding("right,space", "move(1)", show=False, id="choice.right"),
    ]

    value: reactive[str] = reactive("", init=False)

    class Changed(Message):
        def __init__(self, choice: Choice, value: str) -> None:
            super().__init__()
            self.choice = choice
            self.value = value

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(
        self, options: list[tuple[str, str]], value: str, *, id: str | None = None
    ) -> None:
        """``options``: (value, catalogue key of its label)."""
        super().__init__(id=id)
        self.options = options
        self.set_reactive(Choice.value, value)
        self.styles_for: dict[str, str] = {}

    def render(self) -> Text:
        out = Text()
        for i, (value, key) in enumerate(self.options):
            if i:
                out.append("  ")
            label = t(key)
            if value == self.value:
                style = f"bold reverse {self.styles_for.get(value, '')}".strip()
                out.append(f" ● {label} ", style=style)
            else:
                out.append(f" ○ {label} ", style="dim")
        return out

    def action_move(self, step: int) -> None:
        values = [v for v, _ in self.options]
        self.value = values[(values.index(self.value) + step) % len(values)]

    def watch_value(self, value: str) -> None:
        self.post_message(self.Changed(self, value))


class SymbolInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "screen.suggestion(1)", show=False, id="ticket.suggest_down"),
        Binding("up", "screen.suggestion(-1)", show=False, id="ticket.suggest_up"),
    ]


class QuantityInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "screen.step_quantity(1)", t("ticket.key.lot_up"), id="ticket.lot_up"),
        Binding("down", "screen.step_quantity(-1)", t("ticket.key.lot_down"), id="ticket.lot_down"),
    ]


class PriceInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "screen.step_price(1)", t("ticket.key.tick_up"), id="ticket.tick_up"),
        Binding("down", "screen.step_price(-1)", t("ticket.key.tick_down"), id="ticket.tick_down"),
    ]


class Suggestions(OptionList, can_focus=False):
    """The symbol search results; driven from the symbol field (↑/↓, Enter)."""


class OrderTicket(ModalScreen[Order | None]):
    DEFAULT_CSS = """
    OrderTicket { align: center middle; background: $background; }
    OrderTicket #status-bar { dock: top; }
    OrderTicket #ticket {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; border-title-style: bold; background: $surface;
        padding: 0 1;
    }
    OrderTicket #ticket.-buy { border: round $error; }
    OrderTicket #ticket.-sell { border: round $success; }
    OrderTicket .row { height: 1; width: 100%; }
    OrderTicket .label { width: 11; color: $text-muted; }
    OrderTicket .keys { width: auto; color: $text-muted; padding-left: 1; }
    OrderTicket Input { width: 1fr; }
    OrderTicket #quantity { width: 16; }
    OrderTicket #price { width: 16; }
    OrderTicket Select { width: 40; }
    OrderTicket .info { padding-left: 11; color: $text-muted; height: auto; }
    OrderTicket #suggestions {
        height: auto; max-height: 8; margin-left: 11; border: none; padding: 0;
        background: $boost;
    }
    OrderTicket #suggestions.-empty { display: none; }
    OrderTicket #suggestions > .option-list--option-highlighted {
        background: $accent; color: $text; text-style: bold;
    }
    OrderTicket #estimate {
        height: auto; border-top: solid $primary 40%;
    }
    OrderTicket #problem { height: auto; }
    OrderTicket #help { color: $text-muted; height: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", t("ticket.key.close"), id="ticket.close"),
        Binding("enter", "review", t("ticket.key.review"), id="ticket.review"),
        Binding("ctrl+enter", "review", show=False, id="ticket.review_ctrl"),
        Binding("b", "side('buy')", t("side.buy"), show=False, id="ticket.buy"),
        Binding("s", "side('sell')", t("side.sell"), show=False, id="ticket.sell"),
    ]

    def __init__(
        self, side: str, *, symbol: str | None = None, trader_id: str | None = None
    ) -> None:
        super().__init__()
        self._unmatched: str | None = None
        self.side = Side(side)
        self.symbol = symbol
        self.trader_id = trader_id
        self.instrument: Instrument | None = None
        self.preview: OrderPreview | None = None
        self._missing: str | None = None  # what the ticket still needs before a preview counts
        self._rejection: Order | None = None  # the last send, when the broker refused it
        self._sending = False
        self._prefilled: str | None = None  # the price we filled in, until the user edits it
        self._found: list[Instrument] = []
        self._timer: Timer | None = None
        self._trader_names: dict[str, str] = {}
        self._trader_choices: list[tuple[str, str]] = []  # (name, id) the Select offers
        self._language = language()
        self._reopened = False

    # --- plumbing -----------------------------------------------------------------------
    @property
    def deepalpha(self) -> Workstation:
        return workstation(self.app)

    @property
    def backend(self) -> Backend:
        return self.deepalpha.backend

    def compose(self) -> ComposeResult:
        traders = self.backend.traders()
        self._trader_names = {tr.id: tr.name for tr in traders}
        self._trader_choices = [(tr.name, tr.id) for tr in traders]
        ids = [tr.id for tr in traders]
        trader = self.trader_id if self.trader_id in ids else (ids[0] if ids else None)
        # Opaque, with the status bar of its own: drawing the dimmed screen behind the ticket
        # re-rendered the whole quote board on opening (25-100 ms of the ticket's first frame).
        yield StatusBar(id="status-bar")
        # The side's class from the start: set after mounting, it would restyle every field.
        with VerticalScroll(id="ticket", classes=f"-{self.side.value}"):
            with Horizontal(classes="row"):
                yield Label(t("ticket.side"), classes="label")
                yield Choice(
                    [("buy", "side.buy"), ("sell", "side.sell")], self.side.value, id="side"
                )
                yield Label(t("ticket.keys_side"), classes="keys")
            with Horizontal(classes="row"):
                yield Label(t("ticket.symbol"), classes="label")
                yield SymbolInput(
                    placeholder=t("ticket.symbol_placeholder"), id="symbol", compact=True
                )
            yield Suggestions(id="suggestions", classes="-empty")
            yield Static(id="quote", classes="info")
            with Horizontal(classes="row"):
                yield Label(t("ticket.quantity"), classes="label")
                yield QuantityInput(
                    placeholder=t("ticket.quantity_placeholder"),
                    restrict=r"\d*",
                    max_length=9,
                    id="quantity",
                    compact=True,
                )
                yield Label(t("ticket.keys_quantity"), classes="keys")
            yield Static(id="lot-hint", classes="info")
            with Horizontal(classes="row"):
                yield Label(t("ticket.type"), classes="label")
                yield Choice(
                    [("limit", "type.limit"), ("market", "type.market")], "limit", id="type"
                )
                yield Label(t("ticket.keys_type"), classes="keys")
            with Horizontal(classes="row"):
                yield Label(t("ticket.price"), classes="label")
                yield PriceInput(restrict=r"\d*\.?\d*", max_length=12, id="price", compact=True)
                yield Label("", id="price-keys", classes="keys")
            with Horizontal(classes="row"):
                yield Label(t("ticket.trader"), classes="label")
                yield Select(
                    [(tr.name, tr.id) for tr in traders],
                    value=trader if trader is not None else Select.NULL,
                    allow_blank=trader is None,
                    id="trader",
                    compact=True,
                )
            yield Static(id="estimate")
            yield Static(id="problem")
            yield Label(t("ticket.keys"), id="help")
        yield Footer()

    def on_mount(self) -> None:
        self._localize_bindings()
        self._paint_side()
        self._timer = self.set_interval(REFRESH_SECONDS, self._update)
        self._opened()

    def _opened(self) -> None:
        self._first_focus()
        # Keys typed while the ticket was being built go to the field just focused (focus is
        # set by a callback queued before this one).
        self.app.call_later(self.deepalpha.release_keys)

    def fits(self, traders: list[tuple[str, str]]) -> bool:
        """Whether this ticket can be opened again as it is built: the same language and the
        same traders to choose from (else a new one is built)."""
        return self._language == language() and self._trader_choices == traders

    def reopen(self, side: str, *, symbol: str | None, trader_id: str | None) -> None:
        """Empty the ticket for a new order. Building one costs ~100 ms of styling and layout,
        so the app keeps one and opens it again (``on_screen_resume`` focuses it)."""
        self._unmatched = None
        self.side = Side(side)
        self.symbol = symbol
        self.trader_id = trader_id
        self.instrument = None
        self.preview = None
        self._missing = None
        self._rejection = None
        self._sending = False
        self._prefilled = None
        self._reopened = True
        with self.prevent(Input.Changed, Choice.Changed, Select.Changed):
            self.query_one("#side", Choice).value = self.side.value
            for field in ("#symbol", "#quantity", "#price"):
                self.query_one(field, Input).value = ""
            self.query_one("#type", Choice).value = "limit"
            self.query_one("#price", Input).disabled = False
            ids = [tr_id for _, tr_id in self._trader_choices]
            trader = trader_id if trader_id in ids else (ids[0] if ids else None)
            if trader is not None:
                self.query_one("#trader", Select).value = trader
        self.workers.cancel_group(self, "ticket-search")
        self._show_suggestions([])
        self._paint_side()

    def _first_focus(self) -> None:
        if self.symbol:
            found = self.backend.search(self.symbol, limit=1)
            if found:
                self._pick(found[0], focus_next=True)
                return
            self.query_one("#symbol", Input).value = self.symbol
        self.query_one("#symbol", Input).focus()
        self._update()

    def _localize_bindings(self) -> None:
        for node in (self, *self.query(Input)):
            localize_bindings(node, BINDING_TEXT)

    def on_screen_suspend(self) -> None:
        # Behind its own confirmation the ticket (and its clock) stays in view; closed, it stops.
        if self._timer is not None and not self.is_current:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        if self._timer is not None:
            self._timer.resume()
        if self._reopened:  # opened again for a new order, not back from its own dialog
            self._reopened = False
            self._opened()

    # --- keys ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "side":
            # b / s are letters in a text field or in a Select's type-to-search.
            focused = self.focused
            return focused is None or not any(
                isinstance(node, Input | Select) for node in focused.ancestors_with_self
            )
        return True

    def action_side(self, side: str) -> None:
        self.query_one("#side", Choice).value = side

    def action_close(self) -> None:
        suggestions = self.query_one(Suggestions)
        if self.focused is self.query_one("#symbol") and not suggestions.has_class("-empty"):
            self._show_suggestions([])
            return
        self.dismiss(None)

    def action_suggestion(self, step: int) -> None:
        suggestions = self.query_one(Suggestions)
        if suggestions.has_class("-empty"):
            return
        if step > 0:
            suggestions.action_cursor_down()
        else:
            suggestions.action_cursor_up()

    def action_step_quantity(self, lots: int) -> None:
        field = self.query_one("#quantity", Input)
        lot = self.instrument.board_lot if self.instrument else 100
        try:
            current = int(field.value or 0)
        except ValueError:
            current = 0
        if self.instrument is not None and self.instrument.board is Board.STAR:
            # STAR: at least 200 shares, then steps of 1; the keys move by 200.
            new = current + lots * lot
            new = max(new, lot) if lots > 0 else (new if new >= lot else 0)
        elif lots > 0:
            new = (current // lot + lots) * lot
        else:
            new = max(0, (-(-current // lot) + lots) * lot)
        field.value = str(new) if new else ""
        field.cursor_position = len(field.value)

    def action_step_price(self, ticks: int) -> None:
        field = self.query_one("#price", Input)
        tick = self._tick()
        try:
            price = Decimal(field.value)
        except InvalidOperation:
            quote = self._quote_price()
            if quote is None:
                return
            price = quote
        # Off the grid, the first step lands on the grid in the direction asked.
        steps = price / tick
        base = steps.to_integral_value(ROUND_FLOOR if ticks > 0 else ROUND_CEILING)
        new = (base + ticks) * tick
        if new <= 0:
            return
        field.value = str(new.quantize(tick))
        field.cursor_position = len(field.value)

    def action_review(self) -> None:
        if self._sending:
            return
        suggestions = self.query_one(Suggestions)
        if not suggestions.has_class("-empty"):
            self._pick_highlighted()
            return
        self._update()
        req = self._request()
        preview = self.preview
        if req is None or self._missing is not None or preview is None or not preview.ok:
            self.app.bell()
            self._focus_problem_field()
            return
        inst = self.instrument
        assert inst is not None
        side = t(f"side.{req.side.value}")
        if req.type is OrderType.LIMIT:
            price = t("ticket.confirm_price_limit", price=req.limit_price)
        else:
            price = t("ticket.confirm_price_market", price=preview.price)
        name = self._trader_names.get(req.trader_id, req.trader_id)
        detail = "\n".join(
            [
                t(
                    "ticket.confirm_order",
                    side=side,
                    quantity=f"{req.quantity:,}",
                    symbol=inst.symbol,
                    name=inst.name,
                ),
                price,
                t(
                    "ticket.confirm_total" if req.side is Side.BUY else "ticket.confirm_net",
                    total=money(
                        preview.total
                        if req.side is Side.BUY
                        else preview.amount - preview.fees.total,
                        preview.currency,
                        "en",
                    ),
                    fees=money(preview.fees.total, preview.currency, "en"),
                ),
                t("ticket.confirm_account", trader=name),
            ]
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._send_unless_far(req)

        self.app.push_screen(ConfirmScreen(t("ticket.confirm_title"), detail), answered)

    def _send_unless_far(self, req: OrderRequest) -> None:
        """A limit far from the last price asks once more, naming both prices and the distance:
        a fat finger (5000 for 500) passes every rule in Hong Kong, which has no daily band."""
        far = self._far_from_market(req)
        if far is None:
            self._send(req)
            return
        last, distance, threshold = far
        assert req.limit_price is not None
        detail = t(
            "ticket.far_detail",
            side=t(f"side.{req.side.value}"),
            symbol=req.symbol,
            price=req.limit_price,
            last=last,
            percent=f"{distance:,.1f}",
            direction=t("ticket.far_above" if req.limit_price > last else "ticket.far_below"),
            threshold=f"{threshold:g}",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._send(req)

        screen = ConfirmScreen(t("ticket.far_title"), detail, focus_no=True)
        self.app.push_screen(screen, answered)

    def _far_from_market(self, req: OrderRequest) -> tuple[Decimal, Decimal, Decimal] | None:
        """(last price, distance in %, threshold) when the limit is further from the last
        price than the ``fat_finger_percent`` setting allows, else ``None``."""
        if req.type is not OrderType.LIMIT or req.limit_price is None:
            return None
        threshold = self.backend.fat_finger_percent()
        quote = self.backend.quotes().get(req.symbol)
        if threshold <= 0 or quote is None or quote.last <= 0:
            return None
        distance = abs(req.limit_price - quote.last) / quote.last * 100
        return (quote.last, distance, threshold) if distance > threshold else None

    # --- sending ------------------------------------------------------------------------
    @work(exclusive=True, group="ticket-send")
    async def _send(self, req: OrderRequest) -> None:
        self._sending = True
        self._rejection = None
        problem = self.query_one("#problem", Static)
        problem.update(Text(t("ticket.sending"), style="italic"))
        try:
            order = await self.backend.place_order(req)
        except Exception as exc:  # a broken connection or database: say it, keep the ticket
            self._sending = False
            problem.update(Text(t("ticket.send_failed", error=str(exc)), style="bold red"))
            self.notify(
                t("ticket.send_failed", error=str(exc)),
                title=t("toast.error_title"),
                severity="error",
            )
            return
        self._sending = False
        if order.status is OrderStatus.REJECTED:
            # The app's event listener toasts the rejection; the ticket stays to fix it.
            self._rejection = order
            self._paint_problem()
            return
        if order.status is not OrderStatus.FILLED:  # a fill is toasted by the app's listener
            price = (
                t("ticket.confirm_price_limit", price=order.limit_price)
                if order.type is OrderType.LIMIT
                else t(f"type.{order.type.value}")
            )
            self.notify(
                t(
                    "ticket.placed",
                    side=t(f"side.{order.side.value}"),
                    quantity=f"{order.quantity:,}",
                    symbol=order.symbol,
                    price=price,
                    status=t(f"status.{order.status.value}"),
                ),
                title=t("ticket.placed_title"),
                timeout=4,
            )
        self.dismiss(order)

    # --- fields -------------------------------------------------------------------------
    @on(Choice.Changed, "#side")
    def _side_changed(self, event: Choice.Changed) -> None:
        self.side = Side(event.value)
        self._paint_side()
        self._refill_price()
        self._rejection = None
        self._update()

    @on(Choice.Changed, "#type")
    def _type_changed(self, event: Choice.Changed) -> None:
        price = self.query_one("#price", Input)
        price.disabled = event.value == "market"
        if not price.disabled and not price.value:
            self._refill_price(force=True)
        self._rejection = None
        self._update()

    @on(Input.Changed, "#symbol")
    def _symbol_changed(self, event: Input.Changed) -> None:
        if self.instrument is not None and event.value == self.instrument.symbol:
            return
        if self.instrument is not None:
            self.instrument = None
            if self._prefilled is not None:  # our price was for the other symbol
                self.query_one("#price", Input).value = ""
            self._update()
        self._search(event.value)

    @on(Input.Submitted, "#symbol")
    def _symbol_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.query_one(Suggestions).has_class("-empty"):
            self._pick_highlighted()
            return
        if self.instrument is not None and event.value == self.instrument.symbol:
            self.action_review()
            return
        # Enter before the search caught up: search now.
        self.workers.cancel_group(self, "ticket-search")
        found = self.backend.search(event.value, limit=1) if event.value.strip() else []
        if found:
            self._pick(found[0], focus_next=True)
        else:
            self._no_match(event.value)

    @on(Input.Submitted, "#quantity, #price")
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_review()

    @on(Input.Changed, "#quantity")
    def _quantity_changed(self) -> None:
        self._rejection = None
        self._update()

    @on(Input.Changed, "#price")
    def _price_changed(self, event: Input.Changed) -> None:
        if event.value != self._prefilled:
            self._prefilled = None
        self._rejection = None
        self._update()

    @on(Select.Changed, "#trader")
    def _trader_changed(self) -> None:
        self._rejection = None
        self._update()

    @on(OptionList.OptionSelected, "#suggestions")
    def _suggestion_selected(self, event: OptionList.OptionSelected) -> None:
        index = event.option_index
        if 0 <= index < len(self._found):
            self._pick(self._found[index], focus_next=True)

    # --- symbol search ------------------------------------------------------------------
    @work(exclusive=True, group="ticket-search")
    async def _search(self, text: str) -> None:
        await asyncio.sleep(SEARCH_DELAY)
        if self.is_attached:
            self._show_suggestions(self.backend.search(text, SUGGESTIONS) if text.strip() else [])

    def _show_suggestions(self, found: list[Instrument]) -> None:
        self._found = found
        suggestions = self.query_one(Suggestions)
        suggestions.clear_options()
        suggestions.add_options(
            Option(
                Text.assemble(
                    (f"{inst.symbol:<10}", "bold"), f" {inst.name}  ", (inst.name_en, "dim")
                )
            )
            for inst in found
        )
        suggestions.set_class(not found, "-empty")
        if found:
            suggestions.highlighted = 0

    def _pick_highlighted(self) -> None:
        index = self.query_one(Suggestions).highlighted
        if index is not None and 0 <= index < len(self._found):
            self._pick(self._found[index], focus_next=True)

    def _pick(self, inst: Instrument, *, focus_next: bool = False) -> None:
        self.workers.cancel_group(self, "ticket-search")
        self.instrument = inst
        self._rejection = None
        self._show_suggestions([])
        field = self.query_one("#symbol", Input)
        field.value = inst.symbol
        field.cursor_position = len(inst.symbol)
        self._refill_price(force=True)
        self._update()
        if focus_next:
            self.query_one("#quantity", Input).focus()

    def _no_match(self, text: str) -> None:
        # Remembered, so the estimate's periodic repaint keeps saying it while the text stays.
        self._unmatched = text.strip() or "—"
        self._paint_problem()
        self.app.bell()

    # --- price ----------------------------------------------------------------------------
    def _quote_price(self) -> Decimal | None:
        """The touch for the side (the ask to buy, the bid to sell), else the last price."""
        if self.instrument is None:
            return None
        quote = self.backend.quotes().get(self.instrument.symbol)
        if quote is None:
            return None
        touch = quote.ask if self.side is Side.BUY else quote.bid
        return touch if touch is not None else quote.last

    def _refill_price(self, *, force: bool = False) -> None:
        field = self.query_one("#price", Input)
        if not force and self._prefilled is None and field.value:
            return  # the user's own price stays
        price = self._quote_price()
        if price is None:
            return
        self._prefilled = str(price)
        field.value = self._prefilled
        field.cursor_position = len(field.value)

    def _tick(self) -> Decimal:
        if self.preview is not None and self.preview.tick is not None:
            return self.preview.tick
        return Decimal("0.01")

    # --- the estimate ---------------------------------------------------------------------
    def _request(self) -> OrderRequest | None:
        """The order as the fields say now; ``self._missing`` says what is not there yet."""
        self._missing = None
        inst = self.instrument
        trader = self.query_one("#trader", Select).value
        qty_text = self.query_one("#quantity", Input).value
        order_type = OrderType(self.query_one("#type", Choice).value)
        price_text = self.query_one("#price", Input).value
        if inst is None:
            self._missing = t("ticket.need_symbol")
            return None
        if not isinstance(trader, str):
            self._missing = t("ticket.need_trader")
            return None
        quantity = int(qty_text) if qty_text.isdigit() else 0
        limit: Decimal | None = None
        if order_type is OrderType.LIMIT:
            try:
                limit = Decimal(price_text)
            except InvalidOperation:
                limit = None
        if quantity <= 0:
            self._missing = t("ticket.need_quantity")
        elif order_type is OrderType.LIMIT and limit is None:
            self._missing = t("ticket.need_price")
        if order_type is OrderType.LIMIT and limit is None:
            order_type = OrderType.MARKET  # still preview the band, lot and sellable
        return OrderRequest(trader, inst.symbol, self.side, quantity, order_type, limit)

    def _update(self) -> None:
        self.query_one(StatusBar).show(self.backend.market_status())  # the clock runs on
        req = self._request()
        try:
            self.preview = self.backend.preview_order(req) if req is not None else None
        except Exception as exc:  # a backend that cannot answer: say so, keep the ticket
            self.preview = None
            self._missing = t("ticket.preview_failed", error=str(exc))
        if self._missing is not None:
            req = None
        self._paint_quote()
        self._paint_hint()
        self._paint_estimate(req)
        self._paint_problem()

    def _paint_side(self) -> None:
        box = self.query_one("#ticket")
        box.set_class(self.side is Side.BUY, "-buy")
        box.set_class(self.side is Side.SELL, "-sell")
        box.border_title = t("ticket.title", side=t(f"side.{self.side.value}"))
        side = self.query_one("#side", Choice)
        side.styles_for = {"buy": up_colour(), "sell": down_colour()}
        side.refresh()

    def _paint_quote(self) -> None:
        inst = self.instrument
        widget = self.query_one("#quote", Static)
        widget.display = inst is not None
        if inst is None:
            return
        quote = self.backend.quotes().get(inst.symbol)
        line = Text(inst.name, style="bold")
        if language() != "zh":
            line.append(f" {inst.name_en}")
        line.append(" · ")
        if quote is None:
            line.append(t("ticket.no_quote"))
        else:
            line.append(
                t(
                    "ticket.quote",
                    last=quote.last,
                    bid=quote.bid if quote.bid is not None else "—",
                    ask=quote.ask if quote.ask is not None else "—",
                )
            )
        widget.update(line)

    def _paint_hint(self) -> None:
        inst, preview = self.instrument, self.preview
        widget = self.query_one("#lot-hint", Static)
        if inst is None or preview is None:
            widget.update(t("ticket.no_symbol_info"))
            return
        parts = [
            t("ticket.star_lot")
            if inst.board is Board.STAR
            else t("ticket.board_lot", lot=preview.board_lot)
        ]
        if self.side is Side.SELL and preview.sellable is not None:
            sellable = t("ticket.sellable", sellable=count(preview.sellable, "en"))
            locked = self._locked(inst, preview.sellable)
            if locked:
                sellable += f" ({' · '.join(locked)})"
            parts.append(sellable)
        widget.update(" · ".join(parts))
        self.query_one("#price-keys", Label).update(t("ticket.keys_price", tick=self._tick()))

    def _locked(self, inst: Instrument, sellable: int) -> list[str]:
        """Why held shares are not sellable now: bought today (T+1) or in open sell orders."""
        trader = self.query_one("#trader", Select).value
        if not isinstance(trader, str):
            return []
        held = next(
            (p.quantity for p in self.backend.positions(trader) if p.symbol == inst.symbol), 0
        )
        if held <= sellable:
            return []
        in_sells = 0
        today = _today(self.backend)
        for order in reversed(self.backend.orders()):
            if order.status.is_final and order.trading_day < today:
                break  # open orders are today's: day orders expire at the close
            if (
                order.status.is_open
                and order.trader_id == trader
                and order.symbol == inst.symbol
                and order.side is Side.SELL
            ):
                in_sells += order.remaining
        out = []
        t1 = held - sellable - in_sells
        if t1 > 0:
            out.append(t("ticket.t1_locked", count=count(t1, "en")))
        if in_sells > 0:
            out.append(t("ticket.in_open_sells", count=count(in_sells, "en")))
        return out

    def _paint_estimate(self, req: OrderRequest | None) -> None:
        widget = self.query_one("#estimate", Static)
        preview = self.preview
        widget.display = preview is not None and self.instrument is not None
        if preview is None or self.instrument is None:
            return
        cur = preview.currency
        out = Text()
        # The band: 跌停 32.58 · 涨停 39.82 (HK has none).
        if preview.limit_down is not None and preview.limit_up is not None:
            out.append(f"{t('ticket.limit_down')} ")
            out.append(price_text(preview.limit_down), style=down_colour())
            out.append(f" · {t('ticket.limit_up')} ")
            out.append(price_text(preview.limit_up), style=up_colour())
        else:
            out.append(t("ticket.no_band"))
        if preview.tick is not None:
            out.append(f" · {t('ticket.tick', tick=preview.tick)}", style="dim")
        if req is None:
            widget.update(out)
            return
        out.append("\n")
        if preview.price is None:
            price = t("ticket.no_quote")
        elif req.type is OrderType.LIMIT:
            price = price_text(preview.price)
        else:
            price = t("ticket.market_at", price=preview.price)
        out.append(f"{t('ticket.price_used')} {price}   ")
        out.append(f"{t('ticket.amount')} ")
        out.append(money(preview.amount, cur, "en"), style="bold")
        fees = [
            f"{t(f'ticket.fee.{name}')} {money(getattr(preview.fees, name), cur, 'en')}"
            for name in FEE_ITEMS
            if getattr(preview.fees, name)
        ]
        out.append("\n")
        out.append(" · ".join(fees) if fees else "", style="dim")
        out.append("\n")
        out.append(f"{t('ticket.fees')} {money(preview.fees.total, cur, 'en')}   ")
        if req.side is Side.BUY:
            out.append(f"{t('ticket.total')} ")
            out.append(money(preview.total, cur, "en"), style="bold")
        else:
            out.append(f"{t('ticket.net')} ")
            out.append(money(preview.amount - preview.fees.total, cur, "en"), style="bold")
        widget.update(out)

    def _paint_problem(self) -> None:
        widget = self.query_one("#problem", Static)
        if self._sending:
            return
        rejected = self._rejection
        if rejected is not None:
            code = rejected.reject_code.value if rejected.reject_code else "?"
            widget.update(
                Text(
                    t("ticket.rejected", code=code, reason=say(rejected.reject_reason or "")),
                    style=_error_style(),
                )
            )
        elif (
            self._unmatched is not None
            and self.instrument is None
            and (self.query_one("#symbol", Input).value.strip() or "—") == self._unmatched
        ):
            widget.update(Text(t("ticket.no_match", text=self._unmatched), style=_error_style()))
        elif self._missing is not None:
            widget.update(Text(self._missing, style="dim italic"))
        elif self.preview is not None and not self.preview.ok:
            widget.update(
                Text(
                    f"{self.preview.code} — {say(self.preview.message or '')}",
                    style=_error_style(),
                )
            )
        elif self.preview is not None:
            widget.update(Text(t("ticket.ready"), style="green"))
        else:
            widget.update("")

    def _focus_problem_field(self) -> None:
        """After a refused Enter, put the cursor where the fix goes."""
        if self.instrument is None:
            self.query_one("#symbol", Input).focus()
            return
        code = self.preview.code if self.preview is not None else None
        if self._missing == t("ticket.need_quantity") or code in (
            "LOT_SIZE",
            "INSUFFICIENT_POSITION",
            "T_PLUS_ONE",
            "INSUFFICIENT_CASH",
        ):
            self.query_one("#quantity", Input).focus()
        elif self._missing == t("ticket.need_price") or code in ("TICK_SIZE", "PRICE_LIMIT"):
            self.query_one("#price", Input).focus()


def _today(backend: Backend) -> date:
    return backend.market_status().time.date()


def _error_style() -> str:
    return "bold red"
