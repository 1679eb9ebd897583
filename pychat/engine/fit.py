"""How much VRAM a model takes at a given ``gpu_layers`` and ``n_ctx``, before loading it.

llama.cpp offloads the *last* ``gpu_layers`` of the ``n_layer`` repeating blocks, and with
``gpu_layers > n_layer`` also the output layer. The input embedding stays on the CPU. With
``offload_kqv`` (the default) the KV cache of an offloaded block lives on the GPU too.
"""

from __future__ import annotations

from dataclasses import dataclass

from pychat.config import AUTO
from pychat.engine.models import ModelInfo

MiB = 1024 * 1024
N_UBATCH = 512
"""llama.cpp's default physical batch: the compute buffer is sized for it."""
KV_BYTES_PER_ELEMENT = 2
"""The KV cache is f16 unless the user asks for a quantised cache."""
SAFETY_MARGIN = 512 * MiB
"""Free VRAM that ``auto`` leaves untouched (CUDA context, fragmentation, other apps)."""


@dataclass(frozen=True)
class FitEstimate:
    """Estimated VRAM use of one load configuration."""

    gpu_layers: int
    """Layers that would be offloaded (0 … n_layer + 1)."""
    weights_bytes: int
    kv_bytes: int
    compute_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.compute_bytes


def offloaded_layers(info: ModelInfo, gpu_layers: int) -> int:
    """Normalise a ``gpu_layers`` setting (-1 = all) to the count llama.cpp offloads."""
    most = info.n_layer + 1
    return most if gpu_layers < 0 else min(gpu_layers, most)


def kv_cache_bytes(info: ModelInfo, n_ctx: int, blocks: int | None = None) -> int:
    """K and V for ``blocks`` blocks (default all): blocks × n_ctx × n_head_kv × (k+v dims)."""
    blocks = info.n_layer if blocks is None else blocks
    per_token = info.n_head_kv * (info.key_length + info.value_length) * KV_BYTES_PER_ELEMENT
    return blocks * n_ctx * per_token


def compute_buffer_bytes(info: ModelInfo, n_ctx: int) -> int:
    """Allowance for llama.cpp's compute buffer at the default batch size.

    The buffer holds the largest intermediate of the graph: the logits of a whole batch
    (n_ubatch × n_vocab) or the attention scores (n_ctx × n_ubatch × n_head), whichever is
    bigger, plus the hidden states. Calibrated against llama.cpp's own "compute buffer size"
    log line on the CPU (Gemma 3 270M at n_ctx 512: 515.8 MiB measured, 522.0 estimated; the
    tiny test model at n_ctx 4096: 40.8 MiB measured, 33.0 estimated).
    """
    logits = N_UBATCH * info.n_vocab * 4
    scores = n_ctx * N_UBATCH * max(info.n_head, 1) * 4
    hidden = N_UBATCH * info.n_embd * 4 * 8
    return max(logits, scores) + hidden


def estimate_vram(info: ModelInfo, gpu_layers: int, n_ctx: int) -> FitEstimate:
    """VRAM needed with ``gpu_layers`` offloaded and a context of ``n_ctx`` tokens."""
    layers = offloaded_layers(info, gpu_layers)
    if layers <= 0 or not info.layer_bytes:
        return FitEstimate(0, 0, 0, 0)
    blocks = min(layers, info.n_layer)
    weights = sum(info.layer_bytes[info.n_layer - blocks:])
    if layers > info.n_layer:
        weights += info.output_bytes
    return FitEstimate(layers, weights, kv_cache_bytes(info, n_ctx, blocks),
                       compute_buffer_bytes(info, n_ctx))


def auto_gpu_layers(info: ModelInfo, n_ctx: int, free_bytes: int,
                    margin: int = SAFETY_MARGIN) -> int:
    """The largest layer count whose estimate fits in ``free_bytes`` minus ``margin``."""
    budget = free_bytes - margin
    best = 0
    for layers in range(1, info.n_layer + 2):
        if estimate_vram(info, layers, n_ctx).total_bytes <= budget:
            best = layers
        else:
            break
    return best


def resolve_gpu_layers(info: ModelInfo | None, gpu_layers: int | str, n_ctx: int,
                       can_offload: bool, free_vram: int | None) -> int:
    """The one place "auto" becomes a layer count (loads, the picker, ``pychat models``).

    Without GPU support in the backend everything runs on the CPU (0). ``auto`` with no
    readable GPU, or with a model whose header could not be read, also stays on the CPU.
    ``n_ctx`` 0 means the model's training length.
    """
    if not can_offload:
        return 0
    if gpu_layers != AUTO:
        return int(gpu_layers)
    if free_vram is None or info is None or not info.ok:
        return 0
    return auto_gpu_layers(info, n_ctx or info.context_length, free_vram)


@dataclass(frozen=True)
class MemoryNeed:
    """What a load would take, in RAM and in VRAM, before it is tried."""

    ram: int
    vram: int
    weights_ram: int
    kv_ram: int
    compute_ram: int


def memory_needed(info: ModelInfo, gpu_layers: int, n_ctx: int) -> MemoryNeed:
    """RAM and VRAM a load of ``info`` needs with ``gpu_layers`` offloaded and a context of
    ``n_ctx`` tokens (0 = the model's own): the weights that stay on the CPU, the KV cache
    of the blocks that stay there, and the compute buffer."""
    context = n_ctx or info.context_length
    gpu = estimate_vram(info, gpu_layers, context)
    cpu_blocks = info.n_layer - min(gpu.gpu_layers, info.n_layer)
    weights = max(info.size_bytes - gpu.weights_bytes, 0)
    kv = kv_cache_bytes(info, context, cpu_blocks)
    compute = compute_buffer_bytes(info, context) if gpu.gpu_layers <= info.n_layer else 0
    return MemoryNeed(weights + kv + compute, gpu.total_bytes, weights, kv, compute)
