"""What an 80×24 terminal shows: every F-key in the nav bar, both P&Ls on the positions screen,
the trader and the order type in the blotter; the choice depends on the terminal's width
alone."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.widgets import DataTable

from deepalpha.i18n import set_language, t
from deepalpha.screens.navigation import SCREEN_KEYS, SCREENS
from deepalpha.screens.positions import COLUMNS, PADDING, SCROLLBAR, PositionsScreen, fit_columns
from deepalpha.widgets.nav_bar import NavBar, render_nav
from deepalpha.widgets.order_blotter import layout
from tests.tui_support import running_app, wait_for

NAV = [(name, SCREEN_KEYS[name]) for name in SCREENS]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    set_language("en")
    yield
    set_language("en")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_nav_bar_shows_every_key_and_the_current_screen(lang: str, width: int) -> None:
    set_language(lang)
    for current in SCREENS:
        line = render_nav(current, NAV, width)
        assert line.cell_len <= width
        keys = re.findall(r"F\d+", line.plain)
        assert sorted(keys) == sorted(key.upper() for _, key in NAV), (current, line.plain)
        # The current screen stands out, with its name (short where the full one is too long).
        marked = [line.plain[s.start : s.end] for s in line.spans if "reverse" in str(s.style)]
        assert len(marked) == 1
        assert marked[0].strip() in (
            f"{SCREEN_KEYS[current].upper()} {t('screen.' + current)}",
            f"{SCREEN_KEYS[current].upper()} {t('nav.' + current)}",
        ), (current, marked)
        # Every screen keeps a label down to 80 columns.
        for name, key in NAV:
            assert (
                f"{key.upper()} {t('nav.' + name)}" in line.plain
                or f"{key.upper()} {t('screen.' + name)}" in line.plain
            ), (name, line.plain)


def test_positions_keep_both_pnls_at_80_columns_and_show_all_at_160() -> None:
    narrow = fit_columns(80)
    assert {"symbol", "quantity", "unrealized", "realized"} <= set(narrow.columns)
    assert list(narrow.columns) == [c for c in COLUMNS if c in narrow.columns]  # in order
    used = sum(narrow.widths[c] + PADDING for c in narrow.columns)
    assert used <= 80 - SCROLLBAR
    assert narrow.narrow
    wide = fit_columns(160)
    assert wide.columns == COLUMNS and not wide.narrow
    assert sum(wide.widths[c] + PADDING for c in COLUMNS) <= 160 - SCROLLBAR


def test_the_blotter_keeps_the_trader_and_the_type_at_80_columns() -> None:
    width = 78  # 80 columns less the blotter's scrollbar
    cols = layout(width)
    keys = [c.key for c in cols]
    assert {"time", "trader", "symbol", "side", "type", "quantity", "price", "status"} <= set(keys)
    assert sum(c.width + 1 for c in cols) - 1 <= width
    # Wide enough, the filled count and the reason come back.
    assert {"filled", "reason"} <= {c.key for c in layout(158) if c.width}


def test_the_positions_columns_follow_the_terminal_size(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_app(tmp_path, screen="positions", size=(80, 24)) as (app, pilot):
            screen = app.screen
            assert isinstance(screen, PositionsScreen)
            table = screen.query_one(DataTable)

            def shown() -> list[str]:
                return [str(c.key.value) for c in table.ordered_columns]

            # Chosen from the terminal's size from the first frame: nothing to wait for.
            assert shown() == list(fit_columns(80).columns)
            labels = [c.label.plain for c in table.ordered_columns]
            assert all(
                cell_len(label) <= c.width
                for label, c in zip(labels, table.ordered_columns, strict=True)
            )
            nav = screen.query_one(NavBar)
            await wait_for(pilot, lambda: "F1 Help" in str(nav.render()))
            await pilot.resize_terminal(160, 50)
            await wait_for(pilot, lambda: shown() == list(COLUMNS))
            await wait_for(pilot, lambda: "F5 Positions  F6 Traders" in str(nav.render()))

    asyncio.run(scenario())
