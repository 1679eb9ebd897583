"""GGUF metadata without loading weights, discovery, and the VRAM fit estimate."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from pychat.config import load_config
from pychat.engine.base import ModelRef
from pychat.engine.fit import (
    SAFETY_MARGIN,
    auto_gpu_layers,
    compute_buffer_bytes,
    estimate_vram,
    kv_cache_bytes,
    offloaded_layers,
)
from pychat.engine.models import (
    ModelCatalog,
    discover_models,
    read_model_info,
    resolve_model,
)
from pychat.errors import ModelError
from tests.support.gguf import TinySpec, write_tiny_llama

MiB = 1024 * 1024


def block_bytes(spec: TinySpec) -> int:
    """Bytes of one block of the tiny model, computed from its shapes (f32 = 4 bytes)."""
    head_dim = spec.n_embd // spec.n_head
    q = spec.n_head * head_dim * spec.n_embd
    kv = 2 * spec.n_head_kv * head_dim * spec.n_embd
    out = spec.n_embd * spec.n_head * head_dim
    ffn = 3 * spec.n_ff * spec.n_embd
    norms = 2 * spec.n_embd
    return 4 * (q + kv + out + ffn + norms)


@pytest.mark.parametrize("spec", [TinySpec(n_head_kv=2), TinySpec(n_layer=3, n_head_kv=4)],
                         ids=["gqa", "mha"])
def test_metadata_and_layer_sizes_match_what_was_written(tmp_path: Path, spec: TinySpec) -> None:
    path = write_tiny_llama(tmp_path / "m.gguf", spec)
    info = read_model_info(path)
    assert info.ok, info.error
    assert (info.architecture, info.n_layer, info.n_head, info.n_head_kv) == (
        "llama", spec.n_layer, spec.n_head, spec.n_head_kv)
    assert info.key_length == info.value_length == spec.n_embd // spec.n_head
    assert info.layer_bytes == [block_bytes(spec)] * spec.n_layer
    n_vocab = info.n_vocab
    assert info.output_bytes == 4 * (spec.n_embd + n_vocab * spec.n_embd)
    assert info.embd_bytes == 4 * n_vocab * spec.n_embd
    assert info.has_chat_template
    assert info.file_type == "F32"
    assert info.size_bytes == path.stat().st_size


@pytest.mark.slow
def test_demo_model_metadata(demo_model: Path) -> None:
    info = read_model_info(demo_model)
    assert info.ok
    assert info.architecture == "gemma3" and info.n_layer == 18
    assert info.file_type == "Q4_K_M" and not info.has_chat_template
    assert 250e6 < info.n_params < 300e6
    assert info.n_head_kv == 1 and info.key_length == 256
    assert info.n_vocab == 262144
    # Gemma ties its output to the embedding: the output layer costs the embedding's bytes.
    assert info.output_bytes >= info.embd_bytes
    assert "gemma3" in info.describe() and "18 layers" in info.describe()


def test_estimate_follows_llama_cpp_offload_order(tmp_path: Path) -> None:
    spec = TinySpec(n_layer=3, n_head_kv=2)
    info = read_model_info(write_tiny_llama(tmp_path / "m.gguf", spec))
    one = block_bytes(spec)
    assert estimate_vram(info, 0, 512).total_bytes == 0
    assert estimate_vram(info, 2, 512).weights_bytes == 2 * one
    assert estimate_vram(info, 3, 512).weights_bytes == 3 * one  # blocks only
    assert estimate_vram(info, 4, 512).weights_bytes == 3 * one + info.output_bytes
    assert estimate_vram(info, -1, 512) == estimate_vram(info, 4, 512)
    assert offloaded_layers(info, 99) == 4


def test_kv_cache_formula_gqa_vs_mha(tmp_path: Path) -> None:
    gqa = read_model_info(write_tiny_llama(tmp_path / "g.gguf", TinySpec(n_head_kv=2)))
    mha = read_model_info(write_tiny_llama(tmp_path / "m.gguf", TinySpec(n_head_kv=4)))
    # 2 (K and V) × n_layer × n_ctx × n_head_kv × head_dim × 2 bytes (f16)
    assert kv_cache_bytes(gqa, 4096) == 2 * 2 * 4096 * 2 * 16 * 2
    assert kv_cache_bytes(mha, 4096) == 2 * kv_cache_bytes(gqa, 4096)
    assert kv_cache_bytes(gqa, 4096, blocks=1) == kv_cache_bytes(gqa, 4096) // 2


@pytest.mark.slow
def test_demo_model_estimate_matches_llama_cpp_buffers(demo_model: Path) -> None:
    """llama.cpp logged 12.00 + 60.00 MiB of KV and 514.5 MiB compute at n_ctx 4096."""
    info = read_model_info(demo_model)
    assert kv_cache_bytes(info, 4096) == 72 * MiB
    assert abs(compute_buffer_bytes(info, 4096) / MiB - 514.5) < 514.5 * 0.05


def test_auto_picks_the_largest_fit(tmp_path: Path) -> None:
    info = read_model_info(write_tiny_llama(tmp_path / "m.gguf", TinySpec(n_layer=3)))
    n_ctx = 512
    full = estimate_vram(info, 4, n_ctx).total_bytes
    assert auto_gpu_layers(info, n_ctx, full + SAFETY_MARGIN) == 4
    two = estimate_vram(info, 2, n_ctx).total_bytes
    assert auto_gpu_layers(info, n_ctx, two + SAFETY_MARGIN) == 2
    assert auto_gpu_layers(info, n_ctx, SAFETY_MARGIN) == 0


def test_unreadable_files_are_listed_with_a_reason(model_dir: Path) -> None:
    catalog = ModelCatalog()
    infos = {p.name: catalog.info(p) for p in discover_models(model_dir)}
    assert set(infos) == {"alien.gguf", "corrupt.gguf", "notes.gguf", "tiny-gqa.gguf",
                          "tiny-mha.gguf"}
    assert "missing GGUF signature" in infos["notes.gguf"].error
    assert infos["tiny-gqa.gguf"].ok
    # The header reads well, but llama.cpp would refuse the architecture: unusable, and why.
    assert infos["alien.gguf"].error == ("unknown model architecture 'frobnicator': llama.cpp "
                                         "cannot run it")
    assert infos["alien.gguf"].n_layer == 1 and "unusable: unknown model architecture" in \
        infos["alien.gguf"].describe()
    # The truncated copy keeps its header, but its tensor data does not fit in the file.
    size = (model_dir / "corrupt.gguf").stat().st_size
    assert f"truncated: {size} of {(model_dir / 'tiny-gqa.gguf').stat().st_size}" in \
        infos["corrupt.gguf"].error
    empty = model_dir.parent / "empty.gguf"
    empty.write_bytes(b"")
    assert "missing GGUF signature" in catalog.info(empty).error


def test_listing_twenty_models_is_fast_with_the_cache(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(19):
        write_tiny_llama(folder / f"m{i:02}.gguf", TinySpec(dtype=np.float16), seed=i)
    (folder / "link.gguf").symlink_to(folder / "m00.gguf")
    cache = tmp_path / "cache.json"
    first = ModelCatalog(cache)
    assert all(first.info(p).ok for p in discover_models(folder))
    first.save()
    again = ModelCatalog(cache)
    started = time.perf_counter()
    infos = [again.info(p) for p in discover_models(folder)]
    elapsed = time.perf_counter() - started
    assert len(infos) == 20 and all(i.ok for i in infos)
    assert not again.changed  # every entry came from the cache file
    print(f"20 models listed from the cache in {elapsed * 1000:.1f} ms")


def test_cache_notices_a_changed_file(tmp_path: Path) -> None:
    path = write_tiny_llama(tmp_path / "m.gguf", TinySpec(n_layer=2))
    catalog = ModelCatalog()
    assert catalog.info(path).n_layer == 2
    write_tiny_llama(path, TinySpec(n_layer=3))
    assert catalog.info(path).n_layer == 3


def test_resolve_model_by_path_name_and_prefix(model_dir: Path) -> None:
    known = discover_models(model_dir)
    assert resolve_model(str(model_dir / "tiny-gqa.gguf"), model_dir, known).name == "tiny-gqa.gguf"
    assert resolve_model("tiny-mha", model_dir, known).name == "tiny-mha.gguf"
    assert resolve_model("ali", model_dir, known).name == "alien.gguf"
    with pytest.raises(ModelError, match="several models") as info:
        resolve_model("tiny", model_dir, known)
    assert f"tiny-gqa.gguf in {model_dir}" in info.value.message
    with pytest.raises(ModelError, match="Model not found: nope"):
        resolve_model("nope", model_dir, known)


def test_cache_answers_with_the_path_it_was_asked_by(tmp_path: Path) -> None:
    real = write_tiny_llama(tmp_path / "real.gguf")
    link = tmp_path / "link.gguf"
    link.symlink_to(real)
    catalog = ModelCatalog(tmp_path / "cache.json")
    assert catalog.info(link).path == link
    catalog.save()
    again = ModelCatalog(tmp_path / "cache.json")
    assert again.info(real).path == real and again.info(real).file_name == "real.gguf"


def test_the_system_prompt_a_chat_starts_with_puts_the_users_words_first(
        tmp_path: Path) -> None:
    from pychat.config import DEFAULT_MODEL_NAME, SMALL_MODEL_PROMPT
    from pychat.library import ModelLibrary

    smol, other = tmp_path / DEFAULT_MODEL_NAME, tmp_path / "other.gguf"

    def prompts(text: str) -> tuple[str, str]:
        path = tmp_path / "config.toml"
        path.write_text(text)
        library = ModelLibrary(load_config(path), ModelCatalog())
        return (library.system_prompt_for(ModelRef.local(smol)),
                library.system_prompt_for(ModelRef.local(other)))

    assert prompts("") == (SMALL_MODEL_PROMPT, "You are a helpful assistant.")
    assert prompts('system_prompt = "Arr."\n') == ("Arr.", "Arr.")
    assert prompts('system_prompt = ""\n') == ("", "")
    assert prompts(f'system_prompt = "Arr."\n[models."{DEFAULT_MODEL_NAME}"]\n'
                   'system_prompt = "Shh."\n') == ("Shh.", "Arr.")
    # A table the user wrote for other settings keeps the built-in prompt.
    assert prompts(f'[models."{DEFAULT_MODEL_NAME}"]\nn_ctx = 2048\n')[0] == SMALL_MODEL_PROMPT


def test_remembering_a_models_choice_writes_only_the_choice(tmp_path: Path) -> None:
    from pychat.config import DEFAULT_MODEL_NAME, SMALL_MODEL_PROMPT
    from pychat.library import ModelLibrary

    path = tmp_path / "config.toml"
    path.write_text('system_prompt = "Arr."\n')
    library = ModelLibrary(load_config(path), ModelCatalog())
    smol = library.models_dir / DEFAULT_MODEL_NAME
    library.remember(smol, (0, 2048))
    table = tomllib.loads(path.read_text())["models"][DEFAULT_MODEL_NAME]
    assert table == {"gpu_layers": 0, "n_ctx": 2048}
    assert SMALL_MODEL_PROMPT not in path.read_text()
    for again in (library, ModelLibrary(load_config(path), ModelCatalog())):
        assert again.system_prompt_for(ModelRef.local(smol)) == "Arr."
        assert again.settings_for(smol).n_ctx == 2048


def test_two_models_of_one_name_are_told_apart_by_where_they_are(tmp_path: Path) -> None:
    """default_model pointing at a file named like an embedded model gave "matches several
    models: a.gguf, a.gguf"."""
    here, there = tmp_path / "models", tmp_path / "elsewhere"
    here.mkdir()
    there.mkdir()
    known = [write_tiny_llama(folder / "same.gguf") for folder in (here, there)]
    with pytest.raises(ModelError) as info:
        resolve_model("sam", here, known + [known[0]])
    assert info.value.message == (f"'sam' matches several models: same.gguf in {here}; "
                                  f"same.gguf in {there}. Give the path of the one you mean.")
