"""The NVML monitor against a fake pynvml (this machine has no GPU) and the real module."""

from __future__ import annotations

import inspect
import os

import pynvml
import pytest

from pychat.gpu import GpuMonitor
from tests.support import fake_nvml as fake
from tests.support.fake_nvml import FakeGpu, FakeNvml

GiB = 1024**3


def test_fake_mirrors_the_real_module() -> None:
    """Same exception names and codes, same function names and parameters."""
    for name, code in fake.NVML_ERROR_CODES.items():
        real_cls = getattr(pynvml, f"NVMLError_{name}")
        assert issubclass(real_cls, pynvml.NVMLError)
        assert type(pynvml.NVMLError(code)) is real_cls
        assert type(fake.NVMLError(code)).__name__ == real_cls.__name__
    assert fake.nvmlMemory_v2 == pynvml.nvmlMemory_v2
    for name, member in inspect.getmembers(FakeNvml, inspect.isfunction):
        if name.startswith("nvml"):
            real = getattr(pynvml, name)
            fake_params = list(inspect.signature(member).parameters)[1:]
            assert fake_params == list(inspect.signature(real).parameters), name


def test_real_module_on_this_machine_reports_no_gpu_cleanly() -> None:
    monitor = GpuMonitor()
    sample = monitor.sample()
    if sample.gpus:  # pragma: no cover - only on a machine with an NVIDIA GPU
        pytest.skip("this machine has a GPU")
    assert sample.status.startswith("no NVIDIA GPU")
    assert sample.ram_total > 0 and sample.rss > 0
    assert monitor.free_vram() is None
    monitor.shutdown()


def test_sample_reads_every_field() -> None:
    nvml = FakeNvml([FakeGpu(processes={os.getpid(): 3 * GiB})], name_as_bytes=True)
    monitor = GpuMonitor(nvml)
    sample = monitor.sample()
    gpu = sample.gpus[0]
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert (gpu.total, gpu.used, gpu.free) == (24 * GiB, 2 * GiB, 22 * GiB)
    assert gpu.utilization == 37 and gpu.process_used == 3 * GiB
    assert sample.status == "" and sample.rss > 0
    assert monitor.free_vram() == 22 * GiB
    monitor.shutdown()
    assert nvml.initialised == 0 and nvml.shutdowns == 1


@pytest.mark.parametrize(("code", "message"), [
    (fake.NVML_ERROR_CODES["LibraryNotFound"], "no NVIDIA GPU — NVML library not found"),
    (fake.NVML_ERROR_CODES["DriverNotLoaded"], "no NVIDIA GPU — the NVIDIA driver is not loaded"),
    (fake.NVML_ERROR_CODES["NoPermission"], "no permission"),
])
def test_no_gpu_says_why_and_falls_back_to_ram(code: int, message: str) -> None:
    monitor = GpuMonitor(FakeNvml(init_error=code))
    sample = monitor.sample()
    assert sample.gpus == [] and message in sample.status
    assert sample.ram_used > 0 and sample.rss > 0
    monitor.shutdown()  # nothing to shut down; must not raise


def test_unsupported_fields_become_none() -> None:
    nvml = FakeNvml([FakeGpu(supports_utilization=False, supports_processes=False)])
    gpu = GpuMonitor(nvml).sample().gpus[0]
    assert gpu.utilization is None and gpu.process_used is None
    assert gpu.used == 2 * GiB


def test_gpu_that_vanishes_mid_run() -> None:
    board = FakeGpu()
    monitor = GpuMonitor(FakeNvml([board, FakeGpu(name="Second")]))
    assert len(monitor.sample().gpus) == 2
    board.lost = True
    sample = monitor.sample()
    assert [g.name for g in sample.gpus] == ["Second"]
    assert "GPU 0 stopped answering — GPU is lost" in sample.status
    board.lost = False
    assert len(monitor.sample().gpus) == 2


def test_no_devices() -> None:
    monitor = GpuMonitor(FakeNvml([]))
    assert monitor.sample().status == "no NVIDIA GPU — NVML sees no devices"


def test_process_query_is_made_every_third_sample_only() -> None:
    board = FakeGpu(processes={os.getpid(): GiB})
    monitor = GpuMonitor(FakeNvml([board]))
    assert monitor.sample().gpus[0].process_used == GiB
    board.processes[os.getpid()] = 2 * GiB
    assert monitor.sample().gpus[0].process_used == GiB  # cached
    monitor.sample()
    assert monitor.sample().gpus[0].process_used == 2 * GiB
