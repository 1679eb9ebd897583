"""PyChatApp: the Textual application, its key bindings and its screens."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from textual import constants
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver

from pychat.library import NO_OVERRIDES, Overrides
from pychat.session import ChatSession
from pychat.ui.help_screen import HelpScreen
from pychat.ui.main_screen import MainScreen
from pychat.ui.prompt_input import PromptInput


def stylesheet_path() -> Path:
    """pychat.tcss: beside the package in a wheel, at the repository top in a checkout."""
    packaged = Path(__file__).with_name("pychat.tcss")
    return packaged if packaged.exists() else Path(__file__).parent.parent / "pychat.tcss"


@dataclass(frozen=True)
class Startup:
    """The model to load once the first frame is on screen, and how."""

    path: Path
    overrides: Overrides = NO_OVERRIDES


class PyChatApp(App[None]):
    """A keyboard-only chat with local GGUF models."""

    CSS_PATH = stylesheet_path()
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    TITLE = "PyChat"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        Binding("f1", "help", "Help", id="app.help"),
        Binding("ctrl+p", "command_palette", "Commands", show=False,
                id="app.command_palette"),
        Binding("tab", "focus_next", "Next pane", show=False, id="app.focus_next"),
        Binding("shift+tab", "focus_previous", "Previous pane", show=False,
                id="app.focus_previous"),
    ]

    def __init__(self, session: ChatSession, startup: Startup) -> None:
        super().__init__()
        self.session = session
        self.keys = dict(session.config.config.keys)
        """The user's remapped keys, by binding id."""
        self.main_screen = MainScreen(session, startup.path, startup.overrides)
        if self.keys:
            self.set_keymap(self.keys)

    def get_driver_class(self) -> type[Driver]:
        """On POSIX terminals, a driver that sends only the screen pieces that changed
        (``PYCHAT_FULL_FRAMES=1`` turns that off; ``TEXTUAL_DRIVER`` still wins)."""
        if sys.platform == "win32" or constants.DRIVER or os.environ.get("PYCHAT_FULL_FRAMES"):
            return super().get_driver_class()
        from pychat.ui.terminal import DiffingDriver

        return DiffingDriver

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)

    def action_help(self) -> None:
        """F1: list every binding with its key and id."""
        rows = []
        for owner in (self.BINDINGS, MainScreen.BINDINGS, PromptInput.BINDINGS):
            for binding in owner:
                if isinstance(binding, Binding):
                    key = self.keys.get(binding.id or "", binding.key)
                    rows.append((key, binding.description, binding.id or ""))
        self.push_screen(HelpScreen(rows))

    def on_unmount(self) -> None:
        self.session.shutdown()
