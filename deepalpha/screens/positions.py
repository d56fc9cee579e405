"""The positions screen (placeholder until built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from deepalpha.i18n import t
from deepalpha.screens.base import BaseScreen


class PositionsScreen(BaseScreen):
    def body(self) -> ComposeResult:
        yield Static(t("screen.positions"), classes="title")
