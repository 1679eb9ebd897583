"""The multi-line message box: Enter sends, ctrl+j starts a new line."""

from __future__ import annotations

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

    class Submitted(Message):
        """The user sent ``text``."""

        def __init__(self, text: str) -> None:
            self.text = text
            super().__init__()

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         compact=True, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Message"
        # A blinking cursor repaints the line twice a second: bytes on every SSH link.
        self.cursor_blink = False

    async def _on_key(self, event: events.Key) -> None:
        # TextArea inserts a newline for Enter before bindings are looked at, so our own
        # (remappable) bindings are honoured here first.
        for binding in self._bindings.key_to_bindings.get(event.key, []):
            if binding.action in ("submit", "newline"):
                event.stop()
                event.prevent_default()
                await self.run_action(binding.action)
                return
        await super()._on_key(event)

    def action_submit(self) -> None:
        text = self.text.strip()
        if text:
            self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        start, end = self.selection
        self.replace("\n", start, end)
