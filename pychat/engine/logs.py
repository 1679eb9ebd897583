"""Capture of llama.cpp's own log output through ``llama_log_set``.

llama.cpp writes to stderr by default, which would scribble over the TUI. We install one
ctypes callback for the life of the process (the reference must outlive every call), join
the fragments it receives into lines, and hand each line to the registered listeners. Lines
that arrive while nobody listens are kept in a short backlog instead of being printed.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable

Listener = Callable[[str, str], None]
"""Receives (level, line)."""

# ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continuation.
_LEVELS = {0: "info", 1: "debug", 2: "info", 3: "warning", 4: "error"}
_CONTINUATION = 5

_lock = threading.Lock()
_listeners: list[Listener] = []
_backlog: deque[tuple[str, str]] = deque(maxlen=500)
_partial: list[str] = []
_partial_level = "info"
_installed_callback: object | None = None  # keeps the ctypes thunk alive
_progress: Callable[[float], None] | None = None
_progress_dots = 0


def _emit(level: str, line: str) -> None:
    with _lock:
        listeners = list(_listeners)
        if not listeners:
            _backlog.append((level, line))
    for listener in listeners:
        listener(level, line)


def feed(level_number: int, text: str) -> None:
    """Accept one fragment from llama.cpp (public so tests can drive it without C)."""
    global _partial_level, _progress_dots
    if level_number == _CONTINUATION and text == "." and _progress is not None:
        # Without a progress callback of its own, llama.cpp prints one dot per percent
        # of the model loaded: that is our load progress.
        _progress_dots += 1
        _progress(min(_progress_dots / 100, 1.0))
    if level_number != _CONTINUATION:
        _partial_level = _LEVELS.get(level_number, "info")
    _partial.append(text)
    joined = "".join(_partial)
    if "\n" not in joined:
        return
    *lines, rest = joined.split("\n")
    _partial[:] = [rest] if rest else []
    for line in lines:
        if line.strip():
            _emit(_partial_level, line.rstrip())


def install() -> None:
    """Route llama.cpp's logging to our listeners (idempotent; imports llama_cpp)."""
    global _installed_callback
    if _installed_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _on_log(level: int, text: bytes, _user_data: object) -> None:
        with contextlib.suppress(Exception):  # an exception must never cross into C
            feed(int(level), text.decode("utf-8", errors="replace"))

    _installed_callback = _on_log
    llama_cpp.llama_log_set(_on_log, None)


def add_listener(listener: Listener, replay: bool = True) -> None:
    """Start handing lines to ``listener``; replay the backlog to it first."""
    with _lock:
        pending = list(_backlog) if replay else []
        _backlog.clear()
        _listeners.append(listener)
    for level, line in pending:
        listener(level, line)


def remove_listener(listener: Listener) -> None:
    """Stop handing lines to ``listener``."""
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def set_progress_listener(listener: Callable[[float], None] | None) -> None:
    """Report load progress (0..1) to ``listener`` from the dots llama.cpp logs."""
    global _progress, _progress_dots
    _progress, _progress_dots = listener, 0
