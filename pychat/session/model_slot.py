"""The one model the session holds: its state, loads on their lane, the listing for the
picker, and the VRAM poller."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pychat.engine.backends import Backends
from pychat.engine.base import LoadedModel
from pychat.gpu import GpuMonitor
from pychat.library import ModelLibrary, ModelListing
from pychat.session import events as ev
from pychat.session.events import Event, ModelState
from pychat.session.lanes import Lane, Report, reporter
from pychat.session.loading import Loader, LoadRequest
from pychat.text import inert

LISTING_TIMEOUT = 2.0
"""Seconds a server gets to list its models for the picker."""
RAM_POLL_SECONDS = 3.0
"""How often memory is sampled when there is no GPU to watch."""


class ModelSlot:
    """The model state machine: none → loading → ready, or back to none when nothing could
    be loaded. Only the newest load asked for runs (a newer request replaces a waiting
    one), and the state settles only when no newer load waits.

    It changes state under the session's ``lock`` and tells the session through two
    callbacks, both called under that lock: ``loaded(model)`` as a model becomes ready
    (before the ModelLoaded event goes out) and ``settled()`` when a load ended and the
    state is final (after StateChanged).
    """

    def __init__(self, library: ModelLibrary, backend: Backends, monitor: GpuMonitor, *,
                 lock: threading.RLock, emit: Callable[[Event], None], report: Report,
                 state_changed: Callable[[], None], loaded: Callable[[LoadedModel], None],
                 settled: Callable[[], None]) -> None:
        self.library, self.backend, self.monitor = library, backend, monitor
        self.state = ModelState.NONE
        self.model: LoadedModel | None = None
        self.loading_name = ""
        """The file being loaded, while one is."""
        self._lock, self._emit, self._report = lock, emit, report
        self._state_changed, self._loaded, self._settled = state_changed, loaded, settled
        self._ticket = 0
        self._stop_polling = threading.Event()
        self._watched = threading.Event()
        self._watched.set()
        self._loader = Loader(library, backend, monitor, self._from_loader, report)
        self._loads = Lane("pychat-load", reporter(report, "load"))
        self._listings = Lane("pychat-listing", reporter(report, "listing"))
        self._vram = Lane("pychat-vram", reporter(report, "vram"))

    @property
    def busy(self) -> bool:
        """True while a load or a listing runs or waits."""
        return self._loads.busy or self._listings.busy

    @property
    def name(self) -> str:
        """The loaded model's name ("" without one)."""
        return self.model.spec.name if self.model else ""

    def load(self, request: LoadRequest) -> None:
        """Load ``request`` on the load lane; the state is LOADING until it settles."""
        with self._lock:
            self._ticket += 1
            ticket = self._ticket
            self.state = ModelState.LOADING
            self.loading_name = request.ref.name
            self._state_changed()

        def fail(message: str) -> None:
            self._emit(ev.ModelLoadFailed(request.ref, message, "Model load failed"))
            self._settle(ticket)

        def job() -> None:
            self._loader.run(request)
            self._settle(ticket)

        self._loads.submit(job, reporter(self._report, "load", fail))

    def _from_loader(self, event: Event) -> None:
        if isinstance(event, ev.ModelLoaded):
            with self._lock:
                self.model = event.loaded
                self._loaded(event.loaded)
        self._emit(event)

    def _settle(self, ticket: int) -> None:
        with self._lock:
            if ticket != self._ticket:
                return  # a newer load is waiting on the lane: still loading
            self.model = self.backend.loaded
            self.state = ModelState.READY if self.model else ModelState.NONE
            self._state_changed()
            self._settled()

    def listing(self) -> ModelListing:
        """Every model with its settings and the GPU facts, and each server's models
        (blocking: reads headers, asks the servers with a short timeout)."""
        current = self.model.spec.ref if self.model else None
        return self.library.listing(current, self._loader.gpu_facts(),
                                    self.backend.server_models(LISTING_TIMEOUT))

    def list_models(self) -> None:
        """Gather the listing on a worker; it comes back as ModelsListed."""
        def fail(message: str) -> None:
            self._emit(ev.Notice("Could not list the models", message, "error"))

        self._listings.submit(lambda: self._emit(ev.ModelsListed(self.listing())),
                              reporter(self._report, "listing", fail))

    def poll_vram(self, interval: float) -> None:
        """Sample the GPU (or RAM) every ``interval`` seconds on a lane of its own."""
        def poll() -> None:
            self.monitor.start()
            if self.monitor.status:
                self._emit(ev.LogLine("info", inert(self.monitor.status), "gpu"))
            while not self._stop_polling.is_set():
                self._watched.wait()
                if self._stop_polling.is_set():
                    break
                sample = self.monitor.sample()
                self._emit(ev.VramSampled(sample))
                # Without a GPU the pane shows RAM and RSS, which need no 1 Hz: every
                # sample wakes the UI (half of an idle app's CPU at 1 Hz).
                self._stop_polling.wait(interval if sample.gpus else max(interval,
                                                                          RAM_POLL_SECONDS))

        self._vram.submit(poll)

    @property
    def vram_watched(self) -> bool:
        """False while the VRAM samples are paused."""
        return self._watched.is_set()

    def watch_vram(self, on: bool) -> None:
        """Pause (or resume, with a sample at once) the VRAM samples: nobody looks at them
        while a modal covers the pane, and each one wakes the UI."""
        if on:
            self._watched.set()
        else:
            self._watched.clear()

    def shutdown(self, timeout: float) -> None:
        """Stop the poller and free the model (waits at most ``timeout`` for a call)."""
        self._stop_polling.set()
        self._watched.set()  # a paused poller wakes up to stop
        self.monitor.shutdown()
        self.backend.shutdown(timeout=timeout)
