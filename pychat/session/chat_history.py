"""The session's intents about kept chats: saving, opening, versions, edit and resend, the
chat's own settings and the context budget. ``ChatSession`` mixes this in; the store work
runs on the history's lane, changes to the conversation under the session's lock."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pychat.config import LoadedConfig, Sampling
from pychat.engine.base import ChatMessage
from pychat.engine.context import fit_messages, reply_reserve
from pychat.errors import ContextOverflowError, Refused
from pychat.locations import user_data_dir
from pychat.session import events as ev
from pychat.session.conversation import Turn, TurnState
from pychat.session.events import ReplyState
from pychat.session.history import ChatSettings, title_for
from pychat.store import Store, StoredChat, StoredMessage

if TYPE_CHECKING:
    from pychat.session.chat import ChatSession
    from pychat.session.replies import ReplyRun

SAVE_SECONDS = 1.0
"""A reply being written is saved at least this often: a kill loses at most this much."""


def history_path(loaded: LoadedConfig) -> Path | None:
    """The history file: ``history_file`` from the config, or the user data folder."""
    configured = loaded.config.history_file
    if not configured:
        return user_data_dir() / "history.sqlite3"
    return loaded.base_dir / Path(configured).expanduser()


def _turn(message: StoredMessage) -> Turn:
    state = message.state if message.state in ("ok", "stopped", "error", "excluded") else "ok"
    return Turn("user" if message.role == "user" else "assistant", message.text,
                cast(TurnState, state), 0, message.id, message.version, message.versions,
                message.model)


class HistoryIntents:
    """Chats kept in the history (see the module docstring)."""

    _lock: threading.RLock

    def _session(self) -> ChatSession:
        return cast("ChatSession", self)

    # ------------------------------------------------------------------ saving

    def _model_name(self) -> str:
        model = self._session().model
        return model.spec.name if model else ""

    def chat_settings(self) -> ChatSettings:
        session = self._session()
        return ChatSettings(session.conversation.system_prompt, session.chat_sampling)

    def save_message(self, turn: Turn, position: int) -> None:
        """Under the lock: save the user's message (the chat is created on its first)."""
        session = self._session()
        history, model = session.history, self._model_name()
        settings, title = self.chat_settings().to_json(), title_for(turn.text)

        def job(store: Store) -> None:
            if history.chat_id is None:
                history.chat_id = store.new_chat(title, model, settings)
                session._emit(ev.ChatSaved(history.chat_id, title))
            stored = store.add_message(history.chat_id, position, "user", turn.text,
                                       turn.state)
            turn.message_id, turn.version, turn.versions = (stored.id, stored.version,
                                                            stored.versions)

        history.run(job)

    def save_reply(self, run: ReplyRun, state: str, turn: Turn | None = None) -> None:
        """Save the reply as it stands (created on the first save, updated after)."""
        session = self._session()
        history, model, text = session.history, self._model_name(), run.text
        turns = session.conversation.turns
        asked = turns[run.position - 1] if 0 < run.position <= len(turns) else None
        run.saved_at = time.monotonic()

        def job(store: Store) -> None:
            if run.message_id:
                store.update_message(run.message_id, text, state)
            elif history.chat_id is not None:
                answers = asked.version if asked is not None and asked.role == "user" else 0
                stored = store.add_message(history.chat_id, run.position, "assistant", text,
                                           state, model, answers)
                run.message_id, run.version = stored.id, (stored.version, stored.versions)
            if turn is not None:
                turn.message_id = run.message_id
                turn.version, turn.versions = run.version

        history.run(job)

    def forget_chat(self) -> None:
        """The next message starts a new chat in the history."""
        history = self._session().history
        history.run(lambda store: setattr(history, "chat_id", None))

    def delete_chat(self, chat_id: int) -> None:
        """Delete a kept chat; deleting the one on screen starts a new chat."""
        session = self._session()
        if session.history.chat_id == chat_id:
            session.new_chat()
        session.history.delete(chat_id)

    # ------------------------------------------------------------------ opening

    def open_chat(self, chat_id: int) -> None:
        """Resume a kept chat: its messages, system prompt, sampling and model."""
        session = self._session()
        with self._lock:
            session._check_idle()
        session.history.load(chat_id, self._opened)

    def _opened(self, chat: StoredChat | None) -> None:
        session = self._session()
        if chat is None:
            session._emit(ev.Notice("Chat not found", "It was deleted meanwhile.", "warning"))
            return
        with self._lock:
            if session.reply_state is not ReplyState.IDLE:
                session._emit(ev.Notice("Not now", "A reply is being written.", "warning"))
                return
            session.history.chat_id = chat.id
            session.conversation.turns = [_turn(m) for m in chat.messages]
            base = ChatSettings(session.config.config.system_prompt, session.config.config.sampling)
            settings = base.merged(chat.settings)
            session.conversation.system_prompt = settings.system_prompt
            session.chat_sampling = settings.sampling
            session._system_fixed = True
            shown = [dataclasses.replace(t) for t in session.conversation.turns]
            session._emit(ev.ChatOpened(chat.id, chat.title, shown, chat.model))
            session._emit(ev.SettingsChanged(settings.system_prompt, settings.sampling))
        current = self._model_name()
        if chat.model and chat.model != current:
            path = next((p for p in session.library.paths() if p.name == chat.model), None)
            if path is not None:
                session._emit(ev.LogLine("info", f"Loading {chat.model}, the model this chat "
                                                  "was held with."))
                session.load(path, remember=False)
            else:
                session._emit(ev.Notice(
                    "Its model is gone", f"This chat was held with {chat.model}, which is not "
                    f"here any more; it goes on with {current or 'the model you load'}.",
                    "warning"))

    # ------------------------------------------------------------------ versions, edits

    def last_message_text(self) -> str:
        """The last message the user sent ("" when there is none): what Up edits."""
        session = self._session()
        with self._lock:
            position = session.conversation.last_user_position()
            return "" if position is None else session.conversation.turns[position].text

    def edit_last(self, text: str) -> None:
        """Send ``text`` in place of the last message; what it replaces (and its reply) stay
        as earlier versions."""
        session = self._session()
        text = text.strip()
        if not text:
            return
        with self._lock:
            session._check_idle()
            position = session.conversation.last_user_position()
            if position is None:
                raise Refused("There is no message to edit yet.")
            del session.conversation.turns[position:]
            session._emit(ev.TurnsTruncated(position))
            session._add_user(text)
            session._open_reply()

    def page_version(self, step: int) -> None:
        """Show an older (``step`` -1) or newer (+1) version of the last reply, with the
        message it answered."""
        session = self._session()
        with self._lock:
            session._check_idle()
            turns = session.conversation.turns
            position = len(turns) - 1
            chat_id = session.history.chat_id
            if position < 1 or turns[position].role != "assistant" or chat_id is None \
                    or turns[position].versions < 2:
                raise Refused("The last reply has no other version (regenerate makes one).")
            current = turns[position].version

        def job(store: Store) -> None:
            numbers = [v.version for v in store.versions(chat_id, position)]
            index = numbers.index(current) if current in numbers else len(numbers) - 1
            wanted = numbers[max(0, min(len(numbers) - 1, index + step))]
            store.select_version(chat_id, position, wanted)
            chat = store.load_chat(chat_id)
            if chat is None or len(chat.messages) <= position:
                return
            with self._lock:
                if session.reply_state is not ReplyState.IDLE or \
                        session.history.chat_id != chat_id:
                    return
                user, reply = _turn(chat.messages[position - 1]), _turn(chat.messages[position])
                session.conversation.turns[position - 1:] = [user, reply]
                session._emit(ev.ExchangeShown(
                    position - 1, dataclasses.replace(user), dataclasses.replace(reply),
                    f"version {reply.version} of {reply.versions}"))

        session.history.run(job)

    # ------------------------------------------------------------------ settings, budget

    def update_settings(self, system_prompt: str, sampling: Sampling) -> None:
        """This chat's system prompt and sampling (kept with it in the history)."""
        session = self._session()
        with self._lock:
            session.conversation.system_prompt = system_prompt
            session.chat_sampling = sampling
            session._system_fixed = True
            session._emit(ev.SettingsChanged(system_prompt, sampling))
            history, model = session.history, self._model_name()
            settings = self.chat_settings().to_json()

        def job(store: Store) -> None:
            if history.chat_id is not None:
                store.save_settings(history.chat_id, model, settings)

        history.run(job)

    def count_budget(self, draft: str) -> None:
        """Count, off the UI thread, the tokens the next request would take with ``draft``
        as its message, after leaving out what does not fit; the answer comes as
        BudgetCounted. Only the newest count matters: a waiting one gives way."""
        session = self._session()

        def job() -> None:
            with self._lock:
                model, sampling = session.model, session.sampling
                messages: list[ChatMessage] = session.conversation.messages()
            if model is None:
                return
            if draft.strip():
                if messages and messages[-1]["role"] == "user":
                    messages[-1] = {"role": "user",
                                    "content": f"{messages[-1]['content']}\n\n{draft}"}
                else:
                    messages.append({"role": "user", "content": draft})
            if not any(m["role"] == "user" for m in messages):
                tokens = session.backend.count_tokens(messages) if messages else 0
                session._emit(ev.BudgetCounted(tokens, model.n_ctx))
                return
            budget = model.n_ctx - reply_reserve(model.n_ctx, sampling.max_tokens)
            try:
                _, dropped, tokens = fit_messages(messages, session.backend.count_tokens,
                                                  budget)
            except ContextOverflowError:
                session._emit(ev.BudgetCounted(budget + 1, model.n_ctx, overflow=True))
                return
            session._emit(ev.BudgetCounted(tokens, model.n_ctx, dropped))

        session._counts.submit(job)
