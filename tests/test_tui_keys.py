"""Keys a person relies on during a trading day, on a real LocalBackend under Pilot: the
simulator's pause and speed (keys, Settings, status bar), clocks that keep running behind a
dialog, and keys typed right after `b` that land in the ticket instead of being lost."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from textual import events
from textual.widgets import Button, Input, Select

from deepalpha.app.backend import MarketStatus
from deepalpha.app.runtime import SPEED_PREFERENCE
from deepalpha.app.tui import DeepAlphaApp
from deepalpha.screens.confirm import ConfirmScreen
from deepalpha.screens.navigation import next_speed
from deepalpha.screens.order_ticket import OrderTicket
from deepalpha.screens.settings import SettingsScreen
from deepalpha.widgets.status_bar import StatusBar
from tests.tui_support import running_app, wait_for


def status_text(app: DeepAlphaApp) -> str:
    """The status bar of the screen under any dialogs (the one a person sees on top)."""
    screen = next(s for s in reversed(app.screen_stack) if s.query(StatusBar))
    return str(screen.query_one(StatusBar).render())


def clock_of(text: str) -> str:
    """The ``HH:MM:SS`` of a status line."""
    return next(word for word in text.split() if word.count(":") == 2)


# --- pause and speed ----------------------------------------------------------------------
def test_the_speed_ladder() -> None:
    assert next_speed(60, 1) == 120
    assert next_speed(60, -1) == 30
    assert next_speed(36, 1) == 60  # a speed off the ladder steps to its neighbour
    assert next_speed(36, -1) == 30
    assert next_speed(600, 1) is None
    assert next_speed(1, -1) is None


def test_keys_pause_resume_and_step_the_simulator(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="market", speed=60) as (app, pilot):
            backend = app.backend
            await pilot.press("P")
            await pilot.pause()
            assert backend.market_status().paused
            assert "PAUSED" in status_text(app)
            held = backend.market_status().time
            await pilot.pause(0.3)
            assert backend.market_status().time == held  # nothing moves while paused
            await pilot.press("P")
            await pilot.pause()
            assert not backend.market_status().paused
            assert "PAUSED" not in status_text(app)

            assert "60×" in status_text(app)
            await pilot.press("right_square_bracket")
            await pilot.pause()
            assert backend.market_status().speed == 120
            assert "120×" in status_text(app)
            await pilot.press("left_square_bracket", "left_square_bracket")
            await pilot.pause()
            assert backend.market_status().speed == 30
            assert "30×" in status_text(app)
            assert await backend.get_preference(SPEED_PREFERENCE) == 30  # kept for next time

    asyncio.run(scenario())


def test_the_status_bar_says_paused_in_chinese(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="market", speed=60) as (app, pilot):
            await app.set_language("zh")
            await pilot.press("P")
            await pilot.pause()
            assert "已暂停" in status_text(app)
            assert "60×" in status_text(app)

    asyncio.run(scenario())


def test_a_market_that_is_not_simulated_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="market", speed=60) as (app, pilot):
            backend = app.backend
            real = backend.market_status

            def replay() -> MarketStatus:  # a replayed feed: speed and pause are not ours
                return dataclasses.replace(real(), simulated=False, label="CSV REPLAY")

            backend.market_status = replay  # type: ignore[method-assign]
            toasts: list[str] = []
            notify = app.notify
            app.notify = lambda message, **kw: (toasts.append(str(message)), notify(message, **kw))  # type: ignore[method-assign, func-returns-value]
            await pilot.press("P", "right_square_bracket")
            await pilot.pause()
            assert not real().paused and real().speed == 60
            assert len(toasts) == 2
            assert all("CSV REPLAY" in m and "simulated market" in m for m in toasts)

    asyncio.run(scenario())


def test_settings_sets_the_speed_and_pauses(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="settings", speed=60) as (app, pilot):
            screen = app.screen
            assert isinstance(screen, SettingsScreen)
            await wait_for(pilot, lambda: screen.query("#speed"))
            select = screen.query_one("#speed", Select)
            assert select.value == "60×"
            select.focus()
            await pilot.pause()
            # Open the list and pick 300× (1, 2, 5, 10, 30, 60, 120, 300, 600: two below 60×).
            await pilot.press("enter", "down", "down", "enter")
            await wait_for(pilot, lambda: app.backend.market_status().speed == 300)
            assert "300×" in status_text(app)

            button = screen.query_one("#pause-market", Button)
            assert str(button.label) == "Pause market"
            button.focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.backend.market_status().paused)
            assert str(button.label) == "Resume market"
            assert "PAUSED" in status_text(app)

            # A button takes no second press while it shows the first (a fifth of a second).
            await wait_for(pilot, lambda: not button.has_class("-active"))
            await pilot.press("enter")  # the same button resumes
            await wait_for(pilot, lambda: not app.backend.market_status().paused)
            await pilot.press("escape")  # off the button: the keys work on this screen too
            await pilot.press("right_square_bracket")
            await wait_for(pilot, lambda: app.backend.market_status().speed == 600)
            await wait_for(pilot, lambda: select.value == "600×")  # the control follows

    asyncio.run(scenario())


# --- clocks behind a dialog ---------------------------------------------------------------
def test_the_status_bar_clock_runs_behind_the_ticket_and_a_confirmation(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="market") as (app, pilot):
            await pilot.press("b")
            await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket))
            await pilot.pause(0.6)  # the screen below had its last tick as the ticket opened
            opened = clock_of(status_text(app))
            # The simulated market runs at 600×: its clock moves ten minutes a second.
            await wait_for(pilot, lambda: clock_of(status_text(app)) != opened)

            app.push_screen(ConfirmScreen("?"))
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.pause(0.6)
            asked = clock_of(status_text(app))
            await wait_for(pilot, lambda: clock_of(status_text(app)) != asked)

    asyncio.run(scenario())


# --- keys typed ahead of the ticket -------------------------------------------------------
def test_b_then_300_lands_in_the_ticket(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="dashboard") as (app, pilot):
            await pilot.press("b", "3", "0", "0")
            await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket))
            await pilot.pause()
            field = app.screen.focused
            assert isinstance(field, Input)
            await wait_for(pilot, lambda: field.value == "300")

    asyncio.run(scenario())


def test_keys_typed_at_once_after_b_are_not_lost(tmp_path: Path) -> None:
    """As a terminal delivers fast typing: every key queued before the first is handled."""

    async def scenario() -> None:
        async with running_app(tmp_path, screen="positions") as (app, pilot):
            await pilot.pause()
            sort = app.screen.sort_column  # type: ignore[attr-defined]
            for key in "b300":
                app.post_message(events.Key(key, key))
            await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket))
            ticket = app.screen
            await wait_for(pilot, lambda: isinstance(ticket.focused, Input))
            field = ticket.focused
            assert isinstance(field, Input)
            await wait_for(pilot, lambda: field.value == "300")
            assert app.screen_stack[-2].sort_column == sort  # type: ignore[attr-defined]

    asyncio.run(scenario())


def test_b_and_s_typed_in_a_settings_field_stay_text(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="settings") as (app, pilot):
            field = app.screen.query_one("#profile", Input)
            field.value = ""
            field.focus()
            await pilot.pause()
            await pilot.press("b", "s", "b")
            await pilot.pause(0.6)  # longer than a ticket takes to open
            assert not any(isinstance(s, OrderTicket) for s in app.screen_stack)
            assert field.value == "bsb"
            # Off the field, the same key opens the ticket.
            await pilot.press("escape")
            app.set_focus(None)
            await pilot.press("b")
            await wait_for(pilot, lambda: isinstance(app.screen, OrderTicket))

    asyncio.run(scenario())
