"""Runs the real TUI over the FakeBackend, for tests that look at the bytes in a pty.

    python -m tests.support.fake_app_main ROOT REPLY_FILE [CONFIG_FILE] [--no-quit] [--stuck-load]
        [--crash-on-send] [--rate=TOKENS_PER_SECOND]

ROOT gets a config and a models folder (see ``support.session.fake_session``); the fake
model answers every message with the text in REPLY_FILE; CONFIG_FILE, if given, is added
to the config. SIGUSR1 sends "ping" as if typed (the key fuzz checks the app still
answers without depending on where its keys left the focus). --no-quit leaves Quit out of
the command palette: the fuzz types into the palette and must not end the app that way.
--stuck-load makes the model load wait forever; --crash-on-send makes sending a message
raise inside a UI handler (for the quit and crash tests); --rate sets how fast the reply
streams (``make bench`` feeds the UI at GPU rates that way).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen

from pychat.app import PyChatApp, Startup, run_app
from pychat.errors import Refused
from pychat.ui.main_screen import MainScreen
from tests.support.fake_backend import FakeBackend
from tests.support.session import fake_session


class NoQuitApp(PyChatApp):
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        return (c for c in super().get_system_commands(screen) if c.title != "Quit")


def main() -> None:
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root, reply_file = Path(args[0]), Path(args[1])
    backend = FakeBackend(reply=reply_file.read_text(encoding="utf-8"))
    for flag in flags:
        if flag.startswith("--rate="):
            backend.tokens_per_second = float(flag.split("=", 1)[1])
    if "--stuck-load" in flags:
        backend.load_gate.clear()  # never set: the load lane stays busy for good
    if "--crash-on-send" in flags:
        def crash(self: MainScreen, message: object) -> None:
            raise RuntimeError("boom from a UI handler")

        setattr(MainScreen, "on_prompt_input_submitted", crash)  # noqa: B010 - a crash on purpose
    extra = Path(args[2]).read_text(encoding="utf-8") if len(args) > 2 else ""
    session, _ = fake_session(root, backend, config=extra)
    app_class = NoQuitApp if "--no-quit" in flags else PyChatApp
    app = app_class(session, Startup(session.library.models_dir / "one.gguf"))

    def ping() -> None:
        with contextlib.suppress(Refused):
            session.send("ping")

    app.call_later(lambda: asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, ping))
    sys.exit(run_app(app))


if __name__ == "__main__":
    main()
