"""Replies: the state machine every reply goes through, one reply's run from the backend's
stream to batches of inert text, and the note it closes with."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pychat.config import Sampling
from pychat.engine.base import Backend, ChatMessage, GenerationStats, Thinking
from pychat.errors import PyChatError, Refused
from pychat.session.conversation import TurnState
from pychat.session.events import ReplyState
from pychat.session.thinking import ThinkSplitter
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
    thinking: list[str] = field(default_factory=list)
    """The model's reasoning, apart from the reply (never sent back to it)."""
    thinking_pieces: int = 0
    thinking_since: float = 0.0
    thinking_seconds: float = 0.0
    """How long the model has been thinking (from its first piece of reasoning)."""

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def thought(self) -> str:
        return "".join(self.thinking)

    def stream(self, backend: Backend, messages: list[ChatMessage], sampling: Sampling,
               flush_seconds: float, on_text: Callable[[str], None],
               on_thinking: Callable[[str], None] = lambda text: None
               ) -> tuple[GenerationStats, PyChatError | None]:
        """Generate the reply; hand its text to ``on_text`` in batches (the first piece at
        once, then at most every ``flush_seconds``), and its reasoning (``Thinking``
        pieces) to ``on_thinking`` the same way. PyChat's own errors end the reply and
        are returned; anything else propagates to the lane's failure handler."""
        stats = GenerationStats()
        batch: list[str] = []
        thoughts: list[str] = []
        last_flush = 0.0  # the first piece goes out at once: time to first token counts

        def flush() -> None:
            if thoughts:
                on_thinking("".join(thoughts))
                thoughts.clear()
            if batch:
                on_text("".join(batch))
                batch.clear()

        def take(thinking: bool, text: str) -> None:
            if thinking:
                now = time.monotonic()
                self.thinking_since = self.thinking_since or now
                self.thinking_seconds = now - self.thinking_since
                self.thinking_pieces += 1
                self.thinking.append(text)
                thoughts.append(text)
            else:
                self.parts.append(text)
                batch.append(text)

        splitter = ThinkSplitter()
        error: PyChatError | None = None
        try:
            stream = backend.stream_chat(messages, sampling, self.cancel)
            stats = stream.stats
            try:
                for piece in stream:
                    text = inert(piece)  # the boundary every backend's text passes
                    if isinstance(piece, Thinking):  # a server's reasoning_content
                        take(True, text)
                    else:  # <think>…</think> inside the text
                        for thinking, part in splitter.feed(text):
                            take(thinking, part)
                    now = time.monotonic()
                    if now - last_flush >= flush_seconds:
                        flush()
                        last_flush = now
            finally:
                stream.close()
        except PyChatError as exc:
            error = exc
        for thinking, part in splitter.flush():
            take(thinking, part)
        flush()
        return stats, error


class ReplyMachine:
    """The reply lifecycle: idle → (waiting for model →) answering → (stopping →) idle.

    It knows which reply is active (the one waiting or being answered) and the runs still
    streaming; a run whose reply is no longer active (the chat was cleared) ends into
    nothing. It takes no lock and emits nothing: the session calls it under its lock and
    announces each new state once the events that explain it are out.
    """

    def __init__(self) -> None:
        self.state = ReplyState.IDLE
        self.active: int | None = None
        """The reply waiting or being answered."""
        self._last_id = 0
        self._runs: dict[int, ReplyRun] = {}
        self._cancel = threading.Event()

    def check_idle(self) -> None:
        """Raise Refused, saying why, unless a new reply may start."""
        if self.state in (ReplyState.ANSWERING, ReplyState.STOPPING):
            raise Refused("Still answering — press Escape to stop the reply first.")
        if self.state is ReplyState.WAITING_FOR_MODEL:
            raise Refused("The last message is still waiting for the model.")

    @property
    def waiting(self) -> int | None:
        """The reply waiting for a model, if one is."""
        return self.active if self.state is ReplyState.WAITING_FOR_MODEL else None

    def open(self) -> int:
        """A new reply becomes the active one; returns its id."""
        self._last_id += 1
        self.active = self._last_id
        return self.active

    def wait_for_model(self) -> None:
        self.state = ReplyState.WAITING_FOR_MODEL

    def begin(self, position: int) -> ReplyRun:
        """The active reply starts being generated, to go at ``position``."""
        assert self.active is not None, "begin() needs an open reply"
        run = ReplyRun(self.active, position=position)
        self._runs[run.reply_id] = run
        self._cancel = run.cancel
        self.state = ReplyState.ANSWERING
        return run

    def stop(self) -> bool:
        """Ask the reply being generated to stop; True when one was (now stopping)."""
        if self.state is not ReplyState.ANSWERING:
            return False
        self._cancel.set()
        self.state = ReplyState.STOPPING
        return True

    def cancel(self) -> None:
        """Tell a run still streaming to end (at quit), whatever the state says."""
        self._cancel.set()

    def clear(self) -> None:
        """Drop the active reply, whatever it was doing: its run finishes into nothing."""
        self._cancel.set()
        self.active = None
        self.state = ReplyState.IDLE

    def finish(self, reply_id: int, position: int) -> ReplyRun | None:
        """The reply ``reply_id`` ended. Returns its run when it is still the active reply
        (a reply that never began gets an empty run at ``position``), None when the chat
        dropped it meanwhile. Call ``settle`` once the ending is recorded."""
        run = self._runs.pop(reply_id, None)
        if reply_id != self.active:
            return None
        return run or ReplyRun(reply_id, position=position)

    def settle(self) -> None:
        """The active reply's ending is recorded: back to idle."""
        self.active = None
        self.state = ReplyState.IDLE


def closing_note(stats: GenerationStats, error: PyChatError | None) -> tuple[str, TurnState]:
    """The line shown under a finished reply, and the state its turn is kept in."""
    note = ""
    state: TurnState = "ok"
    if error is not None:
        note, state = f"⚠ {inert(error.message)}", "error"
    elif stats.finish_reason == "cancelled":
        note, state = "■ stopped", "stopped"
    elif stats.finish_reason == "length":
        note = "(reply cut at max_tokens)"
    if stats.dropped_messages:
        note += f" ({stats.dropped_messages} old messages left out to fit the context)"
    return note.strip(), state
