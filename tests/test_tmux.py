"""The real TUI in a real terminal (tmux), driven with keys and read off the screen."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]


class Tmux:
    """One tmux session of its own running a command."""

    def __init__(self, command: str, cols: int = 100, rows: int = 30) -> None:
        self.name = f"pychat-test-{uuid.uuid4().hex[:8]}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(cols),
                        "-y", str(rows), command], check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

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
        raise AssertionError(f"screen never matched; last screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def test_chat_stop_and_quit_in_tmux(smollm_model: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[sampling]\nmax_tokens = 600\nseed = 2\n')
    exit_file = tmp_path / "exit-code"
    command = (f"cd {tmp_path} && {sys.executable} -m pychat --config {config}; "
               f"echo $? > {exit_file}; sleep 30")
    tmux = Tmux(command)
    try:
        tmux.wait_for(lambda s: "│ ready" in s and "Send" in s)  # prompt focused: ⏎ Send shown
        tmux.keys("Tell me a long story", "Enter")
        tmux.wait_for(lambda s: "answering" in s)
        tmux.keys("Escape")
        screen = tmux.wait_for(lambda s: "stopped" in s and "│ ready" in s and "tok/s" in s)
        assert "Tell me a long story" in screen
        tmux.keys("C-q")
        deadline = time.monotonic() + 20
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exit_file.read_text().strip() == "0"
        assert "Traceback" not in tmux.screen()
    finally:
        tmux.close()
