"""F1: every command, its key in force, what it does and its id (for remapping in [keys])."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pychat.commands import COMMANDS, SCOPE_NAMES, in_scope, keys_for, split_keys
from pychat.ui.bindings import bindings
from pychat.ui.modals import DismissOnce


def help_text(keymap: dict[str, str]) -> str:
    """The help, grouped by where each command acts, with the keys in force."""
    width = max(len(", ".join(split_keys(keys_for(c.id, keymap)))) for c in COMMANDS.values())
    lines = ["PyChat keys · remap one in config.toml: [keys] then \"binding.id\" = \"key\""]
    for scope, name in SCOPE_NAMES.items():
        lines += ["", name]
        for c in in_scope(scope):
            key = ", ".join(split_keys(keys_for(c.id, keymap)))
            lines.append(f"  {key:<{width}}  {c.help}  [{c.id}]")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None], DismissOnce):
    """Lists the keys; any of Escape, F1 or q closes it."""

    BINDINGS = bindings("help")

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(self.keymap) + "\n\nEscape, F1 or q closes this help.",
                         markup=False)
