"""The chat session: one conversation, one model at a time, and the reply lifecycle.

Plain Python, no Textual. Intents (``send``, ``stop``, ``regenerate``, ``new_chat``,
``load``, ``open_chat`` …) return at once; the work runs on worker lanes and everything
that happens comes back to the listener as events (``pychat.session.events``), in order.

The session wires its collaborators together and owns the model state; each of them has
one job and a public API:

- ``Loader``: the one load path, with rollback (``loading.py``);
- ``ReplyMachine`` and ``ReplyRun``: the reply states, one reply's stream (``replies.py``);
- ``History``: the kept chats on their lane (``history.py``);
- ``ChatRecorder``: what is saved into the history, when (``recorder.py``);
- ``Conversation``: the turns as the user saw them (``conversation.py``).

Two explicit state machines, changed only under the session's lock: the model (none →
loading → ready, or back to none when nothing could be loaded) and the reply (idle →
waiting for model → answering → stopping → idle). A message sent while no model is ready
waits and is answered once one is.
"""

from __future__ import annotations

import dataclasses
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from pychat.config import Config, LoadedConfig, Sampling
from pychat.engine.backends import Backends
from pychat.engine.base import Backend, GenerationStats, LoadedModel, ModelRef, as_ref
from pychat.engine.context import next_request_budget
from pychat.errors import ContextOverflowError, PyChatError, Refused
from pychat.gpu import GpuMonitor
from pychat.library import NO_OVERRIDES, ModelLibrary, ModelListing, Overrides
from pychat.session import events as ev
from pychat.session.conversation import Conversation, stored_turn
from pychat.session.events import Event, ModelState, ReplyState
from pychat.session.history import ChatSettings, History, history_path, title_for
from pychat.session.lanes import Lane, reporter
from pychat.session.loading import LoadRequest
from pychat.session.model_slot import ModelSlot
from pychat.session.recorder import ChatRecorder
from pychat.session.replies import ReplyMachine, closing_note
from pychat.store import StoredChat, StoredMessage
from pychat.text import inert

Listener = Callable[[Event], None]

NO_MODEL_NOTE = ("No model loaded — press ctrl+o to pick one; your message will be answered "
                 "once one loads.")


class ChatSession:
    """Everything PyChat works with: config, models, engine, GPU monitor and the chat."""

    def __init__(self, config_file: LoadedConfig, library: ModelLibrary, backend: Backend,
                 monitor: GpuMonitor, *, flush_seconds: float = 0.1,
                 system_prompt: str | None = None) -> None:
        self.config_file = config_file
        """The config file as read: its path, its problems, and the ``Config``."""
        self.library = library
        self.backend = backend
        """The local backend (llama.cpp, or a fake in tests)."""
        self.engines = Backends(backend, config_file.config.servers)
        """The local backend and the servers': the one holding the model answers."""
        self.monitor = monitor
        self.flush_seconds = flush_seconds
        """How often reply text is handed on: batches, not single tokens (0 = every piece)."""
        self.conversation = Conversation(
            self.config.system_prompt if system_prompt is None else system_prompt)
        self.sampling: Sampling = self.config.sampling
        """This chat's sampling (the config's until the chat's own settings change it)."""
        self._prompt_chosen = system_prompt is not None
        """The system prompt was chosen for this chat (--system, the chat's settings, a
        kept chat): a model loaded later keeps it instead of bringing its own."""
        self._listener: Listener = lambda event: None
        self._lock = threading.RLock()
        self.replies = ReplyMachine()
        self.models = ModelSlot(library, self.engines, monitor, lock=self._lock,
                                emit=self._emit,
                                report=self._job_failed, state_changed=self._state_changed,
                                loaded=self._model_loaded, settled=self._model_settled)
        self._replies = Lane("pychat-reply", reporter(self._job_failed, "reply"))
        self._counts = Lane("pychat-count", reporter(self._job_failed, "count"))
        self.history = History(history_path(config_file), self._emit, self._job_failed)
        self.recorder = ChatRecorder(self.history, self._emit)
        self.engines.set_log_callback(
            lambda level, line: self._emit(ev.LogLine(level, inert(line), "llama.cpp")))

    @property
    def config(self) -> Config:
        """The settings in force (the defaults when the file has errors)."""
        return self.config_file.config

    @property
    def reply_state(self) -> ReplyState:
        return self.replies.state

    @property
    def model_state(self) -> ModelState:
        return self.models.state

    @property
    def model(self) -> LoadedModel | None:
        """The model loaded now, if any."""
        return self.models.model

    @property
    def model_name(self) -> str:
        """The loaded model's name ("" without one)."""
        return self.models.name

    @property
    def busy(self) -> bool:
        """True while a load, a reply or a listing is still running on a worker."""
        return self.models.busy or self._replies.busy

    def chat_settings(self) -> ChatSettings:
        """This chat's system prompt and sampling."""
        return ChatSettings(self.conversation.system_prompt, self.sampling)

    # ------------------------------------------------------------------ plumbing

    def listen(self, listener: Listener) -> None:
        """Send every event to ``listener`` from now on (it must not block)."""
        self._listener = listener

    def _emit(self, event: Event) -> None:
        self._listener(event)

    def _state_changed(self) -> None:
        self._emit(ev.StateChanged(self.model_state, self.replies.state))

    def _job_failed(self, job: str, exc: BaseException) -> str:
        """The one place a worker's unexpected exception is reported: a WorkerFailed event
        with the traceback (the UI logs it and shows a titled notification). Returns the
        one-line message."""
        message = inert(f"{type(exc).__name__}: {exc}".rstrip(": "))
        details = inert("".join(traceback.format_exception(exc)))
        self._emit(ev.WorkerFailed(job, message, details))
        return message

    # ------------------------------------------------------------------ start and stop

    def start(self, model: ModelRef | Path, overrides: Overrides = NO_OVERRIDES, *,
              poll_vram: float | None = 1.0, fallback: bool = True) -> None:
        """Report config problems, load the start-up model, start the VRAM monitor."""
        for error in self.config_file.errors:
            self._emit(ev.LogLine("error", inert(error)))
            self._emit(ev.Notice("Config file has errors — running on defaults", inert(error),
                                 "error"))
        for warning in self.config_file.warnings:
            self._emit(ev.LogLine("warning", inert(warning)))
            self._emit(ev.Notice("A setting was left out", inert(warning), "warning"))
        self.history.start()
        self.models.load(LoadRequest(as_ref(model), overrides, startup=fallback))
        if poll_vram:
            self.models.poll_vram(poll_vram)

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop the reply and the monitor; free the model (waits at most ``timeout``)."""
        self.replies.cancel()
        self.history.close()
        self.history.wait(timeout)  # the last second of a reply, saved
        self.models.shutdown(timeout)

    # ------------------------------------------------------------------ models

    def load(self, model: ModelRef | Path, overrides: Overrides = NO_OVERRIDES,
             remember: bool = True) -> None:
        """Switch to (or reload) ``model`` (a local file's path will do); the current model
        comes back if it fails.

        A reply being written is stopped first; a message waiting for a model goes on
        waiting and is answered by this one."""
        self._stop_answering()
        self.models.load(LoadRequest(as_ref(model), overrides, remember=remember))

    def reload(self, overrides: Overrides) -> None:
        """Load the current model again with other settings."""
        ref = self.model.spec.ref if self.model else \
            ModelRef.local(self.library.startup_model())
        self.load(ref, overrides)

    def _model_loaded(self, model: LoadedModel) -> None:
        """Under the lock: a chat not answered yet takes the new model's system prompt;
        with thinking off, a model without the switch is told."""
        answered = any(t.role == "assistant" for t in self.conversation.turns)
        if not answered and not self._prompt_chosen:
            self.conversation.system_prompt = self.library.system_prompt_for(model.spec.ref)
        if not self.sampling.thinking and not self.engines.capabilities.thinking_switch:
            self._emit(ev.Notice(
                "No thinking switch", f"{model.spec.name}'s chat template has no "
                "enable_thinking switch: it may still think.", "warning"))

    def _model_settled(self) -> None:
        """Under the lock: a load ended; a message waiting for a model goes on."""
        waiting = self.replies.waiting
        if waiting is None:
            return
        if self.model is not None:
            self._begin_answer()
        else:
            self._emit(ev.ReplyNote(waiting, NO_MODEL_NOTE))

    def listing(self) -> ModelListing:
        """Every model with its settings and the GPU facts (blocking: reads headers)."""
        return self.models.listing()

    def list_models(self) -> None:
        """Gather the listing on a worker; it comes back as ModelsListed."""
        self.models.list_models()

    def watch_vram(self, on: bool) -> None:
        """Pause or resume the VRAM samples (the UI pauses them while the pane is hidden)."""
        self.models.watch_vram(on)

    # ------------------------------------------------------------------ the chat

    def send(self, text: str) -> None:
        """Add the user's message and answer it (now, or once a model is ready).

        Raises Refused while a reply is being answered or still waits for the model.
        """
        text = text.strip()
        if not text:
            return
        with self._lock:
            self.replies.check_idle()
            self._add_user(text)
            self._open_reply()

    def _add_user(self, text: str) -> None:
        """Under the lock: the message joins the chat and is saved before any reply."""
        position = len(self.conversation.turns)
        turn = self.conversation.add_user(text)
        self._emit(ev.MessageSent(text, position))
        self.recorder.save_message(turn, position, self.model_name, self.chat_settings())

    def regenerate(self) -> None:
        """Answer the last message again, in place of its reply."""
        with self._lock:
            self.replies.check_idle()
            previous = self.conversation.pop_last_reply()
            if previous is None and not self.conversation.has_question:
                raise Refused("There is no reply to regenerate yet.")
            if previous is not None:
                self._emit(ev.ReplyRemoved(previous.reply_id, len(self.conversation.turns)))
            self._open_reply()

    def stop(self) -> None:
        """Stop the reply (its text so far stays); a waiting message stops waiting."""
        with self._lock:
            self._stop_answering()
            waiting = self.replies.waiting
            if waiting is not None:
                self._finish_reply(waiting, "", GenerationStats(finish_reason="cancelled"),
                                   None)

    def _stop_answering(self) -> None:
        with self._lock:
            if self.replies.stop():
                self._state_changed()

    def new_chat(self) -> None:
        """Drop the conversation and start an empty one."""
        with self._lock:
            self.replies.clear()
            self.conversation.clear()
            self.recorder.forget_chat()
            self._emit(ev.ChatCleared())
            self._state_changed()

    def _title(self) -> str:
        if self.model_state is ModelState.LOADING and self.models.loading_name:
            return self.models.loading_name
        return self.model_name or "assistant"

    def _open_reply(self) -> None:
        """Under the lock, with a question to answer: show a reply and answer or wait."""
        reply_id = self.replies.open()
        self._emit(ev.ReplyStarted(reply_id, self._title(), len(self.conversation.turns)))
        if self.model_state is ModelState.READY:
            self._begin_answer()
            return
        self.replies.wait_for_model()
        loading = self.model_state is ModelState.LOADING
        self._emit(ev.ReplyNote(reply_id, "Waiting for the model to finish loading…"
                                if loading else NO_MODEL_NOTE))
        self._state_changed()

    def _begin_answer(self, prefix: str = "", thinking: str = "") -> None:
        """Under the lock, with a model ready: generate the active reply on a worker
        (``prefix``: a reply being continued, which the model goes on from)."""
        position = len(self.conversation.turns)
        run = self.replies.begin(position)
        run.parts[:] = [prefix] if prefix else []
        run.thinking[:] = [thinking] if thinking else []
        self._emit(ev.ReplyAnswering(run.reply_id, self._title()))
        self._state_changed()
        (messages, run.sent_positions), sampling = self.conversation.sent(), self.sampling
        if prefix:
            messages.append({"role": "assistant", "content": prefix})
        model, asked = self.model_name, self.conversation.asked(position)
        self.recorder.save_reply(run, "streaming", model, asked)

        def on_text(text: str) -> None:
            self._emit(ev.TextReceived(run.reply_id, text))
            if self.recorder.due(run):  # a kill loses at most the last second
                self.recorder.save_reply(run, "streaming", model, asked)

        def on_thinking(text: str) -> None:
            self._emit(ev.ThinkingReceived(run.reply_id, text, run.thinking_seconds,
                                           run.thinking_pieces))

        def answer() -> None:
            self.history.wait()  # the message is saved before its reply starts
            stats, error = run.stream(self.engines, messages, sampling, self.flush_seconds,
                                      on_text, on_thinking)
            self._finish_reply(run.reply_id, run.text, stats, error)

        def fail(message: str) -> None:
            self._finish_reply(run.reply_id, run.text, GenerationStats(finish_reason="error"),
                               PyChatError(f"error: {message}", "Reply failed"))

        self._replies.submit(answer, reporter(self._job_failed, "reply", fail))

    def _finish_reply(self, reply_id: int, text: str, stats: GenerationStats,
                      error: PyChatError | None) -> None:
        with self._lock:
            position = len(self.conversation.turns)
            run = self.replies.finish(reply_id, position)
            if run is None:
                return  # the chat was cleared meanwhile
            if isinstance(error, ContextOverflowError) and error.part == "message":
                self.conversation.exclude_last_user()  # it would fail every time
            note, state = closing_note(stats, error)
            turn = self.conversation.add_reply(reply_id, text, state, run.thought)
            turn.model = self.model_name
            run.parts[:] = [text]
            self.recorder.save_reply(run, state, turn.model,
                                     self.conversation.asked(run.position), turn)
            turns_sent = [p for p in run.sent_positions if p >= 0]  # not the system prompt
            if stats.dropped_messages and len(turns_sent) > stats.dropped_messages:
                self._emit(ev.ContextStart(turns_sent[stats.dropped_messages]))
            self.replies.settle()
            self._emit(ev.ReplyFinished(reply_id, stats, note,
                                        inert(error.message) if error else "",
                                        error.title if error else ""))
            self._state_changed()

    # ------------------------------------------------------------------ kept chats

    def open_chat(self, chat_id: int) -> None:
        """Resume a kept chat: its messages, system prompt, sampling and model."""
        with self._lock:
            self.replies.check_idle()
        self.history.load(chat_id, self._chat_read)

    def _chat_read(self, chat: StoredChat | None) -> None:
        if chat is None:
            self._emit(ev.Notice("Chat not found", "It was deleted meanwhile.", "warning"))
            return
        with self._lock:
            if self.replies.state is not ReplyState.IDLE:
                self._emit(ev.Notice("Not now", "A reply is being written.", "warning"))
                return
            self.history.chat_id = chat.id
            self.conversation.turns = [stored_turn(m) for m in chat.messages]
            settings = ChatSettings(self.config.system_prompt,
                                    self.config.sampling).merged(chat.settings)
            self.conversation.system_prompt, self.sampling = settings.system_prompt, \
                settings.sampling
            self._prompt_chosen = True
            shown = [dataclasses.replace(t) for t in self.conversation.turns]
            self._emit(ev.ChatOpened(chat.id, chat.title, shown, chat.model))
            self._emit(ev.SettingsChanged(settings.system_prompt, settings.sampling))
        current = self.model_name
        if not chat.model or chat.model == current:
            return
        ref = self.library.ref_named(chat.model)
        if ref is not None:
            self._emit(ev.LogLine("info", f"Loading {inert(chat.model)}, the model this chat "
                                          "was held with."))
            self.load(ref, remember=False)
        else:
            self._emit(ev.Notice(
                "Its model is gone", f"This chat was held with {chat.model}, which is not "
                f"here any more; it goes on with {current or 'the model you load'}.",
                "warning"))

    def delete_chat(self, chat_id: int) -> None:
        """Delete a kept chat; deleting the one on screen starts a new chat."""
        if self.history.chat_id == chat_id:
            self.new_chat()
        self.history.delete(chat_id)

    def last_message_text(self) -> str:
        """The last message the user sent ("" when there is none): what Up edits."""
        with self._lock:
            position = self.conversation.last_user_position()
            return "" if position is None else self.conversation.turns[position].text

    def edit_last(self, text: str) -> None:
        """Send ``text`` in place of the last message; what it replaces (and its reply)
        stay as earlier versions."""
        with self._lock:
            position = self.conversation.last_user_position()
            if position is None:
                raise Refused("There is no message to edit yet.")
            self.edit_at(position, text)

    def edit_at(self, position: int, text: str) -> None:
        """Send ``text`` in place of the message at ``position``: what follows it leaves
        the chat, and what it replaces stays as an earlier version there."""
        text = text.strip()
        if not text:
            return
        with self._lock:
            self.replies.check_idle()
            turns = self.conversation.turns
            if not 0 <= position < len(turns) or turns[position].role != "user":
                raise Refused("Only a message you sent can be edited and sent again.")
            del turns[position:]
            self._emit(ev.TurnsTruncated(position))
            self._add_user(text)
            self._open_reply()

    def continue_reply(self) -> None:
        """Generate more of the last reply (one stopped, cut at max_tokens, or cut short
        by an error): the model goes on from its text, which stays as one reply."""
        with self._lock:
            self.replies.check_idle()
            last = self.conversation.last_reply()
            if last is None or not last.text.strip():
                raise Refused("There is no reply to continue (the last turn is not one, or "
                              "it is empty).")
            if self.model_state is not ModelState.READY:
                raise Refused("Wait for the model to be ready, then continue.")
            if not self.engines.capabilities.continues_replies:
                raise Refused(f"{self.model_name} cannot continue a reply: this server does "
                              "not take an unfinished assistant message.", "Cannot continue")
            self.conversation.turns.pop()
            position = len(self.conversation.turns)
            self._emit(ev.ReplyRemoved(last.reply_id, position))
            reply_id = self.replies.open()
            self._emit(ev.ReplyStarted(reply_id, self._title(), position, last.text,
                                       last.thinking))
            self._begin_answer(last.text, last.thinking)

    def fork(self, position: int) -> None:
        """A new kept chat holding this one up to ``position`` (what you see), opened."""
        with self._lock:
            self.replies.check_idle()
            chat_id = self.history.chat_id
            if chat_id is None or not self.conversation.turns:
                raise Refused("There is nothing kept to fork yet: send a message first.")
            position = min(position, len(self.conversation.turns) - 1)
            first = self.conversation.turns[0].text
        self.history.fork(chat_id, position, f"Fork: {title_for(first)}", self._chat_read)

    def export_text(self, text: str, name: str) -> None:
        """Write ``text`` (a block of the chat) to a new file named after ``name`` in the
        folder PyChat was started in; a Notice says where."""
        self.history.write_file(Path.cwd(), name, text)

    def page_version(self, step: int) -> None:
        """Show an older (``step`` -1) or newer (+1) version of the last reply, with the
        message it answered."""
        with self._lock:
            self.replies.check_idle()
            turns = self.conversation.turns
            position, chat_id = len(turns) - 1, self.history.chat_id
            if position < 1 or turns[position].role != "assistant" or chat_id is None \
                    or turns[position].versions < 2:
                raise Refused("The last reply has no other version (regenerate makes one).")
            current = turns[position].version

        def shown(user: StoredMessage, reply: StoredMessage) -> None:
            with self._lock:
                if self.replies.state is not ReplyState.IDLE or self.history.chat_id != chat_id:
                    return
                asked, answer = stored_turn(user), stored_turn(reply)
                self.conversation.turns[position - 1:] = [asked, answer]
                self._emit(ev.ExchangeShown(
                    position - 1, dataclasses.replace(asked), dataclasses.replace(answer),
                    f"version {answer.version} of {answer.versions}"))

        self.history.show_version(chat_id, position, current, step, shown)

    def update_settings(self, system_prompt: str, sampling: Sampling) -> None:
        """This chat's system prompt and sampling (kept with it in the history)."""
        with self._lock:
            turned_off = self.sampling.thinking and not sampling.thinking
            self.conversation.system_prompt, self.sampling = system_prompt, sampling
            self._prompt_chosen = True
            self._emit(ev.SettingsChanged(system_prompt, sampling))
            self.recorder.save_settings(self.model_name, self.chat_settings())
            if turned_off:
                self._tell_thinking_switch()

    def _tell_thinking_switch(self) -> None:
        """Thinking is off for this chat: say so when the model has no switch for it,
        instead of failing silently (its reasoning still shows, collapsed)."""
        if self.model is not None and not self.engines.capabilities.thinking_switch:
            self._emit(ev.Notice(
                "No thinking switch", f"{self.model_name}'s chat template has no "
                "enable_thinking switch: it may still think; its reasoning stays collapsed "
                "and is never sent back.", "warning"))

    def count_budget(self, draft: str) -> None:
        """Count, off the UI thread, the tokens the next request would take with ``draft``
        as its message; the answer comes as BudgetCounted. Only the newest count matters:
        a waiting one gives way."""
        def job() -> None:
            with self._lock:
                model, sampling = self.model, self.sampling
                messages = self.conversation.messages()
            if model is None:
                return
            budget = next_request_budget(messages, draft, self.engines.count_tokens,
                                         model.n_ctx, sampling.max_tokens)
            self._emit(ev.BudgetCounted(budget.tokens, budget.n_ctx, budget.dropped,
                                        budget.overflow))

        self._counts.submit(job)
