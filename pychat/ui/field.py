"""A one-line text field whose editing keys keep their place among the typed characters."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input

EDITING_ACTIONS = frozenset(b.action for b in Input.BINDINGS if isinstance(b, Binding))
"""Input's own editing keys. The scroll bindings it inherits stay as they were: on ↓ they
do nothing in a one-line field and the key goes on to the screen (a list's next item)."""


class Field(Input):
    """``Input``, with its own bindings (backspace, home, ctrl+k, arrows …) run as their
    key arrives.

    Textual's Input inserts a typed character as soon as it reads the key, but leaves a
    bound key to bubble up to the app, which runs the binding from its own queue — behind
    characters typed after it. Keys that arrive together (a fast typist over SSH, tmux
    send-keys, a paste without bracketed paste) then land out of order: "backspace 0.25"
    typed after "9" gave "90.2", not "0.25".
    """

    async def on_key(self, event: events.Key) -> None:
        if event.is_printable:
            return  # Input inserts it
        active = self.screen.active_bindings.get(event.key)
        if (active is not None and active.node is self and active.enabled
                and active.binding.action in EDITING_ACTIONS):
            event.stop()
            event.prevent_default()
            await self.run_action(active.binding.action)
