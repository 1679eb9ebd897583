"""The conversation on screen: user turns and streamed Markdown replies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from pychat.engine.base import GenerationStats

if TYPE_CHECKING:
    from textual.widgets.markdown import Markdown, MarkdownStream


def import_markdown() -> None:
    """Import the Markdown renderers (~50 ms: markdown-it, pygments). Not needed for the
    first paint, so the main screen calls this in a worker right after it."""
    import rich.markdown  # noqa: F401
    import textual.widgets.markdown  # noqa: F401


class UserMessage(Static):
    """A turn the user sent."""

    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False)
        self.text = text


SEGMENT_CHARS = 300
"""A streamed reply is rendered in Markdown segments of about this many characters."""


def segment_cut(text: str, start: int) -> int:
    """Where a segment of ``text`` may end: just after a line break at or beyond ``start``
    that is outside code fences and not inside a table; -1 when there is none yet.

    Markdown re-parses the last block of a document on every append, so one long paragraph
    would make each token cost more than the last. Closing segments at line breaks keeps
    the work (and the bytes repainted) per update bounded.
    """
    cut = -1
    in_fence = False
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
        offset += len(line)
        complete = line.endswith("\n")
        if complete and offset >= start and not in_fence and not stripped.startswith("|"):
            cut = offset
            if stripped.strip() == "":  # a blank line: the best place, take it
                return cut
    return cut


class AssistantMessage(Vertical):
    """A reply: Markdown streamed as tokens arrive, then a line of stats.

    The text is streamed into a chain of Markdown widgets (segments): once a segment is
    long enough it is closed at a line break and never rendered again.
    """

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.text = ""
        self._segment_text = ""
        self._segment: Markdown | None = None
        self._stream: MarkdownStream | None = None
        self._title = Static(title, classes="title", markup=False)
        self._note = Static("", classes="note", markup=False)

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._note

    def set_note(self, text: str) -> None:
        """Show a line under the reply (waiting, stopped, error, stats)."""
        self._note.update(text)

    def set_title(self, title: str) -> None:
        self.title = title
        self._title.update(title)

    @property
    def content_height(self) -> int:
        """Lines the reply's text and note take now (its height may reserve more)."""
        return self._note.virtual_region_with_margin.bottom


    async def append(self, text: str) -> None:
        """Add streamed text; the Markdown stream merges writes that come too fast."""
        self.text += text
        while text:
            if self._stream is None:
                from textual.widgets.markdown import Markdown

                # A link in a reply is shown, never opened: the model wrote it.
                self._segment = Markdown(open_links=False)
                await self.mount(self._segment, before=self._note)
                self._stream = Markdown.get_stream(self._segment)
                self._segment_text = ""
            pending = self._segment_text + text
            cut = segment_cut(pending, SEGMENT_CHARS)
            if cut < 0:
                self._segment_text = pending
                await self._stream.write(text)
                return
            head = pending[len(self._segment_text):cut]
            self._segment_text = pending[:cut]
            text = pending[cut:]
            await self._stream.write(head)
            await self._close_segment()

    async def _close_segment(self) -> None:
        """Freeze the streaming segment into one plain widget.

        A Textual Markdown is a tree of block widgets, and every layout pass walks all of
        them: a frozen segment becomes a single Static holding Rich's Markdown rendering,
        so the cost of a layout stays flat however long the reply grows.
        """
        if self._stream is None or self._segment is None:
            return
        from rich.markdown import Markdown as RichMarkdown

        await self._stream.stop()
        self._stream = None
        # hyperlinks=False: links become "text (url)", not OSC 8 links a terminal opens.
        markdown = RichMarkdown(self._segment_text.rstrip("\n"), hyperlinks=False)
        frozen = Static(markdown, classes="segment")
        await self.mount(frozen, before=self._segment)
        await self._segment.remove()
        self._segment = None

    async def finish(self, stats: GenerationStats | None, note: str = "") -> None:
        """End the stream and write the stats line."""
        await self._close_segment()
        if stats is not None and stats.completion_tokens:
            note = (f"{note} " if note else "") + (
                f"{stats.completion_tokens} tokens · {stats.tokens_per_second:.1f} tok/s · "
                f"TTFT {stats.time_to_first_token * 1000:.0f} ms")
        self.set_note(note)


RESERVE_LINES = 12
"""While a reply streams it reserves blank lines below its text in steps of this many."""


class ChatPane(VerticalScroll):
    """Scrolls the conversation; stays at the bottom while a reply streams.

    Replies are found by the session's reply id. Textual repaints the whole pane whenever
    its content height changes, so a reply that grew one line at a time would repaint every
    visible line for every new line of text — most of the bytes an SSH link carries while
    streaming. A streaming reply therefore grows in steps of ``RESERVE_LINES`` blank lines,
    and between steps only the lines that changed are sent.
    """

    # Not focusable: Tab moves between the message box and the loader's fields, and
    # PageUp / PageDown (screen bindings) scroll the conversation from anywhere.
    can_focus = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "Chat"
        self.replies: dict[int, AssistantMessage] = {}
        self._growing: AssistantMessage | None = None

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, text: str) -> None:
        await self.mount(UserMessage(text))

    async def start_reply(self, reply_id: int, title: str) -> None:
        reply = AssistantMessage(title)
        self.replies[reply_id] = reply
        await self.mount(reply)
        self.anchor()

    def _reply(self, reply_id: int) -> AssistantMessage | None:
        """The reply widget, if it is still on screen (a late event for a reply that was
        cleared or regenerated meanwhile is ignored, not an error)."""
        reply = self.replies.get(reply_id)
        return reply if reply is not None and reply.is_attached else None

    def set_title(self, reply_id: int, title: str) -> None:
        if reply := self._reply(reply_id):
            reply.set_title(title)

    def set_note(self, reply_id: int, note: str) -> None:
        if reply := self._reply(reply_id):
            reply.set_note(note)

    async def append(self, reply_id: int, text: str) -> None:
        """Streamed text for a reply; reserve more room once it reaches the reserved space."""
        reply = self._reply(reply_id)
        if reply is None:
            return
        await reply.append(text)
        self._growing = reply
        self.call_after_refresh(self._reserve, reply)

    def _reserve(self, reply: AssistantMessage) -> None:
        if self._growing is not reply:
            return
        used = reply.content_height
        if used >= reply.size.height:
            reply.styles.min_height = used + RESERVE_LINES

    async def finish(self, reply_id: int, stats: GenerationStats, note: str) -> None:
        """The reply ended: close its stream, write its note, give back reserved lines."""
        reply = self._reply(reply_id)
        if reply is None:
            return
        await reply.finish(stats, note)
        if self._growing is reply:
            reply.styles.min_height = None
            self._growing = None

    async def remove_reply(self, reply_id: int) -> None:
        if reply := self.replies.pop(reply_id, None):
            await reply.remove()

    def page(self, direction: int) -> None:
        """PageUp / PageDown."""
        if direction < 0:
            self.scroll_page_up()
        else:
            self.scroll_page_down()

    async def clear(self) -> None:
        self._growing = None
        self.replies.clear()
        await self.remove_children()
