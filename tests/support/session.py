"""Helpers for tests that drive a ChatSession (or the app) over the FakeBackend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pychat.config import load_config
from pychat.engine.models import ModelCatalog
from pychat.gpu import GpuMonitor
from pychat.library import ModelLibrary
from pychat.session import ChatSession
from pychat.session.events import Event
from tests.support.fake_backend import FakeBackend, fake_model_file
from tests.support.fake_nvml import FakeNvml

E = TypeVar("E", bound=Event)


class Recorder:
    """A session listener that keeps every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, kind: type[E]) -> list[E]:
        with self._changed:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, kind: type[E], check: Callable[[E], bool] = lambda e: True,
                 timeout: float = 10.0, after: int = 0) -> E:
        """The first event of ``kind`` (from index ``after`` on) that passes ``check``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events[after:]:
                    if isinstance(event, kind) and check(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    names = [type(e).__name__ for e in self.events[after:]]
                    raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {names}")
                self._changed.wait(left)

    def mark(self) -> int:
        """An index to wait for events after."""
        with self._changed:
            return len(self.events)


def models_folder(root: Path, *names: str) -> Path:
    """A models folder holding files the FakeBackend accepts."""
    folder = root / "models"
    folder.mkdir(exist_ok=True)
    for name in names:
        fake_model_file(folder, name)
    return folder


def fake_session(root: Path, backend: FakeBackend | None = None, *, config: str = "",
                 models: tuple[str, ...] = ("one.gguf", "two.gguf"),
                 nvml: FakeNvml | None = None) -> tuple[ChatSession, Recorder]:
    """A session over the fake backend, with a config and models folder under ``root``."""
    folder = models_folder(root, *models)
    path = root / "config.toml"
    path.write_text(f'models_dir = "{folder}"\n' + config)
    loaded = load_config(path)
    session = ChatSession(loaded, ModelLibrary(loaded, ModelCatalog()), backend or FakeBackend(),
                          GpuMonitor(nvml or FakeNvml(init_error=12)), flush_seconds=0.0)
    recorder = Recorder()
    session.listen(recorder)
    return session, recorder
