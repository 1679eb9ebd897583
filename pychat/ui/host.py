"""What the main screen's helpers (``KeptChats``, ``ModelCommands``) need of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, Protocol

from textual.app import App
from textual.timer import Timer

from pychat.session import ChatSession
from pychat.session import events as ev
from pychat.ui.chat_pane import ChatPane
from pychat.ui.loader_pane import LoaderPane
from pychat.ui.log_pane import LogPane
from pychat.ui.prompt_input import PromptInput
from pychat.ui.status_bar import StatusBar
from pychat.ui.vram_meter import VramMeter

P = ParamSpec("P")
Route = Callable[[Any], Awaitable[None] | None]
"""What handles one kind of session event on the main screen."""


class ChatScreen(Protocol):
    """The main screen, as its helpers see it: the panes, the session, toasts."""

    session: ChatSession
    chat: ChatPane
    prompt: PromptInput
    status: StatusBar
    log_pane: LogPane
    loader: LoaderPane
    vram: VramMeter
    keymap: dict[str, str]

    @property
    def app(self) -> App[Any]: ...

    def tell(self, message: str, title: str, severity: ev.Severity = "information",
             timeout: float = 8) -> None: ...

    def attempt(self, intent: Callable[P, None], *args: P.args, **kwargs: P.kwargs
                ) -> bool: ...

    def count_budget(self) -> None:
        """Count what the next request takes of the context (the status line shows it)."""
        ...

    def new_chat_shown(self) -> None:
        """An empty chat is on screen: titles, edits and the budget start afresh."""
        ...

    def edit_at(self, position: int) -> None:
        """The message at ``position`` into the box, to edit and send again."""
        ...

    def refresh_bindings(self) -> None: ...

    def set_timer(self, delay: float, callback: Any) -> Timer: ...
