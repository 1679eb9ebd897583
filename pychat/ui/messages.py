"""How session events reach the UI: each as a ``SessionEvent`` message, except streamed
text, which waits in a ``TextInbox`` and is merged while the screen is busy."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from weakref import WeakKeyDictionary

from textual.app import App
from textual.message import Message

from pychat.session.events import Event, TextReceived, ThinkingReceived


class SessionEvent(Message, bubble=False):
    """A session event, posted from whichever thread emitted it (``post_message`` is
    thread-safe and never blocks the worker). Posted straight to the screen that routes
    it, so it does not bubble."""

    def __init__(self, event: Event) -> None:
        self.event = event
        super().__init__()

    def can_replace(self, message: Message) -> bool:
        """A snapshot not yet handled (a VRAM sample, load progress) gives way to a newer
        one of its kind instead of queueing behind it."""
        return (self.event.replaceable and isinstance(message, SessionEvent)
                and type(message.event) is type(self.event))


class TextWaiting(Message, bubble=False):
    """The ``TextInbox`` has text: take it (one is posted at a time)."""


class TextInbox:
    """Streamed reply text and reasoning on their way to the screen.

    A GPU writes hundreds of tokens a second: posted one message per batch, text queued
    faster than the screen could render it, and the screen fell seconds behind. Here a
    batch waits in a list and one ``TextWaiting`` is posted; when the screen gets to it,
    it takes everything that came meanwhile, merged per reply, and renders it at once: the
    busier the screen, the bigger (and fewer) its appends. Order with the other events is
    kept: the message is posted before any event that comes after the text it announces.
    """

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._waiting: list[TextReceived | ThinkingReceived] = []
        self._announced = False

    def put(self, event: TextReceived | ThinkingReceived) -> None:
        """From the session's threads."""
        with self._lock:
            self._waiting.append(event)
            if self._announced:
                return
            self._announced = True
        self._post(TextWaiting())

    def take(self) -> list[TextReceived | ThinkingReceived]:
        """On the UI thread: what came, consecutive batches of one kind and reply merged."""
        with self._lock:
            waiting, self._waiting, self._announced = self._waiting, [], False
        merged: list[TextReceived | ThinkingReceived] = []
        for event in waiting:
            last = merged[-1] if merged else None
            if type(last) is type(event) and last is not None \
                    and last.reply_id == event.reply_id:
                merged[-1] = replace(event, text=last.text + event.text)
            else:
                merged.append(event)
        return merged


_shown: WeakKeyDictionary[App[Any], dict[tuple[str, str], float]] = WeakKeyDictionary()
"""Per app: when each toast shown leaves the screen."""


def notify_once(app: App[Any], message: str, title: str, severity: Any = "information",
                timeout: float = 8) -> None:
    """A toast, unless the same one is still on screen. Key repeat or a burst of keys
    (ctrl+r with nothing to regenerate) stacked dozens of identical toasts, and laying
    them out kept the app busy for seconds after the keys stopped."""
    now = time.monotonic()
    shown = _shown.setdefault(app, {})
    if shown.get((title, message), 0.0) > now:
        return
    shown[(title, message)] = now + timeout
    if len(shown) > 256:
        for key in [k for k, until in shown.items() if until <= now]:
            del shown[key]
    app.notify(message, title=title, severity=severity, timeout=timeout, markup=False)
    # Textual 8.2 removes an expired toast without repainting what it covered when it lies
    # over some layouts (seen at 80x24: the toast stayed on screen until those lines
    # changed). Repainting the screen just after it expires clears it.
    app.set_timer(timeout + 0.3, lambda: _repaint(app))


def _repaint(app: App[Any]) -> None:
    """Repaint the screen on top, unless the app is closing (no screen left to ask for)."""
    if app.is_running and app.screen_stack:
        app.screen.refresh()
