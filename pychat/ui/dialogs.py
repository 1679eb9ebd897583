"""Small modal questions: yes or no (``Confirm``), and one line of text (``AskText``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from pychat.ui.bindings import bindings
from pychat.ui.field import Field
from pychat.ui.modals import DismissOnce


class Confirm(ModalScreen[bool], DismissOnce):
    """``question``: y answers yes; n or Escape no. Nothing to type in, so y and n are
    safe keys here."""

    BINDINGS = bindings("confirm")

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, markup=False)
            yield Static("y yes · n or Esc no", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class AskText(ModalScreen[str | None], DismissOnce):
    """One line of text: Enter gives it, Escape gives None."""

    BINDINGS = bindings("ask")

    def __init__(self, question: str, value: str = "", max_length: int = 200) -> None:
        super().__init__()
        self.question = question
        self.field = Field(value=value, max_length=max_length)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, markup=False)
            yield self.field
            yield Static("Enter save · Esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
