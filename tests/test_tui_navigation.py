"""Moving around the workstation by keyboard: every screen key, a remapped key from the
settings file, and the command palette's commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.command import CommandInput, CommandList, CommandPalette

from deepalpha.app.commands import workstation_commands
from deepalpha.screens.navigation import SCREEN_KEYS, SCREENS
from tests.tui_support import running_app, wait_for


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
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Go to Positions")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert app.current_mode == "positions"

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("typed", "symbol"),
    [("mout", "600519.SH"), ("茅台", "600519.SH"), ("600519", "600519.SH"), ("tenc", "00700.HK")],
)
def test_the_palette_finds_a_symbol_by_code_chinese_or_english_name(
    tmp_path: Path, typed: str, symbol: str
) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="dashboard") as (app, pilot):
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
            palette = app.screen
            palette.query_one(CommandInput).value = typed
            commands = palette.query_one(CommandList)

            def first() -> str:
                if commands.option_count == 0:
                    return ""
                return str(commands.get_option_at_index(0).prompt)

            await wait_for(pilot, lambda: symbol in first())
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.current_mode == "market")
            await wait_for(pilot, lambda: getattr(app.screen, "selected_symbol", None) == symbol)

    asyncio.run(scenario())
