"""The widgets of one turn: a user's message and a reply streamed as Markdown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from pychat.engine.base import GenerationStats, shown_name

if TYPE_CHECKING:
    from rich.console import RenderableType


def import_markdown() -> None:
    """Import Rich's Markdown renderer (markdown-it, pygments: tens of ms). Not needed for
    the first paint, so the main screen calls this in a worker right after it."""
    import rich.markdown  # noqa: F401


class UserMessage(Static):
    """A turn the user sent."""

    def __init__(self, text: str, note: str = "") -> None:
        super().__init__(f"{text}\n{note}" if note else text, markup=False)
        self.text = text


def rich_markdown(text: str) -> RenderableType:
    """Markdown as Rich renders it; links become "text (url)", not OSC 8 links a terminal
    opens (the model wrote them)."""
    from rich.markdown import Markdown as RichMarkdown

    return RichMarkdown(text.rstrip("\n"), hyperlinks=False)


def frozen_markdown(text: str) -> Static:
    """Markdown rendered by Rich into one plain widget (see ``AssistantMessage._freeze``)."""
    return Static(rich_markdown(text), classes="segment")


SEGMENT_CHARS = 300
"""A streamed reply is rendered in Markdown segments of about this many characters."""


def last_segment_cut(text: str, start: int) -> int:
    """The furthest place a streamed reply's Markdown segment may end, with at least
    ``start`` characters before it: after the last blank line, else after the last complete
    line — outside code fences and not inside a table; -1 when there is none yet.

    Markdown re-parses the last block of a document on every append, so one long paragraph
    would make each token cost more than the last. Closing segments at line breaks keeps
    the work (and the bytes repainted) per update bounded; text that arrived in one go is
    frozen up to the last such place at once."""
    blank = line_end = -1
    in_fence = False
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
        offset += len(line)
        if line.endswith("\n") and offset >= start and not in_fence \
                and not stripped.startswith("|"):
            line_end = offset
            if stripped.strip() == "":
                blank = offset
    return blank if blank >= 0 else line_end


class ThinkingBlock(Static):
    """A reply's reasoning: one line while collapsed — "▸ Thinking… (12 s, 340 tokens)",
    updated as it streams — and all of it, dim, when expanded."""

    def __init__(self, text: str = "", seconds: float = 0.0, pieces: int = 0) -> None:
        super().__init__("", classes="thinking", markup=False)
        self.text, self.seconds, self.pieces = text, seconds, pieces
        self.expanded = False
        self.streaming = False
        self._show()

    def add(self, text: str, seconds: float, pieces: int) -> None:
        self.text += text
        self.seconds, self.pieces = seconds, pieces
        self.streaming = True
        self._show()

    def done(self) -> None:
        self.streaming = False
        self._show()

    def toggle(self) -> None:
        self.expanded = not self.expanded
        self._show()

    def summary(self) -> str:
        if self.pieces:
            about = f"{self.seconds:.0f} s, {self.pieces:,} tokens"
        else:
            about = f"{len(self.text):,} characters"
        return f"Thinking… ({about})" if self.streaming else f"Thought ({about})"

    def _show(self) -> None:
        if self.expanded:
            self.update(f"▾ {self.summary()}\n{self.text.strip()}")
        else:
            self.update(f"▸ {self.summary()}")


class AssistantMessage(Vertical):
    """A reply: Markdown streamed as tokens arrive, then a line of stats.

    The text is streamed into a chain of Statics holding Rich's Markdown rendering
    (segments): the last one is rendered again as text arrives; once it is long enough it
    is closed at a line break and never rendered again.
    """

    def __init__(self, title: str, text: str = "", note: str = "", thinking: str = "") -> None:
        """A reply being streamed (no ``text``), or a finished one shown from the chat's
        history: its text rendered once, as a frozen segment (and its reasoning, folded)."""
        super().__init__()
        self.title = title
        self.text = text
        self._segment_text = ""
        self._segment: Static | None = None
        """The segment still streaming: the text after the last place a segment may end."""
        self._title = Static(shown_name(title), classes="title", markup=False)
        self._note = Static(note, classes="note", markup=False)
        self.note = note
        self.thinking_block = ThinkingBlock(thinking) if thinking else None
        """The model's reasoning, shown apart from (and above) the reply, folded."""

    @property
    def thinking(self) -> str:
        return self.thinking_block.text if self.thinking_block is not None else ""

    def compose(self) -> ComposeResult:
        yield self._title
        if self.thinking_block is not None:
            yield self.thinking_block
        if self.text:
            yield frozen_markdown(self.text)
        yield self._note

    def set_note(self, text: str) -> None:
        """Show a line under the reply (waiting, stopped, error, stats)."""
        self.note = text
        self._note.update(text)

    async def add_thinking(self, text: str, seconds: float = 0.0, pieces: int = 0) -> None:
        """More of the model's reasoning (never mixed into the reply's text)."""
        if self.thinking_block is None:
            self.thinking_block = ThinkingBlock()
            await self.mount(self.thinking_block, after=self._title)
        self.thinking_block.add(text, seconds, pieces)

    def toggle_thinking(self) -> bool:
        """Expand or fold the reasoning; False when the reply has none."""
        if self.thinking_block is None:
            return False
        self.thinking_block.toggle()
        return True

    def set_title(self, title: str) -> None:
        self.title = title
        self._title.update(shown_name(title))

    @property
    def content_height(self) -> int:
        """Lines the reply's text and note take now (its height may reserve more)."""
        return self._note.virtual_region_with_margin.bottom


    async def append(self, text: str) -> None:
        """Add streamed text. Text up to the last place a segment may end is frozen at
        once (at GPU rates a batch holds many segments' worth); the rest streams."""
        self.text += text
        pending = self._segment_text + text
        cut = last_segment_cut(pending, SEGMENT_CHARS)
        if cut >= 0:
            await self._freeze(pending[:cut])
            text = pending[cut:]
        if text:
            await self._stream_text(text)

    async def _stream_text(self, text: str) -> None:
        """The text after the last place a segment may end: one Static whose Markdown Rich
        renders again on each batch. It is at most about a segment long, so each render is
        bounded, and it is one widget, not Textual's tree of block widgets mounted and
        styled as the text grows (that churn was most of the app thread at GPU rates)."""
        self._segment_text += text
        if self._segment is None:
            self._segment = frozen_markdown(self._segment_text)
            await self.mount(self._segment, before=self._note)
        else:
            self._segment.update(rich_markdown(self._segment_text))

    async def _freeze(self, text: str) -> None:
        """``text`` (the streaming segment's and what follows it) as one frozen segment:
        the streaming Static takes it and is left alone from then on (a Static never
        rendered again costs nothing per layout)."""
        if self._segment is None:
            await self.mount(frozen_markdown(text), before=self._note)
        else:
            self._segment.update(rich_markdown(text))
        self._segment, self._segment_text = None, ""

    async def _close_segment(self) -> None:
        """Freeze what still streams (the reply ended)."""
        if self._segment is not None:
            await self._freeze(self._segment_text)

    async def finish(self, stats: GenerationStats | None, note: str = "") -> None:
        """End the stream and write the stats line."""
        await self._close_segment()
        if self.thinking_block is not None:
            self.thinking_block.done()
        if stats is not None and stats.completion_tokens:
            note = (f"{note} " if note else "") + (
                f"{stats.completion_tokens} tokens · {stats.tokens_per_second:.1f} tok/s · "
                f"TTFT {stats.time_to_first_token * 1000:.0f} ms")
        self.set_note(note)
