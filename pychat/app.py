"""PyChatApp: the Textual application, its key bindings and its screens."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from textual import constants
from textual.app import App
from textual.driver import Driver

from pychat.keys import KEYS
from pychat.library import NO_OVERRIDES, Overrides
from pychat.session import ChatSession
from pychat.ui.bindings import bind
from pychat.ui.help_screen import HelpScreen
from pychat.ui.main_screen import MainScreen


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
        bind("app.quit", "quit", priority=True),
        bind("app.help", "help"),
        bind("app.command_palette", "command_palette", show=False),
        bind("app.focus_next", "focus_next", show=False),
        bind("app.focus_previous", "focus_previous", show=False),
    ]

    def __init__(self, session: ChatSession, startup: Startup) -> None:
        super().__init__()
        self.session = session
        self.keys = dict(session.config.config.keys)
        """The user's remapped keys, by binding id."""
        self.main_screen = MainScreen(session, startup.path, startup.overrides)
        self.crash: BaseException | None = None
        """The exception that ended the app, if one did (written to a crash log)."""
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
        # A terminal closed or a kill: leave like ctrl+q, so the terminal is restored
        # (alternate screen off, mouse reporting off, cursor back).
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(number, self.exit, None, 128 + number)

    def _handle_exception(self, error: Exception) -> None:
        # See ui/compat.handle_exception_method: keep what crashed for the crash log.
        if self.crash is None:
            self.crash = error
        super()._handle_exception(error)

    def action_help(self) -> None:
        """F1: every binding with its key (as remapped) and id."""
        rows = [(self.keys.get(spec.id, spec.keys), spec.description, spec.id)
                for spec in KEYS.values()]
        self.push_screen(HelpScreen(rows))

    def on_unmount(self) -> None:
        # Quit must not wait on a load in progress: at most half a second for the model
        # to be freed; the process exit frees the rest.
        self.session.shutdown(timeout=0.5)
