"""Browsing the conversation: a cursor walks its blocks (messages, reasoning, code) and
the user acts on the one it is on."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.message import Message
from textual.widget import Widget

from pychat.ui.bindings import bindings
from pychat.ui.block_cursor import Block, BlockCursor
from pychat.ui.chat_window import TurnWindow
from pychat.ui.turn_widgets import AssistantMessage


class BrowsedWindow(TurnWindow):
    """A ``TurnWindow`` the user can focus (alt+↑) to walk its blocks with a cursor; what
    to do with a block is the screen's job (``BlockChosen``)."""

    # Not focusable until browsed: Tab moves between the message box and the loader's
    # fields, and PageUp / PageDown (screen bindings) scroll from anywhere.
    can_focus = False
    BINDINGS = bindings("blocks")

    class BlockChosen(Message):
        """The user asked for something to be done with a block (copy it, put it in the
        message box, edit it, fork the chat there, export it, show it whole), or to
        leave the conversation (``action`` "back")."""

        def __init__(self, action: str, block: Block | None) -> None:
            self.action = action
            self.block = block
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cursor = BlockCursor()
        """The block cursor, while the conversation is browsed (focused)."""
        self._marked: Widget | None = None

    async def browse(self) -> bool:
        """Focus the conversation with the cursor on its last block; False when it has
        none."""
        block = self.cursor.last(self.entries)
        if block is None:
            return False
        self.can_focus = True
        self.focus()
        await self._mark(block)
        return True

    @property
    def browsing(self) -> bool:
        return self.has_focus and self.cursor.current is not None

    def on_blur(self) -> None:
        self.leave_blocks()

    def leave_blocks(self) -> None:
        """No cursor any more (the pane lost focus, or its chat was cleared)."""
        self.can_focus = False
        self._unmark()
        self.cursor.current = None

    async def _mark(self, block: Block) -> None:
        """Show where the cursor is: a bar in the margin of its turn (visible without
        colour), and what the block is on the pane's border."""
        await self.show_position(block.position)
        widget = self.widget_at(block.position)
        if widget is not self._marked:
            self._unmark()
        if widget is not None:
            widget.add_class("-cursor")
            self._marked = widget
            self.scroll_to_widget(widget, animate=False, top=block.kind != "message")
        # The label holds the model's name and a code block's language: text, not markup.
        self.border_subtitle = Content(f"▶ {block.label}")

    def _unmark(self) -> None:
        if self._marked is not None:
            self._marked.remove_class("-cursor")
            self._marked = None
        self.border_subtitle = ""

    async def action_block_move(self, step: int) -> None:
        block = self.cursor.move(self.entries, step)
        if block is not None:
            await self._mark(block)

    async def action_block_end(self, last: bool) -> None:
        block = (self.cursor.last if last else self.cursor.first)(self.entries)
        if block is not None:
            await self._mark(block)

    def action_block_expand(self) -> None:
        """Enter: fold or unfold reasoning; show a code block whole."""
        block = self.cursor.refresh(self.entries)
        if block is None:
            return
        if block.kind == "thinking":
            widget = self.widget_at(block.position)
            if isinstance(widget, AssistantMessage):
                widget.toggle_thinking()
        elif block.kind == "code":
            self.post_message(self.BlockChosen("view", block))

    def action_block(self, action: str) -> None:
        """Copy, to the message box, edit, fork, export, back: the screen does them."""
        block = self.cursor.refresh(self.entries)
        self.post_message(self.BlockChosen(action, block))

    def toggle_last_thinking(self) -> bool:
        """Fold or unfold the last reply's reasoning; False when it has none."""
        for position in range(len(self.entries) - 1, -1, -1):
            widget = self.widget_at(position)
            if isinstance(widget, AssistantMessage) and widget.thinking:
                return widget.toggle_thinking()
        return False
