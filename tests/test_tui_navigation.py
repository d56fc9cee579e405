"""Moving around the workstation by keyboard: every screen key, a remapped key from the
settings file, and the command palette's commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deepalpha.app.commands import workstation_commands
from deepalpha.app.tui import SCREEN_KEYS, SCREENS
from tests.tui_support import running_app


def test_every_screen_has_a_key_and_the_last_screen_is_kept(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="market") as (app, pilot):
            for name in SCREENS:
                await pilot.press(SCREEN_KEYS[name])
                await pilot.pause()
                assert app.current_mode == name
            await pilot.press(SCREEN_KEYS["orders"])
            await pilot.pause(0.3)
        async with running_app(tmp_path, screen=None) as (app, _pilot):
            assert app.current_mode == "orders"  # the last screen comes back after a restart

    asyncio.run(scenario())


def test_keys_can_be_remapped_in_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEEPALPHA_CONFIG")  # read the data directory's own settings.toml
    data = tmp_path / "data"
    data.mkdir(parents=True)
    (data / "settings.toml").write_text('[ui.keys]\n"screen.positions" = "ctrl+o"\n', "utf-8")

    async def scenario() -> None:
        async with running_app(tmp_path, screen="market") as (app, pilot):
            await pilot.press("ctrl+o")
            await pilot.pause()
            assert app.current_mode == "positions"
            await pilot.press("f5")  # the old key no longer does it
            await pilot.pause()
            assert app.current_mode == "positions"
            await pilot.press("f3", "f5")
            await pilot.pause()
            assert app.current_mode == "market"

    asyncio.run(scenario())


def test_the_palette_offers_the_workstation_commands(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="market") as (app, pilot):
            titles = [c.title for c in workstation_commands(app)]
            for expected in (
                "Cancel all open orders",
                "Create a backup now",
                "Switch trader to SMA Bot",
                "Stop trader SMA Bot",
                "Go to Orders",
            ):
                assert expected in titles
            assert any(t.startswith("Go to symbol 600519.SH") for t in titles)
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Go to Positions")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert app.current_mode == "positions"

    asyncio.run(scenario())
