"""Saving what the user chose in the app (a model's gpu_layers and n_ctx, a system prompt
preset) to their config.

The user's file is theirs:
- an existing file is edited with tomlkit: its comments, order and other values stay, only
  the model's table changes;
- a link (a dotfiles manager's) is written through: the target is replaced, atomically;
- a file or folder the user made read-only is left alone, and the error says so;
- a file with errors is never rewritten (its text would be lost);
- a new file is written whole with tomli-w (every key, so it documents itself), with
  ``models_dir`` as an absolute path: relative paths keep meaning what they meant;
- what is written is read back with PyChat's own reader first: nothing PyChat writes
  fails its own reading.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
import tomlkit

from pychat.config import (
    MAX_CONFIG_BYTES,
    TABLES,
    Config,
    LineFinder,
    LoadedConfig,
    ModelSettings,
    config_from_dict,
)
from pychat.errors import ConfigError
from pychat.files import read_only, read_regular
from pychat.text import inert_line


def config_to_dict(loaded: LoadedConfig) -> dict[str, Any]:
    """The TOML document for a new config file: every top-level and sampling key (so the
    file documents itself), and of each model's table only what the user chose — a
    model's built-in defaults (SmolLM2's own system prompt, Gemma's chat format) stay
    PyChat's, so they never pass for the user's words."""
    config = loaded.config
    doc = {f.name: getattr(config, f.name) for f in dataclasses.fields(Config)
           if f.name not in TABLES}
    doc["sampling"] = dataclasses.asdict(config.sampling)
    if config.keys:
        doc["keys"] = dict(config.keys)
    if config.presets:
        doc["presets"] = dict(config.presets)
    if config.models:
        doc["models"] = {name: model_table(loaded, name, settings)
                         for name, settings in config.models.items()}
    return doc


def model_table(loaded: LoadedConfig, name: str, settings: ModelSettings) -> dict[str, Any]:
    """The keys of ``[models."name"]`` the user chose (all of them for a table PyChat
    does not know the origin of)."""
    values = dataclasses.asdict(settings)
    written = loaded.written.get(f"models.{name}")
    return values if written is None else {k: v for k, v in values.items() if k in written}


def save_model_settings(loaded: LoadedConfig, key: str, settings: ModelSettings) -> None:
    """Write ``[models."key"]`` into the config file. Raises ConfigError with a message
    for the user when the file has errors, is read-only, or cannot be written."""
    def edit(doc: Any) -> None:
        models = _table(doc, "models", super_table=True)
        entry = models.get(key)
        if entry is None:
            entry = tomlkit.table()
            for name, value in model_table(loaded, key, settings).items():
                entry[name] = value
            models[key] = entry
        else:
            entry["gpu_layers"] = settings.gpu_layers
            entry["n_ctx"] = settings.n_ctx

    def fresh(doc: dict[str, Any]) -> None:
        doc.setdefault("models", {})[key] = model_table(loaded, key, settings)

    _update(loaded, f"the settings for {inert_line(key)} were not saved", edit, fresh)


def save_preset(loaded: LoadedConfig, name: str, prompt: str) -> None:
    """Write ``[presets] name = "prompt"`` (a system prompt the settings offer)."""
    def edit(doc: Any) -> None:
        _table(doc, "presets")[name] = prompt

    def fresh(doc: dict[str, Any]) -> None:
        doc.setdefault("presets", {})[name] = prompt

    _update(loaded, f"the preset {inert_line(name)} was not saved", edit, fresh)
    loaded.config.presets[name] = prompt


def save_top_level(loaded: LoadedConfig, key: str, value: Any) -> None:
    """Write a top-level setting (``theme = "nord"``) into the config file; raises
    ConfigError as ``save_model_settings`` does."""
    def edit(doc: Any) -> None:
        doc[key] = value

    def fresh(doc: dict[str, Any]) -> None:
        doc[key] = value

    _update(loaded, f"{key} was not saved", edit, fresh)
    setattr(loaded.config, key, value)
    loaded.written.setdefault("", set()).add(key)


def _table(doc: Any, name: str, super_table: bool = False) -> Any:
    table = doc.get(name)
    if table is None:
        table = tomlkit.table(is_super_table=super_table)
        doc[name] = table
    return table


def _update(loaded: LoadedConfig, not_saved: str, edit: Any, fresh: Any) -> None:
    """Change the config file: an existing one edited in place with ``edit`` (a tomlkit
    document), a new one written whole after ``fresh`` (a dict). Raises ConfigError with
    a message for the user when the file has errors, is read-only, or cannot be written."""
    shown = inert_line(str(loaded.path))
    if loaded.errors:
        raise ConfigError(f"{shown} has errors, so it is left as it is and {not_saved}.")
    target = Path(os.path.realpath(loaded.path))  # through a link, to the file itself
    if os.path.lexists(target):
        if read_only(target):
            raise ConfigError(f"{shown} is read-only, so PyChat leaves it alone: "
                              f"{not_saved}.")
        try:
            text = read_regular(target, MAX_CONFIG_BYTES).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {shown} to update it: {exc}") from exc
        doc = tomlkit.parse(text)
        edit(doc)
        data = tomlkit.dumps(doc)
    else:
        fresh_doc = config_to_dict(loaded)
        fresh_doc["models_dir"] = str(loaded.models_dir())  # it was relative to the old folder
        fresh(fresh_doc)
        data = tomli_w.dumps(fresh_doc)
    _check_readable(data, target)
    if read_only(target.parent):
        raise ConfigError(f"the folder {inert_line(str(target.parent))} is read-only, so "
                          f"{not_saved}.")
    write_text_atomic(target, data)
    loaded.exists = True


def _check_readable(data: str, path: Path) -> None:
    """Refuse to write anything PyChat's own reader would reject."""
    errors: list[str] = []
    try:
        config_from_dict(tomllib.loads(data), errors, [], LineFinder(data, path))
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        errors.append(str(exc))
    if errors:
        raise ConfigError(f"not saved: the new file would not read back ({errors[0]})")


def write_toml_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Replace ``path`` with ``doc`` in one step (see ``write_text_atomic``)."""
    write_text_atomic(path, tomli_w.dumps(doc))


def write_text_atomic(path: Path, data: str) -> None:
    """Replace ``path`` in one step: a temporary file in the same folder, then os.replace;
    the file's permissions are kept. Raises ConfigError."""
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
                handle.write(data.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write {inert_line(str(path))}: {exc.strerror or exc}"
                          ) from exc
