"""The conversation on screen: user turns and streamed Markdown replies."""

from __future__ import annotations

from textual.containers import Vertical, VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets._markdown import MarkdownStream

from pychat.engine.base import GenerationStats


class UserMessage(Static):
    """A turn the user sent."""

    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False)
        self.text = text


class AssistantMessage(Vertical):
    """A reply: Markdown body streamed as tokens arrive, then a line of stats."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.text = ""
        self._body = Markdown()
        self._note = Static("", classes="note", markup=False)
        self._stream: MarkdownStream | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(self.title, classes="title", markup=False)
        yield self._body
        yield self._note

    def set_note(self, text: str) -> None:
        """Show a line under the reply (waiting, stopped, error, stats)."""
        self._note.update(text)

    async def append(self, text: str) -> None:
        """Add streamed text; the Markdown stream merges writes that come too fast."""
        if self._stream is None:
            self._stream = Markdown.get_stream(self._body)
        self.text += text
        await self._stream.write(text)

    async def finish(self, stats: GenerationStats | None, note: str = "") -> None:
        """End the stream and render the whole reply once more (streamed and full renders
        can differ at block boundaries)."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
            await self._body.update(self.text)
        if stats is not None and stats.completion_tokens:
            note = (f"{note} " if note else "") + (
                f"{stats.completion_tokens} tokens · {stats.tokens_per_second:.1f} tok/s · "
                f"TTFT {stats.time_to_first_token * 1000:.0f} ms")
        self.set_note(note)


class ChatPane(VerticalScroll):
    """Scrolls the conversation; stays at the bottom while a reply streams."""

    # Not focusable: Tab moves between the message box and the loader's fields, and
    # PageUp / PageDown (screen bindings) scroll the conversation from anywhere.
    can_focus = False

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "Chat"

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, text: str) -> UserMessage:
        message = UserMessage(text)
        await self.mount(message)
        return message

    async def start_reply(self, title: str) -> AssistantMessage:
        reply = AssistantMessage(title)
        await self.mount(reply)
        self.anchor()
        return reply

    def last_reply(self) -> AssistantMessage | None:
        replies = self.query(AssistantMessage)
        return replies.last() if replies else None

    async def clear(self) -> None:
        await self.remove_children()
