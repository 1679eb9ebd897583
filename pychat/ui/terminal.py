"""Send the terminal only what changed on it.

Textual repaints whole widgets: when a streamed paragraph gains a word, every line of the
paragraph is written again, although only its last line changed. Over SSH those repeated
lines are most of what the link carries. `ScreenDiff` remembers what each frame put at
each screen position and drops the pieces that would write the same thing again.

A Textual frame is a run of pieces, each an absolute cursor move followed by styled text
(``ESC[row;colH`` + text with SGR colours and OSC 8 links, then an optional newline). The
filter only trusts that shape: anything else it sees (mode switches, the alternate screen,
a piece holding other control codes) is passed through untouched and makes it forget
everything, so the next frames are sent in full. It also forgets on every resize.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from textual.drivers.linux_driver import LinuxDriver

_MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")
_STYLE = re.compile(r"\x1b\[[0-9;:]*m|\x1b\]8;[^\x1b\x07]*(?:\x1b\\|\x07)")
_HARMLESS = frozenset({"\x1b[?2026h", "\x1b[?2026l"})  # synchronised-output brackets


class ScreenDiff:
    """What the terminal shows, as the text last written at each (row, column)."""

    def __init__(self) -> None:
        self._rows: dict[int, dict[int, str]] = {}

    def forget(self) -> None:
        self._rows.clear()

    def filter(self, data: str) -> str:
        """``data`` as it needs to be sent, given what the terminal already shows."""
        if not data.startswith("\x1b["):
            self.forget()
            return data
        parts = _MOVE.split(data)
        if parts[0] or len(parts) < 4:
            if data not in _HARMLESS:
                self.forget()
            return data
        out: list[str] = []
        last = len(parts) - 3
        for index in range(1, len(parts), 3):
            row, column, text = int(parts[index]), int(parts[index + 1]), parts[index + 2]
            if text.endswith("\n"):
                text = text[:-1]  # every piece starts with an absolute move
            if not _STYLE.sub("", text).isprintable():
                self.forget()
                return data
            if index == last and not text:
                out.append(f"\x1b[{row};{column}H")  # where the cursor rests
                continue
            written = self._rows.setdefault(row, {})
            if not text or written.get(column) == text:
                continue
            # The new text may cover what other pieces wrote on this row: forget them.
            written.clear()
            written[column] = text
            out.append(f"\x1b[{row};{column}H{text}")
        return "".join(out)


class DiffingDriver(LinuxDriver):
    """Textual's terminal driver, with each frame passed through a `ScreenDiff`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._diff = ScreenDiff()
        self._size: tuple[int, int] | None = None

    def write(self, data: str) -> None:
        size: tuple[int, int] | None = None
        try:  # LinuxDriver paints on sys.__stderr__
            if sys.__stderr__ is not None:
                columns, lines = os.get_terminal_size(sys.__stderr__.fileno())
                size = (columns, lines)
        except (OSError, ValueError):
            size = None
        if size != self._size or size is None:
            self._size = size
            self._diff.forget()  # the terminal may have reflowed or cleared itself
        super().write(self._diff.filter(data))
