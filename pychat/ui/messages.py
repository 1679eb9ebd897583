"""The one Textual message the UI gets from the session: a plain event, carried across."""

from __future__ import annotations

import time
from typing import Any
from weakref import WeakKeyDictionary

from textual.app import App
from textual.message import Message

from pychat.session.events import Event


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
