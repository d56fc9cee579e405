"""The backtest screen: bar files, a strategy (or an orders CSV), cash → a report and a curve.

The backtest runs in a thread (the backend's job); its progress callback arrives on that
thread and is marshalled to the UI with ``app.call_from_thread``. Bad input (a file, a line of
it, a parameter) is shown as the one-line message the job raises, with the file and line.
"""

from __future__ import annotations

import contextlib
import shlex
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, ProgressBar, Select, SelectionList, Static
from textual_plotext import PlotextPlot

import deepalpha
from deepalpha.app.backend import BacktestCost
from deepalpha.i18n import language, money, t
from deepalpha.screens.base import BaseScreen, localize_bindings
from deepalpha.screens.confirm import ConfirmScreen
from deepalpha.widgets.colours import change_style

# The shared real-data folder beside a checkout; a user's machine may not have it.
REAL_DATA = Path(deepalpha.__file__).resolve().parents[2] / "shared" / "data" / "real"
BINDING_TEXT = {"backtest.run": "backtest.key_run"}
ORDERS_FILE = "orders-file"
AI_TRADER = "ai"


def data_files(folder: Path = REAL_DATA) -> list[Path]:
    """The bar files (CSV) in ``folder``, by name; none when it does not exist."""
    try:
        return sorted(p for p in folder.glob("*.csv") if p.is_file())
    except OSError:
        return []


def split_paths(text: str) -> list[Path]:
    """Paths typed by hand: separated by spaces or commas, quoted when they hold spaces."""
    try:
        words = shlex.split(text.replace(",", " "))
    except ValueError:
        words = text.replace(",", " ").split()
    return [Path(w).expanduser() for w in words if w]


class BacktestInput(ValueError):
    def __init__(self, field_id: str, message: str) -> None:
        super().__init__(message)
        self.field_id = field_id
        self.message = message


class BacktestScreen(BaseScreen):
    TITLE_KEY = "screen.backtest"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", t("backtest.key_run"), id="backtest.run", priority=True),
    ]
    DEFAULT_CSS = """
    BacktestScreen #bt-main { height: 1fr; }
    BacktestScreen #bt-form { width: 40%; min-width: 34; max-width: 46; height: 1fr; padding: 0 1; }
    BacktestScreen #bt-form Label { margin-top: 1; color: $text-muted; }
    BacktestScreen #bt-files { height: auto; max-height: 10; }
    BacktestScreen .inline { height: auto; }
    BacktestScreen .inline Input { width: 1fr; }
    BacktestScreen .hidden { display: none; }
    BacktestScreen #bt-result { width: 1fr; height: 1fr; }
    BacktestScreen #bt-progress { height: 1; margin: 0 1; }
    BacktestScreen #bt-summary { height: auto; padding: 0 1; }
    BacktestScreen #bt-error { height: auto; padding: 0 1; color: $error; text-style: bold; }
    BacktestScreen #bt-chart { height: 1fr; min-height: 12; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.files = data_files()
        self.report: dict[str, Any] | None = None
        self.error: str | None = None
        self.running = False
        self.cost: BacktestCost | None = None  # the last estimate shown for a paid model
        self._lang = language()

    # --- layout -------------------------------------------------------------------------
    def body(self) -> ComposeResult:
        with Horizontal(id="bt-main"):
            with VerticalScroll(id="bt-form"):
                yield Static(t("screen.backtest"), classes="title", id="bt-title")
                yield Label(t("backtest.files"), id="bt-files-label")
                if self.files:
                    yield SelectionList[str](*[(p.name, str(p)) for p in self.files], id="bt-files")
                else:
                    yield Static(t("backtest.no_shared", folder=str(REAL_DATA)), classes="muted")
                yield Label(t("backtest.paths"), id="bt-paths-label")
                yield Input(placeholder="/path/a.csv, /path/b.csv", id="bt-paths", compact=True)
                yield Label(t("backtest.strategy"), id="bt-strategy-label")
                yield Select(
                    [
                        ("sma_cross", "sma_cross"),
                        (t("backtest.orders_csv"), ORDERS_FILE),
                        (t("backtest.ai_trader"), AI_TRADER),
                    ],
                    value="sma_cross",
                    allow_blank=False,
                    id="bt-strategy",
                    compact=True,
                )
                yield Label(t("backtest.sma_params"), id="bt-sma-label")
                with Horizontal(classes="inline", id="bt-sma"):
                    yield Input("5", id="bt-fast", placeholder="fast", compact=True)
                    yield Input("20", id="bt-slow", placeholder="slow", compact=True)
                    yield Input("100", id="bt-qty", placeholder="qty", compact=True)
                yield Label(t("backtest.orders_path"), id="bt-orders-label", classes="hidden")
                yield Input(
                    placeholder="orders.csv", id="bt-orders", classes="hidden", compact=True
                )
                yield Label(t("backtest.ai_model"), id="bt-model-label", classes="hidden")
                yield Select(
                    [(label, p) for p, label in self.backend.model_profiles()],
                    value="baseline",
                    allow_blank=False,
                    id="bt-model",
                    classes="hidden",
                    compact=True,
                )
                yield Label(t("backtest.ai_interval"), id="bt-interval-label", classes="hidden")
                yield Input(
                    str(self.backend.ai_interval_minutes()),
                    id="bt-interval",
                    classes="hidden",
                    compact=True,
                )
                yield Label(t("backtest.cash"), id="bt-cash-label")
                yield Input("1000000", id="bt-cash", compact=True)
                yield Static(t("backtest.hint"), classes="muted", id="bt-hint")
            with VerticalScroll(id="bt-result"):
                yield ProgressBar(total=100, show_eta=False, id="bt-progress")
                yield Static(t("backtest.ready"), id="bt-summary")
                yield Static("", id="bt-error")
                yield PlotextPlot(id="bt-chart")

    def on_mount(self) -> None:
        super().on_mount()
        localize_bindings(self, BINDING_TEXT)
        self._draw_chart()

    def on_screen_resume(self) -> None:
        if self._lang != language():
            self.relabel()
        super().on_screen_resume()

    def relabel(self) -> None:
        self._lang = language()
        for widget_id, key in (
            ("bt-title", "screen.backtest"),
            ("bt-files-label", "backtest.files"),
            ("bt-paths-label", "backtest.paths"),
            ("bt-strategy-label", "backtest.strategy"),
            ("bt-sma-label", "backtest.sma_params"),
            ("bt-orders-label", "backtest.orders_path"),
            ("bt-model-label", "backtest.ai_model"),
            ("bt-interval-label", "backtest.ai_interval"),
            ("bt-cash-label", "backtest.cash"),
            ("bt-hint", "backtest.hint"),
        ):
            self.query_one(f"#{widget_id}", Static).update(t(key))
        localize_bindings(self, BINDING_TEXT)
        self.refresh_bindings()
        self._show_result()

    @on(Select.Changed, "#bt-strategy")
    def _strategy_changed(self, event: Select.Changed) -> None:
        shown = {
            "sma_cross": ("bt-sma", "bt-sma-label"),
            ORDERS_FILE: ("bt-orders", "bt-orders-label"),
            AI_TRADER: ("bt-model", "bt-model-label", "bt-interval", "bt-interval-label"),
        }
        for choice, widgets in shown.items():
            for widget_id in widgets:
                self.query_one(f"#{widget_id}").set_class(event.value != choice, "hidden")

    # --- input --------------------------------------------------------------------------
    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def chosen_files(self) -> list[Path]:
        chosen: list[Path] = []
        for lst in self.query("#bt-files").results(SelectionList):
            chosen += [Path(v) for v in lst.selected]
        chosen += split_paths(self._value("bt-paths"))
        return list(dict.fromkeys(chosen))  # no file twice, in the order chosen

    def request(self) -> dict[str, Any]:
        """The backtest the form describes; :class:`BacktestInput` names the first problem."""
        files = self.chosen_files()
        if not files:
            raise BacktestInput("bt-paths", t("backtest.err_no_files"))
        for path in files:
            if not path.is_file():
                raise BacktestInput("bt-paths", t("backtest.err_missing", path=str(path)))
        try:
            cash = Decimal(self._value("bt-cash").replace(",", "").replace("_", ""))
        except InvalidOperation:
            raise BacktestInput("bt-cash", t("backtest.err_cash")) from None
        if not cash.is_finite() or cash <= 0:
            raise BacktestInput("bt-cash", t("backtest.err_cash"))
        kwargs: dict[str, Any] = {"data": files, "cash": cash}
        choice = self.query_one("#bt-strategy", Select).value
        if choice == AI_TRADER:
            text = self._value("bt-interval")
            if not text.isdigit() or not 1 <= int(text) <= 240:
                raise BacktestInput("bt-interval", t("backtest.err_interval"))
            model = self.query_one("#bt-model", Select).value
            kwargs["ai_model"] = model if isinstance(model, str) else "baseline"
            kwargs["ai_interval"] = int(text)
        elif choice == ORDERS_FILE:
            text = self._value("bt-orders")
            orders = Path(text).expanduser() if text else None
            if orders is None or not orders.is_file():
                raise BacktestInput("bt-orders", t("backtest.err_orders", path=text or "—"))
            kwargs["orders_file"] = orders
        else:
            params: dict[str, str] = {}
            for name in ("fast", "slow", "qty"):
                text = self._value(f"bt-{name}")
                if not text.isdigit() or int(text) <= 0:
                    raise BacktestInput(f"bt-{name}", t("backtest.err_param", name=name))
                params[name] = text
            if int(params["fast"]) >= int(params["slow"]):
                raise BacktestInput("bt-fast", t("backtest.err_fast_slow"))
            kwargs["strategy"] = "sma_cross"
            kwargs["params"] = params
        return kwargs

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    # --- running ------------------------------------------------------------------------
    def action_run(self) -> None:
        if self.running:
            self.notify(t("backtest.busy"), severity="warning")
            return
        try:
            kwargs = self.request()
        except BacktestInput as exc:
            self.error, self.report = exc.message, None
            self._show_result()
            self.query_one(f"#{exc.field_id}", Input).focus()
            return
        self.running = True
        self.error, self.report = None, None
        bar = self.query_one(ProgressBar)
        bar.update(total=100, progress=0)
        self.query_one("#bt-summary", Static).update(t("backtest.running"))
        self.query_one("#bt-error", Static).update("")
        if "ai_model" in kwargs:
            self._run_ai(kwargs)
        else:
            self._run(kwargs)

    def _progress(self, done: int, total: int) -> None:
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)

    def _progress_from_thread(self, done: int, total: int) -> None:
        """Called on the backtest's thread: hand the numbers to the UI thread."""
        # RuntimeError: the app is shutting down; the report will not be shown.
        with contextlib.suppress(RuntimeError):
            self.app.call_from_thread(self._progress, done, total)

    @work(exclusive=True, group="backtest")
    async def _run(self, kwargs: dict[str, Any]) -> None:
        await self._execute(kwargs)

    async def _execute(self, kwargs: dict[str, Any]) -> None:
        try:
            report = await self.backend.run_backtest(**kwargs, progress=self._progress_from_thread)
        except Exception as exc:  # bad data, bad orders file: its message names file and line
            self.error = str(exc) or type(exc).__name__
            self.notify(self.error, title=t("backtest.failed"), severity="error", timeout=10)
        else:
            self.report = report
            bar = self.query_one(ProgressBar)
            bar.update(progress=bar.total or 100)
            self.notify(t("backtest.done"))
        finally:
            self.running = False
        self._show_result()

    @work(exclusive=True, group="backtest")
    async def _run_ai(self, kwargs: dict[str, Any]) -> None:
        """A paid model runs only once the person has seen what it would cost (replies
        already cached cost nothing and are not counted)."""
        try:
            cost = await self.backend.estimate_backtest(
                kwargs["data"],
                kwargs["cash"],
                ai_model=kwargs["ai_model"],
                ai_interval=kwargs["ai_interval"],
                progress=self._progress_from_thread,
            )
        except Exception as exc:  # a missing key, an unknown profile: say so, run nothing
            self.error = str(exc) or type(exc).__name__
            self.notify(self.error, title=t("backtest.failed"), severity="error", timeout=10)
            self.running = False
            self._show_result()
            return
        if cost is not None and cost.calls:
            self.cost = cost
            amount = f"{cost.currency} {cost.cost:.4f}" if cost.priced else t("backtest.unpriced")
            question = t(
                "backtest.confirm_cost",
                model=f"{cost.profile} · {cost.model}",
                calls=cost.calls,
                cached=cost.cached,
                amount=amount,
            )
            go = await self.app.push_screen_wait(ConfirmScreen(question))
            if not go:
                self.running = False
                self.query_one("#bt-summary", Static).update(t("backtest.not_run"))
                return
        await self._execute(kwargs)

    # --- the report ---------------------------------------------------------------------
    def _show_result(self) -> None:
        summary = self.query_one("#bt-summary", Static)
        error = self.query_one("#bt-error", Static)
        error.update(Text(self.error) if self.error else "")
        if self.report is None:
            summary.update("" if self.error else t("backtest.ready"))
            self._draw_chart()
            return
        wide = self.query_one("#bt-result").size.width >= 70
        notes = self.report["summary"].get("notes") or []
        # A quantity the board lot rounded changes what the run means: say it beside the figures.
        shown = Group(summary_table(self.report, wide=wide), *(_note(n) for n in notes))
        summary.update(shown)
        self._draw_chart()

    def on_resize(self) -> None:
        if self.report is not None:
            self.call_after_refresh(self._show_result)

    def _draw_chart(self) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(t("backtest.curve"))
        equity = (self.report or {}).get("equity") or []
        if equity:
            plt.date_form("Y-m-d")
            dates = [row["date"] for row in equity]
            values = [float(row["equity"]) for row in equity]
            plt.plot(dates, values, marker="braille")
        plot.refresh()


def _note(text: str) -> Text:
    return Text(f"⚠ {text}", style="yellow")


def _pct(value: str | None) -> Text:
    if value is None:
        return Text("—")
    d = Decimal(value)
    return Text(f"{d * 100:+.2f}%", style=change_style(d))


def summary_table(report: dict[str, Any], *, wide: bool = True) -> Table:
    """Return, annualised, Sharpe, drawdown, trades, fees, turnover, rejections and expiries."""
    s = report["summary"]
    statuses = Counter(o["status"] for o in report.get("orders", []))
    table = Table.grid(padding=(0, 2))
    for _ in range(2 if wide else 1):
        table.add_column(style="dim", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
    cur = s.get("currency", "CNY")
    sharpe = s.get("sharpe")
    win = s.get("win_rate")
    cells: list[tuple[str, Text | str]] = [
        (t("backtest.r_period"), f"{s.get('start') or '—'} → {s.get('end') or '—'}"),
        (t("backtest.r_bars"), f"{s.get('bars', 0):,}"),
        (t("backtest.r_initial"), money(Decimal(s["initial_cash"]), cur)),
        (t("backtest.r_final"), money(Decimal(s["final_equity"]), cur)),
        (t("backtest.r_return"), _pct(s.get("total_return"))),
        (t("backtest.r_annual"), _pct(s.get("annualized_return"))),
        (t("backtest.r_sharpe"), f"{Decimal(sharpe):.2f}" if sharpe is not None else "—"),
        (t("backtest.r_drawdown"), _pct_plain(s.get("max_drawdown"))),
        (t("backtest.r_trades"), f"{s.get('trades', 0):,} / {s.get('round_trips', 0):,}"),
        (t("backtest.r_win"), _pct_plain(win)),
        (t("backtest.r_fees"), money(Decimal(s.get("fees_total") or 0), cur)),
        (t("backtest.r_turnover"), f"{Decimal(s.get('turnover') or 0):.2f}×"),
        (t("backtest.r_rejected"), str(statuses.get("rejected", 0))),
        (t("backtest.r_expired"), str(statuses.get("expired", 0))),
    ]
    ai = s.get("ai")
    if ai:
        cells += [
            (t("backtest.r_model"), str(ai.get("model") or ai.get("profile"))),
            (t("backtest.r_cycles"), f"{ai.get('cycles', 0):,}"),
            (
                t("backtest.r_calls"),
                f"{ai.get('model_calls', 0):,} / {ai.get('cached_replies', 0):,}",
            ),
            (t("backtest.r_cost"), f"{ai.get('currency', 'CNY')} {ai.get('cost', '0')}"),
        ]
    if not wide:
        for label, value in cells:
            table.add_row(label, value)
        return table
    for i in range(0, len(cells), 2):
        (a, av), (b, bv) = cells[i], cells[i + 1]
        table.add_row(a, av, b, bv)
    return table


def _pct_plain(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.2f}%"
