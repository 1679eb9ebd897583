"""Timing events for the benchmarks, written only when $PYCHAT_TRACE names a file.

Each event is one JSON line with a wall-clock time, so a benchmark driving the real TUI in a
pseudo-terminal can line its own clock up with what happened inside the app.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

_PATH = os.environ.get("PYCHAT_TRACE")


def enabled() -> bool:
    return bool(_PATH)


def trace(event: str, **data: Any) -> None:
    """Append ``event`` to the trace file (no-op when tracing is off)."""
    if not _PATH:
        return
    with open(_PATH, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"event": event, "t": time.time(), **data}) + "\n")
