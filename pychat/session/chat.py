"""The chat session: one conversation, one model at a time, and the reply lifecycle.

Plain Python, no Textual. Intents (``send``, ``stop``, ``regenerate``, ``new_chat``,
``load``, ``list_models``) return at once; the work runs on worker lanes and everything that
happens comes back to the listener as events (``pychat.session.events``), in order.

Two explicit state machines, changed only under the session's lock:

- model: none → loading → ready (or back to none when nothing could be loaded);
- reply: idle → waiting for model → answering → stopping → idle. A message sent while no
  model is ready waits and is answered once one is.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from pychat.config import LoadedConfig, Sampling
from pychat.engine.base import Backend, GenerationStats, LoadedModel
from pychat.errors import ContextOverflowError, PyChatError, Refused
from pychat.gpu import GpuMonitor
from pychat.library import NO_OVERRIDES, ModelLibrary, ModelListing, Overrides
from pychat.session import events as ev
from pychat.session.chat_history import SAVE_SECONDS, HistoryIntents, history_path
from pychat.session.conversation import Conversation
from pychat.session.events import Event, ModelState, ReplyState
from pychat.session.history import History
from pychat.session.lanes import Lane
from pychat.session.loading import Loader, LoadRequest
from pychat.session.replies import ReplyRun, closing_note
from pychat.text import inert

Listener = Callable[[Event], None]

NO_MODEL_NOTE = ("No model loaded — press ctrl+o to pick one; your message will be answered "
                 "once one loads.")


class ChatSession(HistoryIntents):
    """Everything PyChat works with: config, models, engine, GPU monitor and the chat."""

    def __init__(self, loaded: LoadedConfig, library: ModelLibrary, backend: Backend,
                 monitor: GpuMonitor, *, flush_seconds: float = 0.1,
                 system_prompt: str | None = None) -> None:
        self.config = loaded
        self.library = library
        self.backend = backend
        self.monitor = monitor
        self.flush_seconds = flush_seconds
        """How often reply text is handed on: batches, not single tokens (0 = every piece)."""
        self.conversation = Conversation(
            loaded.config.system_prompt if system_prompt is None else system_prompt)
        self.chat_sampling = loaded.config.sampling
        """This chat's sampling (the config's until the chat's own settings change it)."""
        self._system_fixed = system_prompt is not None
        """The system prompt was chosen for this session (--system): models keep it."""
        self.model_state = ModelState.NONE
        self.reply_state = ReplyState.IDLE
        self.model: LoadedModel | None = None
        self._listener: Listener = lambda event: None
        self._lock = threading.RLock()
        self._reply_id = 0
        self._runs: dict[int, ReplyRun] = {}
        self._active: int | None = None
        """The reply waiting or being answered."""
        self._cancel = threading.Event()
        self._load_ticket = 0
        self._loading_name = ""
        self._stop_polling = threading.Event()
        self._loader = Loader(library, backend, monitor, self._from_loader, self._job_failed)
        self._loads = Lane("pychat-load", self._failure_reporter("load"))
        self._replies = Lane("pychat-reply", self._failure_reporter("reply"))
        self._listings = Lane("pychat-listing", self._failure_reporter("listing"))
        self._vram = Lane("pychat-vram", self._failure_reporter("vram"))
        self._counts = Lane("pychat-count", self._failure_reporter("count"))
        self.history = History(history_path(loaded), self._emit, self._job_failed)
        backend.set_log_callback(
            lambda level, line: self._emit(ev.LogLine(level, inert(line), "llama.cpp")))

    @property
    def sampling(self) -> Sampling:
        return self.chat_sampling

    @property
    def busy(self) -> bool:
        """True while a load, a reply or a listing is still running on a worker."""
        return self._loads.busy or self._replies.busy or self._listings.busy

    # ------------------------------------------------------------------ plumbing

    def listen(self, listener: Listener) -> None:
        """Send every event to ``listener`` from now on (it must not block)."""
        self._listener = listener

    def _emit(self, event: Event) -> None:
        self._listener(event)

    def _state_changed(self) -> None:
        self._emit(ev.StateChanged(self.model_state, self.reply_state))

    def _failure_reporter(self, job: str,
                          recover: Callable[[str], None] | None = None
                          ) -> Callable[[BaseException], None]:
        """A lane's failure handler: report, then ``recover`` puts the session back in a
        state that takes the next message or command."""
        def handle(exc: BaseException) -> None:
            message = self._job_failed(job, exc)
            if recover is not None:
                recover(message)

        return handle

    def _job_failed(self, job: str, exc: BaseException) -> str:
        """The one place a worker's unexpected exception is reported: a WorkerFailed event
        with the traceback (the UI logs it and shows a titled notification). Returns the
        one-line message."""
        message = inert(f"{type(exc).__name__}: {exc}".rstrip(": "))
        details = inert("".join(traceback.format_exception(exc)))
        self._emit(ev.WorkerFailed(job, message, details))
        return message

    # ------------------------------------------------------------------ start and stop

    def start(self, path: Path, overrides: Overrides = NO_OVERRIDES, *,
              poll_vram: float | None = 1.0, fallback: bool = True) -> None:
        """Report config problems, load the start-up model, start the VRAM monitor."""
        for error in self.config.errors:
            self._emit(ev.LogLine("error", inert(error)))
            self._emit(ev.Notice("Config file has errors — running on defaults", inert(error),
                                 "error"))
        for warning in self.config.warnings:
            self._emit(ev.LogLine("warning", inert(warning)))
            self._emit(ev.Notice("A setting was left out", inert(warning), "warning"))
        self.history.start()
        self._request_load(LoadRequest(path, overrides, startup=fallback))
        if poll_vram:
            self._vram.submit(lambda: self._poll_vram(poll_vram))

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop the reply and the monitor; free the model (waits at most ``timeout``)."""
        self._stop_polling.set()
        self._cancel.set()
        self.history.close()
        self.history.wait(timeout)  # the last second of a reply, saved
        self.monitor.shutdown()
        self.backend.shutdown(timeout=timeout)

    # ------------------------------------------------------------------ models

    def load(self, path: Path, overrides: Overrides = NO_OVERRIDES, remember: bool = True
             ) -> None:
        """Switch to (or reload) ``path``; the current model comes back if it fails.

        A reply being written is stopped first; a message waiting for a model goes on
        waiting and is answered by this one."""
        self._stop_answering()
        self._request_load(LoadRequest(path, overrides, remember=remember))

    def reload(self, overrides: Overrides) -> None:
        """Load the current model again with other settings."""
        path = self.model.spec.path if self.model else self._startup_path()
        self.load(path, overrides)

    def _startup_path(self) -> Path:
        return self.library.startup_model()

    def _request_load(self, request: LoadRequest) -> None:
        with self._lock:
            self._load_ticket += 1
            ticket = self._load_ticket
            self.model_state = ModelState.LOADING
            self._loading_name = inert(request.path.name)
            self._state_changed()

        def fail(message: str) -> None:
            self._emit(ev.ModelLoadFailed(request.path, message, "Model load failed"))
            self._load_settled(ticket)

        self._loads.submit(lambda: self._load_job(request, ticket),
                           self._failure_reporter("load", fail))

    def _load_job(self, request: LoadRequest, ticket: int) -> None:
        self._loader.run(request)
        self._load_settled(ticket)

    def _from_loader(self, event: Event) -> None:
        if isinstance(event, ev.ModelLoaded):
            with self._lock:
                self.model = event.loaded
                answered = any(t.role == "assistant" for t in self.conversation.turns)
                if not answered and not self._system_fixed:
                    # A chat not answered yet takes the model's own system prompt.
                    own = self.library.settings_for(event.loaded.spec.path).system_prompt
                    self.conversation.system_prompt = own or self.config.config.system_prompt
        self._emit(event)

    def _load_settled(self, ticket: int) -> None:
        """A load ended: the model is ready or there is none; a waiting message goes on."""
        with self._lock:
            if ticket != self._load_ticket:
                return  # a newer load is waiting on the lane: still loading
            self.model = self.backend.loaded
            self.model_state = ModelState.READY if self.model else ModelState.NONE
            self._state_changed()
            if self.reply_state is ReplyState.WAITING_FOR_MODEL and self._active is not None:
                if self.model is not None:
                    self._begin_answer()
                else:
                    self._emit(ev.ReplyNote(self._active, NO_MODEL_NOTE))

    def listing(self) -> ModelListing:
        """Every model with its settings and the GPU facts (blocking: reads headers)."""
        current = self.model.spec.path if self.model else None
        return self.library.listing(current, self._loader.gpu_facts())

    def list_models(self) -> None:
        """Gather the listing on a worker; it comes back as ModelsListed."""
        def fail(message: str) -> None:
            self._emit(ev.Notice("Could not list the models", message, "error"))

        self._listings.submit(lambda: self._emit(ev.ModelsListed(self.listing())),
                              self._failure_reporter("listing", fail))

    def _poll_vram(self, interval: float) -> None:
        self.monitor.start()
        if self.monitor.status:
            self._emit(ev.LogLine("info", inert(self.monitor.status), "gpu"))
        while not self._stop_polling.is_set():
            self._emit(ev.VramSampled(self.monitor.sample()))
            self._stop_polling.wait(interval)

    # ------------------------------------------------------------------ the chat

    def send(self, text: str) -> None:
        """Add the user's message and answer it (now, or once a model is ready).

        Raises Refused while a reply is being answered or still waits for the model.
        """
        text = text.strip()
        if not text:
            return
        with self._lock:
            self._check_idle()
            self._add_user(text)
            self._open_reply()

    def _add_user(self, text: str) -> None:
        """Under the lock: the message joins the chat and is saved before any reply."""
        position = len(self.conversation.turns)
        turn = self.conversation.add_user(text)
        self._emit(ev.MessageSent(text, position))
        self.save_message(turn, position)

    def regenerate(self) -> None:
        """Answer the last message again, in place of its reply."""
        with self._lock:
            self._check_idle()
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
            if self.reply_state is ReplyState.WAITING_FOR_MODEL and self._active:
                self._finish_reply(self._active, "",
                                   GenerationStats(finish_reason="cancelled"), None)

    def _stop_answering(self) -> None:
        with self._lock:
            if self.reply_state is ReplyState.ANSWERING:
                self._cancel.set()
                self.reply_state = ReplyState.STOPPING
                self._state_changed()

    def new_chat(self) -> None:
        """Drop the conversation and start an empty one."""
        with self._lock:
            self._cancel.set()
            self._active = None
            self.reply_state = ReplyState.IDLE
            self.conversation.clear()
            self.forget_chat()
            self._emit(ev.ChatCleared())
            self._state_changed()

    def _check_idle(self) -> None:
        if self.reply_state in (ReplyState.ANSWERING, ReplyState.STOPPING):
            raise Refused("Still answering — press Escape to stop the reply first.")
        if self.reply_state is ReplyState.WAITING_FOR_MODEL:
            raise Refused("The last message is still waiting for the model.")

    def _title(self) -> str:
        if self.model_state is ModelState.LOADING and self._loading_name:
            return self._loading_name
        return self.model.spec.name if self.model else "assistant"

    def _open_reply(self) -> None:
        """Under the lock, with a question to answer: show a reply and answer or wait."""
        self._reply_id += 1
        self._active = self._reply_id
        self._emit(ev.ReplyStarted(self._active, self._title(),
                                   len(self.conversation.turns)))
        if self.model_state is ModelState.READY:
            self._begin_answer()
            return
        self.reply_state = ReplyState.WAITING_FOR_MODEL
        loading = self.model_state is ModelState.LOADING
        self._emit(ev.ReplyNote(self._active, "Waiting for the model to finish loading…"
                             if loading else NO_MODEL_NOTE))
        self._state_changed()

    def _begin_answer(self) -> None:
        """Under the lock, with a model ready: generate the active reply on a worker."""
        assert self._active is not None
        run = ReplyRun(self._active, position=len(self.conversation.turns))
        self._runs[run.reply_id] = run
        self._cancel = run.cancel
        self.reply_state = ReplyState.ANSWERING
        self._emit(ev.ReplyAnswering(run.reply_id, self._title()))
        self._state_changed()
        (messages, run.sent_positions), sampling = self.conversation.sent(), self.sampling
        self.save_reply(run, "streaming")

        def answer() -> None:
            self.history.wait()  # the message is saved before its reply starts
            stats, error = run.stream(self.backend, messages, sampling, self.flush_seconds,
                                      lambda text: self._reply_text(run, text))
            self._finish_reply(run.reply_id, run.text, stats, error)

        def fail(message: str) -> None:
            self._finish_reply(run.reply_id, run.text, GenerationStats(finish_reason="error"),
                               PyChatError(f"error: {message}", "Reply failed"))

        self._replies.submit(answer, self._failure_reporter("reply", fail))

    def _reply_text(self, run: ReplyRun, text: str) -> None:
        self._emit(ev.TextReceived(run.reply_id, text))
        if time.monotonic() - run.saved_at >= SAVE_SECONDS:
            self.save_reply(run, "streaming")  # a kill loses at most the last second

    def _finish_reply(self, reply_id: int, text: str, stats: GenerationStats,
                      error: PyChatError | None) -> None:
        with self._lock:
            run = self._runs.pop(reply_id, None) or ReplyRun(reply_id, position=len(
                self.conversation.turns))
            if reply_id != self._active:
                return  # the chat was cleared meanwhile
            if isinstance(error, ContextOverflowError) and error.part == "message":
                self.conversation.exclude_last_user()  # it would fail every time
            note, state = closing_note(stats, error)
            turn = self.conversation.add_reply(reply_id, text, state)
            turn.model = self._model_name()
            run.parts[:] = [text]
            self.save_reply(run, state, turn)
            turns_sent = [p for p in run.sent_positions if p >= 0]  # not the system prompt
            if stats.dropped_messages and len(turns_sent) > stats.dropped_messages:
                self._emit(ev.ContextStart(turns_sent[stats.dropped_messages]))
            self._active = None
            self.reply_state = ReplyState.IDLE
            self._emit(ev.ReplyFinished(reply_id, stats, note,
                                     inert(error.message) if error else "",
                                     error.title if error else ""))
            self._state_changed()
