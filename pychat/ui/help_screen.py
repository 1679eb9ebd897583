"""F1: every key binding that is active, with its id (for remapping in [keys])."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pychat.ui.bindings import bind
from pychat.ui.modals import DismissOnce


class HelpScreen(ModalScreen[None], DismissOnce):
    """Lists the keys; any of Escape, F1 or q closes it."""

    BINDINGS = [bind("help.close", "dismiss")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        width = max((len(key) for key, _, _ in self.rows), default=4) + 2
        lines = ["PyChat keys (remap them in config.toml under [keys]: id = \"key\")", ""]
        lines += [f"{key:<{width}}{description:<24}{binding_id}"
                  for key, description, binding_id in self.rows]
        lines += ["", "Escape, F1 or q closes this help."]
        with VerticalScroll(id="help-box"):
            yield Static("\n".join(lines), markup=False)
