"""The Decisions screen and the AI figures on the dashboard, by keyboard through Pilot on a real
LocalBackend: a hybrid trader's proposals (from a scripted model server) approved, rejected and
approved with another quantity; the record's detail; the leaderboard's win rate and drawdown for
a trader with known round trips."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Collapsible, DataTable, Input, Static

from deepalpha.app.backend import Backend, TraderView
from deepalpha.app.commands import workstation_commands
from deepalpha.app.local_backend import LocalBackend
from deepalpha.app.runtime import RuntimeOptions
from deepalpha.app.tui import make_app
from deepalpha.engine.ai.records import DecisionRecord
from deepalpha.engine.marketdata import Quote
from deepalpha.engine.markets.sessions import SHANGHAI, Phase
from deepalpha.engine.markets.symbols import Market
from deepalpha.engine.orders import OrderRequest, OrderStatus, Side
from deepalpha.engine.risk import RiskLimits
from deepalpha.engine.traders import TraderConfig, TraderKind
from deepalpha.i18n import from_stored, say, t
from deepalpha.i18n.text_ai import TEXT
from deepalpha.screens.dashboard import DashboardScreen, leader_cells, two_places
from deepalpha.screens.decisions import DecisionsScreen, QuantityForm
from deepalpha.widgets.trader_card import TraderCard
from tests.fake_openai import FakeOpenAI, Scripted, chat_body, fake_openai
from tests.tui_support import running_app, wait_for

D = Decimal
HYBRID = "hy"
SPEED = 120  # simulated seconds per second: the morning session outlasts the test
MOUTAI, CMB, PINGAN, ICBC = "600519.SH", "600036.SH", "601318.SH", "601398.SH"


def plain(static: Static) -> str:
    """What a Static shows, as plain text (its content may be a Group of lines)."""
    console = Console(width=400, file=io.StringIO(), record=True)
    console.print(static.content)
    return console.export_text()


def text_of(screen: DecisionsScreen, selector: str) -> str:
    content = screen.query_one(selector, Static).content
    assert isinstance(content, Text)
    return content.plain


def buy(symbol: str, quantity: int, last: Decimal, why: str) -> dict[str, Any]:
    """A buy whose reward:risk (2:1 against ``last``) passes the rules."""
    return {
        "symbol": symbol,
        "action": "buy",
        "quantity": quantity,
        "stop_loss": float((last * D("0.97")).quantize(D("0.01"))),
        "take_profit": float((last * D("1.06")).quantize(D("0.01"))),
        "confidence": 0.8,
        "reasoning": why,
    }


def scripted_reply(backend: Backend) -> str:
    """Three buys that become proposals, and a sell of shares the trader does not hold (the
    rules reject it, with a reason to say in either language)."""
    q = backend.quotes()
    decisions = [
        buy(MOUTAI, 100, q[MOUTAI].last, "moutai breaks out"),
        buy(CMB, 1000, q[CMB].last, "bank dividend"),
        buy(PINGAN, 500, q[PINGAN].last, "insurer cheap"),
        {"symbol": ICBC, "action": "sell", "quantity": 100, "confidence": 0.9},
    ]
    return (
        "<reasoning>Scripted: three buys to review by hand.</reasoning>"
        f"<decision>{json.dumps(decisions)}</decision>"
    )


def settings_file(tmp_path: Path, server: FakeOpenAI) -> Path:
    """A profile on the scripted server, priced so the record has a cost."""
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[ai.profiles.fake]
base_url = "{server.url}"
model = "fake-model"
retries = 0

[ai.prices."fake-model"]
input = 2
output = 8
currency = "CNY"
""",
        "utf-8",
    )
    return path


async def add_hybrid(backend: Backend) -> None:
    # Not running: the scheduler leaves it alone and only "decide now" (the d key) asks it,
    # so each scripted reply goes to the cycle the test expects.
    await backend.save_trader(
        TraderConfig(
            HYBRID,
            "Hybrid Desk",
            TraderKind.HYBRID,
            model_profile="fake",
            settings={
                "symbols": [MOUTAI, CMB, PINGAN, ICBC],
                "interval_minutes": 60,
                "proposal_minutes": 600,  # hours of simulated time: none expires mid-test
            },
            running=False,
        ),
        {"CNY": D(2_000_000)},
    )


async def continuous(pilot: Pilot[None], backend: Backend) -> None:
    await wait_for(
        pilot,
        lambda: (
            backend.market_status().phases.get(Market.CN) is Phase.CONTINUOUS
            and {MOUTAI, CMB, PINGAN, ICBC} <= backend.quotes().keys()
        ),
    )


def running(backend: Backend) -> bool:
    status = backend.ai_status(HYBRID)
    return status is not None and status.running


def record_of(backend: Backend, record_id: str) -> DecisionRecord:
    return next(r for r in backend.decisions(HYBRID) if r.id == record_id)


def test_hybrid_proposals_approved_rejected_and_edited_by_keyboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(server: FakeOpenAI) -> None:
        async with running_app(tmp_path, screen="decisions", size=(160, 50), speed=SPEED) as (
            app,
            pilot,
        ):
            backend = app.backend
            screen = app.screen
            assert isinstance(screen, DecisionsScreen)
            await add_hybrid(backend)
            await continuous(pilot, backend)
            server.push(
                Scripted(
                    200,
                    chat_body(scripted_reply(backend), prompt_tokens=1200, completion_tokens=80),
                )
            )

            # t narrows the screen to the hybrid trader; d asks it to decide now.
            while screen.trader_filter != HYBRID:
                await pilot.press("t")
            await pilot.press("d")
            proposals = screen.proposals_table
            await wait_for(pilot, lambda: proposals.row_count == 3)
            record = backend.decisions(HYBRID)[0]
            assert [r["status"] for r in record.results] == [
                "proposed",
                "proposed",
                "proposed",
                "rejected",
            ]
            assert len(server.requests) == 1

            # The detail: reasoning, each decision's outcome, the raw reply, figures.
            await wait_for(pilot, lambda: screen.selected_record_id == record.id)
            await pilot.pause(0.6)
            assert text_of(screen, "#dec-reasoning") == "Scripted: three buys to review by hand."
            assert text_of(screen, "#dec-raw") == record.raw_reply
            results = plain(screen.query_one("#dec-results", Static))
            assert "moutai breaks out" in results
            assert results.count(t("dec.result.proposed")) == 3
            rejected = record.results[3]
            reason = from_stored(
                rejected["reject_key"], rejected["reject_params"], rejected["reject_reason"]
            )
            assert reason and say(reason) in results
            head = plain(screen.query_one("#dec-head", Static))
            assert "fake-model" in head and "1,200 in / 80 out" in head
            assert "¥0.0030" in head  # 1,200 × ¥2 + 80 × ¥8 per million tokens
            assert "BUY 600519 100 ?" in screen.records_table.get_cell(record.id, "actions").plain

            # a approves the first proposal: an order is placed and the record says so.
            await pilot.press("a")
            await wait_for(
                pilot,
                lambda: record_of(backend, record.id).results[0]["status"] == "approved",
            )
            approved = [o for o in backend.orders() if o.trader_id == HYBRID]
            assert [(o.symbol, o.side, o.quantity, o.source) for o in approved] == [
                (MOUTAI, Side.BUY, 100, "ai")
            ]
            assert approved[0].status is not OrderStatus.REJECTED
            assert record_of(backend, record.id).results[0]["order_id"] == approved[0].id
            await wait_for(pilot, lambda: proposals.row_count == 2)

            # r rejects the next one: no order, the record says the user rejected it.
            await pilot.press("r")
            await wait_for(
                pilot,
                lambda: record_of(backend, record.id).results[1]["status"] == "user_rejected",
            )
            assert not [o for o in backend.orders() if o.symbol == CMB and o.trader_id == HYBRID]
            await wait_for(pilot, lambda: proposals.row_count == 1)

            # e edits the last one's quantity: a broken lot is refused in the form, 200 goes.
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, QuantityForm))
            form = app.screen
            box = form.query_one("#qty", Input)
            assert box.value == "500"
            await pilot.press(*["backspace"] * 3, "1", "5", "0", "enter")
            await pilot.pause()
            assert isinstance(app.screen, QuantityForm)  # still open: 150 is not a lot
            assert "150" in plain(form.query_one("#qty-error", Static))
            await pilot.press(*["backspace"] * 3, "2", "0", "0", "enter")
            await wait_for(
                pilot,
                lambda: record_of(backend, record.id).results[2]["status"] == "approved",
            )
            edited = [o for o in backend.orders() if o.symbol == PINGAN and o.trader_id == HYBRID]
            assert [o.quantity for o in edited] == [200]
            assert record_of(backend, record.id).results[2]["quantity"] == 200
            await wait_for(pilot, lambda: proposals.row_count == 0)
            assert app.screen is screen

            # The list says what became of each: approved, rejected by you, approved at 200.
            await pilot.pause(0.6)
            actions = screen.records_table.get_cell(record.id, "actions").plain
            assert "BUY 600519 100 ✓" in actions
            assert f"BUY 600036 1000 ✗ {t('dec.mark.user_rejected')}" in actions
            assert "BUY 601318 200 ✓" in actions
            assert "SELL 601398 100 ✗" in actions

            # In Chinese the same record says its reasons in Chinese.
            await app.set_language("zh")
            await pilot.pause(0.6)
            results = plain(screen.query_one("#dec-results", Static))
            assert t("dec.result.user_rejected", "zh") in results
            assert reason is not None and say(reason, "zh") in results
            assert say(reason, "zh") != say(reason, "en")
            await app.set_language("en")

            # The script is spent: three failed answers in a row put the trader in safe mode,
            # which the bar, the card and the leaderboard all show.
            for asked in range(2, 5):  # model calls so far, the scripted one included
                await pilot.press("d")
                await wait_for(
                    pilot,
                    lambda: len(server.requests) == asked and not running(backend),  # noqa: B023
                )
            failed = backend.decisions(HYBRID)[0]
            assert not failed.success and failed.error
            await wait_for(pilot, lambda: view_of(backend, HYBRID).safe_mode)
            await pilot.pause(0.6)
            bar = screen.query_one("#dec-bar", Static).content
            assert t("dec.safe_mode", failures=3) in str(bar)
            assert screen.records_table.get_cell(failed.id, "ok").plain == "✗"
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.pause(0.6)
            card = app.screen.query_one(f"#card-{HYBRID}", TraderCard)
            assert t("dash.safe_mode") in card.text and card.has_class("-safe")
            board = app.screen.query_one("#leaderboard", DataTable)
            assert board.get_cell(HYBRID, "trader").plain == "⚠ Hybrid Desk"

    with fake_openai() as server:
        monkeypatch.setenv("DEEPALPHA_CONFIG", str(settings_file(tmp_path, server)))
        asyncio.run(scenario(server))


def test_nothing_to_approve_prompts_and_the_palette_at_80_columns(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="decisions", size=(80, 24), speed=SPEED) as (
            app,
            pilot,
        ):
            screen = app.screen
            assert isinstance(screen, DecisionsScreen)
            await pilot.press("a")
            await pilot.pause()
            assert t("dec.none_waiting") in [n.message for n in app._notifications]
            # The demo AI trader decides on its own; its records list and show in the detail.
            await wait_for(pilot, lambda: screen.records_table.row_count > 0, timeout=20)
            await wait_for(pilot, lambda: screen.selected_record is not None)
            keys = [c.key.value for c in screen.records_table.ordered_columns]
            assert {"time", "trader", "actions", "ok"} <= set(keys)
            width = sum(
                c.get_render_width(screen.records_table)
                for c in screen.records_table.ordered_columns
            )
            assert width <= 78
            # p opens and closes both prompts.
            system = screen.query_one("#dec-system-box", Collapsible)
            user = screen.query_one("#dec-user-box", Collapsible)
            await pilot.press("p")
            await pilot.pause()
            assert not system.collapsed and not user.collapsed
            await pilot.press("p")
            await pilot.pause()
            assert system.collapsed and user.collapsed
            # The palette asks an AI trader to decide now and shows the record here.
            command = next(c for c in workstation_commands(app) if c.title == "Decide now: AI Demo")
            await pilot.press("f2")
            await pilot.pause()
            command.callback()
            await wait_for(pilot, lambda: app.current_mode == "decisions")
            await wait_for(
                pilot,
                lambda: any(
                    str(n.message).startswith("Cycle ") and "of AI Demo" in str(n.message)
                    for n in app._notifications
                ),
            )

    asyncio.run(scenario())


# --- the leaderboard ------------------------------------------------------------------------

TENCENT = "00700.HK"
START = datetime(2026, 11, 27, 9, 29, 45, tzinfo=SHANGHAI)
FROZEN = datetime(2026, 11, 27, 10, 30, tzinfo=SHANGHAI)


def view_of(backend: Backend, trader_id: str) -> TraderView:
    return next(v for v in backend.traders() if v.id == trader_id)


def test_leader_cells_say_win_rate_drawdown_and_safe_mode() -> None:
    base = TraderView(
        id="x",
        name="Bot",
        kind="ai",
        running=True,
        halted=None,
        model_label="baseline (no LLM)",
        equity=D(90),
        deposits=D(100),
        day_pnl=D(0),
        cash={},
        positions=0,
        open_orders=0,
        trades=3,
        fees=D(5),
        limits=RiskLimits(),
    )
    cells = leader_cells(
        1, dataclasses.replace(base, win_rate=D("0.6667"), max_drawdown=D("0.0534"))
    )
    assert cells["win"].plain == "66.7%"
    assert cells["mdd"].plain == "5.34%"
    assert cells["trader"].plain == "Bot"
    none = leader_cells(1, base)
    assert none["win"].plain == "—" and none["mdd"].plain == "—"
    safe = leader_cells(1, dataclasses.replace(base, safe_mode=True))
    assert safe["trader"].plain == "⚠ Bot" and "red" in str(safe["trader"].style)
    assert leader_cells(1, base, model_width=10)["model"].plain == t("dec.baseline")
    assert leader_cells(1, base)["model"].plain == "baseline (no LLM)"


def test_leaderboard_shows_win_rate_and_drawdown_of_known_round_trips(tmp_path: Path) -> None:
    """On a frozen market: a winning round trip (the bid pushed up before the sell), an
    end-of-day equity snapshot at that peak, then a losing one. Win rate 1 of 2; the drawdown
    is the fall from the peak to now."""

    async def scenario() -> None:
        backend = LocalBackend(
            RuntimeOptions(
                data_dir=tmp_path, seed=7, start_at=START, frozen_at=FROZEN, auto_backup=False
            )
        )
        app = make_app(backend, start_screen="dashboard")
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            await backend.save_trader(
                TraderConfig("rt", "Round Trips", TraderKind.DISCRETIONARY),
                {"HKD": D(1_000_000)},
            )
            broker = backend.runtime.broker

            def quote(bid: Decimal, ask: Decimal) -> None:
                now = backend.market_status().time
                broker.on_quote(Quote(TENCENT, now, bid, bid, ask, 100_000, 100_000))

            async def trip(sell_bid: Decimal) -> None:
                quote(D("480.00"), D("480.20"))
                await backend.place_order(OrderRequest("rt", TENCENT, Side.BUY, 200))
                quote(sell_bid, sell_bid + D("0.20"))
                await backend.place_order(OrderRequest("rt", TENCENT, Side.SELL, 200))

            await trip(D("500.00"))  # bought at 480.20, sold at 500.00: a winner
            peak = view_of(backend, "rt").equity
            broker.snapshot_equity(FROZEN.date())  # the day's point on the equity curve
            await trip(D("460.00"))  # sold at 460.00: a loser
            now = view_of(backend, "rt").equity
            assert now < peak

            screen = app.screen
            assert isinstance(screen, DashboardScreen)
            table = screen.query_one("#leaderboard", DataTable)
            await pilot.pause(1.2)  # a repaint
            keys = [c.key.value for c in table.ordered_columns]
            assert keys == [
                "rank",
                "trader",
                "model",
                "return",
                "pnl",
                "win",
                "mdd",
                "trades",
                "fees",
            ]
            row = dict(zip(keys, table.get_row("rt"), strict=True))
            assert row["win"].plain == "50.0%"
            assert row["trades"].plain == "2"
            assert row["mdd"].plain == two_places((peak - now) / peak * 100)
            assert row["mdd"].plain != "0.00%"
            no_trips = dict(zip(keys, table.get_row("you"), strict=True))
            assert no_trips["win"].plain == "—"

            # 80 columns: P&L gives way, win rate and drawdown stay.
            await pilot.resize_terminal(80, 24)
            await pilot.pause(1.2)
            keys = [c.key.value for c in table.ordered_columns]
            assert "win" in keys and "mdd" in keys and "pnl" not in keys
            assert sum(c.get_render_width(table) for c in table.ordered_columns) <= 78

    asyncio.run(scenario())


def test_every_decisions_text_is_said_in_both_languages() -> None:
    for key, (en, zh) in TEXT.items():
        assert en.strip() and zh.strip(), key
        assert t(key, "en") == en and t(key, "zh") == zh
