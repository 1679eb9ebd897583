"""The conversation on screen: user turns and streamed Markdown replies."""

from __future__ import annotations

from typing import Any

from textual.widget import Widget

from pychat import instrument
from pychat.engine.base import GenerationStats
from pychat.session.conversation import Turn
from pychat.ui.browsing import BrowsedWindow
from pychat.ui.chat_window import Entry, entry_for
from pychat.ui.turn_widgets import AssistantMessage, UserMessage, import_markdown

__all__ = ["AssistantMessage", "ChatPane", "UserMessage", "import_markdown"]

RESERVE_LINES = 12
"""While a reply streams it reserves blank lines below its text in steps of this many."""


class ChatPane(BrowsedWindow):
    """Scrolls the conversation; stays at the bottom while a reply streams. Only a window
    of the conversation is mounted (see ``TurnWindow``).

    Replies are found by the session's reply id while they stream. Textual repaints the
    whole pane whenever its content height changes, so a reply that grew one line at a
    time would repaint every visible line for every new line of text — most of the bytes
    an SSH link carries while streaming. A streaming reply therefore grows in steps of
    ``RESERVE_LINES`` blank lines, and between steps only the lines that changed are sent.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "Chat"
        self.replies: dict[int, AssistantMessage] = {}
        """Replies streaming (or streamed) in this session, by reply id."""
        self.context_start: int | None = None
        """The first turn the last request sent, when older ones were left out."""
        self._growing: AssistantMessage | None = None

    def _widget(self, position: int) -> Widget:
        entry = self.entries[position]
        widget: Widget
        if entry.role == "user":
            widget = UserMessage(entry.text, entry.note)
        else:  # a reply of this session that streamed is rebuilt from its entry too
            widget = AssistantMessage(entry.title, entry.text, entry.note, entry.thinking)
        if position == self.context_start:
            _mark_context_start(widget, True)
        return widget

    def _pinned(self, widget: Widget) -> bool:
        return widget is self._growing

    # ------------------------------------------------------------------ turns

    async def _at_tail(self) -> None:
        """New turns go at the end: bring the window there first if it is elsewhere."""
        if self._end < len(self.entries):
            await self._show_tail()

    async def add_user(self, text: str, position: int | None = None) -> None:
        await self._truncate(len(self.entries) if position is None else position)
        await self._at_tail()
        self.entries.append(Entry("user", text))
        await self._mount_range(len(self.entries) - 1, len(self.entries), above=False)
        self._end = len(self.entries)
        self.scroll_end(animate=False)
        self.anchor()

    async def start_reply(self, reply_id: int, title: str, position: int | None = None,
                          text: str = "", thinking: str = "") -> None:
        """A reply appears (with ``text`` and ``thinking`` when it continues one)."""
        await self._truncate(len(self.entries) if position is None else position)
        await self._at_tail()
        reply = AssistantMessage(title, thinking=thinking)
        self.replies[reply_id] = reply
        self.entries.append(Entry("assistant", title=title, reply_id=reply_id))
        self._shown[len(self.entries) - 1] = reply
        await self.mount(reply, before=self._later)
        self._end = len(self.entries)
        self.anchor()
        if text:
            await reply.append(text)

    async def show_chat(self, turns: list[Turn], title: str) -> None:
        """Show an opened chat: its turns kept, the newest of them mounted."""
        await self.clear()
        self.entries = [entry_for(turn, title) for turn in turns]
        await self._show_tail()

    async def replace_exchange(self, position: int, user: Turn, reply: Turn, title: str
                               ) -> None:
        """Show another version of the last exchange (``position`` is its message)."""
        await self._truncate(position)
        self.entries += [entry_for(user, title), entry_for(reply, title)]
        await self._show_tail()

    async def truncate(self, position: int) -> None:
        """Everything from ``position`` on leaves the chat."""
        await self._truncate(position)
        self._update_hints()

    async def _truncate(self, position: int) -> None:
        if position >= len(self.entries):
            return
        await self._unmount_range(position, len(self.entries))
        for entry in self.entries[position:]:
            self.replies.pop(entry.reply_id, None)
        del self.entries[position:]
        self._end = min(self._end, position)
        self._start = min(self._start, self._end)
        if self.context_start is not None and self.context_start >= position:
            self.context_start = None

    def mark_context_start(self, position: int) -> None:
        """Mark the first turn the last request sent (older ones were left out)."""
        if self.context_start is not None and self.context_start in self._shown:
            _mark_context_start(self._shown[self.context_start], False)
        self.context_start = position
        if position in self._shown:
            _mark_context_start(self._shown[position], True)

    def _reply(self, reply_id: int) -> AssistantMessage | None:
        """The reply widget, if it is still on screen (a late event for a reply that was
        cleared or regenerated meanwhile is ignored, not an error)."""
        reply = self.replies.get(reply_id)
        return reply if reply is not None and reply.is_attached else None

    def _entry(self, reply_id: int) -> Entry | None:
        return next((e for e in reversed(self.entries) if e.reply_id == reply_id), None)

    def set_title(self, reply_id: int, title: str) -> None:
        if entry := self._entry(reply_id):
            entry.title = title
        if reply := self._reply(reply_id):
            reply.set_title(title)

    def answering(self, reply_id: int, title: str) -> None:
        """The model started on the reply (at once, or after waiting for a load)."""
        instrument.trace("reply_started")
        self.set_title(reply_id, title)
        self.set_note(reply_id, "…")

    def set_note(self, reply_id: int, note: str) -> None:
        if reply := self._reply(reply_id):
            reply.set_note(note)

    async def add_thinking(self, reply_id: int, text: str, seconds: float = 0.0,
                           pieces: int = 0) -> None:
        """The model's reasoning for a reply, shown apart from its text."""
        if reply := self._reply(reply_id):
            await reply.add_thinking(text, seconds, pieces)

    async def append(self, reply_id: int, text: str) -> None:
        """Streamed text for a reply; reserve more room once it reaches the reserved space."""
        reply = self._reply(reply_id)
        if reply is None:
            return
        await reply.append(text)
        self._growing = reply
        self.call_after_refresh(self._reserve, reply)
        instrument.trace("text", chars=len(text))

    def _reserve(self, reply: AssistantMessage) -> None:
        if self._growing is not reply:
            return
        used = reply.content_height
        if used >= reply.size.height:
            reply.styles.min_height = used + RESERVE_LINES

    async def finish(self, reply_id: int, stats: GenerationStats, note: str) -> None:
        """The reply ended: close its stream, write its note, give back reserved lines."""
        reply = self.replies.get(reply_id)
        if reply is None:
            return
        if reply.is_attached:
            await reply.finish(stats, note)
        if entry := self._entry(reply_id):
            entry.text, entry.note = reply.text, reply.note or note
            entry.thinking = reply.thinking
        if self._growing is reply:
            reply.styles.min_height = None
            self._growing = None

    async def remove_reply(self, reply_id: int, position: int | None = None) -> None:
        """A reply leaves the chat (to be regenerated)."""
        if position is None:
            entry = self._entry(reply_id)
            position = self.entries.index(entry) if entry is not None else len(self.entries)
        await self.truncate(position)

    async def clear(self) -> None:
        self._growing = None
        self.replies.clear()
        await self._unmount_range(0, len(self.entries))
        self._shown.clear()
        self.entries = []
        self.context_start = None
        self._start = self._end = 0
        self._update_hints()
        self.leave_blocks()

def _mark_context_start(widget: Widget, on: bool) -> None:
    widget.set_class(on, "context-start")
    widget.border_title = "older turns above are not sent: the context starts here" \
        if on else None
