"""PyChatApp: the Textual application, its key bindings and its screens."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

from textual import constants
from textual.app import App, SystemCommand
from textual.driver import Driver
from textual.screen import Screen

from pychat.commands import COMMANDS, key_label, served_keymap
from pychat.engine.base import ModelRef, as_ref
from pychat.library import NO_OVERRIDES, Overrides
from pychat.locations import user_state_dir
from pychat.session import ChatSession
from pychat.text import inert_line
from pychat.ui.bindings import bindings
from pychat.ui.main_screen import MainScreen


def write_crash_log(error: BaseException) -> str:
    """Write ``error``'s traceback to the user's state folder; returns where (or says
    where else it went when that folder cannot be written)."""
    text = "".join(traceback.format_exception(error))
    inner = getattr(error, "error", None)  # textual's WorkerFailed carries the real one
    if isinstance(inner, BaseException):
        text += "\nThe worker's exception:\n" + "".join(traceback.format_exception(inner))
    try:
        folder = user_state_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.write_text(text, encoding="utf-8")
        return inert_line(str(path))
    except OSError:
        if sys.__stderr__ is not None:
            sys.__stderr__.write(text)
        return "the text above (the state folder could not be written)"


def stylesheet_path() -> Path:
    """pychat.tcss: beside the package in a wheel, at the repository top in a checkout."""
    packaged = Path(__file__).with_name("pychat.tcss")
    return packaged if packaged.exists() else Path(__file__).parent.parent / "pychat.tcss"


@dataclass(frozen=True)
class Startup:
    """The model to load once the first frame is on screen, and how."""

    model: ModelRef | Path
    """A local file (a path will do) or a server's model."""
    overrides: Overrides = NO_OVERRIDES

    @property
    def ref(self) -> ModelRef:
        return as_ref(self.model)


class PyChatApp(App[None]):
    """A keyboard-only chat with local GGUF models."""

    CSS_PATH = stylesheet_path()
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    TITLE = "PyChat"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = bindings("app")

    def __init__(self, session: ChatSession, startup: Startup) -> None:
        super().__init__()
        self.session = session
        self.keys = dict(session.config.keys)
        """The user's remapped keys, by binding id."""
        if os.environ.get("PYCHAT_SERVED"):  # in a browser tab (pychat serve)
            self.keys = served_keymap(self.keys)
        self.main_screen = MainScreen(session, startup.ref, startup.overrides, self.keys)
        self.crash: BaseException | None = None
        """The exception that ended the app, if one did."""
        self.crash_log = ""
        """Where its traceback was written."""
        if self.keys:
            self.set_keymap(self.keys)

    def get_driver_class(self) -> type[Driver]:
        """On POSIX terminals, a driver that sends only the screen pieces that changed
        (``PYCHAT_FULL_FRAMES=1`` sends whole frames) and takes typed bursts as text;
        ``TEXTUAL_DRIVER`` still wins, except that a browser tab's web driver diffs too."""
        full_frames = bool(os.environ.get("PYCHAT_FULL_FRAMES"))
        if constants.DRIVER and not full_frames:
            from pychat.ui.web_terminal import WEB_DRIVER, DiffingWebDriver

            if constants.DRIVER == WEB_DRIVER:
                return DiffingWebDriver
        if sys.platform == "win32" or constants.DRIVER:
            return super().get_driver_class()
        from pychat.ui.terminal import DiffingDriver, TypingDriver

        return TypingDriver if full_frames else DiffingDriver

    def on_mount(self) -> None:
        self._apply_theme()
        self.push_screen(self.main_screen)
        # A terminal closed or a kill: leave like ctrl+q, so the terminal is restored
        # (alternate screen off, mouse reporting off, cursor back).
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(number, self.exit, None, 128 + number)

    def _handle_exception(self, error: Exception) -> None:
        # See ui/compat.handle_exception_method: keep what crashed, in a crash log.
        if self.crash is None:
            self.crash = error
            self.crash_log = write_crash_log(error)
        super()._handle_exception(error)

    def crash_message(self) -> str:
        """One line for the terminal after a crash ("" when there was none)."""
        if self.crash is None:
            return ""
        return (f"pychat: crashed ({inert_line(type(self.crash).__name__)}); the traceback "
                f"is in {self.crash_log}")

    def action_command_palette(self) -> None:
        """ctrl+p: Textual's command palette, guarded (see ui/modals.py)."""
        from textual.command import CommandPalette

        from pychat.ui.modals import GuardedCommandPalette

        # is_open is typed for App[object], and App is invariant in its result type.
        # No fixed id (Textual's own gives "--command-palette"): a palette just closed
        # stays registered until Textual removes it, and a ctrl+p in between would
        # otherwise insert a second widget with the same id and crash.
        if self.use_command_palette and not CommandPalette.is_open(cast("App[object]", self)):
            self.push_screen(GuardedCommandPalette())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette: every command of the table with a palette title, active
        everywhere or on the main screen, with the key in force. Textual's defaults are
        left out: Theme opens an unguarded palette, Screenshot writes SVG files into the
        current folder, and F1 lists the keys."""
        for command in COMMANDS.values():
            if not command.title or command.scope not in ("app", "chat"):
                continue
            node: App[None] | Screen[None] = self if command.scope == "app" \
                else self.main_screen
            key = key_label(command.id, self.keys)
            yield SystemCommand(command.title, f"{command.help} ({key})" if key else
                                command.help, partial(node.run_action, command.action))

    def _apply_theme(self) -> None:
        """The configured theme; with NO_COLOR, the terminal's own palette (ansi-dark),
        and the driver drops what colour is left."""
        wanted = self.session.config.theme
        if self.no_color:
            wanted = "ansi-dark"
        elif self.console.color_system in ("standard", "windows") \
                and not self.session.config_file.wrote("", "theme"):
            # A 16-colour terminal (TERM=xterm, screen, linux; OpenSSH does not forward
            # COLORTERM): a theme's shades would fall to the nearest of 16 colours, so
            # the terminal's own palette looks right unless the user chose a theme.
            wanted = "ansi-dark"
        # Textual 8 named its terminal-palette theme ansi-dark; older PyChat docs and
        # Textual versions call it textual-ansi.
        wanted = {"textual-ansi": "ansi-dark"}.get(wanted, wanted)
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            from pychat.ui.messages import notify_once

            notify_once(self, f"There is no theme “{inert_line(wanted)}”: F9 lists "
                        "them.", "A setting was left out", "warning")

    def action_theme(self) -> None:
        """ctrl+p Theme: choose one, saved in config.toml."""
        from pychat.ui.theme_picker import ThemePicker

        if isinstance(self.screen, MainScreen):
            self.push_screen(ThemePicker(sorted(self.available_themes), self.theme),
                             self._theme_chosen)

    def _theme_chosen(self, theme: str | None) -> None:
        from pychat.config_writer import save_top_level
        from pychat.errors import ConfigError
        from pychat.ui.messages import notify_once

        if theme is None:
            return
        try:
            save_top_level(self.session.config_file, "theme", theme)
        except ConfigError as exc:
            notify_once(self, exc.message, "Theme not saved", "warning")
            return
        notify_once(self, f"{theme}, saved in {inert_line(str(self.session.config_file.path))}.",
                    "Theme", timeout=4)

    def action_help_quit(self) -> None:
        """ctrl+c (Textual's hint that ctrl+q quits), shown once while it is on screen."""
        from pychat.ui.messages import notify_once

        notify_once(self, f"Press {key_label('app.quit', self.keys)} to quit PyChat.",
                    "Do you want to quit?", timeout=4)

    def action_help(self) -> None:
        """F1: every command with its key (as remapped), what it does and its id."""
        from pychat.ui.help_screen import HelpScreen  # modal screens: when first opened

        if isinstance(self.screen, HelpScreen):
            return  # already open: F1 closes it (its own binding)
        self.push_screen(HelpScreen(self.keys))

    def on_unmount(self) -> None:
        # Quit must not wait on a load in progress: at most half a second for the model
        # to be freed; the process exit frees the rest.
        self.session.shutdown(timeout=0.5)


def run_app(app: PyChatApp) -> int:
    """Run ``app`` and return its exit code; after a crash, name the crash log on stderr.

    A worker still inside llama.cpp (or held by a file that blocks) cannot be cancelled,
    and quitting must not wait for it: the process then ends at once, as ctrl+q promised.
    """
    # Mouse reporting off unless asked for: PyChat is keyboard-only, and with it on every
    # mouse move over the window sends bytes down an SSH link.
    app.run(mouse=app.session.config.mouse)
    code = app.return_code or 0
    if app.crash is not None:
        code = code or 1
        print(app.crash_message(), file=sys.stderr)
    if app.session.busy:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
