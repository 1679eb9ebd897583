"""A stand-in for ``pynvml`` (nvidia-ml-py) on machines without an NVIDIA GPU.

It mirrors the functions PyChat calls, their return shapes and the exception classes
(``NVMLError`` whose constructor maps an error code to its subclass, like the real one).
``tests/test_gpu.py`` checks these names and codes against the real module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

# Error codes as in nvml.h / pynvml.
NVML_ERROR_CODES = {
    "Uninitialized": 1, "InvalidArgument": 2, "NotSupported": 3, "NoPermission": 4,
    "AlreadyInitialized": 5, "NotFound": 6, "InsufficientSize": 7, "InsufficientPower": 8,
    "DriverNotLoaded": 9, "Timeout": 10, "IrqIssue": 11, "LibraryNotFound": 12,
    "FunctionNotFound": 13, "CorruptedInforom": 14, "GpuIsLost": 15,
    "ArgumentVersionMismatch": 25, "Unknown": 999,
}
_MESSAGES = {
    3: "Not Supported", 9: "Driver Not Loaded", 12: "NVML Shared Library Not Found",
    15: "GPU is lost", 1: "Uninitialized", 999: "Unknown Error",
}
nvmlMemory_v2 = 0x2000028


class NVMLError(Exception):
    """Base class; ``NVMLError(code)`` returns the subclass for that code."""

    _by_code: dict[int, type[NVMLError]] = {}

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._by_code.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


for _name, _code in NVML_ERROR_CODES.items():
    _cls = type(f"NVMLError_{_name}", (NVMLError,), {})
    NVMLError._by_code[_code] = _cls
    globals()[_cls.__name__] = _cls


@dataclass
class FakeGpu:
    """One simulated board."""

    name: str = "NVIDIA GeForce RTX 4090"
    total: int = 24 * 1024**3
    used: int = 2 * 1024**3
    utilization: int = 37
    processes: dict[int, int] = field(default_factory=dict)
    supports_utilization: bool = True
    supports_processes: bool = True
    lost: bool = False
    fault: BaseException | None = None
    """Raised by every call on this board: a driver or binding bug NVML does not wrap."""


class FakeNvml(SimpleNamespace):
    """A module-like object: ``GpuMonitor(nvml=FakeNvml(...))``."""

    def __init__(self, gpus: list[FakeGpu] | None = None, init_error: int | None = None,
                 name_as_bytes: bool = False) -> None:
        super().__init__()
        self.gpus = gpus if gpus is not None else [FakeGpu()]
        self.init_error = init_error
        self.name_as_bytes = name_as_bytes
        self.initialised = 0
        self.shutdowns = 0
        for key, value in globals().items():
            if key.startswith("NVMLError") or key == "nvmlMemory_v2":
                setattr(self, key, value)

    def _check(self) -> None:
        if not self.initialised:
            raise NVMLError(NVML_ERROR_CODES["Uninitialized"])

    def _gpu(self, handle: int) -> FakeGpu:
        self._check()
        gpu = self.gpus[handle]
        if gpu.fault is not None:
            raise gpu.fault
        if gpu.lost:
            raise NVMLError(NVML_ERROR_CODES["GpuIsLost"])
        return gpu

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self._check()
        self.initialised -= 1
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._check()
        if index >= len(self.gpus):
            raise NVMLError(NVML_ERROR_CODES["InvalidArgument"])
        return index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        name = self._gpu(handle).name
        return name.encode() if self.name_as_bytes else name

    def nvmlDeviceGetMemoryInfo(self, handle: int, version: int | None = None) -> SimpleNamespace:
        gpu = self._gpu(handle)
        return SimpleNamespace(total=gpu.total, used=gpu.used, free=gpu.total - gpu.used,
                               reserved=0, version=version)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        gpu = self._gpu(handle)
        if not gpu.supports_utilization:
            raise NVMLError(NVML_ERROR_CODES["NotSupported"])
        return SimpleNamespace(gpu=gpu.utilization, memory=10)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        gpu = self._gpu(handle)
        if not gpu.supports_processes:
            raise NVMLError(NVML_ERROR_CODES["NotSupported"])
        return [SimpleNamespace(pid=pid, usedGpuMemory=used, gpuInstanceId=0xFFFFFFFF,
                                computeInstanceId=0xFFFFFFFF)
                for pid, used in gpu.processes.items()]
