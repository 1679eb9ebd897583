"""Worker threads for the session: one lane per kind of work, failures caught in one place."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

Job = Callable[[], None]
FailureHandler = Callable[[BaseException], None]
Report = Callable[[str, BaseException], str]
"""Reports a job's unexpected exception (with its traceback); returns its one-line message."""


def reporter(report: Report, job: str, recover: Callable[[str], None] | None = None
             ) -> FailureHandler:
    """A lane's failure handler: ``report`` the exception as ``job``'s, then ``recover``
    (given the message) puts things back in a state that takes the next command."""
    def handle(exc: BaseException) -> None:
        message = report(job, exc)
        if recover is not None:
            recover(message)

    return handle


class Lane:
    """One daemon thread that runs jobs in order, one at a time.

    By default a job handed in while another runs waits for it, and if a third arrives
    meanwhile it takes the waiting one's place: only the newest request matters for loads
    and listings, and a job that hangs (a model file that blocks) holds one thread, never
    more. With ``fifo`` every job runs, in the order given (history writes).

    Anything a job raises goes to the failure handler given with it, or the lane's own; the
    thread lives on for the next job. It is a daemon: the process can always exit.
    """

    def __init__(self, name: str, on_failure: FailureHandler, *, fifo: bool = False) -> None:
        self.name = name
        self.fifo = fifo
        self._on_failure = on_failure
        self._ready = threading.Condition()
        self._waiting: deque[tuple[Job, FailureHandler | None]] = deque()
        self._running = False
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """True while a job runs or waits."""
        with self._ready:
            return self._running or bool(self._waiting)

    def submit(self, job: Job, on_failure: FailureHandler | None = None) -> bool:
        """Run ``job`` after the current one; returns False when it replaced a waiting job."""
        with self._ready:
            replaced = bool(self._waiting) and not self.fifo
            if replaced:
                self._waiting.clear()
            self._waiting.append((job, on_failure))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._ready.notify_all()
        return not replaced

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every job handed in so far has run; False if ``timeout`` passed."""
        with self._ready:
            return self._ready.wait_for(lambda: not (self._running or self._waiting),
                                        timeout)

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._waiting:
                    self._ready.wait()
                job, on_failure = self._waiting.popleft()
                self._running = True
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - every failure is reported, none kills the lane
                self._report(exc, on_failure)
            finally:
                with self._ready:
                    self._running = False
                    self._ready.notify_all()

    def _report(self, exc: BaseException, on_failure: FailureHandler | None) -> None:
        try:
            (on_failure or self._on_failure)(exc)
        except Exception:  # noqa: BLE001 - a broken handler must not end the lane
            self._on_failure(exc)
