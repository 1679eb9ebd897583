"""Typed configuration: read with tomllib, validated, written atomically with tomli-w.

The file is never rewritten while it has errors: a broken config is reported (file, key,
line) and the app runs on defaults until the user fixes it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from pychat.errors import ConfigError

AUTO = "auto"
"""Value of ``gpu_layers`` that lets PyChat pick the largest offload that fits."""


def _opt(default: Any, doc: str, *, lo: float | None = None, hi: float | None = None,
         factory: Any = None) -> Any:
    """A dataclass field with a description and optional numeric bounds."""
    meta = {"doc": doc, "lo": lo, "hi": hi}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Sampling:
    """How replies are sampled."""

    temperature: float = _opt(0.7, "Randomness; 0 = greedy.", lo=0.0, hi=5.0)
    top_p: float = _opt(0.95, "Nucleus sampling cut-off.", lo=0.0, hi=1.0)
    top_k: int = _opt(40, "Sample among the k most likely tokens; 0 = all.", lo=0, hi=100_000)
    repeat_penalty: float = _opt(1.1, "Penalty for repeating recent tokens.", lo=0.0, hi=10.0)
    max_tokens: int = _opt(1024, "Longest reply in tokens; 0 = until the context is full.",
                           lo=0, hi=1_000_000)
    seed: int = _opt(-1, "Random seed; -1 = a new one per reply.", lo=-1, hi=2**32 - 1)


@dataclass
class ModelSettings:
    """Load settings for one model file (``[models."file.gguf"]``)."""

    gpu_layers: int | str = _opt(AUTO, 'Layers offloaded to the GPU: 0 = CPU only, -1 = all, '
                                 '"auto" = as many as fit in free VRAM.', lo=-1, hi=10_000)
    n_ctx: int = _opt(4096, "Context window in tokens; 0 = the model's training length.",
                      lo=0, hi=1_048_576)
    chat_format: str = _opt("", 'llama-cpp-python chat format ("gemma", "chatml", …); '
                            '"" = the template inside the GGUF file.')
    n_threads: int = _opt(0, "CPU threads; 0 = llama.cpp's default.", lo=0, hi=1024)
    use_mlock: bool = _opt(False, "Lock the weights in RAM (no swapping).")
    use_mmap: bool = _opt(True, "Memory-map the model file instead of reading it.")
    flash_attn: bool = _opt(False, "Use flash attention (GPU builds).")


@dataclass
class Config:
    """The whole configuration file."""

    models_dir: str = _opt("models", "Folder scanned for .gguf files (relative to the config "
                           "file's folder).")
    default_model: str = _opt("", "Model loaded at start: a file name in models_dir or a path; "
                              '"" = the first model found, else the embedded demo model.')
    system_prompt: str = _opt("You are a helpful assistant.", "System message sent first in "
                              "every chat; \"\" = none.")
    sampling: Sampling = _opt(None, "Sampling settings.", factory=Sampling)
    models: dict[str, ModelSettings] = _opt(None, "Per-model load settings.", factory=dict)
    keys: dict[str, str] = _opt(None, "Key remapping: binding id = \"key\".", factory=dict)

    def model_settings(self, model_name: str) -> ModelSettings:
        """Settings for a model file name, falling back to the built-in defaults."""
        if model_name in self.models:
            return self.models[model_name]
        return default_model_settings(model_name)


DEMO_MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"


def default_model_settings(model_name: str) -> ModelSettings:
    """Defaults for a model with no table in the config."""
    if model_name == DEMO_MODEL_NAME:
        # The demo file carries no chat template: Gemma's turn format is the right one.
        return ModelSettings(chat_format="gemma")
    return ModelSettings()


def parse_gpu_layers(text: str) -> int | str:
    """'auto', 'all', '-1' (all), '0' (CPU) or a layer count, as typed in the CLI or the UI.

    Raises ValueError with a message for the user.
    """
    text = text.strip().lower()
    if text in ("", AUTO):
        return AUTO
    if text == "all":
        return -1
    try:
        value = int(text)
    except ValueError:
        value = -2
    if value < -1:
        raise ValueError("gpu_layers must be auto, all, -1 (all), 0 (CPU) or a layer count")
    return value


def parse_n_ctx(text: str) -> int:
    """A context size in tokens (0 = the model's own). Raises ValueError."""
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError("n_ctx must be a whole number of tokens (0 = the model's own)")
    return value


# ---------------------------------------------------------------------------- reading


@dataclass
class LoadedConfig:
    """The outcome of reading the config file."""

    config: Config
    path: Path
    exists: bool
    errors: list[str] = field(default_factory=list)

    @property
    def writable(self) -> bool:
        """False while the file has errors: saving would destroy the user's text."""
        return not self.errors

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the config are resolved against."""
        return self.path.parent if self.exists else Path.cwd()

    def models_dir(self) -> Path:
        """The models folder as an absolute path."""
        return (self.base_dir / Path(self.config.models_dir).expanduser()).resolve()


def load_config(path: Path) -> LoadedConfig:
    """Read and validate ``path``; never raises for a bad file (see ``errors``)."""
    if not path.exists():
        return LoadedConfig(Config(), path, exists=False)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return LoadedConfig(Config(), path, True, [f"{path}: cannot read the file: {reason}"])
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        where = f"{path}:{line.group(1)}" if line else str(path)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        return LoadedConfig(Config(), path, True, [f"{where}: TOML syntax error: {message}"])
    errors: list[str] = []
    config = config_from_dict(raw, errors, _LineFinder(text, path))
    if errors:
        return LoadedConfig(Config(), path, True, errors)
    return LoadedConfig(config, path, True)


class _LineFinder:
    """Finds the line where ``key`` is set inside ``[table]`` for error messages."""

    _HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")

    def __init__(self, text: str, path: Path) -> None:
        self.lines = text.splitlines()
        self.path = path

    @staticmethod
    def _norm(name: str) -> str:
        parts = re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s]+", name)
        return ".".join(part.strip("\"'") for part in parts)

    def where(self, table: str, key: str) -> str:
        current = ""
        for number, line in enumerate(self.lines, start=1):
            header = self._HEADER.match(line)
            if header:
                current = self._norm(header.group(1))
                continue
            match = self._KEY.match(line)
            if match and current == table and match.group(1).strip("\"'") == key:
                return f"{self.path}:{number}"
        return str(self.path)


def _check_value(name: str, value: Any, f: dataclasses.Field[Any]) -> tuple[Any, str | None]:
    """Return (converted value, error or None) for one field."""
    default = f.default
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    bounds = f" between {lo:g} and {hi:g}" if lo is not None and hi is not None else ""
    if f.name == "gpu_layers":
        if value == AUTO:
            return value, None
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f'expected "auto" or a whole number{bounds}, got {value!r}'
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            return None, f"expected true or false, got {value!r}"
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"expected a whole number{bounds}, got {value!r}"
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"expected a number{bounds}, got {value!r}"
        value = float(value)
    elif isinstance(default, str) and not isinstance(value, str):
        return None, f"expected a string, got {value!r}"
    if lo is not None and hi is not None and isinstance(value, int | float) and not (
        lo <= value <= hi
    ):
        return None, f"expected a number{bounds}, got {value!r}"
    return value, None


def _fill(cls: type, raw: Any, table: str, errors: list[str], lines: _LineFinder) -> Any:
    """Build dataclass ``cls`` from the table ``raw``, collecting errors."""
    label = table or "top level"
    if not isinstance(raw, dict):
        errors.append(f"{lines.path}: [{label}] must be a table, got {raw!r}")
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        full = f"{table}.{key}" if table else key
        f = fields.get(key)
        if f is None:
            known = ", ".join(sorted(fields))
            errors.append(f"{lines.where(table, key)}: unknown key '{full}' (known: {known})")
            continue
        converted, problem = _check_value(key, value, f)
        if problem:
            errors.append(f"{lines.where(table, key)}: {full}: {problem}")
        else:
            values[key] = converted
    return cls(**values)


def config_from_dict(raw: dict[str, Any], errors: list[str], lines: _LineFinder) -> Config:
    """Validate a parsed TOML document into a Config (errors appended to ``errors``)."""
    top = {k: v for k, v in raw.items() if k not in ("sampling", "models", "keys")}
    config = _fill(Config, top, "", errors, lines)
    if "sampling" in raw:
        config.sampling = _fill(Sampling, raw["sampling"], "sampling", errors, lines)
    models = raw.get("models", {})
    if not isinstance(models, dict):
        errors.append(f"{lines.path}: [models] must be a table of model tables")
    else:
        for name, table in models.items():
            config.models[name] = _fill(ModelSettings, table, f"models.{name}", errors, lines)
    keys = raw.get("keys", {})
    if not isinstance(keys, dict):
        errors.append(f"{lines.path}: [keys] must be a table of binding id = \"key\"")
    else:
        for binding, key in keys.items():
            if not isinstance(key, str) or not key.strip():
                errors.append(f"{lines.where('keys', binding)}: keys.{binding}: expected a "
                              f"key name such as \"ctrl+s\", got {key!r}")
            else:
                config.keys[binding] = key
    return config


# ---------------------------------------------------------------------------- writing


def config_to_dict(config: Config) -> dict[str, Any]:
    """The TOML document for ``config`` (every key written, so the file documents itself)."""
    doc = {f.name: getattr(config, f.name) for f in dataclasses.fields(Config)
           if f.name not in ("sampling", "models", "keys")}
    doc["sampling"] = dataclasses.asdict(config.sampling)
    if config.keys:
        doc["keys"] = dict(config.keys)
    if config.models:
        doc["models"] = {name: dataclasses.asdict(s) for name, s in config.models.items()}
    return doc


def save_config(loaded: LoadedConfig) -> None:
    """Write the config atomically, keeping the file's permissions.

    Raises ConfigError when the file on disk has errors (it would be lost) or cannot be
    written.
    """
    if not loaded.writable:
        raise ConfigError(f"{loaded.path} has errors; not overwriting it. Fix it to save "
                          "settings.")
    write_toml_atomic(loaded.path, config_to_dict(loaded.config))
    loaded.exists = True


def write_toml_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` with ``doc`` in one step: temp file in the same folder + os.replace."""
    data = tomli_w.dumps(doc).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
