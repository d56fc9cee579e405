"""The admin screens (traders, backtest, backups, settings, help) driven by keys, on a real
LocalBackend in a temporary data directory."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from rich.console import Console
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.paths import settings_file
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.app.tui import DeepAlphaApp, make_app
from deepalpha.engine.orders import OrderRequest, OrderType, Side
from deepalpha.i18n import set_language
from deepalpha.screens.backtest import BacktestScreen, summary_table
from deepalpha.screens.backups import BackupsScreen
from deepalpha.screens.confirm import ConfirmScreen
from deepalpha.screens.help import HelpScreen
from deepalpha.screens.settings import KEYRING_SERVICE, SettingsScreen
from deepalpha.screens.traders import TraderForm, TradersScreen
from deepalpha.widgets.colours import convention, set_convention

SIZE = (120, 40)
Scenario = Callable[[DeepAlphaApp, Pilot[None]], Awaitable[None]]


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Language and colours are process-wide: start each test in English and leave it so."""
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    set_language("en")
    yield
    set_language("en")
    set_convention("cn")


def backend(data_dir: Path) -> LocalBackend:
    return LocalBackend(
        RuntimeOptions(data_dir=data_dir, speed=600, tick_interval=0.1, auto_backup=False)
    )


# Every toast of the running app (toasts expire from the screen; this list does not).
TOASTS: list[str] = []


def run(data_dir: Path, screen: str, scenario: Scenario) -> None:
    async def main() -> None:
        app = make_app(backend(data_dir), start_screen=screen)
        TOASTS.clear()
        notify = app.notify

        def record(message: str, **kwargs: Any) -> None:
            TOASTS.append(str(message))
            notify(message, **kwargs)

        app.notify = record  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await scenario(app, pilot)

    asyncio.run(main())


async def settle(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
    """Let messages, workers and the repaint that follows them run."""
    await pilot.pause()
    for _ in range(3):
        # Every worker but the app's event listener, which runs as long as the app.
        busy = [w for w in app.workers if w.group != "engine-events" and not w.is_finished]
        if busy:  # (an empty list would mean "all of them")
            await app.workers.wait_for_complete(busy)
        await pilot.pause()


async def wait_until(
    app: DeepAlphaApp, pilot: Pilot[None], check: Callable[[], bool], seconds: float = 15
) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await pilot.pause(0.05)
    await settle(app, pilot)
    assert check()


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])


async def tab_to(app: DeepAlphaApp, pilot: Pilot[None], widget_id: str, limit: int = 30) -> None:
    for _ in range(limit):
        if app.focused is not None and app.focused.id == widget_id:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached #{widget_id} (at {app.focused!r})")


# --- traders ------------------------------------------------------------------------------
def test_the_traders_table_names_the_baseline_in_the_language_shown(tmp_path: Path) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, TradersScreen)

        def models() -> set[str]:
            table = screen.query_one(DataTable)
            column = TradersScreen.COLUMNS.index("model")
            return {str(table.get_row_at(i)[column]) for i in range(table.row_count)}

        assert "baseline (no LLM)" in models()
        await app.set_language("zh")
        await settle(app, pilot)
        assert "基准规则（无大模型）" in models() and "baseline (no LLM)" not in models()
        await app.set_language("en")

    run(tmp_path, "traders", scenario)


def test_create_trader_by_keyboard_and_it_persists(tmp_path: Path) -> None:
    async def create(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, TradersScreen)
        assert screen.query_one(DataTable).row_count == 3  # the demo traders
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, TraderForm)
        await type_text(pilot, "Alpha Fund")
        await tab_to(app, pilot, "max_order_value")
        await type_text(pilot, "50000")
        await tab_to(app, pilot, "max_open_orders")
        await type_text(pilot, "lots")
        await pilot.press("enter")
        await settle(app, pilot)
        # A bad field keeps the form open, says what is wrong and goes back to it.
        assert app.screen is form
        assert "not a whole number" in str(form.query_one("#error", Label).render())
        assert app.focused is not None and app.focused.id == "max_open_orders"
        await pilot.press(*["backspace"] * 4)
        await type_text(pilot, "7")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TradersScreen)
        views = {v.name: v for v in app.backend.traders()}
        alpha = views["Alpha Fund"]
        assert alpha.id == "alpha-fund"
        assert alpha.kind == "discretionary"
        assert alpha.cash == {"CNY": Decimal(1_000_000)}
        assert alpha.limits.max_order_value == Decimal(50000)
        assert alpha.limits.max_open_orders == 7
        assert alpha.limits.max_daily_loss is None
        await wait_until(app, pilot, lambda: screen.query_one(DataTable).row_count == 4)

    run(tmp_path, "traders", create)

    async def reopened(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        views = {v.name: v for v in app.backend.traders()}
        assert views["Alpha Fund"].limits.max_order_value == Decimal(50000)
        assert views["Alpha Fund"].limits.max_open_orders == 7
        assert app.screen.query_one(DataTable).row_count == 4

    run(tmp_path, "traders", reopened)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_new_trader_form_has_no_hint_that_looks_like_a_value(tmp_path: Path, lang: str) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        await app.set_language(lang)
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, TraderForm)
        hints = {i.id: i.placeholder for i in form.query(Input)}
        for field, hint in hints.items():
            # A placeholder reads as a hint, never as a number someone could take as typed.
            assert hint, field
            assert re.search(r"[^\d\s,.]", hint), (field, hint)
        for field in ("name", "symbols", "cash_cny", "cash_hkd"):
            assert re.search(r"e\.g\.|例如", hints[field]), (field, hints[field])
        # The opening cash is a real value, filled in with its separators and read back.
        assert form.query_one("#cash_cny", Input).value == "1,000,000"
        assert form.query_one("#cash_hkd", Input).value == ""
        form.query_one("#name", Input).value = "Delta"
        assert form.build().cash == {"CNY": Decimal(1_000_000)}

    run(tmp_path, "traders", scenario)


def test_edit_limits_and_create_an_ai_trader_with_its_model_and_symbols(tmp_path: Path) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        await pilot.press("e")  # the first row: You
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, TraderForm)
        assert form.query_one("#ai-rows").has_class("hidden")  # not an AI trader
        await tab_to(app, pilot, "max_daily_loss")
        await type_text(pilot, "12345.5")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.backend.trader_config("you").limits.max_daily_loss == Decimal("12345.5")
        # A new AI trader: its model, the symbols it watches and how often it decides.
        await pilot.press("n")
        await settle(app, pilot)
        await type_text(pilot, "Robo")
        await pilot.press("tab", "enter", "down", "enter")  # kind: discretionary → ai
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, TraderForm)
        assert form.query_one("#kind", Select).value == "ai"
        assert not form.query_one("#ai-rows").has_class("hidden")
        assert form.query_one("#model", Select).value == "baseline"
        await tab_to(app, pilot, "symbols")
        await type_text(pilot, "600519, 0700x")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        # An unknown code keeps the form open and names it.
        assert app.screen is form
        assert "0700x" in str(form.query_one("#error", Label).render())
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        await type_text(pilot, "00700")
        await tab_to(app, pilot, "interval")
        await pilot.press("backspace")
        await type_text(pilot, "3")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        robo = next(v for v in app.backend.traders() if v.name == "Robo")
        assert robo.kind == "ai"
        assert robo.model_label == "baseline (no LLM)"
        config = app.backend.trader_config(robo.id)
        assert config.model_profile == "baseline"
        assert config.settings["symbols"] == ["600519.SH", "00700.HK"]
        assert config.settings["interval_minutes"] == 3
        # It is scheduled at once: the engine knows it as an AI trader with that interval.
        status = app.backend.ai_status(robo.id)
        assert status is not None and status.interval_minutes == 3 and status.error is None

    run(tmp_path, "traders", scenario)


def test_start_stop_toggles(tmp_path: Path) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        def running(trader_id: str) -> bool:
            return next(v for v in app.backend.traders() if v.id == trader_id).running

        await pilot.press("down")  # SMA Bot
        assert running("sma-bot")
        await pilot.press("space")
        await settle(app, pilot)
        assert not running("sma-bot")
        local = app.backend
        assert isinstance(local, LocalBackend)
        assert not local.runtime.strategy_traders["sma-bot"].running
        await pilot.press("r")
        await settle(app, pilot)
        assert running("sma-bot")
        messages = list(TOASTS)
        assert "Stopped SMA Bot" in messages and "Started SMA Bot" in messages

    run(tmp_path, "traders", scenario)


# --- backtest -----------------------------------------------------------------------------
def test_backtest_on_real_file_by_keyboard(tmp_path: Path, real_data: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,code,open,high,low,close,volume\n2023-08-14,600519,x,1,1,1,5\n")

    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        names = [p.name for p in screen.files]
        assert "a_600519_daily.csv" in names
        await tab_to(app, pilot, "bt-files")
        await pilot.press(*["down"] * names.index("a_600519_daily.csv"), "space")
        assert screen.chosen_files() == [real_data / "a_600519_daily.csv"]
        qty = screen.query_one("#bt-qty", Input)
        qty.value = "150"  # not a whole board lot: the run buys 100 and says so
        await pilot.press("ctrl+r")
        await wait_until(app, pilot, lambda: screen.report is not None or screen.error is not None)
        await settle(app, pilot)
        assert screen.error is None
        assert screen.report is not None
        summary = screen.report["summary"]
        assert summary["bars"] > 100
        assert summary["notes"] == [
            "sma_cross: qty=150 buys 100 shares of 600519.SH (rounded down to its board lot of 100)"
        ]
        shown = Console(width=120, record=True)
        shown.print(screen.query_one("#bt-summary", Static).content)
        assert "rounded down to its board lot of 100" in shown.export_text()
        console = Console(width=200, record=True)
        console.print(summary_table(screen.report))
        text = console.export_text()
        assert "Sharpe" in app.export_screenshot()  # the summary is on screen
        for label in ("Return", "Annualised", "Sharpe", "Max drawdown", "Fees", "Turnover"):
            assert label in text
        assert "Rejected orders" in text and "Expired orders" in text
        # A broken file: the job's message, naming the file and line, and no crash.
        await pilot.press("space")  # un-pick the real file
        await tab_to(app, pilot, "bt-paths")
        await type_text(pilot, str(bad))
        await pilot.press("enter")
        await wait_until(app, pilot, lambda: screen.error is not None)
        assert screen.error is not None and "bad.csv" in screen.error
        assert screen.report is None
        # A missing file is caught before running.
        await pilot.press(*["backspace"] * len(str(bad)))
        await type_text(pilot, "/nowhere/x.csv")
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "no such file" in str(screen.query_one("#bt-error", Static).render())

    run(tmp_path / "data", "backtest", scenario)


FIVE_MIN = "a_600519_5min_2026.csv"


async def pick_ai_backtest(
    app: DeepAlphaApp, pilot: Pilot[None], screen: BacktestScreen, model_steps: int
) -> None:
    """The 5-minute Moutai file, the AI trader, the model ``model_steps`` down the list and
    one decision every 240 minutes (two a day)."""
    names = [p.name for p in screen.files]
    await tab_to(app, pilot, "bt-files")
    await pilot.press(*["down"] * names.index(FIVE_MIN), "space")
    await tab_to(app, pilot, "bt-strategy")
    await pilot.press("enter", "down", "down", "enter")  # sma_cross → orders → AI trader
    await settle(app, pilot)
    assert screen.query_one("#bt-strategy", Select).value == "ai"
    assert not screen.query_one("#bt-model").has_class("hidden")
    assert screen.query_one("#bt-sma").has_class("hidden")
    if model_steps:
        await tab_to(app, pilot, "bt-model")
        await pilot.press("enter", *["down"] * model_steps, "enter")
    await tab_to(app, pilot, "bt-interval")
    await pilot.press("backspace")
    await type_text(pilot, "240")


def test_an_ai_backtest_from_the_screen_with_the_baseline(tmp_path: Path, real_data: Path) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        await pick_ai_backtest(app, pilot, screen, 0)
        await pilot.press("ctrl+r")
        await wait_until(app, pilot, lambda: screen.report is not None or screen.error is not None)
        assert screen.error is None and screen.report is not None
        ai = screen.report["summary"]["ai"]
        assert (ai["model"], ai["interval_minutes"], ai["model_calls"]) == (
            "baseline (no LLM)",
            240,
            0,
        )
        assert ai["cycles"] == len(screen.report["decisions"]) > 30
        await settle(app, pilot)
        console = Console(width=200, record=True)
        console.print(summary_table(screen.report))
        text = console.export_text()
        assert "Decision cycles" in text and "baseline (no LLM)" in text
        assert "Decision&#160;cycles" in app.export_screenshot()  # and it is on screen

    run(tmp_path / "data", "backtest", scenario)


def test_a_paid_model_backtest_asks_before_it_spends(
    tmp_path: Path, real_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deepseek profile pointed at a scripted loopback server: the screen shows the
    estimate and runs nothing until the person says yes."""
    from tests.fake_openai import Scripted, chat_body, fake_openai

    wait = Scripted(200, chat_body("<reasoning>calm</reasoning><decision>[]</decision>"))
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test-key-1234")
    with fake_openai([wait] * 200) as server:
        config = tmp_path / "settings.toml"
        config.write_text(
            f'[ai.profiles.deepseek]\nbase_url = "{server.url}"\nretries = 0\n', "utf-8"
        )
        monkeypatch.setenv("DEEPALPHA_CONFIG", str(config))

        async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
            screen = app.screen
            assert isinstance(screen, BacktestScreen)
            profiles = [p for p, _ in app.backend.model_profiles()]
            await pick_ai_backtest(app, pilot, screen, profiles.index("deepseek"))
            assert screen.query_one("#bt-model", Select).value == "deepseek"
            await pilot.press("ctrl+r")
            await wait_until(app, pilot, lambda: isinstance(app.screen, ConfirmScreen), 60)
            question = str(app.screen.query_one("#question", Label).render())
            assert "deepseek · deepseek-chat" in question and "CNY" in question
            cost = screen.cost
            assert cost is not None and cost.calls > 30 and cost.cached == 0 and cost.priced
            assert f"{cost.calls} model calls" in question
            assert server.requests == []  # the estimate asked nothing
            await pilot.press("n")
            await settle(app, pilot)
            assert screen.report is None and server.requests == []
            assert "Not run" in str(screen.query_one("#bt-summary", Static).render())
            # Yes this time: the calls are made, with the key, and their cost reported.
            await pilot.press("ctrl+r")
            await wait_until(app, pilot, lambda: isinstance(app.screen, ConfirmScreen), 60)
            await pilot.press("y")
            await wait_until(
                app, pilot, lambda: screen.report is not None or screen.error is not None, 60
            )
            assert screen.error is None and screen.report is not None
            ai = screen.report["summary"]["ai"]
            assert ai["model_calls"] == cost.calls == len(server.requests)
            assert Decimal(ai["cost"]) > 0 and ai["currency"] == "CNY"

        run(tmp_path / "data", "backtest", scenario)


# --- backups ------------------------------------------------------------------------------
def test_backup_and_restore_with_confirmation(tmp_path: Path) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, BackupsScreen)
        await pilot.press("c")
        await wait_until(app, pilot, lambda: len(screen.backups) == 1)
        assert any("Backup written" in n for n in TOASTS)
        await pilot.press("v")
        await wait_until(app, pilot, lambda: any(" is sound" in n for n in TOASTS))
        # An order placed after the backup...
        quote = app.backend.quotes()["600519.SH"]
        price = (quote.last * Decimal("0.95")).quantize(Decimal("0.01"))
        order = await app.backend.place_order(
            OrderRequest("you", "600519.SH", Side.BUY, 100, OrderType.LIMIT, price)
        )
        assert any(o.id == order.id for o in app.backend.orders())
        # ...is gone once the backup is restored (after a confirmation that says so).
        await pilot.press("r")
        await settle(app, pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "safety copy" in confirm.detail and "restarts" in confirm.detail
        await pilot.press("y")
        await wait_until(
            app,
            pilot,
            lambda: any("Restored from" in n for n in TOASTS),
            seconds=30,
        )
        assert not any(o.id == order.id for o in app.backend.orders())
        # The app keeps working on the restored engine: its event listener still hears it.
        after = await app.backend.place_order(
            OrderRequest("you", "600519.SH", Side.BUY, 100, OrderType.LIMIT, price)
        )
        assert any(o.id == after.id for o in app.backend.orders())
        await app.action_goto("traders")
        await settle(app, pilot)
        assert app.screen.query_one(DataTable).row_count == 3  # the demo traders

    run(tmp_path, "backups", scenario)


# --- settings -----------------------------------------------------------------------------
async def choose(app: DeepAlphaApp, pilot: Pilot[None], select_id: str, index: int) -> None:
    """Open a Select by keys and pick its option number ``index`` (from the top)."""
    await tab_to(app, pilot, select_id)
    await pilot.press("enter", "home", *["down"] * index, "enter")
    await settle(app, pilot)


def test_every_settings_button_says_what_it_does(tmp_path: Path) -> None:
    bare = {"save", "ok", "clear", "apply", "cancel", "yes", "no", "保存", "清除", "确定", "应用"}

    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        assert isinstance(app.screen, SettingsScreen)
        for lang in ("en", "zh"):
            await app.set_language(lang)
            await settle(app, pilot)
            buttons = list(app.screen.query(Button))
            labels = [str(b.label) for b in buttons]
            assert labels, lang
            # The label is on screen, not only in the widget: a row one line high showed a
            # bordered button's borders and none of its label.
            assert all(b.content_region.height >= 1 for b in buttons), lang
            for label in labels:
                # An object with the verb: "Save key", not a bare "Save" nor an icon.
                assert label.strip().lower() not in bare, (lang, label)
                assert sum(ch.isalpha() for ch in label) >= 4, (lang, label)
        await app.set_language("en")

    run(tmp_path, "settings", scenario)


def test_theme_change_applies_and_survives_a_restart(tmp_path: Path) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        assert isinstance(app.screen, SettingsScreen)
        assert app.theme == "textual-dark"
        await choose(app, pilot, "theme", 1)
        assert app.theme == "textual-light"

    run(tmp_path, "settings", scenario)

    async def reopened(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        assert app.theme == "textual-light"
        assert app.screen.query_one("#theme", Select).value == "light"

    run(tmp_path, "settings", reopened)


def test_language_switch_relabels(tmp_path: Path) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert str(screen.query_one("#l-theme", Label).render()) == "Theme"
        await choose(app, pilot, "language", 2)  # auto → English → 中文
        assert str(screen.query_one("#l-theme", Label).render()) == "主题"
        assert await app.backend.get_preference("language") == "zh"
        start = convention()
        await choose(app, pilot, "colours", 1 if start == "cn" else 0)
        assert convention() != start
        assert await app.backend.get_preference("colours") == convention()

    run(tmp_path, "settings", scenario)


def test_data_paths_are_shown_and_database_passwords_masked(tmp_path: Path) -> None:
    from deepalpha.screens.settings import mask_url

    assert mask_url("postgresql+asyncpg://me:s3cret@db:5432/x") == (
        "postgresql+asyncpg://me:***@db:5432/x"
    )

    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        text = app.export_screenshot()
        assert str(tmp_path.name) in text

    run(tmp_path, "settings", scenario)


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(before)


def test_model_key_goes_to_keyring_and_is_never_shown(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    secret = "sk-test-0123456789"

    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        assert screen.keyring_problem is None
        assert screen.key_states["deepseek"] == "unset"
        await tab_to(app, pilot, "api-key")
        assert screen.query_one("#api-key", Input).password
        await type_text(pilot, secret)
        assert secret not in app.export_screenshot()
        await pilot.press("enter")
        await settle(app, pilot)
        assert memory_keyring.store[(KEYRING_SERVICE, "model:deepseek")] == secret
        assert screen.key_states["deepseek"] == "set"
        assert screen.query_one("#api-key", Input).value == ""
        shot = app.export_screenshot()
        assert secret not in shot
        assert "set" in shot.replace("&#160;", " ")
        assert all(secret not in n for n in TOASTS)
        await tab_to(app, pilot, "clear-key")
        await pilot.press("enter")
        await settle(app, pilot)
        assert (KEYRING_SERVICE, "model:deepseek") not in memory_keyring.store
        assert screen.key_states["deepseek"] == "unset"

    run(tmp_path, "settings", scenario)


def test_no_keyring_backend_points_to_the_environment(tmp_path: Path) -> None:
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:

        async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
            screen = app.screen
            assert isinstance(screen, SettingsScreen)
            assert screen.keyring_problem
            warning = str(screen.query_one("#keyring-warning", Static).render())
            assert "DEEPSEEK_API_KEY" in warning
            assert screen.query_one("#api-key", Input).disabled

        run(tmp_path, "settings", scenario)
    finally:
        keyring.set_keyring(before)


# --- help ---------------------------------------------------------------------------------
def test_help_lists_every_binding_id(tmp_path: Path) -> None:
    async def scenario(app: DeepAlphaApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        ids = set(screen.binding_ids)
        app_ids = {b.id for b in DeepAlphaApp.BINDINGS if isinstance(b, Binding)}
        assert app_ids and app_ids <= ids
        assert {"traders.new", "traders.toggle", "backups.restore", "backtest.run"} <= ids
        assert {"confirm.yes", "trader_form.save"} <= ids
        note = str(screen.query_one("#help-note", Static).render())
        assert "[ui.keys]" in note
        assert str(settings_file(app.backend.data_dir)) in note

    run(tmp_path, "help", scenario)
