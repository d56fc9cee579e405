"""The decisions screen: every AI decision cycle as a record (what the model was shown, what it
said, what became of each decision, what it cost) and the hybrid proposals waiting for a person.

Keys: ``t`` cycles the trader filter, ``a`` approves the highlighted proposal, ``r`` rejects
it, ``e`` approves it with another quantity, ``d`` asks the selected trader to decide now, ``p``
opens or closes the prompts. The detail shows the record highlighted in the list that has the
focus (for a proposal, the record it came from).

Records arrive as DecisionEvents (a new cycle, or a proposal answered or expired).
A busy AI trader can decide many times a second on a fast simulated clock, so events only mark
the lists stale and the screen's timer repaints them at most twice a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import zip_longest
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Collapsible, DataTable, Input, Label, Static

from deepalpha.app.backend import AiStatus, ProposalView, TraderView
from deepalpha.engine.ai.records import DecisionRecord
from deepalpha.engine.events import DecisionEvent
from deepalpha.engine.markets.sessions import SHANGHAI
from deepalpha.engine.orders import OrderRequest, OrderStatus, OrderType, Side
from deepalpha.i18n import MESSAGES, count, from_stored, language, money, say, t
from deepalpha.screens.base import BaseScreen, localize_bindings
from deepalpha.screens.dashboard import Column, fit_columns, short_model
from deepalpha.widgets.colours import down_colour, up_colour
from deepalpha.widgets.formats import NONE, price

# Binding id → catalogue key of its description (relabelled on a language change).
BINDING_TEXT = {
    "decisions.trader": "dec.key.trader",
    "decisions.approve": "dec.key.approve",
    "decisions.reject": "dec.key.reject",
    "decisions.edit": "dec.key.edit",
    "decisions.decide": "dec.key.decide",
    "decisions.prompts": "dec.key.prompts",
    "quantity.cancel": "common.cancel",
}
AI_KINDS = ("ai", "hybrid")
RECORDS_SHOWN = 200

# The actions column takes the width the others leave; the rest are dropped in DROP order
# when the list is narrow (the detail shows every figure anyway).
RECORD_COLUMNS: tuple[Column, ...] = (
    ("time", "dec.col.time", 8, False),
    ("trader", "dec.col.trader", 10, False),
    ("cycle", "dec.col.cycle", 5, True),
    ("model", "dec.col.model", 11, False),
    ("actions", "dec.col.actions", 20, False),
    ("latency", "dec.col.latency", 7, True),
    ("tokens", "dec.col.tokens", 6, True),
    ("cost", "dec.col.cost", 7, True),
    ("ok", "dec.col.ok", 4, False),
)
RECORD_DROP = ("tokens", "cost", "model", "latency", "cycle")
PROPOSAL_COLUMNS: tuple[Column, ...] = (
    ("trader", "dec.col.trader", 8, False),
    ("side", "dec.col.side", 4, False),
    ("symbol", "dec.col.symbol", 9, False),
    ("qty", "dec.col.qty", 6, True),
    ("price", "dec.col.price", 8, True),
    ("stop", "dec.col.stop", 8, True),
    ("target", "dec.col.target", 8, True),
    ("expires", "dec.col.expires", 7, True),
)
PROPOSAL_DROP = ("target", "stop", "price")

# What a result's status reads as in the list: a mark and its colour.
DONE = ("placed", "approved")
REFUSED = ("rejected", "user_rejected", "expired", "superseded")


# --- how records read ----------------------------------------------------------------------


def local_time(when: datetime, today: datetime | None = None) -> str:
    """Exchange time; records of an earlier day also say which day."""
    at = when.astimezone(SHANGHAI)
    if today is not None and at.date() != today.astimezone(SHANGHAI).date():
        return f"{at:%m-%d}"
    return f"{at:%H:%M:%S}"


def latency_text(ms: int) -> str:
    if ms <= 0:
        return NONE
    return f"{ms / 1000:.1f}s" if ms >= 1000 else f"{ms}ms"


def cost_text(record: DecisionRecord) -> str:
    # Model calls cost fractions of a fen: four places say what two would round to zero.
    return money(record.cost, "CNY", places=4) if record.cost else NONE


def tokens_text(record: DecisionRecord) -> str:
    total = record.prompt_tokens + record.completion_tokens
    return count(total) if total else NONE


def reject_reason(result: dict[str, Any]) -> str:
    """A result's reason in the user's language (the record keeps the catalogue key)."""
    text = from_stored(
        result.get("reject_key"), result.get("reject_params"), result.get("reject_reason")
    )
    return say(text or "")


def short_symbol(symbol: str | None) -> str:
    return (symbol or "").partition(".")[0]


def result_summary(result: dict[str, Any]) -> Text:
    """``BUY 600519 100 ✓``, ``SELL 00700 ✗ T_PLUS_ONE``, ``BUY 600036 1000 ?`` (waiting)."""
    action = str(result.get("action", "wait"))
    status = str(result.get("status", action))
    out = Text()
    words = t(f"dec.action.{action}") if action in ("buy", "sell", "hold", "wait") else action
    if action in ("hold", "wait"):
        out.append(words, style="dim")
        if result.get("symbol"):
            out.append(f" {short_symbol(result['symbol'])}", style="dim")
        return out
    out.append(words, style=up_colour() if action == "buy" else down_colour())
    out.append(f" {short_symbol(result.get('symbol'))} {result.get('quantity', '')}")
    if status in DONE:
        out.append(" ✓", style="bold green")
    elif status == "proposed":
        out.append(" ?", style="bold yellow")
    elif status == "user_rejected":
        out.append(f" ✗ {t('dec.mark.user_rejected')}", style="red")
    elif status in ("expired", "superseded"):
        out.append(f" ✗ {t(f'dec.mark.{status}')}", style="red")
    else:
        out.append(f" ✗ {result.get('reject_code') or ''}".rstrip(), style="bold red")
    return out


def actions_summary(record: DecisionRecord) -> Text:
    """Trades first, each with its outcome; holds and waits after, counted when several (the
    baseline says wait for every symbol it watches)."""
    if not record.success:
        return Text(record.error or t("dec.failed"), style="red")
    if not record.results:
        return Text(t("dec.nothing"), style="dim")
    parts = [result_summary(r) for r in record.results if r.get("action") in ("buy", "sell")]
    for action in ("hold", "wait"):
        quiet = [r for r in record.results if r.get("action") == action]
        if len(quiet) == 1:
            parts.append(result_summary(quiet[0]))
        elif quiet:
            parts.append(Text(f"{t(f'dec.action.{action}')}×{len(quiet)}", style="dim"))
    return Text(" / ").join(parts)


def json_price(value: object) -> str:
    """A price kept in the record as text ("482.6") the way prices read elsewhere (482.60)."""
    try:
        return price(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


def result_line(result: dict[str, Any]) -> Text:
    """What became of one decision, with the reason said in the user's language."""
    status = str(result.get("status", ""))
    order = result.get("order_id") or NONE
    if status == "placed":
        return Text(f"✓ {t('dec.result.placed', order=order)}", style="green")
    if status == "approved":
        return Text(f"✓ {t('dec.result.approved', order=order)}", style="green")
    if status == "proposed":
        return Text(f"? {t('dec.result.proposed')}", style="bold yellow")
    if status in ("hold", "wait"):
        return Text(t(f"dec.result.{status}"), style="dim")
    key = {
        "user_rejected": "dec.result.user_rejected",
        "expired": "dec.result.expired",
        "superseded": "dec.result.superseded",
    }.get(status, "dec.result.rejected")
    code = result.get("reject_code") or "?"
    code_text = t(f"code.{code}") if f"code.{code}" in MESSAGES else code
    out = Text(f"✗ {t(key, code=code_text)}", style="bold red")
    reason = reject_reason(result)
    if reason:
        out.append(f" — {reason}", style="red")
    return out


def decision_line(n: int, decision: dict[str, Any] | None, result: dict[str, Any] | None) -> Text:
    """``1. BUY 600519.SH 100 · limit 1,443.00 · stop … · target … · confidence 0.8``"""
    d = decision or result or {}
    action = str(d.get("action", "wait"))
    out = Text(f"{n}. ", style="bold")
    words = t(f"dec.action.{action}") if action in ("buy", "sell", "hold", "wait") else action
    style = up_colour() if action == "buy" else (down_colour() if action == "sell" else "dim")
    out.append(words, style=f"bold {style}")
    if d.get("symbol"):
        out.append(f" {d['symbol']}")
    if action in ("buy", "sell"):
        qty = (result or {}).get("quantity", d.get("quantity"))
        out.append(f" {qty}")
        limit = d.get("limit_price")
        out.append(
            " · " + (t("dec.limit", price=json_price(limit)) if limit else t("dec.market")), "dim"
        )
    for field, key in (("stop_loss", "dec.stop"), ("take_profit", "dec.target")):
        if d.get(field):
            out.append(" · " + t(key, price=json_price(d[field])), style="dim")
    if d.get("confidence"):
        out.append(" · " + t("dec.confidence", value=d["confidence"]), style="dim")
    return out


# --- the quantity form ---------------------------------------------------------------------


class QuantityForm(ModalScreen[int | None]):
    """Another quantity for a proposal: a whole number of shares that passes the board-lot
    rule (the engine checks the order again when it is placed). Enter approves, Escape
    cancels."""

    DEFAULT_CSS = """
    QuantityForm { align: center middle; }
    QuantityForm > Vertical {
        width: 64; max-width: 100%; height: auto;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    QuantityForm #qty-error { color: $error; text-style: bold; height: auto; }
    QuantityForm .note { color: $text-muted; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", t("common.cancel"), id="quantity.cancel"),
    ]

    def __init__(self, title: str, quantity: int, check: Callable[[int], str | None]) -> None:
        super().__init__()
        self.title_text = title
        self.quantity = quantity
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Input(str(self.quantity), type="integer", id="qty")
            yield Static("", id="qty-error")
            yield Static(t("dec.qty_hint"), classes="note")

    def on_mount(self) -> None:
        localize_bindings(self, BINDING_TEXT)  # the class's texts are in the import's language
        self.query_one("#qty", Input).focus()

    @on(Input.Submitted, "#qty")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip().replace(",", "").replace("_", "")
        try:
            quantity = int(text)
        except ValueError:
            self._error(t("dec.qty_whole", text=event.value))
            return
        if quantity <= 0:
            self._error(t("dec.qty_positive"))
            return
        problem = self.check(quantity)
        if problem:
            self._error(problem)
            return
        self.dismiss(quantity)

    def _error(self, message: str) -> None:
        self.query_one("#qty-error", Static).update(Text(message))


# --- the screen ----------------------------------------------------------------------------


def _header(table: DataTable[Text], columns: Iterable[Column]) -> None:
    table.clear(columns=True)
    for key, label, width, right in columns:
        table.add_column(Text(t(label), justify="right" if right else "left"), width=width, key=key)


class DecisionsScreen(BaseScreen):
    TITLE_KEY = "screen.decisions"
    SCREEN_NAME = "decisions"
    REFRESH_SECONDS = 0.5
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (Textual declares it this way)
        (0, "-narrow"),
        (120, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "cycle_trader", t("dec.key.trader"), id="decisions.trader"),
        Binding("a", "approve", t("dec.key.approve"), id="decisions.approve"),
        Binding("r", "reject", t("dec.key.reject"), id="decisions.reject"),
        Binding("e", "edit_quantity", t("dec.key.edit"), id="decisions.edit"),
        Binding("d", "decide_now", t("dec.key.decide"), id="decisions.decide"),
        Binding("p", "toggle_prompts", t("dec.key.prompts"), id="decisions.prompts"),
    ]
    DEFAULT_CSS = """
    DecisionsScreen #dec-bar { height: 1; padding: 0 1; background: $boost; }
    DecisionsScreen .dec-pane {
        border: round $primary 40%;
        border-title-style: bold;
    }
    DecisionsScreen .dec-pane:focus-within { border: round $accent; }
    DecisionsScreen DataTable { scrollbar-size-vertical: 1; }
    DecisionsScreen #records-pane { height: 1fr; }
    DecisionsScreen #dec-records { height: 1fr; }
    DecisionsScreen #proposals-pane { height: auto; }
    DecisionsScreen #dec-proposals { height: auto; max-height: 10; }
    DecisionsScreen #detail-pane { padding: 0 1; scrollbar-size-vertical: 1; }
    DecisionsScreen #detail-pane > Static { height: auto; }
    DecisionsScreen #detail-pane .section { text-style: bold; margin-top: 1; }
    DecisionsScreen Collapsible { padding: 0; border-top: none; }
    DecisionsScreen Collapsible Contents { padding: 0 0 0 2; }
    /* wide: the lists on the left, the record on the right */
    DecisionsScreen.-wide #dec-main { layout: horizontal; }
    DecisionsScreen.-wide #dec-left { width: 3fr; height: 100%; }
    DecisionsScreen.-wide #detail-pane { width: 2fr; height: 100%; }
    /* narrow: the lists above, the record below */
    DecisionsScreen.-narrow #dec-main { layout: vertical; }
    DecisionsScreen.-narrow #dec-left { height: auto; }
    DecisionsScreen.-narrow #records-pane { height: 9; }
    DecisionsScreen.-narrow #dec-proposals { max-height: 4; }
    DecisionsScreen.-narrow #detail-pane { height: 1fr; min-height: 6; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._lang = language()
        self.trader_filter: str | None = None
        self._stale = True
        self._records: list[DecisionRecord] = []
        self._records_sig: tuple[object, ...] = ()
        self._proposals: list[ProposalView] = []
        self._proposal_ids: list[str] = []
        self._record_columns: tuple[Column, ...] = ()
        self._proposal_columns: tuple[Column, ...] = ()
        self._traders: dict[str, TraderView] = {}
        self._shown: tuple[object, ...] | None = None
        self.selected_record_id: str | None = None

    # --- layout --------------------------------------------------------------------------
    def body(self) -> ComposeResult:
        yield Static("", id="dec-bar")
        with Vertical(id="dec-main"):
            with Vertical(id="dec-left"):
                with Vertical(classes="dec-pane", id="records-pane"):
                    yield DataTable[Text](id="dec-records", cursor_type="row")
                with Vertical(classes="dec-pane", id="proposals-pane"):
                    yield DataTable[Text](id="dec-proposals", cursor_type="row")
            with VerticalScroll(classes="dec-pane", id="detail-pane"):
                yield Static("", id="dec-head")
                yield Static("", id="dec-reasoning-title", classes="section")
                yield Static("", id="dec-reasoning")
                yield Static("", id="dec-results-title", classes="section")
                yield Static("", id="dec-results")
                with Collapsible(id="dec-system-box"):
                    yield Static("", id="dec-system")
                with Collapsible(id="dec-user-box"):
                    yield Static("", id="dec-user")
                with Collapsible(id="dec-raw-box", collapsed=False):
                    yield Static("", id="dec-raw")

    @property
    def records_table(self) -> DataTable[Text]:
        return self.query_one("#dec-records", DataTable)

    @property
    def proposals_table(self) -> DataTable[Text]:
        return self.query_one("#dec-proposals", DataTable)

    def on_mount(self) -> None:
        super().on_mount()
        localize_bindings(self, BINDING_TEXT)
        self._titles()
        self.records_table.focus()
        self._listen()

    def _titles(self) -> None:
        self.query_one("#records-pane").border_title = t("dec.records")
        self.query_one("#detail-pane").border_title = t("dec.detail")
        self.query_one("#dec-reasoning-title", Static).update(t("dec.reasoning"))
        self.query_one("#dec-results-title", Static).update(t("dec.decisions"))
        for box, key in (
            ("#dec-system-box", "dec.system_prompt"),
            ("#dec-user-box", "dec.user_prompt"),
            ("#dec-raw-box", "dec.raw_reply"),
        ):
            self.query_one(box, Collapsible).title = t(key)

    def on_screen_resume(self) -> None:
        if self._lang != language():
            self.relabel()
        self._stale = True
        super().on_screen_resume()

    def relabel(self) -> None:
        self._lang = language()
        localize_bindings(self, BINDING_TEXT)
        self.refresh_bindings()
        self._titles()
        self._record_columns = ()
        self._proposal_columns = ()
        self._records_sig = ()
        self._proposal_ids = []
        self._shown = None
        self._stale = True
        self.refresh_data()

    # --- events --------------------------------------------------------------------------
    @work(exclusive=True, group="decisions-events")
    async def _listen(self) -> None:
        sub = self.backend.subscribe()
        try:
            while True:
                if isinstance(await sub.get(), DecisionEvent):
                    self._stale = True
        finally:
            sub.close()

    # --- repaint -------------------------------------------------------------------------
    def refresh_data(self) -> None:
        self._traders = {v.id: v for v in self.backend.traders()}
        with self.app.batch_update():
            self._fit_columns()
            if self._stale:
                self._stale = False
                self._paint_records()
                self._paint_proposals()
            self._paint_countdown()
            self._paint_bar()
            self._paint_detail()

    def _trader_name(self, trader_id: str) -> str:
        view = self._traders.get(trader_id)
        return view.name if view is not None else trader_id

    def _fit_columns(self) -> None:
        width = self.query_one("#records-pane").content_region.width - 1  # the scrollbar
        records = fit_columns(RECORD_COLUMNS, width, drop=RECORD_DROP, flex="actions", flex_min=26)
        if records != self._record_columns:
            self._record_columns = records
            _header(self.records_table, records)
            self._records_sig = ()
            self._stale = True
        width = self.query_one("#proposals-pane").content_region.width - 1
        proposals = fit_columns(PROPOSAL_COLUMNS, width, drop=PROPOSAL_DROP)
        if proposals != self._proposal_columns:
            self._proposal_columns = proposals
            _header(self.proposals_table, proposals)
            self._proposal_ids = []
            self._stale = True

    def _paint_records(self) -> None:
        records = self.backend.decisions(self.trader_filter, RECORDS_SHOWN)
        self._records = records
        sig = tuple((r.id, tuple(x.get("status") for x in r.results)) for r in records)
        if sig == self._records_sig:
            return
        self._records_sig = sig
        table = self.records_table
        # Browsing the newest row, the list follows new records like a log; otherwise the
        # record being read (lower in the list, or in the detail) stays.
        following = table.has_focus and table.cursor_row <= 0
        keep = None if following else self.selected_record_id
        today = self.backend.market_status().time
        keys = [key for key, *_ in self._record_columns]
        table.clear()
        for record in records:
            cells = self._record_cells(record, today)
            table.add_row(*(cells[k] for k in keys), key=record.id)
        ids = [r.id for r in records]
        if keep in ids:
            table.move_cursor(row=ids.index(keep), animate=False)
        elif records and (following or keep is None):
            self.selected_record_id = records[0].id
        self.query_one("#records-pane").border_subtitle = "" if records else t("dec.no_records")
        self._shown = None  # the selected record may have new results

    def _column_width(self, key: str) -> int:
        return next((w for k, _, w, _ in self._record_columns if k == key), 0)

    def _record_cells(self, record: DecisionRecord, today: datetime) -> dict[str, Text]:
        ok = Text("✓", style="green") if record.success else Text("✗", style="bold red")
        return {
            "time": Text(local_time(record.time, today), style="dim"),
            "trader": Text(self._trader_name(record.trader_id)),
            "cycle": Text(str(record.cycle), justify="right"),
            "model": Text(short_model(record.model, self._column_width("model"))),
            "actions": actions_summary(record),
            "latency": Text(latency_text(record.latency_ms), justify="right"),
            "tokens": Text(tokens_text(record), justify="right"),
            "cost": Text(cost_text(record), justify="right"),
            "ok": ok,
        }

    def _paint_proposals(self) -> None:
        proposals = self.backend.proposals(self.trader_filter)
        self._proposals = proposals
        ids = [p.id for p in proposals]
        pane = self.query_one("#proposals-pane")
        pane.border_title = t("dec.proposals", count=len(proposals))
        pane.border_subtitle = "" if proposals else t("dec.no_proposals")
        if ids == self._proposal_ids:
            return
        table = self.proposals_table
        keep = self.selected_proposal
        self._proposal_ids = ids
        keys = [key for key, *_ in self._proposal_columns]
        table.clear()
        for p in proposals:
            cells = self._proposal_cells(p)
            table.add_row(*(cells[k] for k in keys), key=p.id)
        if keep is not None and keep.id in ids:
            table.move_cursor(row=ids.index(keep.id), animate=False)

    def _proposal_cells(self, p: ProposalView) -> dict[str, Text]:
        buy = p.side == "buy"
        return {
            "trader": Text(self._trader_name(p.trader_id)),
            "side": Text(t(f"side.{p.side}"), style=up_colour() if buy else down_colour()),
            "symbol": Text(p.symbol),
            "qty": Text(f"{p.quantity:,}", justify="right"),
            "price": Text(
                price(p.limit_price) if p.limit_price is not None else t("dec.market"),
                justify="right",
            ),
            "stop": Text(price(p.stop_loss), justify="right"),
            "target": Text(price(p.take_profit), justify="right"),
            "expires": self._countdown(p),
        }

    def _countdown(self, p: ProposalView) -> Text:
        """The real time a person has left to answer (the market clock at its speed, and never
        less than the real minimum); paused, the clock stands still and so does this."""
        if p.seconds_left is None:
            return Text("‖", style="dim", justify="right")
        left = int(p.seconds_left)
        if left <= 0:
            return Text(t("dec.expired"), style="red", justify="right")
        minutes, seconds = divmod(left, 60)
        style = "bold yellow" if left < 60 else ""
        return Text(f"{minutes}:{seconds:02d}", style=style, justify="right")

    def _paint_countdown(self) -> None:
        if not any(k == "expires" for k, *_ in self._proposal_columns):
            return
        table = self.proposals_table
        # The time left moves with the clock: read it afresh for every repaint.
        self._proposals = self.backend.proposals(self.trader_filter)
        for p in self._proposals:
            if p.id in self._proposal_ids:
                table.update_cell(p.id, "expires", self._countdown(p))

    def _paint_bar(self) -> None:
        out = Text(no_wrap=True, overflow="ellipsis")
        # Safe mode first: it is the one thing on this line that must not be cut off.
        if self.trader_filter is None:
            for view in self._traders.values():
                if view.safe_mode:
                    out.append(f"⚠ {t('dec.safe_mode_of', trader=view.name)}", "bold red")
                    out.append("  ")
        else:
            status = self.backend.ai_status(self.trader_filter)
            if status is not None:
                self._status_text(out, status)
        if not any(v.kind in AI_KINDS for v in self._traders.values()):
            out.append(t("dec.no_ai"), style="yellow")
            out.append("  ")
        trader = self._trader_name(self.trader_filter) if self.trader_filter else t("common.all")
        out.append(t("dec.filter", trader=trader), style="bold")
        out.append("  " + t("dec.count", shown=len(self._records)), style="dim")
        if self.trader_filter is not None:
            status = self.backend.ai_status(self.trader_filter)
            if status is not None:
                last = local_time(status.last_cycle) if status.last_cycle else NONE
                out.append("  ")
                out.append(
                    t(
                        "dec.status",
                        model=status.model_label,
                        interval=status.interval_minutes,
                        cycle=status.cycle,
                        last=last,
                    ),
                    style="dim",
                )
                if status.running:
                    out.append("  " + t("dec.deciding"), style="cyan")
        self.query_one("#dec-bar", Static).update(out)

    def _status_text(self, out: Text, status: AiStatus) -> None:
        if status.safe_mode:
            out.append(f"⚠ {t('dec.safe_mode', failures=status.failures)}", "bold red")
            out.append("  ")
        if status.error:
            out.append(t("dec.model_error", error=say(status.error)), style="bold red")
            out.append("  ")

    # --- the detail ----------------------------------------------------------------------
    @property
    def selected_record(self) -> DecisionRecord | None:
        for record in self._records:
            if record.id == self.selected_record_id:
                return record
        if self.selected_record_id is not None:  # a proposal's record beyond the list
            for record in self.backend.decisions(None, RECORDS_SHOWN):
                if record.id == self.selected_record_id:
                    return record
        return None

    @property
    def selected_proposal(self) -> ProposalView | None:
        table = self.proposals_table
        if not self._proposals or table.row_count == 0:
            return None
        row = min(max(table.cursor_row, 0), table.row_count - 1)
        key = table.ordered_rows[row].key.value
        for p in self._proposals:
            if p.id == key:
                return p
        return None

    def _paint_detail(self) -> None:
        record = self.selected_record
        key = (record, self._lang) if record is not None else None
        if key == self._shown and key is not None:
            return
        self._shown = key
        if record is None:
            self.query_one("#dec-head", Static).update(Text(t("dec.select"), style="dim"))
            for name in ("reasoning", "results", "system", "user", "raw"):
                self.query_one(f"#dec-{name}", Static).update("")
            return
        self.query_one("#dec-head", Static).update(self._head(record))
        reasoning = record.reasoning.strip()
        self.query_one("#dec-reasoning", Static).update(
            Text(reasoning) if reasoning else Text(t("dec.no_reasoning"), style="dim")
        )
        self.query_one("#dec-results", Static).update(self._results(record))
        for name, text in (
            ("system", record.system_prompt),
            ("user", record.user_prompt),
            ("raw", record.raw_reply),
        ):
            self.query_one(f"#dec-{name}", Static).update(
                Text(text) if text else Text(t("dec.empty"), style="dim")
            )

    def _head(self, record: DecisionRecord) -> Text:
        out = Text()
        at = record.time.astimezone(SHANGHAI)
        out.append(
            t(
                "dec.head",
                cycle=record.cycle,
                trader=self._trader_name(record.trader_id),
                time=f"{at:%Y-%m-%d %H:%M:%S}",
            ),
            style="bold",
        )
        out.append("  ")
        if record.success:
            out.append(f"✓ {t('dec.ok')}", style="bold green")
        else:
            out.append(f"✗ {t('dec.failed')}", style="bold red")
        out.append("\n")
        out.append(
            t(
                "dec.figures",
                model=record.model,
                latency=latency_text(record.latency_ms),
                prompt=count(record.prompt_tokens),
                completion=count(record.completion_tokens),
                cost=cost_text(record),
            ),
            style="dim",
        )
        if record.error:
            out.append("\n" + t("dec.error", error=record.error), style="red")
        return out

    def _results(self, record: DecisionRecord) -> RenderableType:
        if not record.decisions and not record.results:
            return Text(t("dec.no_decisions"), style="dim")
        lines: list[RenderableType] = []
        pairs = zip_longest(record.decisions, record.results)
        for n, (decision, result) in enumerate(pairs, start=1):
            lines.append(decision_line(n, decision, result))
            # A hold or a wait has no outcome beyond itself; the rest say what became of them.
            if result is not None and result.get("status") not in ("hold", "wait"):
                lines.append(Padding(result_line(result), (0, 0, 0, 3)))
            why = (decision or {}).get("reasoning")
            if why:
                lines.append(Padding(Text(str(why), style="italic dim"), (0, 0, 0, 3)))
        return Group(*lines)

    @on(DataTable.RowHighlighted, "#dec-records")
    def _record_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Only the person moving in the list changes the detail (not a rebuilt list).
        if self.records_table.has_focus and event.row_key.value is not None:
            self.selected_record_id = str(event.row_key.value)
            self._paint_detail()

    @on(events.DescendantFocus, "#dec-records")
    def _records_focused(self) -> None:
        table = self.records_table
        if table.row_count:
            row = min(max(table.cursor_row, 0), table.row_count - 1)
            self.selected_record_id = str(table.ordered_rows[row].key.value)
            self._paint_detail()

    @on(DataTable.RowHighlighted, "#dec-proposals")
    def _proposal_highlighted(self) -> None:
        # Only while the person is in the proposals list: a rebuilt list highlights its first
        # row by itself, and that must not pull the detail away from the record being read.
        if self.proposals_table.has_focus:
            self._show_proposal_record()

    @on(events.DescendantFocus, "#dec-proposals")
    def _proposals_focused(self) -> None:
        self._show_proposal_record()

    def _show_proposal_record(self) -> None:
        """The detail shows the record the proposal came from (its reasoning and prompts)."""
        proposal = self.selected_proposal
        if proposal is not None:
            self.selected_record_id = proposal.record_id
            self._paint_detail()

    # --- the trader filter ---------------------------------------------------------------
    def action_cycle_trader(self) -> None:
        choices: list[str | None] = [
            None,
            *(v.id for v in self.backend.traders() if v.kind in AI_KINDS),
        ]
        i = choices.index(self.trader_filter) if self.trader_filter in choices else 0
        self.trader_filter = choices[(i + 1) % len(choices)]
        self._stale = True
        self.refresh_data()

    def action_toggle_prompts(self) -> None:
        boxes = [self.query_one(b, Collapsible) for b in ("#dec-system-box", "#dec-user-box")]
        collapsed = not all(b.collapsed for b in boxes)
        for box in boxes:
            box.collapsed = collapsed

    # --- answering proposals -------------------------------------------------------------
    def _proposal_or_say(self) -> ProposalView | None:
        self._paint_proposals()
        proposal = self.selected_proposal
        if proposal is None:
            self.notify(t("dec.none_waiting"), severity="warning")
        return proposal

    def action_approve(self) -> None:
        proposal = self._proposal_or_say()
        if proposal is not None:
            self._approve(proposal, None)

    def action_reject(self) -> None:
        proposal = self._proposal_or_say()
        if proposal is not None:
            self._reject(proposal)

    def action_edit_quantity(self) -> None:
        proposal = self._proposal_or_say()
        if proposal is None:
            return
        lot = self.backend.preview_order(self._request(proposal, proposal.quantity)).board_lot
        title = t("dec.qty_title", side=t(f"side.{proposal.side}"), symbol=proposal.symbol, lot=lot)

        def answered(quantity: int | None) -> None:
            if quantity is not None:
                self._approve(proposal, quantity)

        form = QuantityForm(title, proposal.quantity, lambda q: self._lot_problem(proposal, q))
        self.app.push_screen(form, answered)

    @staticmethod
    def _request(proposal: ProposalView, quantity: int) -> OrderRequest:
        return OrderRequest(
            proposal.trader_id,
            proposal.symbol,
            Side(proposal.side),
            quantity,
            OrderType(proposal.order_type),
            proposal.limit_price,
            "ai",
        )

    def _lot_problem(self, proposal: ProposalView, quantity: int) -> str | None:
        """The board-lot rule's objection to ``quantity``, said in the user's language. Other
        objections (cash, price band) are the engine's to make when the order is placed."""
        preview = self.backend.preview_order(self._request(proposal, quantity))
        if preview.code == "LOT_SIZE" and preview.message:
            return say(preview.message)
        return None

    @work(group="decisions-answer")
    async def _approve(self, proposal: ProposalView, quantity: int | None) -> None:
        try:
            order = await self.backend.approve_proposal(proposal.id, quantity)
        except KeyError:
            self.notify(t("dec.gone"), severity="warning")
        except Exception as exc:  # the backend said no: keep the screen, say why
            self.notify(t("dec.failed_action", error=say(str(exc))), severity="error")
        else:
            # A rejected order is already toasted by the app, with its rule and reason.
            if order.status is not OrderStatus.REJECTED:
                self.notify(
                    t(
                        "dec.approved",
                        side=t(f"side.{order.side.value}"),
                        quantity=order.quantity,
                        symbol=order.symbol,
                    )
                )
        self._stale = True
        self.refresh_data()

    @work(group="decisions-answer")
    async def _reject(self, proposal: ProposalView) -> None:
        try:
            await self.backend.reject_proposal(proposal.id)
        except KeyError:
            self.notify(t("dec.gone"), severity="warning")
        except Exception as exc:
            self.notify(t("dec.failed_action", error=say(str(exc))), severity="error")
        else:
            self.notify(
                t(
                    "dec.rejected",
                    side=t(f"side.{proposal.side}"),
                    quantity=proposal.quantity,
                    symbol=proposal.symbol,
                )
            )
        self._stale = True
        self.refresh_data()

    # --- deciding now --------------------------------------------------------------------
    def _trader_to_decide(self) -> str | None:
        """The filtered trader, else the selected record's, else the first AI trader."""
        if self.trader_filter is not None:
            return self.trader_filter
        record = self.selected_record
        if record is not None:
            return record.trader_id
        for view in self.backend.traders():
            if view.kind in AI_KINDS:
                return view.id
        return None

    def action_decide_now(self) -> None:
        trader_id = self._trader_to_decide()
        if trader_id is None:
            self.notify(t("dec.no_ai"), severity="warning")
            return
        self.decide(trader_id)

    def decide(self, trader_id: str) -> None:
        """Ask an AI or hybrid trader to decide now (the palette's "Decide now" lands here)."""
        if self.backend.ai_status(trader_id) is None:
            self.notify(t("dec.not_ai", trader=self._trader_name(trader_id)), severity="warning")
            return
        self._decide(trader_id)

    @work(group="decisions-decide")
    async def _decide(self, trader_id: str) -> None:
        name = self._trader_name(trader_id)
        try:
            record = await self.backend.run_ai_cycle(trader_id)
        except Exception as exc:  # e.g. no model key: say so, keep the screen
            self.notify(t("dec.failed_action", error=say(str(exc))), severity="error")
            return
        if record.success:
            self.notify(
                t(
                    "dec.decided",
                    cycle=record.cycle,
                    trader=name,
                    actions=actions_summary(record).plain,
                )
            )
        else:
            self.notify(
                t("dec.decided_failed", cycle=record.cycle, trader=name, error=record.error),
                severity="error",
            )
        self.selected_record_id = record.id
        self._stale = True
        self.refresh_data()
