"""Copying text out of PyChat, over SSH and inside tmux, with keys only.

OSC 52 asks the terminal to put text on the system clipboard; it crosses SSH, because it
is just bytes on the terminal's stream. Inside tmux, the app's OSC 52 is dropped under
tmux's default ``set-clipboard external``; ``tmux load-buffer -w -`` puts the text in
tmux's own buffer and forwards it to the outer terminal as OSC 52 itself, so both are
done. Many terminals refuse an OSC 52 payload beyond about 100 kB: that is said, not
hidden.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

OSC52_LIMIT = 100_000
"""Bytes of base64 above which many terminals drop an OSC 52 copy."""


@dataclass(frozen=True)
class Copied:
    """What a copy did, in words for a toast."""

    message: str
    warning: bool = False


def copied_message(chars: int, payload: int, tmux: str) -> Copied:
    """The toast for a copy of ``chars`` characters (``payload`` bytes of base64);
    ``tmux``: "" outside tmux, "ok", or why its buffer could not be set."""
    ways = "OSC 52" + (" + tmux buffer" if tmux == "ok" else "")
    message = f"Copied {chars:,} characters via {ways}."
    warning = False
    if payload > OSC52_LIMIT:
        warning = True
        message += (f" It is {payload / 1000:.0f} kB through OSC 52: many terminals take at "
                    "most ~100 kB and may drop it")
        message += " (tmux's buffer has it all: prefix + ] pastes it)." if tmux == "ok" \
            else "."
    if tmux and tmux != "ok":
        warning = True
        message += f" tmux's buffer was not set ({tmux}); inside tmux, an app's OSC 52 " \
                   "needs `set -g set-clipboard on`."
    return Copied(message, warning)


def to_tmux(text: str) -> str:
    """Put ``text`` in tmux's buffer and forward it to the outer terminal: "" outside
    tmux, "ok", or why not. Blocking (it runs tmux): call it from a worker."""
    if not os.environ.get("TMUX") or os.environ.get("PYCHAT_SERVED"):
        return ""  # not in tmux; or in a browser tab, whose clipboard is elsewhere
    tmux = shutil.which("tmux")
    if tmux is None:
        return "tmux is not on PATH"
    try:
        done = subprocess.run([tmux, "load-buffer", "-w", "-"], input=text.encode("utf-8"),
                              capture_output=True, timeout=3)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return type(exc).__name__
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip()[:80] or f"exit {done.returncode}"
    return "ok"


def copy_text(app: Any, text: str) -> None:
    """Copy ``text`` (see the module docstring); a toast says how, once tmux answered."""
    from pychat.ui.messages import notify_once

    app.copy_to_clipboard(text)
    payload = len(base64.b64encode(text.encode("utf-8")))

    def tell() -> None:
        result = copied_message(len(text), payload, to_tmux(text))
        app.call_from_thread(notify_once, app, result.message, "Copied",
                             "warning" if result.warning else "information", 6)

    app.run_worker(tell, thread=True, group="clipboard", exit_on_error=False)
