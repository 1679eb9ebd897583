"""The session layer: plain Python between the UIs (TUI, ``pychat ask``) and the engine."""

from __future__ import annotations

from pychat.config import LoadedConfig
from pychat.engine.base import Backend
from pychat.gpu import GpuMonitor
from pychat.library import ModelLibrary
from pychat.session.chat import ChatSession
from pychat.session.events import ModelState, ReplyState

__all__ = ["ChatSession", "ModelState", "ReplyState", "create_session"]


def create_session(loaded: LoadedConfig, *, backend: Backend | None = None,
                   monitor: GpuMonitor | None = None, library: ModelLibrary | None = None,
                   flush_seconds: float = 0.1, system_prompt: str | None = None,
                   quiet: bool = False, debug: bool = False) -> ChatSession:
    """A session over ``loaded`` with the local llama.cpp backend unless one is given;
    ``system_prompt`` replaces the config's for this session only; ``quiet``: no screen
    paints on stdout/stderr, so llama.cpp may be silenced there (``pychat ask``);
    ``debug``: llama.cpp's debug lines go to the log too."""
    if backend is None:
        from pychat.engine.llama import LlamaBackend
        from pychat.instrument import ignore_eos_requested

        local = LlamaBackend(quiet=quiet, show_debug=debug, ignore_eos=ignore_eos_requested())
        backend = local
    return ChatSession(loaded, library or ModelLibrary(loaded), backend,
                       monitor or GpuMonitor(), flush_seconds=flush_seconds,
                       system_prompt=system_prompt)
