"""Process-wide policies and the benchmark's probes; nothing here imports Textual.

- **Trace events** for ``make bench``: written only when ``$PYCHAT_TRACE`` names a file. Each
  event is one JSON line with a wall-clock time, written by a single ``os.write`` on an
  ``O_APPEND`` descriptor under a lock, so a reader never sees half a line from us; the
  reader below still ignores a last line that has no newline yet.
- **Forced reply length** for benchmarks (``$PYCHAT_BENCH_IGNORE_EOS=1``): the model's
  end-of-turn is ignored, so a run measures the number of tokens it asked for, whatever
  the sampled text does on this CPU.
- **Garbage-collector policy**: after start-up, freeze what start-up built.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TRACE_ENV = "PYCHAT_TRACE"
IGNORE_EOS_ENV = "PYCHAT_BENCH_IGNORE_EOS"

_trace_lock = threading.Lock()
_trace_fd: int | None = None


def tracing() -> bool:
    """True when ``$PYCHAT_TRACE`` names a file to write events to."""
    return bool(os.environ.get(TRACE_ENV))


def trace(event: str, **data: Any) -> None:
    """Append ``event`` to the trace file (no-op when tracing is off)."""
    global _trace_fd
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    line = (json.dumps({"event": event, "t": time.time(), **data}) + "\n").encode()
    with _trace_lock:
        if _trace_fd is None:
            _trace_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(_trace_fd, line)


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Every complete event in a trace file (a line still being written is left out)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    events = []
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is unfinished
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def ignore_eos_requested() -> bool:
    """Benchmarks only: generate until max_tokens, ignoring the model's end of turn."""
    return os.environ.get(IGNORE_EOS_ENV) == "1"


_frozen = False


def freeze_startup_objects() -> None:
    """Take what start-up built (modules, widgets, llama_cpp) out of the collector's full
    passes. Those passes scan every tracked object and, with llama.cpp busy on every core,
    took 80-110 ms each mid-reply: the event-loop stalls the key-echo benchmark saw. Done
    once: anything frozen is never collected, so later garbage must stay collectable."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()


class LoopWatch:
    """Benchmarks only: records event-loop stalls and long garbage-collector pauses.

    ``tick`` is called every ``period`` seconds by the event loop it watches; a tick that
    comes more than 50 ms late is a stall.
    """

    def __init__(self, period: float = 0.02) -> None:
        self.period = period
        self._last = time.monotonic()
        self._gc_started = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        late = now - self._last - self.period
        self._last = now
        if late > 0.05:
            trace("stall", ms=round(late * 1000, 1))

    def watch_gc(self) -> Callable[[], None]:
        """Record collector pauses over 5 ms; returns the function that stops it."""
        gc.callbacks.append(self._on_gc)
        return lambda: gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        ms = (time.perf_counter() - self._gc_started) * 1000
        if ms > 5:
            trace("gc", ms=round(ms, 1), generation=info["generation"],
                  collected=info["collected"])
