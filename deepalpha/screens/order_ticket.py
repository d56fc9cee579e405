"""The order ticket (placeholder until built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static


class OrderTicket(ModalScreen[None]):
    def __init__(
        self, side: str, *, symbol: str | None = None, trader_id: str | None = None
    ) -> None:
        super().__init__()
        self.side, self.symbol, self.trader_id = side, symbol, trader_id

    def compose(self) -> ComposeResult:
        yield Static(f"{self.side} {self.symbol or ''}")
