"""The main screen: lays out the panes, turns keys into session intents, routes events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen

from pychat import instrument
from pychat.engine.base import ModelRef
from pychat.errors import Refused
from pychat.library import NO_OVERRIDES, Overrides
from pychat.session import ChatSession, ReplyState
from pychat.session import events as ev
from pychat.ui.bindings import bindings
from pychat.ui.chat_pane import ChatPane, import_markdown
from pychat.ui.conversation_actions import ConversationActions
from pychat.ui.footer import KeyFooter
from pychat.ui.kept_chats import KeptChats
from pychat.ui.loader_pane import LoaderPane
from pychat.ui.log_pane import LogPane
from pychat.ui.messages import SessionEvent, TextInbox, TextWaiting, notify_once
from pychat.ui.model_commands import ModelCommands
from pychat.ui.prompt_input import PromptInput
from pychat.ui.status_bar import StatusBar
from pychat.ui.vram_meter import VramMeter

P = ParamSpec("P")
Route = Callable[[Any], Awaitable[None] | None]
"""What handles one kind of session event on the screen."""
FAILED_JOB_TITLES = {"reply": "Reply failed", "load": "Model load failed",
                     "listing": "Could not list the models", "vram": "VRAM monitor stopped",
                     "history": "Chat history failed", "count": "Could not count tokens"}


class MainScreen(Screen[None]):
    """Chat, model loader, VRAM and log panes, plus the status line and footer."""

    BINDINGS = bindings("chat")

    AUTO_FOCUS = "#prompt"
    VRAM_POLL_SECONDS = 1.0
    """How often the VRAM pane is refreshed (NVML is read on a worker)."""

    def __init__(self, session: ChatSession, startup: ModelRef,
                 startup_overrides: Overrides = NO_OVERRIDES,
                 keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.session = session
        self.keymap = keymap or {}
        """The user's remapped keys, by command id (messages name the keys in force)."""
        self.startup = (startup, startup_overrides)
        self.chat = ChatPane(id="chat")
        self.prompt = PromptInput(id="prompt")
        self.loader = LoaderPane(id="loader")
        self.vram = VramMeter(id="vram")
        self.log_pane = LogPane(id="log")
        self.status = StatusBar(id="status")
        self.kept = KeptChats(self)
        self.models = ModelCommands(self)
        self.talk = ConversationActions(self)
        self.inbox = TextInbox(self.post_message)
        self._routes: dict[type[ev.Event], Route] = {
            ev.StateChanged: self.status.show_state,
            ev.LogLine: lambda e: self.log_pane.add(e.level, e.text, e.source),
            ev.Notice: lambda e: self.tell(e.message, e.title, e.severity),
            ev.WorkerFailed: self._worker_failed,
            ev.BudgetCounted: self.status.show_budget,
            **self.talk.routes(), **self.kept.routes(), **self.models.routes(),
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
        and never blocks (call_from_thread would hold the worker up to the frame rate).
        Streamed text goes through the inbox, which merges it while the screen is busy."""
        if isinstance(event, (ev.TextReceived, ev.ThinkingReceived)):
            self.inbox.put(event)
        else:
            self.post_message(SessionEvent(event))

    async def on_session_event(self, message: SessionEvent) -> None:
        await self._route(message.event)

    async def on_text_waiting(self, message: TextWaiting) -> None:
        for event in self.inbox.take():
            await self._route(event)

    async def _route(self, event: ev.Event) -> None:
        route = self._routes.get(type(event))
        if route is not None:
            result = route(event)
            if result is not None:
                await result

    def on_print(self, event: events.Print) -> None:
        self.log_pane.add_printed(event.text)

    def tell(self, message: str, title: str, severity: ev.Severity = "information",
             timeout: float = 8) -> None:
        """A toast (the same one is not stacked while it is on screen)."""
        notify_once(self.app, message, title, severity, timeout)

    def attempt(self, intent: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> bool:
        """Ask the session for ``intent``; a refusal (busy, nothing to do) is a short
        warning toast. True when it was accepted."""
        try:
            intent(*args, **kwargs)
        except Refused as exc:
            self.tell(exc.message, exc.title, "warning", timeout=4)
            return False
        return True

    def on_screen_suspend(self) -> None:
        self.models.covered(True)

    def on_screen_resume(self) -> None:
        self.models.covered(False)

    def count_budget(self) -> None:
        """Count what the next request takes of the context (the status line shows it)."""
        self.kept.count_budget()

    def _worker_failed(self, event: ev.WorkerFailed) -> None:
        title = FAILED_JOB_TITLES.get(event.job, "Something failed")
        self.log_pane.add("error", f"{title}: {event.message}\n{event.details}")
        self.tell(f"{event.message} (details in the log, ctrl+l)", title, "error")

    # ------------------------------------------------------------------ intents

    def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        editing = self.kept.editing
        accepted = self.attempt(self.session.send, message.text) if editing is None else \
            self.attempt(self.session.edit_at, editing, message.text)
        if accepted:
            self.kept.stop_editing()
            self.prompt.clear()

    def action_stop(self) -> None:
        """Escape: stop the reply being generated (the text so far stays); while editing
        the last message, leave it as it was."""
        if self.kept.editing is not None and self.session.reply_state is ReplyState.IDLE:
            self.kept.stop_editing()
            self.prompt.clear()
            return
        self.session.stop()

    def action_new_chat(self) -> None:
        self.session.new_chat()

    def action_regenerate(self) -> None:
        """ctrl+r: answer the last message again."""
        self.attempt(self.session.regenerate)

    def action_models(self) -> None:
        self.models.open_picker()

    def on_loader_pane_load_requested(self, message: LoaderPane.LoadRequested) -> None:
        self.models.reload(message)

    async def action_scroll_chat(self, direction: int) -> None:
        """PageUp / PageDown scroll the conversation from anywhere."""
        await self.chat.page(direction)

    def action_toggle_log(self) -> None:
        self.log_pane.toggle()

    # ------------------------------------------------------------------ kept chats

    def action_chats(self) -> None:
        self.kept.open_list()

    def action_settings(self) -> None:
        self.kept.open_settings()

    def action_export(self) -> None:
        self.kept.export()

    def action_edit_last(self) -> None:
        self.kept.edit_last()

    def action_version(self, step: int) -> None:
        self.attempt(self.session.page_version, step)

    def edit_at(self, position: int) -> None:
        self.kept.edit_at(position)

    def new_chat_shown(self) -> None:
        self.kept.show_title("")
        self.kept.stop_editing()
        self.count_budget()
        self.prompt.focus()

    # ------------------------------------------------------------------ the conversation

    async def action_browse(self) -> None:
        await self.talk.browse()

    def action_copy_last(self, what: str) -> None:
        self.talk.copy_last(what)

    def action_toggle_thinking(self) -> None:
        self.talk.toggle_thinking()

    def action_continue_reply(self) -> None:
        self.talk.continue_reply()

    def action_fork_last(self) -> None:
        self.talk.fork_last()

    def action_editor(self) -> None:
        self.talk.editor()

    def on_browsed_window_block_chosen(self, message: ChatPane.BlockChosen) -> None:
        self.talk.block_chosen(message)

    def on_prompt_input_edit_requested(self, message: PromptInput.EditRequested) -> None:
        if message.prompt is self.prompt:
            self.kept.edit_last()

    def on_text_area_changed(self, event: PromptInput.Changed) -> None:
        if event.text_area is self.prompt:
            self.kept.typing_paused_later()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The edit and version keys are shown only when they can do something."""
        if action == "edit_last":
            return self.kept.can_edit()
        if action == "version":
            return self.kept.can_page_versions()
        return True

    def on_unmount(self) -> None:
        self.session.stop()
