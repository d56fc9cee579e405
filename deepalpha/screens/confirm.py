"""A yes/no question as a modal screen; Enter or y confirms, Escape or n declines."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from deepalpha.i18n import t

# Binding id → catalogue key of what it does (the Help screen's text).
BINDING_TEXT = {
    "confirm.yes": "common.yes",
    "confirm.no": "common.no",
    "confirm.escape": "common.cancel",
}


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: auto; max-width: 70; height: auto; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    ConfirmScreen Label { width: auto; max-width: 66; margin-bottom: 1; }
    ConfirmScreen Horizontal { width: auto; height: auto; }
    ConfirmScreen Button { margin: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", show=False, id="confirm.yes"),
        Binding("n", "answer(False)", show=False, id="confirm.no"),
        Binding("escape", "answer(False)", show=False, id="confirm.escape"),
    ]

    def __init__(self, question: str, detail: str = "", *, focus_no: bool = False) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        # A warning (a price far from the market) starts on "no": Enter pressed on from the
        # step before must not send it.
        self.focus_no = focus_no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            if self.detail:
                yield Label(self.detail, id="detail")
            with Horizontal():
                yield Button(f"{t('common.confirm')} (y)", variant="warning", id="yes")
                yield Button(f"{t('common.cancel')} (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no" if self.focus_no else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
