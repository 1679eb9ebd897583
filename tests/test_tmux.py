"""The real TUI in a real terminal (tmux), driven with keys and read off the screen."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.support.tmux import TMUX_TESTS, Tmux

pytestmark = TMUX_TESTS


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
