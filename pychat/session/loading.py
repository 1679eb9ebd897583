"""The one load path: start-up, switches and reloads, with rollback when a load fails —
for a local file and for a server's model alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pychat.engine.backends import Backends
from pychat.engine.base import LoadSpec, ModelRef
from pychat.engine.fit import estimate_vram, memory_needed
from pychat.engine.models import ModelInfo, human_bytes
from pychat.errors import ModelError, PyChatError
from pychat.gpu import GpuMonitor
from pychat.library import NO_OVERRIDES, Choice, GpuFacts, ModelLibrary, Overrides
from pychat.session.events import (
    Event,
    LoadProgress,
    LogLine,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
    Notice,
)
from pychat.session.lanes import Report
from pychat.text import inert, inert_line


@dataclass(frozen=True)
class LoadRequest:
    """One load the user (or start-up) asked for."""

    ref: ModelRef
    overrides: Overrides = NO_OVERRIDES
    remember: bool = False
    """Save the user's choice in the config once the model loaded."""
    startup: bool = False
    """At start-up there is nothing to roll back to: load another model instead."""


class Loader:
    """Loads one model at a time (blocking: runs on a worker thread) and reports through
    ``emit``. After a failed switch it reloads the previous model with its previous
    settings; after a failed start-up load it loads another model rather than none."""

    def __init__(self, library: ModelLibrary, backend: Backends, monitor: GpuMonitor,
                 emit: Callable[[Event], None], report: Report) -> None:
        self.library, self.backend, self.monitor, self.emit = library, backend, monitor, emit
        self.report = report
        """Reports an unexpected exception (with its traceback) and returns its message."""
        self._last_good: tuple[LoadSpec, Choice] | None = None

    def gpu_facts(self) -> GpuFacts:
        """GPU support, free VRAM and why there is none (reads NVML: blocking)."""
        if not self.backend.can_offload:
            return GpuFacts(False)
        free = self.monitor.free_vram()
        return GpuFacts(True, free, self.monitor.status)

    def run(self, request: LoadRequest) -> None:
        """Load ``request.ref``; on failure roll back or, at start-up, load another."""
        ref = request.ref
        self.emit(LogLine("info", f"Loading {ref.name}…"))
        try:
            if ref.path is None:
                self._load_remote(ref, request.overrides)
                return
            choice = self.library.choice_for(ref.path, request.overrides)
            path = self._load(ref.path, request.overrides, choice)
        except Exception as exc:  # noqa: BLE001 - any failure: say so, then recover
            self._failed(ref, exc)
            if self._last_good is not None and not request.startup:
                self._rollback(*self._last_good)
            elif request.startup:
                self._load_instead(ref)
            return
        if request.remember:  # the user's choice, "auto" kept as "auto"
            try:
                self.library.remember(path, choice)
            except PyChatError as exc:
                self.emit(LogLine("warning", exc.message))
                self.emit(Notice("Settings not saved", exc.message, "warning"))

    def _load_remote(self, ref: ModelRef, overrides: Overrides) -> None:
        """A server's model: the server is asked what it offers (raises on failure)."""
        choice: Choice = ("", overrides.n_ctx or 0)
        spec = LoadSpec(ref=ref, n_ctx=overrides.n_ctx or 0)
        self.emit(ModelLoading(spec, None, choice))
        loaded = self.backend.load(spec, progress=self._progress_reporter())
        self._last_good = (loaded.spec, choice)
        self.emit(ModelLoaded(loaded, None, choice))

    def _load(self, path: Path, overrides: Overrides, choice: Choice, *,
              instead_of: str = "") -> Path:
        """Resolve the settings, load, emit ModelLoading … ModelLoaded (raises
        PyChatError). Returns the path as prepared (the demo model is assembled)."""
        path = self.library.prepare(path)
        info = self.library.catalog.info(path)
        # Free the old model first: "auto" and the memory check must see what it frees
        # (a failed load brings it back, see _rollback).
        self.backend.close()
        gpu = self.gpu_facts()
        spec = self.library.spec_for(path, overrides, gpu)
        if info.ok and info.n_layer:
            self._check_memory(info, spec, gpu)
        self.emit(ModelLoading(spec, info, choice))
        loaded = self.backend.load(spec, progress=self._progress_reporter())
        self._last_good = (spec, choice)
        estimate = estimate_vram(info, spec.gpu_layers, loaded.n_ctx) if info.ok else None
        self.emit(ModelLoaded(
            loaded, info, choice,
            vram_estimate=estimate.total_bytes if estimate and estimate.gpu_layers else None,
            vram_used=self._process_vram(), instead_of=instead_of))
        return path

    def _check_memory(self, info: ModelInfo, spec: LoadSpec, gpu: GpuFacts) -> None:
        """Refuse at once, with the numbers, a load that cannot fit in free RAM (or free
        VRAM when offloading), instead of letting llama.cpp grow until it gives up."""
        need = memory_needed(info, spec.gpu_layers, spec.n_ctx)
        sample = self.monitor.sample()
        free_ram = sample.ram_total - sample.ram_used
        context = spec.n_ctx or info.context_length
        if sample.ram_total and need.ram > free_ram:
            raise ModelError(
                f"{spec.name} needs about {human_bytes(need.ram)} of RAM at n_ctx {context} "
                f"(weights {human_bytes(need.weights_ram)}, KV cache "
                f"{human_bytes(need.kv_ram)}, compute {human_bytes(need.compute_ram)}) but "
                f"{human_bytes(free_ram)} is free: choose a smaller n_ctx (the KV cache "
                "grows with it) or a smaller model.", "Not enough memory")
        if spec.gpu_layers and gpu.free_vram is not None and need.vram > gpu.free_vram:
            raise ModelError(
                f"{spec.name} with gpu_layers {spec.gpu_layers} needs about "
                f"{human_bytes(need.vram)} of VRAM at n_ctx {context} but "
                f"{human_bytes(gpu.free_vram)} is free: choose fewer layers, \"auto\", or a "
                "smaller n_ctx.", "Not enough VRAM")

    def _progress_reporter(self) -> Callable[[float], None]:
        last = [0.0]

        def report(fraction: float) -> None:
            if fraction - last[0] >= 0.05 or fraction >= 1.0:
                last[0] = fraction
                self.emit(LoadProgress(fraction))

        return report

    def _rollback(self, spec: LoadSpec, choice: Choice) -> None:
        """Reload the previous model with its previous settings after a failed switch."""
        self.emit(LogLine("info", f"Reloading the previous model {spec.name}…"))
        try:
            loaded = self.backend.load(spec)
        except Exception as exc:  # noqa: BLE001 - any failure: say so; no model now
            self._last_good = None
            self._failed(spec.ref, exc)
            return
        info = None if spec.ref.path is None else self.library.catalog.info(spec.ref.path)
        self.emit(ModelLoaded(loaded, info, choice, vram_used=self._process_vram(),
                              rolled_back=True))

    def _load_instead(self, failed: ModelRef) -> None:
        """Start-up: ``failed`` did not load (a broken file, a server that is down); load a
        local model rather than none."""
        other = self.library.fallback_for(failed.path)
        if other is None:
            return
        self.emit(LogLine("info", f"Loading {inert_line(other.name)} instead of "
                                  f"{failed.name}…"))
        try:
            self._load(other, NO_OVERRIDES, self.library.choice_for(other),
                       instead_of=failed.name)
        except Exception as exc:  # noqa: BLE001 - any failure: say so; no model now
            self._failed(ModelRef.local(other), exc)

    def _failed(self, ref: ModelRef, exc: Exception) -> None:
        """A load failed: PyChat's own errors are reported as they are, anything else
        also goes to the session's failure report with its traceback."""
        if isinstance(exc, PyChatError):
            self.emit(ModelLoadFailed(ref, inert(exc.message), exc.title))
        else:
            self.emit(ModelLoadFailed(ref, self.report("load", exc), "Model load failed"))

    def _process_vram(self) -> int | None:
        """VRAM held by this process across GPUs, when the driver reports it."""
        if not (self.backend.capabilities.reports_vram and self.backend.can_offload):
            return None
        used = [g.process_used for g in self.monitor.sample().gpus
                if g.process_used is not None]
        return sum(used) if used else None
