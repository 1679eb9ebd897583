"""The widgets of one turn: a user's message and a reply streamed as Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
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

    def __init__(self, text: str, note: str = "") -> None:
        super().__init__(f"{text}\n{note}" if note else text, markup=False)
        self.text = text


def frozen_markdown(text: str) -> Static:
    """Markdown rendered by Rich into one plain widget (see ``_close_segment``)."""
    from rich.markdown import Markdown as RichMarkdown

    # hyperlinks=False: links become "text (url)", not OSC 8 links a terminal opens.
    return Static(RichMarkdown(text.rstrip("\n"), hyperlinks=False), classes="segment")


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

    def __init__(self, title: str, text: str = "", note: str = "") -> None:
        """A reply being streamed (no ``text``), or a finished one shown from the chat's
        history: its text rendered once, as a frozen segment."""
        super().__init__()
        self.title = title
        self.text = text
        self._segment_text = ""
        self._segment: Markdown | None = None
        self._stream: MarkdownStream | None = None
        self._title = Static(title, classes="title", markup=False)
        self._note = Static(note, classes="note", markup=False)
        self.note = note
        self.thinking = ""
        """The model's reasoning so far, shown apart from (and above) the reply."""
        self._thinking: Static | None = None

    def compose(self) -> ComposeResult:
        yield self._title
        if self.text:
            yield frozen_markdown(self.text)
        yield self._note

    def set_note(self, text: str) -> None:
        """Show a line under the reply (waiting, stopped, error, stats)."""
        self.note = text
        self._note.update(text)

    async def add_thinking(self, text: str) -> None:
        """More of the model's reasoning: one dim line says how much there is and ends with
        its newest words (never mixed into the reply's text)."""
        self.thinking += text
        if self._thinking is None:
            self._thinking = Static("", classes="thinking", markup=False)
            await self.mount(self._thinking, after=self._title)
        tail = " ".join(self.thinking.split())[-60:]
        self._thinking.update(f"Thinking… {len(self.thinking):,} characters · …{tail}")

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
        await self._stream.stop()
        self._stream = None
        await self.mount(frozen_markdown(self._segment_text), before=self._segment)
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
