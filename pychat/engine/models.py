"""Finding GGUF models and reading what they are without loading their weights.

Only the GGUF header is parsed (``gguf_header``: nothing in it is trusted); type sizes and
names come from the ``gguf`` package. Only regular files (or links to them) are opened, and
never in a way that can block. Results are cached by path, size and mtime, in memory and in
a small JSON file that is never trusted either: a damaged one is dropped and rebuilt.
"""

from __future__ import annotations

import dataclasses
import json
import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pychat.engine.gguf_header import Header, HeaderError, parse_header
from pychat.errors import ModelError
from pychat.files import file_problem, open_regular, read_regular
from pychat.text import inert_line

MAX_LAYERS = 4096
"""More repeating blocks than any real model has (Llama 3.1 405B has 126)."""
MAX_CONTEXT = 1 << 24
CACHE_MAX_BYTES = 8 * 1024 * 1024
CACHE_MAX_ENTRIES = 512
_KEPT_STRINGS = {"general.architecture", "general.name"}


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
    problem = file_problem(path)
    if problem:
        info.error = problem
        return info
    sizes = {int(kind): value for kind, value in gguf.GGML_QUANT_SIZES.items()}
    try:
        fd = open_regular(path)
        try:
            info.size_bytes = os.fstat(fd).st_size
            if os.read(fd, 4) != b"GGUF":
                raise HeaderError("missing GGUF signature")
            if info.size_bytes < 24:
                raise HeaderError("file too small to be a GGUF model")
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as buf:
                header = parse_header(buf, _KEPT_STRINGS, sizes)
        finally:
            os.close(fd)
        _fill(info, header)
    except OSError as exc:
        info.error = f"cannot read: {exc.strerror or exc}"
    except (HeaderError, ValueError, OverflowError, MemoryError) as exc:
        info.error = inert_line(f"not a valid GGUF file ({exc})")
    return with_known_architecture(info)


def known_architectures() -> frozenset[str]:
    """The architecture names llama.cpp knows, from the ``gguf`` package (which ships
    llama.cpp's own list)."""
    from gguf.constants import MODEL_ARCH_NAMES

    return frozenset(MODEL_ARCH_NAMES.values())


def with_known_architecture(info: ModelInfo) -> ModelInfo:
    """``info``, marked unusable when llama.cpp does not know its architecture: the file
    reads well but would only fail at load with "unknown model architecture"."""
    if not info.ok or info.architecture in known_architectures():
        return info
    shown = info.architecture or "none"
    return dataclasses.replace(info, error=f"unknown model architecture '{shown}': llama.cpp "
                                           "cannot run it")


def _whole(kv: dict[str, Any], key: str, default: int = 0) -> int:
    value = kv.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise HeaderError(f"{key} is not a whole number")
    return value


def _fill(info: ModelInfo, header: Header) -> None:
    """Turn a parsed header into facts, refusing values no real model has."""
    kv = header.kv
    arch = str(kv.get("general.architecture", ""))
    info.architecture = inert_line(arch)[:64]  # strings from the file are made inert
    info.name = inert_line(str(kv.get("general.name", "")))[:120]
    info.file_type = _file_type_name(kv.get("general.file_type"))
    info.n_layer = _whole(kv, f"{arch}.block_count")
    if not 0 <= info.n_layer <= min(MAX_LAYERS, max(header.n_tensors, 1)):
        raise HeaderError(f"invalid layer count {info.n_layer}")
    info.context_length = _whole(kv, f"{arch}.context_length")
    if not 0 <= info.context_length <= MAX_CONTEXT:
        raise HeaderError(f"invalid context length {info.context_length}")
    info.n_embd = _whole(kv, f"{arch}.embedding_length")
    info.n_head = _whole(kv, f"{arch}.attention.head_count")
    info.n_head_kv = _whole(kv, f"{arch}.attention.head_count_kv", info.n_head)
    default_head = info.n_embd // info.n_head if info.n_head > 0 else 0
    info.key_length = _whole(kv, f"{arch}.attention.key_length", default_head)
    info.value_length = _whole(kv, f"{arch}.attention.value_length", default_head)
    for label, value in (("embedding length", info.n_embd), ("head count", info.n_head),
                         ("KV head count", info.n_head_kv), ("key length", info.key_length),
                         ("value length", info.value_length)):
        if not 0 <= value <= 1 << 20:
            raise HeaderError(f"invalid {label} {value}")
    info.n_vocab = int(kv.get("tokenizer.ggml.tokens", 0) or 0)
    info.has_chat_template = "tokenizer.chat_template" in kv
    alignment = _whole(kv, "general.alignment", 32)
    if alignment <= 0 or alignment & (alignment - 1) or alignment > 1 << 20:
        raise HeaderError(f"invalid alignment {alignment}")
    data_start = -(-header.tensors_end // alignment) * alignment
    needed = data_start + header.data_bytes
    if needed > info.size_bytes:
        raise HeaderError(f"truncated: {info.size_bytes} of {needed} bytes")
    info.n_params = header.n_params
    info.layer_bytes = [header.block_bytes.get(i, 0) for i in range(info.n_layer)]
    info.embd_bytes = header.embd_bytes
    # With tied embeddings llama.cpp puts a copy of token_embd on the output layer.
    info.output_bytes = header.output_norm_bytes + (header.output_bytes or header.embd_bytes)


class ModelCatalog:
    """Cached model metadata, keyed by path and invalidated by size and mtime."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = cache_file
        self._entries: dict[str, tuple[int, int, ModelInfo]] = {}
        self._dirty = False
        if cache_file is not None:
            self._read_cache()

    def _read_cache(self) -> None:
        """Load the cache file; anything odd about it (size, depth, shape) drops it."""
        assert self.cache_file is not None
        try:
            raw = json.loads(read_regular(self.cache_file, CACHE_MAX_BYTES).decode("utf-8"))
            if not isinstance(raw, dict):
                return
            for key, (mtime, size, data) in list(raw.items())[:CACHE_MAX_ENTRIES]:
                info = ModelInfo.from_json(data)
                if not (isinstance(mtime, int) and isinstance(size, int)
                        and len(info.layer_bytes) <= MAX_LAYERS):
                    raise ValueError("bad entry")
                self._entries[str(key)] = (mtime, size, info)
        except (OSError, ValueError, TypeError, KeyError, RecursionError):
            self._entries = {}  # a missing or damaged cache is simply rebuilt
            self._dirty = True

    @property
    def changed(self) -> bool:
        """True when a file was read since the cache file was read or written (a save
        would write something)."""
        return self._dirty

    def save(self) -> None:
        """Write the cache file if anything changed (best effort; newest entries kept)."""
        if self.cache_file is None or not self._dirty:
            return
        entries = list(self._entries.items())[-CACHE_MAX_ENTRIES:]
        data = {key: [mtime, size, info.to_json()] for key, (mtime, size, info) in entries}
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
        problem = file_problem(path)
        if problem:
            return ModelInfo(path=path, error=problem)
        try:
            key = str(path.resolve())
            status = path.stat()
        except (OSError, RuntimeError) as exc:
            return ModelInfo(path=path, error=f"cannot read: {exc}")
        cached = self._entries.get(key)
        if cached and cached[0] == status.st_mtime_ns and cached[1] == status.st_size:
            # Keyed by the resolved file: a link to it reports the path it was asked by.
            info = with_known_architecture(cached[2])  # a cache from before the check
            return info if info.path == path else dataclasses.replace(info, path=path)
        info = read_model_info(path)
        self._entries.pop(key, None)  # re-inserted last: the newest entries are kept
        self._entries[key] = (status.st_mtime_ns, status.st_size, info)
        self._dirty = True
        return info


def _identity(path: Path) -> Path:
    """The file a path leads to, or the path itself when it leads nowhere (a loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def discover_models(models_dir: Path, extra: list[Path] | tuple[Path, ...] = ()) -> list[Path]:
    """Every ``*.gguf`` in ``models_dir`` (not recursive) plus ``extra`` paths, no repeats.

    Entries that are not regular files (FIFOs, folders, broken or looping links) are listed
    too, so that the picker and ``pychat models`` can say why they cannot be used."""
    found: list[Path] = []
    try:
        if models_dir.is_dir():
            found = sorted(p for p in models_dir.iterdir()
                           if p.suffix.lower() == ".gguf" and not p.name.startswith("."))
    except OSError:
        found = []
    seen = {_identity(p) for p in found}
    for path in extra:
        if _identity(path) not in seen and (os.path.lexists(path)):
            found.append(path)
            seen.add(_identity(path))
    return found


def resolve_model(name_or_path: str, models_dir: Path, known: list[Path]) -> Path:
    """Find a model by path, by file name (with or without .gguf) or by unique prefix."""
    direct = Path(name_or_path).expanduser()
    if os.path.lexists(direct):
        return direct  # whatever it is: loading it says what is wrong
    for candidate in (models_dir / name_or_path, models_dir / f"{name_or_path}.gguf"):
        if os.path.lexists(candidate):
            return candidate
    by_name = [p for p in known if p.name in (name_or_path, f"{name_or_path}.gguf")]
    if not by_name:
        by_name = [p for p in known if p.name.lower().startswith(name_or_path.lower())]
    if len(by_name) == 1:
        return by_name[0]
    by_name = list(dict.fromkeys(by_name, None))  # the same path listed twice is one
    if len(by_name) > 1:
        names = "; ".join(f"{inert_line(p.name)} in {inert_line(str(p.parent))}"
                          for p in by_name)
        raise ModelError(f"'{inert_line(name_or_path)}' matches several models: {names}. "
                         "Give the path of the one you mean.")
    raise ModelError(f"Model not found: {name_or_path} (looked for a file of that name and in "
                     f"{models_dir})")
