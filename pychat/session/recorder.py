"""Writing the chat being held into the history as it happens."""

from __future__ import annotations

import time

from pychat.session import events as ev
from pychat.session.conversation import Turn
from pychat.session.history import ChatSettings, Emit, History, title_for
from pychat.session.replies import ReplyRun
from pychat.store import Store

SAVE_SECONDS = 1.0
"""A reply being written is saved at least this often: a kill loses at most this much."""


class ChatRecorder:
    """Saves each message before its reply starts, a reply while it streams and when it
    ends, and the chat's settings when they change.

    It works only from the values it is given (never reads the session) and does the
    writing on the history's lane, in the order asked; ids the store hands out are put
    on the turn or run they belong to, on that lane.
    """

    def __init__(self, history: History, emit: Emit) -> None:
        self.history = history
        self._emit = emit

    def save_message(self, turn: Turn, position: int, model: str,
                     settings: ChatSettings) -> None:
        """Save the user's message at ``position`` (the chat is created on its first)."""
        history, title, text, state = self.history, title_for(turn.text), turn.text, turn.state
        settings_json = settings.to_json()

        def job(store: Store) -> None:
            if history.chat_id is None:
                history.chat_id = store.new_chat(title, model, settings_json)
                self._emit(ev.ChatSaved(history.chat_id, title))
            stored = store.add_message(history.chat_id, position, "user", text, state)
            turn.message_id, turn.version, turn.versions = (stored.id, stored.version,
                                                            stored.versions)

        history.run(job)

    def due(self, run: ReplyRun) -> bool:
        """True when a streaming reply has gone unsaved for ``SAVE_SECONDS``."""
        return time.monotonic() - run.saved_at >= SAVE_SECONDS

    def save_reply(self, run: ReplyRun, state: str, model: str, asked: Turn | None,
                   turn: Turn | None = None) -> None:
        """Save the reply as it stands: created on the first save, updated after.
        ``asked``: the message it answers (its version is read on the lane, once that
        message's own save has set it); ``turn``: the finished reply's turn, which gets
        the stored ids."""
        history, text, thinking = self.history, run.text, run.thought
        run.saved_at = time.monotonic()

        def job(store: Store) -> None:
            if run.message_id:
                store.update_message(run.message_id, text, state, thinking)
            elif history.chat_id is not None:
                answers = asked.version if asked is not None and asked.role == "user" else 0
                stored = store.add_message(history.chat_id, run.position, "assistant", text,
                                           state, model, answers, thinking)
                run.message_id, run.version = stored.id, (stored.version, stored.versions)
            if turn is not None:
                turn.message_id = run.message_id
                turn.version, turn.versions = run.version

        history.run(job)

    def save_settings(self, model: str, settings: ChatSettings) -> None:
        """The chat's system prompt and sampling (kept with it once it has a message)."""
        history, settings_json = self.history, settings.to_json()

        def job(store: Store) -> None:
            if history.chat_id is not None:
                store.save_settings(history.chat_id, model, settings_json)

        history.run(job)

    def forget_chat(self) -> None:
        """The next message starts a new chat in the history."""
        history = self.history
        history.run(lambda store: setattr(history, "chat_id", None))
