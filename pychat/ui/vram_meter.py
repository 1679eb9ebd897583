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


def sparkline(values: list[float], width: int) -> str:
    """The last ``width`` values as block characters, scaled between their min and max.

    One plain string in one colour: Textual's Sparkline colours every cell on its own,
    which costs ~20 bytes a cell on every update — too much for an SSH link at 1 Hz.
    """
    values = values[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_BARS[1 + round((v - low) / span * (len(_BARS) - 2))] for v in values)


class VramMeter(Vertical):
    """Shows the newest VramSample and a sparkline of the last minute."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = "VRAM"
        self.history: deque[float] = deque(maxlen=HISTORY)
        self.last: VramSample | None = None

    def compose(self) -> ComposeResult:
        yield Static("waiting for the first sample…", id="vram-text", markup=False)
        yield Static("", id="vram-spark", markup=False)

    def show(self, sample: VramSample) -> None:
        """Render one sample."""
        self.last = sample
        lines: list[str] = []
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
        self.query_one("#vram-text", Static).update("\n".join(lines))
        first = sample.gpus[0] if sample.gpus else None
        value = first.used if first is not None and first.used is not None else sample.rss
        self.history.append(float(value))
        label = "VRAM" if first is not None else "RSS"
        width = max(self.content_region.width - len(label) - 1, 1)
        self.query_one("#vram-spark", Static).update(
            f"{label} {sparkline(list(self.history), width)}")
