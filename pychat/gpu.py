"""Live GPU memory through NVML (nvidia-ml-py), with system RAM as the fallback.

``pynvml`` is imported lazily and only from the polling thread. Every NVML field may raise
``NVMLError_NotSupported`` on some boards, so each is read on its own; a missing library,
an unloaded driver or a GPU that disappears turns into a plain ``status`` line, never an
exception for the caller.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pychat.text import inert_line


@dataclass(frozen=True)
class GpuSample:
    """One GPU at one moment. Fields NVML could not give are None."""

    index: int
    name: str
    total: int | None = None
    used: int | None = None
    free: int | None = None
    utilization: int | None = None
    """Percent of time a kernel ran during the last sample period."""
    process_used: int | None = None
    """VRAM held by this process (None when the driver does not say)."""


@dataclass(frozen=True)
class VramSample:
    """What the monitor saw: the GPUs, plus system RAM and this process's RSS."""

    gpus: list[GpuSample] = field(default_factory=list)
    status: str = ""
    """Why there is no GPU data (empty when there is)."""
    ram_total: int = 0
    ram_used: int = 0
    rss: int = 0
    taken_at: float = 0.0


def _nvml_reason(exc: Exception, nvml: ModuleType | None) -> str:
    if nvml is None:
        return f"no NVIDIA GPU — nvidia-ml-py is not installed ({exc})"
    if isinstance(exc, nvml.NVMLError_LibraryNotFound):
        return "no NVIDIA GPU — NVML library not found"
    if isinstance(exc, nvml.NVMLError_DriverNotLoaded):
        return "no NVIDIA GPU — the NVIDIA driver is not loaded"
    if isinstance(exc, nvml.NVMLError_NoPermission):
        return "NVIDIA GPU not readable — no permission to query NVML"
    return f"NVIDIA GPU not readable — {exc}"


class GpuMonitor:
    """Reads VRAM use. Create it anywhere; call ``sample`` from a worker thread."""

    PROCESS_EVERY = 3
    """Per-process queries are slow (milliseconds): make them every Nth sample only."""

    def __init__(self, nvml: ModuleType | None = None) -> None:
        self._nvml: Any = nvml
        """The pynvml module (or a stand-in); imported on first use."""
        self._started = False
        self._handles: list[Any] = []
        self.status = ""
        """Why GPU data is missing ("" while NVML works)."""
        self._count = 0
        self._last_process: dict[int, int | None] = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()  # the poller and a load worker may sample at once

    def start(self) -> bool:
        """Initialise NVML once; return False (with ``status`` set) when there is no GPU."""
        if self._started:
            return not self.status
        self._started = True
        try:
            if self._nvml is None:
                import pynvml

                self._nvml = pynvml
            self._nvml.nvmlInit()
            count = self._nvml.nvmlDeviceGetCount()
            self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except ImportError as exc:
            self.status = _nvml_reason(exc, None)
            return False
        except self._nvml.NVMLError as exc:
            self.status = _nvml_reason(exc, self._nvml)
            self._handles = []
            return False
        if not self._handles:
            self.status = "no NVIDIA GPU — NVML sees no devices"
            self._shutdown_nvml()
            return False
        return True

    def _shutdown_nvml(self) -> None:
        with contextlib.suppress(Exception):  # the library may already be gone
            self._nvml.nvmlShutdown()

    def shutdown(self) -> None:
        """Release NVML (call once, at exit)."""
        with self._lock:
            if self._started and self._handles:
                self._shutdown_nvml()
            self._handles = []

    def _field(self, read: Any, *args: Any) -> Any:
        """Read one NVML field; None when this board does not support it."""
        try:
            return read(*args)
        except self._nvml.NVMLError_NotSupported:
            return None

    def _memory(self, handle: Any) -> Any:
        nvml = self._nvml
        try:  # v2 counts reserved memory the way nvidia-smi does
            return nvml.nvmlDeviceGetMemoryInfo(handle, version=nvml.nvmlMemory_v2)
        except (TypeError, AttributeError, nvml.NVMLError_FunctionNotFound,
                nvml.NVMLError_ArgumentVersionMismatch, nvml.NVMLError_NotSupported):
            return self._field(nvml.nvmlDeviceGetMemoryInfo, handle)

    def _process_used(self, index: int, handle: Any) -> int | None:
        if self._count % self.PROCESS_EVERY and index in self._last_process:
            return self._last_process[index]
        procs = self._field(self._nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
        used = None
        for proc in procs:
            if proc.pid == self._pid:
                used = proc.usedGpuMemory
        self._last_process[index] = used
        return used

    def _gpu(self, index: int, handle: Any) -> GpuSample:
        nvml = self._nvml
        name = self._field(nvml.nvmlDeviceGetName, handle) or f"GPU {index}"
        if isinstance(name, bytes):
            name = name.decode(errors="replace")
        name = inert_line(name)
        memory = self._memory(handle)
        rates = self._field(nvml.nvmlDeviceGetUtilizationRates, handle)
        return GpuSample(
            index=index, name=name,
            total=memory.total if memory else None,
            used=memory.used if memory else None,
            free=memory.free if memory else None,
            utilization=rates.gpu if rates else None,
            process_used=self._process_used(index, handle),
        )

    def sample(self) -> VramSample:
        """Take one sample (never raises for NVML trouble)."""
        with self._lock:
            return self._sample()

    def _sample(self) -> VramSample:
        self.start()
        gpus: list[GpuSample] = []
        status = self.status
        for index, handle in enumerate(self._handles):
            try:
                gpus.append(self._gpu(index, handle))
            except self._nvml.NVMLError as exc:
                status = f"GPU {index} stopped answering — {exc}"
        self._count += 1
        import psutil  # 11 ms to import: after the first frame, on the poller's thread

        memory = psutil.virtual_memory()
        rss = psutil.Process(self._pid).memory_info().rss
        return VramSample(gpus=gpus, status=status, ram_total=memory.total,
                          ram_used=memory.total - memory.available, rss=rss,
                          taken_at=time.monotonic())

    def free_vram(self) -> int | None:
        """Free bytes on GPU 0 now, or None without a readable GPU."""
        sample = self.sample()
        return sample.gpus[0].free if sample.gpus else None
