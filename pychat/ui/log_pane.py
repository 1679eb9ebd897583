"""The log pane: llama.cpp's lines, app events and errors, with their level."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import RichLog

_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}


class LogPane(RichLog):
    """A scrolling log, kept to a fixed number of lines."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=2000, wrap=False, markup=False, highlight=False,
                         **kwargs)  # type: ignore[arg-type]
        self.border_title = "Log"
        self.lines_received = 0
        """Every line written, including those scrolled out."""

    def add(self, level: str, text: str, source: str = "app") -> None:
        """Append one line: time, level, source, text."""
        self.lines_received += 1
        line = Text(time.strftime("%H:%M:%S "), style="dim")
        line.append(f"{level[:4].upper():4} ", style=_STYLES.get(level, ""))
        line.append(f"{source}: ", style="dim")
        line.append(text, style=_STYLES.get(level, ""))
        self.write(line)
