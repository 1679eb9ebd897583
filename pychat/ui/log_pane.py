"""The log pane: llama.cpp's lines, app events and errors, with their level."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from pychat.text import inert

_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}


MAX_LINES = 2000


class LogPane(RichLog):
    """A scrolling log of the last ``MAX_LINES`` lines.

    Lines are kept in our own bounded buffer and only written to the RichLog while it is
    shown: a hidden RichLog defers every write and keeps them all (measured: ~1 MiB of
    RSS per model switch, since each load logs hundreds of llama.cpp lines).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, highlight=False,
                         **kwargs)
        self.border_title = "Log"
        self.lines_received = 0
        """Every line received, including those dropped from the buffer."""
        self.history: deque[Text] = deque(maxlen=MAX_LINES)
        self._printed = ""

    def add_printed(self, text: str) -> None:
        """What a library printed (llama-cpp-python while it loads), line by line."""
        self._printed += text
        *lines, self._printed = self._printed.split("\n")
        for line in lines:
            if line.strip():
                self.add("info", inert(line), "llama-cpp-python")

    def add(self, level: str, text: str, source: str = "app") -> None:
        """Append one line: time, level, source, text."""
        self.lines_received += 1
        line = Text(time.strftime("%H:%M:%S "), style="dim")
        line.append(f"{level[:4].upper():4} ", style=_STYLES.get(level, ""))
        line.append(f"{source}: ", style="dim")
        line.append(text, style=_STYLES.get(level, ""))
        self.history.append(line)
        if self.display:
            self.write(line)

    def toggle(self) -> None:
        """Show or hide the pane; on showing, write what arrived while it was hidden."""
        self.display = not self.display
        if self.display:
            self.clear()
            for line in self.history:
                self.write(line)
