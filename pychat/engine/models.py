"""Finding GGUF models and reading what they are without loading their weights.

Only the GGUF header is parsed (key/values and tensor descriptions); type sizes and names
come from the ``gguf`` package. Results are cached by path, size and mtime, in memory and
in a small JSON file, so listing a folder of models is fast after the first time.
"""

from __future__ import annotations

import dataclasses
import json
import mmap
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pychat.errors import ModelError
from pychat.text import inert_line

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_WANTED_ARRAYS = {"tokenizer.ggml.tokens"}  # we only need its length
_BLOCK = re.compile(r"^blk\.(\d+)\.")


@dataclass
class ModelInfo:
    """What a GGUF file holds, read from its header."""

    path: Path
    size_bytes: int = 0
    error: str = ""
    """Why the file cannot be used ("" when it can)."""
    architecture: str = ""
    name: str = ""
    n_params: int = 0
    file_type: str = ""
    n_layer: int = 0
    context_length: int = 0
    n_embd: int = 0
    n_head: int = 0
    n_head_kv: int = 0
    key_length: int = 0
    value_length: int = 0
    n_vocab: int = 0
    has_chat_template: bool = False
    layer_bytes: list[int] = field(default_factory=list)
    """Weight bytes of each repeating block, blk.0 … blk.N-1."""
    output_bytes: int = 0
    """Weight bytes of the output layer (output norm + output matrix, or the tied embedding)."""
    embd_bytes: int = 0

    @property
    def ok(self) -> bool:
        """True when the header was read without error."""
        return not self.error

    @property
    def file_name(self) -> str:
        """The file's name, safe to show."""
        return inert_line(self.path.name)

    def describe(self) -> str:
        """One line for lists: architecture, size, quantisation, layers, context."""
        if not self.ok:
            return f"unusable: {self.error}"
        parts = [self.name] if self.name else []
        parts += [self.architecture or "?", human_count(self.n_params) + " params",
                 self.file_type or "?", human_bytes(self.size_bytes),
                 f"{self.n_layer} layers", f"ctx {self.context_length}",
                 "chat template" if self.has_chat_template else "no chat template"]
        return " · ".join(parts)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["path"] = str(self.path)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(**{**data, "path": Path(data["path"])})


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def human_count(n: int) -> str:
    """268098176 -> '268M'."""
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            value = n / size
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return str(n)


class _Reader:
    """Sequential little-endian reads over a memory map."""

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf, self.pos = buf, 0

    def scalar(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        size = self.scalar("<Q")
        if size > len(self.buf) - self.pos:
            raise ValueError("string runs past the end of the file")
        text = bytes(self.buf[self.pos:self.pos + size]).decode("utf-8", errors="replace")
        self.pos += size
        return text

    def skip_string(self) -> None:
        self.pos += 8 + struct.unpack_from("<Q", self.buf, self.pos)[0]

    def value(self, kind: int, keep: bool = True) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            if keep:
                return self.string()
            self.skip_string()
            return None
        if kind == _ARRAY:
            item_kind, count = self.scalar("<I"), self.scalar("<Q")
            if item_kind in _SCALARS:  # fixed size: jump over it
                self.pos += count * struct.calcsize(_SCALARS[item_kind])
            else:
                for _ in range(count):
                    self.value(item_kind, keep=False)
            return count
        raise ValueError(f"unknown GGUF value type {kind}")


def _file_type_name(code: int | None) -> str:
    if code is None:
        return ""
    import gguf

    try:
        return gguf.LlamaFileType(code).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        return f"type {code}"


def read_model_info(path: Path) -> ModelInfo:
    """Read ``path``'s GGUF header. Problems are reported in ``error``, never raised."""
    import gguf

    info = ModelInfo(path=path)
    try:
        info.size_bytes = path.stat().st_size
        with path.open("rb") as handle:
            if handle.read(4) != b"GGUF":
                raise ValueError("missing GGUF signature")
            if info.size_bytes < 24:
                raise ValueError("file too small to be a GGUF model")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                _parse(_Reader(buf), info, gguf)
    except OSError as exc:
        info.error = f"cannot read: {exc.strerror or exc}"
    except (ValueError, struct.error, OverflowError, MemoryError) as exc:
        info.error = inert_line(f"not a valid GGUF file ({exc})")
    return info


def _parse(reader: _Reader, info: ModelInfo, gguf: Any) -> None:
    if bytes(reader.buf[:4]) != b"GGUF":
        raise ValueError("missing GGUF signature")
    reader.pos = 4
    version = reader.scalar("<I")
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    n_tensors, n_kv = reader.scalar("<Q"), reader.scalar("<Q")
    kv: dict[str, Any] = {}
    for _ in range(n_kv):
        key, kind = reader.string(), reader.scalar("<I")
        keep = kind != _ARRAY or key in _WANTED_ARRAYS
        value = reader.value(kind, keep=keep or kind != _STRING)
        kv[key] = value
    arch = str(kv.get("general.architecture", ""))
    info.architecture = inert_line(arch)  # shown in lists: strings from the file are inert
    info.name = inert_line(str(kv.get("general.name", "")))
    info.file_type = _file_type_name(kv.get("general.file_type"))
    info.n_layer = int(kv.get(f"{arch}.block_count", 0))
    info.context_length = int(kv.get(f"{arch}.context_length", 0))
    info.n_embd = int(kv.get(f"{arch}.embedding_length", 0))
    info.n_head = int(kv.get(f"{arch}.attention.head_count", 0) or 0)
    info.n_head_kv = int(kv.get(f"{arch}.attention.head_count_kv", info.n_head) or 0)
    default_head = info.n_embd // info.n_head if info.n_head else 0
    info.key_length = int(kv.get(f"{arch}.attention.key_length", default_head))
    info.value_length = int(kv.get(f"{arch}.attention.value_length", default_head))
    info.n_vocab = int(kv.get("tokenizer.ggml.tokens", 0) or 0)
    info.has_chat_template = "tokenizer.chat_template" in kv

    layers = [0] * info.n_layer
    output_norm = output = embd = 0
    for _ in range(n_tensors):
        name = reader.string()
        n_dims = reader.scalar("<I")
        if n_dims > 8:
            raise ValueError(f"tensor {name} has {n_dims} dimensions")
        elements = 1
        for _ in range(n_dims):
            elements *= reader.scalar("<Q")
        ggml_type = reader.scalar("<I")
        reader.pos += 8  # data offset
        try:
            block_size, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"tensor {name} has unknown type {ggml_type}") from exc
        nbytes = elements // block_size * type_size
        info.n_params += elements
        block = _BLOCK.match(name)
        if block and int(block.group(1)) < info.n_layer:
            layers[int(block.group(1))] += nbytes
        elif name.startswith("output_norm"):
            output_norm += nbytes
        elif name.startswith("output."):
            output += nbytes
        elif name.startswith("token_embd."):
            embd += nbytes
    info.layer_bytes = layers
    info.embd_bytes = embd
    # With tied embeddings llama.cpp puts a copy of token_embd on the output layer.
    info.output_bytes = output_norm + (output or embd)


class ModelCatalog:
    """Cached model metadata, keyed by path and invalidated by size and mtime."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = cache_file
        self._entries: dict[str, tuple[int, int, ModelInfo]] = {}
        self._dirty = False
        if cache_file is not None:
            self._read_cache()

    def _read_cache(self) -> None:
        try:
            assert self.cache_file is not None
            raw = json.loads(self.cache_file.read_text(encoding="utf-8"))
            for key, (mtime, size, data) in raw.items():
                self._entries[key] = (mtime, size, ModelInfo.from_json(data))
        except (OSError, ValueError, TypeError, KeyError):
            self._entries = {}  # a missing or damaged cache is simply rebuilt

    def save(self) -> None:
        """Write the cache file if anything changed (best effort)."""
        if self.cache_file is None or not self._dirty:
            return
        data = {key: [mtime, size, info.to_json()]
                for key, (mtime, size, info) in self._entries.items()}
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(self.cache_file)
            self._dirty = False
        except OSError:
            pass

    def info(self, path: Path) -> ModelInfo:
        """Metadata for ``path`` (read once per size/mtime)."""
        key = str(path.resolve())
        try:
            stat = path.stat()
        except OSError as exc:
            return ModelInfo(path=path, error=f"cannot read: {exc.strerror or exc}")
        cached = self._entries.get(key)
        if cached and cached[0] == stat.st_mtime_ns and cached[1] == stat.st_size:
            # Keyed by the resolved file: a link to it reports the path it was asked by.
            info = cached[2]
            return info if info.path == path else dataclasses.replace(info, path=path)
        info = read_model_info(path)
        self._entries[key] = (stat.st_mtime_ns, stat.st_size, info)
        self._dirty = True
        return info


def discover_models(models_dir: Path, extra: list[Path] | tuple[Path, ...] = ()) -> list[Path]:
    """Every ``*.gguf`` in ``models_dir`` (not recursive) plus ``extra`` paths, no repeats."""
    found: list[Path] = []
    if models_dir.is_dir():
        found = sorted(p for p in models_dir.iterdir()
                       if p.suffix.lower() == ".gguf" and not p.name.startswith("."))
    seen = {p.resolve() for p in found}
    for path in extra:
        if path.resolve() not in seen and path.exists():
            found.append(path)
            seen.add(path.resolve())
    return found


def resolve_model(name_or_path: str, models_dir: Path, known: list[Path]) -> Path:
    """Find a model by path, by file name (with or without .gguf) or by unique prefix."""
    direct = Path(name_or_path).expanduser()
    if direct.is_file():
        return direct
    for candidate in (models_dir / name_or_path, models_dir / f"{name_or_path}.gguf"):
        if candidate.is_file():
            return candidate
    by_name = [p for p in known if p.name in (name_or_path, f"{name_or_path}.gguf")]
    if not by_name:
        by_name = [p for p in known if p.name.lower().startswith(name_or_path.lower())]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        names = ", ".join(p.name for p in by_name)
        raise ModelError(f"'{name_or_path}' matches several models: {names}")
    raise ModelError(f"Model not found: {name_or_path} (looked for a file of that name and in "
                     f"{models_dir})")
