"""Where PyChat looks for its config file, its cache and its models."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "pychat"
CONFIG_ENV = "PYCHAT_CONFIG"
CONFIG_FILENAME = "config.toml"


def user_config_path() -> Path:
    """The per-user config file (it may not exist)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILENAME


def user_cache_dir() -> Path:
    """The per-user cache directory (demo model, metadata cache)."""
    return Path(platformdirs.user_cache_dir(APP_NAME))


def user_data_dir() -> Path:
    """The per-user data folder (the chat history)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def user_state_dir() -> Path:
    """The per-user state folder (crash logs)."""
    return Path(platformdirs.user_state_dir(APP_NAME))


def resolve_config_path(cli_path: str | os.PathLike[str] | None = None) -> Path:
    """Pick the config file: --config > $PYCHAT_CONFIG > ./config.toml > user config dir.

    An explicit path (flag or environment) is returned even when it does not exist, so
    the caller can say so; the implicit candidates are only used when present, and the
    user config path is the fallback where settings get saved.
    """
    if cli_path:
        return Path(cli_path).expanduser()
    env_path = os.environ.get(CONFIG_ENV)
    if env_path:
        return Path(env_path).expanduser()
    local = Path.cwd() / CONFIG_FILENAME
    if local.is_file():
        return local
    return user_config_path()
