"""The multi-line message box: Enter sends, ctrl+j starts a new line."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from pychat.ui.bindings import bindings
from pychat.ui.field import editing_actions, run_own_binding


class PromptInput(TextArea):
    """Where the user types. Emits ``Submitted`` and never does IO itself."""

    BINDINGS = bindings("prompt")

    class Submitted(Message):
        """The user sent ``text``."""

        def __init__(self, text: str) -> None:
            self.text = text
            super().__init__()

    class EditRequested(Message):
        """Up in an empty box: the user wants their last message back, to edit it."""

        def __init__(self, prompt: PromptInput) -> None:
            self.prompt = prompt
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         compact=True, **kwargs)
        self.border_title = "Message"
        self._typed: list[str] = []
        # A blinking cursor repaints the line twice a second: bytes on every SSH link.
        self.cursor_blink = False

    async def on_key(self, event: events.Key) -> None:
        """Typed characters in bursts, and the send and new-line keys as bound now (the
        user may remap them), before TextArea's own key handler sees them.

        Textual runs this handler before the base class's and ``prevent_default`` skips
        that one. Send is not a priority binding: those run as the key reaches the app,
        ahead of the characters typed just before it that still wait in this widget's
        queue — a fast typist, a paste or tmux send-keys would lose the last characters.
        """
        if event.key.startswith("alt+") and event.is_printable:
            # Esc + a letter: a command's key (alt+c copies), never a character to type.
            event.prevent_default()
            self._flush_typed()
            return
        if event.is_printable and event.character and not self.read_only:
            event.stop()
            event.prevent_default()
            self._type(event.character)
            return
        self._flush_typed()  # any other key acts on the text as typed so far
        if event.key == "up" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditRequested(self))
            return
        # This box's own bindings (send, new line, and TextArea's editing keys:
        # backspace, delete, arrows, home, end …) run here, in order with the typed
        # characters. Left to bubble, each key would reach the app's queue behind the
        # characters typed after it: 200 backspaces then "abc" deleted "abc" too.
        await run_own_binding(self, event, PROMPT_ACTIONS)

    def _type(self, character: str) -> None:
        """Queue a typed character; the burst is inserted as one edit once the keys
        already waiting behind it are read.

        A paste without bracketed paste (some terminals, tmux set-ups over SSH) arrives
        as thousands of keys: as one edit each, the whole line was wrapped again for every
        key (5,000 characters took 10.6 s to land); as one edit per burst it is
        wrapped once per burst."""
        self._typed.append(character)
        if len(self._typed) == 1:
            self.call_later(self._flush_typed)

    def _flush_typed(self) -> None:
        if not self._typed:
            return
        text = "".join(self._typed)
        self._typed.clear()
        start, end = self.selection
        result = self.replace(text, start, end, maintain_selection_offset=False)
        self.move_cursor(result.end_location)

    def on_paste(self, event: events.Paste) -> None:
        self._flush_typed()  # keys typed before the paste land before it

    def action_submit(self) -> None:
        self._flush_typed()
        text = self.text.strip()
        if text:
            self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self._flush_typed()
        start, end = self.selection
        self.replace("\n", start, end)


PROMPT_ACTIONS = editing_actions(TextArea, PromptInput)
"""TextArea's editing keys and the message box's own (send, new line)."""
