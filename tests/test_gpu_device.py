"""On a real NVIDIA GPU (skipped elsewhere, with the reason): offload happens, NVML sees
PyChat's own VRAM, the estimate matches what a load takes, and switching gives VRAM back.

The model is written here with random weights and a real shape (tests/gguf_fixtures.py):
its text is noise, but its memory is real. ``bench/gpu.sh`` runs these on the device."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from pychat.engine.base import LoadSpec, ModelRef
from pychat.engine.fit import estimate_vram
from pychat.engine.llama import LlamaBackend
from pychat.engine.models import read_model_info
from pychat.gpu import GpuMonitor
from tests.support.gguf import TinySpec, write_tiny_llama

pytestmark = [pytest.mark.gpu, pytest.mark.slow]
MiB = 1024 * 1024
SHAPE = TinySpec(n_layer=16, n_embd=1024, n_head=16, n_head_kv=8, n_ff=2816,
                 context_length=8192, dtype=np.float16)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("gpu") / "gpu-shaped.gguf", SHAPE,
                            name="gpu-shaped")


def used(monitor: GpuMonitor) -> tuple[int, int | None]:
    """Device memory used and this process's share, after the driver settles."""
    time.sleep(0.5)
    gpu = monitor.sample().gpus[0]
    assert gpu.used is not None
    return gpu.used, gpu.process_used


def test_full_offload_and_the_estimate(model: Path) -> None:
    backend, monitor = LlamaBackend(), GpuMonitor()
    try:
        assert backend.can_offload
        base, _ = used(monitor)
        loaded = backend.load(LoadSpec(ModelRef.local(model), gpu_layers=-1, n_ctx=4096))
        assert loaded.offloaded_layers == loaded.n_layer + 1
        after, own = used(monitor)
        measured = own if own else after - base
        estimate = estimate_vram(read_model_info(model), -1, 4096).total_bytes
        error = abs(measured - estimate)
        print(f"gpu-shaped n_ctx 4096: estimate {estimate / MiB:.0f} MiB, measured "
              f"{measured / MiB:.0f} MiB")
        assert error <= max(0.05 * measured, 128 * MiB)
    finally:
        backend.shutdown()
        monitor.shutdown()


def test_switching_gives_vram_back(model: Path) -> None:
    backend, monitor = LlamaBackend(), GpuMonitor()
    try:
        start, _ = used(monitor)
        for n in range(10):
            backend.load(LoadSpec(ModelRef.local(model), gpu_layers=-1 if n % 2 else 8, n_ctx=4096))
        backend.close()
        end, _ = used(monitor)
        print(f"device used before {start / MiB:.0f} MiB, after 10 switches {end / MiB:.0f}")
        assert abs(end - start) <= 64 * MiB
    finally:
        backend.shutdown()
        monitor.shutdown()
