"""The multi-line message box: Enter sends, ctrl+j starts a new line."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    """Where the user types. Emits ``Submitted`` and never does IO itself."""

    BINDINGS = [
        Binding("enter", "submit", "Send", id="prompt.send"),
        Binding("ctrl+j", "newline", "Newline", id="prompt.newline"),
    ]
    _OWN_ACTIONS = ("submit", "newline")

    class Submitted(Message):
        """The user sent ``text``."""

        def __init__(self, text: str) -> None:
            self.text = text
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         compact=True, **kwargs)
        self.border_title = "Message"
        # A blinking cursor repaints the line twice a second: bytes on every SSH link.
        self.cursor_blink = False

    async def on_key(self, event: events.Key) -> None:
        """Send and new-line keys, as bound now (the user may remap them), before
        TextArea's own key handler inserts a newline for Enter.

        Textual runs this handler before the base class's and ``prevent_default`` skips
        that one. Not a priority binding: those run as the key reaches the app, ahead of
        the characters typed just before it that still wait in this widget's queue — a
        fast typist, a paste or tmux send-keys would send a message without its last
        characters.
        """
        active = self.screen.active_bindings.get(event.key)
        if (active is not None and active.node is self
                and active.binding.action in self._OWN_ACTIONS):
            event.stop()
            event.prevent_default()
            await self.run_action(active.binding.action)

    def action_submit(self) -> None:
        text = self.text.strip()
        if text:
            self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        start, end = self.selection
        self.replace("\n", start, end)
