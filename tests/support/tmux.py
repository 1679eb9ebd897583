"""A tmux session of its own running a command: keys in, the screen's text out."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable

import pytest

TMUX_TESTS = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]
"""The marks of a test module that drives tmux: slow, and skipped without tmux."""


class Tmux:
    """One tmux session of its own running a command."""

    def __init__(self, command: str, cols: int = 100, rows: int = 30) -> None:
        self.name = f"pychat-test-{uuid.uuid4().hex[:8]}"
        # A tmux server started earlier keeps its own environment: pass the test's folders
        # (XDG_*: config, chat history, caches) and PYCHAT_* on, so that nothing reaches
        # the user's real files.
        # COLUMNS / LINES left in the server's environment (80x24 was seen under pytest)
        # would make Textual ignore the window's real size.
        passed = {k: v for k, v in os.environ.items() if k.startswith(("XDG_", "PYCHAT_"))}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(passed.items()))
        command = f"unset COLUMNS LINES; {'export ' + exports + '; ' if exports else ''}{command}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(cols),
                        "-y", str(rows), command], check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def repeat(self, key: str, count: int) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-N", str(count), key],
                       check=True)

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                                capture_output=True, text=True)
        return result.stdout

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if condition(text):
                return text
            time.sleep(0.05)
        size = subprocess.run(["tmux", "display", "-p", "-t", self.name,
                               "#{window_width}x#{window_height}"], capture_output=True,
                              text=True).stdout.strip()
        raise AssertionError(f"screen ({size}) never matched; last screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
