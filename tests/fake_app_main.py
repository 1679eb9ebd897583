"""Runs the real TUI over the FakeBackend, for tests that look at the bytes in a pty.

    python -m tests.fake_app_main ROOT REPLY_FILE [CONFIG_FILE]

ROOT gets a config and a models folder (see ``session_helpers.fake_session``); the fake
model answers every message with the text in REPLY_FILE; CONFIG_FILE, if given, is added
to the config.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pychat.app import PyChatApp, Startup
from tests.fakes.backend import FakeBackend
from tests.session_helpers import fake_session


def main() -> None:
    root, reply_file = Path(sys.argv[1]), Path(sys.argv[2])
    backend = FakeBackend(reply=reply_file.read_text(encoding="utf-8"))
    extra = Path(sys.argv[3]).read_text(encoding="utf-8") if len(sys.argv) > 3 else ""
    session, _ = fake_session(root, backend, config=extra)
    PyChatApp(session, Startup(session.library.models_dir / "one.gguf")).run()


if __name__ == "__main__":
    main()
