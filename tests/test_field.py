"""Keys that arrive together (SSH, tmux send-keys, a paste without bracketed paste) are
applied in the order typed, in one-line fields and in the message box."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Input

from pychat.ui.field import Field
from pychat.ui.prompt_input import PromptInput
from tests.support.app import wait_for


class Box(App[None]):
    def __init__(self, make: Callable[[], Input | PromptInput]) -> None:
        super().__init__()
        self.make = make

    def compose(self) -> ComposeResult:
        self.widget = self.make()
        yield self.widget


def burst(app: App[None], *keys: str) -> None:
    """Queue ``keys`` as a terminal delivers them, without waiting between them."""
    for key in keys:
        character = key if len(key) == 1 else None
        app.post_message(events.Key(key, character))


@pytest.mark.parametrize("make", [Field, Input], ids=["Field", "textual Input"])
async def test_a_burst_of_keys_edits_a_field_in_order(make: type[Input]) -> None:
    app = Box(lambda: make(value="9"))
    async with app.run_test() as pilot:
        app.widget.focus()
        await pilot.pause(0.05)
        burst(app, "end", "backspace", "0", ".", "2", "5")
        await pilot.pause(0.2)
        if make is Field:
            assert app.widget.value == "0.25"
        else:  # the reason Field exists: Textual's Input applies backspace last
            assert app.widget.value != "0.25"


async def test_a_burst_of_backspaces_then_text_in_the_message_box() -> None:
    app = Box(PromptInput)
    async with app.run_test() as pilot:
        prompt = app.widget
        assert isinstance(prompt, PromptInput)
        prompt.focus()
        prompt.load_text("old text")
        prompt.move_cursor(prompt.document.end)
        await pilot.pause(0.05)
        burst(app, *["backspace"] * 20, *"new")
        await wait_for(pilot, lambda: prompt.text == "new", timeout=3)
