"""Text boxes whose editing keys keep their place among the typed characters: ``Field``,
and ``run_own_binding`` that ``PromptInput`` shares."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input


def editing_actions(*classes: type[Widget]) -> frozenset[str]:
    """The actions of the bindings these classes declare themselves. Scroll bindings a
    text box inherits are not among them: on ↓ they do nothing in a one-line field, and
    the key must go on to the screen (a list's next item)."""
    return frozenset(b.action for klass in classes for b in klass.BINDINGS
                     if isinstance(b, Binding))


async def run_own_binding(widget: Widget, event: events.Key, actions: frozenset[str]
                          ) -> bool:
    """Run ``widget``'s own binding for this key now, when its action is one of
    ``actions``; True when it ran (the key then goes no further).

    Textual leaves a bound key to bubble up to the app, which runs the binding from its
    own queue — behind characters typed after it."""
    active = widget.screen.active_bindings.get(event.key)
    if (active is None or active.node is not widget or not active.enabled
            or active.binding.action not in actions):
        return False
    event.stop()
    event.prevent_default()
    await widget.run_action(active.binding.action)
    return True


EDITING_ACTIONS = editing_actions(Input)


class Field(Input):
    """``Input``, with its own bindings (backspace, home, ctrl+k, arrows …) run as their
    key arrives.

    Textual's Input inserts a typed character as soon as it reads the key, but leaves a
    bound key to bubble up to the app, which runs the binding from its own queue — behind
    characters typed after it. Keys that arrive together (a fast typist over SSH, tmux
    send-keys, a paste without bracketed paste) then land out of order: "backspace 0.25"
    typed after "9" gave "90.2", not "0.25".
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A blinking cursor repaints twice a second for as long as the field has focus:
        # CPU and bytes on every SSH link while the user does nothing (a modal left open
        # kept 4-5 % of a core busy).
        self.cursor_blink = False

    async def on_key(self, event: events.Key) -> None:
        if not event.is_printable:  # Input inserts a printable one itself, at once
            await run_own_binding(self, event, EDITING_ACTIONS)
