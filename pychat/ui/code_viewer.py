"""A code block shown whole, in a window of its own: scroll it, copy it, close it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from pychat.ui.bindings import bindings
from pychat.ui.clipboard import copy_text
from pychat.ui.modals import DismissOnce


class CodeViewer(ModalScreen[None], DismissOnce):
    """``code`` with its line numbers; c copies it, Escape or q closes."""

    BINDINGS = bindings("viewer")

    def __init__(self, code: str, language: str, title: str) -> None:
        super().__init__()
        self.code, self.language, self.title_text = code, language, title

    def compose(self) -> ComposeResult:
        from rich.syntax import Syntax

        box = VerticalScroll(id="viewer-box")
        box.border_title = Content(self.title_text)  # a model's name: text, not markup
        box.border_subtitle = "c copy · ↑↓ PgUp PgDn scroll · Esc close"
        with box:
            # The code is the model's text: Syntax renders it, never as markup.
            yield Static(Syntax(self.code, self.language or "text", line_numbers=True,
                                word_wrap=True, theme="ansi_dark"), markup=False)

    def on_mount(self) -> None:
        self.query_one("#viewer-box").focus()

    def action_copy(self) -> None:
        copy_text(self.app, self.code)
