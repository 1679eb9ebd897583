"""Guards for modal screens against two Textual 8.2 bugs, found by a seeded key fuzz.

- ``Screen.dismiss`` pops whatever screen is on top, even when the screen being dismissed
  is no longer there: a second Enter queued behind the one that closed the command palette
  popped the main screen and the app died (``ScreenStackError``). ``DismissOnce`` makes
  a dismiss of a screen that is not on top do nothing. Our picker and help use it too.
- ``CommandList`` raises ``KeyError`` in ``OptionList._move_page`` when PageUp or
  PageDown reaches it before its list has been laid out (seed 777). The guarded palette
  pages only once the list has a height.
- The palette's command-gathering worker can run after the palette lost its list and
  fail with ``NoMatches``, which ends the app (seed 777 again, once the first was
  guarded): keys queued behind the Enter that closed it start a new search. The
  guarded palette ignores input once it closes and cancels its workers.

``tests/test_hostile_input.py`` replays the fuzz seeds that found them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from textual.screen import Screen
from textual.widgets import Input, LoadingIndicator


class DismissOnce(Screen[Any]):
    """A screen whose ``dismiss`` does nothing once it is no longer the one on top.

    List it after the screen class it guards (``class Picker(ModalScreen, DismissOnce)``):
    Textual takes CSS and component classes through the first base only."""

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if not self.is_attached or self.app.screen is not self:
            return AwaitComplete(asyncio.sleep(0))
        return super().dismiss(result)


class GuardedCommandPalette(CommandPalette, DismissOnce):
    """Textual's command palette; PageUp / PageDown wait until the list can be paged."""

    BINDINGS = [  # these replace the palette's own bindings for the two keys
        Binding("pagedown", "page(1)", "Next page", show=False),
        Binding("pageup", "page(-1)", "Previous page", show=False),
    ]

    closing = False

    def on_mount(self) -> None:
        # Its search box would blink twice a second while the palette is open (CPU and
        # bytes over SSH for nothing); the cursor stays visible without blinking. Its
        # "searching" indicator animates 16 times a second even while hidden: our
        # commands are found in a millisecond, so it stays still.
        for field in self.query(Input):
            field.cursor_blink = False
        for indicator in self.query(LoadingIndicator):
            indicator.auto_refresh = None

    def dismiss(self, result: Any = None) -> AwaitComplete:
        self.closing = True
        self.workers.cancel_node(self)
        return super().dismiss(result)

    def on_unmount(self) -> None:
        self.workers.cancel_node(self)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.closing:  # runs before the palette's own handler: it would search again
            event.stop()
            event.prevent_default()

    def action_page(self, direction: int) -> None:
        commands = self.query_one(CommandList)
        if commands.option_count and commands.scrollable_content_region.height > 0:
            if direction > 0:
                commands.action_page_down()
            else:
                commands.action_page_up()
