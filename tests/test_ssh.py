"""PyChat through a real OpenSSH connection at 80×24, inside a local tmux that takes OSC 52
(``set -g set-clipboard on``, as the README says): the second code block of the last reply
is copied with keys only, and arrives exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.code_reply import REPLY, SECOND
from tests.support.sshd import Sshd, missing
from tests.support.tmux import TMUX_TESTS, Tmux

pytestmark = [*TMUX_TESTS, pytest.mark.skipif(bool(missing()), reason=missing() or "ok")]
REPO = Path(__file__).resolve().parent.parent


def test_copy_the_second_code_block_over_ssh_with_keys_only(tmp_path: Path) -> None:
    (tmp_path / "reply.txt").write_text(REPLY, encoding="utf-8")
    server = Sshd(tmp_path / "sshd")
    home = tmp_path / "home"
    remote = (f"cd {REPO} && env -u TMUX XDG_DATA_HOME={home}/data XDG_CONFIG_HOME={home}/config"
              f" {sys.executable} -m tests.support.fake_app_main {tmp_path} "
              f"{tmp_path / 'reply.txt'}")
    tmux = Tmux(server.command(remote), 80, 24)
    before = subprocess.run(["tmux", "show", "-sv", "set-clipboard"], capture_output=True,
                            text=True).stdout.strip() or "external"
    try:
        subprocess.run(["tmux", "set", "-s", "set-clipboard", "on"], check=True)
        subprocess.run(["tmux", "delete-buffer"], capture_output=True)
        tmux.wait_for(lambda s: "ready" in s, 60)
        tmux.keys("how do I add and list?", "Enter")
        tmux.wait_for(lambda s: "Done." in s, 30)
        tmux.keys("M-Up")  # browse: the cursor starts on the reply's last block
        tmux.wait_for(lambda s: "code block 2 of 2" in s, 10)
        tmux.keys("c")
        screen = tmux.wait_for(lambda s: f"Copied {len(SECOND)} characters" in s, 10)
        assert "via OSC 52." in screen  # no tmux on the far side: OSC 52 alone
        shown = subprocess.run(["tmux", "show-buffer"], capture_output=True, text=True,
                               check=True).stdout
        assert shown == SECOND
        assert "Accepted publickey" in (tmp_path / "sshd" / "sshd.log").read_text()
    finally:
        subprocess.run(["tmux", "set", "-s", "set-clipboard", before], capture_output=True)
        tmux.close()
        server.close()
