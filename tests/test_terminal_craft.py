"""What the terminal receives (a real pty; tmux's buffer; a real OpenSSH connection): the
OSC 52 bytes of a copy, no mouse reporting unless asked for, no colour under NO_COLOR."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.code_reply import FIRST, REPLY, SECOND
from tests.support.pty_app import PtyApp
from tests.support.tmux import Tmux

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent

ALT_UP = "\x1b[1;3A"
MOUSE_MODES = (b"\x1b[?1000h", b"\x1b[?1002h", b"\x1b[?1003h", b"\x1b[?1006h")
OSC52 = re.compile(rb"\x1b\]52;c;([A-Za-z0-9+/=]*)(?:\x07|\x1b\\)")


def fake_app(tmp_path: Path, config: str = "", **env: str) -> PtyApp:
    (tmp_path / "reply.txt").write_text(REPLY, encoding="utf-8")
    args = ["-m", "tests.support.fake_app_main", str(tmp_path), str(tmp_path / "reply.txt")]
    if config:
        (tmp_path / "extra.toml").write_text(config, encoding="utf-8")
        args.append(str(tmp_path / "extra.toml"))
    return PtyApp(args, 80, 24, cwd=tmp_path, env={"TMUX": "", **env})


def copies(app: PtyApp) -> list[str]:
    return [base64.b64decode(m).decode("utf-8") for m in OSC52.findall(app.output)]


def wait_for_copies(app: PtyApp, count: int, timeout: float = 10.0) -> list[str]:
    deadline = time.time() + timeout
    while len(copies(app)) < count and time.time() < deadline:
        time.sleep(0.05)
    return copies(app)


def test_a_copied_block_reaches_the_terminal_as_exactly_its_text(tmp_path: Path) -> None:
    with fake_app(tmp_path) as app:
        assert app.wait_for_output(b"ready", 30)
        app.write("hello\r")
        assert app.wait_for_output(b"Done.", 30)
        time.sleep(0.3)
        app.write("\x1by")  # alt+y: the last code block, from the message box
        assert wait_for_copies(app, 1) == [SECOND]
        app.write(ALT_UP)  # browse: the cursor starts on the last block
        time.sleep(0.5)
        app.write("k")
        time.sleep(0.3)
        app.write("c")
        assert wait_for_copies(app, 2) == [SECOND, FIRST]
        assert app.wait_for_output(b"via OSC 52", 10)
        # No mouse reporting was ever asked for: keyboard-only, and quiet over SSH.
        assert not [mode for mode in MOUSE_MODES if mode in app.output]
        assert app.quit() == 0


def test_mouse_reporting_is_there_when_the_config_asks(tmp_path: Path) -> None:
    with fake_app(tmp_path, "mouse = true\n") as app:
        assert app.wait_for_output(b"ready", 30)
        assert app.wait_for_output(b"\x1b[?1000h", 5)
        mark = len(app.output)
        os.kill(app.pid, signal.SIGTERM)  # a terminal closed: the mouse goes back off
        assert app.wait_for_output(b"\x1b[?1000l", 10)
        assert b"\x1b[?1000l" in app.output[mark:]


SGR = re.compile(rb"\x1b\[([0-9;:]*)m")


def colours_in(output: bytes) -> list[bytes]:
    """The SGR sequences of ``output`` that set a colour (38/48 or a palette number)."""
    found = []
    for params in SGR.findall(output):
        numbers = [int(p) for p in re.split(rb"[;:]", params) if p]
        if numbers and (numbers[0] in (38, 48) or any(
                30 <= n <= 37 or 40 <= n <= 47 or 90 <= n <= 97 or 100 <= n <= 107
                for n in numbers if n not in (38, 48))):
            found.append(params)
    return found


def test_no_color_sends_no_colour_at_all(tmp_path: Path) -> None:
    with fake_app(tmp_path, NO_COLOR="1") as app:
        assert app.wait_for_output(b"ready", 30)
        app.write("hello\r")
        assert app.wait_for_output(b"Done.", 30)
        time.sleep(0.5)
        app.write(ALT_UP)  # the cursor's marker must show without colour
        assert app.wait_for_output("▌".encode(), 10)
        output = app.output
        assert app.quit() == 0
    assert SGR.search(output)  # bold, reverse and the like are still there
    assert colours_in(output) == []
    (tmp_path / "coloured").mkdir()
    with fake_app(tmp_path / "coloured") as coloured:
        assert coloured.wait_for_output(b"ready", 30)
        assert colours_in(coloured.output)  # the check can fail: colour is seen when sent
        coloured.quit()


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


@needs_tmux
def test_inside_tmux_a_copy_lands_in_tmux_buffer(tmp_path: Path) -> None:
    (tmp_path / "reply.txt").write_text(REPLY, encoding="utf-8")
    tmux = Tmux(f"cd {REPO} && {sys.executable} -m tests.support.fake_app_main {tmp_path} "
                f"{tmp_path / 'reply.txt'}", 80, 24)
    try:
        tmux.wait_for(lambda s: "ready" in s, 30)
        tmux.keys("hello", "Enter")
        tmux.wait_for(lambda s: "Done." in s, 30)
        tmux.keys("M-Up")
        tmux.wait_for(lambda s: "code block 2 of 2" in s, 10)
        tmux.keys("c")
        tmux.wait_for(lambda s: f"Copied {len(SECOND)} characters" in s and "tmux buffer." in s, 10)
        shown = subprocess.run(["tmux", "show-buffer"], capture_output=True, text=True,
                               check=True).stdout
        assert shown == SECOND
    finally:
        tmux.close()


def test_a_16_colour_terminal_gets_the_terminal_palette(tmp_path: Path) -> None:
    """TERM=screen without COLORTERM (tmux's default TERM, as it arrives over SSH): the
    terminal's own 16 colours, not a theme's shades squeezed into them."""
    with fake_app(tmp_path, TERM="screen", COLORTERM="") as app:
        assert app.wait_for_output(b"ready", 30)
        output = app.output
        assert app.quit() == 0
    extended = [c for c in colours_in(output) if re.match(rb"[34]8[;:]", c)]
    assert colours_in(output) and extended == []
