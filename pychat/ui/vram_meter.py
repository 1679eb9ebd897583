"""The VRAM pane: what each GPU holds, live, or system RAM when there is no GPU."""

from __future__ import annotations

from collections import deque
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from pychat.engine.models import human_bytes
from pychat.gpu import VramSample

HISTORY = 60
"""Samples kept for the sparkline (60 s at 1 Hz)."""
_BARS = " ▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int, total: float = 0.0) -> str:
    """The last ``width`` values as block characters, scaled between their min and max.

    One plain string in one colour: Textual's Sparkline colours every cell on its own,
    which costs ~20 bytes a cell on every update — too much for an SSH link at 1 Hz.
    Values that move by less than 1 % of ``total`` draw a flat line: an idle process's
    RSS jitters by a few KiB, and a line redrawn from noise every second repaints the
    pane (and, under a modal, the whole screen) for nothing.
    """
    values = values[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    if high - low < total * 0.01:
        return _BARS[1] * len(values)
    span = (high - low) or 1.0
    return "".join(_BARS[1 + round((v - low) / span * (len(_BARS) - 2))] for v in values)


class VramMeter(Vertical):
    """Shows the newest VramSample and a sparkline of the last minute."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "VRAM"
        self.history: deque[float] = deque(maxlen=HISTORY)
        self.last: VramSample | None = None
        self._shown: dict[str, str] = {}
        self.remote = ""
        """Where the model runs when a server holds it ("" for a local model)."""

    def compose(self) -> ComposeResult:
        yield Static("waiting for the first sample…", id="vram-text", markup=False)
        yield Static("", id="vram-spark", markup=False)

    def show_remote(self, where: str) -> None:
        """The model now runs on a server (``where``), or here again ("")."""
        self.remote = where
        if self.last is not None:
            self.show(self.last)

    def show(self, sample: VramSample) -> None:
        """Render one sample."""
        self.last = sample
        lines: list[str] = []
        if self.remote:
            lines.append(f"The model runs on {self.remote.split(',')[0]}: its memory is "
                         "not visible here. This machine:")
        for gpu in sample.gpus:
            lines.append(f"{gpu.index}: {gpu.name}")
            if gpu.used is not None and gpu.total is not None:
                lines.append(f"  used {human_bytes(gpu.used)} / {human_bytes(gpu.total)}")
                lines.append(f"  free {human_bytes(gpu.free or 0)}")
            else:
                lines.append("  memory: not reported")
            util = "n/a" if gpu.utilization is None else f"{gpu.utilization}%"
            mine = "n/a" if gpu.process_used is None else human_bytes(gpu.process_used)
            lines.append(f"  util {util} · PyChat {mine}")
        if sample.status:
            lines.append(sample.status)
        lines.append(f"RAM {human_bytes(sample.ram_used)} / {human_bytes(sample.ram_total)}")
        lines.append(f"PyChat RSS {human_bytes(sample.rss)}")
        first = sample.gpus[0] if sample.gpus else None
        gpu_memory = first is not None and first.used is not None and first.total
        value = first.used if gpu_memory and first is not None else sample.rss
        total = (first.total if gpu_memory and first is not None else sample.ram_total) or 0
        self.history.append(float(value or 0))
        label = "VRAM" if first is not None else "RSS"
        width = max(self.content_region.width - len(label) - 1, 1)
        self._show("#vram-text", "\n".join(lines))
        self._show("#vram-spark", f"{label} {sparkline(list(self.history), width, total)}")

    def _show(self, selector: str, text: str) -> None:
        """Update a line only when its text changes: the pane is refreshed every second,
        and most seconds nothing it shows has moved."""
        widget = self.query_one(selector, Static)
        old = self._shown.get(selector)
        if old != text:
            self._shown[selector] = text
            # Same number of lines: no layout pass over the whole screen (most of what
            # an update cost), only this widget repainted.
            same_height = old is not None and old.count("\n") == text.count("\n")
            widget.update(text, layout=not same_height)
