"""The main screen: lays out the panes, turns keys into session intents, routes events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from pychat import instrument
from pychat.library import NO_OVERRIDES, Overrides
from pychat.session import ChatSession, ReplyState
from pychat.session import events as ev
from pychat.text import inert
from pychat.ui.bindings import bind
from pychat.ui.chat_pane import ChatPane, import_markdown
from pychat.ui.footer import KeyFooter
from pychat.ui.history_actions import HistoryActions
from pychat.ui.loader_pane import LoaderPane
from pychat.ui.log_pane import LogPane
from pychat.ui.messages import SessionEvent, notify_once
from pychat.ui.picker import ModelPicker, PickResult
from pychat.ui.prompt_input import PromptInput
from pychat.ui.status_bar import StatusBar
from pychat.ui.vram_meter import VramMeter

FAILED_JOB_TITLES = {"reply": "Reply failed", "load": "Model load failed",
                     "listing": "Could not list the models", "vram": "VRAM monitor stopped",
                     "history": "Chat history failed", "count": "Could not count tokens"}


class MainScreen(HistoryActions):
    """Chat, model loader, VRAM and log panes, plus the status line and footer."""

    BINDINGS = [
        bind("chat.stop", "stop"),
        bind("chat.models", "models"),
        bind("chat.toggle_log", "toggle_log"),
        bind("chat.new", "new_chat"),
        bind("chat.regenerate", "regenerate"),
        bind("chat.chats", "chats"),
        bind("chat.settings", "settings"),
        bind("chat.export", "export"),
        bind("chat.edit_last", "edit_last"),
        bind("chat.older_version", "version(-1)"),
        bind("chat.newer_version", "version(1)"),
        bind("chat.page_up", "scroll_chat(-1)", show=False, priority=True),
        bind("chat.page_down", "scroll_chat(1)", show=False, priority=True),
    ]

    AUTO_FOCUS = "#prompt"
    VRAM_POLL_SECONDS = 1.0
    """How often the VRAM pane is refreshed (NVML is read on a worker)."""

    def __init__(self, session: ChatSession, startup_path: Path,
                 startup_overrides: Overrides = NO_OVERRIDES) -> None:
        super().__init__()
        self.session = session
        self.startup = (startup_path, startup_overrides)
        self.chat = ChatPane(id="chat")
        self.prompt = PromptInput(id="prompt")
        self.loader = LoaderPane(id="loader")
        self.vram = VramMeter(id="vram")
        self.log_pane = LogPane(id="log")
        self.status = StatusBar(id="status")
        self._printed = ""
        self._routes: dict[type[ev.Event], Callable[[Any], Awaitable[None] | None]] = {
            ev.StateChanged: self.status.show_state,
            ev.LogLine: lambda e: self.log_pane.add(e.level, e.text, e.source),
            ev.Notice: lambda e: self._notify(e.message, e.title, e.severity),
            ev.WorkerFailed: self._worker_failed,
            ev.MessageSent: lambda e: self.chat.add_user(e.text, e.position),
            ev.ReplyStarted: lambda e: self.chat.start_reply(e.reply_id, e.title, e.position),
            ev.ReplyAnswering: self._reply_answering,
            ev.ReplyNote: lambda e: self.chat.set_note(e.reply_id, e.note),
            ev.TextReceived: self._text_received,
            ev.ReplyFinished: self._reply_finished,
            ev.ReplyRemoved: lambda e: self.chat.remove_reply(e.reply_id, e.position),
            ev.ChatCleared: self._chat_cleared,
            ev.ChatOpened: self._chat_opened,
            ev.ChatSaved: lambda e: self._show_title(e.title),
            ev.ChatsFound: self._chats_found,
            ev.TurnsTruncated: lambda e: self.chat.truncate(e.position),
            ev.ExchangeShown: self._exchange_shown,
            ev.ContextStart: lambda e: self.chat.mark_context_start(e.position),
            ev.SettingsChanged: self._settings_changed,
            ev.BudgetCounted: self.status.show_budget,
            ev.ModelLoading: self._model_loading,
            ev.LoadProgress: lambda e: self.loader.show_progress(e.fraction),
            ev.ModelLoaded: self._model_loaded,
            ev.ModelLoadFailed: self._model_load_failed,
            ev.ModelsListed: self._open_picker,
            ev.VramSampled: lambda e: self.vram.show(e.sample),
        }

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="chat-column"):
                yield self.chat
                yield self.prompt
            with Vertical(id="side"):
                yield self.loader
                yield self.vram
        yield self.log_pane
        yield self.status
        yield KeyFooter()

    def on_mount(self) -> None:
        self.session.listen(self._forward)
        # llama-cpp-python prints during a load (verbose=True, see LlamaBackend.quiet):
        # Textual captures prints while it runs; they go to the log pane.
        self.app.begin_capture_print(self)
        instrument.trace("mounted")
        if instrument.tracing():
            watch = instrument.LoopWatch()
            self.set_interval(watch.period, watch.tick)
            watch.watch_gc()
        # Start the load once the first frame is on screen: importing llama_cpp in the
        # worker holds the GIL for about a second and would delay the first paint.
        self.call_after_refresh(self._start_up)

    def _start_up(self) -> None:
        self.session.start(*self.startup, poll_vram=self.VRAM_POLL_SECONDS)
        self.run_worker(import_markdown, thread=True, group="imports", exit_on_error=False)

    # ------------------------------------------------------------------ events

    def _forward(self, event: ev.Event) -> None:
        """The session's listener: called on worker threads; post_message is thread-safe
        and never blocks (call_from_thread would hold the worker up to the frame rate)."""
        self.post_message(SessionEvent(event))

    async def on_session_event(self, message: SessionEvent) -> None:
        route = self._routes.get(type(message.event))
        if route is not None:
            result = route(message.event)
            if result is not None:
                await result

    def on_print(self, event: events.Print) -> None:
        self._printed += event.text
        *lines, self._printed = self._printed.split("\n")
        for line in lines:
            if line.strip():
                self.log_pane.add("info", inert(line), "llama-cpp-python")

    def _notify(self, message: str, title: str, severity: ev.Severity = "information",
                timeout: float = 8) -> None:
        notify_once(self.app, message, title, severity, timeout)

    def _worker_failed(self, event: ev.WorkerFailed) -> None:
        title = FAILED_JOB_TITLES.get(event.job, "Something failed")
        self.log_pane.add("error", f"{title}: {event.message}\n{event.details}")
        self._notify(f"{event.message} (details in the log, ctrl+l)", title, "error")

    async def _reply_answering(self, event: ev.ReplyAnswering) -> None:
        instrument.trace("reply_started")
        self.chat.set_title(event.reply_id, event.title)
        self.chat.set_note(event.reply_id, "…")

    async def _text_received(self, event: ev.TextReceived) -> None:
        await self.chat.append(event.reply_id, event.text)
        instrument.trace("text", chars=len(event.text))

    async def _reply_finished(self, event: ev.ReplyFinished) -> None:
        stats = event.stats
        instrument.trace("finished", tokens=stats.completion_tokens,
                         ttft=stats.time_to_first_token, decode_seconds=stats.decode_seconds,
                         reason=stats.finish_reason)
        await self.chat.finish(event.reply_id, stats, event.note)
        self.status.show_stats(stats)
        self._count_budget()
        self.refresh_bindings()  # edit and versions keys may apply now
        if event.error:
            self.log_pane.add("error", event.error)
            self._notify(event.error, event.error_title or "Reply failed", "error")

    async def _chat_cleared(self, event: ev.ChatCleared) -> None:
        await self.chat.clear()
        self._show_title("")
        self._stop_editing()
        self._count_budget()
        self.prompt.focus()

    def _model_loading(self, event: ev.ModelLoading) -> None:
        self.loader.show_loading(event.spec, event.info, event.choice)
        self.status.model = event.spec.name

    def _model_loaded(self, event: ev.ModelLoaded) -> None:
        loaded = event.loaded
        instrument.trace("model_ready", model=loaded.spec.name,
                         load_seconds=loaded.load_seconds)
        self.loader.show_loaded(event)
        self.status.show_model(loaded)
        self.log_pane.add("info", f"{loaded.spec.name} ready ({self.loader.where(loaded)}, "
                          f"n_ctx {loaded.n_ctx}, format {loaded.chat_format}, "
                          f"{loaded.load_seconds:.2f} s)")
        self._count_budget()
        if event.instead_of:
            self._notify(f"{event.instead_of} did not load; {loaded.spec.name} loaded "
                         "instead (details in the log, ctrl+l).", "Model replaced", "warning")
        instrument.freeze_startup_objects()

    def _model_load_failed(self, event: ev.ModelLoadFailed) -> None:
        self.log_pane.add("error", event.message)
        self.loader.show_state(f"failed: {event.message}")
        self._notify(event.message, event.title, "error")

    def _open_picker(self, event: ev.ModelsListed) -> None:
        if self.app.screen is self:  # not over the help, nor a picker opened already
            self.app.push_screen(ModelPicker(event.listing), self._picked)

    # ------------------------------------------------------------------ intents

    def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        intent = self.session.edit_last if self._editing else self.session.send
        if self._attempt(intent, message.text):
            self._stop_editing()
            self.prompt.clear()

    def action_stop(self) -> None:
        """Escape: stop the reply being generated (the text so far stays); while editing
        the last message, leave it as it was."""
        if self._editing and self.session.reply_state is ReplyState.IDLE:
            self._stop_editing()
            self.prompt.clear()
            return
        self.session.stop()

    def action_new_chat(self) -> None:
        self.session.new_chat()

    def action_regenerate(self) -> None:
        """ctrl+r: answer the last message again."""
        self._attempt(self.session.regenerate)

    def action_models(self) -> None:
        """ctrl+o: the model list is gathered on a worker, then the picker opens."""
        self.session.list_models()

    def _picked(self, result: PickResult | None) -> None:
        self.prompt.focus()
        if result is not None:
            self.session.load(result.path, Overrides(result.gpu_layers, result.n_ctx))

    def on_loader_pane_load_requested(self, message: LoaderPane.LoadRequested) -> None:
        self.session.reload(Overrides(message.gpu_layers, message.n_ctx))

    async def action_scroll_chat(self, direction: int) -> None:
        """PageUp / PageDown scroll the conversation from anywhere."""
        await self.chat.page(direction)

    def action_toggle_log(self) -> None:
        self.log_pane.toggle()

    def on_unmount(self) -> None:
        self.session.stop()
