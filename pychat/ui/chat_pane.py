"""The conversation on screen: user turns and streamed Markdown replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from pychat.engine.base import GenerationStats

if TYPE_CHECKING:
    from textual.widgets import Markdown
    from textual.widgets._markdown import MarkdownStream


def import_markdown() -> None:
    """Import the Markdown renderers (~50 ms: markdown-it, pygments). Not needed for the
    first paint, so the main screen calls this in a worker right after it."""
    import rich.markdown  # noqa: F401
    import textual.widgets._markdown  # noqa: F401


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
        self._note = Static("", classes="note", markup=False)

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(self.title, classes="title", markup=False)
        yield self._note

    def set_note(self, text: str) -> None:
        """Show a line under the reply (waiting, stopped, error, stats)."""
        self._note.update(text)

    @property
    def content_height(self) -> int:
        """Lines the reply's text and note take now (its height may reserve more)."""
        return self._note.virtual_region_with_margin.bottom


    async def append(self, text: str) -> None:
        """Add streamed text; the Markdown stream merges writes that come too fast."""
        self.text += text
        while text:
            if self._stream is None:
                from textual.widgets import Markdown

                self._segment = Markdown()
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
        frozen = Static(RichMarkdown(self._segment_text.rstrip("\n")), classes="segment")
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

    Textual repaints the whole pane whenever its content height changes, so a reply that
    grew one line at a time would repaint every visible line for every new line of text —
    most of the bytes an SSH link carries while streaming. A streaming reply therefore
    grows in steps of ``RESERVE_LINES`` blank lines, and between steps only the lines that
    changed are sent.
    """

    # Not focusable: Tab moves between the message box and the loader's fields, and
    # PageUp / PageDown (screen bindings) scroll the conversation from anywhere.
    can_focus = False

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "Chat"
        self._growing: AssistantMessage | None = None

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

    def follow(self, reply: AssistantMessage) -> None:
        """``reply`` grew: reserve more room once its text reaches the reserved space."""
        self._growing = reply
        self.call_after_refresh(self._reserve, reply)

    def _reserve(self, reply: AssistantMessage) -> None:
        if self._growing is not reply:
            return
        used = reply.content_height
        if used >= reply.size.height:
            reply.styles.min_height = used + RESERVE_LINES

    def stop_following(self) -> None:
        """The reply ended: give back the blank lines it reserved."""
        if self._growing is not None:
            self._growing.styles.min_height = None
            self._growing = None

    def page(self, direction: int) -> None:
        """PageUp / PageDown."""
        if direction < 0:
            self.scroll_page_up()
        else:
            self.scroll_page_down()

    def last_reply(self) -> AssistantMessage | None:
        replies = self.query(AssistantMessage)
        return replies.last() if replies else None

    async def clear(self) -> None:
        self._growing = None
        await self.remove_children()
