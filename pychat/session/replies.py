"""One reply, from the backend's stream to batches of inert text, and how it ended."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pychat.config import Sampling
from pychat.engine.base import Backend, ChatMessage, GenerationStats
from pychat.errors import PyChatError
from pychat.session.conversation import TurnState
from pychat.text import inert


@dataclass
class ReplyRun:
    """A reply being generated on the reply lane; what it has written so far stays here
    so that a reply broken by an unexpected exception keeps its text."""

    reply_id: int
    cancel: threading.Event = field(default_factory=threading.Event)
    parts: list[str] = field(default_factory=list)
    position: int = 0
    """Where the reply goes in the conversation."""
    message_id: int = 0
    """Its row in the history (set on the store lane)."""
    version: tuple[int, int] = (1, 1)
    """Its version at its position, and how many versions there are (set with the id)."""
    saved_at: float = 0.0
    sent_positions: list[int] = field(default_factory=list)
    """The position of the first turn of each message sent (see Conversation.sent)."""

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def stream(self, backend: Backend, messages: list[ChatMessage], sampling: Sampling,
               flush_seconds: float, on_text: Callable[[str], None]
               ) -> tuple[GenerationStats, PyChatError | None]:
        """Generate the reply; hand its text to ``on_text`` in batches (the first piece at
        once, then at most every ``flush_seconds``). PyChat's own errors end the reply
        and are returned; anything else propagates to the lane's failure handler."""
        stats = GenerationStats()
        batch: list[str] = []
        last_flush = 0.0  # the first piece goes out at once: time to first token counts

        def flush() -> None:
            if batch:
                on_text("".join(batch))
                batch.clear()

        error: PyChatError | None = None
        try:
            stream = backend.stream_chat(messages, sampling, self.cancel)
            stats = stream.stats
            try:
                for piece in stream:
                    piece = inert(piece)  # the boundary every backend's text passes
                    self.parts.append(piece)
                    batch.append(piece)
                    now = time.monotonic()
                    if now - last_flush >= flush_seconds:
                        flush()
                        last_flush = now
            finally:
                stream.close()
        except PyChatError as exc:
            error = exc
        flush()
        return stats, error


def closing_note(stats: GenerationStats, error: PyChatError | None) -> tuple[str, TurnState]:
    """The line shown under a finished reply, and the state its turn is kept in."""
    note = ""
    state: TurnState = "ok"
    if error is not None:
        note, state = f"⚠ {inert(error.message)}", "error"
    elif stats.finish_reason == "cancelled":
        note, state = "⏹ stopped", "stopped"
    elif stats.finish_reason == "length":
        note = "(reply cut at max_tokens)"
    if stats.dropped_messages:
        note += f" ({stats.dropped_messages} old messages left out to fit the context)"
    return note.strip(), state
