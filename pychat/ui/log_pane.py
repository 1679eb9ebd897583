"""The log pane: llama.cpp's lines, app events and errors, with their level."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.containers import Vertical

from pychat.text import inert

if TYPE_CHECKING:
    from textual.widgets import RichLog

_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}


MAX_LINES = 2000


class LogPane(Vertical):
    """The last ``MAX_LINES`` lines, shown by ctrl+l.

    Lines are kept in our own bounded buffer. The RichLog that shows them is built the
    first time the pane is shown and written to only while shown: most sessions never
    open the log, and a hidden RichLog would defer every write and keep them all
    (measured: ~1 MiB of RSS per model switch, since each load logs hundreds of llama.cpp
    lines). Importing and mounting it at start-up cost ~20 ms of the first frame.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "Log"
        self.lines_received = 0
        """Every line received, including those dropped from the buffer."""
        self.history: deque[Text] = deque(maxlen=MAX_LINES)
        self.view: RichLog | None = None
        """The widget that shows the lines, once the pane has been shown."""
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
        if self.display and self.view is not None:
            self.view.write(line)

    def toggle(self) -> None:
        """Show or hide the pane; on showing, write what arrived while it was hidden."""
        self.display = not self.display
        if not self.display:
            return
        if self.view is None:
            from textual.widgets import RichLog

            self.view = RichLog(max_lines=MAX_LINES, wrap=False, markup=False,
                                highlight=False)
            self.mount(self.view)
        self.view.clear()
        for line in self.history:
            self.view.write(line)
