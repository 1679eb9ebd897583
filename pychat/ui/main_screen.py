"""The main screen: lays out the panes, routes messages between them, owns the workers."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen

from pychat.config import AUTO
from pychat.engine.base import GenerationStats, LoadSpec
from pychat.engine.fit import estimate_vram
from pychat.errors import PyChatError
from pychat.library import Overrides
from pychat.messages import (
    GenerationFinished,
    LoadProgress,
    LogLine,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
    TokensReceived,
    VramSampled,
)
from pychat.trace import enabled as trace_enabled
from pychat.trace import trace
from pychat.ui.chat_pane import AssistantMessage, ChatPane, import_markdown
from pychat.ui.footer import KeyFooter
from pychat.ui.loader_pane import LoaderPane
from pychat.ui.log_pane import LogPane
from pychat.ui.model_switch import switch_model
from pychat.ui.picker import ModelPicker, PickerContext, PickResult
from pychat.ui.prompt_input import PromptInput
from pychat.ui.status_bar import StatusBar
from pychat.ui.vram_meter import VramMeter

if TYPE_CHECKING:
    from pychat.app import PyChatApp

FLUSH_SECONDS = 0.1
"""How often the generation worker hands text to the UI: batches, not single tokens."""
VRAM_POLL_SECONDS = 1.0


class MainScreen(Screen[None]):
    """Chat, model loader, VRAM and log panes, plus the status line and footer."""

    BINDINGS = [
        Binding("escape", "stop", "Stop", id="chat.stop"),
        Binding("ctrl+o", "models", "Models", id="chat.models"),
        Binding("ctrl+l", "toggle_log", "Log", id="chat.toggle_log"),
        Binding("ctrl+n", "new_chat", "New chat", id="chat.new"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="chat.regenerate"),
        Binding("pageup", "scroll_chat(-1)", "Scroll up", show=False, priority=True,
                id="chat.page_up"),
        Binding("pagedown", "scroll_chat(1)", "Scroll down", show=False, priority=True,
                id="chat.page_down"),
    ]

    AUTO_FOCUS = "#prompt"

    app: PyChatApp  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.chat = ChatPane(id="chat")
        self.prompt = PromptInput(id="prompt")
        self.loader = LoaderPane(id="loader")
        self.vram = VramMeter(id="vram")
        self.log_pane = LogPane(id="log")
        self.status = StatusBar(id="status")
        self.model_path: Path | None = None
        """The model loaded now (None while none is)."""
        self.spec: LoadSpec | None = None
        self.choice: tuple[int | str, int] = (AUTO, 0)
        """The gpu_layers (maybe "auto") and n_ctx the user chose for the current model."""
        self.ready = False
        # Not "loading": that is Widget's own reactive, which covers the whole screen
        # with a loading indicator and hides the UI until the model is in.
        self.load_in_progress = False
        self._startup_frozen = False
        self._generation = 0
        self._cancel: threading.Event | None = None
        self._reply: AssistantMessage | None = None
        self._waiting_reply: AssistantMessage | None = None
        self._latest_sample = None
        self._sample_queued = threading.Event()
        self._stop_polling = threading.Event()
        self._estimate: int | None = None

    # ------------------------------------------------------------------ layout

    def compose(self):  # type: ignore[no-untyped-def]
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
        trace("mounted")
        if trace_enabled():
            self._last_tick = time.monotonic()
            self.set_interval(0.02, self._watch_event_loop)
            gc.callbacks.append(self._trace_gc)
        session = self.app.session
        for error in session.loaded.errors:
            self.add_log("error", error)
            self.notify(error, title="Config file has errors — running on defaults",
                        severity="error", timeout=10)
        self.status.model = "PyChat"
        # Start the load once the first frame is on screen: importing llama_cpp in the
        # worker holds the GIL for about a second and would delay the first paint.
        self.call_after_refresh(self._start_up)

    def _start_up(self) -> None:
        session = self.app.session
        self.load_model(session.startup_path, session.startup_overrides, remember=False,
                        startup=True)
        self.poll_vram()
        self._import_markdown()

    @work(thread=True, group="imports", exit_on_error=False)
    def _import_markdown(self) -> None:
        """The Markdown renderers are needed from the first reply, not the first paint."""
        import_markdown()

    def _watch_event_loop(self) -> None:
        """Benchmarks only: record event-loop stalls (a 20 ms tick arriving 50 ms late)."""
        now = time.monotonic()
        late = now - self._last_tick - 0.02
        self._last_tick = now
        if late > 0.05:
            trace("stall", ms=round(late * 1000, 1))

    def _trace_gc(self, phase: str, info: dict) -> None:
        """Benchmarks only: record garbage-collector pauses longer than 5 ms."""
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        ms = (time.perf_counter() - self._gc_started) * 1000
        if ms > 5:
            trace("gc", ms=round(ms, 1), generation=info["generation"],
                  collected=info["collected"])

    def add_log(self, level: str, text: str, source: str = "app") -> None:
        self.log_pane.add(level, text, source)

    def on_log_line(self, message: LogLine) -> None:
        self.add_log(message.level, message.text, message.source)

    # ------------------------------------------------------------------ model loading

    def load_model(self, path: Path, overrides: Overrides, remember: bool,
                   startup: bool = False) -> None:
        """Stop any reply, then load ``path`` in a worker (the old model is the fallback)."""
        self.action_stop()
        saved = self.app.session.library.settings_for(path)
        self.choice = (saved.gpu_layers if overrides.gpu_layers is None else overrides.gpu_layers,
                       saved.n_ctx if overrides.n_ctx is None else overrides.n_ctx)
        fallback = self.spec if self.ready else None
        self.ready, self.load_in_progress = False, True
        self.status.state = "loading"
        self._load_worker(path, overrides, self.choice if remember else None, fallback, startup)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_worker(self, path: Path, overrides: Overrides,
                     remember: tuple[int | str, int] | None, fallback: LoadSpec | None,
                     startup: bool) -> None:
        switch_model(self.app.session, path, overrides, remember, fallback, self.post_message,
                     startup=startup)

    def on_model_loading(self, message: ModelLoading) -> None:
        spec, info = message.spec, message.info
        self.load_in_progress = True
        self.loader.show_model(info, self.choice[0], self.choice[1])
        self.loader.show_state(f"loading {spec.name}…", 0.0)
        estimate = estimate_vram(info, spec.gpu_layers, spec.n_ctx) if info.ok else None
        self._estimate = estimate.total_bytes if estimate and estimate.gpu_layers else None
        self.loader.show_fit("")
        self.status.model = spec.name

    def on_load_progress(self, message: LoadProgress) -> None:
        if self.load_in_progress:
            self.loader.show_state("loading…", message.fraction)

    async def on_model_loaded(self, message: ModelLoaded) -> None:
        loaded = message.loaded
        trace("model_ready", model=loaded.spec.name, load_seconds=loaded.load_seconds)
        self.model_path, self.spec = loaded.spec.path, loaded.spec
        self.ready, self.load_in_progress = True, False
        where = (f"{loaded.offloaded_layers}/{loaded.n_layer + 1} layers on GPU"
                 if loaded.offloaded_layers else "CPU")
        state = f"ready · {where} · loaded in {loaded.load_seconds:.2f} s"
        if message.rolled_back:
            state = "previous model restored · " + state
        if message.instead_of:
            state = f"{message.instead_of} did not load — using this one · " + state
            self.notify(f"{message.instead_of} did not load; {loaded.spec.name} loaded "
                        "instead (details in the log, ctrl+l).", title="Model replaced",
                        severity="warning", timeout=8)
        replaced = message.rolled_back or message.instead_of
        gpu_choice = loaded.spec.gpu_layers if replaced else self.choice[0]
        self.loader.show_model(message.info, gpu_choice, loaded.n_ctx)
        self.loader.show_state(state)
        self.loader.show_vram_after_load(self._estimate, message.vram_used)
        self.status.model = loaded.spec.name
        self.status.state = "ready"
        self.status.n_ctx = loaded.n_ctx
        self.add_log("info", f"{loaded.spec.name} ready ({where}, n_ctx {loaded.n_ctx}, "
                     f"format {loaded.chat_format}, {loaded.load_seconds:.2f} s)")
        if not self._startup_frozen:
            self._freeze_startup_objects()
        if self.app.session.conversation.awaiting_reply and self._cancel is None:
            await self._start_reply(self._waiting_reply)

    def _freeze_startup_objects(self) -> None:
        """Take what start-up built (modules, widgets, llama_cpp) out of the collector's
        full passes: those passes scan every tracked object and, with llama.cpp busy on
        every core, took 80-110 ms each mid-reply — the event-loop stalls the key-echo
        benchmark saw. Done once: anything frozen is never collected, so later garbage
        must stay collectable."""
        self._startup_frozen = True
        gc.collect()
        gc.freeze()

    def on_model_load_failed(self, message: ModelLoadFailed) -> None:
        error = message.error
        self.load_in_progress = False
        self.add_log("error", error.message)
        self.loader.show_state(f"failed: {error.message}")
        self.notify(error.message, title=error.title, severity="error", timeout=8)
        self.status.state = "load failed"
        if self._waiting_reply is not None and not self.ready:
            self._waiting_reply.set_note("No model loaded — press ctrl+o to pick one; your "
                                         "message will be answered once one loads.")

    def on_loader_pane_load_requested(self, message: LoaderPane.LoadRequested) -> None:
        path = self.model_path or self.app.session.startup_path
        self.load_model(path, Overrides(message.gpu_layers, message.n_ctx), remember=True)

    # ------------------------------------------------------------------ picker

    def action_models(self) -> None:
        """ctrl+o: gather the model list in a worker, then open the picker."""
        self._open_picker()

    @work(thread=True, exclusive=True, group="picker", exit_on_error=False)
    def _open_picker(self) -> None:
        session = self.app.session
        infos = session.library.infos()
        settings = {}
        for info in infos:
            saved = session.library.settings_for(info.path)
            settings[info.path] = (saved.gpu_layers, saved.n_ctx)
        can_offload = session.backend.can_offload
        free = session.monitor.free_vram() if can_offload else None
        context = PickerContext(infos, settings, self.model_path, can_offload, free,
                                session.monitor.status)
        self.app.call_from_thread(self.app.push_screen, ModelPicker(context), self._picked)

    def _picked(self, result: PickResult | None) -> None:
        self.prompt.focus()
        if result is not None:
            self.load_model(result.path, Overrides(result.gpu_layers, result.n_ctx),
                            remember=True)

    # ------------------------------------------------------------------ chatting

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        if self._cancel is not None:
            self.notify("Still answering — press Escape to stop the reply first.",
                        severity="warning")
            return
        conversation = self.app.session.conversation
        if conversation.awaiting_reply:
            self.notify("The last message is still waiting for the model.", severity="warning")
            return
        self.prompt.clear()
        conversation.add_user(message.text)
        await self.chat.add_user(message.text)
        reply = await self.chat.start_reply(self._reply_title())
        if self.ready:
            await self._start_reply(reply)
        else:
            self._waiting_reply = reply
            reply.set_note("Waiting for the model to finish loading…")

    def _reply_title(self) -> str:
        return self.spec.name if self.spec else "assistant"

    async def _start_reply(self, reply: AssistantMessage | None) -> None:
        if reply is None:
            reply = await self.chat.start_reply(self._reply_title())
        self._waiting_reply = None
        self._reply = reply
        reply.set_note("…")
        self._generation += 1
        self._cancel = threading.Event()
        self.status.state = "answering"
        trace("reply_started")
        session = self.app.session
        self._generate_worker(session.conversation.messages(), self._generation, self._cancel)

    @work(thread=True, exclusive=True, group="generate", exit_on_error=False)
    def _generate_worker(self, messages: list, generation: int,
                         cancel: threading.Event) -> None:
        session = self.app.session
        stats = GenerationStats()
        pending: list[str] = []
        last_flush = 0.0  # the first piece goes out at once: time to first token counts
        try:
            stream = session.backend.stream_chat(messages, session.sampling, cancel)
            stats = stream.stats
            try:
                for piece in stream:
                    pending.append(piece)
                    now = time.monotonic()
                    if now - last_flush >= FLUSH_SECONDS:
                        self.post_message(TokensReceived("".join(pending), generation))
                        pending.clear()
                        last_flush = now
            finally:
                stream.close()
            if pending:
                self.post_message(TokensReceived("".join(pending), generation))
            self.post_message(GenerationFinished(stats, generation))
        except PyChatError as exc:
            if pending:
                self.post_message(TokensReceived("".join(pending), generation))
            self.post_message(GenerationFinished(stats, generation, exc))

    async def on_tokens_received(self, message: TokensReceived) -> None:
        if message.generation == self._generation and self._reply is not None:
            await self._reply.append(message.text)
            self.chat.follow(self._reply)
            trace("text", chars=len(message.text))

    async def on_generation_finished(self, message: GenerationFinished) -> None:
        if message.generation != self._generation or self._reply is None:
            return
        reply, stats, error = self._reply, message.stats, message.error
        trace("finished", tokens=stats.completion_tokens, ttft=stats.time_to_first_token,
              decode_seconds=stats.decode_seconds, reason=stats.finish_reason)
        self._reply, self._cancel = None, None
        conversation = self.app.session.conversation
        note = ""
        if error is not None:
            note = f"⚠ {error.message}"
            self.add_log("error", error.message)
            self.notify(error.message, title=error.title, severity="error")
        elif stats.finish_reason == "cancelled":
            note = "⏹ stopped"
        elif stats.finish_reason == "length":
            note = "(reply cut at max_tokens)"
        if stats.dropped_messages:
            note += f" ({stats.dropped_messages} old messages left out to fit the context)"
        if reply.text:
            conversation.add_assistant(reply.text)
        elif error is None:
            conversation.add_assistant("")
        await reply.finish(stats, note.strip())
        self.chat.stop_following()
        self.status.stats = stats
        self.status.context_used = stats.context_used
        self.status.state = "ready" if self.ready else self.status.state

    def action_stop(self) -> None:
        """Escape: stop the reply being generated (the text so far stays)."""
        if self._cancel is not None:
            self._cancel.set()

    async def action_new_chat(self) -> None:
        self.action_stop()
        self._generation += 1
        self._reply = self._cancel = self._waiting_reply = None
        self.app.session.conversation.clear()
        await self.chat.clear()
        self.status.context_used = 0
        self.status.state = "ready" if self.ready else self.status.state
        self.prompt.focus()

    async def action_regenerate(self) -> None:
        """ctrl+r: answer the last message again."""
        conversation = self.app.session.conversation
        if self._cancel is not None or not self.ready:
            return
        if conversation.pop_last_reply() is None:
            return
        last = self.chat.last_reply()
        if last is not None:
            await last.remove()
        await self._start_reply(None)

    def action_scroll_chat(self, direction: int) -> None:
        """PageUp / PageDown scroll the conversation from anywhere."""
        self.chat.page(direction)

    def action_toggle_log(self) -> None:
        self.log_pane.toggle()

    # ------------------------------------------------------------------ VRAM monitor

    @work(thread=True, exclusive=True, group="vram", exit_on_error=False)
    def _vram_worker(self) -> None:
        monitor = self.app.session.monitor
        monitor.start()
        if monitor.status:
            self.post_message(LogLine("info", monitor.status, "gpu"))
        while not self._stop_polling.is_set():
            self._latest_sample = monitor.sample()
            if not self._sample_queued.is_set():
                # A sample not yet painted is replaced, not queued behind.
                self._sample_queued.set()
                self.post_message(VramSampled(self._latest_sample))
            self._stop_polling.wait(VRAM_POLL_SECONDS)

    def poll_vram(self) -> None:
        self._vram_worker()

    def on_vram_sampled(self, message: VramSampled) -> None:
        self._sample_queued.clear()
        self.vram.show(self._latest_sample or message.sample)

    def on_unmount(self) -> None:
        self._stop_polling.set()
        self.action_stop()
