"""Loading a model in a worker thread, with rollback to the previous one on failure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from pychat.engine.base import LoadSpec
from pychat.errors import PyChatError
from pychat.library import Overrides
from pychat.messages import LoadProgress, LogLine, ModelLoaded, ModelLoadFailed, ModelLoading

if TYPE_CHECKING:
    from pychat.app import Session

Post = Callable[[Message], object]


def switch_model(session: Session, path: Path, overrides: Overrides,
                 remember: tuple[int | str, int] | None, fallback: LoadSpec | None,
                 post: Post, *, startup: bool = False) -> None:
    """Load ``path`` (blocking: call from a worker thread) and report through ``post``.

    ``remember`` is the user's (gpu_layers, n_ctx) choice to save once the load worked;
    ``fallback`` is the previous model's spec, reloaded if this load fails. At ``startup``
    there is none: another model is loaded instead (``ModelLibrary.fallback_for``).
    """
    last_progress = [0.0]

    def progress(fraction: float) -> None:
        if fraction - last_progress[0] >= 0.05 or fraction >= 1.0:
            last_progress[0] = fraction
            post(LoadProgress(fraction))

    try:
        post(LogLine("info", f"Loading {path.name}…"))
        path, message = _load(session, path, overrides, post, progress)
        if remember is not None:  # the user's choice, "auto" kept as "auto"
            try:
                session.library.remember(path, *remember)
            except PyChatError as exc:
                post(LogLine("warning", exc.message))
        post(message)
    except PyChatError as exc:
        post(ModelLoadFailed(exc, path))
        if fallback is not None:
            _rollback(session, fallback, post)
        elif startup:
            _load_instead(session, path, post)


def _load(session: Session, path: Path, overrides: Overrides, post: Post,
          progress: Callable[[float], None] | None = None) -> tuple[Path, ModelLoaded]:
    """Resolve the settings for ``path``, load it, and build the message that says so
    (raises PyChatError). Returns the path as prepared (the demo model is assembled)."""
    backend, library = session.backend, session.library
    path = library.prepare(path)
    info = library.catalog.info(path)
    can_offload = backend.can_offload
    if can_offload:
        backend.close()  # "auto" must see the VRAM the old model frees
    free = session.monitor.free_vram() if can_offload else None
    spec = library.spec_for(path, overrides, can_offload=can_offload, free_vram=free)
    post(ModelLoading(spec, info))
    loaded = backend.load(spec, progress=progress)
    return path, ModelLoaded(loaded, info, process_vram(session) if can_offload else None)


def _rollback(session: Session, spec: LoadSpec, post: Post) -> None:
    """Reload the previous model with its previous settings after a failed switch."""
    post(LogLine("info", f"Reloading the previous model {spec.name}…"))
    try:
        loaded = session.backend.load(spec)
    except PyChatError as exc:
        post(ModelLoadFailed(exc, spec.path))
        return
    info = session.library.catalog.info(spec.path)
    used = process_vram(session) if session.backend.can_offload else None
    post(ModelLoaded(loaded, info, used, rolled_back=True))


def _load_instead(session: Session, failed: Path, post: Post) -> None:
    """Start-up: ``failed`` did not load; load another model rather than none."""
    other = session.library.fallback_for(failed)
    if other is None:
        return
    post(LogLine("info", f"Loading {other.name} instead of {failed.name}…"))
    try:
        _, message = _load(session, other, Overrides(), post)
    except PyChatError as exc:
        post(ModelLoadFailed(exc, other))
        return
    message.instead_of = failed.name
    post(message)


def process_vram(session: Session) -> int | None:
    """VRAM held by this process across GPUs, when the driver reports it."""
    sample = session.monitor.sample()
    used = [g.process_used for g in sample.gpus if g.process_used is not None]
    return sum(used) if used else None
