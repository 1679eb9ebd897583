"""A scrolling pane that mounts only a window of a long list of turns.

The pane keeps every turn as a plain ``Entry`` and mounts widgets for a contiguous range
of them: the newest ``WINDOW`` when a chat opens, more in batches as PageUp reaches the
top (or PageDown the bottom), never more than ``MOST_MOUNTED`` at once (the far side is
unmounted). A 10,000-message chat costs 10,000 small records and a few dozen widgets, not 10,000
widgets: a Textual layout pass walks every mounted widget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from pychat.session.conversation import Turn

STATE_NOTES = {"stopped": "■ stopped", "error": "⚠ the reply failed",
               "excluded": "(too long for the context: not sent)"}
"""What a turn read from the history shows under it, by its saved state."""


@dataclass
class Entry:
    """One turn as the pane knows it, mounted or not."""

    role: str
    text: str = ""
    title: str = ""
    note: str = ""
    reply_id: int = 0
    """For a reply started in this session: the session's reply id (0 from history)."""
    thinking: str = ""
    """For a reply: the model's reasoning."""


def entry_for(turn: Turn, title: str) -> Entry:
    """A turn from the history as the pane shows it."""
    note = STATE_NOTES.get(turn.state, "")
    if turn.versions > 1 and turn.role == "assistant":
        note = f"{note} · version {turn.version} of {turn.versions}".lstrip(" ·")
    return Entry(turn.role, turn.text, turn.model or title, note, thinking=turn.thinking)


class TurnWindow(VerticalScroll):
    """Entries, and widgets for positions ``_start`` to ``_end`` of them (see the module
    docstring); ``_widget`` makes a widget for one entry."""

    WINDOW = 16
    """Turns mounted when a chat opens: more than a screenful (each takes three lines or
    more). Each reply is Markdown rendered on the app thread, so every turn mounted here
    delays the first keys typed after opening (40 turns cost about 0.3 s on 2 cores)."""
    BATCH = 25
    MOST_MOUNTED = 100

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries: list[Entry] = []
        self._shown: dict[int, Widget] = {}
        """Mounted widgets by position; they cover positions ``_start`` to ``_end``."""
        self._start = self._end = 0
        self._earlier = Static("", classes="more", markup=False)
        self._later = Static("", classes="more", markup=False)
        self._hints = ("", "")

    def compose(self) -> ComposeResult:
        yield self._earlier
        yield self._later

    def on_mount(self) -> None:
        self._update_hints()
        self.anchor()

    @property
    def mounted(self) -> int:
        """How many turns have widgets now."""
        return len(self._shown)

    @property
    def window(self) -> tuple[int, int]:
        """The positions that have widgets: from the first to one past the last."""
        return self._start, self._end

    @property
    def hints(self) -> tuple[str, str]:
        """The lines above and below the window saying how many turns are not shown ("" when
        none are)."""
        return self._hints

    def _widget(self, position: int) -> Widget:
        """A new widget for the entry at ``position`` (the pane decides which)."""
        raise NotImplementedError

    def _pinned(self, widget: Widget) -> bool:
        """True for a widget that must stay mounted (a reply still streaming)."""
        return False

    async def _mount_range(self, start: int, end: int, *, above: bool) -> None:
        """Mount positions ``start``..``end`` above (or below) what is mounted."""
        widgets = []
        for position in range(start, end):
            self._shown[position] = self._widget(position)
            widgets.append(self._shown[position])
        if widgets:
            if above:
                await self.mount_all(widgets, after=self._earlier)
            else:
                await self.mount_all(widgets, before=self._later)

    async def _unmount_range(self, start: int, end: int) -> None:
        widgets = [self._shown.pop(p) for p in range(start, end) if p in self._shown]
        if widgets:
            await self.remove_children(widgets)

    def _update_hints(self) -> None:
        earlier, later = self._start, len(self.entries) - self._end
        self._hints = (
            f"▲ {earlier:,} earlier messages · PageUp at the top shows more" if earlier else "",
            f"▼ {later:,} later messages · PageDown at the bottom shows more" if later else "")
        for widget, hint in zip((self._earlier, self._later), self._hints, strict=True):
            widget.update(hint)
            widget.display = bool(hint)

    async def _show_tail(self) -> None:
        """Mount the newest ``WINDOW`` turns only (after a chat opens, or to come back to
        the end when a message is sent while the window is elsewhere)."""
        await self._unmount_range(self._start, self._end)
        self._shown.clear()
        self._end = len(self.entries)
        self._start = max(0, self._end - self.WINDOW)
        await self._mount_range(self._start, self._end, above=False)
        self._update_hints()
        self.scroll_end(animate=False, immediate=True)
        self.anchor()

    async def show_position(self, position: int) -> None:
        """Make sure the turn at ``position`` has a widget: the window moves around it
        when it is elsewhere (the block cursor went there)."""
        if position in self._shown or not 0 <= position < len(self.entries):
            return
        await self._unmount_range(self._start, self._end)
        self._shown.clear()
        self._start = max(0, position - self.WINDOW // 2)
        self._end = min(len(self.entries), self._start + self.WINDOW)
        await self._mount_range(self._start, self._end, above=False)
        self._update_hints()

    def widget_at(self, position: int) -> Widget | None:
        """The widget of the turn at ``position``, when it is mounted."""
        return self._shown.get(position)

    async def _show_earlier(self) -> None:
        """Mount a batch above the window, keeping what is on screen where it is; unmount
        from the bottom beyond ``MOST_MOUNTED`` (never a reply still streaming)."""
        keep = self._hold_place()
        start = max(0, self._start - self.BATCH)
        await self._mount_range(start, self._start, above=True)
        self._start = start
        excess = self._end - self._start - self.MOST_MOUNTED
        if excess > 0 and not self._pinned_in(self._end - excess, self._end):
            await self._unmount_range(self._end - excess, self._end)
            self._end -= excess
        self._update_hints()
        self.call_after_refresh(keep)

    async def _show_later(self) -> None:
        """Mount a batch below the window; unmount from the top beyond ``MOST_MOUNTED``."""
        keep = self._hold_place()
        end = min(len(self.entries), self._end + self.BATCH)
        await self._mount_range(self._end, end, above=False)
        self._end = end
        excess = self._end - self._start - self.MOST_MOUNTED
        if excess > 0:
            await self._unmount_range(self._start, self._start + excess)
            self._start += excess
        self._update_hints()
        self.call_after_refresh(keep)

    def _pinned_in(self, start: int, end: int) -> bool:
        return any(self._pinned(w) for p, w in self._shown.items() if start <= p < end)

    def _hold_place(self) -> Callable[[], None]:
        """Remember where the first visible turn is on screen; the returned callable
        scrolls it back there once the layout has changed around it."""
        top = self.scroll_y
        visible = [w for w in self._shown.values() if w.is_attached]
        anchor = next((w for w in sorted(visible, key=lambda w: w.virtual_region.y)
                       if w.virtual_region.bottom > top), None)
        if anchor is None:
            return lambda: None
        offset = anchor.virtual_region.y - top

        def restore() -> None:
            if anchor.is_attached:
                self.scroll_to(y=anchor.virtual_region.y - offset, animate=False,
                               immediate=True)

        return restore

    async def page(self, direction: int) -> None:
        """PageUp / PageDown; at the top (bottom) of the window, more turns are mounted
        first and the page moves through them."""
        page = self.scrollable_content_region.height
        if direction < 0:
            if self._start > 0 and self.scroll_y <= page:
                await self._show_earlier()
                self.call_after_refresh(self.scroll_page_up, animate=False)
                return
            self.scroll_page_up(animate=False)
        else:
            if self._end < len(self.entries) and self.scroll_y >= self.max_scroll_y - page:
                await self._show_later()
                self.call_after_refresh(self.scroll_page_down, animate=False)
                return
            self.scroll_page_down(animate=False)
