"""Tiny GGUF files written with the ``gguf`` package, for tests and benchmarks.

``write_tiny_llama`` writes a real (random-weight) llama-architecture model that llama.cpp
loads and runs; the other helpers write broken files for the error paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Shape of a tiny llama model."""

    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 128
    context_length: int = 512
    dtype: type = np.float32
    n_vocab: int = 0
    """Pad the vocabulary with filler tokens up to this size (0 = the small test one)."""
    cheap: bool = False
    """Fill weights by repeating one random block: an 8B-shaped file in seconds, not
    minutes (its text is noise either way; its memory and speed are real)."""


LLAMA3_1B = TinySpec(n_layer=16, n_embd=2048, n_head=32, n_head_kv=8, n_ff=8192,
                     context_length=131072, dtype=np.float16, n_vocab=128256, cheap=True)
"""Llama-3.2-1B's shape (F16: ~2.5 GB)."""
LLAMA3_8B = TinySpec(n_layer=32, n_embd=4096, n_head=32, n_head_kv=8, n_ff=14336,
                     context_length=8192, dtype=np.float16, n_vocab=128256, cheap=True)
"""Llama-3-8B's shape (F16: ~16 GB)."""


def _vocab(size: int = 0) -> tuple[list[bytes], list[float], list[int]]:
    tokens: list[bytes] = [b"<unk>", b"<s>", b"</s>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>".encode())
        types.append(gguf.TokenType.BYTE)
    words = ["\u2581"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words += ["\u2581" + w for w in ("hello", "the", "model", "tiny", "world", "a", "is")]
    for word in words:
        tokens.append(word.encode())
        types.append(gguf.TokenType.NORMAL)
    scores = [0.0] * 3 + [0.0] * 256 + [-float(i) for i in range(len(words))]
    for n in range(len(tokens), size):
        tokens.append(f"<fill{n}>".encode())
        types.append(gguf.TokenType.USER_DEFINED)
        scores.append(-1e6)
    return tokens, scores, [int(t) for t in types]


def write_tiny_llama(path: Path, spec: TinySpec = TinySpec(), *, template: str | None = CHATML_TEMPLATE,
                     seed: int = 0, name: str = "tiny-llama") -> Path:
    """Write a loadable llama-architecture GGUF with random weights to ``path``."""
    rng = np.random.default_rng(seed)
    tokens, scores, types = _vocab(spec.n_vocab)
    n_vocab = len(tokens)
    head_dim = spec.n_embd // spec.n_head

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(spec.context_length)
    writer.add_embedding_length(spec.n_embd)
    writer.add_block_count(spec.n_layer)
    writer.add_feed_forward_length(spec.n_ff)
    writer.add_head_count(spec.n_head)
    writer.add_head_count_kv(spec.n_head_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if spec.dtype == np.float32
                         else gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    if template is not None:
        writer.add_chat_template(template)

    block = rng.normal(0.0, 0.02, size=1 << 16).astype(spec.dtype)

    def weight(*shape: int) -> np.ndarray:
        if spec.cheap:
            return np.resize(block, shape)
        return rng.normal(0.0, 0.02, size=shape).astype(spec.dtype)

    def norm(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)  # ggml keeps norms in f32

    # numpy shapes are the reverse of ggml's ne[]: (rows=out, cols=in).
    writer.add_tensor("token_embd.weight", weight(n_vocab, spec.n_embd))
    for i in range(spec.n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", norm(spec.n_embd))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(spec.n_head * head_dim, spec.n_embd))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(spec.n_head_kv * head_dim, spec.n_embd))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(spec.n_head_kv * head_dim, spec.n_embd))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(spec.n_embd, spec.n_head * head_dim))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", norm(spec.n_embd))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(spec.n_ff, spec.n_embd))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(spec.n_ff, spec.n_embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(spec.n_embd, spec.n_ff))
    writer.add_tensor("output_norm.weight", norm(spec.n_embd))
    writer.add_tensor("output.weight", weight(n_vocab, spec.n_embd))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_unknown_arch(path: Path, arch: str = "frobnicator") -> Path:
    """A valid GGUF container whose architecture llama.cpp does not know."""
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_tensor("blk.0.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_truncated(source: Path, path: Path, keep: float = 0.5) -> Path:
    """A copy of ``source`` cut short: header intact, weights missing."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_not_gguf(path: Path) -> Path:
    """A text file with a .gguf name."""
    path.write_text("this is not a model\n")
    return path
