"""A corpus of crafted model files and configs (tests/test_hostile_input.py).

``gguf.GGUFWriter`` refuses to write most of these, so headers are packed by hand here.
Each entry says what ``pychat models`` must report about it (a substring of its line).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

from tests.support.gguf import TinySpec, write_tiny_llama, write_truncated

U32, I32, U64, STRING, ARRAY = 4, 5, 10, 8, 9


def text(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("<Q", len(data)) + data


def kv(key: str, kind: int, payload: bytes) -> bytes:
    return text(key) + struct.pack("<I", kind) + payload


def u32(key: str, value: int) -> bytes:
    return kv(key, U32, struct.pack("<I", value))


def header(*kvs: bytes, tensors: bytes = b"", n_tensors: int = 0, n_kv: int | None = None,
           version: int = 3, pad: int = 0) -> bytes:
    count = len(kvs) if n_kv is None else n_kv
    return (b"GGUF" + struct.pack("<IQQ", version, n_tensors, count) + b"".join(kvs)
            + tensors + bytes(pad))


def tensor(name: str, dims: tuple[int, ...], ggml_type: int = 0, offset: int = 0) -> bytes:
    return (text(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d)
            for d in dims) + struct.pack("<IQ", ggml_type, offset))


LLAMA = kv("general.architecture", STRING, text("llama"))

# name → (how to make it in a folder, what its listing says)
Maker = Callable[[Path], object]


def _bytes(data: bytes) -> Maker:
    return lambda path: path.write_bytes(data)


MODEL_CORPUS: dict[str, tuple[Maker, str]] = {
    "fifo.gguf": (lambda p: os.mkfifo(p), "not a regular file (a FIFO)"),
    "loop.gguf": (lambda p: p.symlink_to(p.name), "a symbolic link loop"),
    "broken.gguf": (lambda p: p.symlink_to("missing-target.gguf"), "a broken link"),
    "folder.gguf": (lambda p: p.mkdir(), "not a regular file (a folder)"),
    "empty.gguf": (_bytes(b""), "missing GGUF signature"),
    "text.gguf": (_bytes(b"this is not a model\n"), "missing GGUF signature"),
    "short.gguf": (_bytes(b"GGUF\x03\x00\x00\x00"), "file too small"),
    "version1.gguf": (_bytes(header(version=1, pad=64)), "GGUF version 1 is not supported"),
    "blocks-2e24.gguf": (_bytes(header(LLAMA, u32("llama.block_count", 1 << 24), pad=200)),
                         "invalid layer count 16777216"),
    "blocks-2e27.gguf": (_bytes(header(LLAMA, u32("llama.block_count", 1 << 27), pad=200)),
                         "invalid layer count 134217728"),
    "negative-layers.gguf": (_bytes(header(LLAMA, kv("llama.block_count", I32,
                                                      struct.pack("<i", -5)), pad=64)),
                             "invalid layer count -5"),
    "kv-count.gguf": (_bytes(header(n_kv=1 << 60, pad=64)), "key/values, more than the file"),
    "tensor-count.gguf": (_bytes(header(n_tensors=1 << 40, pad=64)), "tensors, more than the"),
    "long-string.gguf": (_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
                                + struct.pack("<Q", 1 << 62) + bytes(64)), "runs past the end"),
    "string-array.gguf": (_bytes(header(kv("tokenizer.ggml.tokens", ARRAY,
                                           struct.pack("<IQ", STRING, 1 << 50)), pad=64)),
                          "runs past the end"),
    "nested-array.gguf": (_bytes(header(kv("x", ARRAY, struct.pack("<IQ", ARRAY, 1)
                                           + struct.pack("<IQ", ARRAY, 1)
                                           + struct.pack("<IQ", ARRAY, 1)
                                           + struct.pack("<IQ", ARRAY, 1)), pad=64)),
                          "unsupported array"),
    "unknown-type.gguf": (_bytes(header(LLAMA, tensors=tensor("blk.0.w", (4, 4), 999),
                                        n_tensors=1, pad=64)), "unknown type 999"),
    "huge-dim.gguf": (_bytes(header(LLAMA, tensors=tensor("blk.0.w", (1 << 50,)), n_tensors=1,
                                    pad=64)), "has a dimension of"),
    "data-beyond.gguf": (_bytes(header(LLAMA, tensors=tensor("token_embd.weight", (1 << 30,)),
                                       n_tensors=1, pad=64)), "truncated:"),
    "huge-context.gguf": (_bytes(header(LLAMA, kv("llama.context_length", U64,
                                                   struct.pack("<Q", 1 << 40)), pad=64)),
                          "invalid context length"),
    "bad-alignment.gguf": (_bytes(header(LLAMA, u32("general.alignment", 3), pad=64)),
                           "invalid alignment 3"),
    "string-blocks.gguf": (_bytes(header(LLAMA, kv("llama.block_count", STRING, text("9")),
                                         pad=64)), "is not a whole number"),
}


def write_model_corpus(folder: Path) -> dict[str, str]:
    """Write every crafted model (plus loadable ones with hostile names) into ``folder``;
    return each file name with what its listing must say ("" for usable files)."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, (make, reason) in MODEL_CORPUS.items():
        make(folder / name)
        expected[name] = reason
    tiny = write_tiny_llama(folder / "tiny.gguf", TinySpec(n_layer=2))
    expected["tiny.gguf"] = ""
    write_truncated(tiny, folder / "truncated.gguf", keep=0.6)
    expected["truncated.gguf"] = "truncated:"
    write_tiny_llama(folder / "osc-name.gguf", name="evil\x1b]52;c;SGk=\x07\x1b]0;T\x07\u202e")
    expected["osc-name.gguf"] = ""
    write_tiny_llama(folder / "[red]markup[/red].gguf".replace("/", "_"))
    expected["[red]markup[_red].gguf"] = ""
    write_tiny_llama(folder / "esc\x1b]0;title\x07.gguf")
    expected["esc]0;title.gguf"] = ""
    return expected


CONFIG_CORPUS: dict[str, tuple[str | bytes | Maker, str]] = {
    "deep-arrays": ("x = " + "[" * 3000 + "]" * 3000 + "\n", "error:nested too deeply"),
    "deep-tables": ("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
                    "error:nested too deeply"),
    "markup-key": ('"[red]x[/red]" = 1\n', "error:unknown key '[red]x[/red]'"),
    "escape-key": ('"a\\u001b]0;T\\u0007b" = 1\n', "error:unknown key 'a]0;Tb'"),
    "binary": (b"\xff\xfe\x00junk", "error:not UTF-8 text"),
    "utf16": ('models_dir = "m"\n'.encode("utf-16"), "error:not UTF-8 text"),
    "utf8-bom": (b"\xef\xbb\xbfsystem_prompt = \"hi\"\n", "ok"),
    "huge": ("# padding\n" * 200_000, "error:too large"),
    "fifo": (lambda p: os.mkfifo(p), "error:not a regular file (a FIFO)"),
    "folder": (lambda p: p.mkdir(), "error:not a regular file (a folder)"),
    "link-loop": (lambda p: p.symlink_to(p.name), "error:symbolic link loop"),
    "quit-on-e": ('[keys]\n"app.quit" = "e"\n', "warning:'e' types text"),
    "two-on-one": ('[keys]\n"chat.stop" = "ctrl+q"\n', "warning:already app.quit"),
    "unknown-binding": ('[keys]\n"app.explode" = "ctrl+x"\n', "warning:unknown binding id"),
    "gpu-layers-20000": ('[models."a.gguf"]\ngpu_layers = 20000\n', "error:between -1 and 10000"),
    "n-ctx-16": ('[models."a.gguf"]\nn_ctx = 16\n', "error:0 or 128 to 1048576"),
    "n-ctx-2m": ('[models."a.gguf"]\nn_ctx = 2000000\n', "error:0 or 128 to 1048576"),
    "temperature-nan": ("[sampling]\ntemperature = nan\n", "error:sampling.temperature"),
    "sampling-array": ("sampling = [1, 2]\n", "error:[sampling] must be a table"),
    "duplicate": ('models_dir = "a"\nmodels_dir = "b"\n', "error:TOML syntax error"),
    "long-prompt": ('system_prompt = "' + "be kind " * 50_000 + '"\n', "ok"),
    "nul-in-string": ('system_prompt = "a\\u0000b"\n', "ok"),
    "odd-model-key": ('[models."x\\ny\\u001b.gguf"]\nn_ctx = 512\n', "ok"),
    "key-not-string": ("[keys]\n\"chat.stop\" = 5\n", "error:expected a key name"),
    "empty": ("", "ok"),
}


def write_config(path: Path, content: str | bytes | Maker) -> None:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        content(path)
