"""ctrl+p Theme: the colours, tried as the cursor moves, kept with Enter (and saved)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pychat.ui.bindings import bindings
from pychat.ui.modals import DismissOnce


class ThemePicker(ModalScreen[str | None], DismissOnce):
    """The app's themes; ↑/↓ shows each at once, Enter keeps it, Escape goes back."""

    BINDINGS = bindings("themes")

    def __init__(self, themes: list[str], current: str) -> None:
        super().__init__()
        self.themes, self.original = themes, current
        self.options = OptionList(*(Option(Text(name)) for name in themes), id="themes-list")

    def compose(self) -> ComposeResult:
        with Vertical(id="themes-box"):
            yield self.options
            yield Static("Enter keep · ↑↓ try · Esc cancel · ansi-dark: the terminal's "
                         "own colours", classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#themes-box").border_title = "Theme"
        if self.original in self.themes:
            self.options.highlighted = self.themes.index(self.original)
        self.options.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index is not None:
            self.app.theme = self.themes[event.option_index]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        index = self.options.highlighted
        if index is not None and self.is_attached:
            self.dismiss(self.themes[index])

    def action_cancel(self) -> None:
        if self.is_attached:
            self.app.theme = self.original
            self.dismiss(None)
