"""The one Textual message the UI gets from the session: a plain event, carried across."""

from __future__ import annotations

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
