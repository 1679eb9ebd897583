"""PyChatApp: the Textual application, its key bindings and its session."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from textual import constants
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver

from pychat.config import LoadedConfig, Sampling
from pychat.conversation import Conversation
from pychat.engine.llama import LlamaBackend
from pychat.gpu import GpuMonitor
from pychat.library import ModelLibrary, Overrides
from pychat.messages import LogLine
from pychat.ui.help_screen import HelpScreen
from pychat.ui.main_screen import MainScreen
from pychat.ui.prompt_input import PromptInput


def stylesheet_path() -> Path:
    """pychat.tcss: beside the package in a wheel, at the repository top in a checkout."""
    packaged = Path(__file__).with_name("pychat.tcss")
    return packaged if packaged.exists() else Path(__file__).parent.parent / "pychat.tcss"


@dataclass
class Session:
    """Everything the app works with: config, models, engine, GPU monitor, the chat."""

    loaded: LoadedConfig
    library: ModelLibrary
    backend: LlamaBackend
    monitor: GpuMonitor
    startup_path: Path
    startup_overrides: Overrides = field(default_factory=Overrides)
    conversation: Conversation = field(default_factory=Conversation)

    @property
    def sampling(self) -> Sampling:
        return self.loaded.config.sampling


def build_session(loaded: LoadedConfig, model: str | None = None,
                  overrides: Overrides | None = None, *, backend: LlamaBackend | None = None,
                  monitor: GpuMonitor | None = None) -> Session:
    """Resolve the startup model and assemble a session (raises ModelError if missing)."""
    library = ModelLibrary(loaded)
    session = Session(loaded, library, backend or LlamaBackend(), monitor or GpuMonitor(),
                      library.startup_model(model), overrides or Overrides())
    session.conversation.system_prompt = loaded.config.system_prompt
    return session


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

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.main_screen = MainScreen()
        if session.loaded.config.keys:
            self.set_keymap(session.loaded.config.keys)

    def get_driver_class(self) -> type[Driver]:
        """On POSIX terminals, a driver that sends only the screen pieces that changed
        (``PYCHAT_FULL_FRAMES=1`` turns that off; ``TEXTUAL_DRIVER`` still wins)."""
        if sys.platform == "win32" or constants.DRIVER or os.environ.get("PYCHAT_FULL_FRAMES"):
            return super().get_driver_class()
        from pychat.ui.terminal import DiffingDriver

        return DiffingDriver

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)
        self.session.backend.set_log_callback(
            lambda level, line: self.post_message(LogLine(level, line, "llama.cpp")))

    def on_log_line(self, message: LogLine) -> None:
        self.main_screen.add_log(message.level, message.text, message.source)

    def action_help(self) -> None:
        """F1: list every binding with its key and id."""
        keymap = self._keymap if hasattr(self, "_keymap") else {}
        rows = []
        for owner in (self.BINDINGS, MainScreen.BINDINGS, PromptInput.BINDINGS):
            for binding in owner:
                assert isinstance(binding, Binding)
                key = keymap.get(binding.id or "", binding.key)
                rows.append((key, binding.description, binding.id or ""))
        self.push_screen(HelpScreen(rows))

    def on_unmount(self) -> None:
        self.session.monitor.shutdown()
        self.session.backend.shutdown()
