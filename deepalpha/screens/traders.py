"""The traders screen: who trades, how they are doing, and their risk limits.

``n`` opens a form for a new trader (name, kind, opening cash, risk limits), ``e`` edits the
selected one's name and limits, ``space``/``r`` starts or stops it. Commissions are global
settings (``[fees]`` in settings.toml), so the form shows them but does not edit them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Select, Static

from deepalpha.app.backend import TraderView
from deepalpha.engine.ids import new_id
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.i18n import language, money, t
from deepalpha.screens.base import BaseScreen, localize_bindings
from deepalpha.widgets.colours import change_style
from deepalpha.widgets.formats import model_text

# Binding id → catalogue key of its description (relabelled on a language change).
BINDING_TEXT = {
    "traders.new": "traders.key_new",
    "traders.edit": "traders.key_edit",
    "traders.toggle": "traders.key_toggle",
    "trader_form.cancel": "common.cancel",
    "trader_form.save": "traders.save",
}
AI_KINDS = (TraderKind.AI, TraderKind.HYBRID)
DEFAULT_SMA = {"strategy": "sma_cross", "fast": 5, "slow": 20, "qty": 100, "bar_seconds": 300}
LIMIT_FIELDS = (
    ("max_position_value", "money"),
    ("max_order_value", "money"),
    ("max_open_orders", "count"),
    ("max_orders_per_minute", "count"),
    ("max_daily_loss", "money"),
)


class FormError(ValueError):
    """A field the user must correct: which input, and what is wrong."""

    def __init__(self, field_id: str, message: str) -> None:
        super().__init__(message)
        self.field_id = field_id
        self.message = message


def parse_money(
    field_id: str, text: str, label: str, *, required: bool = False, zero_ok: bool = False
) -> Decimal | None:
    """A positive amount (or zero with ``zero_ok``), or ``None`` when left empty (no limit)."""
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        if required:
            raise FormError(field_id, t("traders.err_required", field=label))
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FormError(field_id, t("traders.err_number", field=label, text=text)) from None
    if not value.is_finite() or value < 0 or (value == 0 and not zero_ok):
        key = "traders.err_not_negative" if zero_ok else "traders.err_positive"
        raise FormError(field_id, t(key, field=label))
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise FormError(field_id, t("traders.err_cents", field=label))
    return value


def parse_count(field_id: str, text: str, label: str, *, minimum: int = 1) -> int | None:
    """A whole number of at least ``minimum``, or ``None`` when left empty."""
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise FormError(field_id, t("traders.err_whole", field=label, text=text)) from None
    if value < minimum:
        raise FormError(field_id, t("traders.err_minimum", field=label, minimum=minimum))
    return value


def trader_id_for(name: str, taken: set[str]) -> str:
    """A readable id from the name (``my-bot``); a random one for names without latin
    letters or digits (e.g. Chinese names)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24]
    if not slug:
        slug = f"trader-{new_id()[-6:]}"
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate


@dataclass(frozen=True, slots=True)
class TraderFormResult:
    config: TraderConfig
    cash: dict[str, Decimal] | None  # opening cash (a new trader only)


class TraderForm(ModalScreen[TraderFormResult | None]):
    """Create a trader, or edit one's name, limits and strategy parameters.

    Tab moves between fields, Enter in any field saves, Escape cancels."""

    DEFAULT_CSS = """
    TraderForm { align: center middle; }
    TraderForm > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    TraderForm .row { height: auto; width: 100%; }
    TraderForm .row > Label { width: 26; padding: 0 1 0 0; }
    TraderForm .row > Input, TraderForm .row > Select { width: 1fr; }
    TraderForm .section { text-style: bold; margin-top: 1; }
    TraderForm #error { color: $error; text-style: bold; height: auto; }
    TraderForm .note { color: $text-muted; height: auto; }
    TraderForm #model-note { color: $text-muted; height: auto; }
    TraderForm #ai-rows { height: auto; }
    TraderForm .hidden { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", t("common.cancel"), id="trader_form.cancel"),
        Binding("ctrl+s", "save", t("traders.save"), id="trader_form.save"),
    ]

    def __init__(
        self,
        existing: TraderConfig | None,
        taken: set[str],
        fee_note: str = "",
        *,
        models: Sequence[tuple[str, str]] = (("baseline", "baseline (no LLM)"),),
        check_symbol: Callable[[str], str | None] = lambda s: s,
        default_interval: int = 5,
    ) -> None:
        super().__init__()
        self.existing = existing
        self.taken = taken
        self.fee_note = fee_note
        self.models = list(models)  # (profile, label)
        self.check_symbol = check_symbol  # the canonical symbol, or None if unknown
        self.default_interval = default_interval

    def _row(self, label_key: str, widget: Any, *, row_id: str | None = None) -> Horizontal:
        return Horizontal(Label(t(label_key)), widget, classes="row", id=row_id)

    def compose(self) -> ComposeResult:
        ex = self.existing
        limits = ex.limits if ex else RiskLimits()
        settings = {**DEFAULT_SMA, **(ex.settings if ex else {})}
        kinds = [(t(f"traders.kind_{k.value}"), k.value) for k in TraderKind]
        with VerticalScroll():
            title = t("traders.form_edit", name=ex.name) if ex else t("traders.form_new")
            yield Static(title, classes="title")
            name_field = Input(
                ex.name if ex else "", id="name", placeholder=t("traders.ph_name"), compact=True
            )
            yield self._row("traders.f_name", name_field)
            kind = Select(
                kinds,
                value=(ex.kind.value if ex else TraderKind.DISCRETIONARY.value),
                allow_blank=False,
                id="kind",
                disabled=ex is not None,
                compact=True,
            )
            yield self._row("traders.f_kind", kind)
            with Vertical(id="ai-rows", classes="hidden"):
                yield Static(t("traders.s_ai"), classes="section")
                profile = (ex.model_profile if ex else None) or self.models[0][0]
                known = {p for p, _ in self.models}
                yield self._row(
                    "traders.f_model",
                    Select(
                        [(label, p) for p, label in self.models],
                        value=profile if profile in known else self.models[0][0],
                        allow_blank=False,
                        id="model",
                        compact=True,
                    ),
                )
                symbols = ", ".join(settings.get("symbols") or [])
                yield self._row(
                    "traders.f_symbols",
                    Input(symbols, id="symbols", placeholder=t("traders.ph_symbols"), compact=True),
                )
                interval = settings.get("interval_minutes") or self.default_interval
                yield self._row(
                    "traders.f_interval",
                    Input(
                        str(interval),
                        id="interval",
                        placeholder=t("traders.ph_interval", minutes=self.default_interval),
                        compact=True,
                    ),
                )
                yield Static(t("traders.ai_note"), classes="note", id="model-note")
            with Horizontal(classes="row", id="strategy-row"):
                yield Label(t("traders.f_sma"))
                for field in ("fast", "slow", "qty"):
                    yield Input(
                        str(settings[field]),
                        id=field,
                        placeholder=t(f"traders.ph_{field}", default=DEFAULT_SMA[field]),
                        compact=True,
                    )
            if ex is None:
                yield Static(t("traders.s_cash"), classes="section")
                # A real opening amount, filled in (and read back with its separators); the
                # placeholder, dim and worded as a hint, shows only once the field is cleared.
                yield self._row(
                    "traders.f_cash_cny",
                    Input(
                        "1,000,000",
                        id="cash_cny",
                        placeholder=t("traders.ph_cash", example="1,000,000"),
                        compact=True,
                    ),
                )
                yield self._row(
                    "traders.f_cash_hkd",
                    Input(
                        "",
                        id="cash_hkd",
                        placeholder=t("traders.ph_cash", example="500,000"),
                        compact=True,
                    ),
                )
            yield Static(t("traders.s_limits"), classes="section")
            for name, _kind in LIMIT_FIELDS:
                value = getattr(limits, name)
                yield self._row(
                    f"traders.l_{name}",
                    Input(
                        "" if value is None else f"{value:,}",
                        id=name,
                        placeholder=t("traders.no_limit"),
                        compact=True,
                    ),
                )
            yield Static(t("traders.s_fees"), classes="section")
            yield Static(self.fee_note, classes="note", id="fees", markup=False)
            yield Static(t("traders.fees_global"), classes="note", markup=False)
            yield Label("", id="error")
            yield Static(t("traders.form_keys"), classes="note")

    def on_mount(self) -> None:
        localize_bindings(self, BINDING_TEXT)  # the class's texts are in the import's language
        self._show_kind()
        self.query_one("#name", Input).focus()

    @on(Select.Changed, "#kind")
    def _show_kind(self) -> None:
        kind = self._kind()
        self.query_one("#strategy-row").set_class(kind is not TraderKind.STRATEGY, "hidden")
        self.query_one("#ai-rows").set_class(kind not in AI_KINDS, "hidden")

    def _kind(self) -> TraderKind:
        value = self.query_one("#kind", Select).value
        return TraderKind(value) if isinstance(value, str) else TraderKind.DISCRETIONARY

    def _text(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    def build(self) -> TraderFormResult:
        """The trader the form describes; :class:`FormError` names the first bad field."""
        name = self._text("name").strip()
        if not name:
            raise FormError("name", t("traders.err_name"))
        kind = self._kind()
        values: dict[str, Any] = {}
        for field, kind_of in LIMIT_FIELDS:
            label = t(f"traders.l_{field}")
            if kind_of == "money":
                values[field] = parse_money(field, self._text(field), label)
            else:
                values[field] = parse_count(field, self._text(field), label)
        ex = self.existing
        base = ex.limits if ex else RiskLimits()
        limits = dataclasses.replace(base, **values)
        settings = dict(ex.settings) if ex else {}
        if kind is TraderKind.STRATEGY:
            fast = parse_count("fast", self._text("fast"), "fast") or 5
            slow = parse_count("slow", self._text("slow"), "slow") or 20
            qty = parse_count("qty", self._text("qty"), "qty") or 100
            if fast >= slow:
                raise FormError("fast", t("traders.err_sma", fast=fast, slow=slow))
            settings = {**DEFAULT_SMA, **settings, "fast": fast, "slow": slow, "qty": qty}
        profile = ex.model_profile if ex else None
        if kind in AI_KINDS:
            symbols = []
            for text in re.split(r"[,，\s]+", self._text("symbols")):
                if not text:
                    continue
                symbol = self.check_symbol(text)
                if symbol is None:
                    raise FormError("symbols", t("traders.err_symbols", text=text))
                if symbol not in symbols:
                    symbols.append(symbol)
            if not symbols:
                raise FormError("symbols", t("traders.err_no_symbols"))
            interval = parse_count("interval", self._text("interval"), t("traders.f_interval"))
            chosen = self.query_one("#model", Select).value
            profile = chosen if isinstance(chosen, str) else profile
            settings = {
                **settings,
                "symbols": symbols,
                "interval_minutes": interval or self.default_interval,
            }
        cash: dict[str, Decimal] | None = None
        if ex is None:
            cny = parse_money(
                "cash_cny", self._text("cash_cny"), t("traders.f_cash_cny"), zero_ok=True
            )
            hkd = parse_money(
                "cash_hkd", self._text("cash_hkd"), t("traders.f_cash_hkd"), zero_ok=True
            )
            if not cny and not hkd:
                raise FormError("cash_cny", t("traders.err_no_cash"))
            cash = {c: Decimal(v) for c, v in (("CNY", cny), ("HKD", hkd)) if v}
            config = TraderConfig(
                trader_id_for(name, self.taken),
                name,
                kind,
                limits=limits,
                settings=settings,
                model_profile=profile,
            )
        else:
            config = dataclasses.replace(
                ex, name=name, limits=limits, settings=settings, model_profile=profile
            )
        return TraderFormResult(config, cash)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        error = self.query_one("#error", Label)
        try:
            result = self.build()
        except FormError as exc:
            error.update(exc.message)
            self.query_one(f"#{exc.field_id}", Input).focus()
            return
        error.update("")
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)


def fee_note() -> str:
    """The commission rates in force (global settings, not per trader)."""
    from deepalpha.app.settings import Settings, SettingsError  # noqa: PLC0415

    try:
        fees = Settings().fees
    except (SettingsError, ValueError) as exc:
        return str(exc)
    return t(
        "traders.fees_line",
        cn_rate=f"{(fees.cn_commission_rate * 100).normalize():f}",
        cn_min=fees.cn_commission_min,
        hk_rate=f"{(fees.hk_commission_rate * 100).normalize():f}",
        hk_min=fees.hk_commission_min,
    )


class TradersScreen(BaseScreen):
    TITLE_KEY = "screen.traders"
    REFRESH_SECONDS = 1.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", t("traders.key_new"), id="traders.new"),
        Binding("e", "edit", t("traders.key_edit"), id="traders.edit"),
        Binding("space,r", "start_stop", t("traders.key_toggle"), id="traders.toggle"),
    ]
    DEFAULT_CSS = """
    TradersScreen #traders-table { height: 1fr; }
    TradersScreen #traders-detail { height: auto; max-height: 8; padding: 0 1; }
    """
    COLUMNS = ("name", "kind", "model", "state", "equity", "return", "orders", "limits")

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[str, tuple[Any, ...]]] = []
        self._lang = language()

    def body(self) -> ComposeResult:
        yield Static(t("screen.traders"), classes="title", id="traders-title")
        yield DataTable(id="traders-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="traders-detail", classes="muted")

    def on_mount(self) -> None:
        super().on_mount()
        self._columns()
        localize_bindings(self, BINDING_TEXT)

    def _columns(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        self._rows = []
        for col in self.COLUMNS:
            table.add_column(t(f"traders.c_{col}"), key=col)

    def on_screen_resume(self) -> None:
        if self._lang != language():
            self.relabel()
        super().on_screen_resume()

    def relabel(self) -> None:
        self._lang = language()
        self.query_one("#traders-title", Static).update(t("screen.traders"))
        self._columns()
        localize_bindings(self, BINDING_TEXT)
        self.refresh_bindings()
        self.refresh_data()

    # --- painting -----------------------------------------------------------------------
    def _row(self, v: TraderView) -> tuple[Any, ...]:
        if v.halted:
            state = Text(t("traders.halted"), style="bold red")
        elif v.running:
            state = Text(t("traders.running"), style="green")
        else:
            state = Text(t("traders.stopped"), style="yellow")
        ret = v.return_pct
        lim = v.limits
        limit_bits = [
            f"{t('traders.short_order')}≤{lim.max_order_value:,}" if lim.max_order_value else "",
            f"{t('traders.short_loss')}≤{lim.max_daily_loss:,}" if lim.max_daily_loss else "",
        ]
        return (
            v.name,
            t(f"traders.kind_{v.kind}"),
            model_text(v.model_label),
            state,
            Text(money(v.equity, compact=True), justify="right"),
            Text(f"{ret:+.2f}%", style=change_style(ret), justify="right"),
            Text(str(v.open_orders), justify="right"),
            " ".join(b for b in limit_bits if b) or t("common.none"),
        )

    def refresh_data(self) -> None:
        views = self.backend.traders()
        rows = [(v.id, self._row(v)) for v in views]
        table = self.query_one(DataTable)
        if [r[0] for r in rows] != [r[0] for r in self._rows]:
            cursor = table.cursor_row
            table.clear()
            for key, cells in rows:
                table.add_row(*cells, key=key)
            if rows:
                table.move_cursor(row=min(cursor, len(rows) - 1))
        else:
            with self.app.batch_update():
                for (key, cells), (_, old) in zip(rows, self._rows, strict=True):
                    for col, new, prev in zip(self.COLUMNS, cells, old, strict=True):
                        if str(new) != str(prev) or getattr(new, "style", None) != getattr(
                            prev, "style", None
                        ):
                            table.update_cell(key, col, new)
        self._rows = rows
        self._detail(views)

    def _detail(self, views: list[TraderView]) -> None:
        view = self._selected_view(views)
        detail = self.query_one("#traders-detail", Static)
        if view is None:
            detail.update(t("traders.empty"))
            return
        cash = "  ".join(money(a, c) for c, a in sorted(view.cash.items()))
        text = t(
            "traders.detail",
            name=view.name,
            id=view.id,
            cash=cash,
            positions=view.positions,
            trades=view.trades,
            fees=money(view.fees),
            pnl=money(view.pnl, sign=True),
        )
        if view.halted:
            text += "\n" + t("traders.halted_reason", reason=view.halted)
        detail.update(text)

    def _selected_view(self, views: list[TraderView] | None = None) -> TraderView | None:
        views = views if views is not None else self.backend.traders()
        table = self.query_one(DataTable)
        if not views or table.row_count == 0:
            return None
        key = self._rows[table.cursor_row][0] if table.cursor_row < len(self._rows) else None
        return next((v for v in views if v.id == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(self.backend.traders())

    # --- actions ------------------------------------------------------------------------
    def _form(self, config: TraderConfig | None) -> TraderForm:
        taken = {v.id for v in self.backend.traders()}
        return TraderForm(
            config,
            taken,
            fee_note(),
            models=self.backend.model_profiles(),
            check_symbol=self._symbol,
            default_interval=self.backend.ai_interval_minutes(),
        )

    def _symbol(self, text: str) -> str | None:
        """The instrument a typed code means, exactly (a name search is not good enough)."""
        wanted = text.strip().upper()
        for inst in self.backend.search(text, limit=5):
            if wanted in (inst.symbol, inst.symbol.split(".")[0]):
                return inst.symbol
        return None

    def action_new(self) -> None:
        self.app.push_screen(self._form(None), self._saved)

    def action_edit(self) -> None:
        view = self._selected_view()
        if view is None:
            self.notify(t("traders.none_selected"), severity="warning")
            return
        config = self.backend.trader_config(view.id)
        self.app.push_screen(self._form(config), self._saved)

    def _saved(self, result: TraderFormResult | None) -> None:
        if result is not None:
            self._save(result)

    @work(group="traders")
    async def _save(self, result: TraderFormResult) -> None:
        try:
            await self.backend.save_trader(result.config, result.cash)
        except Exception as exc:  # the store refused: say why, keep the screen alive
            self.notify(str(exc), title=t("traders.save_failed"), severity="error", timeout=10)
            return
        self.notify(t("traders.saved", name=result.config.name))
        self.refresh_data()

    def action_start_stop(self) -> None:
        view = self._selected_view()
        if view is None:
            self.notify(t("traders.none_selected"), severity="warning")
            return
        self._toggle(view.id, view.name, not view.running or view.halted is not None)

    @work(group="traders")
    async def _toggle(self, trader_id: str, name: str, running: bool) -> None:
        try:
            await self.backend.set_trader_running(trader_id, running)
        except Exception as exc:
            self.notify(str(exc), title=t("toast.error_title"), severity="error")
            return
        key = "traders.started" if running else "traders.stopped_toast"
        self.notify(t(key, name=name), severity="information" if running else "warning")
        self.refresh_data()
