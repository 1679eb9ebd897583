"""Worker threads for the session: one lane per kind of work, failures caught in one place."""

from __future__ import annotations

import threading
from collections.abc import Callable

Job = Callable[[], None]
FailureHandler = Callable[[BaseException], None]


class Lane:
    """One daemon thread that runs jobs in order, one at a time.

    A job handed in while another runs waits for it; if a third arrives meanwhile, it takes
    the waiting one's place (only the newest request matters for loads and listings). So a
    job that hangs (a model file that is a FIFO, say) holds one thread, never more, and
    the process can still exit: the thread is a daemon.

    Anything a job raises goes to the failure handler given with it, or the lane's own; the
    thread lives on for the next job.
    """

    def __init__(self, name: str, on_failure: FailureHandler) -> None:
        self.name = name
        self._on_failure = on_failure
        self._ready = threading.Condition()
        self._next: tuple[Job, FailureHandler | None] | None = None
        self._running = False
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        with self._ready:
            return self._running or self._next is not None

    def submit(self, job: Job, on_failure: FailureHandler | None = None) -> bool:
        """Run ``job`` after the current one; returns False when it replaced a waiting job."""
        with self._ready:
            replaced = self._next is not None
            self._next = (job, on_failure)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._ready.notify()
        return not replaced

    def _loop(self) -> None:
        while True:
            with self._ready:
                while self._next is None:
                    self._ready.wait()
                job, on_failure = self._next
                self._next = None
                self._running = True
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - every failure is reported, none kills the lane
                self._report(exc, on_failure)
            finally:
                with self._ready:
                    self._running = False

    def _report(self, exc: BaseException, on_failure: FailureHandler | None) -> None:
        try:
            (on_failure or self._on_failure)(exc)
        except Exception:  # noqa: BLE001 - a broken handler must not end the lane
            self._on_failure(exc)
