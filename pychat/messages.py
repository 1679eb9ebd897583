"""App-wide messages. Workers post them from their threads; the screen routes them."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from pychat.engine.base import GenerationStats, LoadedModel, LoadSpec
from pychat.engine.models import ModelInfo
from pychat.errors import PyChatError
from pychat.gpu import VramSample


class _Direct(Message, bubble=False):
    """Posted straight to the screen or app that handles it; no need to bubble further."""


class TokensReceived(_Direct):
    """A batch of reply text streamed by the engine (posted from the worker thread)."""

    def __init__(self, text: str, generation: int) -> None:
        self.text = text
        self.generation = generation
        super().__init__()


class GenerationFinished(_Direct):
    """A reply ended: completed, stopped, or failed with ``error``."""

    def __init__(self, stats: GenerationStats, generation: int,
                 error: PyChatError | None = None) -> None:
        self.stats = stats
        self.generation = generation
        self.error = error
        super().__init__()


class ModelLoading(_Direct):
    """A model load started."""

    def __init__(self, spec: LoadSpec, info: ModelInfo) -> None:
        self.spec = spec
        self.info = info
        super().__init__()


class LoadProgress(_Direct):
    """Load progress from 0 to 1."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction
        super().__init__()


class ModelLoaded(_Direct):
    """A model is loaded and ready to answer."""

    def __init__(self, loaded: LoadedModel, info: ModelInfo, vram_used: int | None,
                 rolled_back: bool = False, instead_of: str = "") -> None:
        self.loaded = loaded
        self.info = info
        self.vram_used = vram_used
        """VRAM this process held after the load (None without NVML)."""
        self.rolled_back = rolled_back
        """True when this is the previous model, reloaded after a failed switch."""
        self.instead_of = instead_of
        """The model that failed at start-up, when this one was loaded in its place."""
        super().__init__()


class ModelLoadFailed(_Direct):
    """A load failed; ``path`` is the model that could not be loaded."""

    def __init__(self, error: PyChatError, path: Path | None) -> None:
        self.error = error
        self.path = path
        super().__init__()


class LogLine(_Direct):
    """A line for the log pane."""

    def __init__(self, level: str, text: str, source: str = "app") -> None:
        self.level = level
        self.text = text
        self.source = source
        super().__init__()


class VramSampled(_Direct):
    """A fresh reading from the GPU monitor."""

    def __init__(self, sample: VramSample) -> None:
        self.sample = sample
        super().__init__()
