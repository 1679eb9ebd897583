"""What every benchmark section shares: the prompt and sampler, the real TUI in a pty,
trace events, memory readings and number formatting."""

from __future__ import annotations

import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/run.py` from anywhere
    sys.path.insert(0, str(REPO))

from pychat.instrument import IGNORE_EOS_ENV, read_trace  # noqa: E402
from tests.support.pty_app import PtyApp  # noqa: E402

__all__ = ["IGNORE_EOS_ENV", "MiB", "N_CTX", "PROMPT", "PtyApp", "REPO", "SAMPLING", "SEED",
           "fmt", "key_echo", "machine", "median", "percentile", "read_trace",
           "rss_beyond_model", "rss_of", "wait_trace"]

PROMPT = "Write a very long story about a dragon and a knight."
SEED = 1  # with this seed the demo model writes 2000 tokens without stopping
N_CTX = 4096
SAMPLING: dict[str, Any] = dict(temperature=0.7, top_p=0.95, top_k=40, repeat_penalty=1.1)
MiB = 1024 * 1024
PROBE_KEYS = [chr(code) for code in range(0x430, 0x450)]
"""Keys typed to time an echo: Cyrillic letters, which no reply, name or border in the
benches holds, so their bytes on the pty can only be the echo. Each differs from the one
before it: a key typed before the last one's deletion was drawn still changes the screen
(with one probe key, a terminal diff that found the cell unchanged sent nothing, and the
probe timed out)."""


def key_echo(app: PtyApp, index: int, timeout: float) -> float | None:
    """Type probe key ``index``, and return the seconds until its echo comes back from the
    pty (None: not within ``timeout``). The caller deletes it again if it must."""
    key = PROBE_KEYS[index % len(PROBE_KEYS)]
    typed = time.time()
    app.write(key)
    seen = app.wait_for_bytes(key.encode(), typed, timeout)
    return seen - typed if seen else None


def wait_trace(path: Path, event: str, timeout: float, after: float = 0.0) -> dict | None:
    """The first trace event named ``event`` written at ``after`` or later (None when
    none comes within ``timeout``)."""
    deadline = time.time() + timeout
    while True:  # looked at once at least, so a timeout of 0 asks "has it come yet?"
        for e in read_trace(path):
            if e["event"] == event and e["t"] >= after:
                return e
        if time.time() >= deadline:
            return None
        time.sleep(0.01)


def rss_beyond_model(pid: int, model: Path) -> tuple[int, int]:
    """(total RSS, RSS of the model file's mappings) from /proc/PID/smaps. The kernel names a
    mapping by the file's real path, so a model reached through a link is resolved first."""
    total = mapped = 0
    current, real = "", str(model.resolve())
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            current = line.split()[-1] if len(line.split()) >= 6 else ""
        elif line.startswith("Rss:"):
            kb = int(line.split()[1]) * 1024
            total += kb
            if current == real:
                mapped += kb
    return total, mapped


def rss_of(pid: int) -> int:
    """A process's resident set size in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import llama_cpp

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"llama-cpp-python {llama_cpp.__version__}, "
            f"GPU offload in this build: {bool(llama_cpp.llama_supports_gpu_offload())}")


def fmt(value: float | None, spec: str = ".2f", unit: str = "") -> str:
    return "not measured" if value is None else f"{value:{spec}}{unit}"


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: list[float], fraction: float) -> float | None:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
