"""Typed configuration, read with tomllib and validated (writing: ``config_writer``).

Reading is total: any file either loads or gives messages with its path, key and line, and
the app then runs on defaults; a file with errors is never rewritten. One set of bounds
(the field metadata below) judges the file, the command line, the loader pane and the
picker alike, so nothing PyChat writes fails its own reading.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pychat.commands import check_keymap
from pychat.files import read_regular
from pychat.text import inert_line

AUTO = "auto"
"""Value of ``gpu_layers`` that lets PyChat pick the largest offload that fits."""
MIN_N_CTX = 128
"""The smallest context that holds a short prompt and a reply (0 still means the model's)."""
MAX_CONFIG_BYTES = 1024 * 1024
"""A config is a few KiB; anything over this is not read."""


def _opt(default: Any, doc: str, *, lo: float | None = None, hi: float | None = None,
         factory: Any = None, min_nonzero: int | None = None) -> Any:
    """A dataclass field with a description and optional numeric bounds."""
    meta = {"doc": doc, "lo": lo, "hi": hi, "min_nonzero": min_nonzero}
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
    thinking: bool = _opt(True, "Let a model that reasons show its thinking (collapsed); "
                          "false asks it not to think, where its template has the switch.")


@dataclass
class ModelSettings:
    """Load settings for one model file (``[models."file.gguf"]``)."""

    gpu_layers: int | str = _opt(AUTO, 'Layers offloaded to the GPU: 0 = CPU only, -1 = all, '
                                 '"auto" = as many as fit in free VRAM.', lo=-1, hi=10_000)
    n_ctx: int = _opt(4096, "Context window in tokens; 0 = the model's training length.",
                      lo=0, hi=1_048_576, min_nonzero=MIN_N_CTX)
    chat_format: str = _opt("", 'llama-cpp-python chat format ("gemma", "chatml", …); '
                            '"" = the template inside the GGUF file.')
    system_prompt: str = _opt("", "System prompt for new chats with this model; \"\" = the "
                              "top-level system_prompt.")
    n_threads: int = _opt(0, "CPU threads; 0 = llama.cpp's default.", lo=0, hi=1024)
    use_mlock: bool = _opt(False, "Lock the weights in RAM (no swapping).")
    use_mmap: bool = _opt(True, "Memory-map the model file instead of reading it.")
    flash_attn: bool = _opt(False, "Use flash attention (GPU builds).")
    n_batch: int = _opt(0, "Prompt tokens handed to llama.cpp at once; 0 = 512.",
                        lo=0, hi=65_536)
    n_ubatch: int = _opt(0, "Prompt tokens computed at once, which sizes llama.cpp's compute "
                         "buffer; 0 = 128 on the CPU (40 MiB less RAM, prompts as fast), 512 "
                         "with layers on the GPU.", lo=0, hi=65_536)


@dataclass
class ServerSettings:
    """An OpenAI-compatible server (``[servers.NAME]``): llama-server, vLLM, Ollama's
    ``/v1``, LM Studio, a hosted router."""

    base_url: str = _opt("", 'The API\'s base URL, with its /v1: "http://127.0.0.1:8080/v1".')
    model: str = _opt("", 'The model to chat with; "" = the first one the server lists.')
    api_key_env: str = _opt("", 'The environment variable holding the key ("HF_TOKEN"); '
                            '"" = no key. The key is sent to this server only.')
    n_ctx: int = _opt(0, "The model's context in tokens; 0 = ask the server (/props, "
                      "max_model_len), else 4096.", lo=0, hi=10_485_760)
    verify_tls: bool = _opt(True, "Check the server's TLS certificate (https).")
    connect_timeout: float = _opt(5.0, "Seconds to wait for a connection.", lo=0.1,
                                  hi=300.0)
    first_byte_timeout: float = _opt(300.0, "Seconds to wait for the first byte of a reply "
                                     "(a long prompt on a busy server takes minutes).",
                                     lo=1.0, hi=3600.0)
    chunk_timeout: float = _opt(60.0, "Seconds to wait between two pieces of a reply.",
                                lo=1.0, hi=3600.0)


@dataclass
class Config:
    """The whole configuration file."""

    models_dir: str = _opt("models", "Folder scanned for .gguf files (relative to the config "
                           "file's folder).")
    default_model: str = _opt("", "Model loaded at start: a file name in models_dir or a path; "
                              '"" = the first model found, else the embedded demo model.')
    system_prompt: str = _opt("You are a helpful assistant.", "System message sent first in "
                              "every chat; \"\" = none.")
    history_file: str = _opt("", "Where chats are kept (SQLite); \"\" = history.sqlite3 in "
                             "the user data folder.")
    theme: str = _opt("textual-dark", "The colours: a Textual theme name (F9 lists them); "
                      "ansi-dark and ansi-light use the terminal's own palette.")
    mouse: bool = _opt(False, "Let the terminal report the mouse (off: PyChat is "
                       "keyboard-only, and every mouse move costs bytes over SSH).")
    sampling: Sampling = _opt(None, "Sampling settings.", factory=Sampling)
    models: dict[str, ModelSettings] = _opt(None, "Per-model load settings.", factory=dict)
    keys: dict[str, str] = _opt(None, "Key remapping: binding id = \"key\".", factory=dict)
    presets: dict[str, str] = _opt(None, "Named system prompts offered in a chat's settings "
                                   "(ctrl+g): name = \"prompt\".", factory=dict)
    servers: dict[str, ServerSettings] = _opt(None, "OpenAI-compatible servers by name.",
                                              factory=dict)


DEMO_MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMALL_MODEL_PROMPT = "You are a helpful, accurate assistant. Keep answers short and factual."
"""Measured on SmolLM2-135M-Instruct (20-30 seeds each): with "You are a helpful
assistant." it answered "What is the capital of France?" with Paris 8 times in 20 at
temperature 0.7 and not at all greedily; with this prompt 28 times in 30, and greedily."""


def default_model_settings(model_name: str) -> ModelSettings:
    """Defaults for a model with no table in the config."""
    if model_name == DEMO_MODEL_NAME:
        # The demo file carries no chat template: Gemma's turn format is the right one.
        return ModelSettings(chat_format="gemma")
    if model_name == DEFAULT_MODEL_NAME:
        return ModelSettings(system_prompt=SMALL_MODEL_PROMPT)
    return ModelSettings()


def _model_field(name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(ModelSettings) if f.name == name)


def _field(table: str, name: str) -> dataclasses.Field[Any]:
    cls = {"sampling": Sampling, "models": ModelSettings}[table]
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f
    raise ValueError(f"unknown setting {table}.{name}")


def check_setting(table: str, name: str, value: Any) -> Any:
    """``value`` for ``[table].name`` as the config file would take it; raises ValueError
    with the bounds (the same check the file, the CLI and every form go through)."""
    converted, problem = _check_value(name, value, _field(table, name))
    if problem:
        raise ValueError(f"{name}: {problem}")
    return converted


def describe_setting(table: str, name: str) -> str:
    """What ``[table].name`` does and its range, for forms ("Randomness; 0 = greedy.
    Between 0 and 5.")."""
    f = _field(table, name)
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    bounds = f" Between {_number(lo)} and {_number(hi)}." if lo is not None and hi is not None \
        else ""
    return f"{f.metadata.get('doc', '')}{bounds}"


def parse_setting(table: str, name: str, text: str) -> Any:
    """A value typed in a form: a number when the setting is one, then ``check_setting``."""
    default = _field(table, name).default
    value: Any = text.strip()
    if isinstance(default, bool):
        value = {"true": True, "false": False}.get(value.lower(), value)
    elif isinstance(default, int):
        with contextlib.suppress(ValueError):
            value = int(value)
    elif isinstance(default, float):
        with contextlib.suppress(ValueError):
            value = float(value)
    return check_setting(table, name, value)


def parse_gpu_layers(text: str) -> int | str:
    """'auto', 'all', '-1' (all), '0' (CPU) or a layer count, as typed in the CLI or the UI,
    within the bounds the config file has. Raises ValueError with a message for the user."""
    text = text.strip().lower()
    if text in ("", AUTO):
        return AUTO
    if text == "all":
        return -1
    f = _model_field("gpu_layers")
    try:
        value: Any = int(text)
    except ValueError:
        value = text
    _, problem = _check_value("gpu_layers", value, f)
    if problem:
        raise ValueError(f"gpu_layers: {problem}")
    return int(value)


def parse_n_ctx(text: str) -> int:
    """A context size in tokens (0 = the model's own), within the config file's bounds.
    Raises ValueError with a message for the user."""
    try:
        value: Any = int(text.strip())
    except ValueError:
        value = text.strip()
    _, problem = _check_value("n_ctx", value, _model_field("n_ctx"))
    if problem:
        raise ValueError(f"n_ctx: {problem}")
    return int(value)


# ---------------------------------------------------------------------------- reading


@dataclass
class LoadedConfig:
    """The outcome of reading the config file."""

    config: Config
    path: Path
    exists: bool
    errors: list[str] = field(default_factory=list)
    """Problems that made PyChat ignore the file (it runs on defaults)."""
    warnings: list[str] = field(default_factory=list)
    """Problems with single settings that were left out (refused key remaps)."""
    unreadable: bool = False
    """The file could not be read at all (not merely invalid)."""
    written: dict[str, set[str]] = field(default_factory=dict)
    """The keys the user wrote, by table ("" for the top level, "models.NAME" for a
    model's): a value the user wrote wins over PyChat's built-in default for that model."""

    def wrote(self, table: str, key: str) -> bool:
        """True when the file sets ``key`` in ``table`` ("" = the top level)."""
        return key in self.written.get(table, set())

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
        folder = self.base_dir / Path(self.config.models_dir).expanduser()
        try:
            return folder.resolve()
        except (OSError, RuntimeError):  # a link loop: the listing will say what it is
            return folder.absolute()


def load_config(path: Path) -> LoadedConfig:
    """Read and validate ``path``; never raises for a bad file (see ``errors``)."""
    where = inert_line(str(path))
    if not os.path.lexists(path):
        return LoadedConfig(Config(), path, exists=False)

    def failed(message: str, unreadable: bool = False) -> LoadedConfig:
        return LoadedConfig(Config(), path, True, [message], unreadable=unreadable)

    try:
        data = read_regular(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        return failed(f"{where}: cannot read the file: {exc.strerror or exc}", True)
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        return failed(f"{where}: cannot read the file: not UTF-8 text (byte "
                      f"0x{data[exc.start]:02x} at offset {exc.start})", True)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        at = f"{where}:{line.group(1)}" if line else where
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        return failed(f"{at}: TOML syntax error: {inert_line(message)}")
    except RecursionError:
        return failed(f"{where}: TOML syntax error: values nested too deeply to read")
    errors: list[str] = []
    warnings: list[str] = []
    try:
        config = config_from_dict(raw, errors, warnings, LineFinder(text, path))
    except RecursionError:
        return failed(f"{where}: values nested too deeply to read")
    if errors:
        return LoadedConfig(Config(), path, True, errors, warnings)
    return LoadedConfig(config, path, True, warnings=warnings, written=written_keys(raw))


def written_keys(raw: dict[str, Any]) -> dict[str, set[str]]:
    """The keys a valid parsed file sets, by table (see ``LoadedConfig.written``)."""
    written = {"": {k for k in raw if k not in TABLES}}
    for name, table in (raw.get("models") or {}).items():
        written[f"models.{name}"] = set(table)
    return written


def _number(value: float | None) -> str:
    """1048576.0 -> '1048576', 0.5 -> '0.5'."""
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _show(value: Any) -> str:
    """A short, inert rendering of a value from the file, for messages."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"a deeply nested {type(value).__name__}"
    return inert_line(text if len(text) <= 60 else text[:57] + "…")


class LineFinder:
    """Finds the line where ``key`` is set inside ``[table]`` for error messages."""

    _HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")

    def __init__(self, text: str, path: Path) -> None:
        self.lines = text.splitlines()
        self.path = inert_line(str(path))

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
    """Return (converted value, error or None) for one field: the one place bounds are
    judged, for the file, the command line and the UI."""
    default = f.default
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    least = f.metadata.get("min_nonzero")
    bounds = f" between {_number(lo)} and {_number(hi)}" if lo is not None and hi is not None \
        else ""
    if least is not None:
        bounds = f" of 0 or {least} to {_number(hi)}"
    shown = _show(value)
    if f.name == "gpu_layers":
        if value == AUTO:
            return value, None
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f'expected "auto" or a whole number{bounds}, got {shown}'
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            return None, f"expected true or false, got {shown}"
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"expected a whole number{bounds}, got {shown}"
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"expected a number{bounds}, got {shown}"
        value = float(value)
    elif isinstance(default, str) and not isinstance(value, str):
        return None, f"expected a string, got {shown}"
    if isinstance(value, int | float) and (
        (lo is not None and hi is not None and not lo <= value <= hi)
        or (least is not None and 0 < value < least)
    ):
        return None, f"expected a number{bounds}, got {shown}"
    return value, None


def _fill(cls: type, raw: Any, table: str, errors: list[str], lines: LineFinder) -> Any:
    """Build dataclass ``cls`` from the table ``raw``, collecting errors."""
    label = inert_line(table or "top level")
    if not isinstance(raw, dict):
        errors.append(f"{lines.path}: [{label}] must be a table, got {_show(raw)}")
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        full = inert_line(f"{table}.{key}" if table else key)
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


def config_from_dict(raw: dict[str, Any], errors: list[str], warnings: list[str],
                     lines: LineFinder) -> Config:
    """Validate a parsed TOML document into a Config: problems that void the file go to
    ``errors``, refused key remaps to ``warnings``."""
    top = {k: v for k, v in raw.items() if k not in TABLES}
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
        wanted: dict[str, str] = {}
        for binding, key in keys.items():
            if not isinstance(key, str) or not key.strip():
                errors.append(f"{lines.where('keys', binding)}: keys.{inert_line(binding)}: "
                              f"expected a key name such as \"ctrl+s\", got {_show(key)}")
            else:
                wanted[binding] = key
        config.keys, refused = check_keymap(wanted)
        warnings.extend(f"{lines.path}: [keys] {inert_line(problem)} — not applied"
                        for problem in refused)
    config.presets = _presets(raw.get("presets", {}), errors, lines)
    config.servers = _servers(raw.get("servers", {}), errors, lines)
    return config


SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


def _servers(raw: Any, errors: list[str], lines: LineFinder) -> dict[str, ServerSettings]:
    if not isinstance(raw, dict):
        errors.append(f"{lines.path}: [servers] must hold one table per server, "
                      "[servers.NAME]")
        return {}
    servers: dict[str, ServerSettings] = {}
    for name, table in raw.items():
        where = lines.where("servers", name) if not isinstance(table, dict) else lines.path
        if not SERVER_NAME.match(name):
            errors.append(f"{where}: servers.{inert_line(name)}: a server's name has 1 to 40 "
                          "letters, digits, '.', '_' or '-'")
            continue
        before = len(errors)
        server = _fill(ServerSettings, table, f"servers.{name}", errors, lines)
        if len(errors) > before:
            continue
        problem = server_url_problem(server.base_url)
        if problem:
            at = lines.where(f"servers.{name}", "base_url")
            errors.append(f"{at}: servers.{inert_line(name)}.base_url: {problem}")
            continue
        if server.api_key_env and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$",
                                               server.api_key_env):
            at = lines.where(f"servers.{name}", "api_key_env")
            errors.append(f"{at}: servers.{inert_line(name)}.api_key_env: the name of an "
                          f"environment variable (HF_TOKEN), got {_show(server.api_key_env)}")
            continue
        servers[name] = server
    return servers


def server_url_problem(url: str) -> str:
    """Why ``url`` cannot be a server's base URL ("" when it can)."""
    from urllib.parse import urlsplit

    if not url:
        return 'missing: the API\'s address, e.g. "http://127.0.0.1:8080/v1"'
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f'expected an http:// or https:// address, got {_show(url)}'
    if parts.username or parts.password:
        return "a key in the URL would be shown and logged: put it in an environment " \
               "variable and name it in api_key_env"
    return ""


TABLES = ("sampling", "models", "keys", "presets", "servers")
"""The config's tables (everything else is a top-level value)."""
PRESET_NAME_CHARS = 40
PRESET_CHARS = 20_000


def check_preset(name: str, prompt: str) -> tuple[str, str]:
    """A preset as the config file takes it; raises ValueError saying what is wrong."""
    name = " ".join(name.split())
    if not name or len(name) > PRESET_NAME_CHARS:
        raise ValueError(f"a preset name has 1 to {PRESET_NAME_CHARS} characters")
    if len(prompt) > PRESET_CHARS:
        raise ValueError(f"a preset's prompt has at most {PRESET_CHARS:,} characters")
    return name, prompt


def _presets(raw: Any, errors: list[str], lines: LineFinder) -> dict[str, str]:
    if not isinstance(raw, dict):
        errors.append(f"{lines.path}: [presets] must be a table of name = \"system prompt\"")
        return {}
    presets: dict[str, str] = {}
    for name, prompt in raw.items():
        where = f"{lines.where('presets', name)}: presets.{inert_line(name)}"
        if not isinstance(prompt, str):
            errors.append(f"{where}: expected the system prompt as a string, got "
                          f"{_show(prompt)}")
            continue
        try:
            checked, prompt = check_preset(name, prompt)
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
            continue
        presets[checked] = prompt
    return presets
