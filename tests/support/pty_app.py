"""PyChat in a pseudo-terminal: every byte it writes is kept (tests and ``make bench``)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path


class PtyApp:
    """Runs ``python ARGS…`` in a pty of ``cols`` × ``rows`` and records its output."""

    def __init__(self, args: Sequence[str], cols: int = 100, rows: int = 30, *,
                 cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Condition()
        environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols),
                       "LINES": str(rows), **(env or {})}
        self.started = time.time()
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the app
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            if cwd is not None:
                os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, *args], environment)
        self.pid, self.fd = pid, fd
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.5)
                if not ready:
                    continue
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.chunks.append((time.time(), data))
                self.lock.notify_all()

    def write(self, text: str) -> None:
        os.write(self.fd, text.encode())

    @property
    def output(self) -> bytes:
        with self.lock:
            return b"".join(data for _, data in self.chunks)

    def bytes_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(len(d) for t, d in self.chunks if start <= t <= end)

    def wait_for_bytes(self, needle: bytes, after: float = 0.0, timeout: float = 30.0
                       ) -> float | None:
        """When ``needle`` first appeared in a chunk written after ``after`` (or None)."""
        deadline = time.time() + timeout
        with self.lock:
            while time.time() < deadline:
                for t, d in self.chunks:
                    if t >= after and needle in d:
                        return t
                self.lock.wait(0.005)
        return None

    def wait_for_output(self, needle: bytes, timeout: float = 30.0) -> bool:
        """True once ``needle`` is anywhere in the output (it may span chunks)."""
        deadline = time.time() + timeout
        with self.lock:
            while time.time() < deadline:
                if needle in b"".join(data for _, data in self.chunks):
                    return True
                self.lock.wait(0.01)
        return False

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        """Make sure the app is gone (a failed test must not leave it running)."""
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def quit(self, timeout: float = 5.0) -> int:
        """ctrl+q, then the exit status (-9 when it had to be killed)."""
        self.write("\x11")
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return -9
