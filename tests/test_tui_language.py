"""Switching English ↔ 中文 relabels every screen at once: the screen in view, the ones Textual
keeps alive in other modes, the footer's keys and the Help screen's list of them."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import DataTable, Select
from textual.widgets._footer import FooterKey
from textual.widgets._select import SelectCurrent

import deepalpha.screens
import deepalpha.widgets
from deepalpha.app.tui import DeepAlphaApp
from deepalpha.i18n import MESSAGES, Msg, say, set_language
from deepalpha.screens.base import BindingText
from deepalpha.screens.help import HelpScreen, binding_texts
from deepalpha.widgets.colours import set_convention
from deepalpha.widgets.quote_board import QuoteBoard
from tests.tui_support import running_app, wait_for

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The language is process-wide: start each test in English and leave it so."""
    set_language("en")
    yield
    set_language("en")
    set_convention("cn")


def _said(text: BindingText, lang: str) -> str:
    return say(text, lang) if isinstance(text, Msg) else MESSAGES[text][lang == "zh"]


def _binding_classes() -> Iterator[type]:
    """Every DeepAlpha class that declares key bindings (screens, forms, widgets, the app)."""
    modules = [importlib.import_module("deepalpha.app.tui")]
    for package in (deepalpha.screens, deepalpha.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    for module in modules:
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "BINDINGS" in cls.__dict__:
                yield cls


def test_every_binding_says_what_it_does_in_english_and_chinese() -> None:
    texts = binding_texts()
    seen = 0
    for cls in _binding_classes():
        for binding in Binding.make_bindings(cls.__dict__["BINDINGS"]):
            where = f"{cls.__name__} {binding.key} → {binding.action}"
            assert binding.id, f"{where} has no id"
            assert binding.id in texts, f"{where}: no catalogue text for {binding.id}"
            en, zh = _said(texts[binding.id], "en"), _said(texts[binding.id], "zh")
            assert en and zh, f"{binding.id} says nothing"
            assert "(" not in en, f"{binding.id}: {en!r} reads like an action"
            seen += 1
    assert seen > 60  # the walk found the bindings (screens, forms and widgets)
    # Parameters in a text are said in the same language ("Sort by Last" / "按现价排序").
    assert _said(texts["positions.sort_7"], "en") == "Sort by Last"
    assert _said(texts["positions.sort_7"], "zh") == "按现价排序"


def _footer(app: DeepAlphaApp) -> list[str]:
    return [key.description for key in app.screen.query(FooterKey)]


def _help_rows(app: DeepAlphaApp) -> list[str]:
    table = app.screen.query_one("#help-table", DataTable)
    return [str(table.get_row_at(i)[2]) for i in range(table.row_count)]


def _columns(table: Any) -> list[str]:
    return [column.label.plain for column in table.ordered_columns]


async def _goto(app: DeepAlphaApp, pilot: Pilot[None], key: str, name: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: app.current_mode == name)
    await pilot.pause()
    await pilot.pause()  # the footer recomposes after the bindings refresh


def _expected(lang: str) -> dict[str, list[str]]:
    """Texts that must show in ``lang`` (and must not in the other)."""
    return {
        "market": [MESSAGES[k][lang == "zh"] for k in ("mkt.col.code", "mkt.col.last")],
        "market_footer": [MESSAGES[k][lang == "zh"] for k in ("mkt.key.filter", "key.buy")],
        "positions_footer": [MESSAGES["positions.key.sort"][lang == "zh"]],
        "orders_footer": [MESSAGES["orders.key.cancel_all"][lang == "zh"]],
    }


def test_switching_language_in_settings_relabels_every_screen(tmp_path: Path) -> None:
    async def choose_language(app: DeepAlphaApp, pilot: Pilot[None], value: str) -> None:
        await _goto(app, pilot, "f9", "settings")
        select = app.screen.query_one("#language", Select)
        select.value = value  # as a pick in the list does: the screen's Changed handler runs
        await wait_for(pilot, lambda: app.screen.query_one("#language", Select).value == value)
        await pilot.pause()
        # The settings' own choices are said in the new language too, the unchanged ones too.
        theme = app.screen.query_one("#theme", Select).query_one(SelectCurrent)
        assert str(theme.label) == MESSAGES["settings.theme_dark"][value == "zh"]

    async def check(app: DeepAlphaApp, pilot: Pilot[None], lang: str) -> None:
        other = "en" if lang == "zh" else "zh"
        want, unwanted = _expected(lang), _expected(other)
        # The market was built before the switch and kept alive by its mode.
        await _goto(app, pilot, "f3", "market")
        board = app.screen.query_one(QuoteBoard)
        assert [c.label.plain for c in board.ordered_columns][:3] == [
            MESSAGES[k][lang == "zh"] for k in ("mkt.col.code", "mkt.col.name", "mkt.col.last")
        ]
        footer = _footer(app)
        assert set(want["market_footer"]) <= set(footer), footer
        assert not set(unwanted["market_footer"]) & set(footer), footer
        assert MESSAGES["key.palette"][lang == "zh"] in footer
        for key, name, part in (("f5", "positions", "positions"), ("f4", "orders", "orders")):
            await _goto(app, pilot, key, name)
            footer = _footer(app)
            assert set(want[f"{part}_footer"]) <= set(footer), footer
            assert not set(unwanted[f"{part}_footer"]) & set(footer), footer
        table = app.screen.query_one("#orders-blotter")
        header = "".join(s.text for s in table.render_line(0))
        assert MESSAGES["orders.col.status"][lang == "zh"] in header
        # Help: every row says what its key does in words of this language.
        await _goto(app, pilot, "f1", "help")
        assert isinstance(app.screen, HelpScreen)
        rows = _help_rows(app)
        texts = binding_texts()
        assert len(rows) == len(app.screen.binding_ids)
        for row, binding_id in zip(rows, app.screen.binding_ids, strict=True):
            assert row == _said(texts[binding_id], lang), binding_id
            assert "(" not in row, f"{binding_id}: {row!r}"
        english_only = {
            _said(text, "en") for text in texts.values() if _said(text, "en") != _said(text, "zh")
        }
        if lang == "zh":
            assert not english_only & set(rows)
        assert (
            _columns(app.screen.query_one("#help-table", DataTable))[2]
            == (MESSAGES["help.c_what"][lang == "zh"])
        )

    async def scenario() -> None:
        async with running_app(tmp_path, screen="market", size=SIZE) as (app, pilot):
            # Build every screen the check visits in English first.
            for key, name in (("f5", "positions"), ("f4", "orders"), ("f1", "help")):
                await _goto(app, pilot, key, name)
            await check(app, pilot, "en")
            await choose_language(app, pilot, "zh")
            await check(app, pilot, "zh")
            await choose_language(app, pilot, "en")
            await check(app, pilot, "en")

    asyncio.run(scenario())
